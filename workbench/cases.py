"""Cases: creating them, listing them for the queue, and changing them safely.

Everything here works on a session the caller opened (``registry.read()`` or
``registry.write()``) so that a window and a command share one behaviour. Input is validated
into frozen values first (:class:`NewCase`), so a refused case writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from adjudication.vocabulary import TriState
from workbench.clinical import DosingSchedule, DrugClass
from workbench.domain import CaseStatus, Condition, LabTest, Outcome, Sex, coerce_enum
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.policy import Action, require
from workbench.registry import audit
from workbench.registry.models import (
    Case,
    ClinicalFeature,
    Exposure,
    ImagingStudy,
    LabResult,
    Site,
)
from workbench.users import Actor

REGISTRY_ID_PATTERN = re.compile(r"^PML-[A-Z0-9][A-Z0-9-]{0,27}$")
SITE_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
AGE_BAND_PATTERN = re.compile(r"^(\d{1,3})-(\d{1,3})$|^(\d{1,3})\+$")


MAX_READERS = 5
"""Most readers a case may require."""


def validate_age_band(value: str) -> str:
    """An age band such as ``40-49`` or ``80+``; ages are banded, never exact."""
    match = AGE_BAND_PATTERN.match(value.strip())
    if not match:
        raise ValidationError(
            f"age band: {value!r} is not a band like '40-49' or '80+'", field="age band"
        )
    if match.group(1) is not None and int(match.group(1)) >= int(match.group(2)):
        raise ValidationError(
            f"age band: {value!r} must go from a lower to a higher age", field="age band"
        )
    return value.strip()


@dataclass(frozen=True, slots=True)
class NewExposure:
    """A drug exposure as entered; days are relative to the case's index date.

    ``prior`` marks an earlier immunosuppressant (before the drug the case is about), which
    is a risk factor of its own; ``last_dose_day`` is the last dose before PML.
    """

    drug: str
    start_day: int | None = None
    stop_day: int | None = None
    infusion_count: int | None = None
    drug_class: DrugClass = DrugClass.UNKNOWN
    dosing_schedule: DosingSchedule = DosingSchedule.UNKNOWN
    last_dose_day: int | None = None
    prior: bool = False

    def __post_init__(self) -> None:
        if not self.drug.strip():
            raise ValidationError("exposure: the drug name is empty", field="exposure")
        object.__setattr__(
            self,
            "drug_class",
            coerce_enum(DrugClass, self.drug_class, f"exposure {self.drug} class"),
        )
        object.__setattr__(
            self,
            "dosing_schedule",
            coerce_enum(DosingSchedule, self.dosing_schedule, f"exposure {self.drug} schedule"),
        )
        if (
            self.last_dose_day is not None
            and self.start_day is not None
            and self.last_dose_day < self.start_day
        ):
            raise ValidationError(
                f"exposure {self.drug}: last dose day {self.last_dose_day} is before start day "
                f"{self.start_day}",
                field="exposure",
            )
        if (
            self.start_day is not None
            and self.stop_day is not None
            and self.stop_day < self.start_day
        ):
            raise ValidationError(
                f"exposure {self.drug}: stop day {self.stop_day} is before start day "
                f"{self.start_day}",
                field="exposure",
            )
        if self.infusion_count is not None and self.infusion_count < 0:
            raise ValidationError(
                f"exposure {self.drug}: infusion count must not be negative", field="exposure"
            )


@dataclass(frozen=True, slots=True)
class NewFeature:
    """A clinical feature as entered."""

    feature: str
    status: TriState
    onset_day: int | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if not self.feature.strip():
            raise ValidationError("clinical feature: the name is empty", field="clinical feature")
        object.__setattr__(
            self, "status", coerce_enum(TriState, self.status, f"clinical feature {self.feature}")
        )


@dataclass(frozen=True, slots=True)
class NewCase:
    """A case as a coordinator enters it, validated on construction."""

    registry_id: str
    site_code: str
    sex: Sex
    age_band: str
    condition: Condition
    condition_detail: str | None = None
    clinical_summary: str | None = None
    clinical_consistent: TriState = TriState.NOT_ASSESSED
    index_event: str = "first MRI suggestive of PML"
    exposures: tuple[NewExposure, ...] = ()
    clinical_features: tuple[NewFeature, ...] = ()
    readers_required: int = 2

    def __post_init__(self) -> None:
        if not REGISTRY_ID_PATTERN.match(self.registry_id):
            raise ValidationError(
                f"registry id: {self.registry_id!r} is not a pseudonymous id like 'PML-0042' "
                "(PML- then capital letters, digits and '-')",
                field="registry id",
            )
        if not SITE_CODE_PATTERN.match(self.site_code):
            raise ValidationError(
                f"site: {self.site_code!r} is not a site code (capital letters, digits, '-')",
                field="site",
            )
        object.__setattr__(self, "sex", coerce_enum(Sex, self.sex, "sex"))
        object.__setattr__(self, "condition", coerce_enum(Condition, self.condition, "condition"))
        object.__setattr__(
            self,
            "clinical_consistent",
            coerce_enum(TriState, self.clinical_consistent, "clinical features consistent"),
        )
        object.__setattr__(self, "age_band", validate_age_band(self.age_band))
        if not 1 <= self.readers_required <= MAX_READERS:
            raise ValidationError(
                f"readers required: must be between 1 and {MAX_READERS}",
                field="readers required",
            )


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One row of the case list."""

    id: int
    registry_id: str
    site: str
    condition: Condition
    status: CaseStatus
    timepoints: int
    series: int
    lab_results: int
    version: int
    criteria_flag: str | None = None
    """Set when ``reclassify`` found that the criteria no longer give the final decision
    (what they give now); shown only to those who may re-classify."""

    def as_json(self) -> dict[str, Any]:
        """The row as the command line's ``--json`` prints it."""
        return {
            "registry_id": self.registry_id,
            "site": self.site,
            "condition": self.condition.value,
            "timepoints": self.timepoints,
            "series": self.series,
            "lab_results": self.lab_results,
            "status": self.status.value,
            "criteria_flag": self.criteria_flag,
        }


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """What the case list is narrowed to; ``None`` means any."""

    status: CaseStatus | None = None
    site: str | None = None
    condition: Condition | None = None
    text: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def ensure_site(session: Session, code: str, name: str | None = None) -> Site:
    """The site of that code, created on first use."""
    site = session.scalars(select(Site).where(Site.code == code)).first()
    if site is None:
        site = Site(code=code, name=name or code)
        session.add(site)
        session.flush()
    return site


