"""The research clinical record of a case: vocabularies and validated values.

What a registry needs to answer its own questions (incidence, risk factors, disease course):
when PML was diagnosed (calendar year only) and how it was found, every predisposing
condition, histopathology component by component, treatments, PML-IRIS, outcome scales over
time and the laboratory values that define risk. Dates of a person are never stored: every
``*_day`` is relative to the case's index date, like the rest of the registry.

Everything here is a frozen value validated on construction, with no database in sight, so
the window, the command line and a site package's manifest refuse the same input with the
same message (``field: problem``). :meth:`ClinicalRecord.from_json` reads the record from the
plain mapping a manifest or ``--json`` holds (strings are accepted where a CSV gives them) and
:meth:`ClinicalRecord.as_json` writes it back; ``from_json(as_json())`` is the identity.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, TypeVar

from workbench.domain import Condition, coerce_enum
from workbench.errors import ValidationError

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

EARLIEST_DIAGNOSIS_YEAR = 1958
"""PML was first described in 1958; no diagnosis can be older."""


class DetectionMode(StrEnum):
    """How PML came to attention."""

    SYMPTOMATIC = "symptomatic"
    """New neurological symptoms led to the work-up."""
    SCREENING_MRI = "screening_mri"
    """Found on an MRI done for surveillance (e.g. natalizumab monitoring), before symptoms."""
    UNKNOWN = "unknown"


class YesNoUnknown(StrEnum):
    """A fact recorded as yes, no, or not known (never guessed)."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class DrugClass(StrEnum):
    """Pharmacological class of an exposure, as PML risk is discussed by class."""

    ANTI_INTEGRIN = "anti_integrin"
    """Natalizumab, vedolizumab, efalizumab."""
    ANTI_CD20 = "anti_cd20"
    """Rituximab, ocrelizumab, ofatumumab, obinutuzumab."""
    ANTI_CD52 = "anti_cd52"
    """Alemtuzumab."""
    S1P_MODULATOR = "s1p_modulator"
    """Fingolimod, siponimod, ozanimod, ponesimod."""
    FUMARATE = "fumarate"
    """Dimethyl fumarate, diroximel fumarate."""
    ANTIMETABOLITE = "antimetabolite"
    """Methotrexate, azathioprine, mycophenolate, leflunomide, teriflunomide."""
    PURINE_ANALOGUE = "purine_analogue"
    """Fludarabine, cladribine."""
    ALKYLATING_AGENT = "alkylating_agent"
    """Cyclophosphamide, bendamustine."""
    CALCINEURIN_INHIBITOR = "calcineurin_inhibitor"
    MTOR_INHIBITOR = "mtor_inhibitor"
    CORTICOSTEROID = "corticosteroid"
    ANTI_TNF = "anti_tnf"
    JAK_INHIBITOR = "jak_inhibitor"
    BTK_INHIBITOR = "btk_inhibitor"
    CAR_T = "car_t"
    """Chimeric antigen receptor T cells."""
    CHEMOTHERAPY_OTHER = "chemotherapy_other"
    OTHER = "other"
    UNKNOWN = "unknown"


class DosingSchedule(StrEnum):
    """How an exposure was dosed (extended-interval natalizumab dosing lowers PML risk)."""

    STANDARD = "standard"
    EXTENDED_INTERVAL = "extended_interval"
    OTHER = "other"
    UNKNOWN = "unknown"


class SpecimenKind(StrEnum):
    """Where tissue came from."""

    BIOPSY = "biopsy"
    AUTOPSY = "autopsy"


class Finding(StrEnum):
    """One histopathological component: seen, looked for and not seen, or not assessed."""

    PRESENT = "present"
    ABSENT = "absent"
    NOT_ASSESSED = "not_assessed"


class TissueJcv(StrEnum):
    """JC virus in brain tissue (same values as the criteria engine's input)."""

    DETECTED = "detected"
    NOT_DETECTED = "not_detected"
    NOT_DONE = "not_done"


class TissueTechnique(StrEnum):
    """How JC virus was looked for in tissue."""

    IHC = "ihc"
    """Immunohistochemistry (e.g. SV40 large T antigen, VP1)."""
    ISH = "ish"
    """In situ hybridisation."""
    PCR = "pcr"
    """PCR on tissue."""
    EM = "em"
    """Electron microscopy (virions)."""


