"""The adjudication panel's work on a case: decisions, signatures, changes, and what it sees.

A panel member assigned to a case proposes a decision (:func:`propose_decision`) once every
assigned read is in; the criteria engine is run at that moment and its version and result are
stored with the decision. Panel members sign it with their password again and a stated meaning
(:func:`sign_decision`); when the configured number have signed, the decision is final and the
case is ``final``. A new proposal replaces a pending one (whose signatures stay on record);
proposing over a final decision is a change, which needs a reason and a new set of signatures,
and the old final decision stays in force, and visible, until the new one is final.

Every step is an audit event. Who may see decisions follows the blinding rule: a reader sees
the panel's decision of a case only after submitting their own read of it
(:func:`check_decision_access`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from adjudication.consensus import (
    ConsensusError,
    Proposal,
    check_change_reason,
    check_meaning,
    check_proposal,
    is_final,
    rationale_needed,
)
from adjudication.criteria import Result, evaluate
from adjudication.criteria_io import result_json
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway, Role
from workbench.actor import Actor
from workbench.auth import check_backoff, source_of
from workbench.case_criteria import case_inputs
from workbench.domain import CaseStatus
from workbench.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from workbench.policy import REVIEW_OUTCOME_STATUSES, Action, require
from workbench.reads import case_facts
from workbench.registry import audit
from workbench.registry.models import (
    AuditEvent,
    AuthFailure,
    Case,
    Decision,
    DiscordanceAssessment,
    Read,
    Signature,
    User,
)
from workbench.review_config import ReviewConfig, load_review_config
from workbench.users import check_password, read_password_hash

DECIDING_STATUSES = frozenset({CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION, CaseStatus.FINAL})
"""Case statuses in which the panel proposes a decision (over a final one: a change)."""


def not_deciding(registry_id: str, status: CaseStatus) -> str | None:
    """Why the panel does not decide case ``registry_id`` in ``status``, or ``None`` when it
    does (:data:`DECIDING_STATUSES`); :func:`propose_decision` refuses with this message."""
    if status in DECIDING_STATUSES:
        return None
    return (
        f"case {registry_id} is {status.label}: the panel decides cases that are discordant "
        "or in adjudication"
    )


class DecisionState(StrEnum):
    """Where a decision stands."""

    PENDING = "pending"
    """Proposed, collecting signatures."""
    FINAL = "final"
    """Signed by enough panel members: the registry's decision for the case."""
    REPLACED = "replaced"
    """A pending decision replaced by a newer proposal before it was final."""
    SUPERSEDED = "superseded"
    """A final decision changed later; kept on record with its signatures."""


@dataclass(frozen=True, slots=True)
class SignatureRecord:
    """One signature as the manifest shows it: printed name, UTC time and meaning."""

    username: str
    printed_name: str
    meaning: str
    signed_at: dt.datetime

    def manifest(self) -> str:
        """``Printed Name — 2026-11-24 09:14 UTC — meaning``."""
        return f"{self.printed_name} — {self.signed_at:%Y-%m-%d %H:%M:%S} UTC — {self.meaning}"


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One panel decision with its signatures and state."""

    id: int
    version: int
    registry_id: str
    state: DecisionState
    certainty: Certainty
    pathway: Pathway | None
    rationale: str | None
    alternative_diagnosis: str | None
    change_reason: str | None
    supersedes_id: int | None
    engine_version: str
    engine_certainty: Certainty | None
    engine_result: dict[str, Any]
    proposed_by: str
    created_at: dt.datetime
    signatures: tuple[SignatureRecord, ...]
    signatures_required: int
    panel_imaging: ImagingJudgement | None = None
    """The panel's own imaging judgement, when it recorded one."""

    @property
    def differs_from_engine(self) -> bool:
        """Whether the panel decided otherwise than the engine did at the time."""
        return self.engine_certainty is not None and self.engine_certainty != self.certainty


@dataclass(frozen=True, slots=True)
class EngineRecord:
    """The criteria engine's result for a case now, with where its inputs came from."""

    result: Result
    derivation: tuple[str, ...]
    discordant: bool
    discordance: dict[str, Any] | None
    """The latest discordance assessment (rules, rules fired, findings), if any."""


# --- helpers -------------------------------------------------------------------------------


def _case(session: Session, registry_id: str, *, lock: bool = False) -> Case:
    query = select(Case).where(Case.registry_id == registry_id)
    if lock:
        query = query.with_for_update(of=Case)
    case = session.scalars(query).first()
    if case is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    return case


