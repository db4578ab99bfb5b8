"""The research clinical record in the registry: stored, versioned, audited, migrated.

Every test runs on a SQLite file and on PostgreSQL (the ``registry`` fixture).
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select, text

from adjudication.vocabulary import Certainty, Pathway, Role, TriState
from workbench.cases import NewCase, NewExposure, create_case, get_case, update_case
from workbench.clinical import (
    ClinicalRecord,
    DeathCause,
    DetectionMode,
    DosingSchedule,
    DrugClass,
    Finding,
    Histology,
    Scale,
    Score,
    ScoreTime,
    SpecimenKind,
    TissueJcv,
    TissueTechnique,
    Treatment,
    TreatmentKind,
    YesNoUnknown,
)
from workbench.clinical_store import AUDIT_ACTION, load_record, save_record
from workbench.domain import Condition, Outcome, Sex
from workbench.errors import ConflictError, PermissionDeniedError, ValidationError
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Exposure, Histopathology
from workbench.services.clinical import CaseOutcome, clinical_record, set_clinical_record
from workbench.services.panel import engine_result
from workbench.users import Actor, add_user

BIOPSY = Histology(
    SpecimenKind.BIOPSY,
    day=12,
    demyelination=Finding.PRESENT,
    bizarre_astrocytes=Finding.PRESENT,
    enlarged_oligodendroglial_nuclei=Finding.PRESENT,
    tissue_jcv=TissueJcv.DETECTED,
    techniques=(TissueTechnique.IHC, TissueTechnique.PCR),
)
FULL = ClinicalRecord(
    diagnosis_year=2021,
    onset_day=-14,
    diagnosis_day=3,
    detection_mode=DetectionMode.SYMPTOMATIC,
    other_conditions=(Condition.TRANSPLANT, Condition.PRIMARY_IMMUNODEFICIENCY),
    anti_jcv_index=3.27,
    anti_jcv_index_day=-90,
    lymphocytes=0.45,
    lymphocytes_day=0,
    cd4_nadir=180,
    cd4_nadir_day=2,
    iris=YesNoUnknown.YES,
    iris_onset_day=45,
    iris_treatment="methylprednisolone 1 g for 5 days",
    death_cause=DeathCause.PML_IRIS,
    death_cause_detail="brainstem IRIS",
    histopathology=(
        Histology(SpecimenKind.AUTOPSY, day=None),
        BIOPSY,
    ),
    treatments=(
        Treatment(TreatmentKind.PLASMA_EXCHANGE, "5 sessions", 4, 10),
        Treatment(TreatmentKind.CHECKPOINT_INHIBITOR, "pembrolizumab", 20),
        Treatment(TreatmentKind.OTHER, "mefloquine trial", 6, 40),
    ),
    scores=(
        Score(Scale.EDSS, ScoreTime.BEFORE_PML, 3.5),
        Score(Scale.KPS, ScoreTime.DIAGNOSIS, 60),
        Score(Scale.MRS, ScoreTime.MONTH_6, 4),
    ),
)


def _case(registry: Registry, actor: Actor, registry_id: str = "PML-0001") -> None:
    with registry.write() as session:
        create_case(
            session,
            actor,
            NewCase(
                registry_id, "NL-AMS", Sex.FEMALE, "40-49", Condition.SOLID_NEOPLASM,
                clinical_consistent=TriState.PRESENT,
                exposures=(
                    NewExposure(
                        "natalizumab", -1100, -20, 37, DrugClass.ANTI_INTEGRIN,
                        DosingSchedule.EXTENDED_INTERVAL, -25,
                    ),
                    NewExposure("azathioprine", -3000, -1200, prior=True),
                ),
            ),
        )  # fmt: skip


def _events(registry: Registry, action: str = AUDIT_ACTION) -> list[AuditEvent]:
    with registry.read() as session:
        events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by("id"))
        )
        session.expunge_all()  # plain values after the session ends
        return events


def _version(registry: Registry, registry_id: str = "PML-0001") -> int:
    with registry.read() as session:
        return int(get_case(session, registry_id).version)


def test_a_full_record_round_trips_with_the_new_condition(
    registry: Registry, coordinator: Actor
) -> None:
    _case(registry, coordinator)  # the main condition is one of the new ones
    version = _version(registry)
    new_version = set_clinical_record(
        registry,
        coordinator,
        "PML-0001",
        FULL,
        reason=None,
        version=version,
        outcome=CaseOutcome(Outcome.DIED, 130),
    )
    assert new_version > version
    view = clinical_record(registry, coordinator, "PML-0001")
    assert view.record == FULL
    assert (view.outcome, view.outcome_day, view.version) == (Outcome.DIED, 130, new_version)
    assert view.exists
    assert view.edit_refusal is None
    with registry.read() as session:
        case = get_case(session, "PML-0001")
        # The engine's columns are written from the components.
        rows = [(h.kind, h.triad, h.tissue_jcv, h.techniques) for h in case.histopathology]
        assert rows == [
            (SpecimenKind.AUTOPSY, "not_done", "not_done", []),
            (SpecimenKind.BIOPSY, "present", "detected", ["ihc", "pcr"]),
        ]
        exposures = [
            (e.drug, e.drug_class, e.dosing_schedule, e.last_dose_day, e.prior)
            for e in case.exposures
        ]
    assert exposures == [
        ("azathioprine", DrugClass.UNKNOWN, DosingSchedule.UNKNOWN, None, True),
        ("natalizumab", DrugClass.ANTI_INTEGRIN, DosingSchedule.EXTENDED_INTERVAL, -25, False),
    ]
    # Replacing it with a shorter record leaves nothing of the old lists behind.
    shorter = dataclasses.replace(
        FULL,
        other_conditions=(Condition.PRIMARY_IMMUNODEFICIENCY, Condition.TRANSPLANT),
        histopathology=(BIOPSY,),
        treatments=(),
        scores=(Score(Scale.KPS, ScoreTime.DIAGNOSIS, 70),),
    )
    set_clinical_record(
        registry, coordinator, "PML-0001", shorter, reason="autopsy entered twice", version=None
    )
    assert clinical_record(registry, coordinator, "PML-0001").record == shorter
    with registry.read() as session:
        assert session.scalar(select(func.count()).select_from(Histopathology)) == 1


def test_the_audit_event_has_before_after_and_reason(
    registry: Registry, coordinator: Actor
) -> None:
    _case(registry, coordinator)
    first = ClinicalRecord(diagnosis_year=2020, iris=YesNoUnknown.NO)
    set_clinical_record(registry, coordinator, "PML-0001", first, reason=None, version=None)
    second = dataclasses.replace(first, histopathology=(BIOPSY,))
    set_clinical_record(
        registry, coordinator, "PML-0001", second, reason="biopsy report arrived", version=None
    )
    events = _events(registry)
    assert [(e.before, e.after, e.reason) for e in events] == [
        (None, first.as_json(), None),
        (first.as_json(), second.as_json(), "biopsy report arrived"),
    ]
    assert {(e.actor, e.entity_type, e.entity_id) for e in events} == {
        ("coordinator", "case", "PML-0001")
    }
    # Saving the same record again changes nothing and records nothing.
    version = _version(registry)
    assert (
        set_clinical_record(registry, coordinator, "PML-0001", second, reason="x", version=None)
        == version
    )
    assert len(_events(registry)) == 2


def test_a_stale_save_is_refused_and_writes_nothing(registry: Registry, coordinator: Actor) -> None:
    _case(registry, coordinator)
    opened = _version(registry)
    with registry.write() as session:  # someone else changes the case meanwhile
        update_case(session, coordinator, "PML-0001", opened, {"age_band": "50-59"})
    with pytest.raises(ConflictError, match="changed by someone else"):
        set_clinical_record(registry, coordinator, "PML-0001", FULL, reason=None, version=opened)
    assert clinical_record(registry, coordinator, "PML-0001").exists is False
    assert _events(registry) == []


@pytest.mark.postgres
def test_racing_saves_of_the_same_version_lose_nothing_silently(postgres_url: str) -> None:
    """Two saves from the same version inside the data layer: the later one is refused by
    the case's version counter, not written over the first. (On SQLite writers queue: the
    second cannot even begin while the first is open.)"""
    from tests.actors import actor_of

    registry = Registry.open(postgres_url)
    coordinator = actor_of(registry, "coordinator")
    _case(registry, coordinator)
    first = ClinicalRecord(diagnosis_year=2019)
    with (  # noqa: PT012 (the stale flush happens inside the block)
        pytest.raises(ConflictError),
        registry.write() as late,
    ):
        late_case = get_case(late, "PML-0001")
        with registry.write() as early:
            save_record(early, coordinator, get_case(early, "PML-0001"), first, reason=None)
        save_record(late, coordinator, late_case, ClinicalRecord(diagnosis_year=2018), reason=None)
    assert clinical_record(registry, coordinator, "PML-0001").record == first
    registry.close()


def test_changing_a_record_needs_a_reason(registry: Registry, coordinator: Actor) -> None:
    _case(registry, coordinator)
    set_clinical_record(registry, coordinator, "PML-0001", FULL, reason=None, version=None,
                        outcome=CaseOutcome(Outcome.DIED, 130))  # fmt: skip
    version = _version(registry)
    changed = dataclasses.replace(FULL, cd4_nadir=150)
    for reason in (None, "   "):
        with pytest.raises(ValidationError, match="needs a reason") as refused:
            set_clinical_record(
                registry, coordinator, "PML-0001", changed, reason=reason, version=version
            )
        assert refused.value.field == "reason"
    with registry.write() as session, pytest.raises(ValidationError, match="needs a reason"):
        save_record(session, coordinator, get_case(session, "PML-0001"), changed, reason=None)
    assert clinical_record(registry, coordinator, "PML-0001").record == FULL
    assert _version(registry) == version


def test_a_reader_may_read_but_not_write(registry: Registry, coordinator: Actor) -> None:
    _case(registry, coordinator)
    with registry.write() as session:
        add_user(session, "reader1", "Reader One", {Role.READER}, by=coordinator)
    reader = Actor("reader1", "Reader One", frozenset({Role.READER}))
    with pytest.raises(PermissionDeniedError, match="may not change cases"):
        set_clinical_record(registry, reader, "PML-0001", FULL, reason=None, version=None)
    with (
        registry.write() as session,
        pytest.raises(PermissionDeniedError, match="may not change cases"),
    ):
        save_record(session, reader, get_case(session, "PML-0001"), FULL, reason=None)
    view = clinical_record(registry, reader, "PML-0001")
    assert view.exists is False
    assert "coordinator or admin" in (view.edit_refusal or "")
    assert _events(registry) == []


def test_a_death_cause_needs_the_outcome_died(registry: Registry, coordinator: Actor) -> None:
    _case(registry, coordinator)
    with pytest.raises(ValidationError, match="outcome is unknown, not died") as refused:
        set_clinical_record(registry, coordinator, "PML-0001", FULL, reason=None, version=None)
    assert refused.value.field == "death cause"
    assert clinical_record(registry, coordinator, "PML-0001").exists is False
    assert _events(registry, "case.outcome") == []


def test_the_histopathologic_pathway_classifies_a_biopsied_case(
    registry: Registry, coordinator: Actor
) -> None:
    """End to end: a biopsy with the triad and JCV in tissue makes the case definite PML by
    the histopathologic pathway, through the service that computes a case's criteria."""
    _case(registry, coordinator)
    before = engine_result(registry, coordinator, "PML-0001").result
    assert before.pathway is not Pathway.HISTOPATHOLOGIC
    # An earlier biopsy without JCV is outranked by the later one (latest by day).
    earlier = dataclasses.replace(BIOPSY, day=2, tissue_jcv=TissueJcv.NOT_DONE, techniques=())
    record = ClinicalRecord(histopathology=(BIOPSY, earlier))
    set_clinical_record(registry, coordinator, "PML-0001", record, reason=None, version=None)
    engine = engine_result(registry, coordinator, "PML-0001")
    assert engine.result.certainty is Certainty.DEFINITE
    assert engine.result.pathway is Pathway.HISTOPATHOLOGIC
    assert any(
        "biopsy (day 12), triad present, tissue JCV detected by IHC, PCR" in line
        for line in engine.derivation
    )


