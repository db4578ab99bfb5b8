"""Annotating lesions in the review workspace: the reader's draft, drawn and saved as they work.

:class:`Annotator` is the registry side of the workspace's "Annotate" toggle (the workspace
itself never touches the registry). Switching it on starts or resumes the reader's draft
read of the case (:func:`workbench.reads.start_or_resume_draft`), puts a
:class:`viewers.labels_edit.LabelEditor` on the grid of the **active viewport's series**
(empty, or the draft's saved labels of that series), draws it over every viewport showing
that series, and shows a :class:`viewers.qt.qt_label_toolbar.QtLabelToolbar` above the grid
and a :class:`LesionTable` beside it.

Saving: a timer saves the whole label map every :data:`AUTOSAVE_MS` when it changed since
the last save, and so does leaving annotation or closing the window. Each save passes the
read's version from the previous one; a :class:`~workbench.registry.errors.ConflictError`
(someone else saved this draft meanwhile) stops autosaving and is shown, and the labels stay
in memory (switching annotation off and on again on the same series keeps them).

Lesion details: the reader's side, location and PML features of each lesion are edited in a
:class:`~workbench.ui.lesion_details.LesionDetailsForm` below the table (for the selected
row) and saved with the labels as :class:`~workbench.reads.LesionDetails`. The side defaults
to the centroid's suggestion; a stored side that differs from the suggestion is read back as
the reader's choice.

Several series: every save hands over the label maps of **all** series of the draft (the
edited one and the others, loaded when annotation starts), since a save replaces the read's
lesions. "Carry lesions to…" copies the edited label map onto another series of the case
(:func:`workbench.lesions.longitudinal.carry_labels`), through the alignment when the review
has one. Labels are unique within a read, so a carried lesion gets a new label and remembers
the lesion it came from as its track (``features["track"]``); the "Δ volume" column compares
a lesion with the lesion of the same track on the same sequence at the nearest other
timepoint of the draft (earlier → later).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.exc import SQLAlchemyError

from adjudication.lesions import Hemisphere, Location
from adjudication.vocabulary import Role
from viewers.image import LabelLayer
from viewers.labels_edit import LabelEditor, VoxelBox
from viewers.measure import LabelStats, label_stats
from viewers.qt.qt_label_toolbar import QtLabelToolbar
from workbench.lesions.longitudinal import (
    TRACK_KEY,
    carry_labels,
    dst_to_src_transform,
    format_change,
    label_volumes,
    track_of,
    volume_pairs,
)
from workbench.lesions.measure import hemisphere_of
from workbench.reads import (
    LesionDetails,
    LesionDraft,
    list_lesions,
    load_draft_labels,
    save_draft,
    start_or_resume_draft,
)
from workbench.registry.db import Registry
from workbench.registry.errors import ConflictError, RegistryError
from workbench.ui.dialogs import user_message
from workbench.ui.lesion_details import LesionDetailsForm, pretty
from workbench.ui.review import ReviewWorkspace
from workbench.ui.theme import ERROR, MUTED
from workbench.users import Actor

AUTOSAVE_MS = 5000
"""How often the draft is saved while it has unsaved changes."""
TABLE_THROTTLE_MS = 200
"""The lesion table is refreshed at most this often while the reader draws."""
OVERLAY_NAME = "Draft lesions"
"""Name of the editable label overlay."""
CENTROID_ROLE = Qt.ItemDataRole.UserRole + 1
"""Item data role of a table row holding the lesion's centroid (LPS mm)."""


@dataclass
class SeriesLabels:
    """The draft's label map of a series other than the edited one, with its details."""

    labels: np.ndarray
    affine: np.ndarray
    details: dict[int, LesionDetails] = field(default_factory=dict)
    volumes: dict[int, float] = field(default_factory=dict)
    """Label → mL (measured when the map is set)."""

    def __post_init__(self) -> None:
        self.volumes = label_volumes(self.labels, self.affine)


