"""My queue, the dashboard and the assignment form's Suggest, in the window (real SQLite).

The cases of :func:`tests.ui.conftest.populate` (PML-0003 at NL-AMS is ready) plus PML-0004
(DE-BER) and PML-0005 (FR-PAR), both ready; readers ``rad1`` (NL-AMS), ``rad2`` (DE-BER) and
``rad3`` (no site), panel member ``panel1``. Screenshots go to the temporary folder and, for
looking at them, to ``/tmp/worklist_*.png``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from adjudication.vocabulary import Role
from workbench.cases import NewCase, create_case, get_case, update_case
from workbench.domain import CaseStatus, Condition, Sex
from workbench.reading_flow import assign
from workbench.registry.db import Registry
from workbench.registry.models import Case, CaseAssignment, User, utcnow
from workbench.ui.main_window import MainWindow
from workbench.ui.worklist import OVERDUE_COLOUR
from workbench.users import Actor, add_user, resolve_actor

SITES = {"rad1": "NL-AMS", "rad2": "DE-BER", "rad3": None}


def _days(start: dt.datetime, end: dt.datetime | None) -> float:
    """Days from ``start`` to ``end`` (a due date is always set here)."""
    assert end is not None
    return (end - start).total_seconds() / 86400


def _ready(registry: Registry, actor: Actor, registry_id: str, site: str) -> None:
    with registry.write() as session:
        create_case(session, actor, NewCase(registry_id, site, Sex.MALE, "50-59", Condition.HIV))
    with registry.write() as session:
        version = get_case(session, registry_id).version
        update_case(session, actor, registry_id, version, {"status": CaseStatus.READY})


def _due_in(registry: Registry, registry_id: str, username: str, days: float) -> None:
    with registry.write() as session:
        row = session.scalars(
            select(CaseAssignment)
            .join(Case, Case.id == CaseAssignment.case_id)
            .join(User, User.id == CaseAssignment.user_id)
            .where(Case.registry_id == registry_id, User.username == username)
        ).one()
        row.due_at = utcnow() + dt.timedelta(days=days)


@pytest.fixture
def registry(populated: Registry, ui_actor: Actor) -> Registry:
    """PML-0003 read by rad1 (overdue) and rad3; PML-0004 by rad1 and rad2; PML-0005 open."""
    with populated.write() as session:
        for name, site in SITES.items():
            add_user(session, name, f"Dr {name.title()}", {Role.READER}, by=ui_actor, site=site)
        add_user(session, "panel1", "Dr Panel", {Role.PANEL}, by=ui_actor)
    _ready(populated, ui_actor, "PML-0004", "DE-BER")
    _ready(populated, ui_actor, "PML-0005", "FR-PAR")
    with populated.write() as session:
        assign(session, ui_actor, "PML-0003", ["rad1", "rad3"], Role.READER)
        assign(session, ui_actor, "PML-0003", ["panel1"], Role.PANEL)
        assign(session, ui_actor, "PML-0004", ["rad1", "rad2"], Role.READER)
    _due_in(populated, "PML-0003", "rad1", -3)
    return populated


def actor(registry: Registry, username: str) -> Actor:
    with registry.write() as session:
        return resolve_actor(session, username)


def window_for(qtbot: QtBot, registry: Registry, who: Actor) -> MainWindow:
    window = MainWindow(registry, who, quiet=True)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def _save(widget: object, tmp_path: Path, name: str) -> None:
    image = widget.grab()  # type: ignore[attr-defined]
    assert image.save(str(tmp_path / f"{name}.png"))
    image.save(f"/tmp/worklist_{name}.png")


def test_a_readers_home_shows_their_queue_above_the_case_list(
    qtbot: QtBot, registry: Registry, tmp_path: Path
) -> None:
    window = window_for(qtbot, registry, actor(registry, "rad1"))
    queue = window.queue_widget
    assert queue.isVisible()
    assert window.central.currentWidget() is window.splitter
    assert queue.registry_ids() == ["PML-0003", "PML-0004"]  # overdue (due earliest) first
    first, second = queue.row_texts(0), queue.row_texts(1)
    assert first[:4] == ["PML-0003", "reader", "assigned", "in reading"]
    assert first[5] == "overdue 3 d"
    assert second[:4] == ["PML-0004", "reader", "assigned", "in reading"]
    assert second[5] == "in 14 d"
    # overdue is red, bold, with an icon and the word; the other row is none of these
    assert queue.is_marked_overdue(0)
    assert not queue.is_marked_overdue(1)
    remark = queue.table.item(0, 5)
    assert remark is not None
    assert remark.foreground().color().name() == OVERDUE_COLOUR
    counts = queue.counts_label.text()
    assert "2 open" in counts
    assert "1 overdue" in counts
    assert "assigned 2" in counts
    # the whole case list stays below
    assert window.case_list.isVisible()
    _save(window, tmp_path, "reader_home")

    queue.table.cellDoubleClicked.emit(1, 0)
    assert window.open_registry_id == "PML-0004"
    assert window.case_page.tabs.currentWidget() is window.case_page.review_tab

    # a refresh re-reads the queue: a draft moves the case to "drafted"
    from workbench.reads import start_or_resume_draft

    with registry.write() as session:
        start_or_resume_draft(session, actor(registry, "rad1"), "PML-0004")
    window.refresh_action.trigger()
    assert queue.row_texts(1)[2] == "drafted"
    assert window.errors == []


def test_enter_opens_the_selected_case(qtbot: QtBot, registry: Registry) -> None:
    window = window_for(qtbot, registry, actor(registry, "rad1"))
    window.queue_action.trigger()
    table = window.queue_widget.table
    assert table.hasFocus() or window.central.currentWidget() is window.splitter
    table.setCurrentCell(0, 0)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert window.open_registry_id == "PML-0003"


def test_someone_without_work_sees_an_empty_queue(qtbot: QtBot, registry: Registry) -> None:
    window = window_for(qtbot, registry, actor(registry, "panel1"))
    queue = window.queue_widget
    assert queue.isVisible()
    assert queue.registry_ids() == []  # reads outstanding: nothing waits for the panel yet
    assert queue.empty_label.isVisible()
    assert not queue.table.isVisible()
    assert queue.counts_label.text() == "0 open · 0 overdue"


def test_a_coordinator_has_the_dashboard_and_no_queue(
    qtbot: QtBot, registry: Registry, ui_actor: Actor, tmp_path: Path
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    assert not window.queue_widget.isVisible()
    assert window.dashboard_action in window.view_menu.actions()
    assert window.dashboard_action in window.toolbar.actions()
    assert window.dashboard_action.isEnabled()
    window.dashboard_action.trigger()
    assert window.on_dashboard
    page = window.dashboard_page
    assert page.tile_count(CaseStatus.IN_READING) == 2
    assert page.tile_count(CaseStatus.READY) == 1
    assert page.tile_count(CaseStatus.INCOMPLETE) == 2
    assert page.reader_row("rad1") == ["rad1", "NL-AMS", "2", "1", "0", "—"]
    assert page.reader_row("rad3") == ["rad3", "—", "1", "0", "0", "—"]
    rad1 = page.reader_table.item(0, 3)
    assert rad1 is not None
    assert rad1.font().bold()
    assert not rad1.icon().isNull()
    sites = [page.site_table.item(r, 0) for r in range(page.site_table.rowCount())]
    assert [s.text() for s in sites if s is not None] == ["DE-BER", "FR-PAR", "NL-AMS"]
    assert "1 overdue" in page.summary_label.text()
    _save(window, tmp_path, "dashboard")

    # a refresh keeps the dashboard and re-reads it
    with registry.write() as session:
        assign(session, ui_actor, "PML-0005", ["rad2", "rad3"], Role.READER)
    window.refresh()
    assert window.on_dashboard
    assert page.tile_count(CaseStatus.IN_READING) == 3
    assert page.reader_row("rad3")[2] == "2"
    qtbot.mouseClick(page.back_button, Qt.MouseButton.LeftButton)
    assert window.central.currentWidget() is window.splitter
    assert window.errors == []


def test_a_reader_is_told_why_there_is_no_dashboard(qtbot: QtBot, registry: Registry) -> None:
    window = window_for(qtbot, registry, actor(registry, "rad1"))
    assert not window.dashboard_action.isEnabled()
    assert "coordinator or admin" in window.dashboard_action.toolTip()
    assert window.open_dashboard() is False  # the service refuses too, in words
    assert "review dashboard" in window.errors[-1]
    assert not window.on_dashboard


def test_suggest_ticks_the_least_loaded_readers_of_other_sites(
    qtbot: QtBot, registry: Registry, ui_actor: Actor, tmp_path: Path
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    assert window.open_case("PML-0005")
    window.case_page.show_tab("review")
    window.case_page.assign_button.click()
    dialog = window.last_assign_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.due_spin.text().startswith("default (readers 14 d, panel 14 d)")
    qtbot.mouseClick(dialog.suggest_button, Qt.MouseButton.LeftButton)
    # open reads: rad1 2, rad2 1, rad3 1; none of them works at FR-PAR
    assert dialog.ticked(Role.READER) == ["rad2", "rad3"]
    rad1 = dialog.item_of(Role.READER, "rad1")
    assert rad1 is not None
    assert rad1.text().endswith("· 2 open, 1 overdue")
    assert "Suggested (fewest open reads, none of site FR-PAR): rad2, rad3" in (
        dialog.suggestion_label.text()
    )
    dialog.set_due_days(5)
    assert dialog.due_label.text().startswith("due ")
    _save(dialog, tmp_path, "assign_suggest")
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok is not None
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible(), dialog.error_text
    with registry.read() as session:
        rows = session.execute(
            select(User.username, CaseAssignment.assigned_at, CaseAssignment.due_at)
            .join(User, User.id == CaseAssignment.user_id)
            .join(Case, Case.id == CaseAssignment.case_id)
            .where(Case.registry_id == "PML-0005")
        ).all()
    assert {name: round(_days(at, due)) for name, at, due in rows} == {
        "rad2": 5,
        "rad3": 5,
    }


def test_suggest_explains_who_is_left_out(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    dialog = window.open_assign_dialog("PML-0004")  # DE-BER, read by rad1 and rad2
    assert dialog is not None
    suggestion = dialog.apply_suggestion()
    assert suggestion is not None
    assert suggestion.suggested == ()
    text = dialog.suggestion_label.text()
    assert "Case PML-0004 has its 2 reader(s) already" in text
    assert "rad1: already a reader of this case" in text
    assert dialog.ticked(Role.READER) == []
    rad3 = dialog.item_of(Role.READER, "rad3")
    assert rad3 is not None
    assert rad3.toolTip() == ""


def test_a_refused_suggestion_shows_in_the_form(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    dialog = window.open_assign_dialog("PML-0005")
    assert dialog is not None
    with registry.write() as session:  # the case disappears meanwhile
        case = get_case(session, "PML-0005")
        from workbench.registry import audit

        session.delete(case)
        audit.record(session, actor=ui_actor.username, role="admin", action="case.delete",
                     entity_type="case", entity_id="PML-0005")  # fmt: skip
    assert dialog.apply_suggestion() is None
    assert "PML-0005" in dialog.error_text
    assert dialog.ticked(Role.READER) == []


def test_a_bad_due_days_keeps_the_form_open(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    dialog = window.open_assign_dialog("PML-0005")
    assert dialog is not None
    assert dialog.due_spin.maximum() == 365
    dialog.set_due_days(400)  # the field clamps what a user can type ...
    assert dialog.due_days == 365
    dialog.set_ticked(Role.READER, "rad3")
    # ... and the service refuses what the field cannot stop (a save with a bad value)
    with pytest.raises(Exception, match="due days"):
        window.save_assignment("PML-0005", ["rad3"], [], due_days=0)
