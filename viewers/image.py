"""The layers a view shows: a greyscale image and integer label maps, each with its affine.

Both are frozen dataclasses validated on construction. An affine maps voxel indices
``(i, j, k)`` to DICOM LPS millimetres (x to the patient's Left, y to Posterior, z to
Superior). Arrays are used as given, never copied, so read-only memory maps work; a layer
is identified by its object identity (``eq=False``), not by comparing voxels.

A 4D image ``(i, j, k, t)`` (DWI, fMRI) is shown one volume at a time: :attr:`ImageLayer.volume`
is the 3D view at :attr:`ImageLayer.time_index`; change it with :meth:`ImageLayer.at_time`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

RGBA = tuple[int, int, int, int]
"""A colour as red, green, blue, alpha, each 0–255."""


class LayerError(ValueError):
    """A layer was given an array or an affine it cannot show."""


def validate_affine(affine: object, where: str) -> np.ndarray:
    """``affine`` as a read-only float64 4x4 array, or :class:`LayerError` saying what is wrong.

    The affine must be 4x4, finite, have ``0 0 0 1`` as its last row and a non-singular
    3x3 part (no zero voxel size, no collinear axes).
    """
    try:
        array = np.array(affine, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LayerError(f"{where}: affine is not numeric ({exc})") from exc
    if array.shape != (4, 4):
        raise LayerError(f"{where}: affine has shape {array.shape}, expected (4, 4)")
    if not np.all(np.isfinite(array)):
        raise LayerError(f"{where}: affine holds non-finite values")
    if not np.allclose(array[3], [0.0, 0.0, 0.0, 1.0]):
        raise LayerError(f"{where}: affine's last row is {array[3]}, not 0 0 0 1")
    if abs(np.linalg.det(array[:3, :3])) < 1e-9:
        raise LayerError(f"{where}: affine is singular (zero voxel size or collinear axes)")
    array.setflags(write=False)
    return array


class _Spatial:
    """Shared geometry of the two layer kinds (a mixin; fields live in the dataclasses)."""

    __slots__ = ()
    array: np.ndarray
    affine: np.ndarray
    inverse_affine: np.ndarray

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        """``(ni, nj, nk)``: the shape of one volume."""
        shape = self.array.shape
        return (shape[0], shape[1], shape[2])

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along i, j and k (the lengths of the affine's columns)."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    def voxel_to_world(self, ijk: npt.ArrayLike) -> np.ndarray:
        """LPS mm of voxel indices ``ijk`` (shape ``(..., 3)``, fractional allowed)."""
        points = np.asarray(ijk, dtype=np.float64)
        return points @ self.affine[:3, :3].T + self.affine[:3, 3]

    def world_to_voxel(self, xyz: npt.ArrayLike) -> np.ndarray:
        """Fractional voxel indices of LPS points ``xyz`` (shape ``(..., 3)``)."""
        points = np.asarray(xyz, dtype=np.float64)
        return points @ self.inverse_affine[:3, :3].T + self.inverse_affine[:3, 3]

    def nearest_voxel(self, xyz: npt.ArrayLike) -> tuple[int, int, int] | None:
        """Index of the voxel whose centre is nearest to the LPS point, or None outside.

        Rounds half up (``floor(x + 0.5)``), as ITK's nearest-neighbour interpolator does.
        """
        ijk = np.floor(self.world_to_voxel(np.asarray(xyz, dtype=np.float64)) + 0.5)
        index = tuple(int(v) for v in ijk)
        if all(0 <= v < n for v, n in zip(index, self.spatial_shape, strict=True)):
            return (index[0], index[1], index[2])
        return None

    def contains(self, xyz: npt.ArrayLike) -> bool:
        """True when the LPS point lies inside the volume (within half a voxel of a centre)."""
        ijk = self.world_to_voxel(xyz)
        return bool(np.all(ijk >= -0.5) and np.all(ijk <= np.array(self.spatial_shape) - 0.5))

    def world_corners(self) -> np.ndarray:
        """The 8 outer corners of the volume (voxel edges, not centres) in LPS mm, ``(8, 3)``."""
        n = self.spatial_shape
        corners = np.array(
            [
                [i, j, k]
                for i in (-0.5, n[0] - 0.5)
                for j in (-0.5, n[1] - 0.5)
                for k in (-0.5, n[2] - 0.5)
            ]
        )
        return self.voxel_to_world(corners)

    @property
    def center_world(self) -> np.ndarray:
        """LPS mm of the centre of the volume."""
        return self.voxel_to_world((np.array(self.spatial_shape, dtype=np.float64) - 1.0) / 2.0)


def _readonly_inverse(affine: np.ndarray) -> np.ndarray:
    inverse = np.linalg.inv(affine)
    inverse.setflags(write=False)
    return inverse


@dataclass(frozen=True, slots=True, eq=False)
class ImageLayer(_Spatial):
    """A greyscale 3D or 4D image on a regular grid, placed in the world by an LPS affine.

    ``array`` is indexed ``(i, j, k)`` or ``(i, j, k, t)``; any real numeric dtype (int16
    and float32 memory maps are the usual). ``time_index`` picks the volume of a 4D image
    that is shown (0 for 3D).
    """

    name: str
    array: np.ndarray
    affine: np.ndarray
    time_index: int = 0
    inverse_affine: np.ndarray = field(init=False, repr=False)
    _cache: dict[Any, Any] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        where = f"image layer {self.name!r}"
        if not isinstance(self.array, np.ndarray):
            raise LayerError(f"{where}: array is a {type(self.array).__name__}, not a numpy array")
        if self.array.ndim not in (3, 4):
            raise LayerError(f"{where}: array has {self.array.ndim} dimensions, expected 3 or 4")
        if self.array.dtype.kind not in "biuf":
            raise LayerError(f"{where}: array dtype {self.array.dtype} is not a real number type")
        if min(self.array.shape) < 1:
            raise LayerError(f"{where}: array shape {self.array.shape} is empty")
        affine = validate_affine(self.affine, where)
        object.__setattr__(self, "affine", affine)
        object.__setattr__(self, "inverse_affine", _readonly_inverse(affine))
        if not 0 <= self.time_index < self.time_points:
            raise LayerError(
                f"{where}: time index {self.time_index} outside 0..{self.time_points - 1}"
            )

    @property
    def time_points(self) -> int:
        """Number of volumes: ``array.shape[3]`` for 4D, else 1."""
        return self.array.shape[3] if self.array.ndim == 4 else 1

    @property
    def volume(self) -> np.ndarray:
        """The 3D array shown now (a view, never a copy)."""
        return self.array[..., self.time_index] if self.array.ndim == 4 else self.array

    def at_time(self, time_index: int) -> ImageLayer:
        """The same image showing volume ``time_index`` (validated; shares derived values)."""
        other = dataclasses.replace(self, time_index=time_index)
        object.__setattr__(other, "_cache", self._cache)  # its keys name the time index
        return other

    def cached(self, key: object) -> Any:
        """A value stored with :meth:`store` under ``key`` for this layer, or None."""
        return self._cache.get(key)

    def store(self, key: object, value: object) -> None:
        """Remember a derived value (statistics, a prepared SimpleITK image) for this layer."""
        self._cache[key] = value


class LabelMode(enum.StrEnum):
    """How a label map is drawn over the image."""

    FILLED = "filled"
    """Every labelled pixel is tinted with its label's colour."""
    OUTLINE = "outline"
    """Only the boundary pixels of each label (4-neighbourhood) are drawn."""


