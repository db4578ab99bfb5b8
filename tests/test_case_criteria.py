"""The criteria engine fed from registry cases, and 'reclassify'."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from adjudication.criteria import evaluate
from adjudication.vocabulary import Certainty, ImagingJudgement, Role, TriState
from tests.actors import AUDITOR
from tests.signin import TEST_PASSWORD, login
from workbench.case_criteria import case_inputs, reclassify
from workbench.case_list import CaseListQuery, list_page
from workbench.cases import NewCase, NewFeature, create_case, get_case
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, Sex
from workbench.errors import PermissionDeniedError
from workbench.labs import LabEntry, add_lab_result
from workbench.reading_flow import assign
from workbench.reads import save_draft, start_or_resume_draft, submit_read
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, Decision, User
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
    with registry.write() as session:
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
    with registry.write() as session:
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
    with registry.write() as session:
        reader = resolve_actor(session, "rad1")
        with pytest.raises(PermissionDeniedError, match="re-classify the registry"):
            reclassify(session, reader)


def _add_pcr(registry: Registry, actor: Actor, entry: LabEntry) -> None:
    with registry.write() as session:
        add_lab_result(session, actor, entry)


def test_a_later_negative_pcr_does_not_undo_a_positive(
    registry: Registry, coordinator: Actor
) -> None:
    """Day 4 detected, day 120 not detected (after plasma exchange): still detected."""
    _case(registry, coordinator, pcr=LabQualitative.DETECTED)
    late = LabEntry(
        "PML-0001", LabTest.CSF_JCV_PCR, 120, LabQualitative.NOT_DETECTED, unit="copies/mL",
        assay="local PCR", lod=10,
    )  # fmt: skip
    _add_pcr(registry, coordinator, late)
    with registry.read() as session:
        derived = case_inputs(session, AUDITOR, get_case(session, "PML-0001"))
    assert derived.inputs.csf_jcv_pcr.value == "detected"
    assert derived.inputs.pcr_days_after_onset == 14  # from the deciding result, day 4
    (note,) = [n for n in derived.derivation if n.startswith("CSF JCV PCR")]
    assert "decided by day 4 detected" in note
    assert "the latest, day 120 not_detected" in note
    assert "does not undo it" in note


def test_only_negative_pcrs_give_the_latest_negative(
    registry: Registry, coordinator: Actor
) -> None:
    _case(registry, coordinator, pcr=LabQualitative.NOT_DETECTED)
    later = LabEntry(
        "PML-0001", LabTest.CSF_JCV_PCR, 30, LabQualitative.NOT_DETECTED, unit="IU/mL",
        assay="WHO-calibrated PCR", lod=25,
    )  # fmt: skip
    _add_pcr(registry, coordinator, later)
    with registry.read() as session:
        derived = case_inputs(session, AUDITOR, get_case(session, "PML-0001"))
    assert derived.inputs.csf_jcv_pcr.value == "not_detected"
    # The LOD in IU/mL is recorded in its own unit, not dropped as "not recorded".
    assert derived.inputs.pcr_lod_iu_per_ml == 25
    assert derived.inputs.pcr_lod_copies_per_ml is None
    assert any("day 30 not_detected" in n and "latest of 2" in n for n in derived.derivation)
    result = evaluate(derived.inputs)
    assert not any("not recorded" in w for w in result.warnings)


def test_a_positive_below_the_loq_is_flagged_as_a_low_positive(
    registry: Registry, coordinator: Actor
) -> None:
    _case(registry, coordinator, pcr=LabQualitative.DETECTED_BELOW_LOQ)
    with registry.read() as session:
        derived = case_inputs(session, AUDITOR, get_case(session, "PML-0001"))
    assert derived.inputs.csf_jcv_pcr.value == "detected"
    assert derived.inputs.pcr_below_loq
    assert any("low positive" in w for w in evaluate(derived.inputs).warnings)


def _final_decision(
    registry: Registry, certainty: Certainty, imaging: ImagingJudgement | None = None
) -> None:
    with registry.write() as session:
        case = session.scalars(select(Case)).one()
        member = session.scalars(select(User).where(User.username == "coordinator")).one()
        decision = Decision(
            case_id=case.id,
            certainty=certainty,
            engine_version="AAN2013/1",
            is_final=True,
            created_by_id=member.id,
            panel_imaging=imaging,
        )
        session.add(decision)
        session.flush()
        audit.record(
            session, actor=member.username, role="panel", action="adjudication.final",
            entity_type="adjudication", entity_id=decision.id,
        )  # fmt: skip


def _flag(registry: Registry, actor: Actor) -> str | None:
    with registry.read() as session:
        (row,) = list_page(session, actor, CaseListQuery()).rows
    return row.criteria_flag


def test_reclassify_flags_audits_and_clears(registry: Registry, coordinator: Actor) -> None:
    _case(registry, coordinator, pcr=LabQualitative.DETECTED)
    _submitted_read(registry, coordinator, ImagingJudgement.YES)  # engine: definite
    _final_decision(registry, Certainty.PROBABLE)
    assert _flag(registry, coordinator) is None  # not yet re-classified
    with registry.write() as session:
        panel_member = add_user(session, "neuro1", "Dr Panel", {Role.PANEL}, by=coordinator)
        assign(session, coordinator, "PML-0001", ["neuro1"], Role.PANEL)
    with registry.write() as session:
        member = resolve_actor(session, panel_member.username)
        (row,) = reclassify(session, member)  # panel members may run it (issue #13)
    assert row.changes
    flag = _flag(registry, coordinator)
    assert flag == "the criteria now give definite, not the final decision (probable)"
    with registry.read() as session:
        reader = resolve_actor(session, "rad1")
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "registry.reclassify")
        ).one()
        assert event.actor == "neuro1"
        assert event.role == "panel"
        assert event.after is not None
        assert event.after["no_longer_given"] == ["PML-0001"]
        assert event.after["cases"] == 1
    assert _flag(registry, reader) is None  # a reader does not see the panel's decision
    _final_decision(registry, Certainty.DEFINITE)  # the panel revises its decision
    with registry.write() as session:
        (row,) = reclassify(session, coordinator)
    assert not row.changes
    assert _flag(registry, coordinator) is None
    with registry.read() as session:
        found = [
            e.after["no_longer_given"] if e.after else None
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "registry.reclassify")
                .order_by(AuditEvent.id)
            )
        ]
    assert found == [["PML-0001"], []]


def test_cases_command_marks_a_flagged_case(
    registry: Registry, coordinator: Actor, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cases` shows what reclassify found, in its table and its JSON."""
    _case(registry, coordinator, pcr=LabQualitative.DETECTED)
    _submitted_read(registry, coordinator, ImagingJudgement.YES)
    _final_decision(registry, Certainty.PROBABLE)
    with registry.write() as session:
        add_user(
            session, "coord2", "Second Coordinator", {Role.COORDINATOR},
            by=coordinator, password=TEST_PASSWORD,
        )  # fmt: skip
    login(registry.url, "coord2")
    from workbench.cli import main

    assert main(["--db", registry.url, "cases"]) == 0
    assert "!" not in capsys.readouterr().out
    with registry.write() as session:
        reclassify(session, coordinator)
    assert main(["--db", registry.url, "cases"]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("PML-0001 ")]
    assert line.rstrip().endswith(" !")
    assert "PML-0001: the criteria now give definite, not the final decision (probable)" in out
    assert main(["--db", registry.url, "cases", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["criteria_flag"].startswith("the criteria now give definite")


def test_the_panels_imaging_judgement_replaces_the_readers(
    registry: Registry, coordinator: Actor
) -> None:
    """The reads say yes, the panel said no and decided not PML: not flagged for ever."""
    _case(registry, coordinator, pcr=LabQualitative.NOT_DETECTED)
    _submitted_read(registry, coordinator, ImagingJudgement.YES)
    _final_decision(registry, Certainty.NOT_PML)
    with registry.write() as session:
        (row,) = reclassify(session, coordinator)
    assert row.result.certainty == Certainty.POSSIBLE  # the readers' judgement
    assert row.changes
    _final_decision(registry, Certainty.NOT_PML, imaging=ImagingJudgement.NO)
    with registry.write() as session:
        (row,) = reclassify(session, coordinator)
        derived = case_inputs(session, AUDITOR, get_case(session, "PML-0001"))
    assert derived.inputs.imaging_findings == TriState.ABSENT
    assert any("the panel's own judgement" in n for n in derived.derivation)
    assert row.result.certainty == Certainty.NOT_PML
    assert not row.changes
    assert _flag(registry, coordinator) is None


def test_panel_imaging_takes_only_the_judgement_vocabulary(
    registry: Registry, coordinator: Actor
) -> None:
    _case(registry, coordinator, pcr=None)
    _final_decision(registry, Certainty.NOT_PML, imaging=ImagingJudgement.NO)
    bad = text("UPDATE adjudications SET panel_imaging = 'maybe'")

    def write_it() -> None:
        with registry.engine.begin() as connection:
            connection.execute(bad)

    with pytest.raises(IntegrityError):
        write_it()
