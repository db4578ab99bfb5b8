"""Measuring lesion masks: volumes, centroids, connected lesions, hemispheres, mask files.

All geometry goes through the mask's 4 × 4 affine in DICOM **LPS** millimetres, so the
numbers do not depend on how the array happens to be stored (LAS, RAS, oblique, anisotropic):

- volume = voxel count × ``|det(affine[:3, :3])|`` / 1000 mL;
- centroid = the mean voxel centre mapped through the affine (the affine is linear, so that
  is the affine of the mean index);
- hemisphere: the patient's **left** is LPS ``x`` greater than the midline.

:func:`measure_labels` works on the non-zero voxels only, with ``numpy.bincount`` and
``ufunc.at`` over all labels at once (no loop over the labels touching the whole volume).
:func:`split_connected` labels 26-connected components with SimpleITK. Reports for the
command line give centroids in NIfTI **RAS** millimetres, which is what other tools print.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adjudication.lesions import (
    Hemisphere,
    LesionFinding,
    LesionMeasurement,
    SeriesRef,
    total_volume_ml,
)
from workbench.imaging.volume import Volume
from workbench.lesions.errors import LesionMaskError
from workbench.lesions.labels import checked_labels, is_binary, label_dtype, mask_values

_DENSE_LABEL_LIMIT = 1 << 16
"""Up to this label value, per-label sums index a dense array directly by label."""


def _affine(affine: Any, where: str = "affine") -> np.ndarray:
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"{where}: expected a finite 4 x 4 matrix, got shape {matrix.shape}")
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError(f"{where}: singular (zero voxel size or collinear axes)")
    return matrix


def voxel_volume_ml(affine: Any) -> float:
    """Volume of one voxel of the grid in millilitres."""
    return float(abs(np.linalg.det(_affine(affine)[:3, :3]))) / 1000.0


def _nonzero_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(values, i, j, k)`` of the non-zero voxels, reading the array in its memory order."""
    if labels.flags.f_contiguous and not labels.flags.c_contiguous:
        # A transposed view (as DICOM volumes are): scan the C-ordered transpose, no copy.
        flat = labels.T.reshape(-1)
        index = np.flatnonzero(flat)
        k, j, i = np.unravel_index(index, labels.T.shape)
    else:
        flat = np.ascontiguousarray(labels).reshape(-1)
        index = np.flatnonzero(flat)
        i, j, k = np.unravel_index(index, labels.shape)
    return flat[index], i, j, k


def measure_labels(array: Any, affine: Any) -> list[LesionMeasurement]:
    """One :class:`LesionMeasurement` per label present in ``array`` (sorted by label).

    ``array`` is a 3D ``(i, j, k)`` label map (0 = background); ``affine`` maps ``(i, j, k, 1)``
    to LPS mm. Labels that do not occur are not listed.
    """
    labels = checked_labels(array, "measure_labels")
    matrix = _affine(affine)
    values, i, j, k = _nonzero_indices(labels)
    if values.size == 0:
        return []
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
    mean_ijk = sums[slot] / n[:, None]
    centroids = mean_ijk @ matrix[:3, :3].T + matrix[:3, 3]
    voxel_ml = float(abs(np.linalg.det(matrix[:3, :3]))) / 1000.0
    return [
        LesionMeasurement(
            label=int(label),
            voxel_count=int(count),
            volume_ml=int(count) * voxel_ml,
            centroid_lps=(float(c[0]), float(c[1]), float(c[2])),
            bbox_min=(int(lo[0]), int(lo[1]), int(lo[2])),
            bbox_max=(int(hi[0]), int(hi[1]), int(hi[2])),
        )
        for label, count, c, lo, hi in zip(
            present, n, centroids, lows[slot], highs[slot], strict=True
        )
    ]


