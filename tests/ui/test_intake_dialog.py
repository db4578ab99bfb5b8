"""File → Intake site package…: a bad package's problems in a list; the template taken in with
progress, the new case opened, readers assigned; a cancel leaves nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from adjudication.vocabulary import Role
from workbench.domain import CaseStatus
from workbench.importer import ParserSandbox
from workbench.registry.db import Registry
from workbench.registry.models import Base
from workbench.services import cases
from workbench.services.intake import write_template
from workbench.ui.intake_dialog import IntakeDialog
from workbench.ui.main_window import MainWindow
from workbench.users import Actor, add_user


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    box = ParserSandbox()
    yield box
    box.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template") / "package"
    write_template(folder)
    return folder


@pytest.fixture
def package(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "package"))


@pytest.fixture
def window(
    qtbot: QtBot, populated: Registry, ui_actor: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> MainWindow:
    main = MainWindow(populated, ui_actor, cache_root=tmp_path / "cache", sandbox=sandbox)
    qtbot.addWidget(main)
    main.resize(1280, 800)
    main.show()
    qtbot.waitExposed(main)
    return main


def _counts(registry: Registry) -> dict[str, int]:
    with registry.read() as session:
        return {
            t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def _open_dialog(window: MainWindow) -> IntakeDialog:
    file_menu = window.file_menu
    assert file_menu is not None
    assert window.intake_action in file_menu.actions()
    assert window.intake_action.text() == "Intake site &package…"
    window.intake_action.trigger()
    dialog = window.last_intake_dialog
    assert dialog is not None
    assert dialog.isVisible()
    return dialog


def test_validate_shows_every_problem_with_file_line_field(
    qtbot: QtBot, window: MainWindow, package: Path, tmp_path: Path
) -> None:
    manifest = package / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace('age_band = "40-49"', 'age_band = "forty-ish"')
    manifest.write_text(text.replace('folder = "images/follow-up"', 'folder = "../x"'))
    labs = package / "labs.csv"
    labs.write_text(labs.read_text(encoding="utf-8").replace(",3,detected,", ",three,detected,"))
    before = _counts(window.registry)
    dialog = _open_dialog(window)
    assert not dialog.validate_button.isEnabled()  # no folder chosen yet
    dialog.path_edit.setText(str(package))
    assert dialog.validate_button.isEnabled()
    assert dialog.validate()
    assert dialog.cancel_button.isEnabled()
    assert dialog.wait()
    table = dialog.problem_table
    rows = [
        tuple(table.item(r, c).text() for c in range(4))  # type: ignore[union-attr]
        for r in range(table.rowCount())
    ]
    age_line = str(next(n for n, x in enumerate(text.splitlines(), 1) if "forty-ish" in x))
    assert rows[0][:3] == ("manifest.toml", age_line, "case.age_band")
    assert [row[:3] for row in rows[1:]] == [
        ("manifest.toml", rows[1][1], "imaging[2].folder"),
        ("labs.csv", "2", "day"),
    ]
    assert "outside the package" in rows[1][3]
    assert dialog.details.currentWidget() is table
    assert "3 problem(s)" in dialog.status_label.text()
    assert "Nothing was written" in dialog.status_label.text()
    assert _counts(window.registry) == before
    dialog.grab().save("/tmp/intake_dialog_problems.png")


def test_intake_the_template_opens_the_case_then_assign(
    qtbot: QtBot, window: MainWindow, package: Path, tmp_path: Path
) -> None:
    dialog = _open_dialog(window)
    dialog.path_edit.setText(str(package))
    assert dialog.validate()
    assert dialog.wait()
    assert dialog.check is not None
    assert dialog.check.ok
    assert "Intake creates case PML-EXAMPLE-1 with 4 series" in dialog.status_label.text()
    assert "AX FLAIR" in dialog.preview_text.toPlainText()
    seen: list[int] = []
    dialog.progress_bar.valueChanged.connect(seen.append)
    with qtbot.waitSignal(dialog.taken_in, timeout=120_000) as taken:
        assert dialog.start_intake()
    assert taken.args == ["PML-EXAMPLE-1"]
    assert dialog.wait()
    assert len(seen) >= 4
    assert seen == sorted(seen)
    assert seen[-1] == 100
    assert "Created case PML-EXAMPLE-1 (ready) with 4 series" in dialog.status_label.text()
    assert not dialog.intake_button.isEnabled()  # taken in: not a second time
    dialog.grab().save("/tmp/intake_dialog_done.png")
    detail = window.case_page.detail
    assert detail is not None
    assert detail.registry_id == "PML-EXAMPLE-1"
    assert (tmp_path / "cache").is_dir()

    with window.registry.write() as session:
        for name in ("rad1", "rad2"):
            add_user(session, name, name, {Role.READER}, by=window.actor)
    window.save_assignment("PML-EXAMPLE-1", ["rad1", "rad2"], [])
    choices = cases.assign_choices(window.registry, window.actor, "PML-EXAMPLE-1")
    assert choices.status is CaseStatus.IN_READING
    dialog.close()
    window.grab().save("/tmp/intake_window_case.png")


def test_cancel_leaves_nothing(
    qtbot: QtBot, window: MainWindow, package: Path, tmp_path: Path
) -> None:
    before = _counts(window.registry)
    dialog = _open_dialog(window)
    dialog.path_edit.setText(str(package))
    assert dialog.start_intake()
    dialog.cancel_button.click()
    assert dialog.wait()
    assert dialog.error == "Cancelled. Nothing was written."
    assert dialog.intake_result is None
    assert _counts(window.registry) == before
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.rglob("*"))
    assert dialog.intake_button.isEnabled()  # it may be tried again
