"""Lesion measurements from a label map and its affine: volume, centroid, extent, hemisphere.

Pure numpy except :func:`connected_lesions`, which labels connected components with
SimpleITK (imported when called). Nothing here knows about the registry: the workbench
turns :class:`LabelStats` into lesion records.

Conventions: arrays are ``(i, j, k)``; the affine maps voxel indices to DICOM LPS mm, so
world **x grows to the patient's left**. A lesion's hemisphere is decided by its centroid's
x against a midline (default x = 0, which assumes a roughly centred head, as in MNI space or
a scanner that centred the head in the field of view; pass the real midline when it is
known, for example from a registration to a template).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viewers.labels_edit import VoxelBox


class Hemisphere(enum.StrEnum):
    """The side of the brain a lesion's centroid lies on (patient's left/right)."""

    LEFT = "left"
    """Centroid x greater than the midline (LPS x grows to the patient's left)."""
    RIGHT = "right"
    """Centroid x less than the midline."""
    MIDLINE = "midline"
    """Centroid within ``midline_tolerance_mm`` of the midline."""


def hemisphere_of(x_mm: float, midline_x_mm: float = 0.0, tolerance_mm: float = 0.0) -> Hemisphere:
    """Which side of the midline an LPS x coordinate is on (x > midline is the **left**)."""
    offset = float(x_mm) - float(midline_x_mm)
    if abs(offset) <= tolerance_mm:
        return Hemisphere.MIDLINE
    return Hemisphere.LEFT if offset > 0 else Hemisphere.RIGHT


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
    hemisphere: Hemisphere
    """From the centroid's x against the midline given to :func:`label_stats`."""

    def __post_init__(self) -> None:
        if self.label == 0:
            raise ValueError("label 0 is the background, not a lesion")
        if self.voxel_count < 1:
            raise ValueError(f"label {self.label} has no voxels")


def label_stats(
    labels: np.ndarray,
    affine: npt.ArrayLike,
    *,
    midline_x_mm: float = 0.0,
    midline_tolerance_mm: float = 0.0,
) -> list[LabelStats]:
    """One :class:`LabelStats` per nonzero label of ``labels`` (ascending label order).

    ``midline_x_mm`` is the LPS x of the mid-sagittal plane (default 0: a roughly centred
    head); centroids within ``midline_tolerance_mm`` of it are :attr:`Hemisphere.MIDLINE`.
    One pass over the nonzero voxels: counts and index sums by ``np.bincount``, boxes by
    sorted ``reduceat``.
    """
    array = np.asarray(labels)
    if array.ndim != 3 or array.dtype.kind not in "iub":
        raise ValueError(f"labels must be a 3D integer array, got {array.dtype} {array.shape}")
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ValueError(f"affine must be 4x4, got {matrix.shape}")
    voxel_ml = abs(float(np.linalg.det(matrix[:3, :3]))) / 1000.0
    index = np.nonzero(array)
    if index[0].size == 0:
        return []
    values = array[index]
    present, inverse = np.unique(values, return_inverse=True)
    if present[0] < 0:
        raise ValueError(f"labels must not be negative, found {int(present[0])}")
    counts = np.bincount(inverse, minlength=present.size)
    means = np.stack(
        [np.bincount(inverse, weights=axis, minlength=present.size) / counts for axis in index],
        axis=1,
    )
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    lows = np.stack([np.minimum.reduceat(axis[order], starts) for axis in index], axis=1)
    highs = np.stack([np.maximum.reduceat(axis[order], starts) for axis in index], axis=1)
    centroids = means @ matrix[:3, :3].T + matrix[:3, 3]
    out = []
    for n, label in enumerate(present):
        c = centroids[n]
        out.append(
            LabelStats(
                label=int(label),
                voxel_count=int(counts[n]),
                volume_ml=float(counts[n]) * voxel_ml,
                centroid_mm=(float(c[0]), float(c[1]), float(c[2])),
                centroid_voxel=(float(means[n, 0]), float(means[n, 1]), float(means[n, 2])),
                box=VoxelBox(
                    (int(lows[n, 0]), int(lows[n, 1]), int(lows[n, 2])),
                    (int(highs[n, 0]) + 1, int(highs[n, 1]) + 1, int(highs[n, 2]) + 1),
                ),
                hemisphere=hemisphere_of(c[0], midline_x_mm, midline_tolerance_mm),
            )
        )
    return out


def components(
    binary: np.ndarray, *, fully_connected: bool = True, min_voxels: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of a mask, numbered by size (1 = largest), and their sizes.

    ``fully_connected``: 26-connectivity (faces, edges and corners touch) rather than 6.
    Components smaller than ``min_voxels`` are dropped (0). Returns the int32 labelled array
    and an int64 array of sizes (``sizes[n - 1]`` is the size of component ``n``). SimpleITK
    ``ConnectedComponent`` + ``RelabelComponent``, imported here.
    """
    import SimpleITK as sitk

    mask = np.asarray(binary)
    if mask.ndim != 3:
        raise ValueError(f"mask must be 3D, got {mask.ndim} dimensions")
    image = sitk.GetImageFromArray(np.ascontiguousarray(mask != 0, dtype=np.uint8))
    found = sitk.ConnectedComponent(image, bool(fully_connected))
    relabel = sitk.RelabelComponentImageFilter()
    relabel.SetSortByObjectSize(True)
    relabel.SetMinimumObjectSize(max(int(min_voxels), 0))
    ordered = relabel.Execute(found)
    sizes = np.asarray(relabel.GetSizeOfObjectsInPixels(), dtype=np.int64)
    labelled = sitk.GetArrayFromImage(ordered).astype(np.int32, copy=False)
    return labelled, sizes


def connected_lesions(binary: np.ndarray, fully_connected: bool = True) -> np.ndarray:
    """Label the connected components of a binary lesion mask (26-connected by default).

    Returns an int32 array of the mask's shape: 0 background, 1..n the components, largest
    first (ties in SimpleITK's scan order).
    """
    labelled, _ = components(binary, fully_connected=fully_connected)
    return labelled