def create_case(session: Session, actor: Actor, new: NewCase) -> Case:
    """Store a new case with its exposures and clinical features, and audit it."""
    require(actor, Action.CREATE_CASE)
    if session.scalars(select(Case.id).where(Case.registry_id == new.registry_id)).first():
        raise ValidationError(f"registry id: {new.registry_id} exists already", field="registry id")
    site = ensure_site(session, new.site_code)
    case = Case(
        registry_id=new.registry_id,
        site=site,
        sex=new.sex,
        age_band=new.age_band,
        condition=new.condition,
        condition_detail=new.condition_detail,
        clinical_summary=new.clinical_summary,
        clinical_consistent=new.clinical_consistent,
        index_event=new.index_event,
        readers_required=new.readers_required,
        status=CaseStatus.INCOMPLETE,
        exposures=[_exposure(e) for e in new.exposures],
        clinical_features=[_feature(f) for f in new.clinical_features],
    )
    session.add(case)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="case.create",
        entity_type="case",
        entity_id=case.registry_id,
        after=case_snapshot(case),
    )
    return case


def _exposure(new: NewExposure) -> Exposure:
    return Exposure(
        drug=new.drug.strip(),
        start_day=new.start_day,
        stop_day=new.stop_day,
        infusion_count=new.infusion_count,
        drug_class=new.drug_class,
        dosing_schedule=new.dosing_schedule,
        last_dose_day=new.last_dose_day,
        prior=new.prior,
    )


def exposure_value(exposure: Exposure) -> NewExposure:
    """A stored exposure as the value it was entered as."""
    return NewExposure(
        drug=exposure.drug,
        start_day=exposure.start_day,
        stop_day=exposure.stop_day,
        infusion_count=exposure.infusion_count,
        drug_class=exposure.drug_class,
        dosing_schedule=exposure.dosing_schedule,
        last_dose_day=exposure.last_dose_day,
        prior=bool(exposure.prior),
    )


