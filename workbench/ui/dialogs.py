"""Forms (a case's fields, new case, lab result) and the report dialog for long error messages.

A form builds the validated domain value (:class:`~workbench.cases.NewCase`,
:class:`~workbench.labs.LabEntry`) and hands it to a *save* callback from the window, which
writes it in one registry transaction. A refused value or save keeps the form open with
everything typed, shows the message in red above the buttons and outlines the field it names
(the domain's messages start with the field: ``"registry id: ..."``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QFont, QFontDatabase, QGuiApplication
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from adjudication.vocabulary import TriState
from workbench.clinical import DosingSchedule, DrugClass
from workbench.display import result_label, tristate_label
from workbench.domain import Condition, LabQualitative, LabTest, Sex
from workbench.errors import RegistryError, ValidationError
from workbench.services.cases import (
    ALLOWED_RESULTS,
    ALLOWED_UNITS,
    LabEntry,
    NewCase,
    NewExposure,
    NewFeature,
)

EXPOSURE_COLUMNS = (
    "Drug",
    "Start day",
    "Stop day",
    "Infusions",
    "Class",
    "Schedule",
    "Last dose",
    "Prior",
)
"""The exposure table's columns in the case forms (class and schedule are combo boxes,
prior a check box)."""

_UNIT_PREFERENCE = ("copies/mL", "IU/mL", "cells/µL", "index")
"""Units offered first (and preselected) where a test allows them."""


def user_message(exc: BaseException) -> str:
    """A message for the user about a failed registry operation.

    :class:`RegistryError` messages are written for users already (a database failure
    arrives as :class:`~workbench.errors.DatabaseError`, cut to its first line by the
    registry); anything else is shown by its first line.
    """
    text = str(exc).strip()
    if isinstance(exc, RegistryError) or not text:
        return text or type(exc).__name__
    return text.splitlines()[0]


def parse_int(text: str, what: str) -> int | None:
    """A whole number typed by the user, ``None`` when empty; a ``ValidationError`` naming
    ``what`` otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationError(f"{what}: {text!r} is not a whole number", field=what) from None


def parse_float(text: str, what: str) -> float | None:
    """A number typed by the user, ``None`` when empty; a ``ValidationError`` naming ``what``
    otherwise (a decimal comma is refused rather than guessed)."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationError(
            f"{what}: {text!r} is not a number (use a decimal point)", field=what
        ) from None


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property the sheet selects on changed."""
    style = widget.style()
    if style is not None:
        style.unpolish(widget)
        style.polish(widget)


def set_invalid(widget: QWidget, invalid: bool) -> None:
    """Outline ``widget`` as the field an error names (the theme styles ``invalid``)."""
    widget.setProperty("invalid", "true" if invalid else "false")
    repolish(widget)


