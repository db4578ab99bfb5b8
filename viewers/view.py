"""``SliceView``: the model of one 2D viewport onto a volume, with no toolkit in it.

State: a base image layer plus label overlays, the plane, the world cursor (LPS mm; the
displayed slice passes through it), the camera (zoom relative to "fit", pan in mm), the
window/level and inversion, and whether the view follows a :class:`viewers.linking.ViewLink`.
Every change emits on :attr:`SliceView.events` (plain callbacks, see :mod:`viewers.events`).

Pixels: :meth:`SliceView.render` returns the RGBA image of the current slice on the slice
grid (:func:`viewers.geometry.layer_grid`: the layer's own voxel grid when the plane is
aligned with it) and :meth:`SliceView.image_rect` says where it goes in the viewport; pan
and zoom only move that rectangle, so they never re-render. Rendering is cached in stages
(sampled slice, label slices, windowed grey, composition): a window drag re-windows and
re-blends; a cursor move inside the same slice costs nothing.

Input: :meth:`SliceView.handle_pointer` takes a :class:`viewers.interaction.PointerEvent`
(left click/drag sets the cursor, right drag or Ctrl+left drag sets window/level, middle
drag pans, the wheel scrolls, Ctrl+wheel zooms about the pointer) and
:meth:`SliceView.handle_key` a :class:`viewers.interaction.Key`
(see :func:`viewers.interaction.shortcut_help`).

Tools: :meth:`SliceView.set_tool` makes an editing tool (a
:class:`viewers.interaction.PointerTool`: brush, eraser, polygon, grow) active; pointer
events and keys are offered to it first and what it declines keeps its meaning above, so
the wheel still scrolls and Ctrl+drag still windows while a brush is active.
:meth:`SliceView.labels_changed` with the edited box keeps the label layer's remembered
bounding box and largest label up to date without rescanning the label map.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from viewers.compositor import Compositor, OverlaySlice
from viewers.events import Signal
from viewers.geometry import (
    EdgeLabels,
    Interpolation,
    Plane,
    SamplePlan,
    ScreenMapping,
    SliceGrid,
    as_contiguous,
    layer_grid,
    plan_slice,
    sample,
    slice_range,
    slice_step_mm,
)
from viewers.image import ImageLayer, LabelLayer
from viewers.interaction import (
    PAGE_SLICES,
    WHEEL_NOTCH,
    Buttons,
    Key,
    Modifiers,
    PointerEvent,
    PointerKind,
    PointerTool,
)
from viewers.labels_edit import VoxelBox
from viewers.window import PRESETS, Window, WindowPreset, auto_window, intensity_stats

MIN_ZOOM = 0.1
MAX_ZOOM = 64.0
ZOOM_STEP = 1.25
"""Zoom factor of one key press or one wheel notch."""
DEFAULT_FOV_MM = 256.0
"""Field of view of a view with no image."""

_EMPTY = np.zeros((0, 0, 4), dtype=np.uint8)
_EMPTY.setflags(write=False)


class SliceViewEvents:
    """The signals of a :class:`SliceView`. ``changed`` fires after every visible change."""

    def __init__(self) -> None:
        self.changed = Signal()
        """``()``: something visible changed; repaint."""
        self.cursor = Signal()
        """``(cursor: np.ndarray)``: the world cursor moved (LPS mm)."""
        self.camera = Signal()
        """``(zoom: float, pan: tuple[float, float])``: zoom or pan changed."""
        self.window = Signal()
        """``(window: Window | None, invert: bool)``."""
        self.plane = Signal()
        """``(plane: Plane)``."""
        self.layers = Signal()
        """``()``: the image or the label layers changed."""
        self.linked = Signal()
        """``(linked: bool)``."""
        self.tool = Signal()
        """``(tool: PointerTool | None)``: the active tool changed (None: navigate)."""


@dataclass(frozen=True, slots=True)
class SliceInfo:
    """Where the displayed slice is in the base layer."""

    position_mm: float
    """Cursor coordinate along the normal (z for axial, y for coronal, x for sagittal)."""
    index: int
    """0-based slice number from the low end (may be outside ``0..count-1``)."""
    count: int
    step_mm: float

    @property
    def inside(self) -> bool:
        """True when the slice lies within the layer."""
        return 0 <= self.index < self.count


@dataclass(frozen=True, slots=True)
class Readout:
    """What is under a view pixel: world point, base-layer voxel and its stored value."""

    x: float
    y: float
    world: np.ndarray
    voxel: tuple[int, int, int] | None
    value: float | None


@dataclass(frozen=True, slots=True)
class ScaleBar:
    """A round length in mm and its length in view pixels at the current zoom."""

    length_mm: float
    length_px: float


@dataclass(slots=True)
class _Drag:
    mode: str
    button: Buttons
    x: float
    y: float
    window: Window | None
    pan: tuple[float, float]


def _nice_length(limit: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ not above ``limit`` (``limit`` > 0)."""
    exponent = math.floor(math.log10(limit))
    for mantissa in (5.0, 2.0, 1.0):
        value = mantissa * 10.0**exponent
        if value <= limit * (1 + 1e-9):
            return value
    return 10.0 ** (exponent - 1) * 5.0


