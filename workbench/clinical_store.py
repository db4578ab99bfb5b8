"""Storing a case's research clinical record (:class:`workbench.clinical.ClinicalRecord`).

The record lives in ``clinical_records`` (single values), ``case_conditions``,
``histopathology``, ``treatments`` and ``outcome_scores`` (lists, in the order entered). It is
read and written as a whole: :func:`load_record` builds the validated value from the rows,
:func:`save_record` replaces them in the caller's transaction, so a window, the command line
and a site package's intake (which calls it inside its own transaction, after creating the
case) share one behaviour.

A save moves the case's version counter (the record has none of its own): two people who
opened the same case at the same version cannot both save, the second is refused
(:class:`~workbench.errors.ConflictError` from the service's check, or from the database's
``WHERE version = ...`` when the saves race), and nothing of theirs is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from workbench.clinical import (
    ClinicalRecord,
    Histology,
    Score,
    TissueTechnique,
    Treatment,
)
from workbench.errors import ValidationError
from workbench.policy import Action, require
from workbench.registry import audit
from workbench.registry.models import (
    Case,
    CaseCondition,
    ClinicalRecordRow,
    Histopathology,
    OutcomeScore,
    TreatmentRow,
    utcnow,
)
from workbench.users import Actor

AUDIT_ACTION = "case.clinical_record"
"""The audit event of a saved clinical record (before and after as ``as_json()``)."""


def has_record(case: Case) -> bool:
    """Whether anything of the case's clinical record was ever stored."""
    return bool(
        case.clinical_record is not None
        or case.other_conditions
        or case.histopathology
        or case.treatments
        or case.outcome_scores
    )


def _histology(row: Histopathology) -> Histology:
    return Histology(
        kind=row.kind,
        day=row.day,
        demyelination=row.demyelination,
        bizarre_astrocytes=row.bizarre_astrocytes,
        enlarged_oligodendroglial_nuclei=row.enlarged_oligodendroglial_nuclei,
        tissue_jcv=row.tissue_jcv,  # type: ignore[arg-type]  # coerced by Histology
        techniques=tuple(TissueTechnique(t) for t in row.techniques or ()),
    )


def load_record(case: Case) -> ClinicalRecord:
    """The clinical record of ``case`` (its collections must be loadable in its session).

    A case without one gives the empty record, every field unknown.
    """
    row = case.clinical_record
    single: dict[str, Any] = {}
    if row is not None:
        single = {
            "diagnosis_year": row.diagnosis_year,
            "onset_day": row.onset_day,
            "diagnosis_day": row.diagnosis_day,
            "detection_mode": row.detection_mode,
            "anti_jcv_index": row.anti_jcv_index,
            "anti_jcv_index_day": row.anti_jcv_index_day,
            "lymphocytes": row.lymphocytes,
            "lymphocytes_day": row.lymphocytes_day,
            "cd4_nadir": row.cd4_nadir,
            "cd4_nadir_day": row.cd4_nadir_day,
            "iris": row.iris,
            "iris_onset_day": row.iris_onset_day,
            "iris_treatment": row.iris_treatment,
            "death_cause": row.death_cause,
            "death_cause_detail": row.death_cause_detail,
        }
    return ClinicalRecord(
        **single,
        other_conditions=tuple(c.condition for c in case.other_conditions),
        histopathology=tuple(_histology(h) for h in case.histopathology),
        treatments=tuple(
            Treatment(t.kind, t.detail, t.start_day, t.stop_day) for t in case.treatments
        ),
        scores=tuple(Score(s.scale, s.time, s.value) for s in case.outcome_scores),
    )


def latest_histology(record: ClinicalRecord) -> Histology | None:
    """The record's latest biopsy or autopsy by day (one without a day counts as earliest;
    among equal days the one entered last), or ``None``."""
    if not record.histopathology:
        return None
    ordered = sorted(
        enumerate(record.histopathology),
        key=lambda item: (item[1].day is not None, item[1].day or 0, item[0]),
    )
    return ordered[-1][1]


