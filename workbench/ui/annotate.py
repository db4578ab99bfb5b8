"""Annotating lesions in the review workspace: the reader's draft, drawn and saved as they work.

:class:`Annotator` is the window side of the workspace's "Annotate" toggle (the workspace
itself never touches the registry). It binds the widgets to a
:class:`~workbench.services.draft.DraftSession`, the plain-Python model of the reader's read
(napari's ``QtViewer`` / ``ViewerModel`` pair): switching annotation on opens (starts or
resumes) the reader's draft of the case through the session, puts a
:class:`viewers.labels_edit.LabelEditor` on the session's label map of the **active
viewport's series**, draws it over every viewport showing that series, and shows a
:class:`viewers.qt.qt_label_toolbar.QtLabelToolbar` above the grid and a :class:`LesionTable`
beside it. The editor edits the session's array in place and tells the session which box
changed; the session's events refresh the table. The window asks nothing of the registry
itself: every read, save and permission goes through :mod:`workbench.services`.

Saving: a timer calls :meth:`DraftSession.save` every :data:`AUTOSAVE_MS` when something
changed since the last save, and so does leaving annotation or closing the window; the session
writes only the lesions whose mask or details changed (and deletes those erased), with the
read's version. A :class:`~workbench.errors.ConflictError` (someone else saved this draft
meanwhile) stops autosaving and is shown, and the labels stay in memory (switching annotation
off and on again on the same series keeps them).

Lesion details: the reader's side, location and PML features of each lesion are edited in a
:class:`~workbench.ui.lesion_details.LesionDetailsForm` below the table (for the selected
row) and held by the session as :class:`~workbench.services.reading.LesionDetails`. The side
defaults to the centroid's suggestion; a stored side that differs from the suggestion is read
back as the reader's choice.

Several series: the session holds the label maps of every series the draft has lesions on.
"Carry lesions to…" copies the edited label map onto another series of the case
(:meth:`DraftSession.carry`), through the alignment when the review has one. Labels are unique
within a read, so a carried lesion gets a new label and remembers the lesion it came from as
its track (``features["track"]``); the "Δ volume" column compares a lesion with the lesion of
the same track on the same sequence at the nearest other timepoint of the draft (earlier →
later).

Submitting: "Submit read…" (panel button and Review menu) opens a
:class:`~workbench.ui.read_form.SubmitReadDialog`; its OK saves what changed with the reader's
judgement, confidence and comment and submits the read, in one transaction
(:meth:`DraftSession.submit`; refused: nothing written, the dialog stays open, the labels stay
here). A submitted read is shown read-only (no tools, the lesions still drawn and listed) with
"Correct read…", which asks for a reason (:class:`~workbench.ui.read_form.CorrectReadDialog`),
opens the correction draft (:meth:`DraftSession.start_correction`) and resumes annotating on
it. Controls the policy refuses are greyed out with its reason as their tooltip.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from adjudication.lesions import hemisphere_of
from adjudication.vocabulary import ImagingJudgement
from viewers.image import ImageLayer, LabelLayer, default_color
from viewers.labels_edit import LabelEditor, VoxelBox
from viewers.measure import LabelStats, label_stats
from viewers.qt.qt_label_toolbar import QtLabelToolbar
from workbench.actor import Actor
from workbench.domain import CaseStatus
from workbench.errors import ConflictError, RegistryError, ValidationError
from workbench.policy import Refusal
from workbench.services import Registry
from workbench.services.draft import DraftSession
from workbench.services.reading import (
    MAX_COMMENT_LENGTH,
    LesionDetails,
    dst_to_src_transform,
    format_change,
    may_annotate,
    track_of,
    volume_pairs,
)
from workbench.ui.dialogs import user_message
from workbench.ui.lesion_details import LesionDetailsForm, pretty
from workbench.ui.read_form import (
    CorrectReadDialog,
    ReadChoices,
    SubmitReadDialog,
    SubmitSummary,
    outcome_text,
)
from workbench.ui.theme import ACCENT, ERROR, MUTED
from workbench.ui.workspace import ReviewWorkspace

AUTOSAVE_MS = 5000
"""How often the draft is saved while it has unsaved changes."""
TABLE_THROTTLE_MS = 200
"""The lesion table is refreshed at most this often while the reader draws."""
OVERLAY_NAME = "Draft lesions"
"""Name of the editable label overlay."""
CENTROID_ROLE = Qt.ItemDataRole.UserRole + 1
"""Item data role of a table row holding the lesion's centroid (LPS mm)."""


@dataclass(frozen=True)
class SeriesLabels:
    """The draft's label map of a series other than the edited one, as the session holds it."""

    labels: np.ndarray
    affine: np.ndarray
    details: dict[int, LesionDetails] = field(default_factory=dict)
    volumes: dict[int, float] = field(default_factory=dict)
    """Label → mL."""


