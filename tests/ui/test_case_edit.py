"""Changing a case from the window: the edit form, the readiness area and "Mark ready…".

The window writes through :mod:`workbench.services.cases` (``edit_case``, ``mark_ready``); what
was saved is read back through the same services (``load_case``, ``case_history``).

In :func:`tests.ui.conftest.populate`, PML-0001 is incomplete but meets the completeness rules
(an old case: nothing has promoted it yet), PML-0002 is incomplete and misses three items, and
PML-0003 is ready.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from adjudication.vocabulary import Role, TriState
from workbench.domain import CaseStatus, Condition, Sex
from workbench.registry.db import Registry
from workbench.services import Action, can, cases
from workbench.services.cases import CaseChanges, NewExposure
from workbench.ui.app import application
from workbench.ui.case_edit import EditCaseDialog, MarkReadyDialog
from workbench.ui.main_window import MainWindow
from workbench.users import Actor, add_user, resolve_actor

from .test_main_window import cell


@pytest.fixture
def make_window(qtbot: QtBot):
    """Build a shown main window on a registry for an actor, closed after the test."""

    def make(registry: Registry, actor: Actor) -> MainWindow:
        window = MainWindow(registry, actor, quiet=True)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def reader(populated: Registry, ui_actor: Actor) -> Actor:
    """A user who reads and nothing else."""
    with populated.write() as session:
        add_user(session, "reader1", "Dr Reader", {Role.READER}, by=ui_actor)
        return resolve_actor(session, "reader1")


def press_ok(dialog: EditCaseDialog | MarkReadyDialog) -> None:
    """Click the form's OK button, as a user would."""
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert button is not None
    button.click()


def edit_dialog(window: MainWindow, registry_id: str) -> EditCaseDialog:
    window.open_case(registry_id)
    dialog = window.open_edit_dialog()
    assert dialog is not None
    assert dialog.isVisible()
    return dialog


def updates(registry: Registry, actor: Actor, registry_id: str) -> list[cases.HistoryEvent]:
    return [
        e
        for e in cases.case_history(registry, actor, registry_id)
        if e.action in {"case.update", "case.ready"}
    ]


# --- the edit form ---------------------------------------------------------------------------


def test_edit_form_is_filled_from_the_case(make_window, populated: Registry, ui_actor) -> None:
    window = make_window(populated, ui_actor)
    dialog = edit_dialog(window, "PML-0001")

    assert dialog.windowTitle() == "Edit case — PML-0001"
    assert dialog.sex_combo.currentData() is Sex.FEMALE
    assert dialog.age_band_edit.text() == "40-49"
    assert dialog.condition_combo.currentData() is Condition.MS_NATALIZUMAB
    assert dialog.condition_detail_edit.text() == "relapsing-remitting MS"
    assert dialog.summary_edit.toPlainText() == "Subacute right hemiparesis over three weeks."
    assert dialog.consistent_combo.currentData() is TriState.PRESENT
    assert dialog.index_event_edit.text() == "first MRI suggestive of PML"
    assert dialog.readers_spin.value() == 2
    assert [(e.drug, e.start_day, e.stop_day, e.infusion_count) for e in dialog.exposures()] == [
        ("natalizumab", -1400, -10, 48)
    ]
    assert [(f.feature, f.status, f.onset_day) for f in dialog.features()] == [
        ("hemiparesis", TriState.PRESENT, -20),
        ("aphasia", TriState.ABSENT, None),
    ]
    assert dialog.reason_edit.text() == ""
    assert dialog.changes().as_changes() == {}, "an untouched form changes nothing"
    dialog.reject()


def test_only_the_fields_changed_are_sent(make_window, populated: Registry, ui_actor) -> None:
    window = make_window(populated, ui_actor)
    dialog = edit_dialog(window, "PML-0001")

    dialog.age_band_edit.setText(" 50-59 ")
    dialog.add_feature_row("ataxia", TriState.PRESENT, -5, "gait")

    changes = dialog.changes().as_changes()
    assert set(changes) == {"age_band", "clinical_features"}
    assert changes["age_band"] == "50-59"
    assert [(f.feature, f.status, f.onset_day, f.note) for f in changes["clinical_features"]] == [
        ("hemiparesis", TriState.PRESENT, -20, None),
        ("aphasia", TriState.ABSENT, None, None),
        ("ataxia", TriState.PRESENT, -5, "gait"),
    ]
    dialog.reject()