class TreatmentKind(StrEnum):
    """Treatments given for PML or to restore immunity."""

    PLASMA_EXCHANGE = "plasma_exchange"
    IMMUNOADSORPTION = "immunoadsorption"
    CORTICOSTEROIDS = "corticosteroids"
    ANTIRETROVIRAL_START = "antiretroviral_start"
    """Start (or restart) of combination antiretroviral therapy."""
    CHECKPOINT_INHIBITOR = "checkpoint_inhibitor"
    """Pembrolizumab, nivolumab."""
    VIRUS_SPECIFIC_T_CELLS = "virus_specific_t_cells"
    INTERLEUKIN_7 = "interleukin_7"
    MEFLOQUINE = "mefloquine"
    MIRTAZAPINE = "mirtazapine"
    CIDOFOVIR = "cidofovir"
    IMMUNOSUPPRESSION_REDUCED = "immunosuppression_reduced"
    """The predisposing drug stopped or reduced."""
    OTHER = "other"


class DeathCause(StrEnum):
    """What a patient who died died of."""

    PML = "pml"
    PML_IRIS = "pml_iris"
    UNDERLYING_CONDITION = "underlying_condition"
    OTHER = "other"
    UNKNOWN = "unknown"


class Scale(StrEnum):
    """Outcome scales the registry records."""

    KPS = "kps"
    """Karnofsky performance status, 0-100 in steps of 10."""
    MRS = "mrs"
    """Modified Rankin scale, 0-6."""
    EDSS = "edss"
    """Kurtzke expanded disability status scale, 0 and 1.0-10 in steps of 0.5."""


class ScoreTime(StrEnum):
    """When an outcome score was taken, relative to PML."""

    BEFORE_PML = "before_pml"
    DIAGNOSIS = "diagnosis"
    MONTH_6 = "month_6"
    MONTH_12 = "month_12"
    MONTH_24 = "month_24"


# --- parsing helpers: accept typed values or the strings a CSV or a form gives -----------------


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _enum(kind: type[E], value: object, what: str) -> E:
    if isinstance(value, kind):
        return value
    return coerce_enum(kind, str(value).strip().lower(), what)


def _optional_enum(kind: type[E], value: object, what: str) -> E | None:
    return None if _blank(value) else _enum(kind, value, what)


def _day(value: object, what: str) -> int | None:
    """A relative day: a whole number (negative before the index date), or nothing."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{what}: {value!r} is not a day (a whole number)", field=what)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValidationError(
                f"{what}: {value!r} is not a day relative to the index date (a whole number; "
                "dates are never stored)",
                field=what,
            ) from None
    if abs(number) > 36_500:
        raise ValidationError(f"{what}: {number} days is more than a century away", field=what)
    return number


def _number(value: object, what: str, *, low: float = 0.0, high: float = math.inf) -> float | None:
    """A finite number within ``[low, high]``, or nothing."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{what}: {value!r} is not a number", field=what)
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"{what}: {value!r} is not a number", field=what) from None
    if not math.isfinite(number) or not low <= number <= high:
        bound = f"at least {low:g}" if math.isinf(high) else f"between {low:g} and {high:g}"
        raise ValidationError(f"{what}: {value!r} must be {bound}", field=what)
    return number


def _count(value: object, what: str) -> int | None:
    """A whole number of at least zero, or nothing."""
    number = _number(value, what)
    if number is None:
        return None
    if not number.is_integer():
        raise ValidationError(f"{what}: {value!r} is not a whole number", field=what)
    return int(number)


def _text(value: object, what: str, *, limit: int = 2000) -> str | None:
    if _blank(value):
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise ValidationError(f"{what}: longer than {limit} characters", field=what)
    return text


def _not_before(first: int | None, second: int | None, what: str, names: str) -> None:
    if first is not None and second is not None and second < first:
        raise ValidationError(f"{what}: {names} ({second} before {first})", field=what)


def _items(value: object, what: str) -> list[object]:
    if _blank(value):
        return []
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(";")) if part]
    if isinstance(value, Sequence):
        return list(value)
    raise ValidationError(f"{what}: expected a list, got {value!r}", field=what)


def _unknown_keys(data: Mapping[str, Any], kind: type, what: str) -> None:
    known = {f.name for f in fields(kind)}
    extra = sorted(set(data) - known)
    if extra:
        raise ValidationError(
            f"{what}: unknown field {extra[0]!r} (known: {', '.join(sorted(known))})",
            field=extra[0],
        )


