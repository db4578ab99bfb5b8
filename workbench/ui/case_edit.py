"""Changing a case: the edit form and the "mark ready" form.

:class:`EditCaseDialog` is the new-case form's fields
(:class:`~workbench.ui.dialogs.CaseFormDialog`) filled from the case page's
:class:`~workbench.services.case_detail.CaseDetail`, plus day 0 and a required reason. OK
sends only what the user changed (:class:`CaseChanges`) to a *save* callback from the window,
against the version the form was filled from: a case someone else saved since is refused
there, and the form stays open with the message.

:class:`MarkReadyDialog` asks for the reason to mark an incomplete case ready; what the case
misses is the service's answer (``missing_for_reading``), and so is whether a reason is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import TypeVar

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from workbench.domain import Sex
from workbench.errors import ValidationError
from workbench.services.case_detail import CaseDetail
from workbench.services.cases import CaseChanges, CaseEdit, NewExposure, NewFeature, Readiness
from workbench.ui.dialogs import CaseFormDialog, FormDialog

REASON_LABEL = "Reason for the change"

T = TypeVar("T")


def as_sentence(text: str) -> str:
    """``text`` (one of the readiness rules' items) as a sentence: capitalised, with a full
    stop."""
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _changed(new: T, old: T) -> T | None:
    """``new`` when it differs from ``old``, else ``None`` (:class:`CaseChanges`: unchanged)."""
    return new if new != old else None


class EditCaseDialog(CaseFormDialog):
    """The form that changes a case, filled from ``detail``.

    OK builds the :class:`CaseChanges` of the fields that differ from ``detail`` and calls
    ``save(changes, reason)``, which saves them against ``detail.version`` and returns the
    :class:`CaseEdit`. Emits :attr:`saved` with the registry id and that edit.
    """

    saved = pyqtSignal(str, object)
    """``(registry id, CaseEdit)`` once the change is saved."""

    def __init__(
        self,
        detail: CaseDetail,
        save: Callable[[CaseChanges, str], CaseEdit],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            f"Edit case — {detail.registry_id}",
            "Days are relative to day 0 and may be negative; ages are banded, never exact. "
            "Only the fields you change are saved; the change and its reason go into the "
            "case's history.",
            parent,
        )
        self.detail = detail
        self._save = save

        self.heading = QLabel(
            f"Case <b>{escape(detail.registry_id)}</b> · site {escape(detail.site)} · "
            f"{escape(detail.status.label)}"
        )
        self.index_event_edit = QLineEdit()
        self.index_event_edit.setPlaceholderText("e.g. first MRI suggestive of PML")
        self.index_event_edit.setToolTip("What day 0 of the case is; every day is counted from it")
        self.form.insertRow(self.form.rowCount() - 1, "Day 0 is", self.index_event_edit)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText(
            "Required: why the case changes, e.g. the referral letter gives the age band"
        )
        reason_row = QFormLayout()
        reason_row.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        reason_row.addRow(REASON_LABEL, self.reason_edit)
        self.body.insertWidget(0, self.heading)
        self.body.insertLayout(2, reason_row)
        self.register_field("index event", self.index_event_edit)
        self.register_field("reason", self.reason_edit)
        self.order_tabs(after_readers=(self.index_event_edit,), after=(self.reason_edit,))
        self._fill(detail)
        self.sex_combo.setFocus()

    def _fill(self, detail: CaseDetail) -> None:
        self.sex_combo.setCurrentIndex(self.sex_combo.findData(Sex(detail.sex)))
        self.age_band_edit.setText(detail.age_band)
        self.condition_combo.setCurrentIndex(self.condition_combo.findData(detail.condition))
        self.condition_detail_edit.setText(detail.condition_detail or "")
        self.consistent_combo.setCurrentIndex(
            self.consistent_combo.findData(detail.clinical_consistent)
        )
        # A case may need more readers than a new one is offered; never clip its number.
        self.readers_spin.setMaximum(max(self.readers_spin.maximum(), detail.readers_required))
        self.readers_spin.setValue(detail.readers_required)
        self.index_event_edit.setText(detail.index_event)
        self.summary_edit.setPlainText(detail.clinical_summary or "")
        for e in detail.exposures:
            self.add_exposure_row(
                e.drug,
                e.start_day,
                e.stop_day,
                e.infusion_count,
                e.drug_class,
                e.dosing_schedule,
                e.last_dose_day,
                e.prior,
            )
        for f in detail.features:
            self.add_feature_row(f.feature, f.status, f.onset_day, f.note)
        self.exposures_table.setCurrentCell(-1, -1)
        self.features_table.setCurrentCell(-1, -1)

    def changes(self) -> CaseChanges:
        """What the user changed; raises :class:`ValidationError` naming the field."""
        old = self.detail
        index_event = self.index_event_edit.text().strip()
        if not index_event:
            raise ValidationError(
                "index event: say what day 0 is, e.g. first MRI suggestive of PML",
                field="index event",
            )
        exposures = tuple(self.exposures())
        features = tuple(self.features())
        old_exposures = [
            (
                e.drug,
                e.start_day,
                e.stop_day,
                e.infusion_count,
                e.drug_class,
                e.dosing_schedule,
                e.last_dose_day,
                e.prior,
            )
            for e in old.exposures
        ]
        old_features = [(f.feature, f.status, f.onset_day, f.note) for f in old.features]
        return CaseChanges(
            sex=_changed(self.chosen_sex().value, old.sex),
            age_band=_changed(self.age_band_edit.text().strip(), old.age_band),
            condition=_changed(self.chosen_condition().value, old.condition.value),
            condition_detail=_changed(
                self.condition_detail_edit.text().strip(), old.condition_detail or ""
            ),
            clinical_summary=_changed(
                self.summary_edit.toPlainText().strip(), (old.clinical_summary or "").strip()
            ),
            clinical_consistent=_changed(
                self.consistent_combo.currentData().value, old.clinical_consistent.value
            ),
            index_event=_changed(index_event, old.index_event),
            readers_required=_changed(self.readers_spin.value(), old.readers_required),
            exposures=exposures if _exposure_rows(exposures) != old_exposures else None,
            clinical_features=features if _feature_rows(features) != old_features else None,
        )

    def submit(self) -> None:
        """Send the changes with the reason; announce the saved case."""
        edit = self._save(self.changes(), self.reason_edit.text())
        self.saved.emit(self.detail.registry_id, edit)


def _exposure_rows(exposures: Sequence[NewExposure]) -> list[tuple[object, ...]]:
    return [
        (
            e.drug.strip(),
            e.start_day,
            e.stop_day,
            e.infusion_count,
            e.drug_class,
            e.dosing_schedule,
            e.last_dose_day,
            e.prior,
        )
        for e in exposures
    ]


def _feature_rows(features: Sequence[NewFeature]) -> list[tuple[object, ...]]:
    return [(f.feature.strip(), f.status, f.onset_day, f.note) for f in features]


class MarkReadyDialog(FormDialog):
    """Mark an incomplete case ready for reading, with a reason.

    ``missing`` is what the case misses (the service's sentences). The reason is required
    when something is missing (the service refuses without one, and the refusal outlines the
    field) and optional otherwise. OK calls ``save(reason or None)``; emits :attr:`marked`
    with the registry id once saved.
    """

    marked = pyqtSignal(str, object)
    """``(registry id, Readiness)`` once the case is marked ready."""

    def __init__(
        self,
        registry_id: str,
        missing: Sequence[str],
        save: Callable[[str | None], Readiness],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(f"Mark ready — {registry_id}", parent)
        self.registry_id = registry_id
        self.missing = tuple(missing)
        self._save = save
        if self.missing:
            intro = (
                f"<b>{escape(registry_id)}</b> misses {len(self.missing)} item(s) the "
                "completeness rules ask for:"
            )
            after = (
                "Readers can be assigned to it once it is ready. Marking it ready anyway "
                "needs a reason: the reason and the items overridden go into its history."
            )
            placeholder = "Required: why it may be read without these"
        else:
            intro = f"<b>{escape(registry_id)}</b> meets the completeness rules."
            after = "Readers can be assigned to it once it is ready."
            placeholder = "Optional"
        self.intro_label = QLabel(intro)
        self.intro_label.setWordWrap(True)
        self.missing_label = QLabel("\n".join(f"•  {as_sentence(m)}" for m in self.missing))
        self.missing_label.setWordWrap(True)
        self.missing_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.missing_label.setVisible(bool(self.missing))
        self.missing_label.setContentsMargins(12, 0, 0, 0)
        hint = QLabel(after)
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText(placeholder)
        self.register_field("reason", self.reason_edit)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Reason", self.reason_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro_label)
        layout.addWidget(self.missing_label)
        layout.addWidget(hint)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self.reason_edit.setFocus()

    def submit(self) -> None:
        """Mark the case ready with the reason typed; announce it."""
        reason = self.reason_edit.text().strip() or None
        try:
            found = self._save(reason)
        except ValidationError as exc:
            if exc.field == "reason" and reason is None:
                # The service's refusal lists the items again and names the command line's
                # option; the items are above, so say what to do here.
                raise ValidationError(
                    f"reason: {self.registry_id} is not complete (see above); complete it "
                    "first, or give the reason it may be read anyway",
                    field="reason",
                ) from exc
            raise
        self.marked.emit(self.registry_id, found)