def _structured(exposure: Exposure) -> dict[str, Any]:
    """An exposure's structured fields that are known (class, schedule, last dose, prior)."""
    known: dict[str, Any] = {}
    if exposure.drug_class is not DrugClass.UNKNOWN:
        known["class"] = exposure.drug_class.value
    if exposure.dosing_schedule is not DosingSchedule.UNKNOWN:
        known["schedule"] = exposure.dosing_schedule.value
    if exposure.last_dose_day is not None:
        known["last_dose_day"] = exposure.last_dose_day
    if exposure.prior:
        known["prior"] = True
    return known


def _feature(new: NewFeature) -> ClinicalFeature:
    return ClinicalFeature(
        feature=new.feature.strip(), status=new.status, onset_day=new.onset_day, note=new.note
    )


def case_snapshot(case: Case) -> dict[str, Any]:
    """The audited fields of a case.

    An exposure is ``[drug, start, stop, infusions]``, followed by a mapping of its known
    structured fields (class, schedule, last dose day, prior) when it has any; the research
    clinical record is ``clinical_record`` (``ClinicalRecord.as_json()``, ``None`` without one).
    """
    from workbench.clinical_store import record_snapshot

    return {
        "registry_id": case.registry_id,
        "site": case.site.code,
        "sex": case.sex.value,
        "age_band": case.age_band,
        "condition": case.condition.value,
        "condition_detail": case.condition_detail,
        "clinical_summary": case.clinical_summary,
        "index_event": case.index_event,
        "readers_required": case.readers_required,
        "clinical_consistent": case.clinical_consistent.value,
        "status": case.status.value,
        "exposures": [
            [e.drug, e.start_day, e.stop_day, e.infusion_count, *filter(None, [_structured(e)])]
            for e in case.exposures
        ],
        "clinical_features": [
            [f.feature, f.status.value, f.onset_day, *([f.note] if f.note else [])]
            for f in case.clinical_features
        ],
        "clinical_record": record_snapshot(case),
    }


def get_case(session: Session, registry_id: str) -> Case:
    """The case with everything its page shows loaded, or :class:`NotFoundError`."""
    case = session.scalars(
        select(Case)
        .where(Case.registry_id == registry_id)
        .options(
            selectinload(Case.exposures),
            selectinload(Case.clinical_features),
            selectinload(Case.lab_results),
            selectinload(Case.histopathology),
            selectinload(Case.clinical_record),
            selectinload(Case.other_conditions),
            selectinload(Case.treatments),
            selectinload(Case.outcome_scores),
            selectinload(Case.studies).selectinload(ImagingStudy.series),
        )
    ).first()
    if case is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    return case


_EDITABLE = {
    "sex",
    "age_band",
    "condition",
    "condition_detail",
    "clinical_summary",
    "clinical_consistent",
    "outcome",
    "outcome_day",
    "status",
    "readers_required",
    "index_event",
    "exposures",
    "clinical_features",
}


def update_case(
    session: Session,
    actor: Actor,
    registry_id: str,
    expected_version: int,
    changes: Mapping[str, Any],
    *,
    reason: str | None = None,
) -> Case:
    """Change fields of a case that the caller read at ``expected_version``.

    Raises :class:`ConflictError` when someone saved the case since (nothing is written),
    :class:`ValidationError` for an unknown field or a bad value.
    """
    require(actor, Action.EDIT_CASE)
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise ValidationError(f"case {registry_id}: cannot change {', '.join(sorted(unknown))}")
    case = get_case(session, registry_id)
    if case.version != expected_version:
        raise ConflictError(
            f"case {registry_id} was changed by someone else since you opened it (version "
            f"{expected_version}, now {case.version}); nothing was saved. Reload it and apply "
            "your change again."
        )
    before = case_snapshot(case)
    coercers: dict[str, Any] = {
        "sex": lambda v: coerce_enum(Sex, v, "sex"),
        "condition": lambda v: coerce_enum(Condition, v, "condition"),
        "clinical_consistent": lambda v: coerce_enum(TriState, v, "clinical features consistent"),
        "outcome": lambda v: coerce_enum(Outcome, v, "outcome"),
        "status": lambda v: coerce_enum(CaseStatus, v, "status"),
        "age_band": validate_age_band,
    }
    for name, value in changes.items():
        if name == "exposures":
            case.exposures = [_exposure(e) for e in value]
        elif name == "clinical_features":
            case.clinical_features = [_feature(f) for f in value]
        else:
            setattr(case, name, coercers.get(name, lambda v: v)(value))
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="case.update",
        entity_type="case",
        entity_id=registry_id,
        before=before,
        after=case_snapshot(case),
        reason=reason,
    )
    return case


