"""The panel on a real registry: decisions, rationale, signatures, changes, corrections."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from adjudication.consensus import Proposal
from adjudication.criteria import RULESET_VERSION
from adjudication.discordance import DiscordanceRules
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway, ReadStatus, Role
from tests.actors import AUDITOR
from tests.test_reads import CASE, SHAPE_IJK, Setup, _setup
from tests.test_review_flow import sandbox  # noqa: F401 - the module-scoped parser fixture
from workbench.case_criteria import case_inputs
from workbench.domain import CaseStatus
from workbench.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from workbench.importer import ParserSandbox
from workbench.panel import (
    DecisionState,
    SignatureRefusedError,
    case_history,
    decisions_of_case,
    engine_now,
    final_decision,
    propose_decision,
    sign_decision,
)
from workbench.reading_flow import assign, reads_of_case, start_correction, submit
from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import Case, Decision, Read
from workbench.review_config import ReviewConfig
from workbench.services.panel import sign
from workbench.users import Actor, add_user, resolve_actor

CONFIG = ReviewConfig(
    discordance=DiscordanceRules(min_lesion_ml=0.01, volume_fraction=0.5, min_dice=0.5),
    signatures_required=2,
)
PASSWORD = {"panel1": "first-secret", "panel2": "second-secret"}


@dataclass(frozen=True)
class Panel:
    s: Setup
    panel1: Actor
    panel2: Actor
    outsider: Actor

    @property
    def registry(self) -> Registry:
        return self.s.registry


@pytest.fixture
def panel(registry: Registry, tmp_path: Path, sandbox: ParserSandbox) -> Panel:  # noqa: F811
    """Case PML-0001 with one series, readers 1 and 2 and panel members 1 and 2 assigned."""
    s = _setup(registry, tmp_path, sandbox, assign_readers=False)
    with registry.write() as session:
        add_user(session, "reader3", "Reader Three", {Role.READER}, by=s.coordinator)
        for name, printed in (("panel1", "Dr Panel One"), ("panel2", "Dr Panel Two")):
            add_user(
                session, name, printed, {Role.PANEL}, by=s.coordinator, password=PASSWORD[name]
            )
        session.scalars(
            select(Case).where(Case.registry_id == CASE)
        ).one().status = CaseStatus.READY
        assign(session, s.coordinator, CASE, ["reader1", "reader2"], Role.READER)
        assign(session, s.coordinator, CASE, ["panel1", "panel2"], Role.PANEL)
        actors = [resolve_actor(session, n) for n in ("panel1", "panel2", "reader3")]
    return Panel(s, *actors)


def _box(lo: tuple[int, int, int], hi: tuple[int, int, int]) -> np.ndarray:
    labels = np.zeros(SHAPE_IJK, dtype=np.uint8)
    labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = 1
    return labels


def _read(p: Panel, actor: Actor, judgement: ImagingJudgement) -> int:
    with p.registry.write() as session:
        read = start_or_resume_draft(session, actor, CASE)
        read = save_draft(
            session,
            actor,
            read.id,
            read.version,
            lesions=[LesionDraft(p.s.series_id, _box((2, 3, 1), (6, 7, 4)))],
            judgement=judgement,
        )
        read, _ = submit(session, actor, read.id, read.version, config=CONFIG)
        return read.id


def _status(registry: Registry) -> CaseStatus:
    with registry.read() as session:
        return session.scalars(select(Case.status).where(Case.registry_id == CASE)).one()


def _propose(p: Panel, actor: Actor, proposal: Proposal, **kwargs: object) -> int:
    with p.registry.write() as session:
        return propose_decision(session, actor, CASE, proposal, **kwargs).id  # type: ignore[arg-type]


def _sign(p: Panel, actor: Actor, decision_id: int, password: str | None = None) -> None:
    with p.registry.write() as session:
        sign_decision(
            session, actor, decision_id, password or PASSWORD[actor.username], config=CONFIG
        )


def _decisions(p: Panel, actor: Actor | None = None) -> list:
    with p.registry.read() as session:
        return decisions_of_case(session, actor or p.s.coordinator, CASE, CONFIG)


def _discordant_case(p: Panel) -> None:
    _read(p, p.s.reader, ImagingJudgement.YES)
    assert _status(p.registry) is CaseStatus.IN_READING
    _read(p, p.s.other_reader, ImagingJudgement.EQUIVOCAL)
    assert _status(p.registry) is CaseStatus.DISCORDANT


PROBABLE = Proposal(Certainty.PROBABLE, Pathway.CLINICAL, "Both readers see a typical lesion.")


def test_submitting_the_last_read_assesses_discordance_with_the_configured_rules(
    panel: Panel,
) -> None:
    _read(panel, panel.s.reader, ImagingJudgement.YES)
    _read(panel, panel.s.other_reader, ImagingJudgement.YES)
    assert _status(panel.registry) is CaseStatus.IN_ADJUDICATION
    with panel.registry.read() as session:
        (history,) = [
            e
            for e in case_history(session, panel.s.coordinator, CASE)
            if e.action == "case.discordance"
        ]
    assert history.after is not None
    assert history.after["rules"]["min_lesion_ml"] == 0.01  # from the configuration


def test_a_discordant_case_is_decided_with_a_rationale_and_two_signatures(panel: Panel) -> None:
    p = panel
    _discordant_case(p)
    bare = Proposal(Certainty.NOT_CLASSIFIABLE, None)
    with pytest.raises(ValidationError, match=r"rationale: required because .*discordant"):
        _propose(p, p.panel1, bare)
    with p.registry.read() as session:
        assert session.scalars(select(Decision)).first() is None  # nothing written

    decision_id = _propose(
        p, p.panel1, Proposal(Certainty.NOT_CLASSIFIABLE, None, "Reads disagree; need PCR.")
    )
    with pytest.raises(PermissionDeniedError, match=r"password .* does not match"):
        _sign(p, p.panel1, decision_id, password="wrong")
    _sign(p, p.panel1, decision_id)
    (pending,) = _decisions(p)
    assert pending.state is DecisionState.PENDING
    assert [s.printed_name for s in pending.signatures] == ["Dr Panel One"]
    assert pending.signatures[0].meaning == "approved as the registry's final decision"
    assert _status(p.registry) is CaseStatus.DISCORDANT  # one of two signatures
    with pytest.raises(ValidationError, match="signed it already"):
        _sign(p, p.panel1, decision_id)

    _sign(p, p.panel2, decision_id)
    assert _status(p.registry) is CaseStatus.FINAL
    with p.registry.read() as session:
        final = final_decision(session, CASE)
        assert final is not None
        assert final.id == decision_id
        assert final.is_final
        assert final.engine_version == RULESET_VERSION
        assert final.engine_result["certainty"] == "not_classifiable"
        assert final.engine_result["discordant"] is True
        assert audit.verify(session) is None
        actions = [e.action for e in case_history(session, p.s.coordinator, CASE)]
    assert actions[-4:] == [
        "adjudication.proposed",
        "adjudication.signed",
        "adjudication.signed",
        "adjudication.final",
    ]


def test_a_decision_against_the_engine_needs_a_rationale(panel: Panel) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    _read(p, p.s.other_reader, ImagingJudgement.YES)
    # Clinical features not assessed, imaging present, PCR not done: the engine says so.
    with pytest.raises(ValidationError, match="differs from the criteria engine"):
        _propose(p, p.panel1, Proposal(Certainty.PROBABLE, Pathway.CLINICAL))
    with pytest.raises(ValidationError, match="pathway"):
        _propose(p, p.panel1, Proposal(Certainty.PROBABLE, None, "Typical imaging, see notes."))
    _propose(p, p.panel1, PROBABLE)
    (decision,) = _decisions(p)
    assert decision.differs_from_engine
    assert decision.rationale == PROBABLE.rationale


def test_only_the_cases_panel_decides_and_only_once_every_read_is_in(panel: Panel) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    with pytest.raises(PermissionDeniedError, match="reads are still outstanding"):
        _propose(p, p.panel1, PROBABLE)
    _read(p, p.s.other_reader, ImagingJudgement.YES)
    with p.registry.write() as session:
        add_user(session, "panel3", "Dr Three", {Role.PANEL}, by=p.s.coordinator, password="x")
        outsider_panel = resolve_actor(session, "panel3")
    with pytest.raises(PermissionDeniedError, match="not on its panel"):
        _propose(p, outsider_panel, PROBABLE)
    with p.registry.read() as session, pytest.raises(PermissionDeniedError, match="may not"):
        reads_of_case(session, outsider_panel, CASE)  # another case's panel sees no reads
    with p.registry.read() as session:
        assert len(reads_of_case(session, p.panel1, CASE)) == 2
    with pytest.raises(PermissionDeniedError, match="needs the panel role"):
        _propose(p, p.s.reader, PROBABLE)
    decision_id = _propose(p, p.panel1, PROBABLE)
    with pytest.raises(PermissionDeniedError, match="not on its panel"):
        _sign(p, outsider_panel, decision_id, password="x")


def test_a_new_proposal_replaces_a_pending_one_and_keeps_its_signatures(panel: Panel) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    _read(p, p.s.other_reader, ImagingJudgement.YES)
    first = _propose(p, p.panel1, PROBABLE)
    _sign(p, p.panel1, first)
    with pytest.raises(ConflictError, match="another panel member proposed"):
        _propose(p, p.panel2, PROBABLE)  # panel2 did not see panel1's proposal
    second = _propose(
        p, p.panel2, Proposal(Certainty.POSSIBLE, Pathway.CLINICAL, "No PCR yet."), replaces=first
    )
    with pytest.raises(ValidationError, match="is replaced, not pending"):
        _sign(p, p.panel2, first)
    old, new = _decisions(p)
    assert (old.state, new.state) == (DecisionState.REPLACED, DecisionState.PENDING)
    assert [s.username for s in old.signatures] == ["panel1"]  # kept on record
    assert new.supersedes_id == first
    assert new.id == second


def test_changing_a_final_decision_needs_a_reason_and_new_signatures(panel: Panel) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    _read(p, p.s.other_reader, ImagingJudgement.YES)
    first = _propose(p, p.panel1, PROBABLE)
    _sign(p, p.panel1, first)
    _sign(p, p.panel2, first)
    assert _status(p.registry) is CaseStatus.FINAL
    definite = Proposal(Certainty.DEFINITE, Pathway.CLINICAL, "CSF PCR came back positive.")
    with pytest.raises(ValidationError, match="changing a final decision needs a reason"):
        _propose(p, p.panel2, definite)
    change = _propose(p, p.panel2, definite, change_reason="New CSF PCR result: detected.")
    _sign(p, p.panel2, change)
    with p.registry.read() as session:
        in_force = final_decision(session, CASE)
        assert in_force is not None
        assert in_force.id == first
    _sign(p, p.panel1, change)
    old, new = _decisions(p)
    assert (old.state, new.state) == (DecisionState.SUPERSEDED, DecisionState.FINAL)
    assert len(old.signatures) == 2  # the old decision stays visible with its signatures
    assert new.change_reason == "New CSF PCR result: detected."
    with p.registry.read() as session:
        in_force = final_decision(session, CASE)
        assert in_force is not None
        assert in_force.id == change
        assert audit.verify(session) is None


def test_decisions_are_blinded_from_readers_who_have_not_submitted(panel: Panel) -> None:
    p = panel
    _discordant_case(p)
    _propose(p, p.panel1, Proposal(Certainty.NOT_CLASSIFIABLE, None, "Readers disagree here."))
    assert len(_decisions(p, p.s.reader)) == 1  # submitted: may see the panel's work
    with pytest.raises(
        PermissionDeniedError, match="may not see the discordance and the panel's decisions"
    ):
        _decisions(p, p.outsider)
    with p.registry.write() as session:
        assign(session, p.s.coordinator, CASE, ["reader3"], Role.READER)
    with pytest.raises(PermissionDeniedError, match="before submitting their own read"):
        _decisions(p, p.outsider)
    with p.registry.read() as session:
        events = case_history(session, p.outsider, CASE)
    # Nor is the added reader told, through the status history, what the others found.
    assert not [e for e in events if (e.after or {}).get("status") == "discordant"]
    assert not [e for e in events if e.entity.startswith("adjudication")]
    assert not [e for e in events if e.action == "case.discordance"]
    assert not [e for e in events if e.entity.startswith("read")]  # others' reads are hidden


def test_history_shows_a_coordinator_only_the_status_of_reads_before_all_are_in(
    panel: Panel,
) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    with p.registry.read() as session:
        events = [
            e for e in case_history(session, p.s.coordinator, CASE) if e.entity.startswith("read")
        ]
    assert events
    for event in events:
        for values in (event.before, event.after):
            assert values is None or set(values) <= {"status"}
    with p.registry.read() as session:
        own = [e for e in case_history(session, p.s.reader, CASE) if e.action == "read.submitted"]
    assert own[0].after is not None
    assert own[0].after["imaging_judgement"] == "yes"


def test_a_correction_is_a_new_version_with_a_reason_and_reassesses_the_case(
    panel: Panel,
) -> None:
    p = panel
    first = _read(p, p.s.reader, ImagingJudgement.YES)
    _read(p, p.s.other_reader, ImagingJudgement.EQUIVOCAL)
    assert _status(p.registry) is CaseStatus.DISCORDANT
    with p.registry.write() as session, pytest.raises(ValidationError, match="needs a reason"):
        start_correction(session, p.s.reader, first, "")
    with p.registry.write() as session, pytest.raises(PermissionDeniedError, match="another"):
        start_correction(session, p.s.other_reader, first, "Not mine to correct at all.")
    with p.registry.write() as session:
        draft = start_correction(session, p.s.reader, first, "Misread the DWI; it is equivocal.")
        assert draft.revision == 2
        assert draft.supersedes_id == first
        assert len(draft.lesions) == 1  # starts as a copy of the submitted read
        draft = save_draft(
            session,
            p.s.reader,
            draft.id,
            draft.version,
            lesions=[LesionDraft(p.s.series_id, _box((2, 3, 1), (6, 7, 4)))],
            judgement=ImagingJudgement.EQUIVOCAL,
        )
        draft_id, version = draft.id, draft.version
    assert _status(p.registry) is CaseStatus.DISCORDANT  # the submitted read is still in force
    with p.registry.write() as session:
        submit(session, p.s.reader, draft_id, version, config=CONFIG)
    with p.registry.read() as session:
        original = session.get(Read, first)
        assert original is not None
        assert original.status is ReadStatus.SUPERSEDED
        corrected = session.get(Read, draft_id)
        assert corrected is not None
        assert corrected.correction_reason
    assert _status(p.registry) is CaseStatus.IN_ADJUDICATION  # now both say equivocal


def test_a_refused_signature_is_audited_and_signs_nothing(panel: Panel) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    _read(p, p.s.other_reader, ImagingJudgement.YES)
    decision_id = _propose(p, p.panel1, PROBABLE)
    with pytest.raises(SignatureRefusedError, match="does not match"):
        sign(p.registry, p.panel1, decision_id, "guess", config=CONFIG)
    sign(p.registry, p.panel2, decision_id, PASSWORD["panel2"], config=CONFIG)
    (decision,) = _decisions(p)
    assert [s.username for s in decision.signatures] == ["panel2"]
    with p.registry.read() as session:
        actions = [(e.actor, e.action) for e in case_history(session, p.s.coordinator, CASE)]
        assert audit.verify(session) is None
    assert actions[-2:] == [
        ("panel1", "adjudication.signature_refused"),
        ("panel2", "adjudication.signed"),
    ]


def test_a_proposal_is_weighed_with_its_own_alternative_diagnosis(panel: Panel) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    _read(p, p.s.other_reader, ImagingJudgement.YES)
    with p.registry.read() as session:
        before = engine_now(session, p.s.coordinator, CASE)
    assert before.result.certainty is not Certainty.NOT_PML
    assert before.result.warnings or before.derivation  # inputs are explained
    assert any("lesion volume" in line for line in before.derivation)
    alternative = Proposal(Certainty.NOT_PML, None, "Pattern fits HIV encephalopathy.", "HIVE")
    decision_id = _propose(p, p.panel1, alternative)
    (decision,) = _decisions(p)
    assert decision.id == decision_id
    assert decision.engine_certainty is Certainty.NOT_PML  # the override, with the finding
    assert not decision.differs_from_engine
    assert any("named in this proposal" in line for line in decision.engine_result["inputs_from"])
    with p.registry.read() as session:
        # Not yet final: the case's own inputs do not take the pending finding.
        case = session.scalars(select(Case).where(Case.registry_id == CASE)).one()
        assert not case_inputs(session, AUDITOR, case).inputs.alternative_diagnosis


def test_wrong_signing_passwords_slow_down_that_source_only(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrong passwords slow further attempts from the same workstation at the same account;
    nobody can lock a colleague out, and every refusal is recorded."""
    import datetime as dt

    from sqlalchemy import func

    from workbench import auth
    from workbench.registry.models import AuditEvent, AuthFailure, utcnow

    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    _read(p, p.s.other_reader, ImagingJudgement.YES)
    decision_id = _propose(p, p.panel1, PROBABLE)
    here, there = "mallory@ws-1", "panel1@ws-2"
    for _ in range(auth.FREE_ATTEMPTS):
        with pytest.raises(SignatureRefusedError):
            sign(p.registry, p.panel1, decision_id, "guess", config=CONFIG, source=here)
    # The next attempt from there is not even checked, right password or not...
    with pytest.raises(auth.TooManyAttemptsError, match="try again in 1 s"):
        sign(p.registry, p.panel1, decision_id, PASSWORD["panel1"], config=CONFIG, source=here)
    # ...but panel1 at their own workstation, and panel2 anywhere, are not slowed down.
    sign(p.registry, p.panel2, decision_id, PASSWORD["panel2"], config=CONFIG, source=here)
    with p.registry.read() as session:
        failures = session.execute(
            select(AuthFailure.username, AuthFailure.source, AuthFailure.purpose)
        ).all()
        assert failures == [("panel1", here, "signing")] * auth.FREE_ATTEMPTS
        refused = select(func.count()).where(AuditEvent.action == "adjudication.signature_refused")
        assert session.scalar(refused) == auth.FREE_ATTEMPTS
    # Each further failure doubles the wait; it ends with the backoff window.
    later = utcnow() + auth.BACKOFF_WINDOW + dt.timedelta(seconds=1)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    sign(p.registry, p.panel1, decision_id, PASSWORD["panel1"], config=CONFIG, source=there)
    (decision,) = _decisions(p)
    assert sorted(s.username for s in decision.signatures) == ["panel1", "panel2"]


