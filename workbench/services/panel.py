"""The panel room: the panel's page of a case, the criteria engine, decisions and signatures,
and the registry-wide re-classification.

Each function takes the registry and the acting person, opens and owns its transaction, asks
:mod:`workbench.policy` (through the data layer's facts) for every permission and blinding
rule, and returns frozen values, never ORM rows. The window's panel page
(:mod:`workbench.ui.panel_view`) and the command line's ``decision propose|sign|list``,
``reclassify`` and ``config show`` call them:

- :func:`load_panel` — everything the panel page shows of one case (:class:`PanelData`),
  blinded: before every assigned reader has submitted it carries only the refusal;
- :func:`propose`, :func:`sign` — the panel's decision and its signatures (a refused
  password is recorded in a transaction of its own, and the refusal raised);
- :func:`decision`, :func:`decisions` — the decisions on record, as the actor may see them;
- :func:`engine_result` — the criteria engine on the case's data now;
- :func:`reclassify` — the engine over the whole registry, beside the decisions in force;
- :func:`review_config` — the review settings (discordance rules, signatures required).

The reads' label maps (to outline them on the images) come from
:func:`workbench.services.reading.load_label_maps`; the case's history from
:func:`workbench.services.cases.case_history` (:class:`HistoryEvent` is re-exported here too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from adjudication.consensus import Proposal
from adjudication.vocabulary import ReadStatus
from workbench import case_criteria
from workbench.actor import Actor
from workbench.case_criteria import Reclassification
from workbench.cases import get_case
from workbench.domain import CaseStatus
from workbench.errors import NotFoundError, PermissionDeniedError
from workbench.panel import (
    DecisionRecord,
    DecisionState,
    EngineRecord,
    HistoryEvent,
    SignatureRecord,
    SignatureRefusedError,
    decisions_of_case,
    engine_now,
    not_deciding,
    propose_decision,
    record_refused_signature,
    sign_decision,
)
from workbench.policy import Action, can, visible_status
from workbench.reading_flow import ReadRecord, reads_of_case
from workbench.reads import LesionSummary, all_reads_in, assigned_reader_ids, case_facts
from workbench.registry.db import Registry
from workbench.registry.models import Case, Decision, User
from workbench.review_config import ReviewConfig, load_review_config
from workbench.services.case_detail import CaseDetail, case_detail
from workbench.services.review_case import ReviewCase, review_case

__all__ = [
    "DecisionRecord",
    "DecisionState",
    "EngineRecord",
    "HistoryEvent",
    "LesionSummary",
    "PanelData",
    "Proposal",
    "ReadRecord",
    "Reclassification",
    "ReviewConfig",
    "SignatureRecord",
    "SignatureRefusedError",
    "decision",
    "decisions",
    "engine_result",
    "load_panel",
    "propose",
    "reclassify",
    "review_config",
    "sign",
]


# --- the panel page ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PanelData:
    """Everything the panel page shows of one case, read in one transaction (plain values)."""

    registry_id: str
    status: CaseStatus
    """The case's status as the actor may see it (:func:`workbench.policy.visible_status`)."""
    config: ReviewConfig
    detail: CaseDetail | None = None
    review: ReviewCase | None = None
    refusal: str | None = None
    """Why the page shows nothing of the review (reads still blinded, not permitted)."""
    reads: tuple[ReadRecord, ...] = ()
    """The read in force of each reader (latest submitted), in reader order."""
    earlier: tuple[ReadRecord, ...] = ()
    """Superseded revisions (corrected reads), for the record."""
    engine: EngineRecord | None = None
    decisions: tuple[DecisionRecord, ...] = ()
    may_decide: bool = False
    """Whether the actor may propose and sign (:data:`workbench.policy.Action.DECIDE`, and a
    case in one of :data:`workbench.panel.DECIDING_STATUSES`)."""
    why_not: str | None = None
    """Why the actor may not decide (the form's tooltip), when they may not."""
    actor: str = ""
    """The username of the actor the page was read for."""
    series_names: dict[int, str] = field(default_factory=dict)
    """Series id → ``FLAIR · day 35``."""
    people: dict[str, str] = field(default_factory=dict)
    """Username → printed name of the readers and proposers shown."""

    def person(self, username: str) -> str:
        """``Dr Sara Ahmed (rad.ahmed)``, or the username when the name is not known."""
        name = self.people.get(username)
        return f"{name} ({username})" if name and name != username else username

    @property
    def pending(self) -> DecisionRecord | None:
        """The decision collecting signatures, if any."""
        found = [d for d in self.decisions if d.state is DecisionState.PENDING]
        return found[-1] if found else None

    @property
    def final(self) -> DecisionRecord | None:
        """The decision in force, if any."""
        found = [d for d in self.decisions if d.state is DecisionState.FINAL]
        return found[-1] if found else None

    def reader_index(self, reader: str) -> int:
        """``reader``'s place among the reads in force (after them when not a reader)."""
        names = [read.reader for read in self.reads]
        return names.index(reader) if reader in names else len(names)

    def sign_refusal(self, decision: DecisionRecord) -> str | None:
        """Why the actor may not sign ``decision``, or ``None`` when they may.

        The reasons are those of :func:`workbench.panel.sign_decision`: the policy's refusal,
        a decision no longer pending, and a signature already given.
        """
        if not self.may_decide:
            return self.why_not
        if decision.state is not DecisionState.PENDING:
            return f"decision {decision.id} is {decision.state.value}, not pending signatures"
        if any(s.username == self.actor for s in decision.signatures):
            return "You have signed this decision"
        return None


