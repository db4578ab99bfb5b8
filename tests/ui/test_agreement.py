"""The reader-agreement page with a real report (SQLite registry built through the services).

The registry is :func:`tests.test_agreement.build_world`'s. The screenshot of the filled page
goes to the temporary folder and to ``/tmp/shots/agreement.png`` for looking at it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.test_agreement import build_world
from workbench.errors import ValidationError
from workbench.registry.db import Registry
from workbench.services import agreement
from workbench.ui.agreement import AgreementPage
from workbench.users import resolve_actor

SHOTS = Path("/tmp/shots")


def _cells(page: AgreementPage, section: int, table: int) -> list[list[str]]:
    widget = page.sections[section].tables[table]
    return [
        [widget.item(r, c).text() for c in range(widget.columnCount())]  # type: ignore[union-attr]
        for r in range(widget.rowCount())
    ]


def test_the_page_shows_a_report_with_plots_and_numbers(
    qtbot: QtBot, sqlite_registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    world = build_world(sqlite_registry, monkeypatch)
    report = agreement.agreement_report(sqlite_registry, world["p1"])
    page = AgreementPage()
    qtbot.addWidget(page)
    page.resize(1500, 3000)
    assert not page.export_button.isEnabled()
    page.set_report(report)
    page.show()
    qtbot.waitExposed(page)
    assert "6 cases counted of 7" in page.summary_label.text()
    assert "1 left out: reads outstanding" in page.summary_label.text()
    titles = [view.title() for view in page.sections]
    assert titles == [
        "Cases",
        "Imaging judgement agreement",
        "Panel certainty against the criteria engine",
        "Lesion mask agreement",
        "Disagreement by reader",
    ]
    assert page.sections[0].figure_view is None
    for view in page.sections[1:]:
        assert view.figure_view is not None, view.title()
        assert view.figure_view.canvas is not None, view.title()
        assert view.figure_view.export_button.isEnabled()
    kappa_rows = _cells(page, 1, 0)
    assert kappa_rows[0][:4] == ["Cohen", "r1 × r2", "6", "0.667"]
    dice = {row[0]: row[1] for row in _cells(page, 3, 0)}
    assert dice["median Dice"] == "0.5"
    assert (dice["Dice Q1 (25th percentile)"], dice["Dice Q3 (75th percentile)"]) == (
        "0.25",
        "0.75",
    )
    readers = {row[0]: row for row in _cells(page, 4, 0)}
    assert readers["r2"][1:5] == ["6", "5", "2", "0.4"]
    # Export HTML: written whole; a folder that does not exist is refused with its name.
    written: list[Path] = []
    page.exported.connect(written.append)
    target = page.export_to(tmp_path / "agreement.html")
    assert written == [target]
    assert target.read_text(encoding="utf-8").count("<svg") == 4
    with pytest.raises(ValidationError, match="does not exist"):
        page.export_to(tmp_path / "gone" / "agreement.html")
    # back and refresh are the window's business: the page only asks
    with qtbot.waitSignal(page.refresh_requested):
        page.refresh_button.click()
    with qtbot.waitSignal(page.back_requested):
        page.back_button.click()
    content = page.scroll_area.widget()
    assert content is not None
    page.resize(1500, content.sizeHint().height() + 90)  # the whole page, for looking at it
    qtbot.wait(50)
    shot = page.grab()
    assert shot.save(str(tmp_path / "agreement.png"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot.save(str(SHOTS / "agreement.png"))


def test_too_few_cases_are_said_in_place_of_the_plots(
    qtbot: QtBot, sqlite_registry: Registry
) -> None:
    with sqlite_registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
    page = AgreementPage()
    qtbot.addWidget(page)
    page.set_report(agreement.agreement_report(sqlite_registry, coordinator))
    assert "0 cases counted of 0" in page.summary_label.text()
    for view in page.sections[1:]:
        assert view.figure_view is not None
        assert view.figure_view.canvas is None
        assert not view.figure_view.export_button.isEnabled()
    judgement = page.sections[1].figure_view
    assert judgement is not None
    assert judgement.empty_label.text() == (
        "kappa needs at least 2 cases with 2 readers; 0 cases qualify"
    )
    masks = page.sections[3].figure_view
    assert masks is not None
    assert "0 pairs qualify" in masks.empty_label.text()
    page.set_report(agreement.agreement_report(sqlite_registry, coordinator))
    assert len(page.sections) == 5  # a refresh replaces the sections, never adds to them


def test_the_window_opens_the_report_for_the_panel_and_tells_a_reader_why_not(
    qtbot: QtBot, sqlite_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """View → Reader agreement: computed when opened, back to the cases; greyed for a reader,
    and refused by the service too when asked anyway."""
    from workbench.ui.main_window import MainWindow

    world = build_world(sqlite_registry, monkeypatch)
    window = MainWindow(sqlite_registry, world["p1"], quiet=True)
    qtbot.addWidget(window)
    assert window.agreement_action in window.view_menu.actions()
    assert window.agreement_action.isEnabled()
    window.agreement_action.trigger()
    assert window.central.currentWidget() is window.agreement_page
    assert "6 cases counted of 7" in window.agreement_page.summary_label.text()
    window.agreement_page.back_button.click()
    assert window.central.currentWidget() is not window.agreement_page
    assert window.errors == []

    reader = MainWindow(sqlite_registry, world["r1"], quiet=True)
    qtbot.addWidget(reader)
    assert not reader.agreement_action.isEnabled()
    assert "coordinator" in reader.agreement_action.toolTip()
    assert reader.open_agreement() is False
    assert "reader agreement" in reader.errors[-1]
    assert reader.central.currentWidget() is not reader.agreement_page