def check_record_against_case(case: Case, record: ClinicalRecord) -> None:
    """Refuse a record that contradicts the case it is saved on."""
    if record.death_cause is not None and case.outcome.value != "died":
        raise ValidationError(
            f"death cause: the case's outcome is {case.outcome.value.replace('_', ' ')}, not "
            "died (change the outcome first)",
            field="death cause",
        )
    if case.condition in record.other_conditions:
        raise ValidationError(
            f"other conditions: {case.condition.value} is already the case's main condition",
            field="other conditions",
        )


def save_record(
    session: Session,
    actor: Actor,
    case: Case,
    record: ClinicalRecord,
    *,
    reason: str | None,
) -> None:
    """Replace the clinical record of ``case`` with ``record``, audited, in the caller's
    transaction.

    Needs the permission to change cases (:data:`~workbench.policy.Action.EDIT_CASE`).
    Changing a record that exists needs a ``reason`` (a first record, e.g. from a site
    package, does not). Records one ``case.clinical_record`` event with the record before
    and after, and moves the case's version. Saving the record it already holds writes
    nothing.
    """
    require(actor, Action.EDIT_CASE)
    check_record_against_case(case, record)
    existed = has_record(case)
    before = load_record(case)
    if before == record and (existed or record == ClinicalRecord()):
        return  # nothing to change (or nothing to store)
    text = (reason or "").strip() or None
    if existed and text is None:
        raise ValidationError(
            f"case {case.registry_id}: a change to its clinical record needs a reason",
            field="reason",
        )
    # The case first: its UPDATE ... WHERE version = <read> refuses a save that raced ours
    # before any row of the record is touched.
    case.updated_at = utcnow()
    session.flush()
    # Old list rows go in one flush, new ones in the next: replacing (case, position) or
    # (case, scale, time) keys in one flush would update rows in place, against the
    # uniqueness of (case, condition).
    case.other_conditions = []
    case.histopathology = []
    case.treatments = []
    case.outcome_scores = []
    session.flush()
    _write(case, record)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action=AUDIT_ACTION,
        entity_type="case",
        entity_id=case.registry_id,
        before=before.as_json() if existed else None,
        after=record.as_json(),
        reason=text,
    )


def _write(case: Case, record: ClinicalRecord) -> None:
    row = case.clinical_record
    if row is None:
        row = ClinicalRecordRow()
        case.clinical_record = row
    row.diagnosis_year = record.diagnosis_year
    row.onset_day = record.onset_day
    row.diagnosis_day = record.diagnosis_day
    row.detection_mode = record.detection_mode
    row.anti_jcv_index = record.anti_jcv_index
    row.anti_jcv_index_day = record.anti_jcv_index_day
    row.lymphocytes = record.lymphocytes
    row.lymphocytes_day = record.lymphocytes_day
    row.cd4_nadir = record.cd4_nadir
    row.cd4_nadir_day = record.cd4_nadir_day
    row.iris = record.iris
    row.iris_onset_day = record.iris_onset_day
    row.iris_treatment = record.iris_treatment
    row.death_cause = record.death_cause
    row.death_cause_detail = record.death_cause_detail
    case.other_conditions = [
        CaseCondition(position=n, condition=c) for n, c in enumerate(record.other_conditions)
    ]
    case.histopathology = [
        Histopathology(
            position=n,
            day=h.day,
            kind=h.kind,
            demyelination=h.demyelination,
            bizarre_astrocytes=h.bizarre_astrocytes,
            enlarged_oligodendroglial_nuclei=h.enlarged_oligodendroglial_nuclei,
            techniques=[t.value for t in h.techniques],
            triad=h.triad,
            tissue_jcv=h.tissue_jcv.value,
            method=", ".join(t.value for t in h.techniques) or None,
        )
        for n, h in enumerate(record.histopathology)
    ]
    case.treatments = [
        TreatmentRow(
            position=n, kind=t.kind, detail=t.detail, start_day=t.start_day, stop_day=t.stop_day
        )
        for n, t in enumerate(record.treatments)
    ]
    case.outcome_scores = [
        OutcomeScore(position=n, scale=s.scale, time=s.time, value=s.value)
        for n, s in enumerate(record.scores)
    ]


def record_snapshot(case: Case) -> dict[str, Any] | None:
    """The clinical record as the case's audited snapshot carries it (``None`` without one)."""
    return load_record(case).as_json() if has_record(case) else None
