"""The adjudication panel's page of one case: the reads side by side, the engine, the decision.

:class:`PanelPage` is what a panel member works on once every assigned reader has submitted
(coordinators and administrators see it read-only). It shows what one call of the panel's
service returns (:func:`workbench.services.panel.load_panel`, frozen values only):

- the reads in force, one column per reader, each in the reader's colour
  (:data:`~workbench.ui.theme.READER_COLOURS`), with judgement, confidence, comment and a
  lesion table; "Show reads on images" asks the window to open the review workspace, where
  :meth:`PanelPage.overlay_reads` outlines every reader's masks in the same colours;
- the discordance assessment and every rule that fired;
- the case's labs and clinical features (the case page's own values,
  :class:`~workbench.services.case_detail.CaseDetail`) and its timeline
  (:mod:`workbench.ui.timeline`, folded away with its group's check box);
- the criteria engine's result now, with rows not yet checked against the paper flagged;
- the decisions on record, oldest first (replaced and superseded ones greyed), with their
  signature manifests, and a "Sign…" button that opens :class:`SignatureDialog`;
- :class:`DecisionForm`, which tells the panel live whether a rationale is owed and why
  (:func:`adjudication.consensus.rationale_needed`) and shows a refusal in place, keeping
  everything typed.

The evidence (reads, discordance, labs, engine) scrolls on the left, the decisions and the
form on the right; the engine's certainty and the state of the decision stay in the header.

The page restates no rule. Blinding and permissions are the policy's
(:mod:`workbench.policy`, asked by the services): before every read is in the service returns
only the refusal, and the page shows it and nothing else (the engine's imaging input is
derived from the reads' judgements, so even it would say too much); who may decide comes as
:attr:`PanelData.why_not <workbench.services.panel.PanelData.why_not>`, which greys the
form's controls and is their tooltip. Which certainties take a pathway and when a rationale
is owed are :mod:`adjudication.consensus`'s; a refusal names its field
(:attr:`ValidationError.field <workbench.errors.ValidationError.field>`), which the form
outlines.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from adjudication.consensus import MIN_RATIONALE_LENGTH, Proposal, rationale_needed, takes_pathway
from adjudication.criteria import RULES_BY_ID
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway
from viewers.image import LabelLayer, LabelMode, LayerError
from workbench.actor import Actor
from workbench.display import (
    certainty_label,
    format_day,
    format_number,
    format_utc,
    tristate_label,
)
from workbench.domain import CaseStatus
from workbench.errors import RegistryError, ValidationError
from workbench.services import Registry, reading
from workbench.services import panel as panel_service
from workbench.services import timeline as timeline_service
from workbench.services.panel import (
    DecisionRecord,
    DecisionState,
    EngineRecord,
    LesionSummary,
    PanelData,
    ReadRecord,
)
from workbench.ui.case_page import fill_lab_table, readonly_table, table_item
from workbench.ui.dialogs import repolish, set_invalid, user_message
from workbench.ui.lesion_details import FEATURES, pretty
from workbench.ui.theme import (
    ACCENT,
    BORDER,
    ERROR,
    MUTED,
    PANEL,
    READER_COLOURS,
    STATUS_COLOURS,
    TEXT,
    WARNING,
)
from workbench.ui.timeline import TimelineView
from workbench.ui.workspace import ReviewWorkspace

LESION_COLUMNS = ("#", "Series", "mL", "Side", "Location", "PML features")
LESION_COLUMNS_ONE_SERIES = ("#", "mL", "Side", "Location", "PML features")
LAB_COLUMNS = ("Test", "Day", "Result", "Value", "Unit", "LOD", "LOQ", "Assay")

TIMELINE_HEIGHT = 700
"""Height of the timeline on the panel's page (its plot scrolls inside it)."""

_STYLE = f"""
QFrame#panelBar {{ background: {PANEL}; border-bottom: 1px solid {BORDER}; }}
QLabel#panelTitle {{ font-size: 15pt; font-weight: 600; }}
QLabel#panelFinal {{ color: #5cc67a; font-weight: 600; }}
QLabel#panelFinal[state="pending"] {{ color: {ACCENT}; }}
QLabel#engineSummary {{ font-weight: 600; }}
QLabel#panelRefusal {{
    font-size: 12pt; color: {TEXT}; background: #3a1f22; border: 1px solid #6b2f35;
    border-radius: 4px; padding: 14px;
}}
QFrame#readerColumn {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 3px; }}
QFrame#decisionCard {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 3px; }}
QFrame#decisionCard[state="pending"] {{ border: 1px solid {ACCENT}; }}
QFrame#decisionCard[state="final"] {{ border: 1px solid #5cc67a; }}
QLabel#rationaleHint {{ color: {WARNING}; }}
QLabel#rationaleHint[needed="false"] {{ color: {MUTED}; }}
QLabel#formError {{
    color: {ERROR}; background: #3a1f22; border: 1px solid #6b2f35; border-radius: 3px;
    padding: 6px;
}}
QLineEdit[invalid="true"], QComboBox[invalid="true"], QPlainTextEdit[invalid="true"] {{
    border: 1px solid {ERROR};
}}
QFrame#readsLegend {{ background: {PANEL}; border-bottom: 1px solid {BORDER}; }}
"""


# --- values --------------------------------------------------------------------------------


def reader_colour(data: PanelData, reader: str) -> str:
    """The colour of ``reader`` on the page and the images (by their place among the reads in
    force, :meth:`PanelData.reader_index`)."""
    return READER_COLOURS[data.reader_index(reader) % len(READER_COLOURS)]


# --- text ----------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text))


def _paragraphs(text: str) -> str:
    return "<br>".join(_e(line) for line in text.splitlines())


def _field(exc: BaseException) -> str | None:
    """The field a refusal is about (:attr:`ValidationError.field`), if it names one."""
    return exc.field if isinstance(exc, ValidationError) else None


def _utc(moment: Any) -> str:
    return format_utc(moment) or "—"


def certainty_text(certainty: Certainty | None, pathway: Pathway | None = None) -> str:
    """``probable PML (clinical pathway)``, ``not classifiable``."""
    if certainty is None:
        return "—"
    text = certainty_label(certainty)
    return f"{text} ({pathway.value} pathway)" if pathway is not None else text


def key_features(features: dict[str, Any]) -> tuple[str, str]:
    """``(short text, tooltip)`` of a lesion's PML features: what is present, then the rest."""
    short: list[str] = []
    full: list[str] = []
    for name, label, _ in FEATURES:
        value = str(features.get(name) or "not_assessed")
        full.append(f"{label}: {pretty(value)}")
        if value == "present":
            short.append(label)
        elif value not in ("absent", "not_assessed", "none"):
            short.append(f"{label.split()[0]} {pretty(value)}")
    return (", ".join(short) or "none marked"), "\n".join(full)


