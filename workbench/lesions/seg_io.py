"""Lesion label maps as DICOM Segmentation objects (highdicom), and back onto the source grid.

Export (:func:`export_seg`) writes one BINARY Segmentation instance on the grid of the source
series: one segment per lesion label, labelled ``Lesion N`` (N is the label in the mask, so
a reader's numbering survives), segmented property category SCT 49755003 "Morphologically
abnormal structure", type SCT 52988006 "Lesion", algorithm type MANUAL, and, where a
finding names a location, its SCT anatomic region. Each frame references the source image
(SOP Instance UID, and frame number for a multi-frame source) it was drawn on, and the
instance shares the source's Study Instance UID and Frame of Reference UID, so OHIF and
3D Slicer overlay it on the series.

De-identified like its source: the patient and study attributes are the source's own
(the registry pseudonym as PatientName/PatientID, empty birth date), and the source's
de-identification attributes are copied. Nothing new that could identify anyone is added:
highdicom's instance creation date and time and the contribution date/time and descriptions
are removed, and ContentDate/ContentTime (Type 1 in a multi-frame object) take the source's
own (already de-identified) series or study date and time, or else the dummy values
``19000101`` / ``000000`` that PS3.15 Annex E allows for them (action D), declared with
LongitudinalTemporalInformationModified ``MODIFIED``. DeviceSerialNumber (Type 1 of the
Enhanced General Equipment module) is a dummy, not a real device's serial number.

The label map's ``(i, j, k)`` is the source Volume's: ``i`` the column, ``j`` the row and ``k``
the slice along the normal ``row × column`` direction cosines, ordered as
:func:`workbench.imaging.dicom.load_dicom` orders them. Slices are matched to source
instances (or frames) by their position along that normal, never by file order or
InstanceNumber; a SEG frame is matched back by the source instance it references, or,
for a SEG made elsewhere that references other instances of the same frame of reference,
by its position in space.

highdicom is imported where it is used.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from adjudication.lesions import LesionFinding, Location
from workbench.domain import SourceKind
from workbench.imaging.volume import Volume
from workbench.lesions.errors import GridMismatchError, LesionMaskError
from workbench.lesions.labels import checked_labels, label_dtype
from workbench.lesions.nifti_io import grid_distance_mm

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4"
"""Segmentation Storage."""
SEGMENT_LABEL = "Lesion {label}"
"""Segment label of a lesion; the number is the lesion's label in the mask."""
CONTENT_LABEL = "LESIONS"
DUMMY_DATE = "19000101"
DUMMY_TIME = "000000"
DEFAULT_MANUFACTURER = "PML registry"
DEFAULT_MODEL = "PML case-review workbench"
DEFAULT_DEVICE_SERIAL = "0"
"""A dummy: DeviceSerialNumber is Type 1 in a SEG, and a real one is identifying (Annex E)."""

POSITION_TOLERANCE_MM = 1e-2
"""Slices and frames closer than this along the normal share one position."""

_LESION_LABEL = re.compile(r"^Lesion (\d+)$")

_LOCATION_CODES: dict[Location, str] = {
    Location.FRONTAL: "FrontalLobe",
    Location.PARIETAL: "ParietalLobe",
    Location.TEMPORAL: "TemporalLobe",
    Location.OCCIPITAL: "OccipitalLobe",
    Location.INSULAR: "Insula",
    Location.CORPUS_CALLOSUM: "CorpusCallosum",
    Location.BRAINSTEM: "BrainStem",
    Location.CEREBELLUM: "Cerebellum",
}
"""SCT concepts (names in pydicom's code dictionary) of the locations that have one; deep grey
matter and "other" have no single concept there and are not coded."""


@dataclass(frozen=True, slots=True)
class SourceSlice:
    """One slice ``k`` of the source grid: the instance (and frame) that holds it."""

    k: int
    dataset_index: int
    sop_instance_uid: str
    frame_number: int | None
    """1-based frame of a multi-frame source; ``None`` for a single-frame image."""
    position: tuple[float, float, float]


