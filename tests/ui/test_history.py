"""The case page's Review and History tabs, for a coordinator and for readers, blinded.

Reads are submitted through the data layer (the window's submit has its own tests in
``test_read_form.py``); the windows show what :func:`workbench.services.case_detail.load_case`
loaded for their user.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtWidgets import QApplication, QTableWidget
from pytestqt.qtbot import QtBot

from adjudication.consensus import Proposal
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway, Role
from tests.ui.annotation import (
    PASSWORDS,
    REVIEW_CASE,
    ReviewSetup,
    centre,
    review_setup,
    review_window,
    submit_directly,
)
from workbench.panel import HistoryEvent, propose_decision, sign_decision
from workbench.reading_flow import assign
from workbench.reads import start_or_resume_draft
from workbench.ui.app import application
from workbench.ui.case_page import CasePage
from workbench.ui.history import (
    ACTION,
    DETAILS,
    ENTITY,
    REASON,
    TIME,
    HistoryView,
    event_text,
    summarise_change,
)
from workbench.ui.main_window import MainWindow


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[ReviewSetup]:
    """The case, with readers rad1 and rad2 assigned (rad3 exists, unassigned)."""
    made = review_setup(tmp_path)
    yield made
    made.registry.close()


def discordant(setup: ReviewSetup) -> tuple[int, int]:
    """rad1 says yes, rad2 no on a shifted cube: judgement and Dice fire. The read ids."""
    lo = centre(setup)
    first = submit_directly(setup, "rad1", ImagingJudgement.YES, lo)
    second = submit_directly(setup, "rad2", ImagingJudgement.NO, (lo[0] + 4, lo[1], lo[2]))
    return first, second


def page_of(qtbot: QtBot, setup: ReviewSetup, username: str | None) -> tuple[MainWindow, CasePage]:
    actor = setup.coordinator if username is None else setup.users[username]
    window = review_window(qtbot, setup, actor)
    assert window.open_case(REVIEW_CASE), window.errors
    return window, window.case_page


def table_texts(table: QTableWidget) -> list[list[str]]:
    rows = []
    for row in range(table.rowCount()):
        cells = []
        for column in range(table.columnCount()):
            item = table.item(row, column)
            cells.append("" if item is None else item.text())
        rows.append(cells)
    return rows


def shown(view: HistoryView) -> list[HistoryEvent]:
    return view.shown_events()


# --- the Review tab --------------------------------------------------------------------------


def test_review_area_shows_the_rule_fired_to_a_coordinator_not_to_a_reader_yet_to_submit(
    qtbot: QtBot, setup: ReviewSetup, tmp_path: Path
) -> None:
    discordant(setup)
    window, page = page_of(qtbot, setup, None)
    assert page.tabs.tabText(page.tabs.indexOf(page.review_tab)) == "Review"
    outcome = page.discordance_label.text()
    assert "Discordant" in outcome
    assert "judgement, dice" in outcome
    findings = table_texts(page.findings_table)
    assert [row[0] for row in findings] == ["judgement", "dice"]
    assert findings[0][1] == "rad1 · rad2"
    assert findings[0][2] == "judgements differ: rad1 yes, rad2 no"
    assert findings[1][2].startswith("Dice of the union masks 0.333")
    reads = table_texts(page.reads_table)
    assert reads[0][0] == "Dr Ada Reader (rad1)"
    assert reads[0][1:3] == ["revision 1", "submitted"]
    assert reads[0][4] == "yes"
    assert reads[1][4] == "no"
    assert "Dr Panel One (panel1)" in page.panel_label.text()
    assert page.decision_label.text() == "No final decision yet."
    assert "Dice\u00a0<\u00a00.5" in page.rules_label.text()

    with setup.registry.write() as session:  # a third reader, assigned after the assessment
        assign(session, setup.coordinator, REVIEW_CASE, ["rad3"], Role.READER)
    assert window.refresh()
    reads = table_texts(page.reads_table)
    assert reads[2][0] == "Dr Cy Reader (rad3)"
    assert reads[2][2] == "not started"
    assert reads[0][4] == "blinded"  # not every assigned reader has submitted any more
    assert "judgement, dice" in page.discordance_label.text()  # the assessment made before

    _, blinded = page_of(qtbot, setup, "rad3")
    outcome = blinded.discordance_label.text()
    assert outcome.startswith("Not shown to you")
    assert "judgement" not in outcome
    assert "dice" not in outcome.lower()
    assert blinded.findings_table.rowCount() == 0
    assert not blinded.findings_table.isVisibleTo(blinded)
    assert blinded.decision_label.text().startswith("Not shown to you")
    reads = table_texts(blinded.reads_table)
    assert [row[2] for row in reads] == ["blinded", "blinded", "not started"]
    assert not any(cell in ("yes", "no") for row in reads for cell in row)
    assert "blinded until you have submitted" in blinded.reads_note.text()
    blinded.tabs.setCurrentWidget(blinded.review_tab)
    assert blinded.grab().save(str(tmp_path / "review-blinded.png"))


def test_review_area_before_every_read_is_in(qtbot: QtBot, setup: ReviewSetup) -> None:
    submit_directly(setup, "rad1", ImagingJudgement.YES, centre(setup))
    with setup.registry.write() as session:
        start_or_resume_draft(session, setup.users["rad2"], REVIEW_CASE)

    _, page = page_of(qtbot, setup, None)
    reads = table_texts(page.reads_table)
    assert [row[2] for row in reads] == ["submitted", "draft"]
    assert [row[4] for row in reads] == ["blinded", "blinded"]  # status only, for now
    assert page.discordance_label.text().startswith("Not assessed yet")

    _, own = page_of(qtbot, setup, "rad1")  # submitted: sees the outcome area, own judgement
    reads = table_texts(own.reads_table)
    assert reads[0][4] == "yes"
    assert reads[1][2] == "no submitted read yet"  # rad2's draft is nobody else's business
    assert own.discordance_label.text().startswith("Not assessed yet")


def test_review_area_shows_the_decision_in_force(qtbot: QtBot, setup: ReviewSetup) -> None:
    decide(setup)
    _, page = page_of(qtbot, setup, None)
    text = page.decision_label.text()
    assert "possible PML" in text
    assert "clinical pathway" in text
    assert "Dr Panel One — " in text
    assert "Dr Panel Two — " in text
    assert page.status_badge.text() == "final"


def decide(setup: ReviewSetup) -> None:
    """Make the case discordant, then have the panel decide it and both members sign."""
    discordant(setup)
    proposal = Proposal(
        Certainty.POSSIBLE,
        Pathway.CLINICAL,
        "The readers disagree; without a CSF PCR the case stays possible PML.",
    )
    with setup.registry.write() as session:
        decision = propose_decision(session, setup.users["panel1"], REVIEW_CASE, proposal).id
    for name in ("panel1", "panel2"):
        with setup.registry.write() as session:
            sign_decision(session, setup.users[name], decision, PASSWORDS[name])


# --- the History tab -------------------------------------------------------------------------


def test_history_lists_the_case_events_for_a_coordinator(qtbot: QtBot, setup: ReviewSetup) -> None:
    first, _ = discordant(setup)
    window, page = page_of(qtbot, setup, None)
    view = page.history_view
    events = shown(view)
    tab = page.tabs.tabText(page.tabs.indexOf(view))
    assert tab == f"History ({len(events)})"
    actions = [e.action for e in events]
    for expected in (
        "case.create",
        "case.assign",
        "read.draft_started",
        "read.submitted",
        "case.discordance",
        "case.status",
    ):
        assert expected in actions
    assert events == sorted(events, key=lambda e: e.id, reverse=True)  # newest first
    assert actions[-1] == "case.create"
    header = view.table.horizontalHeaderItem(TIME)
    assert header is not None
    assert header.text() == "Time (UTC)"

    row = actions.index("case.status")  # the latest status change: to discordant
    assert view.cell_text(row, DETAILS) == "status: in_reading → discordant"
    discordance = actions.index("case.discordance")
    assert "fired=[judgement, dice]" in view.cell_text(discordance, DETAILS)
    submitted = next(
        n
        for n, e in enumerate(events)
        if e.action == "read.submitted" and e.entity == f"read {first}"
    )
    assert "status: draft → submitted" in view.cell_text(submitted, DETAILS)
    item = view.table.item(submitted, ACTION)
    assert item is not None
    assert '"imaging_judgement": "yes"' in item.toolTip()

    assert view.detail_edit.toPlainText() == ""
    view.table.selectRow(discordance)
    detail = view.detail_edit.toPlainText()
    assert "case.discordance" in detail
    assert '"min_dice": 0.5' in detail
    assert detail == event_text(events[discordance])

    # Draft autosaves can be hidden; the selection survives a refresh.
    view.hide_drafts_box.setChecked(True)
    assert all(e.action != "read.draft_saved" for e in shown(view))
    assert view.detail_edit.toPlainText() == detail
    view.hide_drafts_box.setChecked(False)

    # The tab follows the case: a new event appears when the case reloads.
    with setup.registry.write() as session:
        assign(session, setup.coordinator, REVIEW_CASE, ["rad3"], Role.READER)
    assert window.refresh()
    latest, assigned = shown(page.history_view)[:2]
    assert assigned.action == "case.assign"
    assert assigned.after == {"user": "rad3", "role": "reader"}
    assert page.history_view.cell_text(1, ENTITY) == f"case {REVIEW_CASE}"
    # A reader added after the assessment sends the case back to reading.
    assert latest.action == "case.status"
    assert (latest.after or {}).get("status") == "in_reading"


def test_history_hides_another_readers_read_events_from_a_blinded_reader(
    qtbot: QtBot, setup: ReviewSetup
) -> None:
    first = submit_directly(setup, "rad1", ImagingJudgement.YES, centre(setup))
    with setup.registry.write() as session:
        own = start_or_resume_draft(session, setup.users["rad2"], REVIEW_CASE).id

    _, page = page_of(qtbot, setup, "rad2")
    events = shown(page.history_view)
    entities = {e.entity for e in events}
    assert f"read {first}" not in entities  # rad1's read: blinded
    assert f"read {own}" in entities  # rad2's own draft
    assert "case.assign" in {e.action for e in events}
    texts = " ".join(event_text(e) for e in events)
    assert '"imaging_judgement": "yes"' not in texts

    _, coordinator = page_of(qtbot, setup, None)  # sees rad1's read, status only for now
    status_only = [e for e in shown(coordinator.history_view) if e.entity == f"read {first}"]
    assert status_only
    assert all(set(e.after or {}) <= {"status"} for e in status_only)


def test_history_shows_a_correction_with_its_reason(qtbot: QtBot, setup: ReviewSetup) -> None:
    from workbench.reading_flow import start_correction

    first, _ = discordant(setup)
    with setup.registry.write() as session:
        start_correction(session, setup.users["rad1"], first, "Misread the DWI sequence.")
    _, page = page_of(qtbot, setup, "rad1")
    view = page.history_view
    row = next(n for n, e in enumerate(shown(view)) if e.action == "read.correction_started")
    assert view.cell_text(row, REASON) == "Misread the DWI sequence."
    assert "revision: 1 → 2" in view.cell_text(row, DETAILS) or "revision=2" in view.cell_text(
        row, DETAILS
    )


def test_summarise_change() -> None:
    assert summarise_change({"status": "ready"}, {"status": "in_reading"}) == (
        "status: ready → in_reading"
    )
    assert summarise_change(None, {"user": "rad1", "role": "reader"}) == "user=rad1; role=reader"
    assert summarise_change({"a": 1, "b": 2}, {"a": 1}) == "b: 2 → —"
    assert summarise_change({"final": False}, {"final": True}) == "final: no → yes"
    long = summarise_change(None, {"rules": {"x" * 80: 1}})
    assert long.startswith("rules={")
    assert long.endswith("…")
    assert summarise_change(None, None) == ""
    known = {"case": "PML-1"}
    assert summarise_change(None, {"case": "PML-1", "revision": 2}, known=known) == "revision=2"
    assert summarise_change(None, {"case": "PML-2"}, known=known) == "case=PML-2"


# --- screenshots -----------------------------------------------------------------------------


def test_screenshots_of_the_review_and_history_tabs(
    qtbot: QtBot, setup: ReviewSetup, tmp_path: Path
) -> None:
    """The coordinator's case page of a decided case: ``review-tab.png`` and ``history.png``
    (the one in ``docs/`` is this one, with the page widened as a user reading the history
    would: at the default split the details column scrolls sideways)."""
    application()  # the themed application the window runs in
    decide(setup)
    window = MainWindow(setup.registry, setup.coordinator, quiet=True, cache_root=setup.cache_root)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    assert window.open_case(REVIEW_CASE)
    page = window.case_page
    page.tabs.setCurrentWidget(page.review_tab)
    QApplication.processEvents()
    assert window.grab().save(str(tmp_path / "review-tab.png"))
    page.tabs.setCurrentWidget(page.history_view)
    view = page.history_view
    discordance = next(n for n, e in enumerate(shown(view)) if e.action == "case.discordance")
    view.table.selectRow(discordance)
    QApplication.processEvents()
    assert window.grab().save(str(tmp_path / "history-narrow.png"))
    window.splitter.setSizes([260, 1020])
    QApplication.processEvents()
    assert window.grab().save(str(tmp_path / "history.png"))
    assert not window.errors