def split_connected(binary: Any, affine: Any) -> np.ndarray:
    """Label the 26-connected components of a binary mask: ``1`` the largest, and so on.

    Every non-zero voxel counts as foreground. Components are numbered by voxel count,
    largest first; equal sizes by their centroid in LPS millimetres (x, then y, then z),
    so the numbering follows the anatomy, not how the array is stored. The result has the
    shape of ``binary`` and the smallest unsigned type that holds the count.
    """
    import SimpleITK as sitk

    mask = np.asarray(binary)
    if mask.ndim != 3:
        raise LesionMaskError(f"split_connected: a mask must be 3-D, got shape {mask.shape}")
    matrix = _affine(affine)
    # 26-connectivity does not depend on which axis is which, so SimpleITK gets the voxels
    # in their memory order (a transposed view is handed over as its C-ordered transpose)
    # and no 3-D transpose is copied: that copy cost more than the labelling itself.
    foreground = mask != 0
    transposed = foreground.flags.f_contiguous and not foreground.flags.c_contiguous
    work = foreground.T if transposed else np.ascontiguousarray(foreground)
    image = sitk.ConnectedComponent(sitk.GetImageFromArray(work.view(np.uint8)), True)
    components = sitk.GetArrayViewFromImage(image)
    n = int(components.max()) if components.size else 0
    if n == 0:
        return np.zeros(mask.shape, dtype=np.uint8)
    measured = measure_labels(components.T if transposed else components, matrix)
    order = sorted(
        measured,
        key=lambda m: (-m.voxel_count, *(round(c, 6) for c in m.centroid_lps), m.label),
    )
    lookup = np.zeros(n + 1, dtype=label_dtype(n))
    for new, measurement in enumerate(order, start=1):
        lookup[measurement.label] = new
    relabelled = lookup[components]
    return relabelled.T if transposed else relabelled


def hemisphere_of(
    centroid_lps: Sequence[float], midline_x: float = 0.0, tolerance_mm: float = 0.0
) -> Hemisphere:
    """The patient's side of an LPS point: ``x > midline_x`` is the patient's **left**.

    Within ``tolerance_mm`` of the midline the answer is :attr:`Hemisphere.MIDLINE`. This uses
    world ``x``, so it is right for images in a standard space (MNI) or scanned with the head
    straight; pass ``midline_x`` where the midline is known to lie elsewhere.
    """
    x = float(centroid_lps[0])
    if not math.isfinite(x):
        raise ValueError(f"hemisphere_of: centroid x is {x}")
    if x > midline_x + tolerance_mm:
        return Hemisphere.LEFT
    if x < midline_x - tolerance_mm:
        return Hemisphere.RIGHT
    return Hemisphere.MIDLINE


def lps_to_ras(point: Sequence[float]) -> tuple[float, float, float]:
    """An LPS millimetre point in RAS millimetres (x and y negated)."""
    x, y, z = (float(v) for v in point)
    return (-x + 0.0, -y + 0.0, z)