@dataclass(frozen=True, slots=True, eq=False)
class SourceGrid:
    """The source series as the label map sees it: slices in ``k`` order and the LPS affine."""

    slices: tuple[SourceSlice, ...]
    rows: int
    columns: int
    affine: np.ndarray
    frame_of_reference_uid: str | None
    series_instance_uid: str | None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(i, j, k)`` = (columns, rows, slices)."""
        return (self.columns, self.rows, len(self.slices))

    @property
    def multiframe(self) -> bool:
        """Whether the slices are frames of one multi-frame instance."""
        return self.slices[0].frame_number is not None


def _floats(value: Any, n: int, where: str, keyword: str) -> np.ndarray:
    try:
        numbers = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        numbers = np.zeros(0)
    if numbers.shape != (n,) or not np.all(np.isfinite(numbers)):
        raise LesionMaskError(f"{where}: {keyword} is missing or not {n} numbers")
    return numbers


def _frame_geometry(ds: Dataset, frame: int | None, where: str) -> tuple[Any, Any, Any]:
    """(ImageOrientationPatient, ImagePositionPatient, PixelSpacing) of an image or frame."""
    if frame is None:
        return (
            ds.get("ImageOrientationPatient"),
            ds.get("ImagePositionPatient"),
            ds.get("PixelSpacing"),
        )
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    groups = [per_frame[frame - 1] if per_frame else None, shared[0] if shared else None]

    def find(sequence: str, keyword: str) -> Any:
        for group in groups:
            items = group.get(sequence) if group is not None else None
            if items and keyword in items[0]:
                return items[0].get(keyword)
        return None

    return (
        find("PlaneOrientationSequence", "ImageOrientationPatient"),
        find("PlanePositionSequence", "ImagePositionPatient"),
        find("PixelMeasuresSequence", "PixelSpacing"),
    )


def source_grid(datasets: Sequence[Dataset]) -> SourceGrid:
    """Order the source series' slices along the normal and rebuild its LPS affine.

    ``datasets`` are the series' single-frame images (any order), or one multi-frame image.
    Refuses mixed series, frames of reference, orientations or sizes, duplicated slice
    positions (a 4-D series) and a series that does not make one straight stack.
    """
    if not datasets:
        raise LesionMaskError("SEG source: no source images given")
    frames: list[tuple[int, int | None]] = []
    if len(datasets) == 1 and int(datasets[0].get("NumberOfFrames", 1) or 1) > 1:
        n_frames = int(datasets[0].NumberOfFrames)
        frames = [(0, f) for f in range(1, n_frames + 1)]
    else:
        for index, ds in enumerate(datasets):
            if int(ds.get("NumberOfFrames", 1) or 1) > 1:
                raise LesionMaskError(
                    f"SEG source: {_where(ds)} is multi-frame; give it alone, not with others"
                )
            frames.append((index, None))
    first = datasets[0]
    series_uids = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets}
    for_uids = {str(ds.get("FrameOfReferenceUID", "")) for ds in datasets}
    if len(series_uids) > 1 or len(for_uids) > 1:
        raise LesionMaskError("SEG source: the images belong to more than one series")
    sizes = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(sizes) > 1:
        raise LesionMaskError(f"SEG source: images of different sizes {sorted(sizes)}")
    rows, columns = sizes.pop()
    entries = []
    orientation = spacing = None
    for index, frame in frames:
        ds = datasets[index]
        where = _where(ds) + (f" frame {frame}" if frame else "")
        iop, ipp, pixel_spacing = _frame_geometry(ds, frame, where)
        iop_v = _floats(iop, 6, where, "ImageOrientationPatient")
        ipp_v = _floats(ipp, 3, where, "ImagePositionPatient")
        spacing_v = _floats(pixel_spacing, 2, where, "PixelSpacing")
        if orientation is None:
            orientation, spacing = iop_v, spacing_v
        elif np.max(np.abs(iop_v - orientation)) > 1e-4:
            raise LesionMaskError(f"SEG source: {where} has another orientation")
        sop = str(ds.SOPInstanceUID)
        entries.append((index, frame, sop, ipp_v))
    assert orientation is not None
    assert spacing is not None
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    entries.sort(key=lambda e: (float(e[3] @ normal), e[2], e[1] or 0))
    distances = np.array([float(e[3] @ normal) for e in entries])
    if len(entries) > 1 and np.min(np.diff(distances)) < POSITION_TOLERANCE_MM:
        raise LesionMaskError(
            "SEG source: two images share a slice position (a 4-D series); lesions are "
            "marked on one 3-D volume"
        )
    origin = entries[0][3]
    affine = np.eye(4)
    affine[:3, 0] = row_dir * spacing[1]
    affine[:3, 1] = col_dir * spacing[0]
    if len(entries) > 1:
        step = (entries[-1][3] - origin) / (len(entries) - 1)
        expected = origin + np.arange(len(entries))[:, None] * step
        positions = np.array([e[3] for e in entries])
        if np.max(np.linalg.norm(positions - expected, axis=1)) > max(
            0.1, 0.1 * float(np.linalg.norm(step))
        ):
            raise LesionMaskError("SEG source: the slices are not evenly spaced on one line")
    else:
        thickness = first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0
        step = normal * float(thickness)
    affine[:3, 2] = step
    affine[:3, 3] = origin
    slices = tuple(
        SourceSlice(
            k=k,
            dataset_index=index,
            sop_instance_uid=sop,
            frame_number=frame,
            position=(float(p[0]), float(p[1]), float(p[2])),
        )
        for k, (index, frame, sop, p) in enumerate(entries)
    )
    return SourceGrid(
        slices=slices,
        rows=rows,
        columns=columns,
        affine=affine,
        frame_of_reference_uid=for_uids.pop() or None,
        series_instance_uid=series_uids.pop() or None,
    )


def _where(ds: Dataset) -> str:
    filename = getattr(ds, "filename", None)
    if isinstance(filename, str | os.PathLike):
        return str(filename)
    return str(ds.get("SOPInstanceUID", "image"))


def source_datasets_of(volume: Volume, *, with_pixels: bool = False) -> list[Dataset]:
    """The DICOM images a volume was loaded from (headers only unless ``with_pixels``)."""
    import pydicom

    if volume.identity.kind is not SourceKind.DICOM or not volume.identity.paths:
        raise LesionMaskError(
            f"{volume.identity.paths[0] if volume.identity.paths else 'volume'}: not loaded "
            "from DICOM files, so there is no source series for a SEG"
        )
    try:
        return [
            pydicom.dcmread(path, stop_before_pixels=not with_pixels)
            for path in volume.identity.paths
        ]
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise LesionMaskError(f"cannot read the source series of the volume: {exc}") from exc


def _grid_of(source: Volume | Sequence[Dataset]) -> SourceGrid:
    """The source grid of a Volume (checked against its files) or of its datasets."""
    if isinstance(source, Volume):
        if len(source.shape) != 3:
            raise LesionMaskError(
                f"{source.identity.paths[0]}: lesions are marked on 3-D series, this one has "
                f"shape {source.shape}"
            )
        datasets = source_datasets_of(source)
        grid = source_grid(datasets)
        distance = grid_distance_mm(grid.shape, grid.affine, source.affine)
        if grid.shape != source.shape or distance > 1e-3:
            raise GridMismatchError(
                f"{source.identity.paths[0]}: the volume's grid {source.shape} does not match "
                f"its source files' ({grid.shape}, {distance:.3g} mm apart)"
            )
        return grid
    return source_grid(list(source))


def _segment_description(
    number: int, label: int, finding: LesionFinding | None, new_uid: Any
) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    regions = None
    location = finding.effective_location if finding is not None else None
    if location is not None and location in _LOCATION_CODES:
        regions = [getattr(codes.SCT, _LOCATION_CODES[location])]
    text = SEGMENT_LABEL.format(label=label)
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=text,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        tracking_id=text,
        tracking_uid=new_uid(),
        anatomic_regions=regions,
    )


def export_seg(
    labels: Any,
    source_datasets: Sequence[Dataset],
    findings: Sequence[LesionFinding],
    path: str | os.PathLike[str],
    *,
    series_number: int = 900,
    series_description: str = "Lesions (PML registry read)",
    manufacturer: str = DEFAULT_MANUFACTURER,
    manufacturer_model_name: str = DEFAULT_MODEL,
    software_versions: str | None = None,
    device_serial_number: str = DEFAULT_DEVICE_SERIAL,
) -> Path:
    """Write ``labels`` (``(i, j, k)`` on the source grid) as a DICOM SEG; return its path.

    ``source_datasets`` are the source series' images (see :func:`source_datasets_of`);
    ``findings`` (may be empty) name the lesions' locations, and must be findings on that
    series of labels present in the mask. Empty frames are omitted. The SEG gets a new
    Series and SOP Instance UID and shares the source's Study and Frame of Reference;
    ``series_description`` is written only where the source kept a description of its own.
    """
    import highdicom as hd
    from pydicom.uid import generate_uid

    from workbench import __version__

    array = checked_labels(labels, "export_seg")
    grid = source_grid(source_datasets)
    if array.shape != grid.shape:
        raise LesionMaskError(
            f"export_seg: the label map's shape {array.shape} is not the source grid "
            f"{grid.shape} (columns x rows x slices)"
        )
    foreground = array != 0
    values = array[foreground]
    present = [int(v) for v in np.unique(values)]
    if not present:
        raise LesionMaskError("export_seg: the label map is empty; there is no lesion to export")
    by_label: dict[int, LesionFinding] = {}
    for finding in findings:
        if finding.label not in present:
            raise LesionMaskError(f"export_seg: finding {finding.label} has no voxels in the mask")
        uid = finding.series.series_instance_uid
        if uid is not None and grid.series_instance_uid and uid != grid.series_instance_uid:
            raise LesionMaskError(
                f"export_seg: finding {finding.label} belongs to series {uid}, not to the "
                f"source series {grid.series_instance_uid}"
            )
        by_label[finding.label] = finding
    if len(present) > 0xFFFF:
        raise LesionMaskError(f"export_seg: {len(present)} lesions; a SEG holds at most 65535")
    segments = np.zeros(array.shape, dtype=label_dtype(len(present)))
    segments[foreground] = np.searchsorted(present, values) + 1  # segment numbers 1..N
    # (i, j, k) -> (k, row = j, column = i): one frame per source slice.
    stack = segments.transpose(2, 1, 0)
    if grid.multiframe:
        # Frames of the source instance in its own frame order.
        pixel_array = np.zeros_like(stack)
        for s in grid.slices:
            assert s.frame_number is not None
            pixel_array[s.frame_number - 1] = stack[s.k]
        source_images = [_with_shared_geometry(source_datasets[0])]
    else:
        pixel_array = np.ascontiguousarray(stack)
        source_images = [source_datasets[s.dataset_index] for s in grid.slices]
    descriptions = [
        _segment_description(number, label, by_label.get(label), generate_uid)
        for number, label in enumerate(present, start=1)
    ]
    with warnings.catch_warnings():
        # A registry pseudonym ("PML-0042") is a one-component person name; highdicom warns.
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person")
        seg = hd.seg.Segmentation(
            source_images=source_images,
            pixel_array=pixel_array,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=generate_uid(),
            series_number=int(series_number),
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer=manufacturer,
            manufacturer_model_name=manufacturer_model_name,
            software_versions=software_versions or f"pml-workbench {__version__}",
            device_serial_number=device_serial_number,
            content_label=CONTENT_LABEL,
            content_description="Lesion masks of a PML registry read",
            omit_empty_frames=True,
        )
    if source_images[0].get("SeriesDescription"):
        # Descriptions are kept only where the source's de-identification kept its own
        # (Annex E removes SeriesDescription unless the Clean Descriptors Option applies).
        seg.SeriesDescription = series_description
    seg.BurnedInAnnotation = "NO"  # label frames carry no text
    _deidentify_like_source(seg, source_images[0])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(target)
    return target


def _with_shared_geometry(ds: Dataset) -> Dataset:
    """A multi-frame source with its common per-frame geometry moved to the shared group.

    highdicom reads PixelMeasuresSequence and PlaneOrientationSequence from the shared
    functional groups only; some scanners (Siemens XA) repeat them in every frame instead.
    The copy is what highdicom reads; the source dataset is left as it is.
    """
    import copy

    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not shared or not per_frame:
        return ds
    missing = [
        keyword
        for keyword in ("PixelMeasuresSequence", "PlaneOrientationSequence")
        if keyword not in shared[0]
    ]
    if not missing:
        return ds
    normalised = copy.deepcopy(ds)
    target = normalised.SharedFunctionalGroupsSequence[0]
    for keyword in missing:
        values = [item.get(keyword) for item in normalised.PerFrameFunctionalGroupsSequence]
        if any(value is None for value in values) or any(v != values[0] for v in values[1:]):
            raise LesionMaskError(
                f"SEG source: {_where(ds)} has no common {keyword} for all its frames"
            )
        setattr(target, keyword, values[0])
        for item in normalised.PerFrameFunctionalGroupsSequence:
            delattr(item, keyword)
    return normalised


def _deidentify_like_source(seg: Dataset, source: Dataset) -> None:
    """Drop what highdicom adds that could identify; copy the source's de-identification."""
    for keyword in ("InstanceCreationDate", "InstanceCreationTime", "InstanceCreatorUID"):
        if keyword in seg:
            delattr(seg, keyword)
    for item in seg.get("ContributingEquipmentSequence", []):
        for keyword in ("ContributionDateTime", "ContributionDescription"):
            if keyword in item:
                delattr(item, keyword)
    date = str(source.get("SeriesDate") or source.get("StudyDate") or "")
    time = str(source.get("SeriesTime") or source.get("StudyTime") or "")
    if date:
        seg.ContentDate = date
        seg.ContentTime = time or DUMMY_TIME
        modified = source.get("LongitudinalTemporalInformationModified")
        if modified:
            seg.LongitudinalTemporalInformationModified = modified
    else:
        seg.ContentDate = DUMMY_DATE
        seg.ContentTime = DUMMY_TIME
        seg.LongitudinalTemporalInformationModified = "MODIFIED"
    for keyword in (
        "PatientIdentityRemoved",
        "DeidentificationMethod",
        "DeidentificationMethodCodeSequence",
    ):
        if keyword in source:
            setattr(seg, keyword, source[keyword].value)


