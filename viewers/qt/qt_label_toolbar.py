"""``QtLabelToolbar``: the lesion-drawing toolbar, the widget of ``LabelTools``.

Bound to one :class:`viewers.labels_edit.LabelEditor` and a set of
:class:`viewers.view.SliceView` s (through a :class:`LabelTools`, made here when an editor is
given). Two rows:

1. the tools (navigate, brush, eraser, polygon, grow; choosing one sets it on every view),
   the brush radius in mm and 2D/3D, the grow tolerance (a slider; the preview follows it
   live) with Apply and Cancel;
2. the active label (number, colour swatch, "New lesion" = next free label), Undo and Redo
   (``QAction`` s on Ctrl+Z and Ctrl+Shift+Z, disabled while an edit such as a brush drag is
   in progress) and the whole-label operations on the active label: fill holes, remove
   islands, split, merge another lesion into it, delete; then a status line.

Binding both ways, as the slice views do: a control sets the model; the model's events
(:class:`viewers.label_tools.LabelToolsEvents`) update the controls with their Qt signals
blocked, so nothing loops. Changes made in a view (Shift+wheel radius or tolerance, Enter
applying a preview) reach the toolbar the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QLabel,
    QMenu,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from viewers.grow import GrowPreview
from viewers.image import ImageLayer
from viewers.label_tools import LabelTools, ToolKind
from viewers.labels_edit import LabelEditor
from viewers.tools import Brush
from viewers.view import SliceView

TOLERANCE_STEPS = 10
"""Slider positions per unit of grow tolerance (0.1 steps)."""
TOLERANCE_MAX = 10.0
"""Largest tolerance the slider offers."""

_STYLE = """
QWidget#labelToolbar { background: #16191d; border-bottom: 1px solid #2a2f36; }
QToolBar { background: #16191d; border: none; spacing: 3px; padding: 1px 4px; }
QToolBar::separator { background: #2a2f36; width: 1px; margin: 4px 6px; }
QLabel { color: #9aa3ad; }
QLabel#labelStatus { color: #d8dde3; padding-left: 6px; }
QToolButton { color: #d8dde3; background: #22262c; border: 1px solid #3a4048;
              border-radius: 3px; padding: 2px 8px; min-height: 18px; }
QToolButton:hover { background: #2c323a; }
QToolButton:checked { color: #0b0d10; background: #4fa3ff; border-color: #4fa3ff; }
QToolButton:disabled { color: #5a626c; background: #1b1f24; border-color: #2a2f36; }
QToolButton::menu-indicator { image: none; }
QDoubleSpinBox, QSpinBox { color: #d8dde3; background: #22262c; border: 1px solid #3a4048;
                           border-radius: 3px; padding: 1px 4px; min-height: 18px; }
QSlider::groove:horizontal { height: 4px; background: #3a4048; border-radius: 2px; }
QSlider::sub-page:horizontal { background: #4fa3ff; border-radius: 2px; }
QSlider::handle:horizontal { background: #d8dde3; width: 12px; margin: -5px 0;
                             border-radius: 6px; }
QMenu { color: #d8dde3; background: #22262c; border: 1px solid #3a4048; }
QMenu::item:selected { background: #34506e; }
"""

_TOOL_TEXT = {
    ToolKind.NAVIGATE: ("Navigate", "Clicks and drags move the cursor; no editing"),
    ToolKind.BRUSH: ("Brush", "Left drag paints the active lesion (Shift+wheel: radius)"),
    ToolKind.ERASER: ("Eraser", "Left drag erases labels (Shift+wheel: radius)"),
    ToolKind.POLYGON: (
        "Polygon",
        "Click corners; click the first corner, right click or Enter fills the slice inside",
    ),
    ToolKind.GROW: (
        "Grow",
        "Click a lesion to preview the grown region; Shift+wheel or the slider sets the "
        "tolerance; Enter applies, Escape cancels",
    ),
}


@contextmanager
def _blocked(*objects: QObject) -> Iterator[None]:
    """Block the Qt signals of ``objects`` inside the block (model → widget updates)."""
    previous = [o.blockSignals(True) for o in objects]
    try:
        yield
    finally:
        for o, was in zip(objects, previous, strict=True):
            o.blockSignals(was)


class QtLabelToolbar(QWidget):
    """Drawing tools, label choice, undo/redo and label operations for a set of views.

    ``editor``: the label editor, or a ready :class:`LabelTools` (then ``views`` and ``image``
    are added to it). ``views``: the models to draw in (their label layers that share the
    editor's array are refreshed after every edit). ``image``: what click-to-grow grows on
    (default: the first view's image on the editor's grid).
    """

    message = pyqtSignal(str)
    """``(text)``: what the last operation did (also shown in the toolbar's status line)."""

    def __init__(
        self,
        editor: LabelEditor | LabelTools,
        views: Iterable[SliceView] = (),
        parent: QWidget | None = None,
        *,
        image: np.ndarray | ImageLayer | None = None,
    ) -> None:
        super().__init__(parent)
        if isinstance(editor, LabelTools):
            self._tools = editor
            for view in views:
                editor.add_view(view)
            if image is not None:
                editor.set_grow_image(image)
        else:
            self._tools = LabelTools(editor, views, image=image)
        self.setObjectName("labelToolbar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(_STYLE)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._build_tool_row()
        self._build_label_row()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 2, 0, 2)
        column.setSpacing(0)
        column.addWidget(self.tool_row)
        column.addWidget(self.label_row)
        self._bind()

    # --- building ------------------------------------------------------------------------------

    def _row(self, name: str) -> QToolBar:
        row = QToolBar(name, self)
        row.setMovable(False)
        row.setFloatable(False)
        row.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        row.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return row

    def _action(self, row: QToolBar, text: str, tip: str) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        row.addAction(action)
        button = row.widgetForAction(action)
        if button is not None:
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return action

    def _build_tool_row(self) -> None:
        row = self.tool_row = self._row("Drawing tools")
        self.tool_group = QActionGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_actions: dict[ToolKind, QAction] = {}
        """The checkable action of each tool."""
        for kind in ToolKind:
            text, tip = _TOOL_TEXT[kind]
            action = self._action(row, text, tip)
            action.setCheckable(True)
            action.setData(kind.value)
            self.tool_group.addAction(action)
            self.tool_actions[kind] = action
        row.addSeparator()
        row.addWidget(QLabel("Radius"))
        self.radius_box = QDoubleSpinBox()
        self.radius_box.setRange(Brush.MIN_RADIUS_MM, Brush.MAX_RADIUS_MM)
        self.radius_box.setSingleStep(self._tools.brush.radius_step_mm)
        self.radius_box.setDecimals(1)
        self.radius_box.setSuffix(" mm")
        self.radius_box.setToolTip("Brush and eraser radius (Alt+- / Alt+=, Shift+wheel)")
        self.radius_box.setKeyboardTracking(False)
        row.addWidget(self.radius_box)
        self.sphere_action = self._action(
            row, "3D", "Sphere brush: paints the neighbouring slices too (off: a disc on the slice)"
        )
        self.sphere_action.setCheckable(True)
        row.addSeparator()
        row.addWidget(QLabel("Tolerance"))
        self.tolerance_slider = QSlider(Qt.Orientation.Horizontal)
        self.tolerance_slider.setRange(0, round(TOLERANCE_MAX * TOLERANCE_STEPS))
        self.tolerance_slider.setFixedWidth(120)
        self.tolerance_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tolerance_slider.setToolTip("Grow tolerance: larger grows further (live preview)")
        row.addWidget(self.tolerance_slider)
        self.tolerance_label = QLabel()
        self.tolerance_label.setMinimumWidth(28)
        row.addWidget(self.tolerance_label)
        self.apply_action = self._action(row, "Apply", "Write the grow preview (Enter)")
        self.cancel_action = self._action(row, "Cancel", "Drop the grow preview (Escape)")

    def _build_label_row(self) -> None:
        row = self.label_row = self._row("Lesion labels")
        row.addWidget(QLabel("Lesion"))
        self.swatch = QLabel()
        self.swatch.setFixedSize(14, 14)
        row.addWidget(self.swatch)
        self.label_box = QSpinBox()
        self.label_box.setRange(1, min(self._tools.editor.label_limit, 2**31 - 1))
        self.label_box.setToolTip("The active lesion label: what the tools draw")
        self.label_box.setKeyboardTracking(False)
        row.addWidget(self.label_box)
        self.new_action = self._action(
            row, "New lesion", "Draw a new lesion: the next free label becomes active"
        )
        row.addSeparator()
        self.undo_action = self._action(
            row, "Undo", "Undo the last edit (a brush drag is one step)"
        )
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self._action(row, "Redo", "Redo the last undone edit")
        self.redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        row.addSeparator()
        self.fill_action = self._action(row, "Fill holes", "Fill the holes of the active lesion")
        self.islands_action = self._action(
            row, "Remove islands", "Keep only the largest connected part of the active lesion"
        )
        self.split_action = self._action(
            row, "Split", "Make each connected part of the active lesion a lesion of its own"
        )
        self.merge_menu = QMenu(self)
        self.merge_action = self._action(row, "Merge ▾", "Merge another lesion into the active one")
        self.merge_action.setMenu(self.merge_menu)
        merge_button = row.widgetForAction(self.merge_action)
        if isinstance(merge_button, QToolButton):
            merge_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.delete_action = self._action(row, "Delete", "Erase the active lesion")
        self.status = QLabel()
        self.status.setObjectName("labelStatus")
        self.status.setMinimumWidth(160)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(self.status)

    def _bind(self) -> None:
        tools = self._tools
        for kind, action in self.tool_actions.items():
            action.triggered.connect(lambda _=False, k=kind: self._choose(k))
        self.radius_box.valueChanged.connect(tools.set_brush_radius_mm)
        self.sphere_action.toggled.connect(tools.set_brush_3d)
        self.tolerance_slider.valueChanged.connect(
            lambda value: tools.set_tolerance(value / TOLERANCE_STEPS)
        )
        self.apply_action.triggered.connect(tools.apply_grow)
        self.cancel_action.triggered.connect(tools.cancel)
        self.label_box.valueChanged.connect(tools.set_active_label)
        self.new_action.triggered.connect(tools.new_lesion)
        self.undo_action.triggered.connect(tools.undo)
        self.redo_action.triggered.connect(tools.redo)
        self.fill_action.triggered.connect(tools.fill_holes)
        self.islands_action.triggered.connect(tools.remove_islands)
        self.split_action.triggered.connect(tools.split)
        self.delete_action.triggered.connect(tools.delete_active)
        self.merge_menu.aboutToShow.connect(self._fill_merge_menu)
        tools.events.kind.connect(self._sync_kind)
        tools.events.settings.connect(self._sync_settings)
        tools.events.history.connect(self._sync_history)
        tools.events.preview.connect(self._sync_preview)
        tools.events.message.connect(self._show_message)
        self._sync_kind()
        self._sync_settings()
        self._sync_history()
        self._sync_preview(tools.preview)

    # --- the model -----------------------------------------------------------------------------

    @property
    def tools(self) -> LabelTools:
        """The model: tools, settings and views."""
        return self._tools

    @property
    def editor(self) -> LabelEditor:
        """The label editor drawn into."""
        return self._tools.editor

    def set_tool(self, kind: ToolKind | str) -> bool:
        """Hold tool ``kind`` on every view (as clicking its button does); False if unavailable."""
        return self._choose(ToolKind(kind))

    def release(self) -> None:
        """Stop driving the views and listening to the model (before deleting the widget)."""
        events = self._tools.events
        events.kind.disconnect(self._sync_kind)
        events.settings.disconnect(self._sync_settings)
        events.history.disconnect(self._sync_history)
        events.preview.disconnect(self._sync_preview)
        events.message.disconnect(self._show_message)
        self._tools.release()

    # --- widget → model ------------------------------------------------------------------------

    def _choose(self, kind: ToolKind) -> bool:
        done = self._tools.set_kind(kind)
        self._sync_kind()  # the model may have refused (grow without an image)
        return done

    def _fill_merge_menu(self) -> None:
        self.merge_menu.clear()
        others = self._tools.other_labels()
        if not others:
            empty = self.merge_menu.addAction("No other lesion")
            if empty is not None:
                empty.setEnabled(False)
            return
        active = self._tools.active_label
        for label in others:
            action = self.merge_menu.addAction(f"Lesion {label} into lesion {active}")
            if action is not None:
                action.triggered.connect(
                    lambda _=False, source=label: self._tools.merge_into_active(source)
                )

    # --- model → widget ------------------------------------------------------------------------

    def _sync_kind(self, *_: object) -> None:
        # Not blocked: the exclusive group unchecks the others through ``toggled``, and the
        # model is set only from ``triggered``, which ``setChecked`` does not emit.
        self.tool_actions[self._tools.kind].setChecked(True)
        self._sync_preview(self._tools.preview)

    def _sync_settings(self) -> None:
        tools = self._tools
        with _blocked(self.radius_box, self.sphere_action, self.tolerance_slider, self.label_box):
            self.radius_box.setValue(tools.brush_radius_mm)
            self.sphere_action.setChecked(tools.brush_3d)
            self.tolerance_slider.setValue(round(tools.tolerance * TOLERANCE_STEPS))
            self.label_box.setValue(tools.active_label)
        self.tolerance_label.setText(f"{tools.tolerance:.1f}")
        r, g, b, _ = tools.label_color(tools.active_label)
        self.swatch.setStyleSheet(
            f"background: rgb({r}, {g}, {b}); border: 1px solid #0b0d10; border-radius: 2px;"
        )

    def _sync_history(self) -> None:
        tools = self._tools
        self.undo_action.setEnabled(tools.can_undo)
        self.redo_action.setEnabled(tools.can_redo)
        idle = not tools.editor.in_group
        for action in (
            self.fill_action,
            self.islands_action,
            self.split_action,
            self.merge_action,
            self.delete_action,
            self.new_action,
        ):
            action.setEnabled(idle)

    def _sync_preview(self, preview: GrowPreview | None) -> None:
        has = preview is not None
        self.apply_action.setEnabled(has)
        self.cancel_action.setEnabled(has)
        if preview is not None:
            ml = preview.voxel_count * self._tools.editor.voxel_volume_mm3 / 1000.0
            self.status.setText(f"Preview: {preview.voxel_count} voxels ({ml:.2f} mL)")

    def _show_message(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)
        self.message.emit(text)