class FormDialog(QDialog):
    """A dialog whose OK validates and saves, and stays open with a message when refused."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("formError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._fields: list[tuple[str, QWidget]] = []
        self._invalid: QWidget | None = None

    def register_field(self, prefix: str, widget: QWidget) -> None:
        """Outline ``widget`` when a refusal is about ``prefix``: its
        :attr:`ValidationError.field <workbench.errors.ValidationError.field>` is ``prefix``
        (or starts with it and a space)."""
        self._fields.append((prefix, widget))
        self._fields.sort(key=lambda pair: -len(pair[0]))

    @property
    def error_text(self) -> str:
        """The refusal shown, or ``""``."""
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def show_error(self, message: str, field: str | None = None) -> None:
        """Show ``message`` in red and outline ``field`` (the refusal's
        :attr:`ValidationError.field <workbench.errors.ValidationError.field>`): the field
        registered under that name, or under its first words (``"clinical feature"`` for
        ``"clinical feature hemiparesis"``). A refusal about no one field outlines nothing.
        """
        self.clear_error()
        self.error_label.setText(message)
        self.error_label.show()
        wanted = (field or "").strip().lower()
        found = [
            widget
            for prefix, widget in self._fields
            if wanted and (wanted == prefix or wanted.startswith(prefix + " "))
        ]
        if found:
            set_invalid(found[0], True)
            found[0].setFocus()
            self._invalid = found[0]

    def clear_error(self) -> None:
        """Hide the message and the outline."""
        self.error_label.hide()
        self.error_label.clear()
        if self._invalid is not None:
            set_invalid(self._invalid, False)
            self._invalid = None

    def accept(self) -> None:
        """Validate and save; close only when both succeed."""
        self.clear_error()
        try:
            self.submit()
        except RegistryError as exc:
            field = exc.field if isinstance(exc, ValidationError) else None
            self.show_error(user_message(exc), field)
            return
        super().accept()

    def submit(self) -> None:
        """Build the value and save it; raise to refuse. Subclasses implement it."""
        raise NotImplementedError


def _enum_combo(items: Iterable[tuple[str, object]], placeholder: str | None) -> QComboBox:
    combo = QComboBox()
    for text, data in items:
        combo.addItem(text, data)
    if placeholder is not None:
        combo.setPlaceholderText(placeholder)
        combo.setCurrentIndex(-1)
    return combo


def _tristate_combo(current: TriState) -> QComboBox:
    combo = _enum_combo(((tristate_label(t), t) for t in TriState), None)
    combo.setCurrentIndex(combo.findData(current))
    return combo


def _cell_text(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text().strip() if item is not None else ""


def _editable_table(columns: Sequence[str], widths: Sequence[int]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(
        QAbstractItemView.EditTrigger.DoubleClicked
        | QAbstractItemView.EditTrigger.EditKeyPressed
        | QAbstractItemView.EditTrigger.AnyKeyPressed
        | QAbstractItemView.EditTrigger.SelectedClicked
    )
    vertical = table.verticalHeader()
    assert vertical is not None
    vertical.setVisible(False)
    vertical.setDefaultSectionSize(26)
    header = table.horizontalHeader()
    assert header is not None
    header.setStretchLastSection(True)
    for n, width in enumerate(widths):
        table.setColumnWidth(n, width)
    table.setMinimumHeight(120)
    return table


def _row_buttons(
    add_text: str, add: Callable[[], object], remove: Callable[[], object]
) -> tuple[QHBoxLayout, QPushButton, QPushButton]:
    row = QHBoxLayout()
    add_button = QPushButton(add_text)
    add_button.clicked.connect(add)
    remove_button = QPushButton("Remove")
    remove_button.clicked.connect(remove)
    row.addWidget(add_button)
    row.addWidget(remove_button)
    row.addStretch()
    return row, add_button, remove_button


def chain_tab_order(widgets: Sequence[QWidget]) -> None:
    """Make Tab visit ``widgets`` in this order (the others keep theirs around them)."""
    for first, second in pairwise(widgets):
        QWidget.setTabOrder(first, second)


def _remove_selected_rows(table: QTableWidget) -> None:
    selection = table.selectionModel()
    rows = {index.row() for index in selection.selectedRows()} if selection is not None else set()
    if not rows and table.currentRow() >= 0:
        rows = {table.currentRow()}
    for row in sorted(rows, reverse=True):
        table.removeRow(row)


class CaseFormDialog(FormDialog):
    """The fields of a case, laid out: sex, age band, condition, summary, readers required,
    the drug exposures and the clinical features. The new-case and edit-case forms add their
    own rows to :attr:`form` (registry id and site; day 0 and the reason for the change).

    Every field is registered under the name the domain's refusals use, so a refusal outlines
    it.
    """

    def __init__(self, title: str, note: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.sex_combo = _enum_combo(((s.value, s) for s in Sex), "choose…")
        self.age_band_edit = QLineEdit()
        self.age_band_edit.setPlaceholderText("40-49 or 80+")
        self.condition_combo = _enum_combo(((c.label, c) for c in Condition), "choose…")
        self.condition_detail_edit = QLineEdit()
        self.condition_detail_edit.setPlaceholderText("e.g. relapsing MS, 48 natalizumab infusions")
        self.summary_edit = QPlainTextEdit()
        self.summary_edit.setPlaceholderText(
            "Clinical course in a few sentences. No names, no calendar dates: days from day 0."
        )
        self.summary_edit.setTabChangesFocus(True)
        self.consistent_combo = _tristate_combo(TriState.NOT_ASSESSED)
        self.consistent_combo.setToolTip(
            "Are the clinical features consistent with PML (the criteria's clinical input)?"
        )
        self.readers_spin = QSpinBox()
        self.readers_spin.setRange(1, 5)
        self.readers_spin.setValue(2)

        self.form = QFormLayout()
        """The left column's rows; subclasses insert their own."""
        form = self.form
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Sex", self.sex_combo)
        form.addRow("Age band", self.age_band_edit)
        form.addRow("Condition", self.condition_combo)
        form.addRow("Condition detail", self.condition_detail_edit)
        form.addRow("Clinical features\nconsistent with PML", self.consistent_combo)
        form.addRow("Readers required", self.readers_spin)
        form.addRow("Clinical summary", self.summary_edit)

        self.exposures_table = _editable_table(EXPOSURE_COLUMNS, (130, 66, 66, 66, 130, 120, 70))
        self.exposures_table.setToolTip(
            "Days are relative to day 0 and may be negative. Class and schedule as known; "
            "'Prior' marks an earlier immunosuppressant (before the drug the case is about)."
        )
        exposures = QGroupBox("Drug exposures")
        exposures_layout = QVBoxLayout(exposures)
        exposures_layout.addWidget(self.exposures_table)
        exposure_buttons = _row_buttons(
            "Add exposure",
            lambda: self.add_exposure_row(),
            lambda: _remove_selected_rows(self.exposures_table),
        )
        exposures_layout.addLayout(exposure_buttons[0])
        self.features_table = _editable_table(
            ("Feature", "Status", "Onset day", "Note"), (140, 120, 80)
        )
        features = QGroupBox("Clinical features")
        features_layout = QVBoxLayout(features)
        features_layout.addWidget(self.features_table)
        feature_buttons = _row_buttons(
            "Add feature",
            lambda: self.add_feature_row(),
            lambda: _remove_selected_rows(self.features_table),
        )
        features_layout.addLayout(feature_buttons[0])
        self._tables_tab_order: tuple[QWidget, ...] = (
            self.exposures_table,
            *exposure_buttons[1:],
            self.features_table,
            *feature_buttons[1:],
        )

        for prefix, widget in (
            ("sex", self.sex_combo),
            ("age band", self.age_band_edit),
            ("condition detail", self.condition_detail_edit),
            ("condition", self.condition_combo),
            ("clinical summary", self.summary_edit),
            ("clinical features consistent", self.consistent_combo),
            ("readers required", self.readers_spin),
            ("exposure", self.exposures_table),
            ("clinical feature", self.features_table),
        ):
            self.register_field(prefix, widget)

        right = QVBoxLayout()
        right.addWidget(exposures, 1)
        right.addWidget(features, 1)
        columns = QHBoxLayout()
        columns.addLayout(form, 4)
        columns.addSpacing(8)
        columns.addLayout(right, 5)
        self.note_label = QLabel(note)
        self.note_label.setObjectName("muted")
        self.note_label.setWordWrap(True)
        self.body = QVBoxLayout(self)
        """The dialog's rows: the two columns, the note, the error and the buttons."""
        self.body.addLayout(columns, 1)
        self.body.addWidget(self.note_label)
        self.body.addWidget(self.error_label)
        self.body.addWidget(self.buttons)
        self.resize(1000, 600)
        self.order_tabs()

    def order_tabs(
        self,
        before: Sequence[QWidget] = (),
        after_readers: Sequence[QWidget] = (),
        after: Sequence[QWidget] = (),
    ) -> None:
        """Tab through the fields top to bottom, then the tables: ``before`` first, the
        subclass's rows ``after_readers`` after readers required, and ``after`` last."""
        chain_tab_order(
            [
                *before,
                self.sex_combo,
                self.age_band_edit,
                self.condition_combo,
                self.condition_detail_edit,
                self.consistent_combo,
                self.readers_spin,
                *after_readers,
                self.summary_edit,
                *self._tables_tab_order,
                *after,
            ]
        )

    def add_exposure_row(
        self,
        drug: str = "",
        start_day: int | None = None,
        stop_day: int | None = None,
        infusions: int | None = None,
        drug_class: DrugClass = DrugClass.UNKNOWN,
        schedule: DosingSchedule = DosingSchedule.UNKNOWN,
        last_dose_day: int | None = None,
        prior: bool = False,
    ) -> int:
        """Append an exposure row (empty by default); return its index."""
        table = self.exposures_table
        row = table.rowCount()
        table.insertRow(row)
        for column, value in enumerate((drug, start_day, stop_day, infusions)):
            table.setItem(row, column, QTableWidgetItem("" if value is None else str(value)))
        classes = _enum_combo(((c.value.replace("_", " "), c) for c in DrugClass), None)
        classes.setCurrentIndex(classes.findData(drug_class))
        table.setCellWidget(row, 4, classes)
        schedules = _enum_combo(((d.value.replace("_", " "), d) for d in DosingSchedule), None)
        schedules.setCurrentIndex(schedules.findData(schedule))
        table.setCellWidget(row, 5, schedules)
        last = "" if last_dose_day is None else str(last_dose_day)
        table.setItem(row, 6, QTableWidgetItem(last))
        earlier = QTableWidgetItem()
        earlier.setFlags(
            Qt.ItemFlag.ItemIsUserCheckable
            | Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
        )
        earlier.setCheckState(Qt.CheckState.Checked if prior else Qt.CheckState.Unchecked)
        table.setItem(row, 7, earlier)
        if not drug:
            table.setCurrentCell(row, 0)
        return row

    def add_feature_row(
        self,
        feature: str = "",
        status: TriState = TriState.PRESENT,
        onset_day: int | None = None,
        note: str | None = None,
    ) -> int:
        """Append a clinical feature row; return its index."""
        table = self.features_table
        row = table.rowCount()
        table.insertRow(row)
        table.setItem(row, 0, QTableWidgetItem(feature))
        table.setCellWidget(row, 1, _tristate_combo(status))
        table.setItem(row, 2, QTableWidgetItem("" if onset_day is None else str(onset_day)))
        table.setItem(row, 3, QTableWidgetItem(note or ""))
        if not feature:
            table.setCurrentCell(row, 0)
        return row

    def chosen_sex(self) -> Sex:
        """The sex chosen; a :class:`ValidationError` when none is."""
        sex = self.sex_combo.currentData()
        if sex is None:
            raise ValidationError(
                f"sex: choose one of {', '.join(s.value for s in Sex)}", field="sex"
            )
        assert isinstance(sex, Sex)
        return sex

    def chosen_condition(self) -> Condition:
        """The condition chosen; a :class:`ValidationError` when none is."""
        condition = self.condition_combo.currentData()
        if condition is None:
            raise ValidationError("condition: choose the underlying condition", field="condition")
        assert isinstance(condition, Condition)
        return condition

    def exposures(self) -> list[NewExposure]:
        """The exposure rows that are not empty; a :class:`ValidationError` naming the row."""
        table = self.exposures_table
        exposures = []
        for row in range(table.rowCount()):
            cells = [_cell_text(table, row, column) for column in (0, 1, 2, 3, 6)]
            if not any(cells):
                continue
            what = f"exposure row {row + 1}"
            classes, schedules = table.cellWidget(row, 4), table.cellWidget(row, 5)
            earlier = table.item(row, 7)
            exposures.append(
                NewExposure(
                    drug=cells[0],
                    start_day=parse_int(cells[1], f"{what} start day"),
                    stop_day=parse_int(cells[2], f"{what} stop day"),
                    infusion_count=parse_int(cells[3], f"{what} infusions"),
                    drug_class=(
                        classes.currentData()
                        if isinstance(classes, QComboBox)
                        else DrugClass.UNKNOWN
                    ),
                    dosing_schedule=(
                        schedules.currentData()
                        if isinstance(schedules, QComboBox)
                        else DosingSchedule.UNKNOWN
                    ),
                    last_dose_day=parse_int(cells[4], f"{what} last dose day"),
                    prior=earlier is not None and earlier.checkState() == Qt.CheckState.Checked,
                )
            )
        return exposures

    def features(self) -> list[NewFeature]:
        """The clinical feature rows that are not empty; a :class:`ValidationError` naming
        the row."""
        table = self.features_table
        features = []
        for row in range(table.rowCount()):
            name = _cell_text(table, row, 0)
            onset = _cell_text(table, row, 2)
            note = _cell_text(table, row, 3)
            if not name and not onset and not note:
                continue
            combo = table.cellWidget(row, 1)
            assert isinstance(combo, QComboBox)
            features.append(
                NewFeature(
                    feature=name,
                    status=combo.currentData(),
                    onset_day=parse_int(onset, f"clinical feature row {row + 1} onset day"),
                    note=note or None,
                )
            )
        return features