def test_the_case_snapshot_carries_the_record_and_the_exposures_fields(
    registry: Registry, coordinator: Actor
) -> None:
    from workbench.services.cases import case_record

    _case(registry, coordinator)
    shown = case_record(registry, coordinator, "PML-0001")
    assert shown["clinical_record"] is None
    assert shown["exposures"] == [
        ["azathioprine", -3000, -1200, None, {"prior": True}],
        [
            "natalizumab", -1100, -20, 37,
            {"class": "anti_integrin", "schedule": "extended_interval", "last_dose_day": -25},
        ],
    ]  # fmt: skip
    record = ClinicalRecord(onset_day=-5)
    set_clinical_record(registry, coordinator, "PML-0001", record, reason=None, version=None)
    assert case_record(registry, coordinator, "PML-0001")["clinical_record"] == record.as_json()


def test_the_new_conditions_pass_the_database_check_and_bad_values_do_not(
    registry: Registry, coordinator: Actor
) -> None:
    _case(registry, coordinator)
    with registry.write() as session:
        for condition in ("primary_immunodeficiency", "non_ms_inflammatory"):
            session.execute(text("UPDATE cases SET condition = :c"), {"c": condition})
    for statement in (
        "UPDATE cases SET condition = 'nonsense'",
        "UPDATE exposures SET drug_class = 'nonsense'",
        "UPDATE histopathology SET demyelination = 'maybe'",
    ):
        if "histopathology" in statement:
            set_clinical_record(
                registry, coordinator, "PML-0001", ClinicalRecord(histopathology=(BIOPSY,)),
                reason=None, version=None,
            )  # fmt: skip
        with pytest.raises(Exception, match=r"(?i)check"), registry.write() as session:
            session.execute(text(statement))


