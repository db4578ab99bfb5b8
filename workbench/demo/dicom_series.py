"""Write a volume as a de-identified classic MR Image Storage series (one file per slice).

The demo's series are synthetic (:mod:`workbench.demo.phantom`), no real person, and they are
de-identified by construction so that the registry's PS3.15 Annex E gate accepts them: the
patient's name and id are the registry pseudonym, the birth date is empty, there are no
institution, physician, operator, station, device serial, accession number or study id values,
no dates or times, no private tags, ``PatientIdentityRemoved`` is ``YES`` and the
de-identification method is recorded with its codes (113100 Basic Application Confidentiality
Profile; 113105 Clean Descriptors Option, because the generated descriptions are kept; 113108
Retain Patient Characteristics Option when a sex is given).

Geometry follows DICOM: the volume is indexed ``[k, j, i]`` (slice, row, column); the row
direction cosine is the direction of increasing column index ``i``, the column direction
cosine that of increasing row index ``j``; ``PixelSpacing`` is (row spacing, column spacing),
i.e. the spacing along ``j`` first. Slice ``k`` lies at ``origin + k * slice_spacing * normal``
with ``normal = row_direction × column_direction``. :class:`SeriesGeometry` holds this and gives
the 4 × 4 LPS affine that a loader must reproduce.

pydicom is imported where it is used, so importing this module stays cheap.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.domain import SequenceClass

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
"""SOP Class UID of classic (single-frame) MR Image Storage."""
MANUFACTURER = "PML Workbench synthetic phantom"
DEIDENTIFICATION_METHOD = "PML registry synthetic demo (no real person)"
PSEUDONYM_PATTERN = re.compile(r"^PML-[A-Z0-9-]+$")
"""How a registry pseudonym looks; it is the only patient identifier a demo series carries."""

_PATIENT_SEXES = frozenset({"", "M", "F", "O"})


@dataclass(frozen=True, slots=True)
class _Protocol:
    """Header values that let a header-based classifier name the sequence."""

    description: str
    scanning_sequence: tuple[str, ...]
    sequence_variant: tuple[str, ...]
    scan_options: tuple[str, ...]
    repetition_time_ms: float
    echo_time_ms: float
    inversion_time_ms: float | None
    image_type: tuple[str, ...]
    sequence_name: str
    b_value: float | None = None
    contrast_agent: str | None = None


_PROTOCOLS: dict[SequenceClass, _Protocol] = {
    SequenceClass.T1: _Protocol(
        "AX T1 SE", ("SE",), ("SP",), (), 600.0, 10.0, None,
        ("ORIGINAL", "PRIMARY", "OTHER"), "se2d1",
    ),
    SequenceClass.T1_GD: _Protocol(
        "AX T1 SE +C", ("SE",), ("SP",), (), 600.0, 10.0, None,
        ("ORIGINAL", "PRIMARY", "OTHER"), "se2d1", contrast_agent="gadobutrol",
    ),
    SequenceClass.T2: _Protocol(
        "AX T2 TSE", ("SE",), ("SK", "SP"), (), 4000.0, 100.0, None,
        ("ORIGINAL", "PRIMARY", "OTHER"), "tse2d1_15",
    ),
    SequenceClass.FLAIR: _Protocol(
        "AX FLAIR", ("SE", "IR"), ("SK", "SP", "MP"), ("IR",), 9000.0, 120.0, 2500.0,
        ("ORIGINAL", "PRIMARY", "OTHER"), "tir2d1_21",
    ),
    SequenceClass.DWI: _Protocol(
        "AX DWI b1000 TRACEW", ("EP",), ("SK", "SP"), ("FS",), 5000.0, 90.0, None,
        ("ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW"), "ep_b1000t", b_value=1000.0,
    ),
    SequenceClass.ADC: _Protocol(
        "AX DWI ADC", ("EP",), ("SK", "SP"), ("FS",), 5000.0, 90.0, None,
        ("DERIVED", "PRIMARY", "DIFFUSION", "ADC"), "ep_b0_1000",
    ),
}  # fmt: skip
"""Protocols by sequence: FLAIR 9000/120/2500, T2 4000/100, T1 SE 600/10, DWI b = 1000."""


def _vector(value: Sequence[float] | npt.NDArray[Any], name: str) -> tuple[float, float, float]:
    numbers = tuple(float(v) for v in value)
    if len(numbers) != 3 or not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{name} must be three finite numbers, got {value!r}")
    return (numbers[0], numbers[1], numbers[2])


@dataclass(frozen=True, slots=True)
class SeriesGeometry:
    """Where the voxels of a series lie, in DICOM LPS millimetres.

    ``row_direction`` and ``column_direction`` are unit vectors at right angles (normalised
    here within a tolerance of 1e-4); slices are stacked along their cross product.
    """

    shape: tuple[int, int, int]
    """(slices, rows, columns) = (k, j, i) sizes."""
    row_spacing_mm: float
    """Distance between rows (along ``column_direction``), PixelSpacing[0]."""
    column_spacing_mm: float
    """Distance between columns (along ``row_direction``), PixelSpacing[1]."""
    slice_spacing_mm: float
    origin_lps: tuple[float, float, float]
    """Centre of the first voxel of the first slice, ImagePositionPatient of slice 0."""
    row_direction: tuple[float, float, float] = (1.0, 0.0, 0.0)
    column_direction: tuple[float, float, float] = (0.0, 1.0, 0.0)

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise ValueError(f"shape must be three positive sizes, got {self.shape}")
        spacings = (self.row_spacing_mm, self.column_spacing_mm, self.slice_spacing_mm)
        if not all(math.isfinite(s) and s > 0 for s in spacings):
            raise ValueError(f"spacings must be positive numbers, got {spacings}")
        row = np.asarray(_vector(self.row_direction, "row_direction"))
        column = np.asarray(_vector(self.column_direction, "column_direction"))
        for name, vector in (("row_direction", row), ("column_direction", column)):
            if abs(float(np.linalg.norm(vector)) - 1.0) > 1e-4:
                raise ValueError(f"{name} must be a unit vector, got {vector.tolist()}")
        if abs(float(row @ column)) > 1e-4:
            raise ValueError("row_direction and column_direction must be at right angles")
        row = row / np.linalg.norm(row)
        column = column - (column @ row) * row
        column = column / np.linalg.norm(column)
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "origin_lps", _vector(self.origin_lps, "origin_lps"))
        object.__setattr__(self, "row_direction", _vector(row, "row_direction"))
        object.__setattr__(self, "column_direction", _vector(column, "column_direction"))

    @property
    def normal(self) -> tuple[float, float, float]:
        """Slice normal, ``row_direction × column_direction``: the direction of increasing k."""
        return _vector(np.cross(self.row_direction, self.column_direction), "normal")

    def slice_position(self, k: int) -> tuple[float, float, float]:
        """ImagePositionPatient of slice ``k``."""
        origin = np.asarray(self.origin_lps)
        return _vector(origin + k * self.slice_spacing_mm * np.asarray(self.normal), "position")

    @property
    def affine(self) -> npt.NDArray[np.float64]:
        """4 × 4 row-major affine from voxel index (i=column, j=row, k=slice, 1) to LPS mm."""
        affine = np.eye(4)
        affine[:3, 0] = np.asarray(self.row_direction) * self.column_spacing_mm
        affine[:3, 1] = np.asarray(self.column_direction) * self.row_spacing_mm
        affine[:3, 2] = np.asarray(self.normal) * self.slice_spacing_mm
        affine[:3, 3] = self.origin_lps
        return affine


def series_geometry(
    shape: tuple[int, int, int],
    *,
    spacing_mm: tuple[float, float, float],
    origin_lps: Sequence[float],
    row_direction: Sequence[float] = (1.0, 0.0, 0.0),
    column_direction: Sequence[float] = (0.0, 1.0, 0.0),
) -> SeriesGeometry:
    """The geometry :func:`write_series` writes for these arguments (same argument order).

    ``shape`` is the volume's (slices, rows, columns); ``spacing_mm`` is (row spacing, column
    spacing, slice spacing) as in :func:`write_series`.
    """
    row_spacing, column_spacing, slice_spacing = (float(s) for s in spacing_mm)
    return SeriesGeometry(
        shape=shape,
        row_spacing_mm=row_spacing,
        column_spacing_mm=column_spacing,
        slice_spacing_mm=slice_spacing,
        origin_lps=_vector(origin_lps, "origin_lps"),
        row_direction=_vector(row_direction, "row_direction"),
        column_direction=_vector(column_direction, "column_direction"),
    )


def new_uid(*entropy: str) -> str:
    """A new DICOM UID (pydicom's prefix); repeatable when ``entropy`` strings are given."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=list(entropy) if entropy else None))


def _ds(value: float) -> str:
    """A number as a DICOM decimal string of at most 16 characters."""
    from pydicom.valuerep import format_number_as_ds

    text = format_number_as_ds(float(value))
    return "0" if text in {"-0", "-0.0"} else text


def _window(volume: npt.NDArray[np.int16]) -> tuple[float, float]:
    """Window centre and width covering the 1st to 99.5th percentile of the non-zero voxels."""
    values = volume[volume > 0]
    if values.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(values, [1.0, 99.5]))
    width = max(high - low, 1.0)
    return round(low + width / 2), round(width)