def test_an_edit_is_saved_audited_and_shown(
    qtbot: QtBot, make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated, ui_actor)
    dialog = edit_dialog(window, "PML-0002")
    before = cases.load_case(populated, ui_actor, "PML-0002")[0]
    dialog.age_band_edit.setText("40-49")
    dialog.consistent_combo.setCurrentIndex(dialog.consistent_combo.findData(TriState.ABSENT))
    dialog.add_exposure_row("cladribine", -200, -190, None)
    dialog.reason_edit.setText("age band and treatment from the referral letter")

    with qtbot.waitSignal(dialog.saved, timeout=2000) as saved:
        press_ok(dialog)

    assert saved.args[0] == "PML-0002"
    assert saved.args[1].version == before.version + 1
    assert not dialog.isVisible()
    assert dialog.error_text == ""
    detail = cases.load_case(populated, ui_actor, "PML-0002")[0]
    assert detail.age_band == "40-49"
    assert detail.clinical_consistent is TriState.ABSENT
    assert [(e.drug, e.start_day, e.stop_day) for e in detail.exposures] == [
        ("cladribine", -200, -190)
    ]
    assert (detail.sex, detail.condition) == (before.sex, before.condition), "untouched"
    event = updates(populated, ui_actor, "PML-0002")[-1]
    assert event.action == "case.update"
    assert event.actor == ui_actor.username
    assert event.reason == "age band and treatment from the referral letter"
    assert event.before is not None
    assert event.after is not None
    assert (event.before["age_band"], event.after["age_band"]) == ("30-39", "40-49")
    assert event.after["exposures"] == [["cladribine", -200, -190, None]]
    changed = {k for k in event.after if event.after[k] != event.before.get(k)}
    assert changed == {"age_band", "clinical_consistent", "exposures"}
    # The page and the list show the saved case.
    page = window.case_page
    assert page.fact_labels["Age band"].text() == "40-49"
    assert page.fact_labels["Clinical features consistent with PML"].text() == "absent"
    assert page.exposures_table.rowCount() == 1
    assert page.history_view.table.rowCount() == len(detail.history)
    assert page.status_badge.text() == "incomplete", "still misses imaging and the CSF PCR"


def test_an_edit_that_completes_the_case_makes_it_ready(
    qtbot: QtBot, make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated, ui_actor)
    assert cell(window, "PML-0001", "Status") == "incomplete"
    dialog = edit_dialog(window, "PML-0001")
    dialog.condition_detail_edit.setText("relapsing-remitting MS since 2009")
    dialog.reason_edit.setText("detail from the neurologist")

    with qtbot.waitSignal(dialog.saved, timeout=2000) as saved:
        press_ok(dialog)

    assert saved.args[1].status is CaseStatus.READY
    page = window.case_page
    assert page.status_badge.text() == "ready"
    assert page.readiness_box.isHidden()
    assert cell(window, "PML-0001", "Status") == "ready", "the list is refreshed"
    assert "ready" in window.statusBar().currentMessage()


def test_a_stale_edit_is_refused_in_the_form(
    make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated, ui_actor)
    dialog = edit_dialog(window, "PML-0002")
    # Someone else saves the case after the form was filled.
    cases.edit_case(
        populated, ui_actor, "PML-0002", CaseChanges(age_band="50-59"), reason="concurrent"
    )
    dialog.age_band_edit.setText("40-49")
    dialog.reason_edit.setText("from the referral letter")

    press_ok(dialog)

    assert dialog.isVisible(), "a refused save keeps the form open"
    assert "changed by someone else" in dialog.error_text
    assert "nothing was saved" in dialog.error_text
    assert dialog.age_band_edit.text() == "40-49", "what was typed is kept"
    assert cases.load_case(populated, ui_actor, "PML-0002")[0].age_band == "50-59"
    assert [e.reason for e in updates(populated, ui_actor, "PML-0002")] == ["concurrent"]
    dialog.reject()


