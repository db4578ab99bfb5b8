"""Planes, slice grids and reslicing: where a screen pixel is in the world, and what is there.

World coordinates are DICOM LPS millimetres: x grows to the patient's **L**eft, y to
**P**osterior, z to **S**uperior.

Display convention (radiological, as the default views of 3D Slicer and OHIF)
------------------------------------------------------------------------------

========  ======================  =====================  ============================
plane     screen-right            screen-down            normal (scroll +, "depth")
========  ======================  =====================  ============================
axial     patient Left (+x)       Posterior (+y)         Superior (+z)
coronal   patient Left (+x)       Inferior (−z)          Posterior (+y)
sagittal  Posterior (+y)          Inferior (−z)          Left (+x)
========  ======================  =====================  ============================

So an axial view is seen from the feet: the patient's right is on the screen's left (edge
letters R on the left, L on the right, A on top, P at the bottom). The normal is the LPS axis
the plane does not contain, pointing to its positive end, so a slice position reads as that
world coordinate (z of an axial slice, y of a coronal, x of a sagittal one).

Slice grids and reslicing
-------------------------
A :class:`SliceGrid` is a 2D sample grid in the world: pixel ``(row r, col c)`` is centred at
``origin + c·col_step + r·row_step``. :func:`layer_grid` picks the grid a view uses for a
layer: when the plane is aligned with the voxel grid (axial view of an axial acquisition,
any axis flips or permutations allowed) it is the layer's own voxel grid, so
:func:`reslice` takes a numpy slice plus a transpose/flip and copies nothing; otherwise an
isotropic grid, axis-aligned with the plane, covering the layer, sampled with vectorised
numpy nearest-neighbour or trilinear interpolation (SimpleITK's ``Resample`` is the peer in
``viewers.bench``). Whatever plane the series was acquired in, an axial view is a true
world-axial slice.

:class:`ScreenMapping` maps view pixels (``x`` right, ``y`` down, ``(0, 0)`` the top-left
corner of the viewport, continuous) to LPS mm and back, exactly, so a click lands on the
world point drawn under it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from viewers.image import ImageLayer, LabelLayer

ALIGN_TOLERANCE = 1e-5
"""Largest off-axis component (of unit direction vectors) still treated as axis-aligned."""

_AXIS_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


class Plane(enum.Enum):
    """A view plane, with its screen axes in LPS (see the module's table)."""

    AXIAL = "axial"
    """Transverse: seen from the feet; screen-right = patient Left, screen-down = Posterior."""
    CORONAL = "coronal"
    """Frontal: seen from the front; screen-right = patient Left, screen-down = Inferior."""
    SAGITTAL = "sagittal"
    """Side view: screen-right = Posterior, screen-down = Inferior (nose to the left)."""

    @property
    def right(self) -> np.ndarray:
        """Unit LPS vector pointing screen-right."""
        return _AXES[self][0].copy()

    @property
    def down(self) -> np.ndarray:
        """Unit LPS vector pointing screen-down."""
        return _AXES[self][1].copy()

    @property
    def normal(self) -> np.ndarray:
        """Unit LPS vector of increasing slice position (+z, +y, +x)."""
        return _AXES[self][2].copy()

    @property
    def normal_axis(self) -> int:
        """Index (0 = x, 1 = y, 2 = z) of the world axis along the normal."""
        return int(np.argmax(np.abs(_AXES[self][2])))

    def edge_labels(self) -> EdgeLabels:
        """Orientation letters of the four screen edges (axial: R, L, A, P)."""
        right, down = _AXES[self][0], _AXES[self][1]
        return EdgeLabels(
            left=orientation_letters(-right),
            right=orientation_letters(right),
            top=orientation_letters(-down),
            bottom=orientation_letters(down),
        )


_AXES: dict[Plane, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
    Plane.AXIAL: (np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0])),
    Plane.CORONAL: (np.array([1.0, 0, 0]), np.array([0, 0, -1.0]), np.array([0, 1.0, 0])),
    Plane.SAGITTAL: (np.array([0, 1.0, 0]), np.array([0, 0, -1.0]), np.array([1.0, 0, 0])),
}


@dataclass(frozen=True, slots=True)
class EdgeLabels:
    """Orientation letters shown at the middle of each screen edge."""

    left: str
    right: str
    top: str
    bottom: str