class LesionTable(QTableWidget):
    """One row per lesion: colour and label, volume (mL), centroid (LPS mm), side, location,
    and the volume change against the nearest other timepoint of the draft."""

    centroid_selected = pyqtSignal(object)
    """``(np.ndarray)``: the reader selected the row of a lesion with this centroid."""
    label_selected = pyqtSignal(object)
    """``(int | None)``: the selected lesion changed (None: no row selected)."""

    HEADERS = ("Lesion", "mL", "Centroid LPS (mm)", "Side", "Location", "Δ volume")
    SIDE, LOCATION, CHANGE = 3, 4, 5

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setObjectName("lesionTable")
        self.setHorizontalHeaderLabels(list(self.HEADERS))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        vertical = self.verticalHeader()
        assert vertical is not None
        vertical.setVisible(False)
        header = self.horizontalHeader()
        assert header is not None
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.stats: list[LabelStats] = []
        self.itemSelectionChanged.connect(self._selected)

    def set_stats(
        self,
        stats: list[LabelStats],
        colors: dict[int, tuple[int, int, int, int]],
        details: Mapping[int, LesionDetails] | None = None,
        changes: Mapping[int, tuple[str, str]] | None = None,
    ) -> None:
        """Show ``stats`` (one row each); ``colors`` gives each label's RGBA swatch.

        ``details`` gives the reader's side and location per label (side defaults to the
        centroid's); ``changes`` the ``(text, tooltip)`` of the Δ volume per label.
        """
        details = details or {}
        changes = changes or {}
        selected = self.selected_label()
        self.blockSignals(True)
        try:
            self.stats = list(stats)
            self.setRowCount(len(stats))
            for row, stat in enumerate(stats):
                r, g, b, _ = colors.get(stat.label, (200, 200, 200, 255))
                x, y, z = stat.centroid_mm
                said = details.get(stat.label, LesionDetails())
                side = (said.hemisphere or hemisphere_of(stat.centroid_mm)).value
                change, change_tip = changes.get(stat.label, ("", ""))
                cells = (
                    str(stat.label),
                    f"{stat.volume_ml:.3f}",
                    f"{x:.1f}, {y:.1f}, {z:.1f}",
                    side,
                    pretty(said.location.value) if said.location else "",
                    change,
                )
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(CENTROID_ROLE, stat.centroid_mm)
                    if column == self.SIDE:
                        item.setToolTip(
                            "chosen by you" if said.hemisphere else "suggested from the centroid"
                        )
                    elif column == self.CHANGE and change_tip:
                        item.setToolTip(change_tip)
                    if column == 0:
                        item.setData(Qt.ItemDataRole.DecorationRole, QColor(r, g, b))
                        item.setToolTip(f"Lesion {stat.label}: {stat.voxel_count} voxels")
                    else:
                        item.setTextAlignment(
                            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                        )
                    self.setItem(row, column, item)
                if stat.label == selected:
                    self.selectRow(row)
        finally:
            self.blockSignals(False)

    def selected_label(self) -> int | None:
        """The label of the selected row, if any."""
        rows = {index.row() for index in self.selectedIndexes()}
        if len(rows) != 1:
            return None
        row = rows.pop()
        return self.stats[row].label if 0 <= row < len(self.stats) else None

    def select_label(self, label: int) -> bool:
        """Select the row of lesion ``label``; False when there is none."""
        for row, stat in enumerate(self.stats):
            if stat.label == label:
                self.selectRow(row)
                return True
        return False

    def row_of(self, label: int) -> int | None:
        """The row showing lesion ``label``, if any."""
        for row, stat in enumerate(self.stats):
            if stat.label == label:
                return row
        return None

    def cell_text(self, row: int, column: int) -> str:
        """The text of one cell ("" when empty)."""
        item = self.item(row, column)
        return "" if item is None else item.text()

    def _selected(self) -> None:
        label = self.selected_label()
        self.label_selected.emit(label)
        for stat in self.stats:
            if stat.label == label:
                self.centroid_selected.emit(np.array(stat.centroid_mm, dtype=np.float64))
                return


class AnnotationPanel(QWidget):
    """The side panel of annotation: the read it edits, the lesion table, the save status."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title_label = QLabel("Lesions")
        self.title_label.setStyleSheet(f"color: {MUTED};")
        self.title_label.setWordWrap(True)
        self.table = LesionTable()
        self.carry_button = QToolButton()
        self.carry_button.setObjectName("carryLesions")
        self.carry_button.setText("Carry lesions to…")
        self.carry_button.setToolTip(
            "Copy these lesions onto another series of the case (through the alignment, "
            "if any) as the start of its labels"
        )
        self.carry_menu = QMenu(self.carry_button)
        self.carry_button.setMenu(self.carry_menu)
        self.carry_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.details_form = LesionDetailsForm()
        self.status_label = QLabel("Not saved yet")
        self.status_label.setObjectName("draftStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.submit_button = QPushButton("Submit read…")
        self.submit_button.setObjectName("submitRead")
        self.submit_button.setStyleSheet(
            f"QPushButton:enabled {{ background: {ACCENT}; color: #0b0d10; font-weight: 600; "
            "padding: 4px 12px; }"
        )
        self.correct_button = QPushButton("Correct read…")
        self.correct_button.setObjectName("correctRead")
        self.correct_button.hide()
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.correct_button)
        buttons.addWidget(self.submit_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 6)
        layout.addWidget(self.title_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.carry_button)
        layout.addWidget(self.details_form)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.setMinimumWidth(360)

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show the save status (an error in red)."""
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {ERROR};" if error else f"color: {MUTED};")