def default_color(label: int) -> RGBA:
    """A distinct, saturated colour for ``label`` (1 is red, then yellow, green, ...)."""
    palette: tuple[RGBA, ...] = (
        (255, 48, 48, 255),
        (255, 214, 0, 255),
        (0, 220, 90, 255),
        (40, 150, 255, 255),
        (255, 120, 0, 255),
        (200, 80, 255, 255),
        (0, 230, 230, 255),
        (255, 90, 190, 255),
        (160, 255, 60, 255),
        (255, 170, 120, 255),
    )
    return palette[(label - 1) % len(palette)]


@dataclass(frozen=True, slots=True, eq=False)
class LabelLayer(_Spatial):
    """An integer label map (0 = background) on its own grid, drawn over the image.

    ``colors`` maps a label to its RGB or RGBA colour (0–255; stored as RGBA); labels missing
    from it get :func:`default_color`. ``mode`` is a :class:`LabelMode` (its string value is
    coerced). ``opacity`` (0–1) multiplies each colour's alpha. The array may be edited in
    place by drawing tools; tell the views with ``SliceView.labels_changed``.
    """

    name: str
    array: np.ndarray
    affine: np.ndarray
    colors: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    opacity: float = 0.5
    mode: LabelMode = LabelMode.FILLED
    visible: bool = True
    inverse_affine: np.ndarray = field(init=False, repr=False)
    _cache: dict[Any, Any] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        where = f"label layer {self.name!r}"
        if not isinstance(self.array, np.ndarray):
            raise LayerError(f"{where}: array is a {type(self.array).__name__}, not a numpy array")
        if self.array.ndim != 3:
            raise LayerError(f"{where}: array has {self.array.ndim} dimensions, expected 3")
        if self.array.dtype.kind not in "biu":
            raise LayerError(f"{where}: array dtype {self.array.dtype} is not an integer type")
        if not 0.0 <= float(self.opacity) <= 1.0:
            raise LayerError(f"{where}: opacity {self.opacity} outside 0..1")
        object.__setattr__(self, "mode", LabelMode(self.mode))
        colors: dict[int, RGBA] = {}
        for label, color in dict(self.colors).items():
            rgba = tuple(int(c) for c in color)
            if len(rgba) == 3:
                rgba = (*rgba, 255)
            if len(rgba) != 4 or not all(0 <= c <= 255 for c in rgba):
                raise LayerError(f"{where}: colour {color!r} of label {label} is not RGB(A) 0-255")
            colors[int(label)] = (rgba[0], rgba[1], rgba[2], rgba[3])
        object.__setattr__(self, "colors", colors)
        affine = validate_affine(self.affine, where)
        object.__setattr__(self, "affine", affine)
        object.__setattr__(self, "inverse_affine", _readonly_inverse(affine))

    def bounding_box(self) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
        """Lowest and highest voxel index (inclusive) holding a nonzero label, or None.

        Found once and remembered (call :meth:`forget_derived` after editing the array, or
        :meth:`note_edit`, which widens it, after editing a box): views use it to skip slices
        without labels and to sample only the labelled part. After :meth:`note_edit` it may
        be larger than the labels (never smaller).
        """
        if "bbox" in self._cache:
            found: tuple[tuple[int, int, int], tuple[int, int, int]] | None = self._cache["bbox"]
            return found
        occupied_ij = np.any(self.array, axis=2)
        rows = np.flatnonzero(occupied_ij.any(axis=1))
        box = None
        if rows.size:
            cols = np.flatnonzero(occupied_ij.any(axis=0))
            i0, i1, j0, j1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
            slabs = np.flatnonzero(np.any(self.array[i0 : i1 + 1, j0 : j1 + 1], axis=(0, 1)))
            box = ((i0, j0, int(slabs[0])), (i1, j1, int(slabs[-1])))
        self._cache["bbox"] = box
        return box

    def color_lut(self) -> np.ndarray:
        """``(n, 4)`` uint8: the RGBA of every label value 0..n-1 (row 0 transparent).

        ``n`` covers the largest label in the table and in the array (found once, then
        remembered; call :meth:`forget_derived` or :meth:`note_edit` after painting a new,
        larger label).
        """
        top = self._cache.get("max")
        if top is None:
            top = int(self.array.max()) if self.array.size else 0
            self._cache["max"] = top
        top = max(top, max(self.colors, default=0), 1)
        lut = self._cache.get(("lut", top))
        if lut is None:
            lut = np.zeros((top + 1, 4), dtype=np.uint8)
            for label in range(1, top + 1):
                lut[label] = self.colors.get(label, default_color(label))
            lut.setflags(write=False)
            self._cache[("lut", top)] = lut
        return lut

    def forget_derived(self) -> None:
        """Forget the remembered largest label and bounding box (after editing the array)."""
        self._cache.pop("max", None)
        self._cache.pop("bbox", None)

    def note_edit(
        self,
        lo: Sequence[int],
        hi_exclusive: Sequence[int],
        top_label: int | None = None,
    ) -> None:
        """Say that voxels inside the box ``lo..hi_exclusive`` were edited in place.

        Cheaper than :meth:`forget_derived` for a brush move: a remembered bounding box is
        widened to include the edited box (never shrunk, so after an erase it may be larger
        than the labels, which costs a little sampling, never a missed label), and a
        remembered largest label is raised to ``top_label`` (the largest value now in the
        edited box) when that is bigger. Nothing is rescanned; what was not remembered yet
        is found on first use as before. The box is clipped to the array.
        """
        shape = self.array.shape
        low = [min(max(int(v), 0), int(n)) for v, n in zip(lo, shape, strict=True)]
        high = [min(max(int(v), 0), int(n)) for v, n in zip(hi_exclusive, shape, strict=True)]
        if any(h <= lw for lw, h in zip(low, high, strict=True)):
            return  # an empty box: nothing was edited
        if "bbox" in self._cache:
            edited = ((low[0], low[1], low[2]), (high[0] - 1, high[1] - 1, high[2] - 1))
            known: tuple[tuple[int, int, int], tuple[int, int, int]] | None = self._cache["bbox"]
            if known is None:
                # The map was empty, so every label now lies inside the edited box.
                self._cache["bbox"] = edited
            else:
                (a0, b0, c0), (a1, b1, c1) = known
                (d0, e0, f0), (d1, e1, f1) = edited
                self._cache["bbox"] = (
                    (min(a0, d0), min(b0, e0), min(c0, f0)),
                    (max(a1, d1), max(b1, e1), max(c1, f1)),
                )
        if top_label is not None and "max" in self._cache and int(top_label) > self._cache["max"]:
            self._cache["max"] = int(top_label)