def _split_reads(
    views: Sequence[ReadRecord],
) -> tuple[tuple[ReadRecord, ...], tuple[ReadRecord, ...]]:
    """The read in force of each reader (latest submitted revision) and the superseded ones."""
    in_force: dict[str, ReadRecord] = {}
    for view in views:
        if view.status is ReadStatus.SUBMITTED and not view.blinded:
            known = in_force.get(view.reader)
            if known is None or view.revision > known.revision:
                in_force[view.reader] = view
    earlier = tuple(v for v in views if v.status is ReadStatus.SUPERSEDED and not v.blinded)
    return tuple(in_force.values()), earlier


def load_panel(
    registry: Registry, actor: Actor, registry_id: str, config: ReviewConfig | None = None
) -> PanelData:
    """What ``actor`` may see of the panel's work on ``registry_id``, as plain values.

    Raises :class:`~workbench.errors.NotFoundError` for an unknown case; a refusal by the
    blinding rules becomes :attr:`PanelData.refusal`. ``config`` defaults to
    :func:`workbench.review_config.load_review_config`.
    """
    config = config or load_review_config()
    with registry.read() as session:
        case = get_case(session, registry_id)
        facts = case_facts(session, actor, case.id)
        status = visible_status(actor, facts) or case.status

        def refused(why: str) -> PanelData:
            return PanelData(registry_id, status, config, refusal=why, actor=actor.username)

        try:
            views = reads_of_case(session, actor, registry_id)
        except PermissionDeniedError as exc:
            return refused(f"{exc}.")
        if not all_reads_in(session, case.id) or any(v.blinded for v in views):
            submitted = len({v.reader for v in views if v.status is ReadStatus.SUBMITTED})
            assigned = len(assigned_reader_ids(session, case.id))
            return refused(
                f"case {registry_id}: the panel's page opens once every assigned reader has "
                f"submitted; {submitted} of {assigned} assigned reads are in, and their "
                "contents stay blinded until then."
            )
        try:
            decided = decisions_of_case(session, actor, registry_id, config)
            engine = engine_now(session, actor, registry_id)
        except PermissionDeniedError as exc:
            return refused(f"{exc}.")
        reads, earlier = _split_reads(views)
        refusal = can(actor, Action.DECIDE, facts)
        why_not = refusal.reason if refusal else not_deciding(registry_id, case.status)
        review = review_case(case)
        usernames = {r.reader for r in (*reads, *earlier)} | {d.proposed_by for d in decided}
        rows = session.execute(
            select(User.username, User.display_name).where(User.username.in_(usernames))
        )
        return PanelData(
            registry_id,
            status,
            config,
            detail=case_detail(session, actor, case),
            review=review,
            reads=reads,
            earlier=earlier,
            engine=engine,
            decisions=tuple(decided),
            may_decide=why_not is None,
            why_not=why_not,
            actor=actor.username,
            series_names={int(s.series_id): s.name for s in review.series},
            people={str(username): str(display) for username, display in rows},
        )


# --- decisions and signatures --------------------------------------------------------------