def orientation_letters(direction: np.ndarray, *, minimum: float = 0.1) -> str:
    """Letters (``L``/``R``, ``P``/``A``, ``S``/``I``) a LPS direction points to, largest first.

    Components smaller than ``minimum`` of the unit vector are left out, so an axis-aligned
    direction gives one letter and an oblique one two or three (``"LA"``), as DICOM viewers
    label oblique images.
    """
    vector = np.asarray(direction, dtype=np.float64)
    vector = vector / np.linalg.norm(vector)
    letters = []
    for axis in np.argsort(-np.abs(vector)):
        if abs(vector[axis]) >= minimum:
            letters.append(_AXIS_LETTERS[axis][1 if vector[axis] > 0 else 0])
    return "".join(letters)


class Interpolation(enum.StrEnum):
    """How a volume is sampled between voxel centres."""

    NEAREST = "nearest"
    """Value of the nearest voxel (half rounds up, as in ITK). Keeps labels and raw values."""
    LINEAR = "linear"
    """Trilinear; the output is float32."""


@dataclass(frozen=True, slots=True, eq=False)
class SliceGrid:
    """A 2D grid of sample points in the world.

    Pixel ``(row r, col c)`` is centred at ``origin + c·col_step + r·row_step`` (LPS mm);
    ``shape`` is ``(rows, cols)``. The two steps are orthogonal; their lengths are the pixel
    width and height in mm.
    """

    origin: np.ndarray
    col_step: np.ndarray
    row_step: np.ndarray
    shape: tuple[int, int]
    normal: np.ndarray = field(init=False, repr=False)
    """Unit vector ``col_step × row_step`` (into the screen)."""

    def __post_init__(self) -> None:
        for name in ("origin", "col_step", "row_step"):
            value = np.array(getattr(self, name), dtype=np.float64)
            if value.shape != (3,) or not np.all(np.isfinite(value)):
                raise ValueError(f"slice grid {name} must be 3 finite numbers, got {value}")
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        rows, cols = (int(v) for v in self.shape)
        if rows < 1 or cols < 1:
            raise ValueError(f"slice grid shape {self.shape} is empty")
        object.__setattr__(self, "shape", (rows, cols))
        (a, b, c), (d, e, f) = self.col_step, self.row_step
        normal = np.array([b * f - c * e, c * d - a * f, a * e - b * d])
        length = float(np.sqrt(normal @ normal))
        if length <= 0:
            raise ValueError("slice grid steps must be non-zero and not parallel")
        normal /= length
        normal.setflags(write=False)
        object.__setattr__(self, "normal", normal)

    @classmethod
    def from_plane(
        cls,
        plane: Plane,
        center: np.ndarray,
        pixel_size_mm: float | tuple[float, float],
        fov_mm: tuple[float, float],
    ) -> SliceGrid:
        """A grid in ``plane`` centred on ``center`` (the slice passes through it).

        ``pixel_size_mm`` is the pixel width (and height, or ``(width, height)``);
        ``fov_mm`` is ``(width, height)`` of the field of view, rounded up to whole pixels.
        """
        du, dv = (
            (float(pixel_size_mm), float(pixel_size_mm))
            if isinstance(pixel_size_mm, int | float)
            else (float(pixel_size_mm[0]), float(pixel_size_mm[1]))
        )
        if du <= 0 or dv <= 0:
            raise ValueError(f"pixel size must be positive, got {pixel_size_mm}")
        cols = max(1, math.ceil(fov_mm[0] / du - 1e-9))
        rows = max(1, math.ceil(fov_mm[1] / dv - 1e-9))
        right, down = plane.right, plane.down
        origin = (
            np.asarray(center, dtype=np.float64)
            - (cols - 1) / 2.0 * du * right
            - (rows - 1) / 2.0 * dv * down
        )
        return cls(origin, du * right, dv * down, (rows, cols))

    @property
    def pixel_size(self) -> tuple[float, float]:
        """``(width, height)`` of a pixel in mm."""
        return (float(np.linalg.norm(self.col_step)), float(np.linalg.norm(self.row_step)))

    @property
    def key(self) -> Hashable:
        """A hashable value equal for equal grids (for caches)."""
        return (
            tuple(self.origin.round(9)),
            tuple(self.col_step.round(9)),
            tuple(self.row_step.round(9)),
            self.shape,
        )

    def pixel_to_world(self, col: np.ndarray | float, row: np.ndarray | float) -> np.ndarray:
        """LPS mm of (fractional) pixel coordinates; pixel centres are at whole numbers."""
        c = np.asarray(col, dtype=np.float64)[..., None]
        r = np.asarray(row, dtype=np.float64)[..., None]
        return self.origin + c * self.col_step + r * self.row_step

    def world_to_pixel(self, points: np.ndarray) -> np.ndarray:
        """``(..., 2)`` fractional ``(col, row)`` of LPS points projected onto the grid's plane."""
        delta = np.asarray(points, dtype=np.float64) - self.origin
        col = delta @ self.col_step / float(self.col_step @ self.col_step)
        row = delta @ self.row_step / float(self.row_step @ self.row_step)
        return np.stack([col, row], axis=-1)

    def with_depth(self, point: np.ndarray) -> SliceGrid:
        """The same grid moved along its normal so that its plane passes through ``point``."""
        n = self.normal
        shift = float((np.asarray(point, dtype=np.float64) - self.origin) @ n)
        return SliceGrid(self.origin + shift * n, self.col_step, self.row_step, self.shape)