class SliceView:
    """One viewport onto a volume: layers, plane, cursor, camera, window; events on change."""

    def __init__(
        self,
        plane: Plane = Plane.AXIAL,
        *,
        image: ImageLayer | None = None,
        viewport: tuple[float, float] = (512.0, 512.0),
    ) -> None:
        self.events = SliceViewEvents()
        self._image: ImageLayer | None = None
        self._labels: list[LabelLayer] = []
        self._label_versions: dict[str, int] = {}
        self._plane = Plane(plane)
        self._cursor = np.zeros(3)
        self._cursor_placed = False
        self._zoom = 1.0
        self._pan = (0.0, 0.0)
        self._viewport = (float(viewport[0]), float(viewport[1]))
        self._window: Window | None = None
        self._invert = False
        self._linked = True
        self._interpolation: Interpolation | None = None
        self._pointer: tuple[float, float] | None = None
        self._drag: _Drag | None = None
        self._wheel_rest = 0.0
        self._tool: PointerTool | None = None
        self._frames: dict[Hashable, SliceGrid] = {}
        self._ranges: dict[Hashable, tuple[float, float, float]] = {}
        self._base_key: Hashable = None
        self._base: np.ndarray | None = None
        self._label_slices: dict[Hashable, np.ndarray] = {}
        self._compositor = Compositor()
        if image is not None:
            self.set_image(image)

    # --- layers ---------------------------------------------------------------------------

    @property
    def image(self) -> ImageLayer | None:
        """The base (greyscale) layer, or None for an empty viewport."""
        return self._image

    def set_image(
        self,
        layer: ImageLayer | None,
        *,
        reset_window: bool = True,
        recenter: bool | None = None,
    ) -> None:
        """Show ``layer`` as the base image.

        ``reset_window``: take the automatic window of the new layer. ``recenter``: move the
        cursor to the layer's centre; by default unless the cursor was placed (by the user or
        a link) inside the layer, so a series dropped into a linked grid opens at the point
        the reader is looking at.
        """
        self._image = layer
        self._frames.clear()
        self._ranges.clear()
        cursor = self._cursor
        if layer is not None:
            if reset_window:
                self._window = auto_window(layer)
            placed = self._cursor_placed and layer.contains(cursor)
            if recenter or (recenter is None and not placed):
                cursor = layer.center_world
                self._pan = (0.0, 0.0)
        self.events.layers.emit()
        self.events.window.emit(self._window, self._invert)
        if layer is not None:
            self._cursor_placed = True
        if not np.array_equal(cursor, self._cursor):
            self._cursor = cursor
            self.events.cursor.emit(self.cursor)
        self.events.changed.emit()

    def set_time_index(self, time_index: int) -> None:
        """Show volume ``time_index`` of a 4D base image (clamped to its range)."""
        if self._image is None:
            return
        t = min(max(int(time_index), 0), self._image.time_points - 1)
        if t != self._image.time_index:
            self._image = self._image.at_time(t)
            self.events.layers.emit()
            self.events.changed.emit()

    @property
    def labels(self) -> tuple[LabelLayer, ...]:
        """Label overlays, bottom first."""
        return tuple(self._labels)

    def add_label(self, layer: LabelLayer) -> None:
        """Draw ``layer`` over the image (on top of earlier ones); names must be unique."""
        if any(existing.name == layer.name for existing in self._labels):
            raise ValueError(f"this view already has a label layer named {layer.name!r}")
        self._labels.append(layer)
        self._label_versions.setdefault(layer.name, 0)
        self.events.layers.emit()
        self.events.changed.emit()

    def remove_label(self, name: str) -> None:
        """Stop drawing the label layer called ``name`` (no error if absent)."""
        self._labels = [layer for layer in self._labels if layer.name != name]
        self.events.layers.emit()
        self.events.changed.emit()

    def label(self, name: str) -> LabelLayer:
        """The label layer called ``name`` (KeyError if absent)."""
        for layer in self._labels:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def update_label(self, name: str, **changes: Any) -> LabelLayer:
        """Replace label layer ``name`` by a copy with ``changes`` (opacity, mode, visible, ...)."""
        index = [layer.name for layer in self._labels].index(name)
        updated = dataclasses.replace(self._labels[index], **changes)
        self._labels[index] = updated
        self.events.layers.emit()
        self.events.changed.emit()
        return updated

    def labels_changed(
        self,
        name: str | None = None,
        box: VoxelBox | tuple[Sequence[int], Sequence[int]] | None = None,
        top_label: int | None = None,
    ) -> None:
        """Say that the voxels of label layer ``name`` (or of all) were edited in place.

        ``box``: the edited voxels lie in this box of the layer's grid (a
        :class:`~viewers.labels_edit.VoxelBox` or ``(lo, hi_exclusive)``), and ``top_label``
        is the largest label now in it: the layer widens its remembered bounding box and
        largest label (:meth:`LabelLayer.note_edit`) instead of forgetting them, so a brush
        move does not rescan the whole label map. Without ``box`` both are found again.
        """
        bounds = None
        if box is not None:
            bounds = (box.lo, box.hi) if isinstance(box, VoxelBox) else (box[0], box[1])
        for layer in self._labels:
            if name is None or layer.name == name:
                self._label_versions[layer.name] = self._label_versions.get(layer.name, 0) + 1
                if bounds is None:
                    layer.forget_derived()
                else:
                    layer.note_edit(bounds[0], bounds[1], top_label)
        self._label_slices.clear()
        self.events.changed.emit()

    # --- plane, cursor, camera ------------------------------------------------------------

    @property
    def plane(self) -> Plane:
        """The view plane."""
        return self._plane

    @plane.setter
    def plane(self, plane: Plane) -> None:
        plane = Plane(plane)
        if plane is self._plane:
            return
        self._plane = plane
        self._pan = (0.0, 0.0)
        self._drag = None
        self.events.plane.emit(plane)
        self.events.camera.emit(self._zoom, self._pan)
        self.events.changed.emit()

    @property
    def cursor(self) -> np.ndarray:
        """The world cursor (LPS mm, a copy); the displayed slice passes through it."""
        return self._cursor.copy()

    @property
    def cursor_placed(self) -> bool:
        """False until the cursor is set (by the user, a link or an image): still the default."""
        return self._cursor_placed

    def set_cursor(self, point: npt.ArrayLike) -> None:
        """Move the world cursor to ``point`` (LPS mm)."""
        point = np.array(point, dtype=np.float64).reshape(3)
        if not np.all(np.isfinite(point)):
            raise ValueError(f"cursor must be finite, got {point}")
        self._cursor_placed = True
        if np.array_equal(point, self._cursor):
            return
        self._cursor = point
        self.events.cursor.emit(self.cursor)
        self.events.changed.emit()

    @property
    def viewport_size(self) -> tuple[float, float]:
        """``(width, height)`` of the viewport in view pixels."""
        return self._viewport

    def set_viewport_size(self, width: float, height: float) -> None:
        """Tell the model how large its viewport is (the widget does on resize)."""
        size = (max(float(width), 1.0), max(float(height), 1.0))
        if size != self._viewport:
            self._viewport = size
            self.events.changed.emit()

    @property
    def zoom(self) -> float:
        """Magnification relative to "fit the layer into the viewport" (1.0)."""
        return self._zoom

    @property
    def pan(self) -> tuple[float, float]:
        """Offset (mm, screen-right and screen-down) of the viewport centre from the layer's."""
        return self._pan

    def set_camera(self, zoom: float | None = None, pan: tuple[float, float] | None = None) -> None:
        """Set zoom (clamped to ``MIN_ZOOM..MAX_ZOOM``) and/or pan."""
        new_zoom = self._zoom if zoom is None else min(max(float(zoom), MIN_ZOOM), MAX_ZOOM)
        new_pan = self._pan if pan is None else (float(pan[0]), float(pan[1]))
        if new_zoom == self._zoom and new_pan == self._pan:
            return
        self._zoom, self._pan = new_zoom, new_pan
        self.events.camera.emit(self._zoom, self._pan)
        self.events.changed.emit()

    def zoom_by(self, factor: float, about: tuple[float, float] | None = None) -> None:
        """Multiply the zoom by ``factor`` keeping the world point under view pixel ``about``
        (default: the viewport centre) where it is."""
        if about is None:
            self.set_camera(zoom=self._zoom * factor)
            return
        before = self.screen_mapping()
        anchor = before.to_world(about[0], about[1])
        zoom = min(max(self._zoom * factor, MIN_ZOOM), MAX_ZOOM)
        ppm = self._fit_pixels_per_mm() * zoom
        right, down = self._plane.right, self._plane.down
        centre_u = float(anchor @ right) - (about[0] - self._viewport[0] / 2.0) / ppm
        centre_v = float(anchor @ down) - (about[1] - self._viewport[1] / 2.0) / ppm
        fov_u, fov_v = self._fov_center()
        self.set_camera(zoom=zoom, pan=(centre_u - fov_u, centre_v - fov_v))

    def reset_view(self) -> None:
        """Zoom 1 (fit) and no pan."""
        self.set_camera(zoom=1.0, pan=(0.0, 0.0))

    # --- window ---------------------------------------------------------------------------

    @property
    def window(self) -> Window | None:
        """The display window (None without an image)."""
        return self._window

    def set_window(self, window: Window) -> None:
        """Set the display window."""
        if window == self._window:
            return
        self._window = window
        self.events.window.emit(self._window, self._invert)
        self.events.changed.emit()

    @property
    def invert(self) -> bool:
        """Whether grey levels are inverted (white = low)."""
        return self._invert

    def set_invert(self, invert: bool) -> None:
        """Invert the grey levels, or not."""
        if bool(invert) == self._invert:
            return
        self._invert = bool(invert)
        self.events.window.emit(self._window, self._invert)
        self.events.changed.emit()

    def apply_preset(self, preset: WindowPreset | int) -> None:
        """Apply a window preset, or the ``preset``-th (0-based) of ``viewers.window.PRESETS``."""
        if self._image is None:
            return
        chosen = PRESETS[preset] if isinstance(preset, int) else preset
        self.set_window(chosen.window(self._image))

    def auto_window(self) -> None:
        """Window the 1st–99th percentile of the base layer's nonzero voxels."""
        if self._image is not None:
            self.set_window(auto_window(self._image))

    # --- linking ---------------------------------------------------------------------------

    @property
    def linked(self) -> bool:
        """Whether this view follows (and drives) its :class:`viewers.linking.ViewLink`."""
        return self._linked

    @linked.setter
    def linked(self, linked: bool) -> None:
        if bool(linked) == self._linked:
            return
        self._linked = bool(linked)
        self.events.linked.emit(self._linked)
        self.events.changed.emit()

    @property
    def interpolation(self) -> Interpolation | None:
        """Sampling of the base image; None (default) = nearest when the plane is aligned with
        the voxel grid (no resampling at all), trilinear otherwise."""
        return self._interpolation

    @interpolation.setter
    def interpolation(self, value: Interpolation | None) -> None:
        self._interpolation = None if value is None else Interpolation(value)
        self.events.changed.emit()

    # --- geometry ---------------------------------------------------------------------------

    def _frame(self) -> SliceGrid | None:
        """The in-plane grid for the base layer (its depth is arbitrary)."""
        if self._image is None:
            return None
        key = (self._image.spatial_shape, self._image.affine.tobytes(), self._plane)
        frame = self._frames.get(key)
        if frame is None:
            frame = layer_grid(self._image, self._plane, self._image.center_world)
            self._frames[key] = frame
        return frame

    def slice_grid(self) -> SliceGrid | None:
        """The sample grid of the displayed slice (through the cursor), or None."""
        frame = self._frame()
        return None if frame is None else frame.with_depth(self._cursor)

    def _fov(self) -> tuple[float, float, float, float]:
        """``(centre_u, centre_v, width_mm, height_mm)`` of what "fit" shows."""
        frame = self._frame()
        if frame is None:
            return (0.0, 0.0, DEFAULT_FOV_MM, DEFAULT_FOV_MM)
        rows, cols = frame.shape
        du, dv = frame.pixel_size
        centre = frame.pixel_to_world((cols - 1) / 2.0, (rows - 1) / 2.0)
        return (
            float(centre @ self._plane.right),
            float(centre @ self._plane.down),
            cols * du,
            rows * dv,
        )

    def _fov_center(self) -> tuple[float, float]:
        u, v, _, _ = self._fov()
        return u, v

    def _fit_pixels_per_mm(self) -> float:
        _, _, width, height = self._fov()
        return min(self._viewport[0] / width, self._viewport[1] / height)

    def screen_mapping(self) -> ScreenMapping:
        """View pixels ↔ LPS mm for the current plane, cursor depth, zoom and pan."""
        u, v, _, _ = self._fov()
        right, down, normal = self._plane.right, self._plane.down, self._plane.normal
        centre = (
            (u + self._pan[0]) * right
            + (v + self._pan[1]) * down
            + float(self._cursor @ normal) * normal
        )
        return ScreenMapping(
            self._plane,
            centre,
            self._fit_pixels_per_mm() * self._zoom,
            self._viewport[0],
            self._viewport[1],
        )

    @property
    def pixels_per_mm(self) -> float:
        """View pixels per millimetre at the current zoom."""
        return self._fit_pixels_per_mm() * self._zoom

    def view_to_world(self, x: float, y: float) -> np.ndarray:
        """LPS mm of view pixel ``(x, y)`` on the displayed slice plane."""
        return self.screen_mapping().to_world(x, y)

    def world_to_view(self, point: np.ndarray) -> tuple[float, float]:
        """View pixel ``(x, y)`` of an LPS point (projected onto the plane)."""
        x, y = self.screen_mapping().to_screen(np.asarray(point, dtype=np.float64))
        return float(x), float(y)

    def image_rect(self) -> tuple[float, float, float, float] | None:
        """``(left, top, width, height)`` in view pixels where :meth:`render`'s image goes."""
        grid = self.slice_grid()
        return None if grid is None else self.screen_mapping().grid_rect(grid)

    def edge_labels(self) -> EdgeLabels:
        """Orientation letters of the four viewport edges."""
        return self._plane.edge_labels()

    def scale_bar(self, max_fraction: float = 0.25) -> ScaleBar:
        """A round length (1, 2, 5 × 10ⁿ mm) at most ``max_fraction`` of the viewport width."""
        ppm = self.pixels_per_mm
        limit_mm = max(self._viewport[0] * max_fraction / ppm, 1e-6)
        length = _nice_length(limit_mm)
        return ScaleBar(length, length * ppm)

    # --- slices -----------------------------------------------------------------------------

    def slice_step_mm(self) -> float:
        """Thickness of one slice step of the base layer along the normal (1 mm without one)."""
        found = self._slice_range()
        return 1.0 if found is None else found[2]

    def _slice_range(self) -> tuple[float, float, float] | None:
        """``(low, high, step)`` mm of the base layer along the normal (cached per plane)."""
        if self._image is None:
            return None
        key = (self._image.affine.tobytes(), self._image.spatial_shape, self._plane)
        found = self._ranges.get(key)
        if found is None:
            low, high = slice_range(self._image, self._plane)
            found = (low, high, slice_step_mm(self._image, self._plane))
            self._ranges[key] = found
        return found

    def slice_info(self) -> SliceInfo | None:
        """Position, number and count of the displayed slice in the base layer."""
        found = self._slice_range()
        if found is None:
            return None
        low, high, step = found
        depth = float(self._cursor @ self._plane.normal)
        count = round((high - low) / step) + 1
        index = math.floor((depth - low) / step + 0.5)
        return SliceInfo(depth, index, count, step)

    def go_to_slice(self, index: int) -> None:
        """Move the cursor along the normal to slice ``index`` (clamped) of the base layer."""
        info = self.slice_info()
        found = self._slice_range()
        if info is None or found is None:
            return
        target = min(max(int(index), 0), info.count - 1)
        depth = found[0] + target * info.step_mm
        self.set_cursor(self._cursor + (depth - info.position_mm) * self._plane.normal)

    def scroll(self, slices: int) -> None:
        """Move the cursor ``slices`` slice steps along the normal (positive towards +normal).

        Lands on a slice centre of the base layer and stays within the layer; without an
        image, moves by ``slices`` mm.
        """
        info = self.slice_info()
        if info is None:
            self.set_cursor(self._cursor + float(slices) * self._plane.normal)
            return
        self.go_to_slice(min(max(info.index, 0), info.count - 1) + int(slices))

    # --- rendering --------------------------------------------------------------------------

    def _base_plan(self, grid: SliceGrid) -> SamplePlan:
        assert self._image is not None
        if self._interpolation is not None:
            return plan_slice(self._image, grid, self._interpolation)
        plan = plan_slice(self._image, grid, Interpolation.NEAREST)
        return plan if plan.is_fast else plan_slice(self._image, grid, Interpolation.LINEAR)

    def base_slice(self) -> np.ndarray | None:
        """Stored values of the base layer on the displayed slice (read-only, cached)."""
        grid = self.slice_grid()
        if grid is None or self._image is None:
            return None
        plan = self._base_plan(grid)
        key = (self._image, self._image.time_index, plan.key)
        if key != self._base_key or self._base is None:
            self._base = as_contiguous(sample(self._image.volume, plan))
            self._base_key = key
        return self._base

    def _label_block(self, layer: LabelLayer, grid: SliceGrid) -> SliceGrid | None:
        """The part of ``grid`` that can show labels of ``layer`` (None: nothing there).

        The label map's bounding box (with half a voxel around it, the reach of nearest-
        neighbour sampling) is projected onto the grid; only pixels inside are sampled.
        """
        box = layer.bounding_box()
        if box is None:
            return None
        (i0, j0, k0), (i1, j1, k1) = box
        corners = layer.voxel_to_world(
            np.array(
                [
                    [i, j, k]
                    for i in (i0 - 0.5, i1 + 0.5)
                    for j in (j0 - 0.5, j1 + 0.5)
                    for k in (k0 - 0.5, k1 + 0.5)
                ]
            )
        )
        depth = (corners - grid.origin) @ grid.normal
        if depth.min() > 1e-9 or depth.max() < -1e-9:
            return None
        pixels = grid.world_to_pixel(corners)
        rows, cols = grid.shape
        c0 = max(math.floor(pixels[:, 0].min()), 0)
        c1 = min(math.ceil(pixels[:, 0].max()) + 1, cols)
        r0 = max(math.floor(pixels[:, 1].min()), 0)
        r1 = min(math.ceil(pixels[:, 1].max()) + 1, rows)
        if c0 >= c1 or r0 >= r1:
            return None
        origin = grid.origin + c0 * grid.col_step + r0 * grid.row_step
        return SliceGrid(origin, grid.col_step, grid.row_step, (r1 - r0, c1 - c0))

    def _overlay_slices(self, grid: SliceGrid) -> list[tuple[Hashable, OverlaySlice]]:
        overlays: list[tuple[Hashable, OverlaySlice]] = []
        keep: dict[Hashable, np.ndarray] = {}
        for layer in self._labels:
            if not layer.visible or layer.opacity <= 0:
                continue
            block = self._label_block(layer, grid)
            if block is None:
                continue
            plan = plan_slice(layer, block, Interpolation.NEAREST)
            origin = tuple(int(v) for v in np.round(grid.world_to_pixel(block.origin)))[::-1]
            key = (layer, self._label_versions.get(layer.name, 0), plan.key, origin, grid.shape)
            labels = self._label_slices.get(key)
            if labels is None:
                labels = as_contiguous(sample(layer.array, plan))
            keep[key] = labels
            overlay = OverlaySlice(
                labels, layer.color_lut(), layer.opacity, layer.mode, (origin[0], origin[1])
            )
            overlays.append((key, overlay))
        self._label_slices = keep
        return overlays

    def render(self) -> np.ndarray:
        """RGBA (``(rows, cols, 4)`` uint8, C-contiguous, read-only) of the displayed slice.

        Empty (``(0, 0, 4)``) without an image. Draw it into :meth:`image_rect`.
        """
        grid = self.slice_grid()
        values = self.base_slice()
        if grid is None or values is None or self._window is None:
            return _EMPTY
        overlays = self._overlay_slices(grid)
        return self._compositor.render(values, self._base_key, self._window, self._invert, overlays)

    # --- readouts ----------------------------------------------------------------------------

    def readout_at(self, x: float, y: float) -> Readout:
        """World point, base-layer voxel and stored value under view pixel ``(x, y)``."""
        world = self.view_to_world(x, y)
        voxel: tuple[int, int, int] | None = None
        value: float | None = None
        if self._image is not None:
            voxel = self._image.nearest_voxel(world)
            if voxel is not None:
                value = float(self._image.volume[voxel])
        return Readout(float(x), float(y), world, voxel, value)

    @property
    def readout(self) -> Readout | None:
        """:meth:`readout_at` the last pointer position, or None when the pointer is away."""
        return None if self._pointer is None else self.readout_at(*self._pointer)

    @property
    def pointer(self) -> tuple[float, float] | None:
        """The last pointer position in view pixels, or None when the pointer is away."""
        return self._pointer

    # --- the active tool -----------------------------------------------------------------------

    @property
    def tool(self) -> PointerTool | None:
        """The active editing tool (pointer events and keys go to it first), or None."""
        return self._tool

    def set_tool(self, tool: PointerTool | None) -> None:
        """Make ``tool`` the active tool (None: navigate only).

        Any object with ``handle_pointer(event, view) -> bool`` and
        ``handle_key(key, modifiers) -> bool`` will do (:class:`PointerTool`). A view drag in
        progress is dropped.
        """
        if tool is self._tool:
            return
        self._tool = tool
        self._drag = None
        self.events.tool.emit(tool)
        self.events.changed.emit()

    def refresh(self) -> None:
        """Ask for a repaint without a change of state (a tool's overlay changed)."""
        self.events.changed.emit()

    def offer_key_to_tool(self, key: Key | str, modifiers: Modifiers = Modifiers.NONE) -> bool:
        """Offer a key to the active tool only; True (and a repaint) when it used it.

        :meth:`handle_key` does this first; a widget calls it on its own to let the tool
        take a key before the application's shortcuts (Escape cancelling a grow preview
        rather than closing a panel).
        """
        if self._tool is None:
            return False
        if isinstance(key, str) and not isinstance(key, Key):
            with contextlib.suppress(ValueError):  # the tool may know keys the view does not
                key = Key(key.upper() if len(key) == 1 else key)
        if self._tool.handle_key(key, Modifiers(modifiers)):
            self.events.changed.emit()
            return True
        return False

    # --- input ------------------------------------------------------------------------------

    def handle_pointer(self, event: PointerEvent) -> bool:
        """Act on a pointer event; True when it was used.

        With an active :attr:`tool`, the event goes to the tool first unless a view drag
        is in progress (releases always do, so a stroke ends even when another button
        started a window drag meanwhile); what the tool declines the view handles as
        without one.
        """
        if event.kind is PointerKind.LEAVE:
            self._pointer = None
            self.events.changed.emit()
            return True
        self._pointer = (event.x, event.y)
        tool = self._tool
        if (
            tool is not None
            and (self._drag is None or event.kind is PointerKind.RELEASE)
            and tool.handle_pointer(event, self)
        ):
            if self._drag is not None and not (event.buttons & self._drag.button):
                self._drag = None
            self.events.changed.emit()
            return True
        if event.kind is PointerKind.WHEEL:
            return self._wheel(event)
        if event.kind is PointerKind.PRESS:
            return self._press(event)
        if event.kind is PointerKind.MOVE:
            if self._drag is not None:
                self._drag_to(event)
            else:
                self.events.changed.emit()
            return True
        # RELEASE: the drag ends once its button is up.
        if self._drag is not None and not (event.buttons & self._drag.button):
            self._drag = None
        return True

    def _press(self, event: PointerEvent) -> bool:
        ctrl = bool(event.modifiers & Modifiers.CTRL)
        if event.button is Buttons.LEFT and not ctrl:
            mode = "cursor"
        elif event.button is Buttons.RIGHT or (event.button is Buttons.LEFT and ctrl):
            mode = "window"
        elif event.button is Buttons.MIDDLE:
            mode = "pan"
        else:
            return False
        self._drag = _Drag(mode, event.button, event.x, event.y, self._window, self._pan)
        if mode == "cursor":
            self.set_cursor(self.view_to_world(event.x, event.y))
        return True

    def _drag_to(self, event: PointerEvent) -> None:
        drag = self._drag
        assert drag is not None
        dx, dy = event.x - drag.x, event.y - drag.y
        if drag.mode == "cursor":
            self.set_cursor(self.view_to_world(event.x, event.y))
        elif drag.mode == "pan":
            ppm = self.pixels_per_mm
            self.set_camera(pan=(drag.pan[0] - dx / ppm, drag.pan[1] - dy / ppm))
        elif drag.mode == "window" and drag.window is not None and self._image is not None:
            self.set_window(self._dragged_window(drag.window, dx, dy))
        else:
            self.events.changed.emit()

    def _dragged_window(self, start: Window, dx: float, dy: float) -> Window:
        """Right = wider (less contrast), down = higher level (darker); 256 px ≈ one width."""
        assert self._image is not None
        stats = intensity_stats(self._image)
        span = max(stats.percentile(99.5) - stats.percentile(0.5), 1e-6)
        per_pixel = max(start.width, 0.02 * span) / 256.0
        width = max(start.width + dx * per_pixel, span * 1e-4)
        return Window(start.center + dy * per_pixel, width)

    def _wheel(self, event: PointerEvent) -> bool:
        if event.wheel_delta == 0:
            return False
        if event.modifiers & Modifiers.CTRL:
            self.zoom_by(ZOOM_STEP ** (event.wheel_delta / WHEEL_NOTCH), about=(event.x, event.y))
            return True
        self._wheel_rest += event.wheel_delta / WHEEL_NOTCH
        notches = int(self._wheel_rest)  # toward zero: fine-grained wheels add up
        self._wheel_rest -= notches
        if notches:
            self.scroll(notches)
        return True

    def handle_key(self, key: Key | str, modifiers: Modifiers = Modifiers.NONE) -> bool:
        """Act on a key (see :func:`viewers.interaction.shortcut_help`); True when used.

        The active :attr:`tool` is offered the key first.
        """
        if self.offer_key_to_tool(key, modifiers):
            return True
        try:
            key = Key(key if not isinstance(key, str) or len(key) != 1 else key.upper())
        except ValueError:
            return False
        steps = {
            Key.UP: 1, Key.RIGHT: 1, Key.DOWN: -1, Key.LEFT: -1,
            Key.PAGE_UP: PAGE_SLICES, Key.PAGE_DOWN: -PAGE_SLICES,
        }  # fmt: skip
        presets = [
            Key.PRESET_1,
            Key.PRESET_2,
            Key.PRESET_3,
            Key.PRESET_4,
            Key.PRESET_5,
            Key.PRESET_6,
        ]
        if key in steps:
            self.scroll(steps[key])
        elif key is Key.HOME:
            self.go_to_slice(0)
        elif key is Key.END:
            info = self.slice_info()
            if info is not None:
                self.go_to_slice(info.count - 1)
        elif key in (Key.PLUS, Key.EQUAL):
            self.zoom_by(ZOOM_STEP)
        elif key is Key.MINUS:
            self.zoom_by(1.0 / ZOOM_STEP)
        elif key is Key.R:
            self.reset_view()
        elif key is Key.I:
            self.set_invert(not self._invert)
        elif key is Key.A:
            self.auto_window()
        elif key in presets:
            self.apply_preset(presets.index(key))
        elif key in (Key.BRACKET_LEFT, Key.BRACKET_RIGHT) and self._image is not None:
            delta = 1 if key is Key.BRACKET_RIGHT else -1
            self.set_time_index(self._image.time_index + delta)
        else:
            return False
        return True
