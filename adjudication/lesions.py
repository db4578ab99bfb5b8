"""Lesion findings of a read: what a reader marked, where it is, how big, and what it looks like.

A lesion is a label in a mask that lies on the grid of one named series (DESIGN.md §2). The
values here point at that series by **image identity** (:class:`SeriesRef`: DICOM UIDs, or the
content SHA-256 of a NIfTI file, plus the grid shape and its 4 × 4 LPS affine), never at a
viewer, a slice index or a widget, so a finding stays meaningful after the window is closed and
on another workstation (STYLE.md point 6, after OHIF's measurement model).

Everything is a frozen, slotted dataclass validated in ``__post_init__``; strings are coerced to
the vocabularies (``StrEnum`` s), so values read back from JSON or the database are checked the
same way as values built in code. Change a value with :func:`dataclasses.replace`.

The measurement itself (voxel counting, centroids, connected components) is numpy work and lives
in ``viewers.measure`` (the workbench converts its results into :class:`LesionMeasurement`); this
module only holds and checks the results, so it stays pure Python. :class:`Hemisphere` and
:func:`hemisphere_of` are the code base's only hemisphere vocabulary (see :class:`Hemisphere`).
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias, TypeVar

from adjudication.vocabulary import TriState

__all__ = [
    "ContrastEnhancement",
    "CorticalGreyMatter",
    "DwiPattern",
    "Hemisphere",
    "LesionFeatures",
    "LesionFinding",
    "LesionMeasurement",
    "Location",
    "MassEffect",
    "MilkyWay",
    "SeriesRef",
    "SwiRim",
    "T1Hypointensity",
    "UFibreInvolvement",
    "VolumeChange",
    "finding_from_dict",
    "finding_to_dict",
    "hemisphere_of",
    "total_volume_ml",
    "volume_change",
]

MAX_NOTE_LENGTH = 4000
"""Longest free-text note a finding may carry (characters)."""

GRID_TOLERANCE_MM = 1e-3
"""Two grids are the same when their shapes are equal and their corners lie this close."""

_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

E = TypeVar("E", bound=StrEnum)


class Hemisphere(StrEnum):
    """Side of the brain a lesion lies in, in the **patient's** frame (not the screen's).

    The only hemisphere vocabulary of the code base, kept here with :func:`hemisphere_of`
    because these values are what the registry stores (``lesions.hemisphere``) and what a
    reader chooses, including :attr:`BILATERAL`, which no centroid can tell. ``viewers`` and
    ``adjudication`` may not import each other: ``viewers.measure`` therefore gives only the
    centroid in LPS mm, a plain number, and the side is decided from it here.
    """

    LEFT = "left"
    """The patient's left (DICOM LPS x greater than the midline)."""
    RIGHT = "right"
    """The patient's right (DICOM LPS x less than the midline)."""
    MIDLINE = "midline"
    """On the midline: e.g. the vermis, the brainstem, the genu or splenium of the callosum."""
    BILATERAL = "bilateral"
    """One confluent lesion extending into both hemispheres (e.g. across the callosum)."""


def hemisphere_of(
    centroid_lps: Sequence[float], midline_x: float = 0.0, tolerance_mm: float = 0.0
) -> Hemisphere:
    """The side suggested for a lesion from its centroid: LPS ``x > midline_x`` is the **left**.

    Within ``tolerance_mm`` of the midline the answer is :attr:`Hemisphere.MIDLINE`; never
    :attr:`Hemisphere.BILATERAL` (that is a reader's judgement). This uses world ``x``, so it
    is right for images in a standard space (MNI) or scanned with the head straight; pass
    ``midline_x`` where the midline is known to lie elsewhere (for example from a
    registration to a template).
    """
    x = float(centroid_lps[0])
    if not math.isfinite(x):
        raise ValueError(f"hemisphere_of: centroid x is {x}")
    if x > midline_x + tolerance_mm:
        return Hemisphere.LEFT
    if x < midline_x - tolerance_mm:
        return Hemisphere.RIGHT
    return Hemisphere.MIDLINE