def _registry_at_0006_with_histopathology(url: str) -> None:
    """A registry at revision 0006 with a case, an exposure and three biopsy rows."""
    from alembic import command

    from workbench.registry.db import _alembic_config, create_registry_engine

    engine = create_registry_engine(url)
    with engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0006")
        conn.commit()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, version) VALUES (1, 'S', 'S', 1)"))
        conn.execute(
            text(
                "INSERT INTO cases (id, registry_id, site_id, sex, age_band, condition, "
                "index_event, clinical_consistent, outcome, status, readers_required, "
                "created_at, updated_at, version) VALUES (1, 'PML-1', 1, 'male', '20-29', "
                "'hiv', 'x', 'present', 'unknown', 'ready', 2, :at, :at, 1)"
            ),
            {"at": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO exposures (id, case_id, drug, start_day, version) "
                "VALUES (1, 1, 'rituximab', -400, 1)"
            )
        )
        for row_id, day, triad, tissue, method in (
            (1, 3, "present", "detected", "SV40 immunohistochemistry and PCR"),
            (2, 5, "absent", "not_detected", "in situ hybridisation"),
            (3, 1, "incomplete", "not_done", None),
        ):
            conn.execute(
                text(
                    "INSERT INTO histopathology (id, case_id, day, triad, tissue_jcv, method, "
                    "version) VALUES (:id, 1, :day, :triad, :tissue, :method, 1)"
                ),
                {"id": row_id, "day": day, "triad": triad, "tissue": tissue, "method": method},
            )
    engine.dispose()