def list_cases(
    session: Session, where: CaseFilter | None = None, actor: Actor | None = None
) -> list[CaseSummary]:
    """The whole case list with its counts, ordered by registry id.

    With ``actor``, statuses are as that person may see them (see
    :mod:`workbench.case_list`, which pages the same list for the window); without, as stored.
    """
    from workbench.case_list import CaseListQuery, list_page  # it builds on this module

    page = list_page(session, actor, CaseListQuery(where or CaseFilter()), limit=None, counts=False)
    return list(page.rows)


def sites(session: Session) -> list[str]:
    """All site codes, sorted."""
    return list(session.scalars(select(Site.code).order_by(Site.code)))


def lab_tests_of(case: Case, test: LabTest) -> list[LabResult]:
    """A case's results of one test, by day."""
    return [r for r in case.lab_results if r.test == test]


EXPOSURE_SYNTAX = (
    "DRUG[:START[:STOP[:INFUSIONS]]][,class=CLASS][,schedule=SCHEDULE][,last=DAY][,prior]"
)
"""The command line's exposure: days relative to the index date, then the structured fields
(:class:`~workbench.clinical.DrugClass`, :class:`~workbench.clinical.DosingSchedule`, the last
dose's day, ``prior`` for an earlier immunosuppressant)."""


def parse_exposure(text: str) -> NewExposure:
    """An exposure in :data:`EXPOSURE_SYNTAX`, as the command line takes it (empty parts
    allowed)."""
    head, *options = text.split(",")
    extra: dict[str, Any] = {}
    for option in options:
        key, sep, value = (part.strip() for part in option.partition("="))
        name = {"class": "drug_class", "schedule": "dosing_schedule", "last": "last_dose_day"}
        if key == "prior" and (not sep or value.lower() in {"yes", "true", "1"}):
            extra["prior"] = True
        elif key == "prior" and value.lower() in {"no", "false", "0"}:
            extra["prior"] = False
        elif key in name and sep and value:
            if key == "last":
                try:
                    extra[name[key]] = int(value)
                except ValueError:
                    raise ValidationError(
                        f"exposure {text!r}: last dose day {value!r} is not a whole number",
                        field="exposure",
                    ) from None
            else:
                extra[name[key]] = value.lower()
        else:
            raise ValidationError(
                f"exposure {text!r}: {option.strip()!r} is not one of class=CLASS, "
                "schedule=SCHEDULE, last=DAY, prior",
                field="exposure",
            )
    parts = head.split(":")
    if len(parts) > 4:
        raise ValidationError(f"exposure {text!r}: expected {EXPOSURE_SYNTAX}", field="exposure")
    numbers: list[int | None] = []
    for label, part in zip(("start day", "stop day", "infusion count"), parts[1:], strict=False):
        try:
            numbers.append(int(part) if part.strip() else None)
        except ValueError:
            raise ValidationError(
                f"exposure {text!r}: {label} {part!r} is not a whole number", field="exposure"
            ) from None
    numbers += [None] * (3 - len(numbers))
    return NewExposure(parts[0], numbers[0], numbers[1], numbers[2], **extra)


def parse_feature(text: str) -> NewFeature:
    """``NAME=present|absent|not_assessed[@DAY]`` as the command line takes it."""
    name, sep, rest = text.partition("=")
    if not sep:
        raise ValidationError(
            f"clinical feature {text!r}: expected NAME=STATUS[@DAY]", field="clinical feature"
        )
    status, _, day = rest.partition("@")
    try:
        onset = int(day) if day.strip() else None
    except ValueError:
        raise ValidationError(
            f"clinical feature {text!r}: day {day!r} is not a whole number",
            field="clinical feature",
        ) from None
    state = (
        coerce_enum(TriState, status, f"clinical feature {name}")
        if status
        else TriState.NOT_ASSESSED
    )
    return NewFeature(name, state, onset)


def count_by_status(session: Session) -> dict[CaseStatus, int]:
    """How many cases stand at each status."""
    rows = session.execute(select(Case.status, func.count()).group_by(Case.status))
    return {CaseStatus(status): int(n) for status, n in rows}


def iter_registry_ids(session: Session) -> Iterable[str]:
    """All registry ids, sorted."""
    return session.scalars(select(Case.registry_id).order_by(Case.registry_id))