def test_the_backoff_doubles_and_is_capped() -> None:
    from workbench.auth import FREE_ATTEMPTS, MAX_DELAY, delay_after

    waits = [delay_after(n).total_seconds() for n in range(FREE_ATTEMPTS + 4)]
    assert waits == [0.0] * FREE_ATTEMPTS + [1.0, 2.0, 4.0, 8.0]
    assert delay_after(FREE_ATTEMPTS + 40) == MAX_DELAY


# --- the panel's services (workbench.services.panel) ------------------------------------------


def test_a_refused_proposal_names_the_field_it_is_about(panel: Panel) -> None:
    """The window outlines :attr:`ValidationError.field`; it never parses the message."""
    from workbench.services import panel as service

    p = panel
    _discordant_case(p)
    refused = {
        "rationale": Proposal(Certainty.NOT_CLASSIFIABLE, None),
        "pathway": Proposal(Certainty.PROBABLE, None, "Typical imaging, see notes."),
        "alternative diagnosis": Proposal(
            Certainty.POSSIBLE, Pathway.CLINICAL, "Reads disagree here.", "glioma"
        ),
    }
    for field, proposal in refused.items():
        with pytest.raises(ValidationError) as caught:
            service.propose(p.registry, p.panel1, CASE, proposal, config=CONFIG)
        assert caught.value.field == field
        assert f"case {CASE}: {field}: " in str(caught.value)
    with pytest.raises(ValidationError) as caught:  # not PML names no pathway
        service.propose(
            p.registry, p.panel1, CASE, Proposal(Certainty.NOT_PML, Pathway.CLINICAL, "x" * 20)
        )
    assert caught.value.field == "pathway"
    first = service.propose(
        p.registry, p.panel1, CASE, Proposal(Certainty.NOT_CLASSIFIABLE, None, "Reads disagree.")
    )
    service.sign(p.registry, p.panel1, first.id, PASSWORD["panel1"], config=CONFIG)
    service.sign(p.registry, p.panel2, first.id, PASSWORD["panel2"], config=CONFIG)
    with pytest.raises(ValidationError) as caught:
        service.propose(p.registry, p.panel1, CASE, PROBABLE)
    assert caught.value.field == "reason"
    with pytest.raises(ValidationError) as caught:
        service.sign(p.registry, p.panel1, first.id, PASSWORD["panel1"], meaning=" ")
    assert caught.value.field == "meaning"  # a signature states what it means


