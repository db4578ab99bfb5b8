"""The main window on a real SQLite registry: list, filters, case page, forms, run()."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QColor, QImage, QKeySequence
from PyQt6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from adjudication.vocabulary import Role, TriState
from tests.signin import TEST_PASSWORD
from workbench import __version__
from workbench.cases import CaseFilter, CaseSummary, NewCase, create_case, get_case
from workbench.config import Settings
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, Sex
from workbench.labs import ALLOWED_RESULTS, ALLOWED_UNITS
from workbench.registry.db import Registry
from workbench.registry.models import Case, LabResult
from workbench.services import signin
from workbench.ui import app as app_module
from workbench.ui.case_list import COLUMNS, CaseTableModel
from workbench.ui.dialogs import LabResultDialog
from workbench.ui.main_window import MainWindow
from workbench.ui.theme import CSF_PCR_TINT
from workbench.users import Actor, add_user, resolve_actor

from .conftest import FLAIR_UID, USERNAME, cli_token, db_url

ALL_IDS = ["PML-0001", "PML-0002", "PML-0003"]


@pytest.fixture
def make_window(qtbot: QtBot, ui_actor: Actor):
    """Build a shown main window on a registry, closed after the test."""

    def make(registry: Registry) -> MainWindow:
        window = MainWindow(registry, ui_actor)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


def shown_ids(window: MainWindow) -> list[str]:
    """Registry ids in display order, read through the model the view shows."""
    model = window.case_list.model
    return [model.data(model.index(row, 0)) for row in range(model.rowCount())]


def cell(window: MainWindow, registry_id: str, title: str) -> str:
    """The text the list shows for one case in the column of ``title``."""
    model = window.case_list.model
    row = model.row_of(registry_id)
    assert row is not None, f"{registry_id} is not shown"
    column = [c.title for c in COLUMNS].index(title)
    return str(model.data(model.index(row, column)))


def click_row(qtbot: QtBot, window: MainWindow, registry_id: str) -> None:
    """Click the list row of ``registry_id`` as a user would."""
    table = window.case_list.table
    row = window.case_list.model.row_of(registry_id)
    assert row is not None
    rect = table.visualRect(window.case_list.model.index(row, 0))
    viewport = table.viewport()
    assert viewport is not None
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())


def count(registry: Registry, model: type[Case] | type[LabResult]) -> int:
    with registry.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- empty registry -------------------------------------------------------------------------


def test_empty_registry_says_what_to_do(make_window, ui_registry: Registry) -> None:
    window = make_window(ui_registry)

    assert window.central.currentWidget() is window.empty_page
    assert window.empty_page.isVisible()
    message = window.empty_page.message
    assert "no cases yet" in message
    assert "Ctrl+N" in message
    assert "pml-workbench demo" in message
    assert window.case_list.model.rowCount() == 0
    assert ui_registry.url in window.windowTitle()
    assert USERNAME in window.windowTitle()
    assert "admin, coordinator" in window.user_label.text()
    assert window.registry_label.toolTip() == ui_registry.url
    assert window.errors == []


# --- the case list --------------------------------------------------------------------------


def test_list_shows_cases_with_their_counts(make_window, populated: Registry) -> None:
    window = make_window(populated)

    assert window.central.currentWidget() is window.splitter
    assert shown_ids(window) == ALL_IDS
    expected = {
        "PML-0001": ("NL-AMS", "MS on natalizumab", "2", "3", "2", "incomplete"),
        "PML-0002": ("DE-BER", "HIV", "1", "1", "1", "incomplete"),
        "PML-0003": ("NL-AMS", "lymphoma / leukaemia", "0", "0", "0", "ready"),
    }
    titles = ("Site", "Condition", "Timepoints", "Series", "Labs", "Status")
    for registry_id, values in expected.items():
        assert tuple(cell(window, registry_id, t) for t in titles) == values
    assert window.case_list.count_label.text() == "3 cases"
    combo = window.case_list.status_combo
    texts = [combo.itemText(n) for n in range(combo.count())]
    assert "All statuses (3)" in texts
    assert "incomplete (2)" in texts
    assert "ready (1)" in texts
    assert "final (0)" in texts


@pytest.mark.parametrize(
    ("title", "ascending"),
    [
        ("Registry id", ALL_IDS),
        ("Series", ["PML-0003", "PML-0002", "PML-0001"]),
        ("Labs", ["PML-0003", "PML-0002", "PML-0001"]),
        ("Timepoints", ["PML-0003", "PML-0002", "PML-0001"]),
        ("Site", ["PML-0002", "PML-0001", "PML-0003"]),
        ("Condition", ["PML-0002", "PML-0003", "PML-0001"]),
        ("Status", ["PML-0001", "PML-0002", "PML-0003"]),
    ],
)
def test_every_column_sorts(
    make_window, populated: Registry, title: str, ascending: list[str]
) -> None:
    window = make_window(populated)
    column = [c.title for c in COLUMNS].index(title)
    table = window.case_list.table

    table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    assert shown_ids(window) == ascending
    table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    assert shown_ids(window) == list(reversed(ascending))


def test_clicking_a_header_sorts_by_that_column(
    qtbot: QtBot, make_window, populated: Registry
) -> None:
    window = make_window(populated)
    table = window.case_list.table
    header = table.horizontalHeader()
    assert header is not None
    column = [c.title for c in COLUMNS].index("Series")
    position = QPoint(header.sectionViewportPosition(column) + 10, header.height() // 2)
    viewport = header.viewport()
    assert viewport is not None

    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=position)
    first = shown_ids(window)
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=position)
    second = shown_ids(window)

    assert header.sortIndicatorSection() == column
    assert {tuple(first), tuple(second)} == {
        ("PML-0003", "PML-0002", "PML-0001"),
        ("PML-0001", "PML-0002", "PML-0003"),
    }


def test_sorting_keeps_the_selected_case(qtbot: QtBot, make_window, populated: Registry) -> None:
    window = make_window(populated)
    click_row(qtbot, window, "PML-0001")
    table = window.case_list.table

    table.sortByColumn([c.title for c in COLUMNS].index("Series"), Qt.SortOrder.AscendingOrder)

    assert shown_ids(window)[-1] == "PML-0001"
    assert window.case_list.selected_registry_id() == "PML-0001"
    assert table.currentIndex().row() == 2
    assert window.open_registry_id == "PML-0001"


def test_filters_and_search_narrow_the_list(qtbot: QtBot, make_window, populated: Registry) -> None:
    window = make_window(populated)
    panel = window.case_list

    panel.status_combo.setCurrentIndex(panel.status_combo.findData(CaseStatus.READY))
    assert shown_ids(window) == ["PML-0003"]
    assert panel.count_label.text() == "1 of 3 cases shown"
    panel.clear_filters()

    panel.site_combo.setCurrentIndex(panel.site_combo.findData("NL-AMS"))
    assert shown_ids(window) == ["PML-0001", "PML-0003"]
    panel.condition_combo.setCurrentIndex(panel.condition_combo.findData(Condition.HIV))
    assert shown_ids(window) == []
    assert panel.stack.currentIndex() == 1, "an empty result says that no case matches"
    panel.site_combo.setCurrentIndex(0)
    assert shown_ids(window) == ["PML-0002"]
    panel.clear_filters()
    assert shown_ids(window) == ALL_IDS

    qtbot.keyClicks(panel.search_edit, "0002")
    qtbot.waitUntil(lambda: shown_ids(window) == ["PML-0002"])  # once typing pauses
    panel.search_edit.clear()
    qtbot.keyClicks(panel.search_edit, "pml-000")
    qtbot.keyClick(panel.search_edit, Qt.Key.Key_Return)  # Return does not wait
    assert shown_ids(window) == ALL_IDS, "search ignores case, as list_cases does"


def test_model_filters_and_sorts_many_rows_in_memory() -> None:
    rows = [
        CaseSummary(
            id=n,
            registry_id=f"PML-{n:05d}",
            site=f"S{n % 7}",
            condition=list(Condition)[n % len(Condition)],
            status=list(CaseStatus)[n % len(CaseStatus)],
            timepoints=n % 5,
            series=n % 11,
            lab_results=n % 3,
            version=1,
        )
        for n in range(20_000)
    ]
    model = CaseTableModel()
    model.set_rows(rows)
    model.sort([c.title for c in COLUMNS].index("Series"), Qt.SortOrder.DescendingOrder)
    shown = model.shown_rows()
    assert len(shown) == 20_000
    assert [r.series for r in shown] == sorted((r.series for r in rows), reverse=True)

    model.set_filter(CaseFilter(site="S3", status=CaseStatus.FINAL, text="1"))
    expected = {
        r.registry_id
        for r in rows
        if r.site == "S3" and r.status == CaseStatus.FINAL and "1" in r.registry_id
    }
    assert {r.registry_id for r in model.shown_rows()} == expected
    assert model.total_count == 20_000
    assert model.shown_count == len(expected)


def test_refresh_shows_changes_saved_elsewhere_and_keeps_filters(
    qtbot: QtBot, make_window, populated: Registry, ui_actor: Actor
) -> None:
    window = make_window(populated)
    panel = window.case_list
    panel.site_combo.setCurrentIndex(panel.site_combo.findData("NL-AMS"))
    with populated.write() as session:
        create_case(
            session, ui_actor, NewCase("PML-0004", "NL-AMS", Sex.OTHER, "20-29", Condition.OTHER)
        )
        create_case(
            session, ui_actor, NewCase("PML-0005", "FR-PAR", Sex.MALE, "70-79", Condition.OTHER)
        )
    assert shown_ids(window) == ["PML-0001", "PML-0003"]

    assert window.refresh_action.shortcut() == QKeySequence("F5")
    window.refresh_action.trigger()

    assert shown_ids(window) == ["PML-0001", "PML-0003", "PML-0004"]
    assert panel.site_combo.currentData() == "NL-AMS"
    assert panel.site_combo.findData("FR-PAR") > 0, "new sites join the site filter"
    assert panel.count_label.text() == "3 of 5 cases shown"


def test_data_entry_needs_a_coordinator(qtbot: QtBot, populated: Registry, ui_actor: Actor) -> None:
    with populated.write() as session:
        add_user(session, "reader1", "Dr Reader", {Role.READER}, by=ui_actor)
        reader = resolve_actor(session, "reader1")
    window = MainWindow(populated, reader)
    qtbot.addWidget(window)

    assert not window.new_case_action.isEnabled()
    assert not window.import_labs_action.isEnabled()
    assert "reader" in window.user_label.text()
    window.open_case("PML-0001")
    assert not window.add_lab_action.isEnabled()
    assert not window.case_page.add_lab_button.isEnabled()


def test_about_names_version_registry_and_user(make_window, ui_registry: Registry) -> None:
    window = make_window(ui_registry)

    box = window.show_about()

    assert __version__ in box.text()
    assert ui_registry.url in box.text()
    assert USERNAME in box.text()
    box.close()


# --- the case page --------------------------------------------------------------------------


def test_selecting_a_case_shows_its_page(qtbot: QtBot, make_window, populated: Registry) -> None:
    window = make_window(populated)
    assert window.page_stack.currentWidget() is window.placeholder

    click_row(qtbot, window, "PML-0001")

    page = window.case_page
    assert window.page_stack.currentWidget() is page
    assert window.open_registry_id == "PML-0001"
    assert page.title_label.text() == "PML-0001"
    assert page.status_badge.text() == "incomplete"
    assert page.fact_labels["Site"].text() == "NL-AMS"
    assert page.fact_labels["Sex"].text() == "female"
    assert page.fact_labels["Age band"].text() == "40-49"
    assert page.fact_labels["Condition"].text() == "MS on natalizumab — relapsing-remitting MS"
    assert page.fact_labels["Clinical features consistent with PML"].text() == "present"

    tree = page.imaging_tree
    assert tree.topLevelItemCount() == 2
    day0, day90 = tree.topLevelItem(0), tree.topLevelItem(1)
    assert day0 is not None
    assert day90 is not None
    assert (day0.text(0), day90.text(0)) == ("Day 0", "Day +90")
    assert day0.childCount() == 2
    assert day90.childCount() == 1
    flair, t1 = day0.child(0), day0.child(1)
    assert flair is not None
    assert t1 is not None
    assert flair.text(0) == "FLAIR"
    assert flair.text(2) == "176×256×256 · 1.00×1.00×1.00 mm"
    assert t1.text(0) == "T1+Gd"
    assert t1.text(2) == "256×256×60 · 0.90×0.90×3.00 mm"
    assert flair.text(3) == "176"
    assert "…" in flair.text(4)
    assert len(flair.text(4)) < len(FLAIR_UID)
    assert flair.toolTip(4) == FLAIR_UID

    labs = page.labs_table
    assert labs.rowCount() == 2
    rows = [[labs.item(r, c).text() for c in range(labs.columnCount())] for r in range(2)]
    assert rows[0][:5] == ["anti-JCV antibody index", "-30", "measured", "3.1", "index"]
    assert rows[1][:7] == ["CSF JCV PCR", "+3", "detected", "520", "copies/mL", "10", "50"]
    assert rows[1][7] == "ultrasensitive JCV PCR"
    csf_item, other_item = labs.item(1, 0), labs.item(0, 0)
    assert csf_item.background().color() == QColor(CSF_PCR_TINT)
    assert other_item.background().color() != QColor(CSF_PCR_TINT)
    assert csf_item.font().bold()
    assert not other_item.font().bold()

    assert page.exposures_table.rowCount() == 1
    exposure = [page.exposures_table.item(0, c).text() for c in range(4)]
    assert exposure == ["natalizumab", "-1400", "-10", "48"]
    features = [
        (page.features_table.item(r, 0).text(), page.features_table.item(r, 1).text())
        for r in range(page.features_table.rowCount())
    ]
    assert features == [("hemiparesis", "present"), ("aphasia", "absent")]

    click_row(qtbot, window, "PML-0003")
    assert page.title_label.text() == "PML-0003"
    assert tree.topLevelItemCount() == 0
    assert labs.rowCount() == 0
    assert "No imaging yet" in page.imaging_hint.text()


def test_a_registry_error_is_shown_not_raised(make_window, populated: Registry) -> None:
    window = make_window(populated)

    assert window.open_case("PML-9999") is False

    assert window.last_message_box is not None
    assert window.last_message_box.isVisible()
    assert "No case 'PML-9999' in this registry" in window.last_message_box.text()
    assert window.errors == ["no case 'PML-9999' in this registry"]
    window.last_message_box.close()


# --- the new-case dialog --------------------------------------------------------------------


def fill_new_case(dialog, registry_id: str) -> None:
    dialog.registry_id_edit.setText(registry_id)
    dialog.site_combo.setEditText("BE-BRU")
    dialog.sex_combo.setCurrentIndex(dialog.sex_combo.findText("female"))
    dialog.age_band_edit.setText("50-59")
    dialog.condition_combo.setCurrentIndex(dialog.condition_combo.findData(Condition.TRANSPLANT))
    dialog.condition_detail_edit.setText("kidney transplant")
    dialog.summary_edit.setPlainText("Progressive ataxia.")
    dialog.consistent_combo.setCurrentIndex(dialog.consistent_combo.findData(TriState.PRESENT))
    dialog.add_exposure_row("mycophenolate", -700, None, None)
    dialog.add_feature_row("ataxia", TriState.PRESENT, -14)


def test_new_case_dialog_creates_the_case(qtbot: QtBot, make_window, populated: Registry) -> None:
    window = make_window(populated)
    dialog = window.open_new_case_dialog()
    assert dialog is not None
    assert dialog.isVisible()
    assert [dialog.site_combo.itemText(n) for n in range(dialog.site_combo.count())] == [
        "DE-BER",
        "NL-AMS",
    ]
    fill_new_case(dialog, "PML-0100")

    with qtbot.waitSignal(dialog.created, timeout=2000) as created:
        dialog.accept()

    assert created.args == ["PML-0100"]
    assert not dialog.isVisible()
    assert dialog.error_text == ""
    assert "PML-0100" in shown_ids(window)
    assert window.case_list.selected_registry_id() == "PML-0100"
    assert window.case_page.title_label.text() == "PML-0100"
    assert window.case_list.count_label.text() == "4 cases"
    with populated.read() as session:
        case = get_case(session, "PML-0100")
        assert (case.site.code, case.age_band, case.condition) == (
            "BE-BRU",
            "50-59",
            Condition.TRANSPLANT,
        )
        assert case.clinical_consistent == TriState.PRESENT
        assert [(e.drug, e.start_day, e.stop_day) for e in case.exposures] == [
            ("mycophenolate", -700, None)
        ]
        assert [(f.feature, f.status, f.onset_day) for f in case.clinical_features] == [
            ("ataxia", TriState.PRESENT, -14)
        ]


def test_new_case_in_an_empty_registry_leaves_the_empty_page(
    make_window, ui_registry: Registry
) -> None:
    window = make_window(ui_registry)
    dialog = window.open_new_case_dialog()
    fill_new_case(dialog, "PML-0001")
    dialog.accept()

    assert window.central.currentWidget() is window.splitter
    assert shown_ids(window) == ["PML-0001"]
    assert window.open_registry_id == "PML-0001"


@pytest.mark.parametrize(
    ("registry_id", "exposure_start", "field", "expected"),
    [
        ("pml-100", "-700", "registry id", "is not a pseudonymous id"),
        ("PML-0001", "-700", "registry id", "exists already"),
        ("PML-0100", "soon", "exposure row 2 start day", "is not a whole number"),
    ],
)
def test_new_case_dialog_refusal_keeps_everything_typed(
    make_window,
    populated: Registry,
    registry_id: str,
    exposure_start: str,
    field: str,
    expected: str,
) -> None:
    window = make_window(populated)
    cases_before = count(populated, Case)
    dialog = window.open_new_case_dialog()
    fill_new_case(dialog, registry_id)
    row = dialog.add_exposure_row("rituximab")
    dialog.exposures_table.item(row, 1).setText(exposure_start)

    dialog.accept()

    assert dialog.isVisible(), "a refused case keeps the dialog open"
    assert dialog.error_text.startswith(f"{field}:")
    assert expected in dialog.error_text
    assert dialog.error_label.isVisible()
    assert dialog.registry_id_edit.text() == registry_id
    assert dialog.site_combo.currentText() == "BE-BRU"
    assert dialog.age_band_edit.text() == "50-59"
    assert dialog.summary_edit.toPlainText() == "Progressive ataxia."
    assert dialog.exposures_table.rowCount() == 2
    assert dialog.exposures_table.item(0, 0).text() == "mycophenolate"
    assert dialog.features_table.item(0, 0).text() == "ataxia"
    assert count(populated, Case) == cases_before
    if field == "registry id":
        assert dialog.registry_id_edit.property("invalid") == "true"
    dialog.reject()


def test_new_case_dialog_asks_for_the_sex_first(make_window, ui_registry: Registry) -> None:
    window = make_window(ui_registry)
    dialog = window.open_new_case_dialog()
    fill_new_case(dialog, "PML-0001")
    dialog.sex_combo.setCurrentIndex(-1)

    dialog.accept()

    assert dialog.isVisible()
    assert dialog.error_text.startswith("sex:")
    assert dialog.sex_combo.property("invalid") == "true"
    assert count(ui_registry, Case) == 0
    dialog.reject()


# --- the lab form ---------------------------------------------------------------------------


def test_lab_form_offers_the_results_and_units_of_the_test(
    make_window, populated: Registry
) -> None:
    window = make_window(populated)
    window.open_case("PML-0002")
    dialog = window.open_lab_dialog()
    assert dialog is not None

    assert dialog.test == LabTest.CSF_JCV_PCR
    assert set(dialog.result_choices()) == ALLOWED_RESULTS[LabTest.CSF_JCV_PCR]
    assert set(dialog.unit_choices()) == ALLOWED_UNITS[LabTest.CSF_JCV_PCR]
    assert dialog.unit_choices()[0] == "copies/mL"
    assert not dialog.test_name_edit.isEnabled()

    dialog.set_test(LabTest.CD4_COUNT)
    assert set(dialog.result_choices()) == {LabQualitative.QUANTITATIVE, LabQualitative.NOT_DONE}
    assert set(dialog.unit_choices()) == ALLOWED_UNITS[LabTest.CD4_COUNT]
    dialog.set_test(LabTest.OTHER)
    assert dialog.test_name_edit.isEnabled()
    assert set(dialog.result_choices()) == set(LabQualitative)
    dialog.reject()


def test_lab_form_adds_a_csf_jcv_pcr_result(qtbot: QtBot, make_window, populated: Registry) -> None:
    window = make_window(populated)
    window.open_case("PML-0002")
    window.case_page.tabs.setCurrentIndex(1)
    qtbot.mouseClick(window.case_page.add_lab_button, Qt.MouseButton.LeftButton)
    forms = [d for d in window.findChildren(LabResultDialog) if d.isVisible()]
    assert len(forms) == 1, "the page's button opens the lab form"
    dialog = forms[0]
    assert dialog.registry_id == "PML-0002"
    dialog.day_edit.setText("5")
    dialog.set_result(LabQualitative.DETECTED)
    dialog.value_edit.setText("1200")
    dialog.unit_combo.setEditText("cp/ml")
    dialog.assay_edit.setText("in-house qPCR")
    dialog.lod_edit.setText("10")
    dialog.loq_edit.setText("50")

    with qtbot.waitSignal(dialog.saved, timeout=2000):
        dialog.accept()

    assert not dialog.isVisible()
    with populated.read() as session:
        stored = session.scalars(
            select(LabResult).where(LabResult.test == LabTest.CSF_JCV_PCR, LabResult.day == 5)
        ).one()
        assert (stored.value, stored.unit, stored.lod, stored.loq) == (1200, "copies/mL", 10, 50)
        assert stored.qualitative == LabQualitative.DETECTED
    labs = window.case_page.labs_table
    texts = [[labs.item(r, c).text() for c in range(5)] for r in range(labs.rowCount())]
    assert ["CSF JCV PCR", "+5", "detected", "1200", "copies/mL"] in texts
    assert cell(window, "PML-0002", "Labs") == "2"
    assert window.case_page.tabs.currentIndex() == 1


def test_lab_form_refuses_a_value_for_not_detected(make_window, populated: Registry) -> None:
    window = make_window(populated)
    window.open_case("PML-0001")
    labs_before = count(populated, LabResult)
    dialog = window.open_lab_dialog()
    dialog.day_edit.setText("12")
    dialog.set_result(LabQualitative.NOT_DETECTED)
    dialog.value_edit.setText("5")
    dialog.assay_edit.setText("standard PCR")

    dialog.accept()

    assert dialog.isVisible()
    assert dialog.error_text.startswith("value:")
    assert "not_detected" in dialog.error_text
    assert dialog.value_edit.property("invalid") == "true"
    assert (dialog.day_edit.text(), dialog.value_edit.text()) == ("12", "5")
    assert dialog.assay_edit.text() == "standard PCR"
    assert count(populated, LabResult) == labs_before
    assert window.case_page.labs_table.rowCount() == 2

    dialog.value_edit.clear()
    dialog.accept()
    assert not dialog.isVisible(), "fixing the field lets the same form save"
    assert count(populated, LabResult) == labs_before + 1


# --- lab file import ------------------------------------------------------------------------


def test_import_shows_every_bad_line_and_writes_nothing(
    make_window, populated: Registry, tmp_path: Path
) -> None:
    window = make_window(populated)
    path = tmp_path / "labs.csv"
    path.write_text(
        "case,test,day,result,value,unit\n"
        "PML-0001,csf_jcv_pcr,7,detected,300,copies/mL\n"
        "PML-0001,csf_jcv_pcr,x,detected,1,cp/ml\n"
        "PML-0404,cd4,0,quantitative,200,cells/uL\n",
        encoding="utf-8",
    )
    labs_before = count(populated, LabResult)

    assert window.import_lab_file(path) is False

    report = window.last_report
    assert report is not None
    assert report.isVisible()
    text = report.text_edit.toPlainText()
    assert "line 3, column day" in text
    assert "line 4, column case" in text
    assert "nothing was imported" in report.summary_label.text().lower()
    assert count(populated, LabResult) == labs_before
    report.reject()

    path.write_text(
        "case,test,day,result,value,unit\nPML-0003,cd4,0,quantitative,200,cells/uL\n",
        encoding="utf-8",
    )
    assert window.import_lab_file(path) is True
    assert cell(window, "PML-0003", "Labs") == "1"
    assert window.last_message_box is not None
    window.last_message_box.close()


# --- run() ----------------------------------------------------------------------------------


def screenshot_image(path: Path) -> QImage:
    assert path.is_file()
    assert path.stat().st_size > 0
    image = QImage(str(path))
    assert not image.isNull()
    return image


def test_run_screenshot_of_an_empty_registry(qapp: QApplication, tmp_path: Path) -> None:
    png = tmp_path / "shots" / "empty.png"
    url = db_url(tmp_path / "fresh.sqlite3")
    settings = Settings(url, tmp_path)
    registry = Registry.open(url)
    try:  # the registry's first sign-in creates its first user, as the dialog does
        first = signin.create_first_user(registry, USERNAME, TEST_PASSWORD, client="window")
    finally:
        registry.close()

    assert app_module.run(settings, signed_in=first, screenshot=png) == 0

    image = screenshot_image(png)
    assert (image.width(), image.height()) == (1280, 800)


def test_run_screenshot_of_a_populated_registry_opens_the_case(
    qapp: QApplication,
    populated: Registry,
    registry_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[tuple[str, bool, str]] = []

    class RecordingWindow(MainWindow):
        def open_case(self, registry_id: str, *, force: bool = False, reveal: bool = True) -> bool:
            done = super().open_case(registry_id, force=force, reveal=reveal)
            opened.append((registry_id, done, self.case_page.title_label.text()))
            return done

    monkeypatch.setattr(app_module, "MainWindow", RecordingWindow)
    settings = Settings(db_url(registry_path), tmp_path)
    token = cli_token(settings.db_url, USERNAME)
    list_png, case_png = tmp_path / "list.png", tmp_path / "case.png"

    assert app_module.run(settings, token=token, screenshot=list_png) == 0
    assert app_module.run(settings, token=token, screenshot=case_png, case="PML-0001") == 0

    assert opened, "case= opens the case"
    assert set(opened) == {("PML-0001", True, "PML-0001")}
    list_image, case_image = screenshot_image(list_png), screenshot_image(case_png)
    assert (case_image.width(), case_image.height()) == (1280, 800)
    assert list_image != case_image, "the case page is drawn"


def test_run_with_an_unknown_case_fails_in_screenshot_mode(
    qapp: QApplication,
    populated: Registry,
    registry_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(db_url(registry_path), tmp_path)
    token = cli_token(settings.db_url, USERNAME)
    png = tmp_path / "case.png"

    assert app_module.run(settings, token=token, screenshot=png, case="PML-4040") == 1

    assert "no case 'PML-4040'" in capsys.readouterr().err
    assert not png.exists()


def test_run_on_a_corrupt_registry_returns_1(
    qapp: QApplication, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"\x00garbage, not a database\xff" * 200)
    png = tmp_path / "corrupt.png"

    code = app_module.run(Settings(db_url(corrupt), tmp_path), screenshot=png)

    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "not a usable registry" in err or "cannot open" in err
    assert not png.exists()


def test_run_on_a_registry_of_a_newer_schema_returns_1(
    qapp: QApplication, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "newer.sqlite3"
    Registry.open(db_url(path)).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    connection.close()

    code = app_module.run(Settings(db_url(path), tmp_path), screenshot=tmp_path / "n.png")

    assert code == 1
    assert "f00dfeed" in capsys.readouterr().err


def test_run_with_a_sign_in_no_longer_in_force_returns_1(
    qapp: QApplication,
    populated: Registry,
    registry_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(db_url(registry_path), tmp_path)
    token = cli_token(settings.db_url, USERNAME)
    assert signin.sign_out(populated, token) == USERNAME
    png = tmp_path / "x.png"

    assert app_module.run(settings, token=token, screenshot=png) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "signed out" in err
    assert not png.exists()


def test_run_refuses_to_open_as_someone_else_than_the_signed_in_person(
    qapp: QApplication,
    populated: Registry,
    registry_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(db_url(registry_path), tmp_path)
    token = cli_token(settings.db_url, USERNAME)
    png = tmp_path / "x.png"

    assert app_module.run(settings, token=token, username="reader1", screenshot=png) == 1

    err = capsys.readouterr().err
    assert f"--user does not choose who acts: you are signed in as '{USERNAME}'" in err
    assert not png.exists()
    assert app_module.run(settings, token=token, username=USERNAME, screenshot=png) == 0
    assert png.exists()
