"""Importing images from the window: progress, result, refusal and cancel, all in the window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import SequenceClass
from workbench.importer import ParserSandbox
from workbench.registry.db import Registry
from workbench.registry.models import Series
from workbench.ui.main_window import MainWindow
from workbench.users import Actor


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    box = ParserSandbox()
    yield box
    box.close()


@pytest.fixture
def window(
    qtbot: QtBot, populated: Registry, ui_actor: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> MainWindow:
    main = MainWindow(populated, ui_actor, cache_root=tmp_path / "cache", sandbox=sandbox)
    qtbot.addWidget(main)
    main.resize(1280, 800)
    main.show()
    qtbot.waitExposed(main)
    assert main.open_case("PML-0002")
    return main


def _write(folder: Path, real_name: str | None = None) -> None:
    volume = (np.arange(8 * 16 * 16, dtype=np.int16) % 700).reshape(8, 16, 16)
    write_series(
        volume,
        folder,
        spacing_mm=(1.0, 1.0, 4.0),
        origin_lps=(0.0, 0.0, 0.0),
        study_instance_uid=new_uid("ui-import", "study"),
        series_instance_uid=new_uid("ui-import", str(folder)),
        frame_of_reference_uid=new_uid("ui-import", "frame"),
        series_number=2,
        sequence=SequenceClass.T2,
        patient_pseudonym="PML-0002",
    )
    if real_name is not None:
        import pydicom

        for path in folder.glob("*.dcm"):
            ds = pydicom.dcmread(path)
            ds.PatientName = real_name
            ds.save_as(path)


def _series_count(registry: Registry) -> int:
    with registry.read() as session:
        return int(session.scalar(select(func.count()).select_from(Series)) or 0)


def test_import_from_the_case_page(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    _write(tmp_path / "t2")
    before = _series_count(window.registry)
    assert window.import_images_action.isEnabled()
    window.case_page.import_images_button.click()
    dialog = window.last_import_dialog
    assert dialog is not None
    assert dialog.registry_id == "PML-0002"
    dialog.path_edit.setText(str(tmp_path / "t2"))
    dialog.day_spin.setValue(30)
    with qtbot.waitSignal(dialog.imported, timeout=60_000):
        dialog.import_button.click()
    dialog.wait()
    assert dialog.progress_bar.value() == 100
    assert "Imported 1 series into PML-0002 (T2)" in dialog.status_label.text()
    assert _series_count(window.registry) == before + 1
    tree = window.case_page.imaging_tree
    days = [tree.topLevelItem(n).text(0) for n in range(tree.topLevelItemCount())]  # type: ignore[union-attr]
    assert "Day +30" in days
    dialog.grab().save(str(tmp_path / "import.png"))


def test_a_refused_import_is_explained_in_the_dialog(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    _write(tmp_path / "named", real_name="Doe^John")
    before = _series_count(window.registry)
    dialog = window.open_import_dialog()
    assert dialog is not None
    dialog.path_edit.setText(str(tmp_path / "named"))
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=60_000)
    dialog.wait()
    assert "Not imported." in dialog.status_label.text()
    assert "de-identification gate" in dialog.error_text.toPlainText()
    assert "PatientName" in dialog.error_text.toPlainText()
    assert "Doe^John" not in dialog.error_text.toPlainText()
    assert dialog.import_button.isEnabled()  # the user can fix and try again
    assert _series_count(window.registry) == before


def test_cancel_leaves_nothing(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    _write(tmp_path / "t2")
    before = _series_count(window.registry)
    dialog = window.open_import_dialog()
    assert dialog is not None
    dialog.path_edit.setText(str(tmp_path / "t2"))
    dialog.day_spin.setValue(30)
    dialog.cancel_requested.set()  # as if Cancel was pressed before the first step ended
    dialog.import_button.click()
    assert dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=60_000)
    dialog.wait()
    assert dialog.error is not None
    assert "cancelled" in dialog.error
    assert _series_count(window.registry) == before
    assert not list((tmp_path / "cache").rglob("*.npy"))


def test_an_empty_path_is_explained(window: MainWindow) -> None:
    dialog = window.open_import_dialog()
    assert dialog is not None
    dialog.import_button.click()
    assert dialog.error is not None
    assert "Choose a DICOM folder" in dialog.error
