"""Lesion masks at the workbench's level: mask files, reports, findings and series identity.

The measuring itself (volumes, centroids, boxes, connected lesions) is
:mod:`viewers.measure`, the one implementation the lesion table of the annotation window uses
too, so the table and the registry give the same numbers. This module checks an array as a
label map (refusals are :class:`LesionMaskError`), turns :class:`viewers.measure.LabelStats`
into the registry's :class:`LesionMeasurement`, suggests hemispheres with
:func:`adjudication.lesions.hemisphere_of`, and reads and reports mask files. All geometry is
in DICOM **LPS** millimetres; reports for the command line give centroids in NIfTI **RAS**
millimetres, which is what other tools print.
"""

from __future__ import annotations

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
    hemisphere_of,
    total_volume_ml,
)
from viewers.measure import LabelStats, checked_affine, connected_lesions, label_stats
from workbench.imaging.volume import Volume
from workbench.lesions.errors import LesionMaskError
from workbench.lesions.labels import checked_labels, is_binary, mask_values


def measurement_of(stats: LabelStats) -> LesionMeasurement:
    """The registry's record of one label measured by :func:`viewers.measure.label_stats`.

    The bounding box becomes inclusive voxel indices (``bbox_max`` = ``box.hi - 1``).
    """
    hi = stats.box.hi
    return LesionMeasurement(
        label=stats.label,
        voxel_count=stats.voxel_count,
        volume_ml=stats.volume_ml,
        centroid_lps=stats.centroid_mm,
        bbox_min=stats.box.lo,
        bbox_max=(hi[0] - 1, hi[1] - 1, hi[2] - 1),
    )


def lesion_measurements(labels: Any, affine: Any) -> list[LesionMeasurement]:
    """One :class:`LesionMeasurement` per label present in ``labels`` (sorted by label).

    ``labels`` is a 3D ``(i, j, k)`` label map (0 = background); ``affine`` maps
    ``(i, j, k, 1)`` to LPS mm. The array is checked as a label map first (negative, float or
    non-3-D arrays raise :class:`LesionMaskError`), then measured by
    :func:`viewers.measure.label_stats`.
    """
    array = checked_labels(labels, "lesion_measurements")
    return [measurement_of(stats) for stats in label_stats(array, affine)]


def lps_to_ras(point: Sequence[float]) -> tuple[float, float, float]:
    """An LPS millimetre point in RAS millimetres (x and y negated)."""
    x, y, z = (float(v) for v in point)
    return (-x + 0.0, -y + 0.0, z)


def affine_rows(affine: Any) -> tuple[tuple[float, float, float, float], ...]:
    """A 4 x 4 matrix as four rows of four floats (the form :class:`SeriesRef` keeps)."""
    m = checked_affine(affine)
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
        for m in lesion_measurements(array, volume.affine)
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
        labels = connected_lesions(labels, affine)
    measurements = tuple(lesion_measurements(labels, affine))
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