# --- the layer's own grid --------------------------------------------------------------------


def aligned_axes(affine: np.ndarray, plane: Plane) -> tuple[tuple[int, int], ...] | None:
    """How the voxel axes line up with ``plane``, or None when they do not.

    Returns ``((axis, sign) for right, down, normal)``: the voxel axis parallel to each of
    the plane's screen-right, screen-down and normal directions and whether it points the
    same way (+1) or the opposite way (−1). Tolerance: :data:`ALIGN_TOLERANCE`.
    """
    columns = np.asarray(affine, dtype=np.float64)[:3, :3]
    units = columns / np.linalg.norm(columns, axis=0)
    found: list[tuple[int, int]] = []
    for direction in _AXES[plane]:
        cosines = direction @ units
        axis = int(np.argmax(np.abs(cosines)))
        off_axis = units[:, axis] - np.sign(cosines[axis]) * direction
        if np.max(np.abs(off_axis)) > ALIGN_TOLERANCE or axis in (a for a, _ in found):
            return None
        found.append((axis, 1 if cosines[axis] > 0 else -1))
    return tuple(found)


def layer_grid(
    layer: ImageLayer | LabelLayer,
    plane: Plane,
    through: np.ndarray,
    *,
    pixel_size_mm: float | None = None,
) -> SliceGrid:
    """The grid a view of ``layer`` in ``plane`` samples, its plane passing through ``through``.

    Aligned (see :func:`aligned_axes`) and no ``pixel_size_mm``: the layer's own voxel grid,
    flipped so columns run screen-right and rows screen-down (pixels may be anisotropic).
    Otherwise: square pixels of ``pixel_size_mm`` (default: the smallest voxel size) on a grid
    axis-aligned with the plane that covers the whole layer. Only the depth of the result
    depends on ``through``; its in-plane position depends on the layer and plane alone, so
    scrolling never shifts the picture sideways.
    """
    through = np.asarray(through, dtype=np.float64)
    axes = aligned_axes(layer.affine, plane) if pixel_size_mm is None else None
    if axes is not None:
        shape = layer.spatial_shape
        (col_axis, col_sign), (row_axis, row_sign), (normal_axis, _) = axes
        start = np.zeros(3)
        start[col_axis] = 0 if col_sign > 0 else shape[col_axis] - 1
        start[row_axis] = 0 if row_sign > 0 else shape[row_axis] - 1
        start[normal_axis] = layer.world_to_voxel(through)[normal_axis]
        columns = layer.affine[:3, :3]
        return SliceGrid(
            origin=layer.voxel_to_world(start),
            col_step=col_sign * columns[:, col_axis],
            row_step=row_sign * columns[:, row_axis],
            shape=(shape[row_axis], shape[col_axis]),
        )
    size = float(min(layer.spacing)) if pixel_size_mm is None else float(pixel_size_mm)
    corners = layer.world_corners()
    right, down, normal = _AXES[plane]
    u, v = corners @ right, corners @ down
    cols = max(1, math.ceil((u.max() - u.min()) / size - 1e-6))
    rows = max(1, math.ceil((v.max() - v.min()) / size - 1e-6))
    u0 = (u.max() + u.min()) / 2.0 - (cols - 1) / 2.0 * size
    v0 = (v.max() + v.min()) / 2.0 - (rows - 1) / 2.0 * size
    origin = u0 * right + v0 * down + float(through @ normal) * normal
    return SliceGrid(origin, size * right, size * down, (rows, cols))


