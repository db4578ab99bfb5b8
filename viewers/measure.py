"""Lesion measurements from a label map and its affine: volume, centroid, extent, components.

This is the one lesion measurement of the code base: the lesion table of the annotation window
and the registry (``workbench.lesions.measure``, ``workbench.reads``) both measure with
:func:`label_stats` and split masks with :func:`components`, so the numbers a reader sees while
drawing are the numbers that are stored. Pure numpy except :func:`components`, which labels
connected components with SimpleITK (imported when called). Nothing here knows about the
registry: the workbench turns :class:`LabelStats` into lesion records.

Conventions: arrays are ``(i, j, k)``; the affine maps voxel indices to DICOM LPS mm, so
world **x grows to the patient's left**. All geometry goes through the affine, so the numbers
do not depend on how the array is oriented or stored (LAS, RAS, oblique, anisotropic, C or
Fortran order):

- volume = voxel count × ``|det(affine[:3, :3])|`` / 1000 mL;
- centroid = the mean voxel index mapped through the affine (the affine is linear, so that is
  the mean of the voxel centres in LPS mm).

The side of the brain is not decided here. A lesion's hemisphere is a clinical vocabulary that
the registry stores (``adjudication.lesions.Hemisphere``, with ``hemisphere_of`` next to it,
which compares :attr:`LabelStats.centroid_mm`'s x with a midline). ``viewers`` and
``adjudication`` must not import each other, and the side is one comparison of a number this
module already gives, so the vocabulary lives once, with the values it is stored as.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viewers.labels_edit import VoxelBox

_DENSE_LABEL_LIMIT = 1 << 16
"""Up to this label value, per-label sums index a dense array by the label itself (no sort)."""


@dataclass(frozen=True, slots=True)
class LabelStats:
    """Measurements of one label of a label map."""

    label: int
    voxel_count: int
    volume_ml: float
    """``voxel_count × |det(affine[:3, :3])| / 1000``."""
    centroid_mm: tuple[float, float, float]
    """Mean of the voxel centres, LPS mm."""
    centroid_voxel: tuple[float, float, float]
    """Mean voxel index ``(i, j, k)``."""
    box: VoxelBox
    """Smallest voxel box holding the label (``hi`` exclusive)."""

    def __post_init__(self) -> None:
        if self.label == 0:
            raise ValueError("label 0 is the background, not a lesion")
        if self.voxel_count < 1:
            raise ValueError(f"label {self.label} has no voxels")


def checked_affine(affine: npt.ArrayLike, where: str = "affine") -> np.ndarray:
    """``affine`` as a finite, invertible 4 × 4 float64 matrix, or ValueError naming ``where``."""
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"{where}: expected a finite 4 x 4 matrix, got shape {matrix.shape}")
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError(f"{where}: singular (zero voxel size or collinear axes)")
    return matrix


def _nonzero_voxels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(values, i, j, k)`` of the non-zero voxels, reading the array in its memory order."""
    if labels.flags.f_contiguous and not labels.flags.c_contiguous:
        # A transposed view (as DICOM and NIfTI volumes are): scan the C-ordered transpose,
        # no copy of the volume.
        flat = labels.T.reshape(-1)
        index = np.flatnonzero(flat)
        k, j, i = np.unravel_index(index, labels.T.shape)
    else:
        flat = np.ascontiguousarray(labels).reshape(-1)
        index = np.flatnonzero(flat)
        i, j, k = np.unravel_index(index, labels.shape)
    return flat[index], i, j, k