def _user(session: Session, actor: Actor) -> User:
    user = session.scalars(select(User).where(User.username == actor.username)).first()
    if user is None:
        raise NotFoundError(f"user {actor.username!r} is not known to this registry")
    return user


def _require_panel_member(session: Session, actor: Actor, case: Case) -> User:
    """The actor's user row, if the policy lets them decide on ``case`` (:data:`Action.DECIDE`)."""
    require(actor, Action.DECIDE, case_facts(session, actor, case.id))
    return _user(session, actor)


def latest_discordance(session: Session, actor: Actor, registry_id: str) -> dict[str, Any] | None:
    """The latest discordance assessment of a case, or ``None`` before it was assessed, if
    ``actor`` may see the panel's work on the case (:func:`check_decision_access`).

    The newest :class:`DiscordanceAssessment` row of the case, as a dict: the reads compared
    (``reads``), ``discordant``, ``fired``, ``spatial``, ``rules`` and ``findings``, the same
    values its ``case.discordance`` audit event records.
    """
    check_decision_access(session, actor, _case(session, registry_id))
    assessment = session.scalars(
        select(DiscordanceAssessment)
        .join(Case, Case.id == DiscordanceAssessment.case_id)
        .where(Case.registry_id == registry_id)
        .order_by(DiscordanceAssessment.id.desc())
        .limit(1)
    ).first()
    return assessment.as_dict() if assessment is not None else None


def _decisions(session: Session, case_id: int) -> list[Decision]:
    return list(
        session.scalars(
            select(Decision)
            .where(Decision.case_id == case_id)
            .options(selectinload(Decision.signatures))
            .order_by(Decision.id)
        )
    )


def _states(decisions: list[Decision]) -> dict[int, DecisionState]:
    replaced = {d.supersedes_id for d in decisions if d.supersedes_id is not None}
    finals = [d.id for d in decisions if d.is_final]
    in_force = max(finals) if finals else None
    states = {}
    for d in decisions:
        if d.is_final:
            states[d.id] = DecisionState.FINAL if d.id == in_force else DecisionState.SUPERSEDED
        elif d.id in replaced or (in_force is not None and d.id < in_force):
            states[d.id] = DecisionState.REPLACED
        else:
            states[d.id] = DecisionState.PENDING
    return states


def _pending(decisions: list[Decision]) -> Decision | None:
    states = _states(decisions)
    pending = [d for d in decisions if states[d.id] is DecisionState.PENDING]
    return pending[-1] if pending else None


def _in_force(decisions: list[Decision]) -> Decision | None:
    states = _states(decisions)
    finals = [d for d in decisions if states[d.id] is DecisionState.FINAL]
    return finals[-1] if finals else None


def _username(session: Session, user_id: int) -> str:
    return session.scalar(select(User.username).where(User.id == user_id)) or f"user {user_id}"


def _view(
    session: Session,
    decision: Decision,
    state: DecisionState,
    registry_id: str,
    required: int,
) -> DecisionRecord:
    engine = decision.engine_result or {}
    engine_certainty = engine.get("certainty")
    return DecisionRecord(
        id=decision.id,
        version=decision.version,
        registry_id=registry_id,
        state=state,
        certainty=decision.certainty,
        pathway=decision.pathway,
        rationale=decision.rationale,
        alternative_diagnosis=decision.alternative_diagnosis,
        panel_imaging=decision.panel_imaging,
        change_reason=decision.change_reason,
        supersedes_id=decision.supersedes_id,
        engine_version=decision.engine_version,
        engine_certainty=Certainty(engine_certainty) if engine_certainty else None,
        engine_result=dict(engine),
        proposed_by=_username(session, decision.created_by_id),
        created_at=decision.created_at,
        signatures=tuple(
            SignatureRecord(_username(session, s.user_id), s.printed_name, s.meaning, s.signed_at)
            for s in decision.signatures
        ),
        signatures_required=required,
    )


def _snapshot(decision: Decision) -> dict[str, Any]:
    # The panel's imaging judgement is named only when recorded, so events of decisions
    # without one read as before (the row hash does not cover it: the event attests it).
    imaging = {"panel_imaging": decision.panel_imaging.value} if decision.panel_imaging else {}
    return {
        **imaging,
        "certainty": decision.certainty.value,
        "pathway": decision.pathway.value if decision.pathway else None,
        "rationale": decision.rationale,
        "alternative_diagnosis": decision.alternative_diagnosis,
        "engine_version": decision.engine_version,
        "engine_certainty": (decision.engine_result or {}).get("certainty"),
        "supersedes": decision.supersedes_id,
        "final": decision.is_final,
    }