def slice_step_mm(layer: ImageLayer | LabelLayer, plane: Plane) -> float:
    """Distance along the plane normal that moves by one voxel (the slice thickness).

    ``1 / max|A⁻¹·n|``: the step after which the voxel index that changes fastest along the
    normal has changed by one. For an aligned layer, the voxel size along the normal.
    """
    per_mm = layer.inverse_affine[:3, :3] @ _AXES[plane][2]
    return float(1.0 / np.max(np.abs(per_mm)))


def slice_range(layer: ImageLayer | LabelLayer, plane: Plane) -> tuple[float, float]:
    """Lowest and highest slice position (mm along the normal) of the layer's voxel centres."""
    n = np.array(layer.spatial_shape) - 1.0
    centres = np.array([[i, j, k] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])])
    depths = layer.voxel_to_world(centres) @ _AXES[plane][2]
    return float(depths.min()), float(depths.max())


def slice_count(layer: ImageLayer | LabelLayer, plane: Plane) -> int:
    """Number of slices of one :func:`slice_step_mm` that cover the layer along the normal."""
    low, high = slice_range(layer, plane)
    return round((high - low) / slice_step_mm(layer, plane)) + 1


def slice_index(layer: ImageLayer | LabelLayer, plane: Plane, depth_mm: float) -> int:
    """0-based slice number of the slice position ``depth_mm`` (may fall outside the layer)."""
    low, _ = slice_range(layer, plane)
    return math.floor((depth_mm - low) / slice_step_mm(layer, plane) + 0.5)


# --- sampling --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Aligned:
    """A grid on the voxel lattice: output[r, c] = volume at start + c·e_col·sc + r·e_row·sr."""

    col_axis: int
    col_sign: int
    col_start: int
    row_axis: int
    row_sign: int
    row_start: int
    normal_axis: int
    depth: float


def _aligned_plan(
    p0: np.ndarray, a: np.ndarray, b: np.ndarray, tolerance: float = 1e-4
) -> _Aligned | None:
    """Detect a grid whose columns and rows step exactly one voxel along two voxel axes."""
    steps = []
    for step in (a, b):
        axis = int(np.argmax(np.abs(step)))
        expected = np.zeros(3)
        expected[axis] = 1.0 if step[axis] > 0 else -1.0
        if np.max(np.abs(step - expected)) > tolerance:
            return None
        steps.append((axis, int(expected[axis])))
    (col_axis, col_sign), (row_axis, row_sign) = steps
    if col_axis == row_axis:
        return None
    starts = []
    for axis in (col_axis, row_axis):
        nearest = round(float(p0[axis]))
        if abs(p0[axis] - nearest) > tolerance:
            return None
        starts.append(nearest)
    normal_axis = 3 - col_axis - row_axis
    return _Aligned(
        col_axis,
        col_sign,
        starts[0],
        row_axis,
        row_sign,
        starts[1],
        normal_axis,
        float(p0[normal_axis]),
    )


@dataclass(frozen=True, slots=True, eq=False)
class SamplePlan:
    """How :func:`reslice` samples a volume on a grid; :attr:`key` identifies the result.

    Two plans with equal keys give equal pixels for the same volume (an aligned plan's key
    names the voxel slice, so moving the cursor within one slice reuses the cached picture).
    """

    shape: tuple[int, int]
    volume_shape: tuple[int, int, int]
    interpolation: Interpolation
    aligned: _Aligned | None
    index_origin: np.ndarray
    index_col: np.ndarray
    index_row: np.ndarray

    @property
    def is_fast(self) -> bool:
        """True when sampling is a numpy slice (no interpolation)."""
        return self.aligned is not None

    @property
    def key(self) -> Hashable:
        """Hashable identity of the sampled pixels (volume not included)."""
        if self.aligned is not None:
            al = self.aligned
            if self.interpolation is Interpolation.NEAREST:
                depth: float = math.floor(al.depth + 0.5)
            else:
                depth = round(al.depth, 6)
            return (
                "aligned",
                self.shape,
                self.interpolation,
                al.col_axis,
                al.col_sign,
                al.col_start,
                al.row_axis,
                al.row_sign,
                al.row_start,
                depth,
            )
        return (
            "general",
            self.shape,
            self.interpolation,
            tuple(self.index_origin.round(7)),
            tuple(self.index_col.round(9)),
            tuple(self.index_row.round(9)),
        )