class Annotator(QObject):
    """Binds the workspace's "Annotate" toggle, the lesion panel and the label editor to the
    reader's :class:`~workbench.services.draft.DraftSession`, for ``actor``."""

    saved = pyqtSignal(int)
    """``(read version)``: the draft was saved."""
    submitted = pyqtSignal(str, str)
    """``(registry id, what happened to the case)``: the read was submitted."""
    correction_started = pyqtSignal(str)
    """``(registry id)``: a correction draft was opened and annotation resumed on it."""

    def __init__(
        self,
        registry: Registry,
        actor: Actor,
        workspace: ReviewWorkspace,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.actor = actor
        self.workspace = workspace
        self.may_annotate: Refusal | None = may_annotate(registry, actor)
        """Why the policy refuses annotating at all (e.g. no reader role), or ``None``."""
        self.draft: DraftSession | None = None
        """The reader's read being annotated (kept while it has unsaved work)."""
        self.editor: LabelEditor | None = None
        self.toolbar: QtLabelToolbar | None = None
        self.layer: LabelLayer | None = None
        self.series_id: str | None = None
        self.last_error: str | None = None
        self.last_dialog: SubmitReadDialog | CorrectReadDialog | None = None
        """The submit or correction dialog opened last (tests drive it)."""
        self._conflict_text: str | None = None
        self._shown = False
        self.panel = AnnotationPanel()
        workspace.annotation_side.layout().addWidget(self.panel)  # type: ignore[union-attr]
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.table_timer = QTimer(self)
        self.table_timer.setSingleShot(True)
        self.table_timer.setInterval(TABLE_THROTTLE_MS)
        self.table_timer.timeout.connect(self.refresh_table)
        self._last_refresh = 0.0
        self.submit_action = QAction("&Submit read…", self)
        self.submit_action.setStatusTip(
            "Say whether the imaging is consistent with PML and submit your read (final)"
        )
        self.submit_action.triggered.connect(lambda: self.open_submit_dialog())
        self.correct_action = QAction("&Correct read…", self)
        self.correct_action.setStatusTip(
            "Open a correction of your submitted read: a new revision, with a reason"
        )
        self.correct_action.triggered.connect(lambda: self.open_correction_dialog())
        self.panel.submit_button.clicked.connect(self.submit_action.trigger)
        self.panel.correct_button.clicked.connect(self.correct_action.trigger)
        action = workspace.annotate_action
        workspace.annotation_allowed = self.can_annotate
        action.setEnabled(self.can_annotate)
        if self.may_annotate is not None:
            action.setToolTip(self.may_annotate.reason)
        action.toggled.connect(self._toggled)
        self.panel.table.centroid_selected.connect(self.go_to)
        self.panel.table.label_selected.connect(self._show_details)
        self.panel.details_form.edited.connect(self.set_details)
        self.panel.carry_menu.aboutToShow.connect(self._fill_carry_menu)
        self._sync_actions()

    @property
    def actions(self) -> list[QAction]:
        """Submit and correct, for the window's Review menu."""
        return [self.submit_action, self.correct_action]

    # --- the read, as the session holds it ------------------------------------------------

    @property
    def can_annotate(self) -> bool:
        """Whether the policy lets the actor annotate at all."""
        return self.may_annotate is None

    @property
    def registry_id(self) -> str | None:
        """The case of the read shown, if any."""
        return None if self.draft is None else self.draft.registry_id

    @property
    def read_id(self) -> int | None:
        """The read shown, if any."""
        return None if self.draft is None else self.draft.read_id

    @property
    def version(self) -> int | None:
        """The read's version as last loaded or saved."""
        return None if self.draft is None else self.draft.version

    @property
    def revision(self) -> int | None:
        """The read's revision (2 and up: a correction)."""
        return None if self.draft is None else self.draft.revision

    @property
    def corrects_revision(self) -> int | None:
        """The revision the open read corrects (a correction draft), if any."""
        return None if self.draft is None else self.draft.corrects_revision

    @property
    def correction_reason(self) -> str | None:
        """Why the open read corrects an earlier one, if it does."""
        return None if self.draft is None else self.draft.correction_reason

    @property
    def submitted_at(self) -> dt.datetime | None:
        """When the read shown was submitted (UTC); set, annotation is read-only."""
        return None if self.draft is None else self.draft.submitted_at

    @property
    def case_status(self) -> CaseStatus | None:
        """The case's status as the reader may see it."""
        return None if self.draft is None else self.draft.case_status

    @property
    def judgement(self) -> ImagingJudgement | None:
        """The read's judgement so far."""
        return None if self.draft is None else self.draft.judgement

    @property
    def confidence(self) -> int | None:
        """The read's confidence so far."""
        return None if self.draft is None else self.draft.confidence

    @property
    def comment(self) -> str | None:
        """The read's comment so far."""
        return None if self.draft is None else self.draft.comment

    @property
    def read_features(self) -> dict[str, Any]:
        """The read-level features."""
        return {} if self.draft is None else dict(self.draft.features)

    @property
    def dirty(self) -> bool:
        """Whether the draft has changes not saved yet."""
        return self.draft is not None and self.draft.dirty

    @property
    def conflict(self) -> str | None:
        """What to tell the reader when saving stopped on a conflict, or ``None``."""
        if self.draft is None or self.draft.conflict is None:
            return None
        return self._conflict_text or self.draft.conflict

    @property
    def details(self) -> Mapping[int, LesionDetails]:
        """The reader's details of the read's lesions, by label."""
        return {} if self.draft is None else self.draft.details

    @property
    def others(self) -> dict[int, SeriesLabels]:
        """The draft's label maps of the series other than the edited one, by series id."""
        draft = self.draft
        if draft is None or self.series_id is None:
            return {}
        here = int(self.series_id)
        return {
            sid: SeriesLabels(
                draft.labels(sid), draft.affine(sid), draft.series_details(sid), draft.volumes(sid)
            )
            for sid in draft.series_ids
            if sid != here
        }

    # --- switching on and off ------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether annotation is on (the lesion panel shown; the tools too unless read-only)."""
        return self._shown

    @property
    def read_only(self) -> bool:
        """Whether the read shown is submitted (no tools, nothing saved)."""
        return self.draft is not None and self.draft.read_only

    def _toggled(self, on: bool) -> None:
        if on:
            if not self.start():
                self._uncheck()
        else:
            self.stop()

    def _uncheck(self) -> None:
        action = self.workspace.annotate_action
        if action.isChecked():
            action.blockSignals(True)
            action.setChecked(False)
            action.blockSignals(False)

    def set_active(self, on: bool) -> bool:
        """Switch annotation on or off (as the toggle does); returns whether it is on."""
        self.workspace.annotate_action.setChecked(on)
        return self.active

    def _fail(self, text: str) -> None:
        self.last_error = text
        self.panel.set_status(text, error=True)
        self.workspace.problem.emit(text)

    def start(self, draft: DraftSession | None = None) -> bool:
        """Open (start or resume) the draft and edit the active viewport's series; False on
        error. ``draft`` is a session opened already (a correction).

        A reader who has submitted their read of the case (and has no correction open) sees
        it read-only, with "Correct read…". Work kept after a conflict or a failed save is
        shown again when the same case is annotated.
        """
        if self.active:
            return True
        case = self.workspace.case
        series = self.workspace.active_series()
        if self.may_annotate is not None:
            self._fail(self.may_annotate.reason)
            return False
        if case is None or series is None:
            self._fail("Show a series in the active viewport first, then annotate it.")
            return False
        image = self.workspace.image_layer(series.series_id)
        if image is None or image.array.ndim != 3:
            self._fail(f"{series.name} cannot be annotated: its voxels are not a 3-D volume.")
            return False
        sid = int(series.series_id)
        held = self.draft
        keep = (
            draft is None
            and held is not None
            and held.registry_id == case.registry_id
            and (held.dirty or held.conflict is not None)
            and (held.conflict is None or self.series_id == series.series_id)
        )
        try:
            if draft is not None:
                draft.ensure_series(sid)
            elif keep:
                assert held is not None
                draft = held
                draft.ensure_series(sid)
            else:
                draft = DraftSession.open(self.registry, self.actor, case.registry_id, [sid])
        except (RegistryError, ValueError) as exc:
            self._fail(f"Cannot start the draft: {user_message(exc)}")
            return False
        labels = draft.labels(sid)
        shape = tuple(image.array.shape[:3])
        if labels.shape != shape:
            self._fail(
                f"{series.name}: the draft's labels lie on a {labels.shape} grid, the images "
                f"shown on {shape}; they cannot be annotated together."
            )
            return False
        reuse = keep and self.editor is not None and self.series_id == series.series_id
        self._bind(draft)
        if not reuse:
            used = draft.labels_on(sid)
            taken = draft.used_labels() - used
            active = min(used) if used else max(taken | {0}) + 1
            self.editor = LabelEditor(labels, image.affine, active_label=active)
            self.editor.events.changed.connect(self._changed)
            self.layer = LabelLayer(OVERLAY_NAME, labels, image.affine)
        self.series_id = series.series_id
        self._show(series.name, image)
        return True

    def _bind(self, draft: DraftSession) -> None:
        """Listen to ``draft`` (and no longer to the session held before)."""
        if self.draft is draft:
            return
        if self.draft is not None:
            self.draft.events.labels.disconnect(self._labels_changed)
            self.draft.events.details.disconnect(self._details_changed)
        self.draft = draft
        self._conflict_text = None
        draft.events.labels.connect(self._labels_changed)
        draft.events.details.connect(self._details_changed)

    def _show(self, series_name: str, image: ImageLayer) -> None:
        assert self.editor is not None
        assert self.layer is not None
        assert self.series_id is not None
        self.workspace.set_label_overlay(self.series_id, self.layer)
        if not self.read_only:
            views = self.workspace.views_showing(self.series_id)
            self.toolbar = QtLabelToolbar(self.editor, views, image=image)
            self.toolbar.message.connect(self.workspace.status)
            self.workspace.annotation_top.addWidget(self.toolbar)
        self._shown = True
        self._set_title(series_name)
        self.workspace.annotation_side.show()
        sizes = self.workspace.splitter.sizes()
        if len(sizes) == 3 and sizes[2] < 360:
            # At 1280 px the grid, the lesion panel and the series list cannot all be wide:
            # while annotating, the series list (rarely needed then) gives up most of its room.
            total = sum(sizes)
            series_list = min(sizes[0], 170)
            panel = 420
            self.workspace.splitter.setSizes(
                [series_list, max(total - series_list - panel, 200), panel]
            )
        if self.read_only:
            self.panel.set_status(self._submitted_text())
        elif self.conflict is not None:
            self.panel.set_status(self.conflict, error=True)
        else:
            self.panel.set_status("Draft open; changes are saved every 5 s")
            self.autosave_timer.start()
        self._sync_actions()
        self.refresh_table()

    def _set_title(self, series_name: str) -> None:
        if self.read_only:
            what = f"your submitted read of {self.registry_id} (revision {self.revision})"
        elif self.corrects_revision is not None:
            what = (
                f"your correction of revision {self.corrects_revision} of {self.registry_id}: "
                f"{self.correction_reason or ''}"
            )
        else:
            what = f"your draft read of {self.registry_id}"
        self.panel.title_label.setText(f"Lesions on {series_name} — {what}")

    def _submitted_text(self, outcome: str | None = None) -> str:
        stamp = "" if self.submitted_at is None else f"{self.submitted_at:%Y-%m-%d %H:%M} UTC"
        text = f"Submitted {stamp} — read-only."
        if outcome:
            text += f" {outcome}."
        if self.case_status is CaseStatus.FINAL:
            text += " The case has a final panel decision."
        else:
            text += " Use “Correct read…” to change it (a new revision, with a reason)."
        return text

    def _remove_tools(self) -> None:
        if self.toolbar is None:
            return
        self.toolbar.release()
        self.toolbar.hide()
        self.workspace.annotation_top.removeWidget(self.toolbar)
        self.toolbar.deleteLater()
        self.toolbar = None

    def _hide(self) -> None:
        """Take the tools, the overlay and the panel away (nothing saved here)."""
        self.autosave_timer.stop()
        self.table_timer.stop()
        self._remove_tools()
        if self.series_id is not None:
            self.workspace.remove_label_overlay(self.series_id, OVERLAY_NAME)
        self.workspace.annotation_side.hide()
        self._shown = False
        self._sync_actions()

    def stop(self) -> None:
        """Save what changed, then hide the tools (labels stay in memory after a conflict)."""
        if not self.active:
            return
        self.autosave_timer.stop()
        self.table_timer.stop()
        self.save()
        self._hide()
        self._uncheck()
        if self.conflict is None and not self.dirty:
            self.editor = None  # saved: the registry holds it; reload next time
            self.layer = None

    def _sync_actions(self) -> None:
        """Submit while a draft is open; correct while the submitted read is shown.

        A control the policy refuses is greyed out with the refusal's reason as its tooltip.
        """
        drafting = self.active and not self.read_only
        self.submit_action.setEnabled(drafting and self.conflict is None)
        refusal = None if self.draft is None else self.draft.may_correct
        correctable = self.active and self.read_only and refusal is None
        self.correct_action.setEnabled(correctable)
        if self.active and self.read_only and refusal is not None:
            self.correct_action.setToolTip(refusal.reason)
        else:
            self.correct_action.setToolTip(self.correct_action.statusTip())
        panel = self.panel
        panel.submit_button.setVisible(not self.read_only)
        panel.submit_button.setEnabled(self.submit_action.isEnabled())
        panel.submit_button.setText(
            "Submit correction…" if self.corrects_revision is not None else "Submit read…"
        )
        panel.correct_button.setVisible(self.read_only)
        panel.correct_button.setEnabled(correctable)
        panel.correct_button.setToolTip(self.correct_action.toolTip())
        panel.carry_button.setEnabled(not self.read_only)
        form = panel.details_form  # enabled while a lesion is selected, unless read-only
        form.setEnabled(form.label is not None and not self.read_only)

    # --- editing -------------------------------------------------------------------------

    def _changed(self, box: VoxelBox) -> None:
        """The editor changed the edited series' labels: tell the session."""
        if self.draft is None or self.series_id is None or self.draft.read_only:
            return
        self.draft.mark_edited(int(self.series_id), box)

    def _labels_changed(self, _series_id: int, _box: VoxelBox) -> None:
        """The session's labels changed: refresh the table, at most every
        :data:`TABLE_THROTTLE_MS`."""
        if self.table_timer.isActive():
            return
        wait = TABLE_THROTTLE_MS - (time.monotonic() - self._last_refresh) * 1000.0
        if wait <= 0:
            self.refresh_table()
        else:
            self.table_timer.start(int(wait) + 1)

    def _details_changed(self, label: int) -> None:
        if self.panel.table.row_of(label) is not None:
            self.refresh_table()

    def refresh_table(self) -> None:
        """Measure the labels now and show one row per lesion."""
        self._last_refresh = time.monotonic()
        if self.editor is None:
            self.panel.table.set_stats([], {})
            return
        stats = label_stats(self.editor.array, self.editor.affine)
        colors: dict[int, tuple[int, int, int, int]] = {}
        for stat in stats:
            if self.toolbar is not None:
                colors[stat.label] = self.toolbar.tools.label_color(stat.label)
            else:  # read-only: no tools, the overlay's colours
                colors[stat.label] = default_color(stat.label)
        volumes = {stat.label: stat.volume_ml for stat in stats}
        table = self.panel.table
        table.set_stats(stats, colors, self.details, self.volume_changes(volumes))
        self._show_details(table.selected_label())

    def volume_changes(self, volumes: Mapping[int, float]) -> dict[int, tuple[str, str]]:
        """``(text, tooltip)`` of the Δ volume of each edited lesion with a counterpart.

        The counterpart is the lesion of the same track on a series of the same sequence
        class at the nearest other timepoint of the draft; the change runs from the earlier
        timepoint to the later one.
        """
        case = self.workspace.case
        here = None if case is None or self.series_id is None else case.find(self.series_id)
        if case is None or here is None:
            return {}
        best: tuple[int, int, SeriesLabels] | None = None
        for sid, other in self.others.items():
            series = case.find(str(sid))
            if (
                series is None
                or series.sequence_class != here.sequence_class
                or series.day == here.day
                or not other.volumes
            ):
                continue
            key = (abs(series.day - here.day), series.day)
            if best is None or key < best[:2]:
                best = (key[0], series.day, other)
        if best is None:
            return {}
        _, day, other = best
        own_tracks = {
            label: track_of(label, self.details.get(label, LesionDetails()).features)
            for label in volumes
        }
        other_tracks = {
            label: track_of(label, other.details.get(label, LesionDetails()).features)
            for label in other.volumes
        }
        if day < here.day:
            pairs = volume_pairs(other.volumes, volumes, other_tracks, own_tracks)
        else:
            pairs = volume_pairs(volumes, other.volumes, own_tracks, other_tracks)
        tip = f"from day {min(day, here.day)} to day {max(day, here.day)}"
        changes: dict[int, tuple[str, str]] = {}
        for label, track in own_tracks.items():
            change = pairs.get(track)
            if change is not None:
                changes[label] = (
                    format_change(change),
                    f"{tip}: {change.before_ml:.3f} → {change.after_ml:.3f} mL",
                )
        return changes

    # --- lesion details ------------------------------------------------------------------

    def _show_details(self, label: object) -> None:
        form = self.panel.details_form
        stat = next((s for s in self.panel.table.stats if s.label == label), None)
        if stat is None:
            if form.label is not None:
                form.set_lesion(None, LesionDetails(), None)
            return
        suggested = hemisphere_of(stat.centroid_mm)
        form.set_lesion(stat.label, self.details.get(stat.label, LesionDetails()), suggested)
        if self.read_only:
            form.setEnabled(False)  # a submitted read's details are shown, not edited

    def set_details(self, label: int, details: LesionDetails) -> None:
        """The reader's side, location and features of lesion ``label`` of the edited series."""
        if self.editor is None or self.draft is None or self.read_only or self.series_id is None:
            return
        self.draft.set_details(int(self.series_id), label, details)

    # --- carrying to another series ------------------------------------------------------

    def carry_targets(self) -> list[tuple[str, str]]:
        """``(series id, name)`` of every series the lesions can be carried to."""
        case = self.workspace.case
        if case is None or self.series_id is None:
            return []
        return [
            (series.series_id, series.name)
            for series in case.series
            if series.series_id != self.series_id and len(series.shape) >= 3
        ]

    def _fill_carry_menu(self) -> None:
        menu = self.panel.carry_menu
        menu.clear()
        targets = self.carry_targets()
        if not targets:
            menu.addAction("No other series").setEnabled(False)  # type: ignore[union-attr]
        for series_id, name in targets:
            action = menu.addAction(name)
            assert action is not None
            action.triggered.connect(lambda _=False, sid=series_id: self.carry_to(sid))

    def carry_to(self, series_id: str) -> int | None:
        """Copy the edited lesions onto series ``series_id`` of the case, then save.

        Resampled through world space by :meth:`DraftSession.carry`; when the review has
        aligned the timepoints, through the alignment: the workspace keeps, per day, the
        transform current world → that day's world, and the carried labels go through
        ``T_source_day @ inv(T_target_day)`` (target world → source world). Each carried
        lesion gets a new label (labels are unique within a read) with the source's side and
        location and its track; a lesion whose track the target already has is skipped, and
        voxels the target already labels are kept. Returns how many lesions were carried
        (None on an error, which is shown).
        """
        case = self.workspace.case
        draft = self.draft
        if self.editor is None or self.series_id is None or case is None or draft is None:
            self._fail("Switch annotation on first, then carry its lesions.")
            return None
        if self.read_only:
            self._fail("This read is submitted: correct it first, then carry its lesions.")
            return None
        source, target = case.find(self.series_id), case.find(series_id)
        if source is None or target is None or series_id == self.series_id:
            self._fail(f"Cannot carry the lesions to series {series_id}.")
            return None
        if len(target.shape) < 3:
            self._fail(f"{target.name} is not a 3-D volume.")
            return None
        transforms = {}
        for timepoint in case.timepoints:
            for series in timepoint.series:
                matrix = self.workspace.alignment_transform(series.day)
                if matrix is not None:
                    transforms[series.day] = matrix
        transform = dst_to_src_transform(transforms, source.day, target.day)
        try:
            count = draft.carry(int(self.series_id), int(series_id), transform)
        except (RegistryError, ValueError) as exc:
            self._fail(f"Cannot carry the lesions: {user_message(exc)}")
            return None
        how = "through the alignment" if transform is not None else "by scanner coordinates"
        text = f"Carried {count} lesion(s) to {target.name} ({how})"
        self.workspace.status.emit(text)
        self.save()
        self.refresh_table()
        return count

    def go_to(self, centroid_mm: np.ndarray) -> None:
        """Move the linked cursor (every viewport) to ``centroid_mm`` of the edited series."""
        if self.series_id is None:
            return
        views = self.workspace.views_showing(self.series_id)
        if views:
            views[0].set_cursor(centroid_mm)

    # --- saving --------------------------------------------------------------------------

    def autosave(self) -> bool:
        """The timer's slot: save when something changed since the last save."""
        if not self.dirty or self.conflict is not None:
            return False
        return self.save()

    def _conflicted(self, exc: ConflictError) -> None:
        self._conflict_text = (
            f"Draft not saved: {user_message(exc)}. Autosave is off; your lesions are kept "
            "here — reopen the case to continue from the saved draft."
        )
        self.autosave_timer.stop()
        self._fail(self._conflict_text)
        self._sync_actions()

    def save(self) -> bool:
        """Save what changed in the draft now; False (and shown) on an error.

        The session writes only the lesions whose mask or details changed, and the reader's
        choices if they changed. A conflict stops autosaving for good; the labels stay in
        memory. A submitted read is never saved.
        """
        draft = self.draft
        if (
            self.editor is None
            or draft is None
            or self.series_id is None
            or not draft.dirty
            or draft.conflict is not None
            or draft.read_only
        ):
            return False
        if self.editor.in_group:
            return False  # a brush drag is open: the next tick saves it whole
        try:
            draft.save()
        except ConflictError as exc:
            self._conflicted(exc)
            return False
        except (RegistryError, ValueError) as exc:
            self._fail(f"Draft not saved: {user_message(exc)} (will retry)")
            return False
        self.last_error = None
        stamp = time.strftime("%H:%M:%S")
        self.panel.set_status(f"Draft saved at {stamp}")
        self.workspace.status.emit(f"Draft saved at {stamp}")
        self.saved.emit(draft.version)
        return True

    # --- submitting and correcting ---------------------------------------------------------

    def submit_summary(self) -> SubmitSummary:
        """What "Submit read…" would submit now: lesions, total volume, series."""
        case = self.workspace.case
        if self.editor is None or self.series_id is None or self.registry_id is None:
            raise ValidationError("Switch annotation on first, then submit your read.")
        stats = label_stats(self.editor.array, self.editor.affine)
        others = self.others
        count = len(stats) + sum(len(o.volumes) for o in others.values())
        total = sum(s.volume_ml for s in stats) + sum(
            sum(o.volumes.values()) for o in others.values()
        )
        ids = [self.series_id] if stats or not any(o.volumes for o in others.values()) else []
        ids += [str(sid) for sid, o in sorted(others.items()) if o.volumes]
        names = []
        for sid in ids:
            found = None if case is None else case.find(sid)
            if found is None:
                names.append(f"series {sid}")
            elif found.description:
                names.append(f"{found.name} ({found.description})")
            else:
                names.append(found.name)
        return SubmitSummary(
            registry_id=self.registry_id,
            revision=self.revision or 1,
            lesion_count=count,
            total_ml=float(total),
            series=tuple(dict.fromkeys(names)),
            corrects_revision=self.corrects_revision,
            correction_reason=self.correction_reason,
        )

    def open_submit_dialog(self) -> SubmitReadDialog | None:
        """Open the submit dialog for the open draft (non-blocking); None when there is none.

        The draft's judgement, confidence and comment are restored into it; what the reader
        enters and then cancels is kept in the draft (saved at once).
        """
        if not self.active or self.read_only:
            self._fail("Open your draft read (Annotate) first, then submit it.")
            return None
        try:
            summary = self.submit_summary()
        except ValidationError as exc:
            self._fail(str(exc))
            return None
        dialog = SubmitReadDialog(
            summary,
            self.submit,
            self.workspace,
            judgement=self.judgement,
            confidence=self.confidence,
            comment=self.comment,
        )
        dialog.rejected.connect(lambda d=dialog: self._keep_choices(d))
        self.last_dialog = dialog
        dialog.open()
        return dialog

    def _keep_choices(self, dialog: SubmitReadDialog) -> None:
        """Keep what a cancelled submit dialog held in the draft, saved at once."""
        if self.read_only or self.editor is None or self.draft is None:
            return
        comment = dialog.comment()
        if comment is not None and len(comment) > MAX_COMMENT_LENGTH:
            return  # the save would refuse it; the dialog says why when submitting
        values = (dialog.judgement(), dialog.confidence(), comment)
        if values != (self.judgement, self.confidence, self.comment):
            try:
                self.draft.set_choices(*values)
            except ValidationError:
                return
            self.save()  # now, rather than at the next tick: a cancel is a pause

    def submit(self, choices: ReadChoices) -> str:
        """Save what changed with ``choices``, then submit the read (one transaction).

        Refused, nothing is written and the labels stay here. Raises what the registry
        raises (:class:`ConflictError`, :class:`ValidationError`), after telling the window.
        Returns what happened to the case, also shown in the panel and the status bar;
        annotation of the read is read-only afterwards.
        """
        draft = self.draft
        if self.read_only or draft is None:
            raise ValidationError("There is no open draft to submit; switch annotation on.")
        if self.conflict is not None:
            raise ConflictError(self.conflict)
        assert self.editor is not None
        if self.editor.in_group:
            raise ValidationError("A drawing stroke is still open; finish it, then submit.")
        try:
            result = draft.submit(choices.judgement, choices.confidence, choices.comment)
        except ConflictError as exc:
            self._conflicted(exc)
            raise
        except RegistryError as exc:
            self.last_error = f"Read not submitted: {user_message(exc)}"
            self.workspace.problem.emit(self.last_error)
            raise
        outcome = outcome_text(result.assessment, result.outstanding, correction=result.correction)
        self.last_error = None
        self.autosave_timer.stop()
        self.table_timer.stop()
        self._remove_tools()
        series = (
            None if self.workspace.case is None else self.workspace.case.find(self.series_id or "")
        )
        self._set_title(series.name if series is not None else "")
        self.panel.set_status(self._submitted_text(outcome))
        self._sync_actions()
        self.refresh_table()
        self.workspace.status.emit(outcome)
        self.submitted.emit(result.registry_id, outcome)
        return outcome

    def open_correction_dialog(self) -> CorrectReadDialog | None:
        """Ask for the reason of a correction of the submitted read shown (non-blocking)."""
        if not self.active or not self.read_only or self.registry_id is None:
            self._fail("Show your submitted read (Annotate) first, then correct it.")
            return None
        stamp = "" if self.submitted_at is None else f"{self.submitted_at:%Y-%m-%d %H:%M} UTC"
        dialog = CorrectReadDialog(
            self.registry_id, self.revision or 1, stamp, self.start_correction, self.workspace
        )
        self.last_dialog = dialog
        dialog.open()
        return dialog

    def start_correction(self, reason: str) -> None:
        """Open a correction of the submitted read shown, then annotate the correction draft.

        Raises what the registry raises (no reason, a final case, …), after telling the
        window; nothing changes here then.
        """
        draft = self.draft
        if not self.read_only or draft is None:
            raise ValidationError("Only your submitted read can be corrected.")
        try:
            correction = draft.start_correction(reason)
        except RegistryError as exc:
            self.last_error = f"Correction not started: {user_message(exc)}"
            self.workspace.problem.emit(self.last_error)
            raise
        registry_id = draft.registry_id
        self._hide()
        self.editor = None  # the correction draft is shown afresh
        self.layer = None
        if not self.start(correction):
            self._uncheck()
            return
        self.workspace.status.emit(
            f"Correcting your read of {registry_id}: revision {self.revision}"
        )
        self.correction_started.emit(registry_id)

    def shutdown(self) -> None:
        """Save and leave annotation (the window closes)."""
        self.stop()