def _records(value: object, what: str, parse: Callable[[Mapping[str, Any], str], T]) -> list[T]:
    if _blank(value):
        return []
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValidationError(f"{what}: expected a list of records", field=what)
    out = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            raise ValidationError(f"{what} {number}: expected a record", field=what)
        out.append(parse(item, f"{what} {number}"))
    return out


def _plain(value: object) -> object:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "as_json"):
        return value.as_json()
    return value


def _as_json(value: object) -> dict[str, Any]:
    return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}  # type: ignore[arg-type]


# --- the values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Histology:
    """One biopsy or autopsy: each component of the triad, and JC virus in the tissue."""

    kind: SpecimenKind
    day: int | None = None
    demyelination: Finding = Finding.NOT_ASSESSED
    bizarre_astrocytes: Finding = Finding.NOT_ASSESSED
    enlarged_oligodendroglial_nuclei: Finding = Finding.NOT_ASSESSED
    tissue_jcv: TissueJcv = TissueJcv.NOT_DONE
    techniques: tuple[TissueTechnique, ...] = ()
    """How JCV was looked for; required when ``tissue_jcv`` is detected or not detected."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kind", _enum(SpecimenKind, self.kind, "histopathology kind"))
        set_(self, "day", _day(self.day, "histopathology day"))
        for name in ("demyelination", "bizarre_astrocytes", "enlarged_oligodendroglial_nuclei"):
            set_(self, name, _enum(Finding, getattr(self, name), name.replace("_", " ")))
        set_(self, "tissue_jcv", _enum(TissueJcv, self.tissue_jcv, "tissue JCV"))
        techniques = tuple(
            _enum(TissueTechnique, t, "tissue JCV technique")
            for t in _items(self.techniques, "tissue JCV technique")
        )
        if len(set(techniques)) != len(techniques):
            raise ValidationError(
                "tissue JCV technique: a technique is listed twice", field="tissue JCV technique"
            )
        set_(self, "techniques", techniques)
        if self.tissue_jcv is TissueJcv.NOT_DONE and techniques:
            raise ValidationError(
                "tissue JCV technique: given, but tissue JCV is not done", field="tissue JCV"
            )
        if self.tissue_jcv is not TissueJcv.NOT_DONE and not techniques:
            raise ValidationError(
                f"tissue JCV technique: tissue JCV is {self.tissue_jcv.value}: say by which "
                f"technique ({', '.join(t.value for t in TissueTechnique)})",
                field="tissue JCV technique",
            )

    @property
    def components(self) -> tuple[Finding, Finding, Finding]:
        """Demyelination, bizarre astrocytes, enlarged oligodendroglial nuclei."""
        return (self.demyelination, self.bizarre_astrocytes, self.enlarged_oligodendroglial_nuclei)

    @property
    def triad(self) -> str:
        """The criteria engine's triad input: ``present``, ``incomplete``, ``absent`` or
        ``not_done`` (none of the components assessed)."""
        found = self.components
        if all(f is Finding.PRESENT for f in found):
            return "present"
        if any(f is Finding.PRESENT for f in found):
            return "incomplete"
        if all(f is Finding.NOT_ASSESSED for f in found):
            return "not_done"
        return "absent"

    @classmethod
    def from_json(cls, data: Mapping[str, Any], what: str = "histopathology") -> Histology:
        """Read one record from a plain mapping (strings accepted)."""
        _unknown_keys(data, cls, what)
        if _blank(data.get("kind")):
            raise ValidationError(f"{what}: kind is required (biopsy or autopsy)", field="kind")
        return _prefixed(what, lambda: cls(**data))

    def as_json(self) -> dict[str, Any]:
        """A plain mapping :meth:`from_json` reads back."""
        return _as_json(self)


@dataclass(frozen=True, slots=True)
class Treatment:
    """A treatment of PML (or a step to restore immunity), with its days."""

    kind: TreatmentKind
    detail: str | None = None
    """What exactly (drug, dose, sessions); required for ``other``."""
    start_day: int | None = None
    stop_day: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kind", _enum(TreatmentKind, self.kind, "treatment"))
        set_(self, "detail", _text(self.detail, "treatment detail", limit=200))
        set_(self, "start_day", _day(self.start_day, "treatment start day"))
        set_(self, "stop_day", _day(self.stop_day, "treatment stop day"))
        _not_before(self.start_day, self.stop_day, "treatment stop day", "stops before it starts")
        if self.kind is TreatmentKind.OTHER and self.detail is None:
            raise ValidationError(
                "treatment detail: say what the 'other' treatment was", field="treatment detail"
            )

    @classmethod
    def from_json(cls, data: Mapping[str, Any], what: str = "treatment") -> Treatment:
        """Read one record from a plain mapping (strings accepted)."""
        _unknown_keys(data, cls, what)
        return _prefixed(what, lambda: cls(**data))

    def as_json(self) -> dict[str, Any]:
        """A plain mapping :meth:`from_json` reads back."""
        return _as_json(self)


def validate_score(scale: Scale, value: float) -> float:
    """``value`` if it is a valid ``scale`` score, else a :class:`ValidationError`."""
    what = f"{scale.value.upper()} score"
    if scale is Scale.KPS:
        ok = 0 <= value <= 100 and value % 10 == 0
        rule = "0 to 100 in steps of 10"
    elif scale is Scale.MRS:
        ok = 0 <= value <= 6 and value.is_integer()
        rule = "a whole number from 0 to 6"
    else:
        ok = value == 0 or (1 <= value <= 10 and (value * 2).is_integer())
        rule = "0, or 1.0 to 10 in steps of 0.5"
    if not ok:
        raise ValidationError(f"{what}: {value:g} is not {rule}", field=what)
    return value


@dataclass(frozen=True, slots=True)
class Score:
    """One outcome score (KPS, mRS, EDSS) at one of the registry's time points."""

    scale: Scale
    time: ScoreTime
    value: float

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "scale", _enum(Scale, self.scale, "scale"))
        set_(self, "time", _enum(ScoreTime, self.time, "score time"))
        number = _number(self.value, f"{self.scale.value.upper()} score", high=100)
        if number is None:
            raise ValidationError("score: the value is missing", field="score")
        set_(self, "value", validate_score(self.scale, number))

    @classmethod
    def from_json(cls, data: Mapping[str, Any], what: str = "score") -> Score:
        """Read one record from a plain mapping (strings accepted)."""
        _unknown_keys(data, cls, what)
        return _prefixed(what, lambda: cls(**data))

    def as_json(self) -> dict[str, Any]:
        """A plain mapping :meth:`from_json` reads back."""
        return _as_json(self)