def plan_slice(
    layer: ImageLayer | LabelLayer,
    grid: SliceGrid,
    interpolation: Interpolation = Interpolation.NEAREST,
    *,
    fast_path: bool = True,
) -> SamplePlan:
    """Work out how to sample ``layer`` on ``grid`` (once per grid; cheap)."""
    inverse = layer.inverse_affine
    p0 = inverse[:3, :3] @ grid.origin + inverse[:3, 3]
    a = inverse[:3, :3] @ grid.col_step
    b = inverse[:3, :3] @ grid.row_step
    aligned = _aligned_plan(p0, a, b) if fast_path else None
    return SamplePlan(
        grid.shape, layer.spatial_shape, Interpolation(interpolation), aligned, p0, a, b
    )


def reslice(
    layer: ImageLayer | LabelLayer,
    grid: SliceGrid,
    interpolation: Interpolation = Interpolation.NEAREST,
    *,
    fill: float = 0,
    fast_path: bool = True,
) -> np.ndarray:
    """Sample the layer's (current) volume at the centres of ``grid``'s pixels.

    Returns ``(rows, cols)``: the volume's dtype for nearest-neighbour, float32 for linear.
    Points outside the volume (beyond half a voxel from the outer centres) get ``fill``. The
    result may be a read-only view into the layer's array (fast path): copy it before
    writing to it.
    """
    plan = plan_slice(layer, grid, interpolation, fast_path=fast_path)
    return sample(volume_of(layer), plan, fill=fill)


def volume_of(layer: ImageLayer | LabelLayer) -> np.ndarray:
    """The 3D array a layer shows now."""
    return layer.volume if isinstance(layer, ImageLayer) else layer.array


def sample(volume: np.ndarray, plan: SamplePlan, *, fill: float = 0) -> np.ndarray:
    """Execute ``plan`` on ``volume`` (3D, the shape the plan was made for)."""
    if volume.shape != plan.volume_shape:
        raise ValueError(f"volume shape {volume.shape} is not the planned {plan.volume_shape}")
    if plan.aligned is not None:
        if plan.interpolation is Interpolation.NEAREST:
            return _sample_aligned(volume, plan.aligned, plan.shape, fill)
        return _sample_aligned_linear(volume, plan.aligned, plan.shape, fill)
    coords = [
        np.add.outer(
            np.arange(plan.shape[0]) * plan.index_row[d] + plan.index_origin[d],
            np.arange(plan.shape[1]) * plan.index_col[d],
        )
        for d in range(3)
    ]
    if plan.interpolation is Interpolation.NEAREST:
        return _sample_nearest(volume, coords, fill)
    return _sample_linear(volume, coords, fill)


def _valid_range(start: int, sign: int, count: int, size: int) -> tuple[int, int]:
    """Output positions ``[lo, hi)`` whose voxel index ``start + sign·p`` is inside ``size``."""
    if sign > 0:
        lo, hi = -start, size - start
    else:
        lo, hi = start - size + 1, start + 1
    return max(lo, 0), min(hi, count)


def _axis_slice(start: int, sign: int, lo: int, hi: int) -> slice:
    first, last = start + sign * lo, start + sign * (hi - 1)
    if sign > 0:
        return slice(first, last + 1)
    return slice(first, last - 1 if last > 0 else None, -1)