def _present(labels: np.ndarray, details: Mapping[int, LesionDetails]) -> dict[int, LesionDetails]:
    """``details`` of the labels that have voxels in ``labels`` (the save refuses others)."""
    present = {int(v) for v in np.unique(labels) if v != 0}
    return {label: d for label, d in details.items() if label in present}


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
                side = said.hemisphere.value if said.hemisphere else stat.hemisphere.value
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 6)
        layout.addWidget(self.title_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.carry_button)
        layout.addWidget(self.details_form)
        layout.addWidget(self.status_label)
        self.setMinimumWidth(360)

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show the save status (an error in red)."""
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {ERROR};" if error else f"color: {MUTED};")


def _stored_details(
    hemisphere: str | None,
    location: str | None,
    features: Mapping[str, object],
    centroid_lps: tuple[float, float, float],
) -> LesionDetails:
    """The reader's details from a stored lesion.

    The registry stores the suggested side when the reader chose none, so a stored side is
    read back as the reader's choice only when it differs from the centroid's suggestion.
    """
    side = None
    if hemisphere:
        try:
            chosen = Hemisphere(hemisphere)
        except ValueError:
            chosen = None
        if chosen is not None and chosen != hemisphere_of(centroid_lps):
            side = chosen
    place = None
    if location:
        try:
            place = Location(location)
        except ValueError:
            place = None
    return LesionDetails(hemisphere=side, location=place, features=dict(features))


class Annotator(QObject):
    """Drives the workspace's "Annotate" toggle against the registry for ``actor``."""

    saved = pyqtSignal(int)
    """``(read version)``: the draft was saved."""

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
        self.can_annotate = Role.READER in actor.roles
        self.editor: LabelEditor | None = None
        self.toolbar: QtLabelToolbar | None = None
        self.layer: LabelLayer | None = None
        self.series_id: str | None = None
        self.registry_id: str | None = None
        self.read_id: int | None = None
        self.version: int | None = None
        self.dirty = False
        self.conflict: str | None = None
        self.last_error: str | None = None
        self.details: dict[int, LesionDetails] = {}
        """The reader's details of the edited series' lesions, by label."""
        self.others: dict[int, SeriesLabels] = {}
        """The draft's label maps of the other series, by series id."""
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
        action = workspace.annotate_action
        action.setEnabled(self.can_annotate)
        if not self.can_annotate:
            action.setToolTip(f"{actor.username} holds no reader role, which annotating needs")
        action.toggled.connect(self._toggled)
        self.panel.table.centroid_selected.connect(self.go_to)
        self.panel.table.label_selected.connect(self._show_details)
        self.panel.details_form.edited.connect(self.set_details)
        self.panel.carry_menu.aboutToShow.connect(self._fill_carry_menu)

    # --- switching on and off ------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether annotation is on (toolbar and table shown)."""
        return self.toolbar is not None

    def _toggled(self, on: bool) -> None:
        if on:
            if not self.start():
                action = self.workspace.annotate_action
                action.blockSignals(True)
                action.setChecked(False)
                action.blockSignals(False)
        else:
            self.stop()

    def set_active(self, on: bool) -> bool:
        """Switch annotation on or off (as the toggle does); returns whether it is on."""
        self.workspace.annotate_action.setChecked(on)
        return self.active

    def _fail(self, text: str) -> None:
        self.last_error = text
        self.panel.set_status(text, error=True)
        self.workspace.problem.emit(text)

    def start(self) -> bool:
        """Start (or resume) the draft and edit the active viewport's series; False on error."""
        if self.active:
            return True
        case = self.workspace.case
        series = self.workspace.active_series()
        if not self.can_annotate:
            self._fail(f"{self.actor.username} holds no reader role, which annotating needs")
            return False
        if case is None or series is None:
            self._fail("Show a series in the active viewport first, then annotate it.")
            return False
        image = self.workspace.image_layer(series.series_id)
        if image is None or image.array.ndim != 3:
            self._fail(f"{series.name} cannot be annotated: its voxels are not a 3-D volume.")
            return False
        keep = (
            self.editor is not None
            and self.registry_id == case.registry_id
            and self.series_id == series.series_id
        )
        try:
            with self.registry.write() as session:
                read = start_or_resume_draft(session, self.actor, case.registry_id)
                read_id, version = read.id, read.version
                reload = not keep or read_id != self.read_id
                saved = (
                    load_draft_labels(session, read_id, int(series.series_id)) if reload else None
                )
                others: dict[int, SeriesLabels] = {}
                summaries = list_lesions(session, read_id) if reload else []
                for sid in sorted({s.series_id for s in summaries}):
                    if sid == int(series.series_id) or case.find(str(sid)) is None:
                        continue
                    found = case.find(str(sid))
                    assert found is not None
                    others[sid] = SeriesLabels(
                        np.asarray(load_draft_labels(session, read_id, sid), dtype=np.uint16),
                        np.array(found.affine, dtype=np.float64).reshape(4, 4),
                    )
        except (RegistryError, SQLAlchemyError, ValueError) as exc:
            self._fail(f"Cannot start the draft: {user_message(exc)}")
            return False
        if reload:
            shape = tuple(image.array.shape[:3])
            labels = np.zeros(shape, dtype=np.uint16)
            if saved is not None and saved.shape == shape:
                labels[...] = saved
            details: dict[int, dict[int, LesionDetails]] = {}
            for summary in summaries:
                details.setdefault(summary.series_id, {})[summary.label] = _stored_details(
                    summary.hemisphere, summary.location, summary.features, summary.centroid_lps
                )
            for sid, other in others.items():
                other.details = _present(other.labels, details.get(sid, {}))
            self.others = others
            self.details = _present(labels, details.get(int(series.series_id), {}))
            used = {int(v) for v in np.unique(labels) if v != 0}
            taken = {label for o in others.values() for label in o.volumes}
            active = min(used) if used else max(taken | {0}) + 1
            self.editor = LabelEditor(labels, image.affine, active_label=active)
            self.editor.events.changed.connect(self._changed)
            self.layer = LabelLayer(OVERLAY_NAME, labels, image.affine)
            self.dirty = False
            self.conflict = None
            self.version = version
        elif self.conflict is None:
            self.version = version
        self.registry_id, self.series_id, self.read_id = case.registry_id, series.series_id, read_id
        assert self.editor is not None
        assert self.layer is not None
        self.workspace.set_label_overlay(series.series_id, self.layer)
        views = self.workspace.views_showing(series.series_id)
        self.toolbar = QtLabelToolbar(self.editor, views, image=image)
        self.toolbar.message.connect(self.workspace.status)
        self.workspace.annotation_top.addWidget(self.toolbar)
        self.panel.title_label.setText(
            f"Lesions on {series.name} — your draft read of {case.registry_id}"
        )
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
        if self.conflict is not None:
            self.panel.set_status(self.conflict, error=True)
        else:
            self.panel.set_status("Draft open; changes are saved every 5 s")
            self.autosave_timer.start()
        self.refresh_table()
        return True

    def stop(self) -> None:
        """Save what changed, then hide the tools (labels stay in memory after a conflict)."""
        if not self.active:
            return
        self.autosave_timer.stop()
        self.table_timer.stop()
        self.save()
        assert self.toolbar is not None
        self.toolbar.release()
        self.toolbar.hide()
        self.workspace.annotation_top.removeWidget(self.toolbar)
        self.toolbar.deleteLater()
        self.toolbar = None
        if self.series_id is not None:
            self.workspace.remove_label_overlay(self.series_id, OVERLAY_NAME)
        self.workspace.annotation_side.hide()
        if self.workspace.annotate_action.isChecked():
            self.workspace.annotate_action.blockSignals(True)
            self.workspace.annotate_action.setChecked(False)
            self.workspace.annotate_action.blockSignals(False)
        if self.conflict is None and not self.dirty:
            self.editor = None  # saved: the registry holds it; reload next time
            self.layer = None

    # --- editing -------------------------------------------------------------------------

    def _changed(self, _box: VoxelBox) -> None:
        self.dirty = True
        if self.table_timer.isActive():
            return
        wait = TABLE_THROTTLE_MS - (time.monotonic() - self._last_refresh) * 1000.0
        if wait <= 0:
            self.refresh_table()
        else:
            self.table_timer.start(int(wait) + 1)

    def refresh_table(self) -> None:
        """Measure the labels now and show one row per lesion."""
        self._last_refresh = time.monotonic()
        if self.editor is None:
            self.panel.table.set_stats([], {})
            return
        stats = label_stats(self.editor.array, self.editor.affine)
        colors: dict[int, tuple[int, int, int, int]] = {}
        if self.toolbar is not None:
            for stat in stats:
                colors[stat.label] = self.toolbar.tools.label_color(stat.label)
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
        form.set_lesion(stat.label, self.details.get(stat.label, LesionDetails()), stat.hemisphere)

    def set_details(self, label: int, details: LesionDetails) -> None:
        """The reader's side, location and features of lesion ``label``; marks the draft dirty."""
        if self.editor is None:
            return
        if self.details.get(label) == details:
            return
        self.details[label] = details
        self.dirty = True
        row = self.panel.table.row_of(label)
        if row is not None:
            self.refresh_table()

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

        Resampled through world space (:func:`carry_labels`); when the review has aligned
        the timepoints, through the alignment: the workspace keeps, per day, the transform
        current world → that day's world, and the carried labels go through
        ``T_source_day @ inv(T_target_day)`` (target world → source world). Each carried
        lesion gets a new label (labels are unique within a read) with the source's side and
        location and its track; a lesion whose track the target already has is skipped, and
        voxels the target already labels are kept. Returns how many lesions were carried
        (None on an error, which is shown).
        """
        case = self.workspace.case
        if self.editor is None or self.series_id is None or case is None:
            self._fail("Switch annotation on first, then carry its lesions.")
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
        dst_affine = np.array(target.affine, dtype=np.float64).reshape(4, 4)
        shape = tuple(int(n) for n in target.shape[:3])
        try:
            carried = carry_labels(
                self.editor.array, self.editor.affine, shape, dst_affine, transform
            )
        except ValueError as exc:
            self._fail(f"Cannot carry the lesions: {exc}")
            return None
        existing = self.others.get(int(series_id))
        labels = (
            np.zeros(shape, dtype=np.uint16)
            if existing is None
            else existing.labels.astype(np.uint16, copy=True)
        )
        details = {} if existing is None else dict(existing.details)
        have_tracks = {
            track_of(label, details.get(label, LesionDetails()).features)
            for label in (existing.volumes if existing is not None else {})
        }
        used = {int(v) for v in np.unique(self.editor.array) if v != 0}
        for other in self.others.values():
            used |= set(other.volumes)
        count = 0
        free = labels == 0
        for label in (int(v) for v in np.unique(carried) if v != 0):
            said = self.details.get(label, LesionDetails())
            track = track_of(label, said.features)
            where = (carried == label) & free
            if track in have_tracks or not np.any(where):
                continue
            new = max(used | {0}) + 1
            used.add(new)
            labels[where] = new
            details[new] = LesionDetails(
                hemisphere=said.hemisphere, location=said.location, features={TRACK_KEY: track}
            )
            count += 1
        self.others[int(series_id)] = SeriesLabels(labels, dst_affine, details)
        self.dirty = True
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

    def save(self) -> bool:
        """Save the label map as the draft's lesions now; False (and shown) on an error.

        A conflict stops autosaving for good; the labels stay in memory.
        """
        if (
            self.editor is None
            or self.read_id is None
            or self.version is None
            or self.series_id is None
            or not self.dirty
            or self.conflict is not None
        ):
            return False
        if self.editor.in_group:
            return False  # a brush drag is open: the next tick saves it whole
        labels = self.editor.array.copy()
        drafts = [LesionDraft(int(self.series_id), labels, _present(labels, self.details))]
        for sid, other in sorted(self.others.items()):
            if other.volumes:
                drafts.append(LesionDraft(sid, other.labels, _present(other.labels, other.details)))
        try:
            with self.registry.write() as session:
                read = save_draft(session, self.actor, self.read_id, self.version, lesions=drafts)
                version = read.version
        except ConflictError as exc:
            self.conflict = (
                f"Draft not saved: {user_message(exc)}. Autosave is off; your lesions are kept "
                "here — reopen the case to continue from the saved draft."
            )
            self.autosave_timer.stop()
            self._fail(self.conflict)
            return False
        except (RegistryError, SQLAlchemyError, ValueError) as exc:
            self._fail(f"Draft not saved: {user_message(exc)} (will retry)")
            return False
        self.version = version
        self.dirty = bool(np.any(self.editor.array != labels))
        self.last_error = None
        stamp = time.strftime("%H:%M:%S")
        self.panel.set_status(f"Draft saved at {stamp}")
        self.workspace.status.emit(f"Draft saved at {stamp}")
        self.saved.emit(version)
        return True

    def shutdown(self) -> None:
        """Save and leave annotation (the window closes)."""
        self.stop()