def affine_rows(affine: Any) -> tuple[tuple[float, float, float, float], ...]:
    """A 4 x 4 matrix as four rows of four floats (the form :class:`SeriesRef` keeps)."""
    m = _affine(affine)
    return tuple((float(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in m)


def series_ref_of(volume: Volume) -> SeriesRef:
    """The image identity of ``volume`` that a lesion mask on its grid refers to."""
    identity = volume.identity
    shape = volume.shape
    if len(shape) != 3:
        raise LesionMaskError(
            f"{identity.paths[0] if identity.paths else 'volume'}: lesions are marked on 3-D "
            f"series, this one has shape {shape}"
        )
    return SeriesRef(
        shape=(shape[0], shape[1], shape[2]),
        affine=affine_rows(volume.affine),
        series_instance_uid=identity.series_instance_uid,
        study_instance_uid=identity.study_instance_uid,
        frame_of_reference_uid=identity.frame_of_reference_uid,
        # Kept for DICOM too: it pins the exact pixel content the lesion was drawn on.
        content_sha256=identity.content_sha256,
    )


def findings_from_labels(
    labels: Any, volume: Volume, *, midline_x: float = 0.0
) -> list[LesionFinding]:
    """A new :class:`LesionFinding` per label of a mask on ``volume``'s grid.

    Each carries its measurement and the suggested hemisphere (from its centroid); the
    reader's own hemisphere, location and features start empty / not assessed.
    """
    ref = series_ref_of(volume)
    array = checked_labels(labels, "findings_from_labels")
    if array.shape != ref.shape:
        raise LesionMaskError(
            f"findings_from_labels: mask shape {array.shape} differs from the series grid "
            f"{ref.shape}"
        )
    return [
        LesionFinding(
            label=m.label,
            series=ref,
            measurement=m,
            suggested_hemisphere=hemisphere_of(m.centroid_lps, midline_x),
        )
        for m in measure_labels(array, volume.affine)
    ]


@dataclass(frozen=True, slots=True)
class LesionRow:
    """One line of a mask report: a label, its size and where it is (RAS mm)."""

    label: int
    voxels: int
    ml: float
    centroid_ras_mm: tuple[float, float, float]

    def as_json(self) -> dict[str, Any]:
        """The JSON object of the ``lesions`` command."""
        return {
            "label": self.label,
            "voxels": self.voxels,
            "ml": round(self.ml, 6),
            "centroid_ras_mm": [round(v, 3) for v in self.centroid_ras_mm],
        }


@dataclass(frozen=True, slots=True, eq=False)
class MaskReport:
    """What :func:`measure_mask_file` found in a mask file.

    ``kind`` is ``"binary"`` (a 0/1 mask split into 26-connected lesions) or ``"labels"``
    (a label map whose labels were kept); ``source`` is ``"nifti"`` or ``"dicom-seg"``.
    ``measurements`` are the domain values (LPS); :attr:`lesions` the report rows (RAS).
    """

    path: Path
    source: str
    kind: str
    shape: tuple[int, int, int]
    affine_lps: np.ndarray
    measurements: tuple[LesionMeasurement, ...]

    @property
    def total_voxels(self) -> int:
        """Number of lesion voxels."""
        return sum(m.voxel_count for m in self.measurements)

    @property
    def total_ml(self) -> float:
        """Lesion load in millilitres."""
        return total_volume_ml(self.measurements)

    @property
    def voxel_size_mm(self) -> tuple[float, float, float]:
        """Voxel size along i, j, k in millimetres."""
        norms = np.linalg.norm(self.affine_lps[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    @property
    def lesions(self) -> tuple[LesionRow, ...]:
        """The report rows, centroids in RAS millimetres."""
        return tuple(
            LesionRow(m.label, m.voxel_count, m.volume_ml, lps_to_ras(m.centroid_lps))
            for m in self.measurements
        )

    def hemisphere_ml(self, midline_x: float = 0.0) -> dict[Hemisphere, float]:
        """Lesion volume per hemisphere of the lesions' centroids (mL)."""
        totals = dict.fromkeys((Hemisphere.RIGHT, Hemisphere.LEFT, Hemisphere.MIDLINE), 0.0)
        for m in self.measurements:
            totals[hemisphere_of(m.centroid_lps, midline_x)] += m.volume_ml
        return totals

    def as_json(self) -> dict[str, Any]:
        """``{"total_ml", "lesions": [{"label", "voxels", "ml", "centroid_ras_mm"}]}`` + context."""
        return {
            "file": str(self.path),
            "source": self.source,
            "kind": self.kind,
            "total_voxels": self.total_voxels,
            "total_ml": round(self.total_ml, 6),
            "lesions": [row.as_json() for row in self.lesions],
        }


SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4"
"""Segmentation Storage."""


def _is_dicom(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def measure_mask_file(path: str | Path) -> MaskReport:
    """Measure a lesion mask file: a NIfTI mask (``.nii``/``.nii.gz``) or a DICOM SEG.

    A binary mask (a single non-zero value) is split into 26-connected lesions; a label map
    keeps its labels (a SEG's segments become labels: ``Lesion N`` is label N). Raises
    ``FileNotFoundError`` for a missing file and :class:`LesionMaskError` (an
    ``ImagingError``) naming the file for anything unreadable or not a mask.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file")
    if not source.is_file():
        raise LesionMaskError(f"{source}: not a file")
    name = source.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        labels, affine, kind = _read_nifti_mask(source)
        origin = "nifti"
    else:
        try:
            dicom = _is_dicom(source)
        except OSError as exc:
            raise LesionMaskError(f"{source}: cannot read: {exc.strerror or exc}") from exc
        if not dicom:
            raise LesionMaskError(
                f"{source}: not a lesion mask file: expected NIfTI (.nii, .nii.gz) or DICOM SEG"
            )
        from workbench.lesions.seg_io import read_seg_labels

        labels, affine, segment_kind = read_seg_labels(source)
        kind = segment_kind
        origin = "dicom-seg"
    if kind == "binary":
        labels = split_connected(labels, affine)
    measurements = tuple(measure_labels(labels, affine))
    return MaskReport(
        path=source,
        source=origin,
        kind=kind,
        shape=(labels.shape[0], labels.shape[1], labels.shape[2]),
        affine_lps=affine,
        measurements=measurements,
    )


def _read_nifti_mask(source: Path) -> tuple[np.ndarray, np.ndarray, str]:
    from workbench.imaging.nifti import load_nifti

    volume = load_nifti(source)
    if volume.is_rgb:
        raise LesionMaskError(f"{source}: an RGB image is not a lesion mask")
    if len(volume.shape) != 3:
        raise LesionMaskError(
            f"{source}: a lesion mask must be 3-D, this file is {len(volume.shape)}-D "
            f"(shape {volume.shape})"
        )
    labels = mask_values(volume.array, str(source))
    return labels, np.array(volume.affine), "binary" if is_binary(labels) else "labels"