def discordance_html(assessment: dict[str, Any] | None, discordant: bool) -> str:
    """The discordance assessment: the verdict, each rule that fired, the thresholds."""
    if assessment is None:
        verdict = "discordant" if discordant else "not assessed"
        return f"<p>No discordance assessment on record (case {verdict}).</p>"
    fired = list(assessment.get("fired") or [])
    if assessment.get("discordant"):
        head = (
            f"<p><b style='color:{STATUS_COLOURS[CaseStatus.DISCORDANT]}'>Discordant</b> — "
            f"{len(fired)} rule(s) fired: {_e(', '.join(fired))}</p>"
        )
    else:
        head = (
            f"<p><b style='color:{STATUS_COLOURS[CaseStatus.FINAL]}'>Concordant</b> — "
            "no discordance rule fired</p>"
        )
    items = "".join(
        f"<li><b>{_e(f.get('rule'))}</b> ({_e(' vs '.join(f.get('readers') or []))}): "
        f"{_e(f.get('detail'))}</li>"
        for f in assessment.get("findings") or []
    )
    rules = assessment.get("rules") or {}
    thresholds = []
    if "min_lesion_ml" in rules:
        thresholds.append(f"a lesion counts from {format_number(rules['min_lesion_ml'])} mL")
    if "volume_fraction" in rules:
        thresholds.append(f"volumes may differ by {rules['volume_fraction']:.0%}")
    if "min_dice" in rules:
        thresholds.append(f"Dice at least {format_number(rules['min_dice'])}")
    if assessment.get("spatial") is False:
        thresholds.append("masks not compared (the readers drew on different series)")
    tail = f"<p style='color:{MUTED}'>Rules: {_e('; '.join(thresholds))}.</p>" if thresholds else ""
    return head + (f"<ul style='margin-left:-20px'>{items}</ul>" if items else "") + tail


def engine_html(engine: EngineRecord) -> str:
    """The engine's result now: certainty, rows fired (unverified flagged), what would change
    it, warnings, and where its inputs came from."""
    result = engine.result
    parts = [
        f"<p><span style='font-size:14pt; font-weight:600'>"
        f"{_e(certainty_label(result.certainty))}</span>"
        + (f" &nbsp;·&nbsp; {_e(result.pathway.value)} pathway" if result.pathway else "")
        + f" &nbsp;<span style='color:{MUTED}'>rules {_e(result.ruleset)}</span></p>"
    ]
    if result.unverified:
        flags = "<br>".join(
            f"⚠ row {_e(row.removeprefix('AAN2013-'))} not yet checked against the paper"
            for row in result.unverified
        )
        parts.append(f"<p style='color:{WARNING}; font-weight:600'>{flags}</p>")
    if result.rows:
        rows = []
        for row in result.rows:
            rule = RULES_BY_ID.get(row)
            note = f": {_e(rule.note)}" if rule is not None else ""
            mark = " ⚠" if row in result.unverified else ""
            rows.append(f"<li><b>{_e(row)}</b>{mark}{note}</li>")
        parts.append(f"<p>Rows fired:</p><ul style='margin-left:-20px'>{''.join(rows)}</ul>")
    else:
        parts.append("<p>Rows fired: none.</p>")
    parts.append(f"<p>{_e(result.explanation)}</p>")
    if result.would_change:
        items = "".join(f"<li>{_e(text)}</li>" for text in result.would_change)
        parts.append(f"<p>What would change it:</p><ul style='margin-left:-20px'>{items}</ul>")
    if result.warnings:
        items = "".join(f"<li>{_e(text)}</li>" for text in result.warnings)
        parts.append(
            f"<p style='color:{WARNING}'>Warnings:</p>"
            f"<ul style='margin-left:-20px; color:{WARNING}'>{items}</ul>"
        )
    if engine.derivation:
        items = "<br>".join(_e(line) for line in engine.derivation)
        parts.append(f"<p style='color:{MUTED}'>Inputs: <br>{items}</p>")
    return "".join(parts)


def decision_html(decision: DecisionRecord, proposer: str | None = None) -> str:
    """One decision on record: state, certainty, engine then, texts, signature manifest.

    ``proposer`` is how the proposer is named (default: their username)."""
    greyed = decision.state in (DecisionState.REPLACED, DecisionState.SUPERSEDED)
    colour = MUTED if greyed else TEXT
    state = {
        DecisionState.PENDING: f"<b style='color:{ACCENT}'>pending signatures</b>",
        DecisionState.FINAL: "<b style='color:#5cc67a'>final</b>",
        DecisionState.REPLACED: "replaced before it was final",
        DecisionState.SUPERSEDED: "superseded by a later final decision",
    }[decision.state]
    by = _e(proposer or decision.proposed_by)
    parts = [
        f"<div style='color:{colour}'>",
        f"<p><b>Decision {decision.id}</b> · {state} · proposed by {by}, "
        f"{_utc(decision.created_at)}</p>",
        f"<p>Panel: <b>{_e(certainty_text(decision.certainty, decision.pathway))}</b></p>",
    ]
    engine = certainty_text(decision.engine_certainty)
    if decision.differs_from_engine:
        tint = MUTED if greyed else WARNING
        parts.append(
            f"<p style='color:{tint}'>Engine then: <b>{_e(engine)}</b> "
            f"({_e(decision.engine_version)}) — the panel departed from it</p>"
        )
    else:
        parts.append(f"<p>Engine then: {_e(engine)} ({_e(decision.engine_version)})</p>")
    if decision.panel_imaging is not None:
        judged = IMAGING_CHOICES[decision.panel_imaging]
        parts.append(f"<p>Panel's imaging judgement: {_e(judged)}</p>")
    if decision.alternative_diagnosis:
        parts.append(f"<p>Alternative diagnosis: {_e(decision.alternative_diagnosis)}</p>")
    if decision.rationale:
        parts.append(f"<p>Rationale: {_paragraphs(decision.rationale)}</p>")
    if decision.change_reason:
        parts.append(f"<p>Reason for change: {_paragraphs(decision.change_reason)}</p>")
    count = f"{len(decision.signatures)} of {decision.signatures_required}"
    if decision.signatures:
        lines = "<br>".join(f"✓ {_e(s.manifest())}" for s in decision.signatures)
        parts.append(f"<p>Signatures ({count}):<br>{lines}</p>")
    else:
        parts.append(f"<p>Signatures ({count}): none yet</p>")
    parts.append("</div>")
    return "".join(parts)


def final_text(decision: DecisionRecord) -> str:
    """``Final: signed by A, B (2 of 2)``."""
    names = ", ".join(s.printed_name for s in decision.signatures)
    return (
        f"Final: {certainty_text(decision.certainty, decision.pathway)}, signed by {names} "
        f"({len(decision.signatures)} of {decision.signatures_required})"
    )


# --- small widgets -------------------------------------------------------------------------