def _aligned_block(
    volume: np.ndarray, al: _Aligned, depth_index: int, shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The in-volume block of an aligned slice (a view) and where it goes in the output."""
    rows, cols = shape
    c_lo, c_hi = _valid_range(al.col_start, al.col_sign, cols, volume.shape[al.col_axis])
    r_lo, r_hi = _valid_range(al.row_start, al.row_sign, rows, volume.shape[al.row_axis])
    if c_lo >= c_hi or r_lo >= r_hi or not 0 <= depth_index < volume.shape[al.normal_axis]:
        return None
    index: list[slice | int] = [0, 0, 0]
    index[al.normal_axis] = depth_index
    index[al.col_axis] = _axis_slice(al.col_start, al.col_sign, c_lo, c_hi)
    index[al.row_axis] = _axis_slice(al.row_start, al.row_sign, r_lo, r_hi)
    block = volume[tuple(index)]
    if al.row_axis > al.col_axis:
        block = block.T
    return block, (r_lo, r_hi, c_lo, c_hi)


def _place(
    block: np.ndarray, where: tuple[int, int, int, int], shape: tuple[int, int], fill: float
) -> np.ndarray:
    r_lo, r_hi, c_lo, c_hi = where
    if (r_lo, r_hi, c_lo, c_hi) == (0, shape[0], 0, shape[1]):
        return block
    out = np.full(shape, fill, dtype=block.dtype)
    out[r_lo:r_hi, c_lo:c_hi] = block
    return out


def _sample_aligned(
    volume: np.ndarray, al: _Aligned, shape: tuple[int, int], fill: float
) -> np.ndarray:
    depth_index = math.floor(al.depth + 0.5)
    found = _aligned_block(volume, al, depth_index, shape)
    if found is None:
        return np.full(shape, fill, dtype=volume.dtype)
    return _place(*found, shape, fill)


def _sample_aligned_linear(
    volume: np.ndarray, al: _Aligned, shape: tuple[int, int], fill: float
) -> np.ndarray:
    size = volume.shape[al.normal_axis]
    if not -0.5 <= al.depth < size - 0.5:
        return np.full(shape, fill, dtype=np.float32)
    depth = min(max(al.depth, 0.0), size - 1.0)
    k0 = min(math.floor(depth), max(size - 2, 0))
    frac = depth - k0
    first = _aligned_block(volume, al, k0, shape)
    assert first is not None  # the depth is inside, so is the block
    block, where = first
    values = block.astype(np.float32)
    if frac > 1e-6 and size > 1:
        second = _aligned_block(volume, al, k0 + 1, shape)
        assert second is not None
        values = values * np.float32(1.0 - frac) + second[0].astype(np.float32) * np.float32(frac)
    return _place(values, where, shape, fill)


def _flat_view(volume: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]] | None:
    """A 1D view over the volume's memory and its element strides, when strides allow it."""
    itemsize = volume.itemsize
    strides = volume.strides
    if any(s < 0 or s % itemsize for s in strides):
        return None
    span = sum((n - 1) * s for n, s in zip(volume.shape, strides, strict=True)) // itemsize + 1
    flat = np.lib.stride_tricks.as_strided(volume, shape=(span,), strides=(itemsize,))
    return flat, (strides[0] // itemsize, strides[1] // itemsize, strides[2] // itemsize)


def _sample_nearest(volume: np.ndarray, coords: list[np.ndarray], fill: float) -> np.ndarray:
    indices = []
    valid = np.ones(coords[0].shape, dtype=bool)
    for d in range(3):
        index = np.floor(coords[d] + 0.5).astype(np.intp)
        valid &= (index >= 0) & (index < volume.shape[d])
        indices.append(index)
    if not valid.all():
        for index in indices:
            index[~valid] = 0
    flat = _flat_view(volume)
    if flat is not None:
        memory, strides = flat
        offset = indices[0] * strides[0]
        offset += indices[1] * strides[1]
        offset += indices[2] * strides[2]
        values = memory.take(offset)
    else:
        values = volume[indices[0], indices[1], indices[2]]
    if not valid.all():
        values[~valid] = fill
    return values


def _sample_linear(volume: np.ndarray, coords: list[np.ndarray], fill: float) -> np.ndarray:
    valid = np.ones(coords[0].shape, dtype=bool)
    lows: list[np.ndarray] = []
    fracs: list[np.ndarray] = []
    for d in range(3):
        size = volume.shape[d]
        x = coords[d]
        valid &= (x >= -0.5) & (x < size - 0.5)
        x = np.clip(x, 0.0, size - 1.0)
        low = np.minimum(np.floor(x), max(size - 2, 0))
        fracs.append((x - low).astype(np.float32))
        lows.append(low.astype(np.intp))
    flat = _flat_view(volume)
    if flat is None:
        memory = np.ascontiguousarray(volume).ravel()
        strides = (volume.shape[1] * volume.shape[2], volume.shape[2], 1)
    else:
        memory, strides = flat
    steps = [strides[d] if volume.shape[d] > 1 else 0 for d in range(3)]
    base = lows[0] * strides[0]
    base += lows[1] * strides[1]
    base += lows[2] * strides[2]

    def at(offset: int) -> np.ndarray:
        return memory.take(base + offset).astype(np.float32)

    fx, fy, fz = fracs
    s0, s1, s2 = steps
    c00 = at(0) + (at(s0) - at(0)) * fx
    c10 = at(s1) + (at(s0 + s1) - at(s1)) * fx
    c01 = at(s2) + (at(s0 + s2) - at(s2)) * fx
    c11 = at(s1 + s2) + (at(s0 + s1 + s2) - at(s1 + s2)) * fx
    c0 = c00 + (c10 - c00) * fy
    c1 = c01 + (c11 - c01) * fy
    values = c0 + (c1 - c0) * fz
    if not valid.all():
        values[~valid] = fill
    return values


def as_contiguous(values: np.ndarray, block: int = 8) -> np.ndarray:
    """``values`` (2D) as a C-contiguous array: itself if it is one, else a cache-friendly copy.

    An aligned slice is often a strided view whose columns lie far apart in memory (an axial
    slice of a C-ordered ``(i, j, k)`` volume is transposed and every pixel is in a different
    cache line). Copying it in bands of ``block`` columns reads memory in stride order and
    is 2–3x faster than ``np.ascontiguousarray`` on such views (see ``viewers.bench``).
    """
    if values.flags.c_contiguous:
        return values
    if values.ndim != 2 or abs(values.strides[1]) < max(4096, abs(values.strides[0])):
        return np.ascontiguousarray(values)  # columns within a page: the plain copy is best
    out = np.empty(values.shape, dtype=values.dtype)
    for start in range(0, values.shape[1], block):
        out[:, start : start + block] = values[:, start : start + block]
    return out


# --- view pixels <-> world ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class ScreenMapping:
    """View pixels ↔ LPS mm for one view.

    Screen coordinates are continuous: ``(0, 0)`` is the top-left corner of the viewport,
    ``x`` grows right and ``y`` down (Qt's widget coordinates). ``center`` is the world point
    drawn at the viewport's centre; its component along the normal is the slice depth.
    """

    plane: Plane
    center: np.ndarray
    pixels_per_mm: float
    width: float
    height: float

    def to_world(self, x: float | np.ndarray, y: float | np.ndarray) -> np.ndarray:
        """LPS mm of view pixel ``(x, y)`` on the displayed slice plane."""
        right, down, _ = _AXES[self.plane]
        du = (np.asarray(x, dtype=np.float64) - self.width / 2.0) / self.pixels_per_mm
        dv = (np.asarray(y, dtype=np.float64) - self.height / 2.0) / self.pixels_per_mm
        return self.center + du[..., None] * right + dv[..., None] * down

    def to_screen(self, points: np.ndarray) -> np.ndarray:
        """``(..., 2)`` view pixel ``(x, y)`` of LPS points (projected onto the plane)."""
        right, down, _ = _AXES[self.plane]
        delta = np.asarray(points, dtype=np.float64) - self.center
        x = self.width / 2.0 + (delta @ right) * self.pixels_per_mm
        y = self.height / 2.0 + (delta @ down) * self.pixels_per_mm
        return np.stack([x, y], axis=-1)

    def grid_rect(self, grid: SliceGrid) -> tuple[float, float, float, float]:
        """``(left, top, width, height)`` in view pixels covered by the grid's pixels.

        The grid's outer pixel edges, not centres: drawing the rendered image into this
        rectangle puts every pixel exactly over the world area it samples.
        """
        rows, cols = grid.shape
        corners = grid.pixel_to_world(np.array([-0.5, cols - 0.5]), np.array([-0.5, rows - 0.5]))
        screen = self.to_screen(corners)
        left, right = sorted(screen[:, 0])
        top, bottom = sorted(screen[:, 1])
        return (float(left), float(top), float(right - left), float(bottom - top))