# --- access --------------------------------------------------------------------------------


def check_decision_access(session: Session, actor: Actor, case: Case) -> None:
    """Refuse unless ``actor`` may see the panel's work on ``case`` (its discordance and
    decisions): :data:`workbench.policy.Action.SEE_PANEL_WORK`."""
    require(actor, Action.SEE_PANEL_WORK, case_facts(session, actor, case.id))


def engine_now(
    session: Session, actor: Actor, registry_id: str, *, alternative_diagnosis: bool | None = None
) -> EngineRecord:
    """The criteria engine's result for the case as its data stand now, if ``actor`` may see
    the panel's work on it (the result shows the discordance and the reads' judgement).

    ``alternative_diagnosis`` overrides the input taken from the decision in force: a
    proposal is weighed with its own finding of whether another disorder explains the case.
    """
    case = _case(session, registry_id)
    check_decision_access(session, actor, case)
    derived = case_inputs(session, actor, case)
    inputs = derived.inputs
    derivation = derived.derivation
    if alternative_diagnosis is not None:
        inputs = dataclasses.replace(inputs, alternative_diagnosis=alternative_diagnosis)
        derivation = (
            *derivation,
            "alternative diagnosis: "
            + ("named in this proposal" if alternative_diagnosis else "none in this proposal"),
        )
    discordance = latest_discordance(session, actor, registry_id)
    discordant = (
        bool(discordance.get("discordant"))
        if discordance is not None
        else case.status is CaseStatus.DISCORDANT
    )
    return EngineRecord(evaluate(inputs), derivation, discordant, discordance)


def decisions_of_case(
    session: Session,
    actor: Actor,
    registry_id: str,
    config: ReviewConfig | None = None,
) -> list[DecisionRecord]:
    """Every panel decision on the case, oldest first, as ``actor`` may see them."""
    case = _case(session, registry_id)
    check_decision_access(session, actor, case)
    required = (config or load_review_config()).signatures_required
    decisions = _decisions(session, case.id)
    states = _states(decisions)
    return [_view(session, d, states[d.id], registry_id, required) for d in decisions]


def propose_decision(
    session: Session,
    actor: Actor,
    registry_id: str,
    proposal: Proposal,
    *,
    replaces: int | None = None,
    change_reason: str | None = None,
) -> Decision:
    """Record the panel's proposed decision on the case; it is final once enough members sign.

    ``replaces`` is the id of the pending decision the actor saw (``None`` when they saw
    none): if another member proposed since, :class:`ConflictError` and nothing is written.
    When the case already has a final decision, this is a change, and ``change_reason`` is
    required. The engine is run now and its version and result are stored with the decision.
    Raises :class:`ValidationError` for a proposal the consensus rules refuse (say a missing
    rationale where the decision differs from the engine or the case was discordant).
    """
    case = _case(session, registry_id, lock=True)
    user = _require_panel_member(session, actor, case)
    why_not = not_deciding(registry_id, case.status)
    if why_not is not None:
        raise ValidationError(why_not)
    decisions = _decisions(session, case.id)
    pending = _pending(decisions)
    if (pending.id if pending else None) != replaces:
        raise ConflictError(
            f"case {registry_id}: another panel member proposed a decision since you opened "
            "the case; nothing was saved. Reload it, read their proposal, then propose again."
        )
    in_force = _in_force(decisions)
    reason = None
    if in_force is not None:
        try:
            reason = check_change_reason(change_reason)
        except ConsensusError as exc:
            raise ValidationError(f"case {registry_id}: {exc}", field=exc.field) from None
    alternative = bool((proposal.alternative_diagnosis or "").strip())
    engine = engine_now(session, actor, registry_id, alternative_diagnosis=alternative)
    try:
        cleaned = check_proposal(proposal, engine.result.certainty, discordant=engine.discordant)
    except ConsensusError as exc:
        raise ValidationError(f"case {registry_id}: {exc}", field=exc.field) from None
    supersedes = pending or in_force
    decision = Decision(
        case_id=case.id,
        certainty=cleaned.certainty,
        pathway=cleaned.pathway,
        engine_version=engine.result.ruleset,
        engine_result={
            **result_json(registry_id, engine.result),
            "unverified": list(engine.result.unverified),
            "warnings": list(engine.result.warnings),
            "inputs_from": list(engine.derivation),
            "discordant": engine.discordant,
        },
        rationale=cleaned.rationale,
        alternative_diagnosis=cleaned.alternative_diagnosis,
        panel_imaging=cleaned.imaging,
        is_final=False,
        supersedes_id=supersedes.id if supersedes else None,
        change_reason=reason,
        created_by_id=user.id,
    )
    session.add(decision)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=Role.PANEL.value,
        action="adjudication.change_proposed" if in_force else "adjudication.proposed",
        entity_type="adjudication",
        entity_id=decision.id,
        before=_snapshot(supersedes) if supersedes else None,
        after={"case": registry_id, **_snapshot(decision)},
        reason=reason
        or rationale_needed(cleaned, engine.result.certainty, discordant=engine.discordant),
    )
    return decision


