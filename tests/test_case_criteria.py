"""The criteria engine fed from registry cases, and 'reclassify'."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adjudication.vocabulary import Certainty, ImagingJudgement, Role, TriState
from tests.actors import AUDITOR
from workbench.case_criteria import case_inputs, reclassify
from workbench.cases import NewCase, NewFeature, create_case, get_case
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, Sex
from workbench.errors import PermissionDeniedError
from workbench.labs import LabEntry, add_lab_result
from workbench.reading_flow import assign
from workbench.reads import save_draft, start_or_resume_draft, submit_read
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import Case, Decision, User
from workbench.users import Actor, add_user, resolve_actor


def _case(registry: Registry, actor: Actor, *, pcr: LabQualitative | None) -> None:
    with registry.write() as session:
        create_case(
            session,
            actor,
            NewCase(
                "PML-0001", "NL-AMS", Sex.FEMALE, "40-49", Condition.MS_NATALIZUMAB,
                clinical_consistent=TriState.PRESENT,
                clinical_features=(NewFeature("hemiparesis", TriState.PRESENT, -10),),
            ),
        )  # fmt: skip
        if pcr is not None:
            add_lab_result(
                session,
                actor,
                LabEntry(
                    "PML-0001", LabTest.CSF_JCV_PCR, 4, pcr, unit="copies/mL",
                    assay="local PCR", lod=200,
                ),
            )  # fmt: skip


def _submitted_read(registry: Registry, coordinator: Actor, judgement: ImagingJudgement) -> None:
    with registry.write() as session:
        add_user(session, "rad1", "Dr Reader", {Role.READER}, by=coordinator)
        case = session.scalars(select(Case).where(Case.registry_id == "PML-0001")).one()
        case.status, case.readers_required = CaseStatus.READY, 1
        assign(session, coordinator, "PML-0001", ["rad1"], Role.READER)
    with registry.write() as session:
        reader = resolve_actor(session, "rad1")
        read = start_or_resume_draft(session, reader, "PML-0001")
        read = save_draft(session, reader, read.id, read.version, lesions=[], judgement=judgement)
        submit_read(session, reader, read.id, read.version)


def test_inputs_come_from_the_case(registry: Registry, coordinator: Actor) -> None:
    _case(registry, coordinator, pcr=LabQualitative.NOT_DETECTED)
    with registry.read() as session:
        derived = case_inputs(session, AUDITOR, get_case(session, "PML-0001"))
    assert derived.inputs.clinical_features == TriState.PRESENT
    assert derived.inputs.imaging_findings == TriState.NOT_ASSESSED
    assert derived.inputs.csf_jcv_pcr.value == "not_detected"
    assert derived.inputs.pcr_lod_copies_per_ml == 200
    assert derived.inputs.pcr_days_after_onset == 14
    assert any("LOD 200 copies/mL" in note for note in derived.derivation)


def test_reclassify_reports_a_decision_the_criteria_no_longer_give(
    registry: Registry, coordinator: Actor
) -> None:
    _case(registry, coordinator, pcr=LabQualitative.DETECTED_BELOW_LOQ)
    _submitted_read(registry, coordinator, ImagingJudgement.YES)
    with registry.read() as session:
        (row,) = reclassify(session, coordinator)
    assert row.result.certainty == Certainty.DEFINITE  # below the LOQ still counts as detected
    assert row.decided is None
    assert not row.changes
    with registry.write() as session:
        case = session.scalars(select(Case)).one()
        panel_member = session.scalars(select(User).where(User.username == "coordinator")).one()
        decision = Decision(
            case_id=case.id,
            certainty=Certainty.PROBABLE,
            engine_version="AAN2013/1",
            is_final=True,
            created_by_id=panel_member.id,
        )
        session.add(decision)
        session.flush()
        audit.record(  # the registry refuses a new decision without its audit event
            session,
            actor=panel_member.username,
            role="panel",
            action="adjudication.final",
            entity_type="adjudication",
            entity_id=decision.id,
        )
    with registry.read() as session:
        (row,) = reclassify(session, coordinator)
    assert row.decided == Certainty.PROBABLE
    assert row.changes


@pytest.mark.parametrize(
    ("judgement", "expected"),
    [(ImagingJudgement.NO, TriState.ABSENT), (ImagingJudgement.EQUIVOCAL, TriState.NOT_ASSESSED)],
)
def test_imaging_comes_from_submitted_reads(
    registry: Registry, coordinator: Actor, judgement: ImagingJudgement, expected: TriState
) -> None:
    _case(registry, coordinator, pcr=None)
    _submitted_read(registry, coordinator, judgement)
    with registry.read() as session:
        derived = case_inputs(session, AUDITOR, get_case(session, "PML-0001"))
    assert derived.inputs.imaging_findings == expected
    assert derived.inputs.csf_jcv_pcr.value == "not_done"


def test_reclassify_command_on_the_demo(capsys: pytest.CaptureFixture[str], demo_registry) -> None:
    from tests.signin import login
    from workbench.cli import main
    from workbench.demo.build import DEMO_PASSWORD

    registry, _ = demo_registry
    login(registry.url, "tester", DEMO_PASSWORD)
    assert main(["--db", registry.url, "reclassify"]) == 0
    out = capsys.readouterr().out
    assert "10 case(s): 1 would change category, 7 without a final decision yet" in out


def test_imaging_stays_blinded_until_every_assigned_read_is_in(
    registry: Registry, coordinator: Actor
) -> None:
    _case(registry, coordinator, pcr=None)
    _submitted_read(registry, coordinator, ImagingJudgement.YES)
    with registry.write() as session:
        add_user(session, "rad2", "Dr Second", {Role.READER}, by=coordinator)
        assign(session, coordinator, "PML-0001", ["rad2"], Role.READER)
    with registry.read() as session:
        derived = case_inputs(session, AUDITOR, get_case(session, "PML-0001"))
    assert derived.inputs.imaging_findings == TriState.NOT_ASSESSED
    assert "imaging: waiting for the reads (1 of 2 assigned submitted)" in derived.derivation


def test_reclassify_is_for_coordinators(registry: Registry, coordinator: Actor) -> None:
    _case(registry, coordinator, pcr=None)
    _submitted_read(registry, coordinator, ImagingJudgement.YES)
    with registry.read() as session:
        reader = resolve_actor(session, "rad1")
        with pytest.raises(PermissionDeniedError, match="re-classify the registry"):
            reclassify(session, reader)