def _read_seg(path: Path) -> Any:
    import highdicom as hd
    import pydicom

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise LesionMaskError(f"{path}: not a readable DICOM file: {exc}") from exc
    if str(header.get("SOPClassUID", "")) != SEG_SOP_CLASS_UID:
        raise LesionMaskError(
            f"{path}: a DICOM file but not a Segmentation (SOP Class "
            f"{header.get('SOPClassUID', 'missing')}); expected a DICOM SEG lesion mask"
        )
    try:
        return hd.seg.segread(path)
    except Exception as exc:
        raise LesionMaskError(f"{path}: broken DICOM SEG: {exc}") from exc


def _segment_labels(seg: Any) -> dict[int, int]:
    """Segment number → lesion label (``Lesion N`` → N; else the segment number)."""
    numbers = [int(n) for n in seg.segment_numbers]
    parsed: dict[int, int] = {}
    for item in seg.SegmentSequence:
        match = _LESION_LABEL.fullmatch(str(item.get("SegmentLabel", "")).strip())
        if match is None:
            break
        parsed[int(item.SegmentNumber)] = int(match.group(1))
    else:
        if len(set(parsed.values())) == len(parsed) and set(parsed) == set(numbers):
            return parsed
    return {n: n for n in numbers}


def _lookup(mapping: dict[int, int]) -> np.ndarray:
    top = max(mapping, default=0)
    lookup = np.zeros(top + 1, dtype=label_dtype(max(mapping.values(), default=1)))
    for number, label in mapping.items():
        lookup[number] = label
    return lookup