def test_the_panel_decides_in_the_deciding_statuses_only() -> None:
    from workbench.panel import DECIDING_STATUSES, not_deciding

    assert {
        CaseStatus.DISCORDANT,
        CaseStatus.IN_ADJUDICATION,
        CaseStatus.FINAL,
    } == DECIDING_STATUSES
    for status in CaseStatus:
        why = not_deciding(CASE, status)
        assert (why is None) is (status in DECIDING_STATUSES)
    assert not_deciding(CASE, CaseStatus.READY) == (
        f"case {CASE} is {CaseStatus.READY.label}: the panel decides cases that are discordant "
        "or in adjudication"
    )


def test_the_panel_page_service_asks_the_policy_who_may_decide(panel: Panel) -> None:
    from workbench.services import panel as service

    p = panel
    data = service.load_panel(p.registry, p.panel1, CASE, CONFIG)
    assert data.refusal is not None
    assert "may not see the reads" in data.refusal  # blinded before every read is in
    assert data.reads == ()
    assert data.engine is None
    assert not data.may_decide

    _discordant_case(p)
    data = service.load_panel(p.registry, p.panel1, CASE, CONFIG)
    assert data.refusal is None
    assert [r.reader for r in data.reads] == ["reader1", "reader2"]
    assert data.status is CaseStatus.DISCORDANT
    assert data.engine is not None
    assert data.engine.discordant
    assert data.detail is not None
    assert data.detail.registry_id == CASE
    assert (data.may_decide, data.why_not) == (True, None)
    assert data.reader_index("reader2") == 1
    assert data.reader_index("someone") == 2

    coordinator = service.load_panel(p.registry, p.s.coordinator, CASE, CONFIG)
    assert coordinator.refusal is None  # sees the page, read-only
    assert not coordinator.may_decide
    assert coordinator.why_not is not None
    assert "may not propose or sign the panel's decision" in coordinator.why_not
    assert "needs the panel role" in coordinator.why_not

    outsider = service.load_panel(p.registry, p.outsider, CASE, CONFIG)
    assert outsider.refusal is not None
    assert "may not see the reads of this case" in outsider.refusal
    assert outsider.decisions == ()


