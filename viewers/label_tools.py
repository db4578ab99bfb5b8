"""``LabelTools``: the editing state a set of views shares, with no toolkit in it.

One :class:`viewers.labels_edit.LabelEditor` (the lesion map being drawn), the views that
show it, and the tool the reader holds (:class:`ToolKind`: navigate, brush, eraser,
polygon, grow). Choosing a tool sets it on every view (``SliceView.set_tool``); every edit,
undo and redo refreshes every view that shows a label layer sharing the editor's array,
passing the edited box so no view rescans the label map (``SliceView.labels_changed``).

Settings live here so they survive switching tools: the brush radius (brush and eraser
share it) and shape (2D disc or 3D sphere), the grow tolerance, the active label ("new
lesion" takes the next free label). The whole-label operations of
:mod:`viewers.label_ops` act on the active label. Changes made inside a view (Shift+wheel,
Alt+-/=) are noticed when the view reports a change, so a toolbar can follow them.

``viewers.qt.QtLabelToolbar`` is the widget of this model: it sets the model from its
controls and updates its controls from :attr:`LabelTools.events`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import numpy as np

from viewers.events import Signal
from viewers.grow import GrowPreview, GrowTool
from viewers.image import RGBA, ImageLayer, default_color
from viewers.interaction import PointerTool
from viewers.label_ops import delete_label, fill_holes, merge_labels, remove_islands, split_label
from viewers.labels_edit import EditorError, LabelEditor, VoxelBox
from viewers.tools import Brush, BrushShape, PolygonTool, top_label_in
from viewers.view import SliceView


class ToolKind(enum.StrEnum):
    """The tool the reader holds."""

    NAVIGATE = "navigate"
    """No editing tool: clicks and drags move the cursor, as without a toolbar."""
    BRUSH = "brush"
    """Paint the active label (left drag)."""
    ERASER = "eraser"
    """Erase labels (left drag)."""
    POLYGON = "polygon"
    """Click corners; close to fill the slice inside with the active label."""
    GROW = "grow"
    """Click a lesion to preview a grown region; Enter applies it."""


class LabelToolsEvents:
    """The signals of a :class:`LabelTools`."""

    def __init__(self) -> None:
        self.kind = Signal()
        """``(kind: ToolKind)``: another tool was chosen."""
        self.settings = Signal()
        """``()``: brush radius or shape, grow tolerance or active label changed."""
        self.history = Signal()
        """``()``: what undo and redo can do may have changed (also while a drag is open)."""
        self.preview = Signal()
        """``(preview: GrowPreview | None)``: the grow preview changed."""
        self.message = Signal()
        """``(text: str)``: what an operation did, for a status line."""


def shares_array(layer_array: np.ndarray, editor: LabelEditor) -> bool:
    """True when a label layer's array is the editor's (or a view of the same memory)."""
    array = editor.array
    return layer_array is array or (
        layer_array.shape == array.shape and np.may_share_memory(layer_array, array)
    )


class LabelTools:
    """The tools, settings and views of one label editor (see the module docstring).

    ``image``: what click-to-grow grows on (a 3D array or an :class:`ImageLayer` on the
    editor's grid); by default the first view's image that is on that grid. Without one,
    :attr:`can_grow` is False.
    """

    def __init__(
        self,
        editor: LabelEditor,
        views: Iterable[SliceView] = (),
        *,
        image: np.ndarray | ImageLayer | None = None,
        brush_radius_mm: float = 2.0,
        tolerance: float = 2.5,
    ) -> None:
        self.editor = editor
        self.events = LabelToolsEvents()
        self.brush = Brush(editor, radius_mm=brush_radius_mm)
        """The brush (left drag paints the active label)."""
        self.eraser = Brush(editor, radius_mm=brush_radius_mm, erase=True)
        """The eraser (same radius and shape as the brush)."""
        self.polygon = PolygonTool(editor)
        """The polygon fill tool."""
        self._grow: GrowTool | None = None
        self._grow_image = image
        self._tolerance = max(float(tolerance), 0.0)
        self._radius = self.brush.radius_mm
        self._kind = ToolKind.NAVIGATE
        self._views: list[SliceView] = []
        editor.events.changed.connect(self._edited)
        editor.events.history.connect(self._history_changed)
        editor.events.active_label.connect(self._active_changed)
        for view in views:
            self.add_view(view)

    # --- views ---------------------------------------------------------------------------------

    @property
    def views(self) -> tuple[SliceView, ...]:
        """The views the tool is set on and that are refreshed after edits."""
        return tuple(self._views)

    def add_view(self, view: SliceView) -> None:
        """Set the current tool on ``view`` and refresh it after every edit."""
        if any(v is view for v in self._views):
            return
        self._views.append(view)
        view.events.changed.connect(self._view_changed)
        view.set_tool(self.tool)

    def remove_view(self, view: SliceView) -> None:
        """Stop driving ``view`` (its tool is cleared if it is one of ours)."""
        if not any(v is view for v in self._views):
            return
        self._views = [v for v in self._views if v is not view]
        view.events.changed.disconnect(self._view_changed)
        if view.tool is not None and self._owns(view.tool):
            view.set_tool(None)

    def release(self) -> None:
        """Drop every view and stop listening to the editor (before discarding this)."""
        self.cancel()
        for view in list(self._views):
            self.remove_view(view)
        self.editor.events.changed.disconnect(self._edited)
        self.editor.events.history.disconnect(self._history_changed)
        self.editor.events.active_label.disconnect(self._active_changed)
        if self._grow is not None:
            self._grow.events.preview.disconnect(self._preview_changed)

    def edited_layers(self, view: SliceView) -> list[str]:
        """Names of ``view``'s label layers that show the editor's array."""
        return [layer.name for layer in view.labels if shares_array(layer.array, self.editor)]

    def label_color(self, label: int) -> RGBA:
        """The colour ``label`` is drawn in (from the first view's layer, else the default)."""
        for view in self._views:
            if self.edited_layers(view):
                layer = view.label(self.edited_layers(view)[0])
                color = layer.colors.get(int(label))
                if color is None:
                    return default_color(int(label))
                return (color[0], color[1], color[2], color[3])
        return default_color(int(label))

    # --- the tool ------------------------------------------------------------------------------

    @property
    def kind(self) -> ToolKind:
        """The tool the reader holds."""
        return self._kind

    @property
    def tool(self) -> PointerTool | None:
        """The tool object of :attr:`kind` (None for navigate)."""
        if self._kind is ToolKind.BRUSH:
            return self.brush
        if self._kind is ToolKind.ERASER:
            return self.eraser
        if self._kind is ToolKind.POLYGON:
            return self.polygon
        if self._kind is ToolKind.GROW:
            return self.grow
        return None

    def set_kind(self, kind: ToolKind | str) -> bool:
        """Hold another tool, on every view; False (and a message) when it is unavailable.

        Pending gestures of the previous tool are dropped (an open polygon, a grow preview).
        """
        chosen = ToolKind(kind)
        if chosen is ToolKind.GROW and self.grow is None:
            self.events.message.emit("Grow needs the image the labels are drawn on")
            return False
        if chosen is self._kind:
            return True
        self.cancel()
        self._kind = chosen
        tool = self.tool
        for view in self._views:
            view.set_tool(tool)
        self.events.kind.emit(chosen)
        return True

    def cancel(self) -> None:
        """Finish an open stroke and drop an open polygon and the grow preview."""
        self.brush.end_stroke()
        self.eraser.end_stroke()
        self.polygon.cancel()
        if self._grow is not None:
            self._grow.clear_preview()

    def _owns(self, tool: PointerTool) -> bool:
        return any(tool is mine for mine in (self.brush, self.eraser, self.polygon, self._grow))

    # --- brush ---------------------------------------------------------------------------------

    @property
    def brush_radius_mm(self) -> float:
        """Radius of the brush and the eraser (mm)."""
        return self._radius

    def set_brush_radius_mm(self, radius_mm: float) -> float:
        """Set the radius of brush and eraser (clamped, see :class:`Brush`); returns it."""
        value = self.brush.set_radius_mm(radius_mm)
        self.eraser.set_radius_mm(value)
        if value != self._radius:
            self._radius = value
            self.events.settings.emit()
            self._repaint()
        return value

    @property
    def brush_3d(self) -> bool:
        """True: brush and eraser are spheres (paint neighbouring slices); False: discs."""
        return self.brush.shape is BrushShape.SPHERE

    def set_brush_3d(self, sphere: bool) -> None:
        """Make brush and eraser spheres (True) or discs in the view's plane (False)."""
        shape = BrushShape.SPHERE if sphere else BrushShape.DISC
        if shape is self.brush.shape:
            return
        self.brush.shape = shape
        self.eraser.shape = shape
        self.events.settings.emit()
        self._repaint()

    # --- grow ----------------------------------------------------------------------------------

    @property
    def grow(self) -> GrowTool | None:
        """The click-to-grow tool (made on first use), or None without an image to grow on."""
        if self._grow is None:
            image = self._grow_image if self._grow_image is not None else self._find_image()
            if image is None:
                return None
            try:
                grow = GrowTool(self.editor, image, tolerance=self._tolerance)
            except EditorError:
                return None
            grow.events.preview.connect(self._preview_changed)
            self._grow = grow
        return self._grow

    @property
    def can_grow(self) -> bool:
        """True when there is an image on the editor's grid to grow on."""
        return self.grow is not None

    def set_grow_image(self, image: np.ndarray | ImageLayer | None) -> None:
        """Grow on ``image`` from now on (None: the first view's image on the editor's grid)."""
        old = self._grow
        if old is not None:
            old.clear_preview()
            old.events.preview.disconnect(self._preview_changed)
        self._grow = None
        self._grow_image = image
        if self._kind is ToolKind.GROW:
            tool = self.grow
            if tool is None:
                self.set_kind(ToolKind.NAVIGATE)
            else:
                for view in self._views:
                    view.set_tool(tool)

    def _find_image(self) -> ImageLayer | None:
        for view in self._views:
            image = view.image
            if (
                image is not None
                and image.spatial_shape == self.editor.shape
                and np.allclose(image.affine, self.editor.affine, atol=1e-5)
            ):
                return image
        return None

    @property
    def tolerance(self) -> float:
        """Grow tolerance (see :class:`viewers.grow.GrowTool`)."""
        return self._tolerance

    def set_tolerance(self, tolerance: float) -> None:
        """Set the grow tolerance (not below 0); a shown preview is grown again."""
        value = max(float(tolerance), 0.0)
        changed = value != self._tolerance
        self._tolerance = value
        if self._grow is not None and self._grow.tolerance != value:
            self._grow.set_tolerance(value)
        if changed:
            self.events.settings.emit()

    @property
    def preview(self) -> GrowPreview | None:
        """The grow preview shown, or None."""
        return None if self._grow is None else self._grow.preview

    def apply_grow(self) -> int:
        """Write the grow preview into the active label (one undo step); voxels changed."""
        if self._grow is None or self._grow.preview is None or self.editor.in_group:
            return 0
        changed = self._grow.apply_grow()
        self.events.message.emit(f"Grown into lesion {self.editor.active_label}: {changed} voxels")
        return changed

    def _preview_changed(self, preview: GrowPreview | None) -> None:
        self.events.preview.emit(preview)
        self._repaint()

    # --- labels --------------------------------------------------------------------------------

    @property
    def active_label(self) -> int:
        """The label the brush, polygon and grow write (the editor's)."""
        return self.editor.active_label

    def set_active_label(self, label: int) -> bool:
        """Make ``label`` the active one; False (and a message) when the map cannot hold it."""
        try:
            self.editor.active_label = int(label)
        except EditorError as exc:
            self.events.message.emit(str(exc))
            return False
        return True

    def new_lesion(self) -> int:
        """Make the next free label (one above the largest in the map) active; returns it."""
        try:
            label = self.editor.next_free_label()
        except EditorError as exc:
            self.events.message.emit(str(exc))
            return self.editor.active_label
        self.editor.active_label = label
        self.events.message.emit(f"New lesion: label {label}")
        return label

    # --- undo ----------------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        """True when there is a step to undo and no edit (a brush drag) is in progress."""
        return self.editor.can_undo and not self.editor.in_group

    @property
    def can_redo(self) -> bool:
        """True when there is a step to redo and no edit is in progress."""
        return self.editor.can_redo and not self.editor.in_group

    def undo(self) -> bool:
        """Undo the last step (not while an edit is in progress); True when something was."""
        if not self.can_undo:
            return False
        group = self.editor.undo()
        if group is not None:
            self.events.message.emit(f"Undone: {group.name}")
        return group is not None

    def redo(self) -> bool:
        """Redo the last undone step; True when something was redone."""
        if not self.can_redo:
            return False
        group = self.editor.redo()
        if group is not None:
            self.events.message.emit(f"Redone: {group.name}")
        return group is not None

    # --- whole-label operations on the active label --------------------------------------------

    def _busy(self) -> bool:
        if self.editor.in_group:
            self.events.message.emit("Finish the current edit first")
            return True
        return False

    def fill_holes(self) -> int:
        """Fill the holes of the active lesion (one undo step); returns the voxels filled."""
        if self._busy():
            return 0
        label = self.editor.active_label
        count = fill_holes(self.editor, label)
        self.events.message.emit(
            f"Filled {count} voxels of holes in lesion {label}"
            if count
            else f"Lesion {label} has no holes"
        )
        return count

    def remove_islands(self) -> int:
        """Keep only the largest 26-connected part of the active lesion; voxels removed."""
        if self._busy():
            return 0
        label = self.editor.active_label
        count = remove_islands(self.editor, label)
        self.events.message.emit(
            f"Removed {count} island voxels of lesion {label}"
            if count
            else f"Lesion {label} has no islands"
        )
        return count

    def split(self) -> list[int]:
        """Make each connected part of the active lesion a lesion; the labels, largest first."""
        if self._busy():
            return []
        label = self.editor.active_label
        try:
            parts = split_label(self.editor, label)
        except EditorError as exc:
            self.events.message.emit(str(exc))
            return []
        if len(parts) > 1:
            names = ", ".join(str(p) for p in parts)
            self.events.message.emit(f"Split lesion {label} into {len(parts)}: {names}")
        else:
            self.events.message.emit(f"Lesion {label} is in one piece")
        return parts

    def merge_into_active(self, source: int) -> int:
        """Lesion ``source`` becomes part of the active lesion; voxels relabelled."""
        if self._busy():
            return 0
        target = self.editor.active_label
        try:
            count = merge_labels(self.editor, target, int(source))
        except EditorError as exc:
            self.events.message.emit(str(exc))
            return 0
        self.events.message.emit(f"Merged lesion {source} into {target}: {count} voxels")
        return count

    def delete_active(self) -> int:
        """Erase every voxel of the active lesion (one undo step); voxels erased."""
        if self._busy():
            return 0
        label = self.editor.active_label
        count = delete_label(self.editor, label)
        self.events.message.emit(f"Deleted lesion {label}: {count} voxels")
        return count

    def other_labels(self) -> list[int]:
        """Labels in the map other than the active one (a full scan: call on demand)."""
        active = self.editor.active_label
        return [label for label in self.editor.labels_present() if label != active]

    # --- model events --------------------------------------------------------------------------

    def _edited(self, box: VoxelBox) -> None:
        top = top_label_in(self.editor, box)
        bounds = (box.lo, box.hi)
        for view in self._views:
            for name in self.edited_layers(view):
                view.labels_changed(name, bounds, top)
        self.events.history.emit()

    def _history_changed(self) -> None:
        self.events.history.emit()

    def _active_changed(self, label: int) -> None:
        self.events.settings.emit()
        self._repaint()

    def _view_changed(self) -> None:
        """Pick up what the tools changed inside a view (Shift+wheel, Alt+-/=)."""
        changed = False
        for brush, other in ((self.brush, self.eraser), (self.eraser, self.brush)):
            if brush.radius_mm != self._radius:
                self._radius = other.set_radius_mm(brush.radius_mm)
                changed = True
                break
        if self._grow is not None and self._grow.tolerance != self._tolerance:
            self._tolerance = self._grow.tolerance
            changed = True
        if changed:
            self.events.settings.emit()

    def _repaint(self) -> None:
        """Views that show a tool overlay redraw it (radius, colour or preview changed)."""
        for view in self._views:
            if view.tool is not None and self._owns(view.tool):
                view.refresh()