def test_an_edit_without_a_reason_is_refused(
    make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated, ui_actor)
    dialog = edit_dialog(window, "PML-0002")
    dialog.age_band_edit.setText("40-49")
    dialog.reason_edit.setText("   ")

    press_ok(dialog)

    assert dialog.isVisible()
    assert "needs a reason" in dialog.error_text
    assert dialog.reason_edit.property("invalid") == "true"
    assert cases.load_case(populated, ui_actor, "PML-0002")[0].age_band == "30-39"
    assert updates(populated, ui_actor, "PML-0002") == []

    dialog.reason_edit.setText("corrected")
    press_ok(dialog)
    assert not dialog.isVisible(), "with a reason it saves"
    assert dialog.reason_edit.property("invalid") == "false"


@pytest.mark.parametrize(
    ("change", "widget", "expected"),
    [
        (lambda d: d.age_band_edit.setText("about 40"), "age_band_edit", "age band:"),
        (lambda d: d.index_event_edit.clear(), "index_event_edit", "index event:"),
        (
            lambda d: d.condition_detail_edit.setText("MS\x1b[2J"),
            "condition_detail_edit",
            "condition detail:",
        ),
        (
            lambda d: d.exposures_table.item(0, 1).setText("soon"),
            "exposures_table",
            "exposure row 1 start day:",
        ),
    ],
)
def test_a_refusal_outlines_the_field_it_names(
    make_window, populated: Registry, ui_actor: Actor, change, widget: str, expected: str
) -> None:
    window = make_window(populated, ui_actor)
    dialog = edit_dialog(window, "PML-0001")
    version = cases.load_case(populated, ui_actor, "PML-0001")[0].version
    change(dialog)
    dialog.reason_edit.setText("a correction")

    press_ok(dialog)

    assert dialog.isVisible()
    assert dialog.error_text.startswith(expected)
    assert getattr(dialog, widget).property("invalid") == "true"
    assert cases.load_case(populated, ui_actor, "PML-0001")[0].version == version
    dialog.reject()


def test_the_edit_shortcut_and_menu(make_window, populated: Registry, ui_actor: Actor) -> None:
    window = make_window(populated, ui_actor)
    action = window.edit_case_action
    assert action.shortcut().toString() == "Ctrl+E"
    assert not action.isEnabled(), "no case open yet"
    assert "Open a case first" in action.toolTip()
    keys = [k for k, _ in window.window_shortcuts()]
    assert keys.count("Ctrl+E") == 1, "Ctrl+E is listed once in the shortcut panel"

    window.open_case("PML-0003")
    assert action.isEnabled()
    action.trigger()
    dialogs = [d for d in window.findChildren(EditCaseDialog) if d.isVisible()]
    assert [d.detail.registry_id for d in dialogs] == ["PML-0003"]
    dialogs[0].reject()


# --- readiness ------------------------------------------------------------------------------


def test_readiness_area_lists_what_an_incomplete_case_misses(
    make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated, ui_actor)
    page = window.case_page

    window.open_case("PML-0002")
    assert page.readiness_box.isVisible()
    lines = page.readiness_label.text().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("•") and line.endswith(".") for line in lines)
    assert "No CSF JC-virus PCR result" in page.readiness_label.text()
    assert "3 item(s) missing" in page.readiness_box.title()
    assert page.mark_ready_button.isEnabled()

    window.open_case("PML-0001")
    assert page.readiness_box.isVisible()
    assert page.readiness_label.text() == "Complete: ready to be read."

    window.open_case("PML-0003")
    assert not page.readiness_box.isVisible(), "a ready case has no readiness area"


def mark_ready_dialog(window: MainWindow, registry_id: str) -> MarkReadyDialog:
    """Open the form from the page's button, as a user would."""
    window.open_case(registry_id)
    window.case_page.mark_ready_button.click()
    dialogs = [d for d in window.findChildren(MarkReadyDialog) if d.isVisible()]
    assert len(dialogs) == 1
    return dialogs[0]


