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
"""

from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.exc import SQLAlchemyError

from adjudication.vocabulary import Role
from viewers.image import LabelLayer
from viewers.labels_edit import LabelEditor, VoxelBox
from viewers.measure import LabelStats, label_stats
from viewers.qt.qt_label_toolbar import QtLabelToolbar
from workbench.reads import LesionDraft, load_draft_labels, save_draft, start_or_resume_draft
from workbench.registry.db import Registry
from workbench.registry.errors import ConflictError, RegistryError
from workbench.ui.dialogs import user_message
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


class LesionTable(QTableWidget):
    """One row per lesion: colour and label, volume (mL), centroid (LPS mm), hemisphere."""

    centroid_selected = pyqtSignal(object)
    """``(np.ndarray)``: the reader selected the row of a lesion with this centroid."""

    HEADERS = ("Lesion", "mL", "Centroid LPS (mm)", "Side")

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
        self, stats: list[LabelStats], colors: dict[int, tuple[int, int, int, int]]
    ) -> None:
        """Show ``stats`` (one row each); ``colors`` gives each label's RGBA swatch."""
        selected = self.selected_label()
        self.blockSignals(True)
        try:
            self.stats = list(stats)
            self.setRowCount(len(stats))
            for row, stat in enumerate(stats):
                r, g, b, _ = colors.get(stat.label, (200, 200, 200, 255))
                x, y, z = stat.centroid_mm
                cells = (
                    str(stat.label),
                    f"{stat.volume_ml:.3f}",
                    f"{x:.1f}, {y:.1f}, {z:.1f}",
                    stat.hemisphere.value,
                )
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(CENTROID_ROLE, stat.centroid_mm)
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

    def cell_text(self, row: int, column: int) -> str:
        """The text of one cell ("" when empty)."""
        item = self.item(row, column)
        return "" if item is None else item.text()

    def _selected(self) -> None:
        label = self.selected_label()
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
        self.status_label = QLabel("Not saved yet")
        self.status_label.setObjectName("draftStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 6)
        layout.addWidget(self.title_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        self.setMinimumWidth(360)

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show the save status (an error in red)."""
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {ERROR};" if error else f"color: {MUTED};")


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
                saved = None if keep else load_draft_labels(session, read_id, int(series.series_id))
        except (RegistryError, SQLAlchemyError, ValueError) as exc:
            self._fail(f"Cannot start the draft: {user_message(exc)}")
            return False
        if not keep or read_id != self.read_id:
            shape = tuple(image.array.shape[:3])
            labels = np.zeros(shape, dtype=np.uint16)
            if saved is not None and saved.shape == shape:
                labels[...] = saved
            self.editor = LabelEditor(labels, image.affine)
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
            self.workspace.splitter.setSizes([sizes[0], max(sizes[1] - 380, 200), 380])
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
        self.panel.table.set_stats(stats, colors)

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
        try:
            with self.registry.write() as session:
                read = save_draft(
                    session,
                    self.actor,
                    self.read_id,
                    self.version,
                    lesions=[LesionDraft(int(self.series_id), labels)],
                )
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