class Location(StrEnum):
    """Where a lesion lies, as a reader names it (lobe, deep grey matter or infratentorial)."""

    FRONTAL = "frontal"
    """Frontal lobe (white matter, juxtacortical region or cortex)."""
    PARIETAL = "parietal"
    """Parietal lobe."""
    TEMPORAL = "temporal"
    """Temporal lobe."""
    OCCIPITAL = "occipital"
    """Occipital lobe."""
    INSULAR = "insular"
    """Insula and the adjacent external/extreme capsule."""
    DEEP_GREY = "deep_grey"
    """Deep grey matter: basal ganglia and thalamus (and the internal capsule between them)."""
    CORPUS_CALLOSUM = "corpus_callosum"
    """Corpus callosum."""
    BRAINSTEM = "brainstem"
    """Midbrain, pons or medulla, including the middle cerebellar peduncle's pontine part."""
    CEREBELLUM = "cerebellum"
    """Cerebellar hemispheres, vermis and peduncles."""
    OTHER = "other"
    """Anywhere else (e.g. spinal cord); say where in the note."""

    @property
    def infratentorial(self) -> bool:
        """Whether the location is below the tentorium (brainstem or cerebellum)."""
        return self in (Location.BRAINSTEM, Location.CEREBELLUM)


UFibreInvolvement: TypeAlias = TriState
"""Subcortical U-fibre involvement (the scalloped juxtacortical border typical of PML)."""
CorticalGreyMatter: TypeAlias = TriState
"""Juxtacortical or cortical grey matter involvement."""
T1Hypointensity: TypeAlias = TriState
"""T1 hypointensity of the lesion (PML lesions darken on T1 as they progress)."""
MassEffect: TypeAlias = TriState
"""Mass effect or oedema (usually absent in PML; present suggests another diagnosis or IRIS)."""
MilkyWay: TypeAlias = TriState
"""Punctate T2 satellite lesions around the main lesion ("milky way" appearance)."""
SwiRim: TypeAlias = TriState
"""A hypointense rim at the cortex-white matter junction on SWI / T2* (iron deposition)."""


class DwiPattern(StrEnum):
    """Diffusion-weighted appearance of a lesion."""

    RIM = "rim"
    """Restricted diffusion at the advancing edge only (active PML)."""
    DIFFUSE = "diffuse"
    """Restricted diffusion throughout the lesion (early/small lesions)."""
    NONE = "none"
    """No restricted diffusion (older, burnt-out lesions)."""
    NOT_ASSESSED = "not_assessed"
    """No DWI available or not looked at: never read as "none"."""


class ContrastEnhancement(StrEnum):
    """Enhancement after gadolinium."""

    NONE = "none"
    """No enhancement (the classic PML appearance)."""
    FAINT_PUNCTATE = "faint_punctate"
    """Faint or punctate enhancement (seen in some natalizumab-associated PML)."""
    RIM = "rim"
    """Rim or peripheral enhancement (raises the question of PML-IRIS)."""
    NOT_ASSESSED = "not_assessed"
    """No post-contrast series, or not looked at: never read as "none"."""


def _enum(kind: type[E], value: object, name: str) -> E:
    """``kind(value)`` or a ``ValueError`` naming the field and the allowed values."""
    if isinstance(value, kind):
        return value
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValueError(f"{name}: {value!r} is not one of {allowed}") from None


def _optional_enum(kind: type[E], value: object, name: str) -> E | None:
    return None if value is None else _enum(kind, value, name)