def sign_decision(
    session: Session,
    actor: Actor,
    decision_id: int,
    password: str,
    *,
    meaning: str | None = None,
    config: ReviewConfig | None = None,
    source: str | None = None,
) -> Decision:
    """Sign a pending decision with the actor's password, entered again, and a meaning.

    Wrong passwords slow down further attempts from ``source`` (default: this workstation,
    :func:`workbench.auth.source_of`) as at sign-in (:func:`workbench.auth.delay_after`).

    The signature records the signer's printed name, the time (UTC) and the meaning
    (default: the configured one). When ``signatures_required`` panel members have signed, the
    decision is final, the case becomes ``final`` and an earlier final decision is superseded
    (it stays on record). Raises :class:`PermissionDeniedError` for a wrong password or a
    signer who is not on the case's panel, and :class:`ValidationError` for a decision that is
    not pending or that the actor signed already.
    """
    config = config or load_review_config()
    decision = session.get(Decision, decision_id, with_for_update=True)
    if decision is None:
        raise NotFoundError(f"no decision {decision_id} in this registry")
    case = session.scalars(
        select(Case).where(Case.id == decision.case_id).with_for_update(of=Case)
    ).one()
    user = _require_panel_member(session, actor, case)
    stored = read_password_hash(session, actor.username)
    if not stored:
        raise ValidationError(
            f"user {actor.username!r} has no password set, and a signature needs one; set it "
            "with 'pml-workbench user passwd'"
        )
    if user.must_change_password:
        raise PermissionDeniedError(
            f"the password of {actor.username!r} is a one-time password set by an "
            "administrator; choose your own ('pml-workbench user passwd') before signing"
        )
    check_backoff(session, actor.username, source or source_of(session))
    if not check_password(password, stored):
        raise SignatureRefusedError(
            f"signature refused: the password of {actor.username!r} does not match; nothing "
            "was signed"
        )
    try:
        text = check_meaning(meaning or config.signature_meaning)
    except ConsensusError as exc:
        raise ValidationError(f"decision {decision_id}: {exc}", field=exc.field) from None
    decisions = _decisions(session, case.id)
    state = _states(decisions)[decision.id]
    if state is not DecisionState.PENDING:
        raise ValidationError(
            f"decision {decision_id} of case {case.registry_id} is {state.value}, not pending "
            "signatures; open the case again to see the decision that is"
        )
    if any(s.user_id == user.id for s in decision.signatures):
        raise ValidationError(f"decision {decision_id}: you have signed it already")
    previous = _in_force(decisions)
    signature = Signature(
        adjudication_id=decision.id,
        user_id=user.id,
        printed_name=user.display_name,
        meaning=text,
        signed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )
    decision.signatures.append(signature)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=Role.PANEL.value,
        action="adjudication.signed",
        entity_type="adjudication",
        entity_id=decision.id,
        after={
            "case": case.registry_id,
            "printed_name": signature.printed_name,
            "meaning": signature.meaning,
            "signed_at": signature.signed_at.isoformat(timespec="seconds") + "Z",
            "signatures": len(decision.signatures),
            "required": config.signatures_required,
        },
    )
    if is_final(len(decision.signatures), config.signatures_required):
        decision.is_final = True
        before_status = case.status
        case.status = CaseStatus.FINAL
        session.flush()
        audit.record(
            session,
            actor=actor.username,
            role=Role.PANEL.value,
            action="adjudication.final",
            entity_type="adjudication",
            entity_id=decision.id,
            before={
                "status": before_status.value,
                "in_force": previous.id if previous else None,
            },
            after={
                "case": case.registry_id,
                "status": CaseStatus.FINAL.value,
                **_snapshot(decision),
                "signers": [s.printed_name for s in decision.signatures],
            },
            reason=decision.change_reason,
        )
    return decision