def read_seg_labels(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """A SEG's labels on its own grid: ``(labels, LPS affine, kind)``.

    ``kind`` is ``"binary"`` for a single segment (to be split into connected lesions) and
    ``"labels"`` otherwise (one label per segment).
    """
    source = Path(path)
    seg = _read_seg(source)
    mapping = _segment_labels(seg)
    try:
        volume = seg.get_volume(combine_segments=True, relabel=False)
    except Exception as exc:
        raise LesionMaskError(f"{source}: the SEG's frames do not make one volume: {exc}") from exc
    if volume is None:
        raise LesionMaskError(f"{source}: the SEG's frames do not make one volume")
    numbers = np.asarray(volume.array)
    if numbers.ndim != 3:
        raise LesionMaskError(f"{source}: the SEG is not a 3-D segmentation")
    labels = _lookup(mapping)[numbers.astype(np.intp)]
    kind = "binary" if len(mapping) == 1 else "labels"
    return labels, np.asarray(volume.affine, dtype=np.float64), kind


def import_seg(path: str | os.PathLike[str], source: Volume | Sequence[Dataset]) -> np.ndarray:
    """The labels of a DICOM SEG on the source series' grid, ``(i, j, k)`` like its Volume.

    ``source`` is the series' Volume (loaded from DICOM) or its datasets. Frames are placed
    by the source instance (and frame) they reference; a SEG that references none of the
    source's instances but shares its frame of reference is placed by position, and must
    then lie on the same grid. Refused with a clear message: another frame of reference,
    another grid, overlapping segments, or not a SEG.
    """
    target = Path(path)
    seg = _read_seg(target)
    grid = _grid_of(source)
    seg_for = str(seg.get("FrameOfReferenceUID", "") or "")
    if grid.frame_of_reference_uid and seg_for and seg_for != grid.frame_of_reference_uid:
        raise GridMismatchError(
            f"{target}: the SEG's Frame of Reference {seg_for} is not the source series' "
            f"({grid.frame_of_reference_uid}); it was drawn on other images"
        )
    lookup = _lookup(_segment_labels(seg))
    referenced = {str(uid[2]) for uid in seg.get_source_image_uids()}
    ours = {s.sop_instance_uid for s in grid.slices}
    try:
        if referenced and referenced <= ours:
            numbers = _by_reference(seg, grid)
        else:
            numbers = _by_position(seg, grid, target)
    except (GridMismatchError, LesionMaskError):
        raise
    except Exception as exc:
        raise LesionMaskError(f"{target}: cannot read the SEG's frames: {exc}") from exc
    return lookup[numbers.astype(np.intp)]


def _by_reference(seg: Any, grid: SourceGrid) -> np.ndarray:
    """Segment numbers ``(i, j, k)`` from the frames' references to source instances."""
    if grid.multiframe:
        uid = grid.slices[0].sop_instance_uid
        frames = [s.frame_number for s in grid.slices]
        stack = seg.get_pixels_by_source_frame(
            source_sop_instance_uid=uid,
            source_frame_numbers=frames,
            combine_segments=True,
            relabel=False,
            # Frames a SEG omits (empty) are known to exist: they are the source's own.
            assert_missing_frames_are_empty=True,
        )
    else:
        stack = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=[s.sop_instance_uid for s in grid.slices],
            combine_segments=True,
            relabel=False,
            assert_missing_frames_are_empty=True,
        )
    stack = np.asarray(stack)
    if stack.shape != (len(grid.slices), grid.rows, grid.columns):
        raise LesionMaskError(
            f"SEG frames of shape {stack.shape[1:]} do not match the source images "
            f"({grid.rows} x {grid.columns})"
        )
    return stack.transpose(2, 1, 0)


