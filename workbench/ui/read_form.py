"""Submitting a read, and opening a correction of a submitted one.

:class:`SubmitReadDialog` asks the reader for what the read concludes: whether the imaging is
consistent with PML (required, no default, so nobody submits a default by accident), their
confidence (1–5, optional) and a comment, shows what is being submitted (lesions, total
volume, series) and warns that a submitted read cannot be changed, only corrected with a
reason. OK hands a :class:`ReadChoices` to the *submit* callback of the annotator, which saves
the draft and submits it in one transaction (:meth:`workbench.ui.annotate.Annotator.submit`,
through :meth:`workbench.services.draft.DraftSession.submit`);
a refusal keeps the dialog open with everything entered and the message in red.

:class:`CorrectReadDialog` asks for the reason of a correction (at least
:data:`MIN_REASON_LENGTH` characters) and hands it to the *start* callback
(:meth:`workbench.ui.annotate.Annotator.start_correction`).

:func:`outcome_text` says, in one line, what a submission did to the case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QButtonGroup,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QRadioButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from adjudication.discordance import Discordance
from adjudication.vocabulary import ImagingJudgement
from workbench.errors import ValidationError
from workbench.services.reading import CONFIDENCE_RANGE, MAX_COMMENT_LENGTH
from workbench.ui.dialogs import FormDialog
from workbench.ui.theme import ACCENT, BASE, BORDER, ERROR, MUTED

MIN_REASON_LENGTH = 10
"""Shortest reason a correction takes (as :func:`workbench.services.reading.start_correction`)."""

JUDGEMENT_TEXT = {
    ImagingJudgement.YES: "Yes — consistent with PML",
    ImagingJudgement.NO: "No — not consistent with PML",
    ImagingJudgement.EQUIVOCAL: "Equivocal",
}
CONFIDENCE_ENDS = ("very unsure", "certain")
"""What the lowest and the highest confidence mean (see :data:`CONFIDENCE_RANGE`)."""
WARNING_TEXT = (
    "A submitted read cannot be changed. It can only be corrected later, as a new revision "
    "with a reason that the audit trail and the panel see."
)
_WARNING_STYLE = (
    "QLabel { color: #f0c36b; background: #3a3120; border: 1px solid #6b5a2f; "
    "border-radius: 3px; padding: 6px; }"
)
_SUMMARY_STYLE = f"QLabel {{ border: 1px solid {BORDER}; border-radius: 3px; padding: 6px; }}"
_RADIO_STYLE = f"""
QRadioButton {{ spacing: 6px; }}
QRadioButton::indicator {{
    width: 12px; height: 12px; border-radius: 7px; border: 1px solid #6b7480;
    background: {BASE};
}}
QRadioButton::indicator:hover {{ border-color: {ACCENT}; }}
QRadioButton::indicator:checked {{
    border-color: {ACCENT};
    background: qradialgradient(cx: 0.5, cy: 0.5, radius: 0.5, fx: 0.5, fy: 0.5,
                                stop: 0 {ACCENT}, stop: 0.55 {ACCENT}, stop: 0.6 {BASE},
                                stop: 1 {BASE});
}}
"""


@dataclass(frozen=True, slots=True)
class ReadChoices:
    """What the reader concludes: judgement (required), confidence and comment."""

    judgement: ImagingJudgement
    confidence: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "judgement", ImagingJudgement(self.judgement))
        except ValueError:
            choices = ", ".join(j.value for j in ImagingJudgement)
            raise ValidationError(
                f"judgement: {self.judgement!r} is not one of {choices}", field="judgement"
            ) from None
        if self.confidence is not None and self.confidence not in CONFIDENCE_RANGE:
            raise ValidationError(
                f"confidence: {self.confidence} is not from {CONFIDENCE_RANGE.start} to "
                f"{CONFIDENCE_RANGE.stop - 1}",
                field="confidence",
            )
        if self.comment is not None and len(self.comment) > MAX_COMMENT_LENGTH:
            raise ValidationError(
                f"comment: {len(self.comment)} characters; at most {MAX_COMMENT_LENGTH}",
                field="comment",
            )


@dataclass(frozen=True, slots=True)
class SubmitSummary:
    """What is being submitted, as the dialog shows it."""

    registry_id: str
    revision: int
    lesion_count: int
    total_ml: float
    series: tuple[str, ...]
    """Names of the series the lesions are drawn on (the edited one when there are none)."""
    corrects_revision: int | None = None
    """The revision this read corrects, if it is a correction."""
    correction_reason: str | None = None


def outcome_text(result: Discordance | None, outstanding: int, *, correction: bool = False) -> str:
    """What a submission did to the case, in one line for the status bar and the panel.

    ``result`` is the discordance assessment :func:`workbench.reading_flow.submit` made (None
    while reads are outstanding); ``outstanding`` the assigned readers still to submit.
    """
    done = "Correction submitted" if correction else "Read submitted"
    if result is not None:
        if result.discordant:
            return (
                f"All reads are in: discordant ({', '.join(result.fired)}) — the case goes "
                "to the panel"
            )
        return "All reads are in: concordant — the case goes to the panel for adjudication"
    if outstanding > 0:
        reads = "read" if outstanding == 1 else "reads"
        return f"{done}; waiting for {outstanding} more {reads}"
    return f"{done}; the case's review is unchanged"


def _summary_text(summary: SubmitSummary) -> str:
    lesions = "1 lesion" if summary.lesion_count == 1 else f"{summary.lesion_count} lesions"
    # One series name is not broken across lines ("FLAIR · day 0" stays whole).
    series = ", ".join(escape(name).replace(" ", "\u00a0") for name in summary.series) or "—"
    return (
        f"Read of <b>{escape(summary.registry_id)}</b>, revision {summary.revision}: "
        f"<b>{lesions}</b>, <b>{summary.total_ml:.3f} mL</b> in total, on {series}."
    )


class SubmitReadDialog(FormDialog):
    """The reader's conclusion of a read, submitted with OK ("Submit read").

    ``submit`` receives the :class:`ReadChoices` and returns what happened to the case (a
    line for the status bar); it raises to refuse. ``judgement``, ``confidence`` and
    ``comment`` are the draft's, restored into the form. Emits :attr:`submitted` with the
    returned line once submitted.
    """

    submitted = pyqtSignal(str)

    def __init__(
        self,
        summary: SubmitSummary,
        submit: Callable[[ReadChoices], str],
        parent: QWidget | None = None,
        *,
        judgement: ImagingJudgement | str | None = None,
        confidence: int | None = None,
        comment: str | None = None,
    ) -> None:
        title = "Submit correction" if summary.corrects_revision else "Submit read"
        super().__init__(f"{title} — {summary.registry_id}", parent)
        self.summary = summary
        self._submit = submit
        self.outcome: str | None = None
        """The line ``submit`` returned, once submitted."""

        self.correction_label = QLabel()
        self.correction_label.setWordWrap(True)
        if summary.corrects_revision is not None:
            self.correction_label.setText(
                f"Correction of revision {summary.corrects_revision}: "
                f"{summary.correction_reason or '(no reason recorded)'}"
            )
            self.correction_label.setStyleSheet("font-weight: 600;")
        else:
            self.correction_label.hide()
        self.summary_label = QLabel(_summary_text(summary))
        self.summary_label.setObjectName("submitSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setStyleSheet(_SUMMARY_STYLE)

        self.judgement_box = QFrame()
        self.judgement_box.setObjectName("judgementChoice")
        self.judgement_group = QButtonGroup(self)
        self.judgement_buttons: dict[ImagingJudgement, QRadioButton] = {}
        judgement_row = QVBoxLayout(self.judgement_box)
        judgement_row.setContentsMargins(4, 2, 4, 2)
        judgement_row.setSpacing(2)
        for choice in ImagingJudgement:
            button = QRadioButton(JUDGEMENT_TEXT[choice])
            self.judgement_group.addButton(button)
            self.judgement_buttons[choice] = button
            judgement_row.addWidget(button)
        self.judgement_group.buttonToggled.connect(lambda *_: self.clear_error())

        self.confidence_box = QWidget()
        self.confidence_box.setObjectName("confidenceChoice")
        self.confidence_group = QButtonGroup(self)
        self.confidence_buttons: dict[int, QRadioButton] = {}
        confidence_row = QHBoxLayout(self.confidence_box)
        confidence_row.setContentsMargins(0, 0, 0, 0)
        low, high = QLabel(CONFIDENCE_ENDS[0]), QLabel(CONFIDENCE_ENDS[1])
        for end in (low, high):
            end.setStyleSheet(f"color: {MUTED};")
        confidence_row.addWidget(low)
        for value in CONFIDENCE_RANGE:
            button = QRadioButton(str(value))
            self.confidence_group.addButton(button, value)
            self.confidence_buttons[value] = button
            confidence_row.addWidget(button)
        confidence_row.addWidget(high)
        self.clear_confidence_button = QToolButton()
        self.clear_confidence_button.setText("Clear")
        self.clear_confidence_button.setToolTip("No confidence given")
        self.clear_confidence_button.setAutoRaise(True)
        self.clear_confidence_button.clicked.connect(lambda: self.set_confidence(None))
        confidence_row.addWidget(self.clear_confidence_button)
        confidence_row.addStretch()
        first, last = CONFIDENCE_RANGE.start, CONFIDENCE_RANGE.stop - 1
        self.confidence_box.setToolTip(
            f"How sure you are of your judgement: {first} = {CONFIDENCE_ENDS[0]}, "
            f"{last} = {CONFIDENCE_ENDS[1]} (optional)"
        )

        self.comment_edit = QPlainTextEdit()
        self.comment_edit.setObjectName("readComment")
        self.comment_edit.setPlaceholderText(
            "Optional: what you saw, what would change your judgement, alternative diagnoses…"
        )
        self.comment_edit.setTabChangesFocus(True)
        self.comment_edit.setMinimumHeight(90)

        self.warning_label = QLabel(WARNING_TEXT)
        self.warning_label.setObjectName("submitWarning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(_WARNING_STYLE)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Imaging consistent\nwith PML?", self.judgement_box)
        form.addRow("Confidence", self.confidence_box)
        form.addRow("Comment", self.comment_edit)

        for prefix, widget in (
            ("judgement", self.judgement_box),
            ("confidence", self.confidence_box),
            ("comment", self.comment_edit),
        ):
            self.register_field(prefix, widget)
        self.judgement_box.setStyleSheet(
            f'QFrame#judgementChoice[invalid="true"] {{ border: 1px solid {ERROR}; '
            "border-radius: 3px; }"
        )

        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        ok.setText("Submit correction" if summary.corrects_revision else "Submit read")
        ok.setDefault(False)
        ok.setAutoDefault(False)  # Enter in a field must not submit an immutable read

        self.setStyleSheet(_RADIO_STYLE)
        layout = QVBoxLayout(self)
        layout.addWidget(self.correction_label)
        layout.addWidget(self.summary_label)
        layout.addSpacing(4)
        layout.addLayout(form, 1)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(560, 480)

        if judgement is not None:
            self.set_judgement(ImagingJudgement(judgement))
        self.set_confidence(confidence)
        self.comment_edit.setPlainText(comment or "")

    # --- values --------------------------------------------------------------------------

    def judgement(self) -> ImagingJudgement | None:
        """The judgement chosen, if any."""
        for choice, button in self.judgement_buttons.items():
            if button.isChecked():
                return choice
        return None

    def set_judgement(self, judgement: ImagingJudgement | None) -> None:
        """Choose ``judgement`` (None: none chosen)."""
        if judgement is None:
            self.judgement_group.setExclusive(False)
            for button in self.judgement_buttons.values():
                button.setChecked(False)
            self.judgement_group.setExclusive(True)
        else:
            self.judgement_buttons[ImagingJudgement(judgement)].setChecked(True)

    def confidence(self) -> int | None:
        """The confidence chosen, if any."""
        value = self.confidence_group.checkedId()
        return value if value in CONFIDENCE_RANGE else None

    def set_confidence(self, value: int | None) -> None:
        """Choose confidence ``value`` (None: none given)."""
        if value is None or value not in self.confidence_buttons:
            self.confidence_group.setExclusive(False)
            for button in self.confidence_buttons.values():
                button.setChecked(False)
            self.confidence_group.setExclusive(True)
        else:
            self.confidence_buttons[value].setChecked(True)

    def comment(self) -> str | None:
        """The comment typed, stripped; None when empty."""
        return self.comment_edit.toPlainText().strip() or None

    def choices(self) -> ReadChoices:
        """What the form says; raises :class:`ValidationError` naming the field."""
        judgement = self.judgement()
        if judgement is None:
            raise ValidationError(
                "judgement: say whether the imaging is consistent with PML (yes, no or "
                "equivocal) before submitting",
                field="judgement",
            )
        return ReadChoices(judgement, self.confidence(), self.comment())

    def submit(self) -> None:
        """Submit through the callback; announce what happened to the case."""
        choices = self.choices()
        self.outcome = self._submit(choices)
        self.submitted.emit(self.outcome)


class CorrectReadDialog(FormDialog):
    """The reason for correcting a submitted read; OK opens the correction draft.

    ``start`` receives the reason and opens the correction (raising to refuse). Emits
    :attr:`started` once it is open.
    """

    started = pyqtSignal()

    def __init__(
        self,
        registry_id: str,
        revision: int,
        submitted_at: str,
        start: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(f"Correct read — {registry_id}", parent)
        self._start = start
        intro = QLabel(
            f"Your read of <b>{registry_id}</b> (revision {revision}) was submitted "
            f"{submitted_at}. A correction is a new draft, revision {revision + 1}, starting "
            "as a copy of it. The submitted read stays in force until you submit the "
            "correction; then it is kept on record as superseded."
        )
        intro.setWordWrap(True)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setObjectName("correctionReason")
        self.reason_edit.setPlaceholderText(
            "What was wrong with the submitted read, e.g. 'Missed the right frontal lesion on DWI'"
        )
        self.reason_edit.setTabChangesFocus(True)
        self.reason_edit.setMinimumHeight(80)
        note = QLabel(
            f"Required, at least {MIN_REASON_LENGTH} characters. The audit trail and the "
            "panel see it."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        self.register_field("reason", self.reason_edit)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        ok.setText("Start correction")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(QLabel("Reason"))
        layout.addWidget(self.reason_edit, 1)
        layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(520, 320)

    def reason(self) -> str:
        """The reason typed; raises :class:`ValidationError` when it is too short."""
        text = self.reason_edit.toPlainText().strip()
        if len(text) < MIN_REASON_LENGTH:
            raise ValidationError(
                f"reason: say why the read is corrected, in at least {MIN_REASON_LENGTH} "
                f"characters (you wrote {len(text)})",
                field="reason",
            )
        return text

    def submit(self) -> None:
        """Open the correction with the reason; announce it."""
        self._start(self.reason())
        self.started.emit()
