"""A synthetic head phantom with PML-like lesions, and MR contrast synthesis (numpy only).

Frame: arrays are indexed ``[k, j, i]`` = (z, y, x). The phantom's world frame is DICOM LPS
millimetres centred on the grid: ``x`` grows to the patient's left, ``y`` to posterior, ``z`` to
superior. Written with identity orientation and :attr:`Anatomy.origin_lps` as the position of
the first voxel, a synthesized volume's world coordinates are the phantom's own, and a
:class:`Lesion`'s centre is a point in that world.

The anatomy is built from ellipsoids with a smooth, seeded wobble (cerebrum, cerebellum,
brainstem, ventricles, deep grey nuclei). The cortex is a grey ribbon under the brain surface,
folded by sulci: thin CSF clefts along the level set of a smooth random field evaluated on the
brain surface, so that they run perpendicular to it and narrow with depth. Everything is
deterministic for a given seed; nothing here reads outside data or imports scipy.

PML lesions (:class:`Lesion`) are irregular blobs clipped to white matter: subcortical, reaching
the U-fibres under the cortex and sparing the cortex itself, asymmetric, growing between
timepoints (:func:`grown`), optionally with punctate "milky-way" satellites and a thin enhancing
rim (PML-IRIS). :func:`synthesize` turns anatomy and lesions into one MR contrast with partial
volume, a mild bias field and Rician noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from adjudication.lesions import Hemisphere
from workbench.domain import SequenceClass

Floats = npt.NDArray[np.floating[Any]]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_SHAPE: tuple[int, int, int] = (40, 128, 128)
"""Default demo grid (slices, rows, columns): 40 axial slices of 128 × 128."""
DEFAULT_SPACING_MM: tuple[float, float, float] = (4.0, 1.8, 1.8)
"""Default voxel spacing (z, y, x) in mm: 4 mm slices of 1.8 mm pixels (230 mm field of view)."""

SYNTHESIZED_SEQUENCES: tuple[SequenceClass, ...] = (
    SequenceClass.T1,
    SequenceClass.T1_GD,
    SequenceClass.T2,
    SequenceClass.FLAIR,
    SequenceClass.DWI,
    SequenceClass.ADC,
)
"""The sequence classes :func:`synthesize` can make."""

# Salts keep the random streams of anatomy, lesions, bias and noise independent of each other
# for the same user seed.
_SALT_ANATOMY = 0x5EED_A1
_SALT_LESIONS = 0x5EED_B2
_SALT_SHAPE = 0x5EED_C3
_SALT_BIAS = 0x5EED_D4
_SALT_NOISE = 0x5EED_E5


class Tissue(IntEnum):
    """Label values of :attr:`Anatomy.labels`."""

    BACKGROUND = 0
    SCALP = 1
    """Skin, fat and muscle outside the skull (bright on T1)."""
    SKULL = 2
    CSF = 3
    """Subarachnoid space, sulci and ventricles."""
    GREY_MATTER = 4
    """Cortical ribbon of cerebrum and cerebellum."""
    WHITE_MATTER = 5
    """Cerebral and cerebellar white matter and the brainstem."""
    DEEP_GREY = 6
    """Caudate, lentiform nucleus and thalamus."""


SIDES: tuple[Hemisphere, Hemisphere] = (Hemisphere.LEFT, Hemisphere.RIGHT)
"""The sides a phantom lesion is placed on (the registry's vocabulary; never midline)."""


def _side(hemisphere: Hemisphere | str) -> Hemisphere:
    side = Hemisphere(hemisphere)
    if side not in SIDES:
        raise ValueError(f"a phantom lesion lies left or right, not {side.value}")
    return side


class Lobe(StrEnum):
    """Where a lesion sits, for documentation of the demo cases."""

    FRONTAL = "frontal"
    PARIETAL = "parietal"
    TEMPORAL = "temporal"
    OCCIPITAL = "occipital"
    INFRATENTORIAL = "infratentorial"
    """Cerebellum, middle cerebellar peduncle or brainstem."""


def _readonly(array: npt.NDArray[Any]) -> None:
    array.setflags(write=False)


@dataclass(frozen=True, slots=True, eq=False)
class Anatomy:
    """A labelled head on a grid: the tissue map every contrast is synthesized from.

    Compared by identity (``eq=False``): the fields are arrays, whose ``==`` is elementwise.
    The arrays are made read-only.
    """

    labels: npt.NDArray[np.uint8]
    """Tissue label per voxel (values of :class:`Tissue`), shape (z, y, x)."""
    cerebral_depth_mm: npt.NDArray[np.float32]
    """Depth below the cerebral surface in mm for cerebrum voxels; negative elsewhere."""
    spacing_mm: tuple[float, float, float]
    """Voxel spacing (z, y, x) in mm."""
    cerebrum_centre_mm: tuple[float, float, float]
    """Centre of the cerebrum, LPS (x, y, z) mm in the phantom frame."""
    seed: int

    def __post_init__(self) -> None:
        if self.labels.ndim != 3 or self.labels.dtype != np.uint8:
            raise ValueError("labels must be a 3-D uint8 array")
        if self.cerebral_depth_mm.shape != self.labels.shape:
            raise ValueError("cerebral_depth_mm must have the shape of labels")
        spacing = tuple(float(s) for s in self.spacing_mm)
        if len(spacing) != 3 or min(spacing) <= 0:
            raise ValueError(f"spacing_mm must be three positive numbers, got {self.spacing_mm}")
        if int(self.labels.max(initial=0)) > max(Tissue):
            raise ValueError("labels holds a value that is not a Tissue")
        object.__setattr__(self, "spacing_mm", spacing)
        object.__setattr__(
            self, "cerebrum_centre_mm", tuple(float(c) for c in self.cerebrum_centre_mm)
        )
        _readonly(self.labels)
        _readonly(self.cerebral_depth_mm)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape (z, y, x)."""
        z, y, x = self.labels.shape
        return (z, y, x)

    @property
    def origin_lps(self) -> tuple[float, float, float]:
        """LPS position (x, y, z) in mm of voxel index (0, 0, 0), the first slice's corner voxel."""
        z, y, x = self.shape
        sz, sy, sx = self.spacing_mm
        return (-(x - 1) / 2 * sx, -(y - 1) / 2 * sy, -(z - 1) / 2 * sz)

    @property
    def affine_lps(self) -> npt.NDArray[np.float64]:
        """4 × 4 affine from voxel index (i=column, j=row, k=slice) to LPS mm, axis-aligned."""
        sz, sy, sx = self.spacing_mm
        affine = np.diag([sx, sy, sz, 1.0])
        affine[:3, 3] = self.origin_lps
        return affine

    def point_mm(self, index_zyx: tuple[int, int, int]) -> tuple[float, float, float]:
        """LPS position (x, y, z) in mm of the voxel at array index (k, j, i)."""
        origin = self.origin_lps
        sz, sy, sx = self.spacing_mm
        k, j, i = index_zyx
        return (origin[0] + i * sx, origin[1] + j * sy, origin[2] + k * sz)

    def mask(self, tissue: Tissue) -> BoolArray:
        """Boolean mask of one tissue."""
        return self.labels == tissue


@dataclass(frozen=True, slots=True)
class Lesion:
    """One PML-like lesion: an irregular blob of the given size, clipped to white matter.

    Coordinates are LPS millimetres in the phantom frame (see the module docstring). The
    hemisphere and lobe document where the lesion was placed; they do not move it.
    """

    centre_mm: tuple[float, float, float]
    """Centre, LPS (x, y, z) mm."""
    radii_mm: tuple[float, float, float]
    """Semi-axes along x, y, z in mm, before the irregular wobble and white-matter clipping."""
    hemisphere: Hemisphere
    lobe: Lobe
    growth_per_30_days: float = 1.2
    """Factor on the radii per 30 days (1.0: stable; below 1: regressing)."""
    enhancing: bool = False
    """Thin enhancing rim on T1+Gd (PML usually does not enhance; PML-IRIS may)."""
    satellites: int = 0
    """Number of punctate "milky-way" foci around the lesion."""
    shape_seed: int = 0
    """Seed of the lesion's outline and of its satellites' positions."""
    irregularity: float = 0.2
    """Relative amplitude of the outline's wobble, 0 (ellipsoid) to below 0.5."""

    def __post_init__(self) -> None:
        centre = tuple(float(c) for c in self.centre_mm)
        radii = tuple(float(r) for r in self.radii_mm)
        if len(centre) != 3 or not all(math.isfinite(c) for c in centre):
            raise ValueError(f"centre_mm must be three finite numbers, got {self.centre_mm}")
        if len(radii) != 3 or not all(math.isfinite(r) and r > 0 for r in radii):
            raise ValueError(f"radii_mm must be three positive numbers, got {self.radii_mm}")
        if not (math.isfinite(self.growth_per_30_days) and self.growth_per_30_days > 0):
            raise ValueError("growth_per_30_days must be a positive number")
        if self.satellites < 0:
            raise ValueError("satellites must not be negative")
        if not 0 <= self.irregularity < 0.5:
            raise ValueError("irregularity must be in [0, 0.5)")
        if self.shape_seed < 0:
            raise ValueError("shape_seed must not be negative")
        object.__setattr__(self, "centre_mm", centre)
        object.__setattr__(self, "radii_mm", radii)
        object.__setattr__(self, "hemisphere", _side(self.hemisphere))
        object.__setattr__(self, "lobe", Lobe(self.lobe))


def grown(lesion: Lesion, days: float) -> Lesion:
    """The lesion ``days`` later: radii scaled by ``growth_per_30_days ** (days / 30)``.

    Outline and satellites keep their shape and direction (they scale with the radii), so the
    grown lesion contains the earlier one when the growth factor is at least 1.
    """
    factor = lesion.growth_per_30_days ** (days / 30.0)
    radii = tuple(r * factor for r in lesion.radii_mm)
    return replace(lesion, radii_mm=(radii[0], radii[1], radii[2]))


@dataclass(frozen=True, slots=True, eq=False)
class LesionMaps:
    """Lesions rendered on an anatomy's grid. Compared by identity; arrays are read-only."""

    labels: npt.NDArray[np.int16]
    """0 outside lesions, else the 1-based index of the lesion (satellites carry their parent's)."""
    rim: BoolArray
    """The active edge: bright on DWI, slightly low on ADC."""
    enhancing: BoolArray
    """Voxels that enhance on T1+Gd."""
    spacing_mm: tuple[float, float, float]
    """Voxel spacing (z, y, x) in mm."""

    def __post_init__(self) -> None:
        if self.labels.ndim != 3 or self.labels.dtype != np.int16:
            raise ValueError("labels must be a 3-D int16 array")
        for name in ("rim", "enhancing"):
            array = getattr(self, name)
            if array.shape != self.labels.shape or array.dtype != np.bool_:
                raise ValueError(f"{name} must be a boolean array of the shape of labels")
        mask = self.labels > 0
        if np.any(self.rim & ~mask) or np.any(self.enhancing & ~mask):
            raise ValueError("rim and enhancing must lie inside the lesions")
        spacing = tuple(float(s) for s in self.spacing_mm)
        if len(spacing) != 3 or min(spacing) <= 0:
            raise ValueError(f"spacing_mm must be three positive numbers, got {self.spacing_mm}")
        object.__setattr__(self, "spacing_mm", spacing)
        _readonly(self.labels)
        _readonly(self.rim)
        _readonly(self.enhancing)

    @classmethod
    def empty(
        cls, shape: tuple[int, int, int], spacing_mm: tuple[float, float, float]
    ) -> LesionMaps:
        """No lesions at all (a normal scan)."""
        return cls(
            labels=np.zeros(shape, np.int16),
            rim=np.zeros(shape, bool),
            enhancing=np.zeros(shape, bool),
            spacing_mm=spacing_mm,
        )

    @classmethod
    def from_mask(
        cls, mask: BoolArray, spacing_mm: tuple[float, float, float], *, rim_mm: float = 3.5
    ) -> LesionMaps:
        """One lesion from a plain mask; its rim is the mask minus an in-plane erosion."""
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 3:
            raise ValueError("mask must be 3-D")
        core = mask.copy()
        for _ in range(max(1, round(rim_mm / min(spacing_mm[1:])))):
            core = _erode_in_plane(core)
        return cls(
            labels=mask.astype(np.int16),
            rim=mask & ~core,
            enhancing=np.zeros(mask.shape, bool),
            spacing_mm=spacing_mm,
        )

    @property
    def mask(self) -> BoolArray:
        """All lesion voxels."""
        return self.labels > 0

    @property
    def core(self) -> BoolArray:
        """Lesion voxels that are not rim."""
        return (self.labels > 0) & ~self.rim

    @property
    def volume_ml(self) -> float:
        """Total lesion volume in mL."""
        voxel_ml = math.prod(self.spacing_mm) / 1000.0
        return int(np.count_nonzero(self.labels)) * voxel_ml


def _erode_in_plane(mask: BoolArray) -> BoolArray:
    """Erode by one voxel with the 4-neighbourhood of each slice; edges count as outside."""
    out = mask.copy()
    out[:, 1:, :] &= mask[:, :-1, :]
    out[:, :-1, :] &= mask[:, 1:, :]
    out[:, :, 1:] &= mask[:, :, :-1]
    out[:, :, :-1] &= mask[:, :, 1:]
    out[:, 0, :] = out[:, -1, :] = False
    out[:, :, 0] = out[:, :, -1] = False
    return out


# --- smooth random fields and ellipsoids ----------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Waves:
    """A sum of plane cosine waves: a smooth, seeded random field of roughly unit spread."""

    vectors: tuple[tuple[float, float, float], ...]
    phases: tuple[float, ...]
    amplitude: float

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        count: int,
        wavelength_mm: tuple[float, float],
        amplitude: float = 1.0,
    ) -> _Waves:
        directions = rng.normal(size=(count, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        wavenumbers = 2 * math.pi / rng.uniform(*wavelength_mm, size=count)
        vectors = directions * wavenumbers[:, None]
        phases = rng.uniform(0, 2 * math.pi, size=count)
        return cls(
            vectors=tuple((float(a), float(b), float(c)) for a, b, c in vectors),
            phases=tuple(float(p) for p in phases),
            amplitude=amplitude / math.sqrt(count / 2),
        )

    @property
    def bound(self) -> float:
        """No value of the field is larger than this."""
        return self.amplitude * len(self.vectors)

    def __call__(self, x: Floats, y: Floats, z: Floats) -> Floats:
        shape = np.broadcast_shapes(x.shape, y.shape, z.shape)
        out = np.zeros(shape, np.float32)
        for (kx, ky, kz), phase in zip(self.vectors, self.phases, strict=True):
            out += np.cos(kx * x + ky * y + kz * z + phase)
        out *= self.amplitude
        return out

    def value_and_gradient(self, x: Floats, y: Floats, z: Floats) -> tuple[Floats, Floats]:
        """The field and the length of its gradient (per mm) at the points."""
        shape = np.broadcast_shapes(x.shape, y.shape, z.shape)
        value = np.zeros(shape, np.float32)
        gx, gy, gz = (np.zeros(shape, np.float32) for _ in range(3))
        for (kx, ky, kz), phase in zip(self.vectors, self.phases, strict=True):
            angle = kx * x + ky * y + kz * z + phase
            value += np.cos(angle)
            slope = np.sin(angle)
            gx -= kx * slope
            gy -= ky * slope
            gz -= kz * slope
        gradient = np.sqrt(gx * gx + gy * gy + gz * gz)
        return value * self.amplitude, (gradient * self.amplitude).astype(np.float32)


@dataclass(frozen=True, slots=True, eq=False)
class _Shell:
    """Where points lie relative to a wobbly ellipsoid's surface."""

    depth: Floats
    """Distance to the surface along the ray from the centre, mm; positive inside."""
    surface: tuple[Floats, Floats, Floats]
    """The surface point on that ray (relative to the centre unless one was given)."""


def _ellipsoid(
    dx: Floats,
    dy: Floats,
    dz: Floats,
    semi: tuple[float, float, float],
    wobble: _Waves | None = None,
    wobble_radius_mm: float = 60.0,
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> _Shell:
    """Depth of points (given relative to the centre) in an ellipsoid whose radius wobbles.

    The surface radius along a direction ``u`` is the ellipsoid's times ``1 + wobble(u · R)``;
    the depth along the ray is close to the distance to the surface near it, which is where the
    cortex and the skull layers need it.
    """
    a, b, c = semi
    r = np.sqrt(dx * dx + dy * dy + dz * dz)
    rho = np.sqrt((dx / a) ** 2 + (dy / b) ** 2 + (dz / c) ** 2)
    safe_rho = np.maximum(rho, 1e-6)
    radius = np.where(rho > 1e-6, r / safe_rho, min(semi)).astype(np.float32)
    safe_r = np.maximum(r, 1e-6)
    ux, uy, uz = dx / safe_r, dy / safe_r, dz / safe_r
    if wobble is not None:
        radius *= 1 + wobble(ux * wobble_radius_mm, uy * wobble_radius_mm, uz * wobble_radius_mm)
    depth = (radius - r).astype(np.float32)
    cx, cy, cz = centre
    return _Shell(depth=depth, surface=(ux * radius + cx, uy * radius + cy, uz * radius + cz))


def _union(*shells: _Shell) -> _Shell:
    """The union of shells: at each point, the one it lies deepest in."""
    best = shells[0]
    depth, (sx, sy, sz) = best.depth, best.surface
    for shell in shells[1:]:
        deeper = shell.depth > depth
        depth = np.where(deeper, shell.depth, depth)
        sx = np.where(deeper, shell.surface[0], sx)
        sy = np.where(deeper, shell.surface[1], sy)
        sz = np.where(deeper, shell.surface[2], sz)
    return _Shell(depth=depth, surface=(sx, sy, sz))


def _box(dx: Floats, dy: Floats, dz: Floats, semi: tuple[float, float, float]) -> BoolArray:
    """Inside a plain ellipsoid (points relative to its centre)."""
    a, b, c = semi
    inside: BoolArray = (dx / a) ** 2 + (dy / b) ** 2 + (dz / c) ** 2 <= 1.0
    return inside


def _grid(
    shape: tuple[int, int, int], spacing_mm: tuple[float, float, float]
) -> tuple[Floats, Floats, Floats]:
    """Open grids x (1, 1, X), y (1, Y, 1), z (Z, 1, 1) in mm, centred on the grid."""
    nz, ny, nx = shape
    sz, sy, sx = spacing_mm
    x = ((np.arange(nx, dtype=np.float32) - (nx - 1) / 2) * sx).reshape(1, 1, nx)
    y = ((np.arange(ny, dtype=np.float32) - (ny - 1) / 2) * sy).reshape(1, ny, 1)
    z = ((np.arange(nz, dtype=np.float32) - (nz - 1) / 2) * sz).reshape(nz, 1, 1)
    return x, y, z


def _folded_cortex(
    depth: Floats,
    surface: tuple[Floats, Floats, Floats],
    point: tuple[Floats, Floats, Floats],
    folds: _Waves,
    fold_depth: _Waves,
    *,
    ribbon_mm: float,
    mean_sulcus_mm: float,
    sulcus_half_mm: float,
    grey_mm: float,
) -> tuple[BoolArray, BoolArray]:
    """Grey-matter and sulcal-CSF masks of a folded cortex under a surface.

    Sulci lie along the level set ``folds == 0`` of a field evaluated half-way between the
    point and its surface point, so that they run roughly perpendicular to the surface and bend
    a little with depth. The distance to a sulcus is estimated as ``|F| / |grad F|``, which
    gives the sulcus a width of ``2 * sulcus_half_mm`` and the cortex lining it an even
    thickness of ``grey_mm``; a ribbon of ``ribbon_mm`` covers the crowns of the gyri.
    Only the shell under the surface where sulci can reach is evaluated.
    """
    shape = depth.shape
    grey = np.zeros(shape, bool)
    sulcus = np.zeros(shape, bool)
    near = np.nonzero((depth >= 0) & (depth < 1.6 * mean_sulcus_mm + ribbon_mm))
    at = tuple(np.broadcast_to(s, shape)[near] for s in surface)
    bent = tuple(
        0.5 * (s + np.broadcast_to(p, shape)[near]) for s, p in zip(at, point, strict=True)
    )
    value, gradient = folds.value_and_gradient(bent[0], bent[1], bent[2])
    distance = np.abs(value) / np.maximum(gradient, 1e-6)
    sulcus_mm = mean_sulcus_mm * (1 + 0.25 * np.clip(fold_depth(at[0], at[1], at[2]), -1.5, 1.5))
    d = depth[near]
    sulcus[near] = (distance < sulcus_half_mm) & (d < sulcus_mm)
    grey[near] = (d < ribbon_mm) | (
        (distance < sulcus_half_mm + grey_mm) & (d < sulcus_mm + ribbon_mm)
    )
    return grey, sulcus


# --- anatomy --------------------------------------------------------------------------------


def make_anatomy(
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    spacing_mm: tuple[float, float, float] = DEFAULT_SPACING_MM,
    *,
    seed: int = 0,
) -> Anatomy:
    """Build a synthetic head on a grid of ``shape`` (z, y, x) and ``spacing_mm`` (z, y, x).

    The head is centred on the grid (about 150 × 185 × 150 mm of brain and skull; the default
    grid covers 230 × 230 × 160 mm). The seed varies size, position, a small head rotation, the
    outline, the gyral pattern and the ventricle size, so that cases differ; the same seed
    gives the same anatomy.
    """
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be three positive sizes, got {shape}")
    if len(spacing_mm) != 3 or min(spacing_mm) <= 0:
        raise ValueError(f"spacing_mm must be three positive numbers, got {spacing_mm}")
    if seed < 0:
        raise ValueError("seed must not be negative")
    rng = np.random.default_rng([_SALT_ANATOMY, seed])
    scale = 1 + rng.uniform(-0.04, 0.04, size=3)
    yaw = math.radians(rng.uniform(-4.0, 4.0))
    shift = rng.uniform(-3.0, 3.0, size=3)
    ventricle = float(rng.uniform(0.85, 1.4))
    wobble = _Waves.random(rng, 6, (90.0, 160.0), amplitude=0.025)
    folds = _Waves.random(rng, 24, (14.0, 22.0))
    fold_depth = _Waves.random(rng, 5, (40.0, 80.0))
    cerebellar_folds = _Waves.random(rng, 10, (9.0, 13.0))

    x, y, z = _grid(shape, spacing_mm)
    # Head frame: shifted and turned by a few degrees about the z axis.
    cos, sin = math.cos(yaw), math.sin(yaw)
    x0, y0, z0 = (float(s) for s in shift)
    xh = cos * (x - x0) + sin * (y - y0)
    yh = -sin * (x - x0) + cos * (y - y0)
    zh = z - z0

    sx, sy, sz = (float(s) for s in scale)
    cc = (0.0, 2.0, 6.0)
    cerebrum_semi = (66.0 * sx, 84.0 * sy, 58.0 * sz)
    # Egg shape: the brain is narrower in front than behind.
    taper = 1 + 0.08 * (yh - cc[1]) / cerebrum_semi[1]
    cerebrum = _union(
        _ellipsoid(
            (xh - cc[0]) / taper,
            yh - cc[1],
            zh - cc[2],
            cerebrum_semi,
            wobble,
            wobble_radius_mm=60,
            centre=cc,
        ),
        *(
            _ellipsoid(
                xh - side * 40.0 * sx,
                yh + 4.0 * sy,
                zh + 22.0 * sz,
                (24.0, 40.0, 24.0),
                centre=(side * 40.0 * sx, -4.0 * sy, -22.0 * sz),
            )
            for side in (1.0, -1.0)
        ),
    )
    cb_centre = (0.0, 46.0 * sy, -44.0 * sz)
    cerebellum = _ellipsoid(
        xh - cb_centre[0],
        yh - cb_centre[1],
        zh - cb_centre[2],
        (50 * sx, 30 * sy, 21 * sz),
        centre=cb_centre,
    )
    bs_centre = (0.0, 16.0 * sy, -46.0 * sz)
    brainstem = _ellipsoid(
        xh - bs_centre[0], yh - bs_centre[1], zh - bs_centre[2], (13.0, 14.0, 34.0)
    )
    neck = _box(xh, yh - 12.0, zh + 83.0, (62.0, 75.0, 45.0))

    full = np.broadcast_shapes(xh.shape, zh.shape)
    labels = np.zeros(full, np.uint8)
    intracranial = np.maximum(np.maximum(cerebrum.depth, cerebellum.depth), brainstem.depth)
    labels[(intracranial >= -16.0) | neck] = Tissue.SCALP
    labels[intracranial >= -9.5] = Tissue.SKULL
    labels[intracranial >= -3.0] = Tissue.CSF

    # Cerebrum, split by the interhemispheric fissure except where the corpus callosum and the
    # diencephalon join the hemispheres: there the medial surface is pushed away, smoothly,
    # so that no straight edge shows where the fissure begins. The tentorium keeps a CSF gap
    # to the cerebellum.
    zv = cc[2] + 4.0 * sz  # level of the ventricles' bodies
    joined = np.sqrt(((yh - 2.0 * sy) / (32.0 * sy)) ** 2 + ((zh - (zv - 12.0)) / 22.0) ** 2)
    medial = np.abs(xh) - 1.2 + 80.0 * np.clip(1.2 - joined, 0.0, None)
    depth = np.minimum(cerebrum.depth, medial).astype(np.float32)
    # Under the medial surface the sulci run from the midline, not from the convexity; the
    # field is sampled away from the midline so that the two hemispheres' sulci differ.
    on_medial = medial < cerebrum.depth
    surface = (
        np.where(on_medial, np.sign(xh) * 30.0, cerebrum.surface[0]),
        np.where(on_medial, yh, cerebrum.surface[1]),
        np.where(on_medial, zh, cerebrum.surface[2]),
    )
    in_cerebrum = (depth >= 0) & (cerebellum.depth < -1.2)
    grey, sulcus = _folded_cortex(
        depth,
        surface,
        (xh, yh, zh),
        folds,
        fold_depth,
        ribbon_mm=2.8,
        mean_sulcus_mm=14.0,
        sulcus_half_mm=0.9,
        grey_mm=2.8,
    )
    labels[in_cerebrum] = Tissue.WHITE_MATTER
    labels[in_cerebrum & grey] = Tissue.GREY_MATTER
    labels[in_cerebrum & sulcus] = Tissue.CSF

    # Insula under a lateral (Sylvian) fissure, at the level of the basal ganglia: a curved
    # grey strip, a CSF gap lateral to it and a cleft out to the surface, lined with cortex.
    lateral_x = np.abs(xh) / sx
    insular_level = (zh > zv - 26.0) & (zh < zv + 4.0) & (yh > -26.0 * sy) & (yh < 16.0 * sy)
    bow = 36.0 - 0.012 * (yh / sy + 5.0) ** 2 - 0.05 * (zh - zv + 11.0) ** 2 / 15.0
    insula = insular_level & (lateral_x > bow - 4.0) & (lateral_x < bow)
    sylvian_gap = insular_level & (lateral_x >= bow) & (lateral_x < bow + 2.5)
    along = yh / sy + 6.0 - 0.4 * (lateral_x - bow)
    outward = insular_level & (lateral_x >= bow)
    sylvian_cleft = outward & (np.abs(along) < 1.4)
    sylvian_bank = outward & ((np.abs(along) < 4.4) | (lateral_x < bow + 5.5))
    labels[in_cerebrum & (insula | sylvian_bank)] = Tissue.GREY_MATTER
    labels[in_cerebrum & (sylvian_gap | sylvian_cleft)] = Tissue.CSF

    deep_grey = np.zeros(full, bool)
    ventricles = np.zeros(full, bool)
    for side in (1.0, -1.0):
        mx = side * xh  # mirrored so that each side is built on positive x
        deep_grey |= _box(mx - (12.0 + 2.0 * ventricle), yh + 20.0 * sy, zh - zv, (5.0, 9.0, 10.0))
        deep_grey |= _box(mx - 10.0, yh - 4.0 * sy, zh - (zv - 14.0), (8.0, 13.0, 9.0))
        deep_grey |= _box(mx - 22.0, yh + 6.0 * sy, zh - (zv - 14.0), (5.5, 14.0, 9.0))
        body_x = 5.0 + 0.12 * (yh + 20.0)
        ventricles |= _box(mx - body_x, yh - 4.0 * sy, zh - zv, (4.0 * ventricle, 30.0, 8.5))
        ventricles |= _box(mx - 8.0, yh + 24.0 * sy, zh - (zv - 2), (5.5 * ventricle, 9.0, 9.0))
        ventricles |= _box(
            mx - 15.0, yh - 30.0 * sy, zh - (zv - 4), (6.0 * ventricle, 10.0, 9.0 * ventricle)
        )
    ventricles |= _box(xh, yh + 2.0, zh - (zv - 17.0), (1.6 * ventricle, 10.0, 9.0))
    deep = in_cerebrum & (depth > 12.0)
    labels[deep & deep_grey] = Tissue.DEEP_GREY
    labels[deep & ventricles] = Tissue.CSF

    in_cerebellum = (cerebellum.depth >= 0) & ~in_cerebrum
    cb_grey, cb_sulcus = _folded_cortex(
        cerebellum.depth,
        cerebellum.surface,
        (xh, yh, zh),
        cerebellar_folds,
        fold_depth,
        ribbon_mm=2.2,
        mean_sulcus_mm=7.0,
        sulcus_half_mm=0.7,
        grey_mm=2.0,
    )
    labels[in_cerebellum] = Tissue.WHITE_MATTER
    labels[in_cerebellum & cb_grey] = Tissue.GREY_MATTER
    labels[in_cerebellum & cb_sulcus] = Tissue.CSF

    in_brainstem = (brainstem.depth >= 0) & ~in_cerebrum
    labels[in_brainstem] = Tissue.WHITE_MATTER
    fourth = _box(xh, yh - 28.0 * sy, zh + 42.0 * sz, (6.0, 4.0, 7.0))
    labels[fourth & (in_brainstem | in_cerebellum)] = Tissue.CSF

    cerebral_depth = np.where(in_cerebrum, depth, np.float32(-1.0)).astype(np.float32)
    centre_world = (
        x0 + cos * cc[0] - sin * cc[1],
        y0 + sin * cc[0] + cos * cc[1],
        z0 + cc[2],
    )
    return Anatomy(
        labels=labels,
        cerebral_depth_mm=cerebral_depth,
        spacing_mm=spacing_mm,
        cerebrum_centre_mm=centre_world,
        seed=seed,
    )


# --- lesions --------------------------------------------------------------------------------


def render_lesions(
    anatomy: Anatomy, lesions: Iterable[Lesion], *, rim_mm: float = 3.5
) -> LesionMaps:
    """Draw lesions on the anatomy's grid, clipped to white matter.

    A lesion stays on its side of the tentorium: one centred in the cerebrum is clipped to
    cerebral white matter, any other to the white matter of the posterior fossa. The rim is
    the outer ``rim_mm`` of each lesion's own outline (the advancing edge); where the lesion is
    cut by the cortex the cut face is not rim. Punctate satellites are all rim and at least one
    slice thick. An enhancing lesion's outer 2 mm enhances.
    """
    shape = anatomy.shape
    labels = np.zeros(shape, np.int16)
    rim = np.zeros(shape, bool)
    enhancing = np.zeros(shape, bool)
    white = anatomy.labels == Tissue.WHITE_MATTER
    cerebrum = anatomy.cerebral_depth_mm >= 0
    white_above, white_below = white & cerebrum, white & ~cerebrum
    origin = anatomy.origin_lps
    sz, sy, sx = anatomy.spacing_mm
    spacing_xyz = (sx, sy, sz)
    for number, lesion in enumerate(lesions, start=1):
        index = tuple(
            min(max(round((lesion.centre_mm[axis] - origin[axis]) / spacing_xyz[axis]), 0), n - 1)
            for axis, n in ((2, shape[0]), (1, shape[1]), (0, shape[2]))
        )
        allowed = white_above if cerebrum[index] else white_below
        rng = np.random.default_rng([_SALT_SHAPE, lesion.shape_seed])
        outline = _Waves.random(rng, 6, (45.0, 90.0), amplitude=lesion.irregularity)
        blobs: list[tuple[tuple[float, float, float], tuple[float, float, float], _Waves | None]]
        blobs = [(lesion.centre_mm, lesion.radii_mm, outline)]
        for _ in range(lesion.satellites):
            direction = rng.normal(size=3) * (1.0, 1.0, 0.4)
            direction /= np.linalg.norm(direction)
            distance = rng.uniform(1.15, 1.7)
            radius = float(rng.uniform(1.6, 2.6))
            centre = tuple(
                c + float(u) * distance * r
                for c, u, r in zip(lesion.centre_mm, direction, lesion.radii_mm, strict=True)
            )
            radii = (radius, radius, max(radius, 0.55 * sz))
            blobs.append(((centre[0], centre[1], centre[2]), radii, None))
        for centre, radii, wobble in blobs:
            reach = 1 + (wobble.bound if wobble is not None else 0)
            lo, hi = [], []
            for axis in range(3):
                c = (centre[axis] - origin[axis]) / spacing_xyz[axis]
                half = radii[axis] * reach / spacing_xyz[axis] + 1
                lo.append(max(0, math.floor(c - half)))
                hi.append(min(shape[2 - axis], math.ceil(c + half) + 1))
            if any(h <= low for low, h in zip(lo, hi, strict=True)):
                continue
            box = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
            px = (origin[0] + np.arange(lo[0], hi[0], dtype=np.float32) * sx).reshape(1, 1, -1)
            py = (origin[1] + np.arange(lo[1], hi[1], dtype=np.float32) * sy).reshape(1, -1, 1)
            pz = (origin[2] + np.arange(lo[2], hi[2], dtype=np.float32) * sz).reshape(-1, 1, 1)
            shell = _ellipsoid(
                px - centre[0], py - centre[1], pz - centre[2], radii, wobble, wobble_radius_mm=30
            )
            inside = (shell.depth >= 0) & allowed[box]
            free = labels[box] == 0
            labels[box][inside & free] = number
            rim[box] |= inside & (shell.depth < rim_mm)
            if lesion.enhancing:
                enhancing[box] |= inside & (shell.depth < 2.0)
    return LesionMaps(labels=labels, rim=rim, enhancing=enhancing, spacing_mm=anatomy.spacing_mm)


_LOBES = tuple(Lobe)


def _lobe_map(anatomy: Anatomy) -> npt.NDArray[np.int8]:
    """A rough lobe per voxel (index into ``tuple(Lobe)``), from the offset to the cerebrum's
    centre: frontal in front, occipital at the back, temporal low and lateral, parietal high
    in between; the low central cerebrum goes to frontal (front half) or temporal (back half),
    and everything outside the cerebrum counts as infratentorial."""
    cx, cy, cz = anatomy.cerebrum_centre_mm
    x, y, z = _grid(anatomy.shape, anatomy.spacing_mm)  # the phantom frame is centred
    dx, dy, dz = x - cx, y - cy, z - cz

    def paint(where: BoolArray, lobe: Lobe) -> None:
        lobes[np.broadcast_to(where, anatomy.shape)] = _LOBES.index(lobe)

    lobes = np.full(anatomy.shape, _LOBES.index(Lobe.PARIETAL), np.int8)
    paint((dz < 0) & (dy >= 0), Lobe.TEMPORAL)
    paint((dz < 0) & (dy < 0), Lobe.FRONTAL)
    paint((dz < -8) & (np.abs(dx) > 28), Lobe.TEMPORAL)
    paint(dy > 45, Lobe.OCCIPITAL)
    paint(dy < -20, Lobe.FRONTAL)
    lobes[anatomy.cerebral_depth_mm < 0] = _LOBES.index(Lobe.INFRATENTORIAL)
    return lobes


def _lesion_site(
    anatomy: Anatomy,
    rng: np.random.Generator,
    hemisphere: Hemisphere,
    lobe: Lobe | None,
    lobes: npt.NDArray[np.int8],
) -> tuple[float, float, float] | None:
    """A random white-matter point for a lesion centre, or None where there is none.

    Supratentorial sites are subcortical, 7–20 mm under the cerebral surface and away from
    the midline, so that the lesion reaches the U-fibres; infratentorial ones are in the
    cerebellar white matter or the brainstem off the midline. Where a lobe has no such point
    on a coarse grid, any of its white matter on that side will do.
    """
    white = anatomy.labels == Tissue.WHITE_MATTER
    depth = anatomy.cerebral_depth_mm
    x, _, _ = _grid(anatomy.shape, anatomy.spacing_mm)
    lateral = x - anatomy.cerebrum_centre_mm[0]
    side = (lateral > 0) if hemisphere is Hemisphere.LEFT else (lateral < 0)  # LPS: +x is left
    if lobe is Lobe.INFRATENTORIAL:
        site = white & (depth < 0) & side & (np.abs(lateral) > 8.0)
        fallback = white & (depth < 0) & side
    else:
        site = white & (depth >= 7.0) & (depth <= 20.0) & side & (np.abs(lateral) > 14.0)
        fallback = white & (depth >= 0) & side
        if lobe is not None:
            site &= lobes == _LOBES.index(lobe)
            fallback &= lobes == _LOBES.index(lobe)
    for candidates in (site, fallback):
        flat = np.flatnonzero(candidates)
        if flat.size:
            k, j, i = np.unravel_index(int(rng.choice(flat)), anatomy.shape)
            return anatomy.point_mm((int(k), int(j), int(i)))
    return None


def _lesion_at(
    anatomy: Anatomy,
    rng: np.random.Generator,
    centre: tuple[float, float, float],
    radius_mm: float,
    lobes: npt.NDArray[np.int8],
    **features: Any,
) -> Lesion:
    """A lesion of about ``radius_mm`` at ``centre`` with a seeded shape and proportions."""
    radii = (
        radius_mm * float(rng.uniform(0.85, 1.15)),
        radius_mm * float(rng.uniform(0.95, 1.3)),
        radius_mm * float(rng.uniform(0.75, 1.0)),
    )
    origin = anatomy.origin_lps
    sz, sy, sx = anatomy.spacing_mm
    index = (
        round((centre[2] - origin[2]) / sz),
        round((centre[1] - origin[1]) / sy),
        round((centre[0] - origin[0]) / sx),
    )
    return Lesion(
        centre_mm=centre,
        radii_mm=radii,
        hemisphere=(
            Hemisphere.LEFT if centre[0] > anatomy.cerebrum_centre_mm[0] else Hemisphere.RIGHT
        ),
        lobe=_LOBES[int(lobes[index])],
        shape_seed=int(rng.integers(0, 2**31)),
        irregularity=float(rng.uniform(0.12, 0.25)),
        **features,
    )


def place_lesion(
    anatomy: Anatomy,
    hemisphere: Hemisphere | str,
    lobe: Lobe | str,
    radius_mm: float,
    *,
    seed: int = 0,
    growth_per_30_days: float = 1.2,
    enhancing: bool = False,
    satellites: int = 0,
) -> Lesion:
    """A lesion of about ``radius_mm`` in subcortical white matter of a hemisphere and lobe.

    For cases described in words ("left frontal, 9 mm"): the centre is a random point of the
    region (see :func:`random_lesions`), the radii vary around ``radius_mm`` by the seed.
    Raises ValueError where the anatomy has no white matter there.
    """
    hemisphere, lobe = _side(hemisphere), Lobe(lobe)
    if not (math.isfinite(radius_mm) and radius_mm > 0):
        raise ValueError("radius_mm must be a positive number")
    if seed < 0:
        raise ValueError("seed must not be negative")
    where = (_LOBES.index(lobe), SIDES.index(hemisphere))
    rng = np.random.default_rng([_SALT_LESIONS, anatomy.seed, seed, *where])
    lobes = _lobe_map(anatomy)
    centre = _lesion_site(anatomy, rng, hemisphere, lobe, lobes)
    if centre is None:
        raise ValueError(f"no white matter in the {hemisphere.value} {lobe.value} region")
    return _lesion_at(
        anatomy,
        rng,
        centre,
        radius_mm,
        lobes,
        growth_per_30_days=growth_per_30_days,
        enhancing=enhancing,
        satellites=satellites,
    )


def random_lesions(anatomy: Anatomy, *, seed: int, count: int | None = None) -> tuple[Lesion, ...]:
    """PML-like lesions for a case: subcortical, asymmetric, mostly in one hemisphere.

    The first lesion is the largest (radius 12–20 mm before clipping to white matter), in
    subcortical white matter 7–20 mm under the cerebral surface of a randomly chosen
    hemisphere, so that it reaches the U-fibres; later ones are smaller, in the same
    hemisphere more often than not, or (one in four) infratentorial. ``count`` defaults to
    1–3. Deterministic for a given anatomy and seed.
    """
    if seed < 0:
        raise ValueError("seed must not be negative")
    if count is not None and count < 0:
        raise ValueError("count must not be negative")
    rng = np.random.default_rng([_SALT_LESIONS, anatomy.seed, seed])
    count = int(rng.integers(1, 4)) if count is None else count
    lobes = _lobe_map(anatomy)
    primary = Hemisphere.LEFT if rng.random() < 0.5 else Hemisphere.RIGHT
    other = Hemisphere.RIGHT if primary is Hemisphere.LEFT else Hemisphere.LEFT
    lesions: list[Lesion] = []
    for n in range(count):
        side = primary if n == 0 or rng.random() < 0.6 else other
        below = n > 0 and rng.random() < 0.25
        lobe = Lobe.INFRATENTORIAL if below else None
        centre = _lesion_site(anatomy, rng, side, lobe, lobes)
        if centre is None:
            continue
        radius = float(rng.uniform(12.0, 20.0)) * (1.0 if n == 0 else rng.uniform(0.45, 0.75))
        lesions.append(
            _lesion_at(
                anatomy,
                rng,
                centre,
                radius,
                lobes,
                growth_per_30_days=float(
                    rng.uniform(1.15, 1.4) if n == 0 else rng.uniform(1.05, 1.3)
                ),
                enhancing=bool(rng.random() < 0.2),
                satellites=int(rng.integers(0, 6) if n == 0 else rng.integers(0, 3)),
            )
        )
    return tuple(lesions)


# --- contrast -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Contrast:
    """Signal of each tissue and lesion part on one sequence, and its noise level."""

    tissue: tuple[float, ...]
    """Indexed by :class:`Tissue`."""
    lesion_core: float
    lesion_rim: float
    enhancement: float | None
    noise: float
    """Noise standard deviation as a fraction of white matter's signal."""


# Orders that matter for reading: FLAIR CSF dark, GM a little above WM, lesion bright; T2 CSF
# brightest, lesion bright; T1 WM above GM, lesion dark; DWI lesion rim bright, core near
# WM; ADC (10^-6 mm^2/s) core high, rim a little below WM.
#                        bg  scalp skull  CSF    GM    WM   deep
_CONTRASTS: dict[SequenceClass, _Contrast] = {
    SequenceClass.T1: _Contrast((0, 1350, 90, 260, 720, 1050, 830), 430, 560, None, 0.025),
    SequenceClass.T1_GD: _Contrast((0, 1400, 90, 270, 740, 1050, 840), 430, 560, 1500, 0.025),
    SequenceClass.T2: _Contrast((0, 1000, 60, 1900, 980, 700, 860), 1800, 1600, None, 0.03),
    SequenceClass.FLAIR: _Contrast((0, 820, 50, 130, 900, 620, 780), 1380, 1560, None, 0.035),
    SequenceClass.DWI: _Contrast((0, 160, 40, 150, 760, 640, 700), 720, 1500, None, 0.06),
    SequenceClass.ADC: _Contrast((0, 950, 0, 3050, 850, 740, 790), 1650, 540, None, 0.08),
}


def _blur_in_plane(volume: Floats) -> Floats:
    """Partial volume: a [1, 2, 1] / 4 filter along rows and columns (edges repeated)."""
    padded = np.pad(volume, ((0, 0), (1, 1), (0, 0)), mode="edge")
    rows = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]) * 0.25
    padded = np.pad(rows, ((0, 0), (0, 0), (1, 1)), mode="edge")
    out: Floats = ((padded[:, :, :-2] + 2 * padded[:, :, 1:-1] + padded[:, :, 2:]) * 0.25).astype(
        np.float32
    )
    return out


def synthesize(
    anatomy: Anatomy,
    lesions: LesionMaps | BoolArray | None,
    sequence: SequenceClass | str,
    *,
    seed: int = 0,
) -> npt.NDArray[np.int16]:
    """One MR contrast of the anatomy with its lesions, as an int16 (z, y, x) volume.

    ``lesions`` may be :class:`LesionMaps`, a plain boolean mask (see
    :meth:`LesionMaps.from_mask`) or None. Values are 0 to about 2000, ADC in 10^-6 mm²/s
    (0 to about 3500). ``seed`` chooses the session: sequences of one seed share a bias field
    (the same coil) and have independent noise. Deterministic for a given anatomy, lesions,
    sequence and seed.
    """
    sequence = SequenceClass(sequence)
    if sequence not in _CONTRASTS:
        raise ValueError(
            f"cannot synthesize {sequence.value}; only {[s.value for s in _CONTRASTS]}"
        )
    if seed < 0:
        raise ValueError("seed must not be negative")
    if lesions is None:
        lesions = LesionMaps.empty(anatomy.shape, anatomy.spacing_mm)
    elif not isinstance(lesions, LesionMaps):
        lesions = LesionMaps.from_mask(lesions, anatomy.spacing_mm)
    if lesions.labels.shape != anatomy.shape:
        raise ValueError("lesions and anatomy have different grids")
    contrast = _CONTRASTS[sequence]

    table = np.asarray(contrast.tissue, np.float32)
    signal = table[anatomy.labels]
    mask = lesions.mask
    signal[mask] = contrast.lesion_core
    signal[lesions.rim] = contrast.lesion_rim
    if contrast.enhancement is not None:
        signal[lesions.enhancing] = contrast.enhancement
    signal = _blur_in_plane(signal)

    # Tissue is not flat: a faint smooth texture inside the head, the same on every sequence.
    texture = _Waves.random(
        np.random.default_rng([_SALT_ANATOMY, anatomy.seed, 1]), 6, (20.0, 50.0), amplitude=0.03
    )

    bias_rng = np.random.default_rng([_SALT_BIAS, anatomy.seed, seed])
    c = [float(v) for v in bias_rng.uniform(-0.06, 0.06, size=6)]
    x, y, z = _grid(anatomy.shape, anatomy.spacing_mm)
    xn, yn, zn = x / 100.0, y / 100.0, z / 100.0
    signal *= 1 + c[0] * xn + c[1] * yn + c[2] * zn + c[3] * xn * yn + c[4] * (xn * xn + yn * yn)
    signal *= 1 + texture(x, y, z)

    noise_rng = np.random.default_rng(
        [_SALT_NOISE, anatomy.seed, seed, SYNTHESIZED_SEQUENCES.index(sequence)]
    )
    sigma = contrast.noise * contrast.tissue[Tissue.WHITE_MATTER]
    first = noise_rng.standard_normal(anatomy.shape, dtype=np.float32)
    if sequence is SequenceClass.ADC:
        # A fitted map: Gaussian scatter, masked to the head like a scanner's ADC.
        signal += sigma * first
        signal[anatomy.labels == Tissue.BACKGROUND] = 0
    else:
        second = noise_rng.standard_normal(anatomy.shape, dtype=np.float32)
        signal = np.sqrt((signal + sigma * first) ** 2 + (sigma * second) ** 2)
    return np.clip(np.rint(signal), 0, 32767).astype(np.int16)
