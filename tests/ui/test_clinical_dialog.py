"""The research clinical record in the window: the case page's summary and the form.

The window writes through :func:`workbench.services.clinical.set_clinical_record`; what was
saved is read back through :func:`workbench.services.clinical.clinical_record`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QDialogButtonBox, QTableWidgetItem
from pytestqt.qtbot import QtBot

from adjudication.vocabulary import Role
from workbench.clinical import (
    ClinicalRecord,
    DeathCause,
    DetectionMode,
    Finding,
    Histology,
    Scale,
    ScoreTime,
    SpecimenKind,
    TissueJcv,
    TissueTechnique,
    TreatmentKind,
    YesNoUnknown,
)
from workbench.domain import Condition, Outcome
from workbench.registry.db import Registry
from workbench.services import cases, clinical
from workbench.services.cases import CaseChanges
from workbench.ui.clinical_dialog import ClinicalDialog
from workbench.ui.main_window import MainWindow
from workbench.users import Actor, add_user, resolve_actor

SHOTS = Path("/tmp")


@pytest.fixture
def window(qtbot: QtBot, populated: Registry, ui_actor: Actor) -> MainWindow:
    win = MainWindow(populated, ui_actor, quiet=True)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    assert win.open_case("PML-0002")
    win.case_page.show_tab("clinical")
    return win


def _press_ok(dialog: ClinicalDialog) -> None:
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert button is not None
    button.click()


def _open(window: MainWindow, qtbot: QtBot) -> ClinicalDialog:
    window.case_page.clinical_button.click()
    dialog = window.last_clinical_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def _choose(combo: object, data: object) -> None:
    assert isinstance(combo, QComboBox)
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def _fill_biopsy(dialog: ClinicalDialog) -> None:
    table = dialog.histology_table
    row = dialog.add_histology_row()
    table.setItem(row, 1, QTableWidgetItem("7"))
    for column in (2, 3, 4):
        _choose(table.cellWidget(row, column), Finding.PRESENT)
    _choose(table.cellWidget(row, 5), TissueJcv.DETECTED)
    item = table.item(row, 6)  # IHC
    assert item is not None
    item.setCheckState(Qt.CheckState.Checked)


def test_fill_and_save_shows_the_record_on_the_page(
    window: MainWindow, qtbot: QtBot, populated: Registry, ui_actor: Actor
) -> None:
    page = window.case_page
    assert page.clinical_button.isEnabled()
    assert "No research clinical record yet" in page.clinical_text.toPlainText()
    version = clinical.clinical_record(populated, ui_actor, "PML-0002").version
    dialog = _open(window, qtbot)
    dialog.year_spin.setValue(2023)
    dialog.onset_spin.setValue(-21)
    dialog.diagnosis_spin.setValue(0)
    _choose(dialog.detection_combo, DetectionMode.SYMPTOMATIC)
    for n in range(dialog.conditions_list.count()):
        item = dialog.conditions_list.item(n)
        assert item is not None
        if item.data(Qt.ItemDataRole.UserRole) is Condition.SOLID_NEOPLASM:
            item.setCheckState(Qt.CheckState.Checked)
    dialog.cd4_spin.setValue(35)
    assert dialog.lymphocytes_spin.text() == "unknown"  # untouched stays unknown
    _fill_biopsy(dialog)
    row = dialog.add_treatment_row()
    _choose(dialog.treatments_table.cellWidget(row, 0), TreatmentKind.ANTIRETROVIRAL_START)
    dialog.treatments_table.setItem(row, 2, QTableWidgetItem("2"))
    _choose(dialog.iris_combo, YesNoUnknown.YES)
    dialog.iris_day.setValue(50)
    dialog.iris_treatment_edit.setText("dexamethasone")
    _choose(dialog.outcome_combo, Outcome.DIED)
    dialog.outcome_day.setValue(160)
    _choose(dialog.death_cause_combo, DeathCause.PML_IRIS)
    score = dialog.scores_table.item(0, 1)  # KPS at diagnosis
    assert score is not None
    score.setText("50")
    dialog.tabs.setCurrentIndex(1)
    dialog.grab().save(str(SHOTS / "clinical_dialog_histopathology.png"))
    dialog.tabs.setCurrentIndex(0)
    dialog.grab().save(str(SHOTS / "clinical_dialog_diagnosis.png"))
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        _press_ok(dialog)
    assert not dialog.isVisible()

    view = clinical.clinical_record(populated, ui_actor, "PML-0002")
    assert view.version > version
    assert (view.outcome, view.outcome_day) == (Outcome.DIED, 160)
    record = view.record
    assert (record.diagnosis_year, record.onset_day, record.diagnosis_day) == (2023, -21, 0)
    assert record.other_conditions == (Condition.SOLID_NEOPLASM,)
    assert (record.cd4_nadir, record.lymphocytes) == (35, None)
    assert record.histopathology == (
        Histology(
            SpecimenKind.BIOPSY, 7, Finding.PRESENT, Finding.PRESENT, Finding.PRESENT,
            TissueJcv.DETECTED, (TissueTechnique.IHC,),
        ),
    )  # fmt: skip
    assert [(t.kind, t.start_day) for t in record.treatments] == [
        (TreatmentKind.ANTIRETROVIRAL_START, 2)
    ]
    assert record.score(Scale.KPS, ScoreTime.DIAGNOSIS) == 50
    text = page.clinical_text.toPlainText()
    assert "biopsy day +7: triad present" in text
    assert "died (day +160) — cause: pml iris" in text
    assert "KPS" in text
    window.grab().save(str(SHOTS / "clinical_case_page.png"))


def test_bad_input_is_refused_in_the_form_and_nothing_is_written(
    window: MainWindow, qtbot: QtBot, populated: Registry, ui_actor: Actor
) -> None:
    dialog = _open(window, qtbot)
    dialog.onset_spin.setValue(10)
    dialog.diagnosis_spin.setValue(5)  # diagnosed before onset
    _press_ok(dialog)
    assert dialog.isVisible()
    assert "diagnosis day: diagnosed before onset" in dialog.error_text
    assert dialog.diagnosis_spin.property("invalid") == "true"
    dialog.diagnosis_spin.setValue(12)
    row = dialog.add_histology_row()
    _choose(dialog.histology_table.cellWidget(row, 5), TissueJcv.DETECTED)  # no technique
    _press_ok(dialog)
    assert dialog.isVisible()
    assert "histopathology row 1: tissue JCV technique" in dialog.error_text
    assert dialog.tabs.currentIndex() == 1  # the tab of the field it names
    dialog.histology_table.removeRow(row)
    score = dialog.scores_table.item(2, 2)  # EDSS at 6 months
    assert score is not None
    score.setText("6.3")
    _press_ok(dialog)
    assert "EDSS score: 6.3 is not 0, or 1.0 to 10 in steps of 0.5" in dialog.error_text
    assert dialog.tabs.currentIndex() == 3
    dialog.grab().save(str(SHOTS / "clinical_dialog_refused.png"))
    _choose(dialog.death_cause_combo, DeathCause.PML)  # the outcome is still unknown
    score.setText("6.5")
    _press_ok(dialog)
    assert "death cause: the case's outcome is unknown, not died" in dialog.error_text
    assert clinical.clinical_record(populated, ui_actor, "PML-0002").exists is False
    # Everything typed is still there.
    assert (dialog.onset_spin.value(), dialog.diagnosis_spin.value()) == (10, 12)


def test_a_stale_save_is_shown_in_the_form_and_loses_nothing(
    window: MainWindow, qtbot: QtBot, populated: Registry, ui_actor: Actor
) -> None:
    dialog = _open(window, qtbot)
    dialog.year_spin.setValue(2022)
    # Someone else changes the case meanwhile.
    cases.edit_case(
        populated, ui_actor, "PML-0002", CaseChanges(age_band="50-59"), reason="corrected"
    )
    _press_ok(dialog)
    assert dialog.isVisible()
    assert "changed by someone else" in dialog.error_text
    assert dialog.year_spin.value() == 2022
    assert clinical.clinical_record(populated, ui_actor, "PML-0002").exists is False


def test_changing_a_record_needs_a_reason_in_the_form(
    window: MainWindow, qtbot: QtBot, populated: Registry, ui_actor: Actor
) -> None:
    clinical.set_clinical_record(
        populated,
        ui_actor,
        "PML-0002",
        ClinicalRecord(diagnosis_year=2020),
        reason=None,
        version=None,
    )
    window.open_case("PML-0002", force=True)
    dialog = _open(window, qtbot)
    assert dialog.year_spin.value() == 2020
    assert "required" in dialog.reason_edit.placeholderText()
    dialog.year_spin.setValue(2021)
    _press_ok(dialog)
    assert "needs a reason" in dialog.error_text
    assert dialog.reason_edit.property("invalid") == "true"
    dialog.reason_edit.setText("year corrected from the site's letter")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        _press_ok(dialog)
    assert clinical.clinical_record(populated, ui_actor, "PML-0002").record.diagnosis_year == 2021


def test_a_reader_sees_the_record_but_the_button_says_why_it_is_disabled(
    qtbot: QtBot, populated: Registry, ui_actor: Actor
) -> None:
    with populated.write() as session:
        add_user(session, "reader1", "Dr Reader", {Role.READER}, by=ui_actor)
        reader = resolve_actor(session, "reader1")
    win = MainWindow(populated, reader, quiet=True)
    qtbot.addWidget(win)
    win.show()
    assert win.open_case("PML-0002")
    button = win.case_page.clinical_button
    assert not button.isEnabled()
    assert "may not change cases" in button.toolTip()
    assert "Outcome:" in win.case_page.clinical_text.toPlainText()