def test_upgrading_backfills_old_histopathology_and_keeps_the_data(registry_url: str) -> None:
    from tests.actors import AUDITOR

    _registry_at_0006_with_histopathology(registry_url)
    registry = Registry.open(registry_url)
    try:
        with registry.read() as session:
            exposure = session.scalars(select(Exposure)).one()
            assert (exposure.drug, exposure.start_day) == ("rituximab", -400)
            assert (exposure.drug_class, exposure.dosing_schedule, exposure.prior) == (
                DrugClass.UNKNOWN,
                DosingSchedule.UNKNOWN,
                False,
            )
            case = get_case(session, "PML-1")
            assert (case.registry_id, case.version) == ("PML-1", 1)
            record = load_record(case)
        assert record.histopathology == (
            Histology(
                SpecimenKind.BIOPSY, 3, Finding.PRESENT, Finding.PRESENT, Finding.PRESENT,
                TissueJcv.DETECTED, (TissueTechnique.IHC, TissueTechnique.PCR),
            ),
            Histology(
                SpecimenKind.BIOPSY, 5, Finding.ABSENT, Finding.ABSENT, Finding.ABSENT,
                TissueJcv.NOT_DETECTED, (TissueTechnique.ISH,),
            ),
            Histology(SpecimenKind.BIOPSY, 1),
        )  # fmt: skip
        # The engine still reads the latest biopsy (day 5: triad absent, JCV not detected).
        engine = engine_result(registry, AUDITOR, "PML-1")
        assert any("triad absent, tissue JCV not_detected" in n for n in engine.derivation)
    finally:
        registry.close()
