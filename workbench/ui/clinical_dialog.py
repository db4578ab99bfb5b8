"""The research clinical record: its compact summary on the case page, and its form.

:func:`record_html` writes the record for the case page's Clinical tab (unknown fields left
out). :class:`ClinicalDialog` edits it in four tabs (Diagnosis; Histopathology; Treatments &
IRIS; Outcome & scores). Numbers and days are spin boxes whose lowest value reads "unknown"
(nothing is recorded then, never a guessed 0); vocabularies are combo boxes; the lists are
tables with add and remove buttons. The form builds a :class:`~workbench.clinical.
ClinicalRecord` (validated by the value itself) and hands it to the window's *save* callback;
a refusal, including a stale save (someone saved the case since the form opened), is shown in
the form, which stays open with everything typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import partial
from html import escape
from typing import Any, TypeVar

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.clinical import (
    EARLIEST_DIAGNOSIS_YEAR,
    ClinicalRecord,
    DeathCause,
    DetectionMode,
    Finding,
    Histology,
    Scale,
    Score,
    ScoreTime,
    SpecimenKind,
    TissueJcv,
    TissueTechnique,
    Treatment,
    TreatmentKind,
    YesNoUnknown,
)
from workbench.display import format_day, format_number
from workbench.domain import Condition, Outcome
from workbench.errors import ValidationError
from workbench.services.clinical import CaseOutcome, ClinicalView
from workbench.ui.dialogs import (
    FormDialog,
    _editable_table,
    _enum_combo,
    _remove_selected_rows,
    _row_buttons,
    parse_float,
    parse_int,
)

T = TypeVar("T")

MAX_DAY = 36_500
"""Days reach a century either side of day 0 (what :mod:`workbench.clinical` accepts)."""
UNKNOWN = "unknown"
HISTOLOGY_COLUMNS = (
    "Kind",
    "Day",
    "Demyelination",
    "Bizarre astrocytes",
    "Oligo. nuclei",
    "Tissue JCV",
    "IHC",
    "ISH",
    "PCR",
    "EM",
)
TREATMENT_COLUMNS = ("Treatment", "Detail", "Start day", "Stop day")
SCORE_TIMES = (
    (ScoreTime.BEFORE_PML, "Before PML"),
    (ScoreTime.DIAGNOSIS, "Diagnosis"),
    (ScoreTime.MONTH_6, "6 months"),
    (ScoreTime.MONTH_12, "12 months"),
    (ScoreTime.MONTH_24, "24 months"),
)
SCALES = ((Scale.KPS, "KPS"), (Scale.MRS, "mRS"), (Scale.EDSS, "EDSS"))
_TECHNIQUE_COLUMN = {t: 6 + n for n, t in enumerate(TissueTechnique)}


def _words(value: str) -> str:
    return value.replace("_", " ")


# --- the case page's summary ------------------------------------------------------------------


def _day(day: int | None) -> str:
    return f"day {format_day(day)}" if day is not None else ""


def _at(text: str, day: int | None) -> str:
    return f"{text} ({_day(day)})" if day is not None else text


def histology_text(h: Histology) -> str:
    """One biopsy or autopsy in a line: kind, day, triad with its components, tissue JCV."""
    marks = {Finding.PRESENT: "+", Finding.ABSENT: "−", Finding.NOT_ASSESSED: "?"}
    components = (
        f"demyelination {marks[h.demyelination]}, bizarre astrocytes "
        f"{marks[h.bizarre_astrocytes]}, enlarged oligodendroglial nuclei "
        f"{marks[h.enlarged_oligodendroglial_nuclei]}"
    )
    jcv = f"JCV in tissue {_words(h.tissue_jcv.value)}"
    if h.techniques:
        jcv += " by " + ", ".join(t.value.upper() for t in h.techniques)
    when = _day(h.day) or "day unknown"
    return f"{h.kind.value} {when}: triad {_words(h.triad)} ({components}); {jcv}"


def treatment_text(t: Treatment) -> str:
    """One treatment in a line, with its days."""
    text = _words(t.kind.value) + (f" ({t.detail})" if t.detail else "")
    if t.start_day is not None and t.stop_day is not None:
        return f"{text}, day {format_day(t.start_day)} to {format_day(t.stop_day)}"
    if t.start_day is not None:
        return f"{text}, from {_day(t.start_day)}"
    return text


def record_html(view: ClinicalView) -> str:
    """The record for the case page: a few dense lines and the score table."""
    r = view.record
    lines: list[str] = []
    diagnosis = []
    if r.diagnosis_year is not None:
        diagnosis.append(f"diagnosed in {r.diagnosis_year}")
    if r.onset_day is not None:
        diagnosis.append(f"onset {_day(r.onset_day)}")
    if r.diagnosis_day is not None:
        diagnosis.append(f"diagnosis {_day(r.diagnosis_day)}")
    if r.detection_mode is not DetectionMode.UNKNOWN:
        diagnosis.append(
            "found on a screening MRI"
            if r.detection_mode is DetectionMode.SCREENING_MRI
            else "symptomatic"
        )
    if diagnosis:
        lines.append("<b>Diagnosis:</b> " + escape(" · ".join(diagnosis)))
    if r.other_conditions:
        lines.append(
            "<b>Other conditions:</b> " + escape(", ".join(c.label for c in r.other_conditions))
        )
    labs = []
    if r.anti_jcv_index is not None:
        labs.append(_at(f"anti-JCV index {format_number(r.anti_jcv_index)}", r.anti_jcv_index_day))
    if r.lymphocytes is not None:
        labs.append(_at(f"lymphocytes {format_number(r.lymphocytes)} ×10⁹/L", r.lymphocytes_day))
    if r.cd4_nadir is not None:
        labs.append(_at(f"CD4 nadir {r.cd4_nadir} cells/µL", r.cd4_nadir_day))
    if labs:
        lines.append("<b>Laboratory:</b> " + escape(" · ".join(labs)))
    for h in r.histopathology:
        lines.append("<b>Histopathology:</b> " + escape(histology_text(h)))
    if r.treatments:
        lines.append(
            "<b>Treatments:</b> " + escape("; ".join(treatment_text(t) for t in r.treatments))
        )
    if r.iris is not YesNoUnknown.UNKNOWN:
        iris = r.iris.value
        if r.iris_onset_day is not None:
            iris += f", onset {_day(r.iris_onset_day)}"
        if r.iris_treatment:
            iris += f", treated with {r.iris_treatment}"
        lines.append("<b>PML-IRIS:</b> " + escape(iris))
    outcome = _words(view.outcome.value)
    if view.outcome_day is not None:
        outcome += f" ({_day(view.outcome_day)})"
    if r.death_cause is not None:
        outcome += f" — cause: {_words(r.death_cause.value)}"
        if r.death_cause_detail:
            outcome += f" ({r.death_cause_detail})"
    lines.append("<b>Outcome:</b> " + escape(outcome))
    if not view.exists:
        lines.insert(0, "<i>No research clinical record yet.</i>")
    html = "<br>".join(lines)
    if r.scores:
        head = "".join(f"<th>&nbsp;{label}&nbsp;</th>" for _, label in SCORE_TIMES)
        rows = []
        for scale, name in SCALES:
            cells = [r.score(scale, time) for time, _ in SCORE_TIMES]
            if all(c is None for c in cells):
                continue
            shown = "".join(
                f"<td align='center'>{'' if c is None else format_number(c)}</td>" for c in cells
            )
            rows.append(f"<tr><th align='left'>{name}</th>{shown}</tr>")
        html += (
            "<table cellspacing='0' cellpadding='2' style='margin-top:4px'>"
            f"<tr><th></th>{head}</tr>{''.join(rows)}</table>"
        )
    return html


# --- editing widgets --------------------------------------------------------------------------


class OptionalSpin(QSpinBox):
    """A whole number or "unknown" (the lowest value, shown as the word)."""

    def __init__(self, low: int, high: int, value: int | None = None) -> None:
        super().__init__()
        self.setRange(low - 1, high)
        self.setSpecialValueText(UNKNOWN)
        self.set_value(value)

    def set_value(self, value: int | None) -> None:
        """Show ``value``, or "unknown" for ``None``."""
        self.setValue(self.minimum() if value is None else value)

    def value_or_none(self) -> int | None:
        """The number, or ``None`` when "unknown" is shown."""
        return None if self.value() == self.minimum() else self.value()


class OptionalDoubleSpin(QDoubleSpinBox):
    """A number of at least zero or "unknown" (shown for the lowest value, -1)."""

    def __init__(self, high: float, decimals: int, value: float | None = None) -> None:
        super().__init__()
        self.setDecimals(decimals)
        self.setRange(-1.0, high)
        self.setSingleStep(10 ** -(decimals - 1) if decimals > 1 else 1.0)
        self.setSpecialValueText(UNKNOWN)
        self.set_value(value)

    def set_value(self, value: float | None) -> None:
        """Show ``value``, or "unknown" for ``None``."""
        self.setValue(self.minimum() if value is None else value)

    def value_or_none(self) -> float | None:
        """The number, or ``None`` when "unknown" is shown."""
        return None if self.value() <= self.minimum() else self.value()


def _day_spin(value: int | None = None) -> OptionalSpin:
    spin = OptionalSpin(-MAX_DAY, MAX_DAY, value)
    spin.setToolTip("Days relative to day 0 (negative before it); the lowest value is unknown")
    return spin


def _combo(items: Iterable[tuple[str, object]], current: object) -> QComboBox:
    combo = _enum_combo(items, None)
    combo.setCurrentIndex(max(combo.findData(current), 0))
    return combo


def _values(kind: Iterable[object]) -> list[tuple[str, object]]:
    return [(_words(str(getattr(v, "value", v))), v) for v in kind]


def _cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text().strip() if item is not None else ""


def _combo_data(table: QTableWidget, row: int, column: int) -> object:
    widget = table.cellWidget(row, column)
    return widget.currentData() if isinstance(widget, QComboBox) else None


def _check_item(checked: bool) -> QTableWidgetItem:
    item = QTableWidgetItem()
    item.setFlags(
        Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
    )
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    return item


def _row_error(what: str, build: Callable[[], T]) -> T:
    try:
        return build()
    except ValidationError as error:
        raise ValidationError(f"{what}: {error}", field=error.field or what) from None


SaveRecord = Callable[[ClinicalRecord, CaseOutcome | None, str | None], int]
"""The window's save: ``(record, outcome or None, reason) -> the case's new version``."""


class ClinicalDialog(FormDialog):
    """The form of a case's research clinical record (see the module's note)."""

    saved = pyqtSignal(str, int)
    """``(registry id, the case's new version)`` after a successful save."""

    def __init__(self, view: ClinicalView, save: SaveRecord, parent: QWidget | None = None):
        super().__init__(f"Clinical record — {view.registry_id}", parent)
        self.view = view
        self._save = save
        self._tab_of: dict[QWidget, int] = {}
        self.tabs = QTabWidget()
        self.tabs.addTab(self._diagnosis_tab(), "Diagnosis")
        self.tabs.addTab(self._histology_tab(), "Histopathology")
        self.tabs.addTab(self._treatments_tab(), "Treatments && IRIS")
        self.tabs.addTab(self._outcome_tab(), "Outcome && scores")
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText(
            "required: why the record changes (audited)"
            if view.exists
            else "optional for a first record (audited)"
        )
        self.register_field("reason", self.reason_edit)
        reason_row = QFormLayout()
        reason_row.addRow("Reason", self.reason_edit)
        note = QLabel(
            "Days are relative to day 0 (negative before it). The lowest value of a number "
            "field reads “unknown”: nothing is recorded then."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        body = QVBoxLayout(self)
        body.addWidget(self.tabs, 1)
        body.addLayout(reason_row)
        body.addWidget(note)
        body.addWidget(self.error_label)
        body.addWidget(self.buttons)
        self._fill(view)
        self.resize(980, 560)

    # --- tabs ------------------------------------------------------------------------------

    def _field(self, prefix: str, widget: QWidget, tab: int) -> None:
        self.register_field(prefix, widget)
        self._tab_of[widget] = tab

    def _diagnosis_tab(self) -> QWidget:
        year = dt.datetime.now(dt.UTC).year
        self.year_spin = OptionalSpin(EARLIEST_DIAGNOSIS_YEAR, year)
        self.onset_spin = _day_spin()
        self.diagnosis_spin = _day_spin()
        self.detection_combo = _combo(_values(DetectionMode), DetectionMode.UNKNOWN)
        self.conditions_list = QListWidget()
        for condition in Condition:
            item = QListWidgetItem(condition.label)
            item.setData(Qt.ItemDataRole.UserRole, condition)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.conditions_list.addItem(item)
        self.conditions_list.setToolTip("Predisposing conditions besides the case's main condition")
        self.jcv_index_spin = OptionalDoubleSpin(100.0, 2)
        self.jcv_index_day = _day_spin()
        self.lymphocytes_spin = OptionalDoubleSpin(1000.0, 2)
        self.lymphocytes_day = _day_spin()
        self.cd4_spin = OptionalSpin(0, 10_000)
        self.cd4_day = _day_spin()
        form = QFormLayout()
        form.addRow("Diagnosis year", self.year_spin)
        form.addRow("Symptom onset day", self.onset_spin)
        form.addRow("Diagnosis day", self.diagnosis_spin)
        form.addRow("Detection", self.detection_combo)

        def pair(value: QWidget, day: QWidget) -> QHBoxLayout:
            row = QHBoxLayout()
            row.addWidget(value, 1)
            row.addWidget(QLabel("on day"))
            row.addWidget(day, 1)
            return row

        form.addRow("Anti-JCV index", pair(self.jcv_index_spin, self.jcv_index_day))
        form.addRow("Lymphocytes (×10⁹/L)", pair(self.lymphocytes_spin, self.lymphocytes_day))
        form.addRow("CD4 nadir (cells/µL)", pair(self.cd4_spin, self.cd4_day))
        conditions = QGroupBox("Other predisposing conditions")
        QVBoxLayout(conditions).addWidget(self.conditions_list)
        page = QWidget()
        layout = QHBoxLayout(page)
        layout.addLayout(form, 3)
        layout.addWidget(conditions, 2)
        for prefix, widget in (
            ("diagnosis year", self.year_spin),
            ("onset day", self.onset_spin),
            ("diagnosis day", self.diagnosis_spin),
            ("detection mode", self.detection_combo),
            ("other conditions", self.conditions_list),
            ("anti-jcv index", self.jcv_index_spin),
            ("lymphocytes", self.lymphocytes_spin),
            ("cd4 nadir", self.cd4_spin),
        ):
            self._field(prefix, widget, 0)
        return page

    def _histology_tab(self) -> QWidget:
        self.histology_table = _editable_table(
            HISTOLOGY_COLUMNS, (90, 60, 115, 130, 115, 115, 44, 44, 44, 44)
        )
        header = self.histology_table.horizontalHeaderItem(4)
        if header is not None:
            header.setToolTip("Enlarged oligodendroglial nuclei")
        self.histology_table.setToolTip(
            "One row per biopsy or autopsy: each component of the triad, and JC virus in the "
            "tissue with the techniques it was looked for with"
        )
        buttons = _row_buttons(
            "Add specimen",
            lambda: self.add_histology_row(),
            lambda: _remove_selected_rows(self.histology_table),
        )
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.histology_table, 1)
        layout.addLayout(buttons[0])
        for prefix in (
            "histopathology",
            "tissue jcv",
            "demyelination",
            "bizarre astrocytes",
            "enlarged oligodendroglial nuclei",
        ):
            self._field(prefix, self.histology_table, 1)
        return page

    def _treatments_tab(self) -> QWidget:
        self.treatments_table = _editable_table(TREATMENT_COLUMNS, (190, 260, 80))
        buttons = _row_buttons(
            "Add treatment",
            lambda: self.add_treatment_row(),
            lambda: _remove_selected_rows(self.treatments_table),
        )
        treatments = QGroupBox("Treatments")
        box = QVBoxLayout(treatments)
        box.addWidget(self.treatments_table, 1)
        box.addLayout(buttons[0])
        self.iris_combo = _combo(_values(YesNoUnknown), YesNoUnknown.UNKNOWN)
        self.iris_day = _day_spin()
        self.iris_treatment_edit = QLineEdit()
        self.iris_treatment_edit.setPlaceholderText("e.g. methylprednisolone 1 g/day for 5 days")
        iris = QGroupBox("PML-IRIS")
        form = QFormLayout(iris)
        form.addRow("IRIS", self.iris_combo)
        form.addRow("Onset day", self.iris_day)
        form.addRow("Treatment", self.iris_treatment_edit)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(treatments, 1)
        layout.addWidget(iris)
        self._field("treatment", self.treatments_table, 2)
        self._field("iris", self.iris_combo, 2)
        return page

    def _outcome_tab(self) -> QWidget:
        self.outcome_combo = _combo(_values(Outcome), Outcome.UNKNOWN)
        self.outcome_day = _day_spin()
        self.death_cause_combo = _combo([("—", None), *_values(DeathCause)], None)
        self.death_detail_edit = QLineEdit()
        form = QFormLayout()
        form.addRow("Outcome", self.outcome_combo)
        form.addRow("Outcome day", self.outcome_day)
        form.addRow("Cause of death", self.death_cause_combo)
        form.addRow("Cause in words", self.death_detail_edit)
        self.scores_table = QTableWidget(len(SCALES), len(SCORE_TIMES))
        self.scores_table.setHorizontalHeaderLabels([label for _, label in SCORE_TIMES])
        self.scores_table.setVerticalHeaderLabels([label for _, label in SCALES])
        self.scores_table.setToolTip(
            "KPS 0-100 in steps of 10; mRS 0-6; EDSS 0 or 1.0-10 in steps of 0.5. Empty: "
            "not recorded"
        )
        for row in range(len(SCALES)):
            for column in range(len(SCORE_TIMES)):
                self.scores_table.setItem(row, column, QTableWidgetItem(""))
        scores = QGroupBox("Outcome scores")
        QVBoxLayout(scores).addWidget(self.scores_table)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(scores, 1)
        for prefix, widget in (
            ("outcome day", self.outcome_day),
            ("outcome", self.outcome_combo),
            ("death cause", self.death_cause_combo),
            ("score", self.scores_table),
            ("kps score", self.scores_table),
            ("mrs score", self.scores_table),
            ("edss score", self.scores_table),
        ):
            self._field(prefix, widget, 3)
        return page

    # --- rows ------------------------------------------------------------------------------

    def add_histology_row(self, h: Histology | None = None) -> int:
        """Append a specimen row (a biopsy, nothing assessed, by default); return its index."""
        h = h or Histology(SpecimenKind.BIOPSY)
        table = self.histology_table
        row = table.rowCount()
        table.insertRow(row)
        table.setCellWidget(row, 0, _combo(_values(SpecimenKind), h.kind))
        table.setItem(row, 1, QTableWidgetItem(format_day(h.day)))
        for column, finding in zip((2, 3, 4), h.components, strict=True):
            table.setCellWidget(row, column, _combo(_values(Finding), finding))
        table.setCellWidget(row, 5, _combo(_values(TissueJcv), h.tissue_jcv))
        for technique, column in _TECHNIQUE_COLUMN.items():
            table.setItem(row, column, _check_item(technique in h.techniques))
        return row

    def add_treatment_row(self, t: Treatment | None = None) -> int:
        """Append a treatment row; return its index."""
        table = self.treatments_table
        row = table.rowCount()
        table.insertRow(row)
        kind = t.kind if t is not None else TreatmentKind.PLASMA_EXCHANGE
        table.setCellWidget(row, 0, _combo(_values(TreatmentKind), kind))
        table.setItem(row, 1, QTableWidgetItem(t.detail or "" if t else ""))
        table.setItem(row, 2, QTableWidgetItem(format_day(t.start_day) if t else ""))
        table.setItem(row, 3, QTableWidgetItem(format_day(t.stop_day) if t else ""))
        return row

    # --- filling and reading ---------------------------------------------------------------

    def _fill(self, view: ClinicalView) -> None:
        r = view.record
        self.year_spin.set_value(r.diagnosis_year)
        self.onset_spin.set_value(r.onset_day)
        self.diagnosis_spin.set_value(r.diagnosis_day)
        self.detection_combo.setCurrentIndex(self.detection_combo.findData(r.detection_mode))
        for n in range(self.conditions_list.count()):
            item = self.conditions_list.item(n)
            assert item is not None
            chosen = item.data(Qt.ItemDataRole.UserRole) in r.other_conditions
            item.setCheckState(Qt.CheckState.Checked if chosen else Qt.CheckState.Unchecked)
        self.jcv_index_spin.set_value(r.anti_jcv_index)
        self.jcv_index_day.set_value(r.anti_jcv_index_day)
        self.lymphocytes_spin.set_value(r.lymphocytes)
        self.lymphocytes_day.set_value(r.lymphocytes_day)
        self.cd4_spin.set_value(r.cd4_nadir)
        self.cd4_day.set_value(r.cd4_nadir_day)
        for h in r.histopathology:
            self.add_histology_row(h)
        for t in r.treatments:
            self.add_treatment_row(t)
        self.iris_combo.setCurrentIndex(self.iris_combo.findData(r.iris))
        self.iris_day.set_value(r.iris_onset_day)
        self.iris_treatment_edit.setText(r.iris_treatment or "")
        self.outcome_combo.setCurrentIndex(self.outcome_combo.findData(view.outcome))
        self.outcome_day.set_value(view.outcome_day)
        self.death_cause_combo.setCurrentIndex(
            max(self.death_cause_combo.findData(r.death_cause), 0)
        )
        self.death_detail_edit.setText(r.death_cause_detail or "")
        for score in r.scores:
            row = [s for s, _ in SCALES].index(score.scale)
            column = [t for t, _ in SCORE_TIMES].index(score.time)
            cell = self.scores_table.item(row, column)
            assert cell is not None
            cell.setText(format_number(score.value))

    def _conditions(self) -> tuple[Condition, ...]:
        chosen = []
        for n in range(self.conditions_list.count()):
            item = self.conditions_list.item(n)
            if item is not None and item.checkState() == Qt.CheckState.Checked:
                chosen.append(item.data(Qt.ItemDataRole.UserRole))
        return tuple(chosen)

    def _histologies(self) -> tuple[Histology, ...]:
        table = self.histology_table
        out: list[Histology] = []
        for row in range(table.rowCount()):
            what = f"histopathology row {row + 1}"
            techniques = tuple(
                t
                for t, column in _TECHNIQUE_COLUMN.items()
                if (item := table.item(row, column)) is not None
                and item.checkState() == Qt.CheckState.Checked
            )
            values: dict[str, Any] = {
                "kind": _combo_data(table, row, 0),
                "day": parse_int(_cell(table, row, 1), f"{what} day"),
                "demyelination": _combo_data(table, row, 2),
                "bizarre_astrocytes": _combo_data(table, row, 3),
                "enlarged_oligodendroglial_nuclei": _combo_data(table, row, 4),
                "tissue_jcv": _combo_data(table, row, 5),
                "techniques": techniques,
            }
            out.append(_row_error(what, partial(Histology, **values)))
        return tuple(out)

    def _treatments(self) -> tuple[Treatment, ...]:
        table = self.treatments_table
        out: list[Treatment] = []
        for row in range(table.rowCount()):
            what = f"treatment row {row + 1}"
            start = parse_int(_cell(table, row, 2), f"{what} start day")
            stop = parse_int(_cell(table, row, 3), f"{what} stop day")
            values: dict[str, Any] = {
                "kind": _combo_data(table, row, 0),
                "detail": _cell(table, row, 1) or None,
                "start_day": start,
                "stop_day": stop,
            }
            out.append(_row_error(what, partial(Treatment, **values)))
        return tuple(out)

    def _scores(self) -> tuple[Score, ...]:
        out: list[Score] = []
        for row, (scale, name) in enumerate(SCALES):
            for column, (time, label) in enumerate(SCORE_TIMES):
                text = _cell(self.scores_table, row, column)
                what = f"{scale.value.upper()} score"
                value = parse_float(text, what)
                if value is not None:
                    values: dict[str, Any] = {"scale": scale, "time": time, "value": value}
                    out.append(_row_error(f"{name} at {label.lower()}", partial(Score, **values)))
        return tuple(out)

    def record(self) -> ClinicalRecord:
        """The record as the form holds it; a :class:`ValidationError` naming the field."""
        return ClinicalRecord(
            diagnosis_year=self.year_spin.value_or_none(),
            onset_day=self.onset_spin.value_or_none(),
            diagnosis_day=self.diagnosis_spin.value_or_none(),
            detection_mode=self.detection_combo.currentData(),
            other_conditions=self._conditions(),
            anti_jcv_index=self.jcv_index_spin.value_or_none(),
            anti_jcv_index_day=self.jcv_index_day.value_or_none(),
            lymphocytes=self.lymphocytes_spin.value_or_none(),
            lymphocytes_day=self.lymphocytes_day.value_or_none(),
            cd4_nadir=self.cd4_spin.value_or_none(),
            cd4_nadir_day=self.cd4_day.value_or_none(),
            iris=self.iris_combo.currentData(),
            iris_onset_day=self.iris_day.value_or_none(),
            iris_treatment=self.iris_treatment_edit.text(),
            death_cause=self.death_cause_combo.currentData(),
            death_cause_detail=self.death_detail_edit.text(),
            histopathology=self._histologies(),
            treatments=self._treatments(),
            scores=self._scores(),
        )

    def outcome(self) -> CaseOutcome | None:
        """The case's outcome when the form changed it, else ``None``."""
        chosen = CaseOutcome(self.outcome_combo.currentData(), self.outcome_day.value_or_none())
        if (chosen.outcome, chosen.day) == (self.view.outcome, self.view.outcome_day):
            return None
        return chosen

    def show_error(self, message: str, field: str | None = None) -> None:
        """Show the refusal and bring the tab of the field it names to the front."""
        super().show_error(message, field)
        invalid = self._invalid
        if invalid is not None and invalid in self._tab_of:
            self.tabs.setCurrentIndex(self._tab_of[invalid])
            invalid.setFocus()

    def submit(self) -> None:
        """Build the record and save it with the reason; announce the new version."""
        record, outcome = self.record(), self.outcome()
        version = self._save(record, outcome, self.reason_edit.text().strip() or None)
        self.saved.emit(self.view.registry_id, version)