def decisions(
    registry: Registry, actor: Actor, registry_id: str, config: ReviewConfig | None = None
) -> list[DecisionRecord]:
    """Every panel decision on the case, oldest first, if ``actor`` may see them."""
    with registry.read() as session:
        return decisions_of_case(session, actor, registry_id, config)


def decision(
    registry: Registry, actor: Actor, decision_id: int, config: ReviewConfig | None = None
) -> DecisionRecord:
    """Decision ``decision_id`` (with its case, state and signatures), if ``actor`` may see
    the panel's decisions of its case.

    A decision that does not exist and one the actor may not see are refused alike
    (:class:`~workbench.errors.NotFoundError`, same message), so ids cannot be probed.
    """
    hidden = NotFoundError(f"no decision {decision_id} that user {actor.username!r} may see")
    with registry.read() as session:
        registry_id = session.scalar(
            select(Case.registry_id)
            .join(Decision, Decision.case_id == Case.id)
            .where(Decision.id == decision_id)
        )
        if registry_id is None:
            raise hidden
        try:
            views = decisions_of_case(session, actor, registry_id, config)
        except PermissionDeniedError:
            raise hidden from None
    return next(v for v in views if v.id == decision_id)


def propose(
    registry: Registry,
    actor: Actor,
    registry_id: str,
    proposal: Proposal,
    *,
    replaces: int | None = None,
    change_reason: str | None = None,
    config: ReviewConfig | None = None,
) -> DecisionRecord:
    """Record the panel's proposed decision on the case (:func:`workbench.panel.propose_decision`)
    and return it as recorded, with the engine's result it was made against.

    ``replaces`` is the pending decision the actor saw (``None`` when none): if another
    member proposed since, :class:`~workbench.errors.ConflictError` and nothing is written.
    A refused proposal raises :class:`~workbench.errors.ValidationError` whose ``field``
    names the input (``"rationale"``, ``"pathway"``, ``"alternative diagnosis"``,
    ``"reason"``).
    """
    with registry.write() as session:
        recorded = propose_decision(
            session,
            actor,
            registry_id,
            proposal,
            replaces=replaces,
            change_reason=change_reason,
        )
        decision_id = recorded.id
        views = decisions_of_case(session, actor, registry_id, config)
    return next(v for v in views if v.id == decision_id)


def sign(
    registry: Registry,
    actor: Actor,
    decision_id: int,
    password: str,
    *,
    meaning: str | None = None,
    config: ReviewConfig | None = None,
    source: str | None = None,
) -> None:
    """Sign a pending decision with the actor's password, entered again, and a meaning
    (default: the configured one). ``source`` is where the attempt comes from (default:
    this workstation), which the backoff after wrong passwords counts by.

    A wrong password raises :class:`SignatureRefusedError` after the attempt was recorded in a
    transaction of its own (:func:`workbench.panel.record_refused_signature`); repeated ones
    slow down further attempts from this workstation (never anyone else's).
    """
    try:
        with registry.write() as session:
            sign_decision(
                session,
                actor,
                decision_id,
                password,
                meaning=meaning,
                config=config,
                source=source,
            )
    except SignatureRefusedError:
        with registry.write() as session:
            record_refused_signature(session, actor, decision_id, source=source)
        raise


# --- the criteria engine -------------------------------------------------------------------


def engine_result(
    registry: Registry,
    actor: Actor,
    registry_id: str,
    *,
    alternative_diagnosis: bool | None = None,
) -> EngineRecord:
    """The criteria engine's result for the case as its data stand now, if ``actor`` may see
    the panel's work on it (:func:`workbench.panel.engine_now`)."""
    with registry.read() as session:
        return engine_now(session, actor, registry_id, alternative_diagnosis=alternative_diagnosis)


def reclassify(registry: Registry, actor: Actor) -> list[Reclassification]:
    """The engine over every case of the registry, beside its decision in force, by registry
    id (panel members, coordinators and administrators); flags in the case list the cases whose
    final decision the criteria no longer give, and records one audit event."""
    with registry.write() as session:
        return case_criteria.reclassify(session, actor)


def review_config(path: Path | None = None) -> ReviewConfig:
    """The review settings: the discordance rules and the signatures a decision needs (from
    ``path``, else :func:`workbench.review_config.config_path`, else the built-in defaults)."""
    return load_review_config(path)