def _label(text: str = "", *, rich: bool = False, name: str | None = None) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    return label


def _table(columns: Sequence[str], stretch: int) -> QTableWidget:
    """A read-only table sized to its rows (it sits in a scrolling page, not scrolling itself)."""
    table = readonly_table(columns, stretch)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    vertical = table.verticalHeader()
    assert vertical is not None
    vertical.setDefaultSectionSize(22)
    header = table.horizontalHeader()
    assert header is not None
    header.setMinimumSectionSize(30)
    return table


def _fit_height(table: QTableWidget) -> None:
    header = table.horizontalHeader()
    vertical = table.verticalHeader()
    assert header is not None
    assert vertical is not None
    rows = max(table.rowCount(), 1)
    scroll = table.horizontalScrollBar()
    extra = scroll.sizeHint().height() if scroll is not None and scroll.isVisible() else 0
    table.setFixedHeight(
        header.sizeHint().height()
        + rows * vertical.defaultSectionSize()
        + 2 * table.frameWidth()
        + extra
    )


def _clear(layout: QVBoxLayout | QHBoxLayout) -> None:
    while layout.count():
        child = layout.takeAt(0)
        if child is None:
            continue
        widget = child.widget()
        if widget is not None:
            widget.hide()
            widget.setParent(None)
            widget.deleteLater()