def label_stats(labels: npt.ArrayLike, affine: npt.ArrayLike) -> list[LabelStats]:
    """One :class:`LabelStats` per nonzero label of ``labels`` (ascending label order).

    ``labels`` is a 3D ``(i, j, k)`` array of non-negative integers (or bool), 0 the
    background; ``affine`` maps ``(i, j, k, 1)`` to LPS mm. Labels that do not occur are not
    listed. Works on the non-zero voxels only, read in the array's memory order (a
    Fortran-ordered or transposed array is not copied): counts and index sums by
    ``numpy.bincount`` indexed by the label itself up to 65,536 (by ``numpy.unique`` above),
    boxes by ``ufunc.at``, with no loop over the labels touching the whole volume.
    """
    array = np.asarray(labels)
    if array.ndim != 3 or array.dtype.kind not in "iub":
        raise ValueError(f"labels must be a 3D integer array, got {array.dtype} {array.shape}")
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    matrix = checked_affine(affine)
    values, i, j, k = _nonzero_voxels(array)
    if values.size == 0:
        return []
    if array.dtype.kind == "i" and int(values.min()) < 0:
        raise ValueError(f"labels must not be negative, found {int(values.min())}")
    ids: np.ndarray
    if int(values.max()) <= _DENSE_LABEL_LIMIT:
        ids = values.astype(np.intp, copy=False)
        counts = np.bincount(ids)
        present = slot = np.flatnonzero(counts)
    else:
        present, inverse = np.unique(values, return_inverse=True)
        ids = inverse.reshape(-1)
        counts = np.bincount(ids)
        slot = np.arange(present.size)
    size = counts.size
    coords = (i, j, k)
    sums = np.stack([np.bincount(ids, weights=c, minlength=size) for c in coords], axis=1)
    lows = np.full((size, 3), np.iinfo(np.int64).max, dtype=np.int64)
    highs = np.full((size, 3), -1, dtype=np.int64)
    for axis, c in enumerate(coords):
        np.minimum.at(lows[:, axis], ids, c)
        np.maximum.at(highs[:, axis], ids, c)
    n = counts[slot]
    means = sums[slot] / n[:, None]
    centroids = means @ matrix[:3, :3].T + matrix[:3, 3]
    voxel_ml = float(abs(np.linalg.det(matrix[:3, :3]))) / 1000.0
    return [
        LabelStats(
            label=int(label),
            voxel_count=int(count),
            volume_ml=int(count) * voxel_ml,
            centroid_mm=(float(c[0]), float(c[1]), float(c[2])),
            centroid_voxel=(float(m[0]), float(m[1]), float(m[2])),
            box=VoxelBox(
                (int(lo[0]), int(lo[1]), int(lo[2])),
                (int(hi[0]) + 1, int(hi[1]) + 1, int(hi[2]) + 1),
            ),
        )
        for label, count, c, m, lo, hi in zip(
            present, n, centroids, means, lows[slot], highs[slot], strict=True
        )
    ]


def components(
    binary: npt.ArrayLike,
    affine: npt.ArrayLike | None = None,
    *,
    fully_connected: bool = True,
    min_voxels: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of a mask, numbered by size (1 = largest), and their sizes.

    Every non-zero voxel is foreground. ``fully_connected``: 26-connectivity (faces, edges and
    corners touch) rather than 6. Components of equal size are numbered by their centroid in
    LPS mm through ``affine`` (x, then y, then z; the voxel index where ``affine`` is None), so
    the numbering follows the anatomy, not how the array is stored. Components smaller than
    ``min_voxels`` are dropped (0). Returns the labelled array, of the mask's shape and memory
    order and of the smallest unsigned type that holds the count, and an int64 array of sizes
    (``sizes[n - 1]`` is the size of component ``n``). SimpleITK ``ConnectedComponent``,
    imported here.
    """
    import SimpleITK as sitk

    mask = np.asarray(binary)
    if mask.ndim != 3:
        raise ValueError(f"mask must be 3D, got {mask.ndim} dimensions (shape {mask.shape})")
    matrix = np.eye(4) if affine is None else checked_affine(affine)
    # Connectivity does not depend on which axis is which, so SimpleITK gets the voxels in
    # their memory order (a transposed view is handed over as its C-ordered transpose): no
    # 3-D transpose is copied, which cost more than the labelling itself.
    foreground = mask != 0
    transposed = foreground.flags.f_contiguous and not foreground.flags.c_contiguous
    work = foreground.T if transposed else np.ascontiguousarray(foreground)
    image = sitk.ConnectedComponent(
        sitk.GetImageFromArray(work.view(np.uint8)), bool(fully_connected)
    )
    in_memory_order = sitk.GetArrayViewFromImage(image)
    found = in_memory_order.T if transposed else in_memory_order
    measured = label_stats(found, matrix)
    kept = sorted(
        (s for s in measured if s.voxel_count >= min_voxels),
        key=lambda s: (-s.voxel_count, *(round(c, 6) for c in s.centroid_mm), s.label),
    )
    top = measured[-1].label if measured else 0  # ascending: the last is the largest label
    lookup = np.zeros(top + 1, dtype=np.min_scalar_type(len(kept)))
    for new, stats in enumerate(kept, start=1):
        lookup[stats.label] = new
    sizes = np.array([s.voxel_count for s in kept], dtype=np.int64)
    relabelled = lookup[in_memory_order]
    return (relabelled.T if transposed else relabelled), sizes


def connected_lesions(
    binary: npt.ArrayLike, affine: npt.ArrayLike | None = None, *, fully_connected: bool = True
) -> np.ndarray:
    """Label the connected lesions of a binary mask: ``1`` the largest, and so on.

    The labelled array of :func:`components` (26-connected by default; equal sizes ordered by
    their LPS centroid through ``affine``).
    """
    labelled, _ = components(binary, affine, fully_connected=fully_connected)
    return labelled