def _int(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    as_float = float(value)
    if not math.isfinite(as_float) or as_float != math.floor(as_float):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    number = operator.index(value) if isinstance(value, numbers.Integral) else int(as_float)
    if number < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {number}")
    return number


def _finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return number


def _triple_float(value: object, name: str) -> tuple[float, float, float]:
    items = _sequence(value, name, 3)
    return (
        _finite(items[0], f"{name}[0]"),
        _finite(items[1], f"{name}[1]"),
        _finite(items[2], f"{name}[2]"),
    )


def _triple_int(value: object, name: str, *, minimum: int) -> tuple[int, int, int]:
    items = _sequence(value, name, 3)
    return (
        _int(items[0], f"{name}[0]", minimum=minimum),
        _int(items[1], f"{name}[1]", minimum=minimum),
        _int(items[2], f"{name}[2]", minimum=minimum),
    )


def _sequence(value: object, name: str, length: int) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(f"{name}: expected {length} values, got {value!r}")
    items = [item.item() if hasattr(item, "item") else item for item in value]
    if len(items) != length:
        raise ValueError(f"{name}: expected {length} values, got {len(items)}")
    return items


def _uid(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if len(text) > 64 or not _UID.fullmatch(text):
        raise ValueError(f"{name}: {value!r} is not a DICOM UID (digits and dots, at most 64)")
    return text


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """The series (and its voxel grid) a lesion mask lies on: image identity, no viewer state.

    A DICOM series is named by its Study/Series Instance UIDs and Frame of Reference UID; a
    NIfTI file by the SHA-256 of its bytes (``content_sha256``). At least the Series Instance
    UID or the content hash is required. ``shape`` is the ``(i, j, k)`` grid of the mask and
    ``affine`` the 4 × 4 matrix (row-major, as a tuple of four rows) from ``(i, j, k, 1)`` to
    DICOM **LPS** millimetres, exactly as the series' ``Volume`` holds it.
    """

    shape: tuple[int, int, int]
    affine: tuple[tuple[float, float, float, float], ...]
    series_instance_uid: str | None = None
    study_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None
    content_sha256: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _triple_int(self.shape, "SeriesRef.shape", minimum=1))
        rows = _sequence(self.affine, "SeriesRef.affine", 4)
        affine = tuple(
            tuple(
                _finite(v, f"SeriesRef.affine[{r}][{c}]")
                for c, v in enumerate(_sequence(row, f"SeriesRef.affine[{r}]", 4))
            )
            for r, row in enumerate(rows)
        )
        if any(abs(a - b) > 1e-9 for a, b in zip(affine[3], (0.0, 0.0, 0.0, 1.0), strict=True)):
            raise ValueError(f"SeriesRef.affine: last row must be 0 0 0 1, got {affine[3]}")
        if abs(_det3(affine)) < 1e-9:
            raise ValueError("SeriesRef.affine: singular (zero voxel size or collinear axes)")
        object.__setattr__(self, "affine", affine)
        for name in ("series_instance_uid", "study_instance_uid", "frame_of_reference_uid"):
            object.__setattr__(self, name, _uid(getattr(self, name), f"SeriesRef.{name}"))
        digest = self.content_sha256
        if digest is not None:
            digest = str(digest).strip().lower()
            if not _SHA256.fullmatch(digest):
                raise ValueError(
                    f"SeriesRef.content_sha256: {self.content_sha256!r} is not a SHA-256 hex digest"
                )
            object.__setattr__(self, "content_sha256", digest)
        if self.series_instance_uid is None and self.content_sha256 is None:
            raise ValueError(
                "SeriesRef: needs the Series Instance UID (DICOM) or the content SHA-256 (NIfTI)"
            )

    @property
    def key(self) -> str:
        """A stable text key of the series: ``dicom:<SeriesInstanceUID>`` or ``sha256:<hex>``."""
        if self.series_instance_uid is not None:
            return f"dicom:{self.series_instance_uid}"
        return f"sha256:{self.content_sha256}"

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (``|det(affine[:3, :3])| / 1000``)."""
        return abs(_det3(self.affine)) / 1000.0

    def world(self, ijk: Sequence[float]) -> tuple[float, float, float]:
        """LPS millimetres of the voxel coordinate ``ijk``."""
        i, j, k = (float(v) for v in ijk)
        a = self.affine
        return (
            a[0][0] * i + a[0][1] * j + a[0][2] * k + a[0][3],
            a[1][0] * i + a[1][1] * j + a[1][2] * k + a[1][3],
            a[2][0] * i + a[2][1] * j + a[2][2] * k + a[2][3],
        )

    def grid_distance_mm(self, other: SeriesRef) -> float:
        """Largest distance (mm) between the same corner voxel centres of two equal-shape grids.

        ``math.inf`` when the shapes differ: such grids can never be overlaid by index.
        """
        if self.shape != other.shape:
            return math.inf
        worst = 0.0
        for corner in _corners(self.shape):
            a, b = self.world(corner), other.world(corner)
            worst = max(worst, math.dist(a, b))
        return worst

    def same_grid(self, other: SeriesRef, tolerance_mm: float = GRID_TOLERANCE_MM) -> bool:
        """Whether a mask on this grid can be overlaid voxel for voxel on ``other``'s."""
        return self.grid_distance_mm(other) <= tolerance_mm

    def same_series(self, other: SeriesRef) -> bool:
        """Whether both name the same image (Series Instance UID, else content hash)."""
        if self.series_instance_uid is not None and other.series_instance_uid is not None:
            return self.series_instance_uid == other.series_instance_uid
        return self.content_sha256 is not None and self.content_sha256 == other.content_sha256


def _det3(affine: Sequence[Sequence[float]]) -> float:
    (a, b, c), (d, e, f), (g, h, i) = (row[:3] for row in affine[:3])
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def _corners(shape: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    ni, nj, nk = (n - 1 for n in shape)
    return [(i, j, k) for i in (0, ni) for j in (0, nj) for k in (0, nk)]


@dataclass(frozen=True, slots=True)
class LesionMeasurement:
    """What was measured for one label of a mask.

    ``volume_ml`` is voxel count × voxel volume; ``centroid_lps`` the mean voxel centre in
    DICOM LPS millimetres; the bounding box is given by inclusive voxel indices
    ``bbox_min``..``bbox_max`` along ``(i, j, k)`` of the mask's grid.
    """

    label: int
    voxel_count: int
    volume_ml: float
    centroid_lps: tuple[float, float, float]
    bbox_min: tuple[int, int, int]
    bbox_max: tuple[int, int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", _int(self.label, "LesionMeasurement.label", minimum=1))
        count = _int(self.voxel_count, "LesionMeasurement.voxel_count", minimum=1)
        object.__setattr__(self, "voxel_count", count)
        volume = _finite(self.volume_ml, "LesionMeasurement.volume_ml")
        if volume <= 0:
            raise ValueError(f"LesionMeasurement.volume_ml: must be positive, got {volume}")
        object.__setattr__(self, "volume_ml", volume)
        object.__setattr__(
            self, "centroid_lps", _triple_float(self.centroid_lps, "LesionMeasurement.centroid_lps")
        )
        low = _triple_int(self.bbox_min, "LesionMeasurement.bbox_min", minimum=0)
        high = _triple_int(self.bbox_max, "LesionMeasurement.bbox_max", minimum=0)
        if any(a > b for a, b in zip(low, high, strict=True)):
            raise ValueError(f"LesionMeasurement: bbox_min {low} exceeds bbox_max {high}")
        box = math.prod(b - a + 1 for a, b in zip(low, high, strict=True))
        if count > box:
            raise ValueError(
                f"LesionMeasurement: {count} voxels cannot fit in the bounding box {low}..{high}"
            )
        object.__setattr__(self, "bbox_min", low)
        object.__setattr__(self, "bbox_max", high)

    @property
    def centroid_ras(self) -> tuple[float, float, float]:
        """The centroid in NIfTI RAS millimetres (x and y negated)."""
        x, y, z = self.centroid_lps
        return (-x if x else 0.0, -y if y else 0.0, z)


@dataclass(frozen=True, slots=True)
class LesionFeatures:
    """The PML imaging features of one lesion (DESIGN.md §2); each defaults to not assessed.

    "Not assessed" is a fact of its own ("no DWI was available"), never read as "absent".
    """

    u_fibres: UFibreInvolvement = TriState.NOT_ASSESSED
    """Subcortical U-fibre involvement."""
    cortical_grey_matter: CorticalGreyMatter = TriState.NOT_ASSESSED
    """Juxtacortical / cortical grey matter involvement."""
    t1_hypointensity: T1Hypointensity = TriState.NOT_ASSESSED
    """T1 hypointensity."""
    dwi_pattern: DwiPattern = DwiPattern.NOT_ASSESSED
    """Diffusion pattern (rim, diffuse, none)."""
    contrast_enhancement: ContrastEnhancement = ContrastEnhancement.NOT_ASSESSED
    """Gadolinium enhancement (none, faint/punctate, rim)."""
    mass_effect: MassEffect = TriState.NOT_ASSESSED
    """Mass effect or oedema."""
    milky_way: MilkyWay = TriState.NOT_ASSESSED
    """Punctate "milky-way" satellite lesions."""
    swi_rim: SwiRim = TriState.NOT_ASSESSED
    """Hypointense SWI / T2* rim at the grey-white junction."""

    def __post_init__(self) -> None:
        for name in _TRISTATE_FEATURES:
            object.__setattr__(
                self, name, _enum(TriState, getattr(self, name), f"LesionFeatures.{name}")
            )
        object.__setattr__(
            self, "dwi_pattern", _enum(DwiPattern, self.dwi_pattern, "LesionFeatures.dwi_pattern")
        )
        object.__setattr__(
            self,
            "contrast_enhancement",
            _enum(
                ContrastEnhancement,
                self.contrast_enhancement,
                "LesionFeatures.contrast_enhancement",
            ),
        )

    def as_dict(self) -> dict[str, str]:
        """Feature name → stored value (the enum's value)."""
        return {name: str(getattr(self, name)) for name in _FEATURE_NAMES}

    @property
    def assessed(self) -> tuple[str, ...]:
        """Names of the features the reader has assessed (anything but "not assessed")."""
        return tuple(name for name in _FEATURE_NAMES if str(getattr(self, name)) != "not_assessed")


_TRISTATE_FEATURES = (
    "u_fibres",
    "cortical_grey_matter",
    "t1_hypointensity",
    "mass_effect",
    "milky_way",
    "swi_rim",
)
_FEATURE_NAMES = (
    "u_fibres",
    "cortical_grey_matter",
    "t1_hypointensity",
    "dwi_pattern",
    "contrast_enhancement",
    "mass_effect",
    "milky_way",
    "swi_rim",
)


@dataclass(frozen=True, slots=True)
class LesionFinding:
    """One lesion of a read: its label in the mask on ``series``, measurement and description.

    ``hemisphere`` and ``location`` are the **reader's** choices (``None`` until chosen);
    ``suggested_hemisphere`` and ``suggested_location`` what the workbench computed (from the
    centroid, or an atlas), kept beside them so that an override stays visible.
    """

    label: int
    series: SeriesRef
    measurement: LesionMeasurement
    hemisphere: Hemisphere | None = None
    location: Location | None = None
    suggested_hemisphere: Hemisphere | None = None
    suggested_location: Location | None = None
    features: LesionFeatures = field(default_factory=LesionFeatures)
    note: str = ""

    def __post_init__(self) -> None:
        label = _int(self.label, "LesionFinding.label", minimum=1)
        object.__setattr__(self, "label", label)
        if not isinstance(self.series, SeriesRef):
            raise ValueError(f"LesionFinding.series: expected a SeriesRef, got {self.series!r}")
        if not isinstance(self.measurement, LesionMeasurement):
            raise ValueError(
                f"LesionFinding.measurement: expected a LesionMeasurement, got {self.measurement!r}"
            )
        if self.measurement.label != label:
            raise ValueError(
                f"LesionFinding: label {label} but its measurement is of label "
                f"{self.measurement.label}"
            )
        outside = [
            axis
            for axis, (high, size) in enumerate(
                zip(self.measurement.bbox_max, self.series.shape, strict=True)
            )
            if high >= size
        ]
        if outside:
            raise ValueError(
                f"LesionFinding {label}: bounding box {self.measurement.bbox_max} lies outside "
                f"the series grid {self.series.shape}"
            )
        for name, kind in (
            ("hemisphere", Hemisphere),
            ("suggested_hemisphere", Hemisphere),
            ("location", Location),
            ("suggested_location", Location),
        ):
            value = _optional_enum(kind, getattr(self, name), f"LesionFinding.{name}")
            object.__setattr__(self, name, value)
        if not isinstance(self.features, LesionFeatures):
            raise ValueError(
                f"LesionFinding.features: expected LesionFeatures, got {self.features!r}"
            )
        if not isinstance(self.note, str):
            raise ValueError(f"LesionFinding.note: expected text, got {self.note!r}")
        if len(self.note) > MAX_NOTE_LENGTH:
            raise ValueError(
                f"LesionFinding.note: {len(self.note)} characters, at most {MAX_NOTE_LENGTH}"
            )
        if "\x00" in self.note:
            raise ValueError("LesionFinding.note: contains a NUL character")

    @property
    def volume_ml(self) -> float:
        """The lesion's volume in millilitres."""
        return self.measurement.volume_ml

    @property
    def effective_hemisphere(self) -> Hemisphere | None:
        """The reader's hemisphere, else the suggestion."""
        return self.hemisphere if self.hemisphere is not None else self.suggested_hemisphere

    @property
    def effective_location(self) -> Location | None:
        """The reader's location, else the suggestion."""
        return self.location if self.location is not None else self.suggested_location

    @property
    def overrides_suggestion(self) -> bool:
        """Whether the reader chose a hemisphere or location other than the one suggested."""
        return any(
            chosen is not None and suggested is not None and chosen != suggested
            for chosen, suggested in (
                (self.hemisphere, self.suggested_hemisphere),
                (self.location, self.suggested_location),
            )
        )


@dataclass(frozen=True, slots=True)
class VolumeChange:
    """How a lesion (or the lesion load) changed between two time points.

    ``relative_percent`` is ``None`` when there was nothing before (a new lesion): a percentage
    of zero is not a number.
    """

    before_ml: float
    after_ml: float
    absolute_ml: float
    relative_percent: float | None

    def __post_init__(self) -> None:
        for name in ("before_ml", "after_ml"):
            value = _finite(getattr(self, name), f"VolumeChange.{name}")
            if value < 0:
                raise ValueError(f"VolumeChange.{name}: must not be negative, got {value}")
            object.__setattr__(self, name, value)
        absolute = _finite(self.absolute_ml, "VolumeChange.absolute_ml")
        if not math.isclose(absolute, self.after_ml - self.before_ml, abs_tol=1e-9):
            raise ValueError("VolumeChange.absolute_ml must equal after_ml - before_ml")
        object.__setattr__(self, "absolute_ml", absolute)
        if self.before_ml == 0 and self.relative_percent is not None:
            raise ValueError("VolumeChange.relative_percent must be None when before_ml is 0")
        if self.before_ml > 0:
            if self.relative_percent is None:
                raise ValueError("VolumeChange.relative_percent is required when before_ml > 0")
            object.__setattr__(
                self,
                "relative_percent",
                _finite(self.relative_percent, "VolumeChange.relative_percent"),
            )


def _ml(value: LesionMeasurement | LesionFinding | float | int, name: str) -> float:
    if isinstance(value, LesionMeasurement | LesionFinding):
        return value.volume_ml
    number = _finite(value, name)
    if number < 0:
        raise ValueError(f"{name}: a volume cannot be negative, got {number}")
    return number


def volume_change(
    before: LesionMeasurement | LesionFinding | float | int,
    after: LesionMeasurement | LesionFinding | float | int,
) -> VolumeChange:
    """Change from ``before`` to ``after`` (measurements, findings or volumes in mL).

    ``absolute_ml = after - before``; ``relative_percent = 100 * (after - before) / before``,
    or ``None`` when ``before`` is 0.
    """
    before_ml = _ml(before, "before")
    after_ml = _ml(after, "after")
    relative = None if before_ml == 0 else 100.0 * (after_ml - before_ml) / before_ml
    return VolumeChange(before_ml, after_ml, after_ml - before_ml, relative)


def total_volume_ml(items: Iterable[LesionMeasurement | LesionFinding]) -> float:
    """The lesion load: the sum of the volumes in mL (labels do not overlap in one mask)."""
    return math.fsum(item.volume_ml for item in items)


def finding_to_dict(finding: LesionFinding) -> dict[str, Any]:
    """A JSON-ready dict of ``finding`` (what the registry stores).

    :func:`finding_from_dict` reads it back.
    """
    series = finding.series
    measurement = finding.measurement
    return {
        "label": finding.label,
        "series": {
            "series_instance_uid": series.series_instance_uid,
            "study_instance_uid": series.study_instance_uid,
            "frame_of_reference_uid": series.frame_of_reference_uid,
            "content_sha256": series.content_sha256,
            "shape": list(series.shape),
            "affine": [list(row) for row in series.affine],
        },
        "measurement": {
            "voxel_count": measurement.voxel_count,
            "volume_ml": measurement.volume_ml,
            "centroid_lps": list(measurement.centroid_lps),
            "bbox_min": list(measurement.bbox_min),
            "bbox_max": list(measurement.bbox_max),
        },
        "hemisphere": _value(finding.hemisphere),
        "location": _value(finding.location),
        "suggested_hemisphere": _value(finding.suggested_hemisphere),
        "suggested_location": _value(finding.suggested_location),
        "features": finding.features.as_dict(),
        "note": finding.note,
    }


def _value(member: StrEnum | None) -> str | None:
    return None if member is None else member.value


def finding_from_dict(data: Mapping[str, Any]) -> LesionFinding:
    """The finding :func:`finding_to_dict` wrote, validated again (``ValueError`` if broken)."""
    try:
        series = data["series"]
        measurement = data["measurement"]
        label = data["label"]
        features = data.get("features") or {}
        unknown = set(features) - set(_FEATURE_NAMES)
        if unknown:
            raise ValueError(f"unknown lesion features: {', '.join(sorted(unknown))}")
        return LesionFinding(
            label=label,
            series=SeriesRef(
                shape=series["shape"],
                affine=series["affine"],
                series_instance_uid=series.get("series_instance_uid"),
                study_instance_uid=series.get("study_instance_uid"),
                frame_of_reference_uid=series.get("frame_of_reference_uid"),
                content_sha256=series.get("content_sha256"),
            ),
            measurement=LesionMeasurement(
                label=label,
                voxel_count=measurement["voxel_count"],
                volume_ml=measurement["volume_ml"],
                centroid_lps=measurement["centroid_lps"],
                bbox_min=measurement["bbox_min"],
                bbox_max=measurement["bbox_max"],
            ),
            hemisphere=data.get("hemisphere"),
            location=data.get("location"),
            suggested_hemisphere=data.get("suggested_hemisphere"),
            suggested_location=data.get("suggested_location"),
            features=LesionFeatures(**features),
            note=data.get("note") or "",
        )
    except KeyError as exc:
        raise ValueError(f"lesion finding: missing field {exc.args[0]!r}") from None
    except TypeError as exc:
        raise ValueError(f"lesion finding: {exc}") from None