class NewCaseDialog(CaseFormDialog):
    """The form for a new case. OK builds a :class:`NewCase` and calls ``save`` with it.

    Emits :attr:`created` with the registry id once saved.
    """

    created = pyqtSignal(str)

    def __init__(
        self,
        site_codes: Sequence[str],
        save: Callable[[NewCase], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            "New case",
            "Day 0 is the first MRI suggestive of PML. Ages are banded, never exact.",
            parent,
        )
        self._save = save

        self.registry_id_edit = QLineEdit()
        self.registry_id_edit.setPlaceholderText("PML-0042 (pseudonym, never a patient id)")
        self.site_combo = QComboBox()
        self.site_combo.setEditable(True)
        self.site_combo.addItems(list(site_codes))
        self.site_combo.setCurrentIndex(-1)
        site_edit = self.site_combo.lineEdit()
        assert site_edit is not None
        site_edit.setPlaceholderText("e.g. NL-AMS: pick one or type a new code")
        self.form.insertRow(0, "Registry id", self.registry_id_edit)
        self.form.insertRow(1, "Site", self.site_combo)
        self.register_field("registry id", self.registry_id_edit)
        self.register_field("site", self.site_combo)
        self.order_tabs(before=(self.registry_id_edit, self.site_combo))
        self.registry_id_edit.setFocus()

    def build_case(self) -> NewCase:
        """The case the form describes; raises :class:`ValidationError` naming the field."""
        sex = self.chosen_sex()
        condition = self.chosen_condition()
        return NewCase(
            registry_id=self.registry_id_edit.text().strip(),
            site_code=self.site_combo.currentText().strip(),
            sex=sex,
            age_band=self.age_band_edit.text(),
            condition=condition,
            condition_detail=self.condition_detail_edit.text().strip() or None,
            clinical_summary=self.summary_edit.toPlainText().strip() or None,
            clinical_consistent=self.consistent_combo.currentData(),
            exposures=tuple(self.exposures()),
            clinical_features=tuple(self.features()),
            readers_required=self.readers_spin.value(),
        )

    def submit(self) -> None:
        """Build the case, save it, announce it."""
        new = self.build_case()
        self._save(new)
        self.created.emit(new.registry_id)


def _preferred_units(test: LabTest) -> list[str]:
    units = ALLOWED_UNITS.get(test, frozenset())
    first = [u for u in _UNIT_PREFERENCE if u in units]
    return first + sorted(units - set(first))


class LabResultDialog(FormDialog):
    """The form for one lab result of one case. OK builds a :class:`LabEntry` and saves it.

    The result choices follow the test (:data:`~workbench.labs.ALLOWED_RESULTS`), the unit
    combo offers the test's units (:data:`~workbench.labs.ALLOWED_UNITS`) but takes any typed
    spelling, which :class:`LabEntry` normalises or refuses. Emits :attr:`saved` once saved.
    """

    saved = pyqtSignal(str)

    def __init__(
        self,
        registry_id: str,
        save: Callable[[LabEntry], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(f"Add lab result — {registry_id}", parent)
        self.registry_id = registry_id
        self._save = save

        self.test_combo = _enum_combo(((t.label, t) for t in LabTest), None)
        self.test_name_edit = QLineEdit()
        self.test_name_edit.setPlaceholderText("name of the test, when the test is 'other'")
        self.day_edit = QLineEdit()
        self.day_edit.setPlaceholderText("days from day 0, e.g. -3")
        self.result_combo = QComboBox()
        self.value_edit = QLineEdit()
        self.value_edit.setPlaceholderText("empty when there is no number")
        self.unit_combo = QComboBox()
        self.unit_combo.setEditable(True)
        self.assay_edit = QLineEdit()
        self.assay_edit.setPlaceholderText("e.g. Quest ultrasensitive JCV PCR")
        self.lod_edit = QLineEdit()
        self.lod_edit.setPlaceholderText("limit of detection, in the unit above")
        self.loq_edit = QLineEdit()
        self.loq_edit.setPlaceholderText("limit of quantification, in the unit above")
        self.note_edit = QLineEdit()

        heading = QLabel(f"Case <b>{registry_id}</b>")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Test", self.test_combo)
        form.addRow("Test name", self.test_name_edit)
        form.addRow("Day", self.day_edit)
        form.addRow("Result", self.result_combo)
        form.addRow("Value", self.value_edit)
        form.addRow("Unit", self.unit_combo)
        form.addRow("Assay", self.assay_edit)
        form.addRow("LOD", self.lod_edit)
        form.addRow("LOQ", self.loq_edit)
        form.addRow("Note", self.note_edit)
        hint = QLabel(
            "Units are kept as entered (spelling normalised): copies/mL and IU/mL are "
            "different scales and are never converted."
        )
        hint.setObjectName("muted")
        hint.setWordWrap(True)

        for prefix, widget in (
            ("test_name", self.test_name_edit),
            ("test", self.test_combo),
            ("day", self.day_edit),
            ("result", self.result_combo),
            ("value", self.value_edit),
            ("unit", self.unit_combo),
            ("lod", self.lod_edit),
            ("loq", self.loq_edit),
        ):
            self.register_field(prefix, widget)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(520, 480)

        self.test_combo.currentIndexChanged.connect(self._test_changed)
        self.test_combo.setCurrentIndex(self.test_combo.findData(LabTest.CSF_JCV_PCR))
        self._test_changed()

    @property
    def test(self) -> LabTest:
        """The test chosen."""
        test = self.test_combo.currentData()
        assert isinstance(test, LabTest)
        return test

    def set_test(self, test: LabTest) -> None:
        """Choose ``test`` (its results and units follow)."""
        self.test_combo.setCurrentIndex(self.test_combo.findData(test))

    def set_result(self, result: LabQualitative) -> None:
        """Choose ``result``; it must be one the current test allows."""
        index = self.result_combo.findData(result)
        if index < 0:
            raise ValueError(f"{result.value} is not offered for {self.test.value}")
        self.result_combo.setCurrentIndex(index)

    def result_choices(self) -> list[LabQualitative]:
        """The results offered for the current test."""
        return [self.result_combo.itemData(n) for n in range(self.result_combo.count())]

    def unit_choices(self) -> list[str]:
        """The units offered for the current test."""
        return [self.unit_combo.itemText(n) for n in range(self.unit_combo.count())]

    def _test_changed(self) -> None:
        test = self.test
        allowed = ALLOWED_RESULTS.get(test, frozenset(LabQualitative))
        previous = self.result_combo.currentData()
        self.result_combo.clear()
        for result in LabQualitative:
            if result in allowed:
                self.result_combo.addItem(result_label(result), result)
        index = self.result_combo.findData(previous)
        self.result_combo.setCurrentIndex(max(index, 0))
        self.unit_combo.clear()
        units = _preferred_units(test)
        self.unit_combo.addItems(units)
        self.unit_combo.setCurrentIndex(0 if units else -1)
        if not units:
            self.unit_combo.setEditText("")
        other = test == LabTest.OTHER
        self.test_name_edit.setEnabled(other)
        if not other:
            self.test_name_edit.clear()

    def build_entry(self) -> LabEntry:
        """The result the form describes; raises :class:`ValidationError` naming the field."""
        day_text = self.day_edit.text().strip()
        if not day_text:
            raise ValidationError("day: required (days from day 0; may be negative)", field="day")
        day = parse_int(day_text, "day")
        assert day is not None
        result = self.result_combo.currentData()
        if result is None:
            raise ValidationError("result: choose one", field="result")
        return LabEntry(
            registry_id=self.registry_id,
            test=self.test,
            day=day,
            qualitative=result,
            value=parse_float(self.value_edit.text(), "value"),
            unit=self.unit_combo.currentText().strip() or None,
            assay=self.assay_edit.text().strip() or None,
            lod=parse_float(self.lod_edit.text(), "lod"),
            loq=parse_float(self.loq_edit.text(), "loq"),
            test_name=self.test_name_edit.text().strip() or None,
            note=self.note_edit.text().strip() or None,
        )

    def submit(self) -> None:
        """Build the entry, save it, announce it."""
        entry = self.build_entry()
        self._save(entry)
        self.saved.emit(self.registry_id)


class ReportDialog(QDialog):
    """A long message (every bad line of a refused file) in a scrollable, copyable box."""

    def __init__(self, title: str, summary: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.summary_label = QLabel(summary)
        self.summary_label.setWordWrap(True)
        self.text_edit = QPlainTextEdit(text)
        self.text_edit.setReadOnly(True)
        self.text_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text_edit.setFont(mono)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        assert copy is not None
        copy.clicked.connect(self._copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.text_edit, 1)
        layout.addWidget(buttons)
        self.resize(780, 420)

    def _copy(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.text_edit.toPlainText())