def write_series(
    volume: npt.NDArray[np.int16],
    out_dir: Path,
    *,
    spacing_mm: tuple[float, float, float],
    origin_lps: Sequence[float],
    row_direction: Sequence[float] = (1.0, 0.0, 0.0),
    column_direction: Sequence[float] = (0.0, 1.0, 0.0),
    study_instance_uid: str,
    series_instance_uid: str,
    frame_of_reference_uid: str,
    series_number: int,
    sequence: SequenceClass | str,
    patient_pseudonym: str,
    study_description: str = "",
    series_description: str | None = None,
    patient_sex: str = "",
    slice_thickness_mm: float | None = None,
) -> list[Path]:
    """Write ``volume`` (slices, rows, columns; int16) as one MR Image Storage file per slice.

    ``spacing_mm`` is (row spacing, column spacing, slice spacing): for an axial (z, y, x)
    volume that is (y, x, z) spacing. Files are ``IM0001.dcm``… in slice order, written to
    ``out_dir`` (created); their paths are returned. SOP Instance UIDs are derived from the
    series UID and the slice index, so writing the same series again gives the same files.
    ``series_description`` defaults to the protocol's (e.g. ``AX FLAIR``); ``slice_thickness_mm``
    defaults to the slice spacing. ``patient_sex`` is ``M``, ``F``, ``O`` or empty.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

    sequence = SequenceClass(sequence)
    protocol = _PROTOCOLS.get(sequence)
    if protocol is None:
        raise ValueError(f"no demo protocol for {sequence.value}")
    volume = np.asarray(volume)
    if volume.ndim != 3 or volume.dtype != np.int16:
        raise ValueError(f"volume must be a 3-D int16 array, got {volume.ndim}-D {volume.dtype}")
    if not PSEUDONYM_PATTERN.fullmatch(patient_pseudonym):
        raise ValueError(f"patient_pseudonym {patient_pseudonym!r} is not a registry pseudonym")
    if patient_sex not in _PATIENT_SEXES:
        raise ValueError(f"patient_sex must be one of M, F, O or empty, got {patient_sex!r}")
    if not 1 <= series_number <= 2**31 - 1:
        raise ValueError("series_number must be a positive integer")
    geometry = series_geometry(
        (volume.shape[0], volume.shape[1], volume.shape[2]),
        spacing_mm=spacing_mm,
        origin_lps=origin_lps,
        row_direction=row_direction,
        column_direction=column_direction,
    )
    thickness = geometry.slice_spacing_mm if slice_thickness_mm is None else slice_thickness_mm
    if not thickness > 0:
        raise ValueError("slice_thickness_mm must be positive")
    centre, width = _window(volume)
    description = protocol.description if series_description is None else series_description

    base = Dataset()
    base.SpecificCharacterSet = "ISO_IR 100"
    base.ImageType = list(protocol.image_type)
    base.SOPClassUID = MR_IMAGE_STORAGE
    # Patient and study: the pseudonym only; Type 2 attributes present and empty.
    base.PatientName = patient_pseudonym
    base.PatientID = patient_pseudonym
    base.PatientBirthDate = ""
    base.PatientSex = patient_sex
    base.PatientIdentityRemoved = "YES"
    base.DeidentificationMethod = DEIDENTIFICATION_METHOD
    base.DeidentificationMethodCodeSequence = _method_codes(retains_sex=bool(patient_sex))
    base.StudyInstanceUID = study_instance_uid
    base.StudyDate = ""
    base.StudyTime = ""
    base.ReferringPhysicianName = ""
    base.StudyID = ""
    base.AccessionNumber = ""
    base.StudyDescription = study_description
    # Series and equipment.
    base.Modality = "MR"
    base.SeriesInstanceUID = series_instance_uid
    base.SeriesNumber = series_number
    base.SeriesDescription = description
    base.ProtocolName = description
    base.PatientPosition = "HFS"
    base.Manufacturer = MANUFACTURER
    base.FrameOfReferenceUID = frame_of_reference_uid
    base.PositionReferenceIndicator = ""
    # MR acquisition: what a header-based classifier reads.
    base.ScanningSequence = list(protocol.scanning_sequence)
    base.SequenceVariant = list(protocol.sequence_variant)
    base.ScanOptions = list(protocol.scan_options) if protocol.scan_options else ""
    base.MRAcquisitionType = "2D"
    base.SequenceName = protocol.sequence_name
    base.RepetitionTime = _ds(protocol.repetition_time_ms)
    base.EchoTime = _ds(protocol.echo_time_ms)
    if protocol.inversion_time_ms is not None:
        base.InversionTime = _ds(protocol.inversion_time_ms)
    base.EchoTrainLength = 1 if sequence in {SequenceClass.T1, SequenceClass.T1_GD} else 16
    base.MagneticFieldStrength = "1.5"
    if protocol.b_value is not None:
        base.DiffusionBValue = protocol.b_value
        base.DiffusionDirectionality = "ISOTROPIC"
    if protocol.contrast_agent is not None:
        base.ContrastBolusAgent = protocol.contrast_agent
        base.ContrastBolusRoute = "IV"
    # Image plane and pixels.
    base.SliceThickness = _ds(thickness)
    base.SpacingBetweenSlices = _ds(geometry.slice_spacing_mm)
    base.PixelSpacing = [_ds(geometry.row_spacing_mm), _ds(geometry.column_spacing_mm)]
    base.ImageOrientationPatient = [
        _ds(v) for v in (*geometry.row_direction, *geometry.column_direction)
    ]
    base.SamplesPerPixel = 1
    base.PhotometricInterpretation = "MONOCHROME2"
    base.Rows = geometry.shape[1]
    base.Columns = geometry.shape[2]
    base.BitsAllocated = 16
    base.BitsStored = 16
    base.HighBit = 15
    base.PixelRepresentation = 1
    base.WindowCenter = _ds(centre)
    base.WindowWidth = _ds(width)
    base.RescaleIntercept = "0"
    base.RescaleSlope = "1"
    base.RescaleType = "US"
    base.BurnedInAnnotation = "NO"

    out_dir.mkdir(parents=True, exist_ok=True)
    normal = np.asarray(geometry.normal)
    paths: list[Path] = []
    for k in range(geometry.shape[0]):
        sop_instance_uid = new_uid(series_instance_uid, "slice", str(k))
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(MR_IMAGE_STORAGE)
        meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = copy.deepcopy(base)
        ds.file_meta = meta
        ds.SOPInstanceUID = sop_instance_uid
        ds.InstanceNumber = k + 1
        position = geometry.slice_position(k)
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.SliceLocation = _ds(float(np.dot(position, normal)))
        pixels = np.ascontiguousarray(volume[k], dtype="<i2")
        ds.SmallestImagePixelValue = int(pixels.min())
        ds.LargestImagePixelValue = int(pixels.max())
        ds.PixelData = pixels.tobytes()
        path = out_dir / f"IM{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _method_codes(*, retains_sex: bool) -> Any:
    """DeidentificationMethodCodeSequence items (a pydicom Sequence)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence

    codes = [
        ("113100", "Basic Application Confidentiality Profile"),
        ("113105", "Clean Descriptors Option"),
    ]
    if retains_sex:
        codes.append(("113108", "Retain Patient Characteristics Option"))
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    return DicomSequence(items)