@dataclass(frozen=True, slots=True)
class ClinicalRecord:
    """A case's research clinical record; every field may be unknown (``None`` or empty).

    Exposures stay with the case (:class:`workbench.cases.NewExposure`, which carries the
    structured fields: class, schedule, last dose, prior immunosuppressant); the case's
    ``outcome`` and ``outcome_day`` say alive or dead and when; this record adds the rest.
    """

    diagnosis_year: int | None = None
    """Calendar year of the PML diagnosis (year only)."""
    onset_day: int | None = None
    """Day of the first PML symptom."""
    diagnosis_day: int | None = None
    detection_mode: DetectionMode = DetectionMode.UNKNOWN
    other_conditions: tuple[Condition, ...] = ()
    """Predisposing conditions besides the case's main ``condition``."""
    anti_jcv_index: float | None = None
    """Anti-JCV antibody index (serum), the last before PML, as a number."""
    anti_jcv_index_day: int | None = None
    lymphocytes: float | None = None
    """Absolute lymphocyte count at diagnosis, ×10⁹/L."""
    lymphocytes_day: int | None = None
    cd4_nadir: int | None = None
    """Lowest CD4+ count around PML, cells/µL."""
    cd4_nadir_day: int | None = None
    iris: YesNoUnknown = YesNoUnknown.UNKNOWN
    """PML immune reconstitution inflammatory syndrome."""
    iris_onset_day: int | None = None
    iris_treatment: str | None = None
    death_cause: DeathCause | None = None
    """Only for a case whose outcome is ``died``."""
    death_cause_detail: str | None = None
    histopathology: tuple[Histology, ...] = ()
    treatments: tuple[Treatment, ...] = ()
    scores: tuple[Score, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        year = _count(self.diagnosis_year, "diagnosis year")
        this_year = dt.datetime.now(dt.UTC).year
        if year is not None and not EARLIEST_DIAGNOSIS_YEAR <= year <= this_year:
            raise ValidationError(
                f"diagnosis year: {year} is not between {EARLIEST_DIAGNOSIS_YEAR} and {this_year}",
                field="diagnosis year",
            )
        set_(self, "diagnosis_year", year)
        for name in (
            "onset_day",
            "diagnosis_day",
            "anti_jcv_index_day",
            "lymphocytes_day",
            "cd4_nadir_day",
            "iris_onset_day",
        ):
            set_(self, name, _day(getattr(self, name), name.replace("_", " ")))
        _not_before(self.onset_day, self.diagnosis_day, "diagnosis day", "diagnosed before onset")
        set_(self, "detection_mode", _enum(DetectionMode, self.detection_mode, "detection mode"))
        conditions = tuple(
            _enum(Condition, c, "other conditions")
            for c in _items(self.other_conditions, "other conditions")
        )
        if len(set(conditions)) != len(conditions):
            raise ValidationError(
                "other conditions: a condition is listed twice", field="other conditions"
            )
        set_(self, "other_conditions", conditions)
        set_(self, "anti_jcv_index", _number(self.anti_jcv_index, "anti-JCV index", high=100))
        set_(self, "lymphocytes", _number(self.lymphocytes, "lymphocytes", high=1000))
        set_(self, "cd4_nadir", _count(self.cd4_nadir, "CD4 nadir"))
        if self.cd4_nadir is not None and self.cd4_nadir > 10_000:
            raise ValidationError(
                f"CD4 nadir: {self.cd4_nadir} cells/µL is not plausible", field="CD4 nadir"
            )
        set_(self, "iris", _enum(YesNoUnknown, self.iris, "IRIS"))
        set_(self, "iris_treatment", _text(self.iris_treatment, "IRIS treatment", limit=500))
        if self.iris is not YesNoUnknown.YES and (
            self.iris_onset_day is not None or self.iris_treatment
        ):
            raise ValidationError(
                f"IRIS: onset day or treatment given, but IRIS is {self.iris.value}", field="IRIS"
            )
        set_(self, "death_cause", _optional_enum(DeathCause, self.death_cause, "death cause"))
        set_(
            self,
            "death_cause_detail",
            _text(self.death_cause_detail, "death cause detail", limit=500),
        )
        if self.death_cause_detail and self.death_cause is None:
            raise ValidationError(
                "death cause: a detail is given without a cause", field="death cause"
            )
        set_(self, "histopathology", _tuple(self.histopathology, Histology, "histopathology"))
        set_(self, "treatments", _tuple(self.treatments, Treatment, "treatment"))
        scores = _tuple(self.scores, Score, "score")
        seen: set[tuple[Scale, ScoreTime]] = set()
        for score in scores:
            key = (score.scale, score.time)
            if key in seen:
                raise ValidationError(
                    f"score: {score.scale.value.upper()} at {score.time.value} is given twice",
                    field="score",
                )
            seen.add(key)
        set_(self, "scores", scores)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], what: str = "clinical record") -> ClinicalRecord:
        """Read the record from a plain mapping: lists of mappings for histopathology,
        treatments and scores, a list or a ``;``-separated string for other conditions."""
        _unknown_keys(data, cls, what)
        values = dict(data)
        values["histopathology"] = _records(
            data.get("histopathology"), "histopathology", Histology.from_json
        )
        values["treatments"] = _records(data.get("treatments"), "treatment", Treatment.from_json)
        values["scores"] = _records(data.get("scores"), "score", Score.from_json)
        return _prefixed(what, lambda: cls(**values))

    def as_json(self) -> dict[str, Any]:
        """A plain mapping :meth:`from_json` reads back."""
        return _as_json(self)

    def score(self, scale: Scale, time: ScoreTime) -> float | None:
        """The recorded score, or ``None``."""
        for score in self.scores:
            if score.scale is scale and score.time is time:
                return score.value
        return None


def _tuple(value: object, kind: type[T], what: str) -> tuple[T, ...]:
    items = tuple(value) if isinstance(value, (list, tuple)) else ()
    if value not in (None, ()) and not isinstance(value, (list, tuple)):
        raise ValidationError(f"{what}: expected a list", field=what)
    for item in items:
        if not isinstance(item, kind):
            raise ValidationError(f"{what}: {item!r} is not a {kind.__name__}", field=what)
    return items


def _prefixed(what: str, build: Callable[[], T]) -> T:
    """``build()``, with ``what`` put in front of a refusal's message."""
    try:
        return build()
    except TypeError as error:  # a required field is missing
        raise ValidationError(f"{what}: {error}", field=what) from None
    except ValidationError as error:
        if str(error).startswith(what):
            raise
        raise ValidationError(f"{what}: {error}", field=error.field) from None
