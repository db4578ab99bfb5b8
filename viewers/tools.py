"""Drawing tools as model code: brush, eraser and polygon fill acting through a ``LabelEditor``.

Tools take world points (LPS mm) or toolkit-neutral :class:`viewers.interaction.PointerEvent`
plus the :class:`viewers.view.SliceView` they happened in (the view turns view pixels into
world points with ``view_to_world`` and says which plane is shown). They write only through
a :class:`viewers.labels_edit.LabelEditor`, so every gesture is one undo step, and never
touch a toolkit: a stroke is tested with synthetic events, as napari tests its label painting.

Geometry
--------
- **Disc** (2D brush, the default): the voxels whose centres lie within ``radius_mm`` of the
  pointer *in the plane* and within half a voxel of the plane (half a slice step along the
  normal, ``1 / max|A⁻¹ n| / 2``, half-open so exactly one slice of an aligned grid is hit:
  the slice the view shows).
- **Sphere** (3D brush): the voxels whose centres lie within ``radius_mm`` in 3D.
- **Stroke interpolation**: each move paints the *capsule* swept by the disc or sphere from
  the previous point to this one (distance from each voxel centre to the segment), plus the
  voxel nearest to points sampled every half voxel along it, so a fast drag leaves no gap
  and a brush smaller than a voxel still draws a connected line.
- **Polygon fill**: the voxels of the slice (same half-voxel slab) whose centres lie inside
  a closed polygon of world points, or on its edges (even–odd rule, vectorised over voxel
  centres with numpy; edges are few, voxels many).

Wiring into a view: :func:`connect_view` makes the editor's change events call
``SliceView.labels_changed`` for the label layer that shares the editor's array. The Qt
widget offers pointer events to the active tool first (``tool.handle_pointer(event, view)``)
and hands the ones it declines (``False``: wheel scrolling, middle-drag pan, Ctrl+drag
window/level) to the view: ``SliceView.set_tool(tool)`` does exactly that.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from viewers.interaction import WHEEL_NOTCH, Buttons, Key, Modifiers, PointerEvent, PointerKind
from viewers.labels_edit import LabelEditor, VoxelBox
from viewers.view import SliceView


class BrushShape(enum.StrEnum):
    """The footprint of the brush."""

    DISC = "disc"
    """A disc in the plane of the view, one voxel thick (the slice shown)."""
    SPHERE = "sphere"
    """A ball in 3D (paints neighbouring slices too)."""


def top_label_in(editor: LabelEditor, box: VoxelBox) -> int:
    """The largest label now in ``box`` of the editor's map (0 for an empty box).

    What a view needs after an edit to keep its colour table long enough: scanning the
    changed box is exact (the active label when painting; the restored labels after an undo;
    the new labels of a split) and costs no more than the edit itself.
    """
    if box.is_empty:
        return 0
    return int(editor.array[box.slices].max())


def connect_view(editor: LabelEditor, view: SliceView, layer_name: str) -> Callable[..., object]:
    """Tell ``view`` about every change of ``editor`` (its label layer ``layer_name`` must
    share the editor's array). Returns the callback, for ``editor.events.changed.disconnect``.

    Each change passes its voxel box and the largest label in it
    (``SliceView.labels_changed(name, box, top_label)``), so the layer widens its remembered
    bounding box instead of rescanning the label map on every brush move.
    """

    def changed(box: VoxelBox) -> None:
        view.labels_changed(layer_name, (box.lo, box.hi), top_label_in(editor, box))

    return editor.events.changed.connect(changed)


# --- geometry ----------------------------------------------------------------------------------


def _unit(vector: npt.ArrayLike) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64).reshape(3)
    length = float(np.linalg.norm(v))
    if not math.isfinite(length) or length <= 0:
        raise ValueError(f"plane normal must be a non-zero finite vector, got {v}")
    return v / length


def slab_half_thickness(editor: LabelEditor, normal: np.ndarray) -> tuple[float, bool]:
    """Half a slice step (mm) of the label grid along ``normal``, and whether the voxel axis
    most aligned with ``normal`` points the same way (decides which end of the slab is open).
    """
    per_mm = editor.inverse_affine[:3, :3] @ normal
    axis = int(np.argmax(np.abs(per_mm)))
    return 0.5 / float(abs(per_mm[axis])), bool(per_mm[axis] > 0)


def _in_slab(depth: np.ndarray, half: float, forward: bool) -> np.ndarray:
    """Voxel centres at signed distance ``depth`` from the plane that are in its slice.

    Half-open as the views pick a slice (``floor(index + 0.5)``): voxel ``k`` is shown for
    plane positions in ``[k - ½, k + ½)`` along the voxel axis.
    """
    if forward:
        return (depth > -half) & (depth <= half)
    return (depth >= -half) & (depth < half)


def capsule_mask(
    editor: LabelEditor,
    start: npt.ArrayLike,
    end: npt.ArrayLike,
    radius_mm: float,
    normal: npt.ArrayLike | None = None,
) -> tuple[VoxelBox, np.ndarray]:
    """The voxels a brush of ``radius_mm`` sweeps from ``start`` to ``end`` (LPS mm).

    With ``normal``: a disc in the plane through ``start`` with that normal (``end`` is
    projected onto it), one slice thick. Without: a sphere. Returns the (clipped) voxel box
    and a boolean mask of its shape; the box is empty when the brush is outside the grid.
    """
    a = np.asarray(start, dtype=np.float64).reshape(3)
    b = np.asarray(end, dtype=np.float64).reshape(3)
    radius = max(float(radius_mm), 0.0)
    n: np.ndarray | None = None
    half, forward = 0.0, True
    if normal is not None:
        n = _unit(normal)
        b = b - float((b - a) @ n) * n
        half, forward = slab_half_thickness(editor, n)
        extent = radius * np.sqrt(np.clip(1.0 - n * n, 0.0, 1.0)) + half * np.abs(n)
    else:
        extent = np.full(3, radius)
    spacing = min(editor.spacing)
    reach = extent + 0.5 * spacing  # the nearest-voxel line may sit half a voxel off the segment
    box = editor.world_box(np.minimum(a, b) - reach, np.maximum(a, b) + reach)
    if box.is_empty:
        return box, np.zeros(box.shape, dtype=bool)
    x, y, z = editor.centres(box)
    wx, wy, wz = x - a[0], y - a[1], z - a[2]
    e = b - a
    ee = float(e @ e)
    distance2 = wx * wx + wy * wy + wz * wz
    keep: np.ndarray | None = None
    if n is not None:
        depth = wx * n[0] + wy * n[1] + wz * n[2]
        distance2 = distance2 - depth * depth
        keep = _in_slab(depth, half, forward)
    if ee > 0:
        along = wx * e[0] + wy * e[1] + wz * e[2]  # e lies in the plane: the in-plane product
        t = np.clip(along / ee, 0.0, 1.0)
        distance2 = distance2 - 2.0 * t * along + t * t * ee
    mask = distance2 <= radius * radius + 1e-9
    # The voxel nearest to points every half voxel along the segment: a connected line even
    # for a brush narrower than a voxel.
    steps = max(1, math.ceil(math.sqrt(ee) / (0.5 * spacing)))
    points = a + np.linspace(0.0, 1.0, steps + 1)[:, None] * e
    nearest = np.floor(editor.world_to_voxel(points) + 0.5).astype(np.int64) - np.array(box.lo)
    inside = np.all((nearest >= 0) & (nearest < np.array(box.shape)), axis=1)
    nearest = nearest[inside]
    mask[nearest[:, 0], nearest[:, 1], nearest[:, 2]] = True
    if keep is not None:
        mask &= keep
    return box, mask


def _plane_basis(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning the plane orthogonal to ``normal``."""
    helper = np.zeros(3)
    helper[int(np.argmin(np.abs(normal)))] = 1.0
    u = np.cross(normal, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(normal, u)


def points_in_polygon(
    points: np.ndarray, polygon: np.ndarray, *, on_edge_mm: float = 1e-6
) -> np.ndarray:
    """Which 2D ``points`` ``(k, 2)`` lie inside the closed ``polygon`` ``(m, 2)`` or on it.

    Even–odd rule (crossings of a ray towards +x), one vectorised pass per edge; points
    within ``on_edge_mm`` of an edge count as inside, so a square whose corners sit on
    voxel centres fills its border voxels too.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    px, py = pts[:, 0], pts[:, 1]
    inside = np.zeros(pts.shape[0], dtype=bool)
    on_edge = np.zeros(pts.shape[0], dtype=bool)
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        crosses = (y1 > py) != (y2 > py)
        if y1 != y2:
            x_cross = x1 + (py - y1) * ((x2 - x1) / (y2 - y1))
            inside ^= crosses & (px < x_cross)
        dx, dy = x2 - x1, y2 - y1
        length2 = dx * dx + dy * dy
        t = np.clip(((px - x1) * dx + (py - y1) * dy) / length2, 0.0, 1.0) if length2 else 0.0
        ex, ey = px - (x1 + t * dx), py - (y1 + t * dy)
        on_edge |= ex * ex + ey * ey <= on_edge_mm * on_edge_mm
    return inside | on_edge


def polygon_normal(points: npt.ArrayLike) -> np.ndarray:
    """Unit normal of the best-fitting plane through ≥ 3 non-collinear world points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if pts.shape[0] < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {pts.shape[0]}")
    _, singular, vt = np.linalg.svd(pts - pts.mean(axis=0))
    if singular[1] <= 1e-9 * max(singular[0], 1.0):
        raise ValueError("the polygon's points are collinear")
    return np.asarray(vt[2], dtype=np.float64)


def polygon_mask(
    editor: LabelEditor, points: npt.ArrayLike, normal: npt.ArrayLike | None = None
) -> tuple[VoxelBox, np.ndarray]:
    """The voxels of one slice inside a closed polygon of world points (LPS mm, ``(m, 3)``).

    The slice is the plane with ``normal`` (default: fitted to the points) through the
    points' mean, one voxel thick (see the module docstring); points off the plane are
    projected onto it. Returns the (clipped) box and a boolean mask of its shape.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if pts.shape[0] < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {pts.shape[0]}")
    n = polygon_normal(pts) if normal is None else _unit(normal)
    centre = pts.mean(axis=0)
    half, forward = slab_half_thickness(editor, n)
    reach = half * np.abs(n) + 1e-6
    box = editor.world_box(pts.min(axis=0) - reach, pts.max(axis=0) + reach)
    if box.is_empty:
        return box, np.zeros(box.shape, dtype=bool)
    u, v = _plane_basis(n)
    x, y, z = editor.centres(box)
    wx, wy, wz = x - centre[0], y - centre[1], z - centre[2]
    depth = wx * n[0] + wy * n[1] + wz * n[2]
    mask = _in_slab(depth, half, forward)
    chosen = np.nonzero(mask)
    if chosen[0].size:
        q = np.stack(
            [
                (wx * u[0] + wy * u[1] + wz * u[2])[chosen],
                (wx * v[0] + wy * v[1] + wz * v[2])[chosen],
            ],
            axis=1,
        )
        polygon = np.stack([(pts - centre) @ u, (pts - centre) @ v], axis=1)
        mask[chosen] = points_in_polygon(q, polygon)
    return box, mask


def fill_polygon(
    editor: LabelEditor,
    points: npt.ArrayLike,
    normal: npt.ArrayLike | None = None,
    *,
    label: int | None = None,
    preserve_other: bool = False,
) -> int:
    """Fill the slice voxels inside a polygon (see :func:`polygon_mask`) with ``label``
    (default: the active label), as one change group. Returns the voxels changed."""
    box, mask = polygon_mask(editor, points, normal)
    if box.is_empty:
        return 0
    value = editor.active_label if label is None else int(label)
    with editor.group("polygon fill"):
        return editor.paint(box, mask, value, preserve_other=preserve_other)


# --- brush and eraser ---------------------------------------------------------------------


class Brush:
    """Brush (``erase=False``) or eraser (``erase=True``) strokes through a :class:`LabelEditor`.

    A stroke is :meth:`begin_stroke` (opens a change group and stamps), any number of
    :meth:`continue_stroke` (each paints the swept capsule from the previous point) and
    :meth:`end_stroke` (closes the group): one undo step. :meth:`handle_pointer` drives the
    same from pointer events of a :class:`SliceView` (left drag without Ctrl paints;
    Shift+wheel changes the radius; everything else is declined for the view to handle).

    Options: ``shape`` (:class:`BrushShape`), ``preserve_other`` (the brush paints only
    background and the active label, never over another lesion), ``erase_only_active``
    (the eraser clears only the active label).
    """

    MIN_RADIUS_MM = 0.0
    """Smallest radius: 0 paints a line of single voxels."""
    MAX_RADIUS_MM = 50.0
    """Largest radius."""

    def __init__(
        self,
        editor: LabelEditor,
        *,
        radius_mm: float = 2.0,
        shape: BrushShape = BrushShape.DISC,
        erase: bool = False,
        preserve_other: bool = False,
        erase_only_active: bool = False,
        radius_step_mm: float = 0.5,
    ) -> None:
        self.editor = editor
        self.shape = BrushShape(shape)
        self.erase = bool(erase)
        self.preserve_other = bool(preserve_other)
        self.erase_only_active = bool(erase_only_active)
        if not radius_step_mm > 0:
            raise ValueError(f"radius step must be positive, got {radius_step_mm}")
        self.radius_step_mm = float(radius_step_mm)
        self._radius = 0.0
        self.set_radius_mm(radius_mm)
        self._last: np.ndarray | None = None
        self._normal: np.ndarray | None = None
        self._origin: np.ndarray | None = None
        self._button = Buttons.NONE

    # --- radius ----------------------------------------------------------------------------

    @property
    def radius_mm(self) -> float:
        """Brush radius in mm."""
        return self._radius

    def set_radius_mm(self, radius_mm: float) -> float:
        """Set the radius (clamped to ``MIN_RADIUS_MM..MAX_RADIUS_MM``); returns it."""
        value = float(radius_mm)
        if not math.isfinite(value):
            raise ValueError(f"radius must be finite, got {radius_mm}")
        self._radius = min(max(value, self.MIN_RADIUS_MM), self.MAX_RADIUS_MM)
        return self._radius

    def grow_radius(self, step: float = 1.0) -> float:
        """Change the radius by ``step`` × ``radius_step_mm`` (negative shrinks); returns it."""
        return self.set_radius_mm(self._radius + float(step) * self.radius_step_mm)

    def radius_px(self, view: SliceView) -> float:
        """The radius in view pixels (for drawing the brush outline at the pointer)."""
        return self._radius * view.pixels_per_mm

    # --- strokes ---------------------------------------------------------------------------

    @property
    def stroking(self) -> bool:
        """True between :meth:`begin_stroke` and :meth:`end_stroke`."""
        return self._last is not None

    def begin_stroke(self, point: npt.ArrayLike, normal: npt.ArrayLike | None = None) -> int:
        """Start a stroke at ``point`` (LPS mm) in the plane with ``normal`` (a disc brush
        needs it: the view's ``plane.normal``). Returns the voxels changed by the first stamp."""
        if self.stroking:
            self.end_stroke()
        p = np.asarray(point, dtype=np.float64).reshape(3)
        if self.shape is BrushShape.DISC:
            if normal is None:
                raise ValueError("a disc brush needs the plane normal of the view")
            self._normal = _unit(normal)
        else:
            self._normal = None
        self._origin = p
        self.editor.begin_group("erase" if self.erase else "brush")
        self._last = p
        return self._stamp(p, p)

    def continue_stroke(self, point: npt.ArrayLike) -> int:
        """Paint from the previous point to ``point`` (no gaps). Returns the voxels changed."""
        if self._last is None:
            raise RuntimeError("continue_stroke without begin_stroke")
        p = np.asarray(point, dtype=np.float64).reshape(3)
        if self._normal is not None and self._origin is not None:
            p = p - float((p - self._origin) @ self._normal) * self._normal
        changed = self._stamp(self._last, p)
        self._last = p
        return changed

    def end_stroke(self) -> None:
        """Finish the stroke: its change group becomes one undo step."""
        if self._last is None:
            return
        self._last = None
        self._normal = None
        self._origin = None
        self._button = Buttons.NONE
        self.editor.end_group()

    def stamp(self, point: npt.ArrayLike, normal: npt.ArrayLike | None = None) -> int:
        """One stamp at ``point`` as its own undo step; returns the voxels changed."""
        changed = self.begin_stroke(point, normal)
        self.end_stroke()
        return changed

    def _stamp(self, start: np.ndarray, end: np.ndarray) -> int:
        box, mask = capsule_mask(self.editor, start, end, self._radius, self._normal)
        if box.is_empty or not mask.any():
            return 0
        editor = self.editor
        if self.erase:
            only = editor.active_label if self.erase_only_active else None
            return editor.erase(box, mask, only=only)
        return editor.paint(box, mask, editor.active_label, preserve_other=self.preserve_other)

    # --- input -----------------------------------------------------------------------------

    def handle_pointer(self, event: PointerEvent, view: SliceView) -> bool:
        """Act on a pointer event of ``view``; True when used (the view should not see it)."""
        kind = event.kind
        if kind is PointerKind.WHEEL:
            if event.modifiers & Modifiers.SHIFT and event.wheel_delta:
                self.grow_radius(event.wheel_delta / WHEEL_NOTCH)
                return True
            return False
        if kind is PointerKind.PRESS:
            if event.button is not Buttons.LEFT or event.modifiers & Modifiers.CTRL:
                return False
            self.begin_stroke(view.view_to_world(event.x, event.y), view.plane.normal)
            self._button = Buttons.LEFT
            return True
        if kind is PointerKind.MOVE:
            if not self.stroking:
                return False
            self.continue_stroke(view.view_to_world(event.x, event.y))
            return True
        if kind is PointerKind.RELEASE:
            if not self.stroking or event.buttons & self._button:
                return self.stroking
            self.end_stroke()
            return True
        return False  # LEAVE: a drag continues outside the view until the button is released

    def handle_key(self, key: Key | str, modifiers: Modifiers = Modifiers.NONE) -> bool:
        """Alt + ``-`` shrinks the brush, Alt + ``=`` (or ``+``) grows it; True when used.

        (``[`` and ``]`` step through time in the views; plain ``+``/``-`` zoom.)
        """
        if not modifiers & Modifiers.ALT:
            return False
        text = key.value if isinstance(key, Key) else str(key)
        if text == "-":
            self.grow_radius(-1.0)
            return True
        if text in ("=", "+"):
            self.grow_radius(1.0)
            return True
        return False


# --- polygon tool ----------------------------------------------------------------------------


class PolygonTool:
    """Click the corners of a polygon in a view, then close it to fill the slice inside.

    Left click adds a corner (the first fixes the plane: the view's plane through the
    point); a left click within ``close_px`` view pixels of the first corner, or a right
    click, closes it (with at least 3 corners) and fills it as one change group. Other
    events are declined. :attr:`vertices` is what the widget draws while it is open.
    """

    def __init__(
        self,
        editor: LabelEditor,
        *,
        preserve_other: bool = False,
        close_px: float = 8.0,
    ) -> None:
        self.editor = editor
        self.preserve_other = bool(preserve_other)
        self.close_px = float(close_px)
        self._points: list[np.ndarray] = []
        self._normal: np.ndarray | None = None

    @property
    def vertices(self) -> np.ndarray:
        """``(m, 3)`` corners so far (LPS mm)."""
        if not self._points:
            return np.zeros((0, 3))
        return np.stack(self._points)

    def add_point(self, point: npt.ArrayLike, normal: npt.ArrayLike | None = None) -> None:
        """Add a corner; ``normal`` (the view's plane normal) is taken from the first one."""
        if not self._points and normal is not None:
            self._normal = _unit(normal)
        self._points.append(np.asarray(point, dtype=np.float64).reshape(3))

    def close(self) -> int:
        """Fill the polygon (one change group) and start afresh; returns the voxels changed.

        Fewer than 3 corners fill nothing.
        """
        points, normal = self.vertices, self._normal
        self.cancel()
        if points.shape[0] < 3:
            return 0
        return fill_polygon(self.editor, points, normal, preserve_other=self.preserve_other)

    def cancel(self) -> None:
        """Drop the corners without filling."""
        self._points = []
        self._normal = None

    def handle_key(self, key: Key | str, modifiers: Modifiers = Modifiers.NONE) -> bool:
        """Enter closes and fills the polygon (3 corners or more), Escape drops the corners;
        True when used (keys with Ctrl, Alt or Meta are left to others)."""
        if modifiers & (Modifiers.CTRL | Modifiers.ALT | Modifiers.META):
            return False
        text = key.value if isinstance(key, Key) else str(key)
        if text == Key.ENTER.value and len(self._points) >= 3:
            self.close()
            return True
        if text == Key.ESCAPE.value and self._points:
            self.cancel()
            return True
        return False

    def handle_pointer(self, event: PointerEvent, view: SliceView) -> bool:
        """Act on a pointer event of ``view``; True when used."""
        if event.kind is not PointerKind.PRESS or event.modifiers & Modifiers.CTRL:
            return False
        if event.button is Buttons.RIGHT:
            if len(self._points) >= 3:
                self.close()
                return True
            return False
        if event.button is not Buttons.LEFT:
            return False
        if len(self._points) >= 3:
            fx, fy = view.world_to_view(self._points[0])
            if math.hypot(event.x - fx, event.y - fy) <= self.close_px:
                self.close()
                return True
        self.add_point(view.view_to_world(event.x, event.y), view.plane.normal)
        return True
