"""The main window on the demo registry a new user sees after 'make demo'."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.signin import login
from workbench.demo.build import DEMO_PASSWORD
from workbench.demo.catalogue import DEMO_CASES
from workbench.registry.db import Registry
from workbench.ui.main_window import MainWindow
from workbench.users import resolve_actor


def test_window_on_the_demo_registry(
    qtbot: QtBot, demo_registry: tuple[Registry, Path], tmp_path: Path
) -> None:
    registry, _ = demo_registry
    with registry.read() as session:
        actor = resolve_actor(session, "tester")
    window = MainWindow(registry, actor)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)

    model = window.case_list.model
    shown = sorted(model.data(model.index(row, 0)) for row in range(model.rowCount()))
    assert shown == sorted(c.registry_id for c in DEMO_CASES)
    assert window.central.currentWidget() is not window.empty_page

    hiv = DEMO_CASES[1]
    row = model.row_of(hiv.registry_id)
    assert row is not None
    table = window.case_list.table
    viewport = table.viewport()
    assert viewport is not None
    rect = table.visualRect(model.index(row, 0))
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())

    page = window.case_page
    assert page.title_label.text() == hiv.registry_id
    tree = page.imaging_tree
    assert tree.topLevelItemCount() == len(hiv.days)
    first = tree.topLevelItem(0)
    assert first is not None
    assert first.childCount() == len(hiv.sequences)
    child = first.child(0)
    assert child is not None
    assert child.text(0) == hiv.sequences[0].value
    assert "128×128×40" in child.text(2)
    labs = page.labs_table
    assert labs.rowCount() == len(hiv.labs)
    tests_shown = {labs.item(r, 0).text() for r in range(labs.rowCount())}  # type: ignore[union-attr]
    assert "CSF JCV PCR" in tests_shown
    assert "CD4 count" in tests_shown
    shot = tmp_path / "demo.png"
    assert window.grab().save(str(shot))
    assert shot.stat().st_size > 10_000


def test_gui_opens_a_case_on_the_panel_page_or_a_tab(
    qapp: object, demo_registry: tuple[Registry, Path], tmp_path: Path, capsys
) -> None:
    from PyQt6.QtGui import QImage

    from workbench.cli import main

    registry, _ = demo_registry
    # gui acts as the person 'pml-workbench login' signed in (every demo user's password is
    # the demo's); a screenshot as nobody would be the sign-in dialog, not 1280 wide.
    login(registry.url, "panel.dubois", DEMO_PASSWORD)
    argv = ["--db", registry.url, "gui", "--case", "PML-DEMO-010"]
    assert main([*argv, "--panel", "--screenshot", str(tmp_path / "panel.png")]) == 0
    assert QImage(str(tmp_path / "panel.png")).width() == 1280
    login(registry.url, "tester", DEMO_PASSWORD)
    history = ["--db", registry.url, "gui", "--case", "PML-DEMO-006", "--tab", "history"]
    assert main([*history, "--screenshot", str(tmp_path / "history.png")]) == 0
    assert QImage(str(tmp_path / "history.png")).width() == 1280
    assert main(["--db", registry.url, "gui", "--panel"]) == 2
    assert "need --case" in capsys.readouterr().err
    assert main([*argv, "--panel", "--layout", "2x2"]) == 2
    assert "--panel opens the panel's page" in capsys.readouterr().err