def _group(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(8, 8, 8, 8)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def _scrolling(content: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # Always on: a scroll bar that comes and goes changes the width the wrapped texts were
    # measured for, and the column would be squeezed below its height for that width.
    area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
    area.setWidget(content)
    return area


class ReaderColumn(QFrame):
    """One reader's read: who, when, judgement, confidence, comment and lesions, in a colour.

    The lesion table names the series of each lesion in a column when the reader drew on
    several series, else once above the table (the column would not fit side by side).
    """

    def __init__(
        self,
        read: ReadRecord,
        colour: str,
        series_names: dict[int, str],
        reader_name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("readerColumn")
        self.read = read
        self.colour = colour
        self.setStyleSheet(f"QFrame#readerColumn {{ border-top: 4px solid {colour}; }}")
        self.header_label = _label(
            f"<span style='color:{colour}; font-size:14pt'>■</span> "
            f"<b style='font-size:11pt'>{_e(reader_name or read.reader)}</b><br>"
            f"<span style='color:{MUTED}'>revision {read.revision} · submitted "
            f"{_utc(read.submitted_at)}</span>",
            rich=True,
        )
        confidence = f"{read.confidence} of 5" if read.confidence is not None else "not given"
        self.judgement_label = _label(
            f"Imaging consistent with PML: <b>{_e(read.judgement or 'not given')}</b>"
            f" &nbsp;·&nbsp; confidence {_e(confidence)}",
            rich=True,
        )
        self.comment_label = _label(read.comment or "No comment.")
        self.comment_label.setStyleSheet(
            f"color: {TEXT if read.comment else MUTED}; font-style: italic;"
        )
        series = sorted({lesion.series_id for lesion in read.lesions})
        self.series_column = len(series) > 1
        columns = LESION_COLUMNS if self.series_column else LESION_COLUMNS_ONE_SERIES
        self.lesion_table = _table(columns, stretch=columns.index("PML features"))
        self._fill_lesions(read.lesions, series_names)
        total = sum(lesion.volume_ml for lesion in read.lesions)
        where = ""
        if len(series) == 1:
            where = f" on {series_names.get(series[0], f'series {series[0]}')}"
        self.total_label = _label(
            f"{len(read.lesions)} lesion(s){where}, {total:.2f} mL in all", name="muted"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.header_label)
        layout.addWidget(self.judgement_label)
        layout.addWidget(self.comment_label)
        layout.addWidget(self.total_label)
        layout.addWidget(self.lesion_table)
        layout.addStretch()
        self.lesion_table.setVisible(bool(read.lesions))

    def _fill_lesions(self, lesions: Sequence[LesionSummary], names: dict[int, str]) -> None:
        table = self.lesion_table
        table.setRowCount(len(lesions))
        for row, lesion in enumerate(lesions):
            short, full = key_features(lesion.features)
            centroid = ", ".join(f"{c:.1f}" for c in lesion.centroid_lps)
            series = names.get(lesion.series_id, f"series {lesion.series_id}")
            cells = [
                table_item(str(lesion.label), numeric=True, tooltip=f"centroid LPS {centroid} mm"),
                table_item(f"{lesion.volume_ml:.2f}", numeric=True),
                table_item(lesion.hemisphere or "—"),
                table_item(pretty(lesion.location) if lesion.location else "—"),
                table_item(short, tooltip=full),
            ]
            if self.series_column:
                cells.insert(1, table_item(series))
            for column, cell in enumerate(cells):
                cell.setToolTip(cell.toolTip() or f"lesion {lesion.label} on {series}")
                table.setItem(row, column, cell)
        _fit_height(table)

    def cell(self, row: int, column: str) -> str:
        """The text of ``column`` (a :data:`LESION_COLUMNS` name) in lesion row ``row``."""
        header = [
            self.lesion_table.horizontalHeaderItem(n)
            for n in range(self.lesion_table.columnCount())
        ]
        names = [h.text() if h is not None else "" for h in header]
        item = self.lesion_table.item(row, names.index(column))
        return item.text() if item is not None else ""

    @property
    def reader(self) -> str:
        """The reader's username."""
        return self.read.reader


class DecisionCard(QFrame):
    """One decision on record, with a "Sign…" button while it collects signatures."""

    sign_requested = pyqtSignal(int)
    """``(decision id)``: the user asked to sign this decision."""

    def __init__(
        self,
        decision: DecisionRecord,
        sign_tip: str | None,
        proposer: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("decisionCard")
        self.setProperty("state", decision.state.value)
        self.decision = decision
        self.text_label = _label(decision_html(decision, proposer), rich=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 6)
        layout.addWidget(self.text_label)
        self.sign_button: QPushButton | None = None
        if decision.state is DecisionState.PENDING:
            self.sign_button = QPushButton("Sign…")
            self.sign_button.setEnabled(sign_tip is None)
            self.sign_button.setToolTip(
                sign_tip or "Sign this decision with your password and the signature's meaning"
            )
            self.sign_button.clicked.connect(lambda: self.sign_requested.emit(decision.id))
            layout.addWidget(self.sign_button, alignment=Qt.AlignmentFlag.AlignRight)

    @property
    def greyed(self) -> bool:
        """Whether the decision is shown greyed (replaced or superseded)."""
        return self.decision.state in (DecisionState.REPLACED, DecisionState.SUPERSEDED)


# --- the decision form ---------------------------------------------------------------------


IMAGING_CHOICES = {
    ImagingJudgement.YES: "consistent with PML",
    ImagingJudgement.NO: "not consistent with PML",
    ImagingJudgement.EQUIVOCAL: "equivocal",
}
"""The panel's own imaging judgement as the form and the decision cards word it."""


class DecisionForm(QGroupBox):
    """The panel's proposal: certainty, pathway, alternative diagnosis, rationale and, when a
    final decision exists, the reason for changing it. Tells live when a rationale is owed."""

    propose_requested = pyqtSignal()
    """The user pressed "Propose decision"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Panel decision", parent)
        self.setObjectName("decisionForm")
        self._engine: Certainty | None = None
        self._discordant = False
        self._has_final = False
        self._invalid: QWidget | None = None
        self.certainty_box = QComboBox()
        self.certainty_box.addItem("— choose —", None)
        for certainty in Certainty:
            self.certainty_box.addItem(certainty_label(certainty), certainty)
        self.pathway_box = QComboBox()
        self.alternative_edit = QLineEdit()
        self.alternative_edit.setPlaceholderText("the diagnosis that better explains the findings")
        self.imaging_box = QComboBox()
        self.imaging_box.addItem("— the readers' (not recorded) —", None)
        for judgement, text in IMAGING_CHOICES.items():
            self.imaging_box.addItem(text, judgement)
        self.imaging_box.setToolTip(
            "The panel's own judgement of the imaging, when it differs from the reads; the "
            "criteria (and reclassify) then use it instead of the readers'"
        )
        self.rationale_edit = QPlainTextEdit()
        self.rationale_edit.setPlaceholderText(
            "Why the panel decides so: how the reads were reconciled, which findings weigh"
        )
        self.rationale_edit.setTabChangesFocus(True)
        self.rationale_edit.setMinimumHeight(70)
        self.rationale_edit.setMaximumHeight(130)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setPlaceholderText("Why the final decision is changed (new PCR, new MRI…)")
        self.reason_edit.setTabChangesFocus(True)
        self.reason_edit.setMinimumHeight(50)
        self.reason_edit.setMaximumHeight(90)
        self.reason_label = QLabel("Reason for change")
        self.hint_label = _label(name="rationaleHint")
        self.error_label = _label(name="formError")
        self.error_label.hide()
        self.propose_button = QPushButton("Propose decision")
        self.propose_button.setDefault(True)
        self.propose_button.clicked.connect(self.propose_requested)
        self.note_label = _label()
        self.note_label.setObjectName("muted")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Certainty", self.certainty_box)
        form.addRow("Pathway", self.pathway_box)
        form.addRow("Alternative diagnosis", self.alternative_edit)
        form.addRow("Imaging (panel)", self.imaging_box)
        form.addRow("Rationale", self.rationale_edit)
        form.addRow(self.reason_label, self.reason_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.note_label, 1)
        buttons.addWidget(self.propose_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(form)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)
        self.fields: dict[str, QWidget] = {
            "certainty": self.certainty_box,
            "pathway": self.pathway_box,
            "alternative diagnosis": self.alternative_edit,
            "imaging": self.imaging_box,
            "rationale": self.rationale_edit,
            "reason": self.reason_edit,
        }
        self.certainty_box.currentIndexChanged.connect(self._certainty_changed)
        self.pathway_box.currentIndexChanged.connect(self._update_hint)
        self.alternative_edit.textChanged.connect(self._update_hint)
        self.rationale_edit.textChanged.connect(self._update_hint)
        self._certainty_changed()
        self.set_context(None, False, has_final=False, pending=None)

    # --- context -------------------------------------------------------------------------

    def set_context(
        self,
        engine: Certainty | None,
        discordant: bool,
        *,
        has_final: bool,
        pending: DecisionRecord | None,
    ) -> None:
        """What the hint and the button depend on; the fields keep what was typed."""
        self._engine = engine
        self._discordant = discordant
        self._has_final = has_final
        self.reason_label.setVisible(has_final)
        self.reason_edit.setVisible(has_final)
        if pending is not None:
            self.propose_button.setText(f"Propose (replaces decision {pending.id})")
            self.note_label.setText(
                f"Decision {pending.id} is collecting signatures; a new proposal replaces it "
                "(it stays on record)."
            )
        elif has_final:
            self.propose_button.setText("Propose a change")
            self.note_label.setText("The final decision stays in force until the change is signed.")
        else:
            self.propose_button.setText("Propose decision")
            self.note_label.setText("Panel members then sign it with their password.")
        self._update_hint()

    def set_allowed(self, allowed: bool, why_not: str | None) -> None:
        """Enable the form, or grey it out with ``why_not`` (the policy's refusal, as the
        service hands it over) as every control's tooltip."""
        self.setEnabled(allowed)
        tip = "" if allowed else (why_not or "")
        self.setToolTip(tip)
        for widget in (*self.fields.values(), self.propose_button):
            widget.setToolTip(tip)
        if not allowed and why_not:
            self.note_label.setText(f"Read-only: {why_not.rstrip('.')}.")

    # --- values --------------------------------------------------------------------------

    def certainty(self) -> Certainty | None:
        """The certainty chosen, if any."""
        value = self.certainty_box.currentData()
        return value if isinstance(value, Certainty) else None

    def pathway(self) -> Pathway | None:
        """The pathway chosen (``None`` for "none")."""
        value = self.pathway_box.currentData()
        return value if isinstance(value, Pathway) else None

    def imaging(self) -> ImagingJudgement | None:
        """The panel's own imaging judgement (``None``: the readers' stand)."""
        value = self.imaging_box.currentData()
        return value if isinstance(value, ImagingJudgement) else None

    def set_values(
        self,
        certainty: Certainty | None,
        pathway: Pathway | None = None,
        *,
        rationale: str = "",
        alternative: str = "",
        reason: str = "",
        imaging: ImagingJudgement | None = None,
    ) -> None:
        """Fill the form (tests, and "start from the engine's result")."""
        index = self.certainty_box.findData(certainty) if certainty is not None else 0
        self.certainty_box.setCurrentIndex(max(index, 0))
        if pathway is not None:
            self.pathway_box.setCurrentIndex(max(self.pathway_box.findData(pathway), 0))
        self.alternative_edit.setText(alternative)
        self.imaging_box.setCurrentIndex(max(self.imaging_box.findData(imaging), 0))
        self.rationale_edit.setPlainText(rationale)
        self.reason_edit.setPlainText(reason)

    def proposal(self) -> Proposal:
        """The proposal as typed; :class:`ValidationError` when no certainty is chosen."""
        certainty = self.certainty()
        if certainty is None:
            raise ValidationError("certainty: choose the panel's certainty", field="certainty")
        alternative = self.alternative_edit.text() if self.alternative_edit.isEnabled() else None
        return Proposal(
            certainty,
            self.pathway() if takes_pathway(certainty) else None,
            self.rationale_edit.toPlainText(),
            alternative,
            self.imaging(),
        )

    def change_reason(self) -> str | None:
        """The reason for changing the final decision (``None`` when there is none to change)."""
        return self.reason_edit.toPlainText() if self._has_final else None

    def reset(self) -> None:
        """Empty the form (after a proposal was recorded)."""
        self.clear_error()
        self.set_values(None)

    # --- feedback ------------------------------------------------------------------------

    @property
    def hint_text(self) -> str:
        """The live rationale hint."""
        return self.hint_label.text()

    @property
    def error_text(self) -> str:
        """The refusal shown, or ``""``."""
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def show_error(self, message: str, field: str | None = None) -> None:
        """Show ``message`` in red below the fields and outline ``field`` (a name of
        :attr:`fields`, as :attr:`ValidationError.field <workbench.errors.ValidationError.field>`
        carries it), if the form has it."""
        self.clear_error()
        self.error_label.setText(message[:1].upper() + message[1:])
        self.error_label.show()
        widget = self.fields.get(field) if field is not None else None
        if widget is not None:
            set_invalid(widget, True)
            widget.setFocus()
            self._invalid = widget

    def clear_error(self) -> None:
        """Hide the message and the outline."""
        self.error_label.hide()
        self.error_label.clear()
        if self._invalid is not None:
            set_invalid(self._invalid, False)
            self._invalid = None

    # --- private -------------------------------------------------------------------------

    def _certainty_changed(self) -> None:
        certainty = self.certainty()
        chosen = self.pathway()
        self.pathway_box.blockSignals(True)
        self.pathway_box.clear()
        if certainty is not None and takes_pathway(certainty):
            self.pathway_box.addItem("— choose —", None)
            self.pathway_box.addItem("clinical", Pathway.CLINICAL)
            self.pathway_box.addItem("histopathologic", Pathway.HISTOPATHOLOGIC)
            self.pathway_box.setCurrentIndex(max(self.pathway_box.findData(chosen), 0))
            self.pathway_box.setEnabled(True)
        else:
            self.pathway_box.addItem("none", None)
            self.pathway_box.setEnabled(False)
        self.pathway_box.blockSignals(False)
        not_pml = certainty is Certainty.NOT_PML
        self.alternative_edit.setEnabled(not_pml)
        self.alternative_edit.setPlaceholderText(
            "the diagnosis that better explains the findings" if not_pml else "only with “not PML”"
        )
        self.alternative_edit.setToolTip(
            ""
            if not_pml
            else "A diagnosis that better explains the findings makes the case not PML"
        )
        self._update_hint()

    def _update_hint(self) -> None:
        certainty = self.certainty()
        if self._engine is None or certainty is None:
            why = "the reads were discordant" if self._discordant else None
        else:
            alternative = self.alternative_edit.text() if self.alternative_edit.isEnabled() else ""
            why = rationale_needed(
                Proposal(certainty, self.pathway(), None, alternative.strip() or None),
                self._engine,
                discordant=self._discordant,
            )
        needed = why is not None
        for value in Certainty:  # "(not_pml)" → "(not PML)"
            why = why.replace(f"({value.value})", f"({certainty_label(value)})") if why else why
        if needed:
            length = len(self.rationale_edit.toPlainText().strip())
            short = (
                f" ({length} of at least {MIN_RATIONALE_LENGTH} characters written)"
                if length < MIN_RATIONALE_LENGTH
                else ""
            )
            self.hint_label.setText(f"Rationale required: {why}{short}.")
        elif certainty is None:
            self.hint_label.setText(
                "Choose a certainty; the hint says whether a rationale is owed."
            )
        else:
            self.hint_label.setText(
                "Rationale optional: the decision agrees with the engine and the reads were "
                "concordant."
            )
        self.hint_label.setProperty("needed", "true" if needed else "false")
        repolish(self.hint_label)


# --- the signature dialog ------------------------------------------------------------------


SignFunction = Callable[[int, str, str], None]
"""``sign(decision id, password, meaning)``: writes the signature or raises."""


class SignatureDialog(QDialog):
    """Sign one pending decision: what is signed, who signs, the meaning, the password again.

    A refusal (wrong password, already signed, no longer pending) is shown in place and the
    dialog stays open; the password field is emptied after every attempt and the password is
    never kept (21 CFR 11.200: the signer enters it again for each signing).
    """

    signed = pyqtSignal(int)
    """``(decision id)``: the signature was recorded."""

    def __init__(
        self,
        decision: DecisionRecord,
        signer: Actor,
        meaning: str,
        sign: SignFunction,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Sign the panel's decision — {decision.registry_id}")
        self.setModal(True)
        self.setMinimumWidth(520)
        self.setStyleSheet(_STYLE)
        self.decision = decision
        self._sign = sign
        rows = [
            ("Case", _e(decision.registry_id)),
            ("Decision", f"{decision.id} (proposed by {_e(decision.proposed_by)})"),
            ("Certainty", f"<b>{_e(certainty_text(decision.certainty))}</b>"),
            ("Pathway", _e(decision.pathway.value if decision.pathway else "none")),
        ]
        if decision.alternative_diagnosis:
            rows.append(("Alternative diagnosis", _e(decision.alternative_diagnosis)))
        rows.append(("Rationale", _paragraphs(decision.rationale or "—")))
        if decision.change_reason:
            rows.append(("Reason for change", _paragraphs(decision.change_reason)))
        rows.append(
            (
                "Signatures",
                f"{len(decision.signatures)} of {decision.signatures_required} so far",
            )
        )
        table = "".join(
            f"<tr><td style='color:{MUTED}; padding-right:10px'>{name}</td><td>{value}</td></tr>"
            for name, value in rows
        )
        self.summary_label = _label(f"<table>{table}</table>", rich=True)
        self.signer_label = _label(
            f"Signing as <b>{_e(signer.display_name)}</b> ({_e(signer.username)})", rich=True
        )
        self.meaning_edit = QLineEdit(meaning)
        self.meaning_edit.setToolTip("What your signature means; recorded with it")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("your password, entered again to sign")
        self.error_label = _label(name="formError")
        self.error_label.hide()
        note = _label(
            "Your signature is recorded with your printed name, the time (UTC) and its meaning."
        )
        note.setObjectName("muted")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.sign_button = self.buttons.addButton("Sign", QDialogButtonBox.ButtonRole.AcceptRole)
        assert self.sign_button is not None
        self.sign_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Meaning", self.meaning_edit)
        form.addRow("Password", self.password_edit)
        box = QGroupBox("What you sign")
        QVBoxLayout(box).addWidget(self.summary_label)
        layout = QVBoxLayout(self)
        layout.addWidget(box)
        layout.addWidget(self.signer_label)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.password_edit.setFocus()

    @property
    def error_text(self) -> str:
        """The refusal shown, or ``""``."""
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def show_error(self, message: str, field: str | None = None) -> None:
        """Show ``message`` in red and put the cursor in ``field`` (``"meaning"``), else back
        in the password field."""
        self.error_label.setText(message[:1].upper() + message[1:])
        self.error_label.show()
        set_invalid(self.meaning_edit, field == "meaning")
        (self.meaning_edit if field == "meaning" else self.password_edit).setFocus()

    def accept(self) -> None:
        """Sign; close only when the signature was recorded."""
        self.error_label.hide()
        password = self.password_edit.text()
        self.password_edit.clear()
        if not password:
            self.show_error("password: enter your password to sign")
            return
        try:
            self._sign(self.decision.id, password, self.meaning_edit.text())
        except RegistryError as exc:
            self.show_error(user_message(exc), _field(exc))
            return
        finally:
            del password
        super().accept()
        self.signed.emit(self.decision.id)


# --- the reads over the images -------------------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    qcolour = QColor(colour)
    return qcolour.red(), qcolour.green(), qcolour.blue()


class ReadsLegend(QFrame):
    """Above the review grid: which colour is which reader, and the way back."""

    def __init__(self, entries: Sequence[tuple[str, str, int]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("readsLegend")
        self.setStyleSheet(_STYLE)
        self.entries = tuple(entries)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 3, 10, 3)
        row.setSpacing(14)
        row.addWidget(QLabel("Reads (outlines):"))
        for reader, colour, count in entries:
            entry = _label(
                f"<span style='color:{colour}; font-size:13pt'>■</span> {_e(reader)} "
                f"<span style='color:{MUTED}'>({count} lesion(s))</span>",
                rich=True,
            )
            entry.setWordWrap(False)
            row.addWidget(entry)
        row.addStretch()
        back = QLabel("“Back to case” returns to the panel page")
        back.setObjectName("muted")
        row.addWidget(back)


# --- the page ------------------------------------------------------------------------------


class PanelPage(QWidget):
    """The panel's page of one case (see the module docstring).

    Reads and writes the registry only through :mod:`workbench.services.panel` (:meth:`load`,
    :meth:`propose`, signing) and :mod:`workbench.services.reading` (the reads' masks);
    tells the window about refusals through :attr:`problem`.
    """

    back_requested = pyqtSignal()
    """The user asked to go back to the case page."""
    images_requested = pyqtSignal(str)
    """``(registry id)``: show the case's images with the reads over them."""
    problem = pyqtSignal(str)
    """``(message)``: a refusal or failure the user was shown here."""
    changed = pyqtSignal(str)
    """``(registry id)``: a decision or signature was written (the case list may change)."""

    def __init__(self, registry: Registry, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panelPage")
        self.setStyleSheet(_STYLE)
        self.registry = registry
        self.actor = actor
        self._data: PanelData | None = None
        self._registry_id: str | None = None
        self.reader_columns: list[ReaderColumn] = []
        self.decision_cards: list[DecisionCard] = []
        self.last_signature_dialog: SignatureDialog | None = None
        self._overlays: list[tuple[str, str]] = []
        self._workspace: ReviewWorkspace | None = None
        self.legend: ReadsLegend | None = None
        self._build()

    # --- construction --------------------------------------------------------------------

    def _build(self) -> None:
        bar = QFrame()
        bar.setObjectName("panelBar")
        self.back_button = QPushButton("◀  Back to case")
        self.back_button.setToolTip("Show the case page (Alt+Left)")
        self.back_button.setShortcut("Alt+Left")
        self.back_button.clicked.connect(self.back_requested)
        self.title_label = _label(name="panelTitle")
        self.title_label.setWordWrap(False)
        self.status_badge = QLabel()
        self.status_badge.setObjectName("statusBadge")
        self.facts_label = _label()
        self.facts_label.setObjectName("muted")
        self.facts_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.final_label = _label(name="panelFinal")
        self.final_label.setWordWrap(False)
        self.final_label.hide()
        self.engine_summary = _label(name="engineSummary")
        self.engine_summary.setWordWrap(False)
        self.images_button = QPushButton("Show reads on images")
        self.images_button.setToolTip(
            "Open the case's images with each reader's lesions outlined in their colour"
        )
        self.images_button.clicked.connect(self._images_clicked)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read the case again (another member may have signed)")
        self.reload_button.clicked.connect(lambda: self.reload())
        top = QHBoxLayout()
        top.addWidget(self.back_button)
        top.addSpacing(8)
        top.addWidget(self.title_label)
        top.addWidget(self.status_badge, alignment=Qt.AlignmentFlag.AlignVCenter)
        top.addSpacing(8)
        top.addWidget(self.facts_label, 1)
        top.addWidget(self.images_button)
        top.addWidget(self.reload_button)
        bar_layout = QVBoxLayout(bar)
        bar_layout.setContentsMargins(8, 6, 8, 6)
        bar_layout.setSpacing(2)
        bar_layout.addLayout(top)
        second = QHBoxLayout()
        second.addWidget(self.final_label)
        second.addStretch(1)
        second.addWidget(self.engine_summary)
        bar_layout.addLayout(second)

        self.refusal_label = _label(name="panelRefusal")
        self.refusal_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        refusal_page = QWidget()
        refusal_layout = QVBoxLayout(refusal_page)
        refusal_layout.addStretch(1)
        refusal_layout.addWidget(self.refusal_label)
        refusal_layout.addStretch(2)
        refusal_layout.setContentsMargins(60, 20, 60, 20)
        self.refusal_page = refusal_page

        # Left: the evidence (reads, discordance, labs and clinical features).
        self.reads_row = QHBoxLayout()
        self.reads_row.setSpacing(8)
        reads_host = QWidget()
        reads_host.setLayout(self.reads_row)
        self.earlier_label = _label()
        self.earlier_label.setObjectName("muted")
        reads_box = _group("Reads (in force, one per reader)", reads_host, self.earlier_label)
        self.discordance_label = _label(rich=True)
        discordance_box = _group("Discordance", self.discordance_label)
        self.labs_table = _table(LAB_COLUMNS, stretch=LAB_COLUMNS.index("Assay"))
        self.clinical_label = _label(rich=True)
        clinical_box = _group("Labs and clinical features", self.labs_table, self.clinical_label)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 4, 4, 8)
        self.engine_label = _label(rich=True)
        engine_box = _group("Criteria engine now (AAN 2013)", self.engine_label)
        left_layout.addWidget(reads_box)
        left_layout.addWidget(discordance_box)
        left_layout.addWidget(clinical_box)
        left_layout.addWidget(self._timeline_box())
        left_layout.addWidget(engine_box)
        left_layout.addStretch()

        # Right: the decisions on record and the form.
        self.decisions_layout = QVBoxLayout()
        self.decisions_layout.setSpacing(6)
        decisions_host = QWidget()
        decisions_host.setLayout(self.decisions_layout)
        self.decisions_layout.setContentsMargins(0, 0, 0, 0)
        self.no_decision_label = _label("No decision on record yet.")
        self.no_decision_label.setObjectName("muted")
        decisions_box = _group(
            "Decisions on record (oldest first)", self.no_decision_label, decisions_host
        )
        self.form = DecisionForm()
        self.form.propose_requested.connect(self.propose)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 4, 8, 8)
        right_layout.addWidget(decisions_box)
        right_layout.addWidget(self.form)
        right_layout.addStretch()

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(_scrolling(left))
        self.splitter.addWidget(_scrolling(right))
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([760, 500])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(self.refusal_page, 1)
        layout.addWidget(self.splitter, 1)
        self.splitter.hide()

    def _timeline_box(self) -> QGroupBox:
        """The case's timeline (read when shown; the group's check box folds it away)."""
        # A loader that holds the registry and the person, not the page: a page that held
        # itself through its view would be freed only by the cycle collector, at any moment.
        self.timeline_view = TimelineView(
            functools.partial(timeline_service.case_timeline, self.registry, self.actor)
        )
        self.timeline_view.setMinimumHeight(TIMELINE_HEIGHT)
        self.timeline_box = _group("Timeline", self.timeline_view)
        self.timeline_box.setCheckable(True)
        self.timeline_box.setChecked(True)
        self.timeline_box.setToolTip("Fold or unfold the case's timeline")
        self.timeline_box.toggled.connect(self.timeline_view.setVisible)
        return self.timeline_box

    # --- loading -------------------------------------------------------------------------

    @property
    def data(self) -> PanelData | None:
        """What the page shows, if it shows a case."""
        return self._data

    @property
    def registry_id(self) -> str | None:
        """The case shown (or whose loading failed)."""
        return self._registry_id

    @property
    def refusal(self) -> str:
        """Why the page is empty, or ``""``."""
        return self.refusal_label.text() if self.refusal_page.isVisibleTo(self) else ""

    def load(self, registry_id: str) -> bool:
        """Read and show the panel's page of ``registry_id``; False when the registry failed
        (the message is shown on the page and sent through :attr:`problem`).

        What the user typed in the decision form stays when the same case is reloaded.
        """
        if registry_id != self._registry_id:
            self.form.reset()
        self._registry_id = registry_id
        try:
            data = panel_service.load_panel(self.registry, self.actor, registry_id)
        except RegistryError as exc:
            message = user_message(exc)
            self._data = None
            self._show_refusal(registry_id, None, f"Cannot open the panel's page: {message}")
            self.problem.emit(message)
            return False
        self.show_data(data)
        return True

    def reload(self) -> bool:
        """Read the case shown again (keeps what the form holds)."""
        return self._registry_id is not None and self.load(self._registry_id)

    def show_data(self, data: PanelData) -> None:
        """Show ``data``, replacing whatever was shown (the form keeps its fields)."""
        self._data = data
        self._registry_id = data.registry_id
        self.title_label.setText(f"{data.registry_id} — panel")
        self.status_badge.setText(data.status.label)
        self.status_badge.setStyleSheet(f"background: {STATUS_COLOURS[data.status]};")
        if data.refusal is not None:
            self._show_refusal(data.registry_id, data.status, data.refusal)
            return
        self.refusal_page.hide()
        self.splitter.show()
        self.images_button.setEnabled(any(read.lesions for read in data.reads))
        self.images_button.setToolTip(
            "Open the case's images with each reader's lesions outlined in their colour"
            if self.images_button.isEnabled()
            else "No reader marked a lesion"
        )
        self._fill_header(data)
        self._fill_reads(data)
        engine = data.engine
        assert engine is not None
        self.discordance_label.setText(discordance_html(engine.discordance, engine.discordant))
        self._fill_labs(data)
        self.timeline_view.show_case(data.registry_id)
        self.engine_label.setText(engine_html(engine))
        self._fill_decisions(data)
        self.form.set_context(
            engine.result.certainty,
            engine.discordant,
            has_final=data.final is not None,
            pending=data.pending,
        )
        self.form.set_allowed(data.may_decide, data.why_not)

    def _show_refusal(self, registry_id: str, status: CaseStatus | None, text: str) -> None:
        self.title_label.setText(f"{registry_id} — panel")
        if status is None:
            self.status_badge.clear()
            self.status_badge.setStyleSheet("")
        self.facts_label.clear()
        self.engine_summary.clear()
        self.final_label.hide()
        self.images_button.setEnabled(False)
        self.images_button.setToolTip("Nothing to show yet")
        self.refusal_label.setText(text[:1].upper() + text[1:])
        self.splitter.hide()
        self.refusal_page.show()
        self.form.set_allowed(False, text)

    def _fill_header(self, data: PanelData) -> None:
        detail = data.detail
        assert detail is not None
        condition = detail.condition.label
        self.facts_label.setText(f"{detail.site} · {detail.sex}, {detail.age_band} · {condition}")
        self.facts_label.setToolTip(detail.condition_detail or "")
        engine = data.engine
        assert engine is not None
        self.engine_summary.setText(
            "Engine now: "
            + certainty_text(engine.result.certainty, engine.result.pathway)
            + (" · ⚠ unverified row" if engine.result.unverified else "")
        )
        final = data.final
        pending = data.pending
        if final is not None:
            text = final_text(final)
            if pending is not None:
                text += f" · a change (decision {pending.id}) is collecting signatures"
            self.final_label.setText(text)
            self.final_label.setProperty("state", "final")
            self.final_label.show()
        elif pending is not None:
            self.final_label.setText(
                f"Decision {pending.id}: {certainty_text(pending.certainty, pending.pathway)} — "
                f"collecting signatures, {len(pending.signatures)} of "
                f"{pending.signatures_required}"
            )
            self.final_label.setProperty("state", "pending")
            self.final_label.show()
        else:
            self.final_label.hide()
        repolish(self.final_label)

    def _fill_reads(self, data: PanelData) -> None:
        _clear(self.reads_row)
        self.reader_columns = []
        for read in data.reads:
            column = ReaderColumn(
                read, reader_colour(data, read.reader), data.series_names, data.person(read.reader)
            )
            self.reads_row.addWidget(column, 1)
            column.show()  # now, not when the layout's queued show comes (screenshots, tests)
            self.reader_columns.append(column)
        if not data.reads:
            empty = _label("No submitted reads.")
            self.reads_row.addWidget(empty)
            empty.show()
        if data.earlier:
            corrected = ", ".join(f"{r.reader} revision {r.revision}" for r in data.earlier)
            self.earlier_label.setText(f"Corrected since (superseded, kept on record): {corrected}")
            self.earlier_label.show()
        else:
            self.earlier_label.hide()

    def _fill_labs(self, data: PanelData) -> None:
        detail = data.detail
        assert detail is not None
        table = self.labs_table
        fill_lab_table(table, detail.labs, notes=False)
        _fit_height(table)
        table.setVisible(bool(detail.labs))
        parts = [] if detail.labs else [f"<p style='color:{MUTED}'>No lab results.</p>"]
        if detail.clinical_summary:
            parts.append(f"<p>{_e(detail.clinical_summary)}</p>")
        features = "; ".join(
            f"{_e(f.feature)} <b>{_e(tristate_label(f.status))}</b>"
            + (f" (day {_e(format_day(f.onset_day))})" if f.onset_day is not None else "")
            for f in detail.features
        )
        parts.append(
            "<p>Clinical features consistent with PML: "
            f"<b>{_e(tristate_label(detail.clinical_consistent))}</b>"
            + (f" — {features}" if features else "")
            + "</p>"
        )
        if detail.exposures:
            exposures = "; ".join(
                f"{_e(x.drug)} day {_e(format_day(x.start_day) or '?')} to "
                f"{_e(format_day(x.stop_day) or 'ongoing')}"
                + (f", {x.infusion_count} infusions" if x.infusion_count is not None else "")
                for x in detail.exposures
            )
            parts.append(f"<p>Exposures: {exposures}</p>")
        self.clinical_label.setText("".join(parts))

    def _fill_decisions(self, data: PanelData) -> None:
        _clear(self.decisions_layout)
        self.decision_cards = []
        for decision in data.decisions:
            card = DecisionCard(
                decision, data.sign_refusal(decision), data.person(decision.proposed_by)
            )
            card.sign_requested.connect(self.open_signature_dialog)
            self.decisions_layout.addWidget(card)
            card.show()
            self.decision_cards.append(card)
        self.no_decision_label.setVisible(not data.decisions)

    # --- proposing and signing -----------------------------------------------------------

    def propose(self) -> bool:
        """Record the form's proposal (replacing the pending decision this page showed).

        A refusal is shown in the form, which keeps everything typed, and sent through
        :attr:`problem`; False then.
        """
        form = self.form
        form.clear_error()
        data = self._data
        if data is None or not data.may_decide:
            return False
        pending = data.pending
        try:
            panel_service.propose(
                self.registry,
                self.actor,
                data.registry_id,
                form.proposal(),
                replaces=pending.id if pending is not None else None,
                change_reason=form.change_reason(),
                config=data.config,
            )
        except RegistryError as exc:
            message = user_message(exc)
            form.show_error(message, _field(exc))
            self.problem.emit(message)
            return False
        form.reset()
        self.reload()
        self.changed.emit(data.registry_id)
        return True

    def open_signature_dialog(self, decision_id: int) -> SignatureDialog | None:
        """Open the signature dialog (non-blocking) for a pending decision shown here."""
        data = self._data
        found = [d for d in (data.decisions if data else ()) if d.id == decision_id]
        if data is None or not found:
            return None
        dialog = SignatureDialog(
            found[0], self.actor, data.config.signature_meaning, self._sign, self
        )
        dialog.signed.connect(self._signed)
        self.last_signature_dialog = dialog
        dialog.open()
        return dialog

    def _sign(self, decision_id: int, password: str, meaning: str) -> None:
        assert self._data is not None
        try:
            # In its own transaction: a refused password is recorded in the audit trail.
            panel_service.sign(
                self.registry,
                self.actor,
                decision_id,
                password,
                meaning=meaning.strip() or None,
                config=self._data.config,
            )
        except RegistryError as exc:
            self.problem.emit(user_message(exc))
            raise

    def _signed(self, _decision_id: int) -> None:
        self.reload()
        if self._registry_id is not None:
            self.changed.emit(self._registry_id)

    # --- the reads over the images -------------------------------------------------------

    def first_lesion_series(self) -> str | None:
        """The id of the first series a reader drew on (to show it first), if any."""
        for read in self._data.reads if self._data else ():
            for lesion in read.lesions:
                return str(lesion.series_id)
        return None

    def overlay_reads(self, workspace: ReviewWorkspace) -> int:
        """Outline each read's lesions over the series they were drawn on, in the reader's
        colour, and put a legend above the grid; returns the number of overlays.

        The label maps are read through the blinding rule
        (:func:`workbench.services.reading.load_label_maps` with the acting user).
        """
        self.clear_overlays()
        data = self._data
        if data is None or data.review is None or not data.reads:
            return 0
        layers: list[tuple[str, LabelLayer]] = []
        legend: list[tuple[str, str, int]] = []
        try:
            for read in data.reads:
                colour = reader_colour(data, read.reader)
                legend.append((data.person(read.reader), colour, len(read.lesions)))
                drawn_on = {lesion.series_id for lesion in read.lesions}
                for label_map in reading.load_label_maps(
                    self.registry, self.actor, read.id, drawn_on
                ):
                    series = data.review.find(str(label_map.series_id))
                    if series is None:
                        continue
                    labels = np.asarray(label_map.labels)
                    present = [int(v) for v in np.unique(labels) if v != 0]
                    layers.append(
                        (
                            series.series_id,
                            LabelLayer(
                                f"{read.reader} (read {read.id})",
                                labels,
                                series.affine_matrix(),
                                colors=dict.fromkeys(present, _rgb(colour)),
                                opacity=1.0,
                                mode=LabelMode.OUTLINE,
                            ),
                        )
                    )
        except (RegistryError, LayerError) as exc:
            self.problem.emit(f"cannot show the reads on the images: {user_message(exc)}")
            return 0
        for series_id, layer in layers:
            workspace.set_label_overlay(series_id, layer)
        self._overlays = [(series_id, layer.name) for series_id, layer in layers]
        self._workspace = workspace
        self.legend = ReadsLegend(legend)
        workspace.annotation_top.addWidget(self.legend)
        self.legend.show()
        largest = max(
            (lesion for read in data.reads for lesion in read.lesions),
            key=lambda lesion: lesion.volume_ml,
            default=None,
        )
        views = [] if largest is None else workspace.views_showing(str(largest.series_id))
        if largest is not None and views:  # the linked cursor (all viewports) on the largest
            views[0].set_cursor(np.array(largest.centroid_lps, dtype=np.float64))
        return len(layers)

    def clear_overlays(self) -> bool:
        """Take the reads' outlines and the legend off the images; whether any were shown."""
        workspace = self._workspace
        shown = workspace is not None and (bool(self._overlays) or self.legend is not None)
        if workspace is not None:
            for series_id, name in self._overlays:
                workspace.remove_label_overlay(series_id, name)
            if self.legend is not None:
                workspace.annotation_top.removeWidget(self.legend)
                self.legend.hide()
                self.legend.setParent(None)
                self.legend.deleteLater()
        self._overlays = []
        self._workspace = None
        self.legend = None
        return shown

    def _images_clicked(self) -> None:
        if self._registry_id is not None:
            self.images_requested.emit(self._registry_id)