def _by_position(seg: Any, grid: SourceGrid, path: Path) -> np.ndarray:
    """Segment numbers placed voxel by voxel through world space onto the source grid.

    Allowed only when the SEG's grid is the source grid up to axis order and direction:
    each SEG voxel must land on a source voxel centre (within 1e-3 voxel).
    """
    volume = seg.get_volume(combine_segments=True, relabel=False)
    if volume is None:
        raise LesionMaskError(f"{path}: the SEG's frames do not make one volume")
    numbers = np.asarray(volume.array)
    out = np.zeros(grid.shape, dtype=numbers.dtype)
    index = np.argwhere(numbers != 0)
    if index.size == 0:
        return out
    mapping = np.linalg.inv(grid.affine) @ np.asarray(volume.affine, dtype=np.float64)
    linear = mapping[:3, :3]
    permutation = np.abs(np.round(linear))
    if not (
        np.allclose(linear, np.round(linear), atol=1e-3)
        and np.allclose(permutation.sum(axis=0), 1)
        and np.allclose(permutation.sum(axis=1), 1)
    ):
        raise GridMismatchError(
            f"{path}: the SEG references none of the source images and lies on another grid "
            "(other spacing or angle); it cannot be placed voxel for voxel"
        )
    points = index @ linear.T + mapping[:3, 3]
    target = np.rint(points)
    if np.max(np.abs(points - target)) > 1e-3:
        raise GridMismatchError(
            f"{path}: the SEG's voxels lie between the source grid's voxel centres"
        )
    ijk = target.astype(np.int64)
    limits = np.array(grid.shape)
    if np.any(ijk < 0) or np.any(ijk >= limits):
        raise GridMismatchError(f"{path}: the SEG's lesions reach outside the source series")
    out[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = numbers[index[:, 0], index[:, 1], index[:, 2]]
    return out