def test_mark_ready_needs_a_reason_when_items_are_missing(
    qtbot: QtBot, make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated, ui_actor)
    dialog = mark_ready_dialog(window, "PML-0002")
    assert "misses 3 item(s)" in dialog.intro_label.text()
    assert len(dialog.missing_label.text().splitlines()) == 3

    press_ok(dialog)

    assert dialog.isVisible()
    assert dialog.error_text.startswith("reason: PML-0002 is not complete")
    assert dialog.reason_edit.property("invalid") == "true"
    assert cases.load_case(populated, ui_actor, "PML-0002")[0].status is CaseStatus.INCOMPLETE

    dialog.reason_edit.setText("imaging held at the referring site; read from the PACS copy")
    with qtbot.waitSignal(dialog.marked, timeout=2000):
        press_ok(dialog)

    assert not dialog.isVisible()
    assert cases.load_case(populated, ui_actor, "PML-0002")[0].status is CaseStatus.READY
    event = updates(populated, ui_actor, "PML-0002")[-1]
    assert event.action == "case.ready"
    assert event.reason == "imaging held at the referring site; read from the PACS copy"
    assert event.after is not None
    assert len(event.after["readiness"]["missing_overridden"]) == 3
    page = window.case_page
    assert page.status_badge.text() == "ready"
    assert page.readiness_box.isHidden()
    assert cell(window, "PML-0002", "Status") == "ready"
    assert "3 missing item(s) overridden" in window.statusBar().currentMessage()


def test_mark_ready_of_a_complete_case_needs_no_reason(
    make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated, ui_actor)
    dialog = mark_ready_dialog(window, "PML-0001")
    assert dialog.missing_label.isHidden()
    assert "meets the completeness rules" in dialog.intro_label.text()

    press_ok(dialog)

    assert not dialog.isVisible()
    assert cases.load_case(populated, ui_actor, "PML-0001")[0].status is CaseStatus.READY
    assert updates(populated, ui_actor, "PML-0001")[-1].reason == "meets the completeness rules"


# --- the policy -----------------------------------------------------------------------------


def test_a_reader_sees_the_buttons_greyed_with_the_policys_reason(
    make_window, populated: Registry, reader: Actor
) -> None:
    window = make_window(populated, reader)
    refusal = can(reader, Action.EDIT_CASE)
    assert refusal is not None
    why = refusal.reason[:1].upper() + refusal.reason[1:]

    window.open_case("PML-0002")

    page = window.case_page
    assert page.readiness_box.isVisible(), "a reader sees what the case misses"
    for control in (page.edit_button, page.mark_ready_button, window.edit_case_action):
        assert not control.isEnabled()
        assert control.toolTip() == why
    assert "reader1" in why
    assert "coordinator" in why


def test_a_coordinator_has_the_buttons_with_their_help(
    make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated, ui_actor)
    window.open_case("PML-0002")
    page = window.case_page
    assert page.edit_button.isEnabled()
    assert "Ctrl+E" in page.edit_button.toolTip()
    assert page.mark_ready_button.isEnabled()
    assert "reason" in page.mark_ready_button.toolTip()


# --- screenshots ------------------------------------------------------------------------------


def test_screenshots_of_the_readiness_area_and_the_edit_form(
    qtbot: QtBot, populated: Registry, ui_actor: Actor, tmp_path: Path
) -> None:
    """``case-readiness.png`` (the page of a case missing three items), ``case-edit.png`` (its
    edit form, refused without a reason) and ``case-mark-ready.png``."""
    application()  # the themed application the window runs in
    cases.edit_case(
        populated,
        ui_actor,
        "PML-0002",
        CaseChanges(exposures=(NewExposure("antiretroviral therapy", -400),)),
        reason="screenshot",
    )
    window = MainWindow(populated, ui_actor, quiet=True)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    assert window.open_case("PML-0002")
    QApplication.processEvents()
    assert window.grab().save(str(tmp_path / "case-readiness.png"))
    page = window.case_page
    assert page.readiness_box.geometry().bottom() < page.tabs.geometry().top()

    dialog = window.open_edit_dialog()
    assert dialog is not None
    qtbot.waitExposed(dialog)
    dialog.age_band_edit.setText("40-49")
    press_ok(dialog)
    QApplication.processEvents()
    assert dialog.grab().save(str(tmp_path / "case-edit.png"))
    dialog.reject()

    ready = mark_ready_dialog(window, "PML-0002")
    qtbot.waitExposed(ready)
    press_ok(ready)
    QApplication.processEvents()
    assert ready.grab().save(str(tmp_path / "case-mark-ready.png"))
    ready.reject()
    assert not window.errors