class SignatureRefusedError(PermissionDeniedError):
    """A signature refused because the password did not match (the attempt is audited)."""


def record_refused_signature(
    session: Session, actor: Actor, decision_id: int, *, source: str | None = None
) -> None:
    """Record a signature refused for a wrong password: an :class:`AuthFailure` row (what the
    backoff counts, per account and source) and the audit event
    ``adjudication.signature_refused``.

    Call it in a transaction of its own: :func:`sign_decision` rolls back with its caller's
    transaction when the password does not match, and 21 CFR 11.300(d) asks that attempts at
    unauthorised use leave a trace (:func:`workbench.services.panel.sign` does this).
    """
    origin = (source or source_of(session))[:200]
    session.add(AuthFailure(username=actor.username, source=origin, purpose="signing"))
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="adjudication.signature_refused",
        entity_type="adjudication",
        entity_id=decision_id,
        reason="password did not match",
        after={"source": origin},
    )


def final_decision(session: Session, registry_id: str) -> Decision | None:
    """The case's decision in force (the latest final one), or ``None``."""
    case = _case(session, registry_id)
    return _in_force(_decisions(session, case.id))


# --- history -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One audit event of a case, as the case history shows it."""

    id: int
    occurred_at: dt.datetime
    actor: str
    role: str | None
    action: str
    entity: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


def _reveals_outcome(after: dict[str, Any] | None) -> bool:
    """Whether a ``case.status`` change tells what the reads or the panel found."""
    status = (after or {}).get("status")
    return status in {s.value for s in REVIEW_OUTCOME_STATUSES}


def case_history(session: Session, actor: Actor, registry_id: str) -> list[HistoryEvent]:
    """The audit events of a case and of its studies, series, labs, reads and decisions.

    Oldest first, blinded like the data: events about another reader's read are left out
    until the actor may see that read (a coordinator before every read is in sees their
    status only), and panel decisions and the discordance assessment, which names the
    judgements, until the actor may see decisions (:func:`check_decision_access`).
    """
    from workbench.reads import check_read_access
    from workbench.registry.models import ImagingStudy, LabResult, Series

    case = _case(session, registry_id)
    studies = [
        str(i)
        for i in session.scalars(select(ImagingStudy.id).where(ImagingStudy.case_id == case.id))
    ]
    series = [
        str(i)
        for i in session.scalars(
            select(Series.id).join(ImagingStudy).where(ImagingStudy.case_id == case.id)
        )
    ]
    labs = [
        str(i) for i in session.scalars(select(LabResult.id).where(LabResult.case_id == case.id))
    ]
    reads = {str(r.id): r for r in session.scalars(select(Read).where(Read.case_id == case.id))}
    decisions = [str(d.id) for d in _decisions(session, case.id)]
    try:
        check_decision_access(session, actor, case)
        sees_decisions = True
    except PermissionDeniedError:
        sees_decisions = False
    read_access: dict[str, bool] = {}
    for read_id, read in reads.items():
        with contextlib.suppress(PermissionDeniedError):
            read_access[read_id] = check_read_access(session, actor, read)
    entities = {
        "imaging_study": studies,
        "series": series,
        "lab_result": labs,
        "read": list(reads),
        "adjudication": decisions,
    }
    condition = (AuditEvent.entity_type == "case") & (AuditEvent.entity_id == registry_id)
    for entity_type, ids in entities.items():
        if ids:
            condition = condition | (
                (AuditEvent.entity_type == entity_type) & AuditEvent.entity_id.in_(ids)
            )
    out = []
    for event in session.scalars(select(AuditEvent).where(condition).order_by(AuditEvent.id)):
        before, after = event.before, event.after
        if event.entity_type == "read":
            full = read_access.get(event.entity_id or "")
            if full is None:
                continue
            if not full:  # status only
                before = {"status": before["status"]} if before and "status" in before else None
                after = {"status": after["status"]} if after and "status" in after else None
        if not sees_decisions and (
            event.entity_type == "adjudication"
            or event.action == "case.discordance"
            or (event.action == "case.status" and _reveals_outcome(after))
        ):
            continue
        out.append(
            HistoryEvent(
                id=event.id,
                occurred_at=event.occurred_at,
                actor=event.actor,
                role=event.role,
                action=event.action,
                entity=f"{event.entity_type} {event.entity_id}",
                before=before,
                after=after,
                reason=event.reason,
            )
        )
    return out