def test_the_panel_services_propose_sign_list_and_reclassify(panel: Panel) -> None:
    from workbench.services import panel as service

    p = panel
    _discordant_case(p)
    engine = service.engine_result(p.registry, p.panel1, CASE)
    assert engine.discordant
    proposal = Proposal(Certainty.NOT_CLASSIFIABLE, None, "Reads disagree; need PCR.")
    proposed = service.propose(p.registry, p.panel1, CASE, proposal, config=CONFIG)
    assert proposed.state is DecisionState.PENDING
    assert proposed.registry_id == CASE
    assert proposed.engine_certainty is engine.result.certainty
    assert proposed.proposed_by == "panel1"
    with pytest.raises(ConflictError):  # panel2 did not see it
        service.propose(p.registry, p.panel2, CASE, proposal)

    looked_up = service.decision(p.registry, p.panel2, proposed.id)  # what `decision sign` asks
    assert (looked_up.id, looked_up.registry_id) == (proposed.id, CASE)
    with pytest.raises(NotFoundError, match="no decision 999") as missing:
        service.decision(p.registry, p.panel2, 999)
    with pytest.raises(NotFoundError) as hidden:  # not told apart from a missing one
        service.decision(p.registry, p.outsider, proposed.id)
    assert str(hidden.value) == str(missing.value).replace("999", str(proposed.id)).replace(
        "panel2", p.outsider.username
    )

    with pytest.raises(service.SignatureRefusedError):
        service.sign(p.registry, p.panel1, proposed.id, "wrong", config=CONFIG)
    service.sign(p.registry, p.panel1, proposed.id, PASSWORD["panel1"], config=CONFIG)
    data = service.load_panel(p.registry, p.panel1, CASE, CONFIG)
    (shown,) = data.decisions
    assert data.sign_refusal(shown) == "You have signed this decision"
    assert service.load_panel(p.registry, p.panel2, CASE, CONFIG).sign_refusal(shown) is None
    service.sign(p.registry, p.panel2, proposed.id, PASSWORD["panel2"], config=CONFIG)
    (final,) = service.decisions(p.registry, p.s.coordinator, CASE, CONFIG)
    assert final.state is DecisionState.FINAL
    assert [s.username for s in final.signatures] == ["panel1", "panel2"]

    rows = {r.registry_id: r for r in service.reclassify(p.registry, p.s.coordinator)}
    assert rows[CASE].decided is Certainty.NOT_CLASSIFIABLE
    # Panel members re-check their decisions too (issue #13).
    assert CASE in {r.registry_id for r in service.reclassify(p.registry, p.panel1)}
    assert service.review_config().signatures_required >= 1
