"""Worklists: each person's own open work, the coordinator's dashboard, balanced assignment.

The review queue as its users meet it (DESIGN.md §9), the way a PACS worklist or REDCap's
"my records" page shows it:

- :func:`my_queue`: the acting person's own open work, their cases first. As a reader, the
  cases assigned to them whose read is not in (``assigned``: nothing started; ``drafted``: a
  draft is saved; ``correcting``: a correction of their submitted read is open); as a panel
  member, the cases that wait for the panel (``to decide``: every read is in, discordant or
  concordant, and no decision is proposed; ``to sign``: a proposed decision waits for their
  signature). Each item carries its due date and whether it is overdue. The status shown is
  the one the policy lets them see (:func:`workbench.policy.visible_status`): a blinded reader
  is never told that the reads disagree or what the panel decided.
- :func:`dashboard` (coordinators, administrators): cases by status, each reader's open,
  overdue and submitted reads with their median turnaround, and each site's cases by status.
- :func:`suggest_assignment`: the active readers ranked by open workload, without those of
  the case's own site (a reader may know a patient of their own hospital) and those already
  on the case, and as many of them as the case still needs.

Due dates are set at assignment (:func:`due_date`, ``[worklist]`` in ``review.toml``). Every
query here is set-based: a handful of grouped statements whatever the size of the registry
(no loop over cases issues a query), so the dashboard stays fast on 100,000 cases.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session

from adjudication.vocabulary import ReadStatus, Role
from workbench.actor import Actor
from workbench.domain import CaseStatus
from workbench.errors import NotFoundError, ValidationError
from workbench.policy import Action, Facts, can, require, visible_status
from workbench.registry.models import (
    Case,
    CaseAssignment,
    Decision,
    Read,
    Signature,
    Site,
    User,
    UserRole,
    utcnow,
)
from workbench.review_config import MAX_DUE_DAYS, WorklistRules, load_review_config

PANEL_WAITING_STATUSES = frozenset({CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION})
"""Case statuses in which every read is in and the panel decides (a final case waits for the
panel only while a change of its decision is proposed)."""

_SUBMITTED = (ReadStatus.SUBMITTED, ReadStatus.SUPERSEDED)
"""A read that was submitted (a superseded one was, and was corrected since)."""


class QueueState(StrEnum):
    """Where one item of a person's queue stands."""

    ASSIGNED = "assigned"
    """A reader's case with no read started."""
    DRAFTED = "drafted"
    """A reader's case with a draft read saved, not submitted."""
    CORRECTING = "correcting"
    """A correction of the reader's submitted read is open (their read is in, so it is never
    overdue)."""
    TO_DECIDE = "to_decide"
    """Every read is in and the panel has proposed no decision."""
    TO_SIGN = "to_sign"
    """A proposed panel decision waits for this member's signature."""

    @property
    def label(self) -> str:
        """Human-readable label."""
        return self.value.replace("_", " ")


# --- due dates -------------------------------------------------------------------------------


def worklist_rules() -> WorklistRules:
    """The ``[worklist]`` rules of ``review.toml`` (defaults without the file)."""
    return load_review_config().worklist


def check_due_days(due_days: int) -> int:
    """``due_days`` if it is a whole number of days from 1 to :data:`MAX_DUE_DAYS`, else
    :class:`ValidationError` naming the field."""
    if isinstance(due_days, bool) or not isinstance(due_days, int):
        raise ValidationError(f"due days: {due_days!r} is not a whole number", field="due days")
    if not 1 <= due_days <= MAX_DUE_DAYS:
        raise ValidationError(
            f"due days: {due_days} — give 1 to {MAX_DUE_DAYS} days from today", field="due days"
        )
    return due_days


def due_date(
    role: Role, due_days: int | None = None, *, now: dt.datetime | None = None
) -> dt.datetime:
    """When work assigned now in ``role`` falls due: ``due_days`` from ``now`` (default: the
    role's days of ``[worklist]`` in ``review.toml``)."""
    if due_days is None:
        rules = worklist_rules()
        due_days = rules.panel_due_days if role is Role.PANEL else rules.reader_due_days
    return (now or utcnow()) + dt.timedelta(days=check_due_days(due_days))


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as aware UTC (SQLite hands back naive UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


# --- my queue --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One case in a person's queue, as they may see it."""

    registry_id: str
    site: str
    role: Role
    """The role the person holds on the case (reader or panel)."""
    state: QueueState
    status: CaseStatus
    """The case status as the person may see it (a blinded reader sees ``in reading``)."""
    assigned_at: dt.datetime
    due_at: dt.datetime | None
    overdue: bool

    def days_left(self, now: dt.datetime) -> int | None:
        """Whole days until the due date (negative when overdue), ``None`` without one."""
        if self.due_at is None:
            return None
        return (self.due_at.date() - now.date()).days

    def as_json(self) -> dict[str, Any]:
        """The item as ``queue --json`` prints it."""
        return {
            "registry_id": self.registry_id,
            "site": self.site,
            "role": self.role.value,
            "state": self.state.value,
            "status": self.status.value,
            "assigned_at": self.assigned_at.isoformat(),
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "overdue": self.overdue,
        }


@dataclass(frozen=True, slots=True)
class MyQueue:
    """A person's open work: most urgent first (earliest due date; none last)."""

    username: str
    as_of: dt.datetime
    items: tuple[QueueItem, ...] = ()

    @property
    def counts(self) -> dict[QueueState, int]:
        """How many items are in each state (every state, zeros included)."""
        found = dict.fromkeys(QueueState, 0)
        for item in self.items:
            found[item.state] += 1
        return found

    @property
    def overdue(self) -> int:
        """How many items are past their due date."""
        return sum(1 for item in self.items if item.overdue)

    def summary(self) -> str:
        """One line: ``5 open · 2 overdue · assigned 2, drafted 1, to sign 2``."""
        parts = [f"{len(self.items)} open", f"{self.overdue} overdue"]
        states = [f"{s.label} {n}" for s, n in self.counts.items() if n]
        return " · ".join(parts + ([", ".join(states)] if states else []))

    def as_json(self) -> dict[str, Any]:
        """The queue as ``queue --json`` prints it."""
        return {
            "user": self.username,
            "as_of": self.as_of.isoformat(),
            "counts": {state.value: n for state, n in self.counts.items()},
            "overdue": self.overdue,
            "items": [item.as_json() for item in self.items],
        }


def _user_id(session: Session, actor: Actor) -> int | None:
    return session.scalar(select(User.id).where(User.username == actor.username))


def _pending_decisions(rows: Iterable[tuple[int, int, bool, int | None]]) -> dict[int, int]:
    """``case id -> id of its pending decision`` from ``(id, case id, is_final,
    supersedes id)`` rows: the rule of :func:`workbench.panel._states` (the newest proposal
    that is not final, not replaced by a newer one and newer than the decision in force)."""
    by_case: dict[int, list[tuple[int, bool, int | None]]] = defaultdict(list)
    for decision_id, case_id, final, supersedes in rows:
        by_case[case_id].append((decision_id, bool(final), supersedes))
    pending: dict[int, int] = {}
    for case_id, decisions in by_case.items():
        replaced = {s for _, _, s in decisions if s is not None}
        finals = [d for d, final, _ in decisions if final]
        in_force = max(finals) if finals else None
        open_ = [
            d
            for d, final, _ in decisions
            if not final and d not in replaced and (in_force is None or d > in_force)
        ]
        if open_:
            pending[case_id] = max(open_)
    return pending


def my_queue(session: Session, actor: Actor, *, now: dt.datetime | None = None) -> MyQueue:
    """The open work of ``actor`` (see the module's docstring); anyone may ask for their own.

    Four statements: the actor's assignments with their cases, the actor's own reads of
    them, the decisions of their panel cases and the actor's signatures.
    """
    now = now or utcnow()
    user_id = _user_id(session, actor)
    if user_id is None:
        return MyQueue(actor.username, now)
    assignments = session.execute(
        select(
            Case.id,
            Case.registry_id,
            Site.code,
            Case.status,
            CaseAssignment.role,
            CaseAssignment.assigned_at,
            CaseAssignment.due_at,
        )
        .join(Case, Case.id == CaseAssignment.case_id)
        .join(Site, Site.id == Case.site_id)
        .where(CaseAssignment.user_id == user_id)
    ).all()
    # The actor's own reads of their reader cases: which statuses each case has.
    own_reads: dict[int, set[ReadStatus]] = defaultdict(set)
    for case_id, read_status in session.execute(
        select(Read.case_id, Read.status)
        .join(
            CaseAssignment,
            and_(
                CaseAssignment.case_id == Read.case_id,
                CaseAssignment.user_id == user_id,
                CaseAssignment.role == Role.READER,
            ),
        )
        .where(Read.reader_id == user_id)
    ):
        own_reads[case_id].add(ReadStatus(read_status))
    panel_cases = select(CaseAssignment.case_id).where(
        CaseAssignment.user_id == user_id, CaseAssignment.role == Role.PANEL
    )
    pending = _pending_decisions(
        session.execute(
            select(Decision.id, Decision.case_id, Decision.is_final, Decision.supersedes_id).where(
                Decision.case_id.in_(panel_cases)
            )
        ).all()
    )
    signed = set(
        session.scalars(
            select(Signature.adjudication_id).where(
                Signature.user_id == user_id,
                Signature.adjudication_id.in_(list(pending.values()) or [-1]),
            )
        )
    )
    items: list[QueueItem] = []
    for case_id, registry_id, site, stored_status, stored_role, assigned_at, due_at in assignments:
        role, status = Role(stored_role), CaseStatus(stored_status)
        due_at = _aware(due_at)
        state: QueueState | None = None
        submitted = False
        if role is Role.READER and status is not CaseStatus.FINAL:
            reads = own_reads.get(case_id, set())
            submitted = bool(reads.intersection(_SUBMITTED))
            if submitted:
                state = QueueState.CORRECTING if ReadStatus.DRAFT in reads else None
            else:
                state = QueueState.DRAFTED if ReadStatus.DRAFT in reads else QueueState.ASSIGNED
        elif role is Role.PANEL:
            if case_id in pending and (
                status in PANEL_WAITING_STATUSES or status is CaseStatus.FINAL
            ):
                state = None if pending[case_id] in signed else QueueState.TO_SIGN
            elif status in PANEL_WAITING_STATUSES:
                state = QueueState.TO_DECIDE
        if state is None:
            continue
        facts = Facts(
            case_status=status,
            reader_of_case=role is Role.READER,
            panel_of_case=role is Role.PANEL,
            own_read_submitted=submitted,
        )
        overdue = state is not QueueState.CORRECTING and due_at is not None and due_at < now
        items.append(
            QueueItem(
                registry_id=registry_id,
                site=site,
                role=role,
                state=state,
                status=visible_status(actor, facts) or status,
                assigned_at=_aware(assigned_at) or now,
                due_at=due_at,
                overdue=overdue,
            )
        )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    items.sort(key=lambda i: (i.due_at or far, i.registry_id, i.role.value))
    return MyQueue(actor.username, now, tuple(items))


# --- reader workload (shared by the dashboard and the suggestion) ------------------------------


@dataclass(frozen=True, slots=True)
class ReaderLoad:
    """One reader's work: open and overdue reads, reads submitted, and how fast."""

    username: str
    display_name: str
    site: str | None
    active: bool
    open_reads: int = 0
    """Cases assigned to them, not final, whose read they have not submitted."""
    overdue: int = 0
    """Open reads past their due date."""
    submitted: int = 0
    """Cases whose read they have submitted."""
    median_turnaround_days: float | None = None
    """Median days from assignment to first submission, over the reads they first submitted
    in the last :data:`TURNAROUND_WINDOW` (recent work, and a cost that follows it)."""

    def as_json(self) -> dict[str, Any]:
        """The reader's row as ``dashboard --json`` prints it."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "site": self.site,
            "active": self.active,
            "open_reads": self.open_reads,
            "overdue": self.overdue,
            "submitted": self.submitted,
            "median_turnaround_days": self.median_turnaround_days,
        }


_NOT_FINAL = tuple(status for status in CaseStatus if status is not CaseStatus.FINAL)
"""Statuses whose readers may still owe a read; named one by one so the index on
``cases.status`` finds the (few) cases in review among the (many) final ones."""


def _workload(
    session: Session, now: dt.datetime, *, submitted: bool = True
) -> dict[int, tuple[int, int, int]]:
    """``user id -> (open reads, overdue, submitted)`` of every user assigned as reader.

    Two grouped statements. Open reads are counted from the cases still in review (through
    the index on ``cases.status``), so the cost follows the open work, not the registry's
    history; submitted reads from the reads alone (a reader reads only cases assigned to
    them, and no assignment is ever undone). ``submitted`` false skips the second.
    """
    done = (
        select(Read.id)
        .where(
            Read.case_id == CaseAssignment.case_id,
            # "+ 0" keeps the planner off the index on reads.reader_id: without statistics
            # SQLite prefers it and scans each reader's every read, once per assignment.
            Read.reader_id + 0 == CaseAssignment.user_id,
            Read.status.in_(_SUBMITTED),
        )
        .correlate(CaseAssignment)
        .exists()
    )
    found: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for user_id, n_open, n_overdue in session.execute(
        select(
            CaseAssignment.user_id,
            func.count(),
            func.sum(case((CaseAssignment.due_at < now, 1), else_=0)),
        )
        .select_from(Case)
        .join(CaseAssignment, CaseAssignment.case_id == Case.id)
        .where(Case.status.in_(_NOT_FINAL), CaseAssignment.role == Role.READER, ~done)
        .group_by(CaseAssignment.user_id)
    ):
        found[user_id][0:2] = [int(n_open or 0), int(n_overdue or 0)]
    if submitted:
        for user_id, count in session.execute(
            select(Read.reader_id, func.count(distinct(Read.case_id)))
            .where(Read.status.in_(_SUBMITTED))
            .group_by(Read.reader_id)
        ):
            found[user_id][2] = int(count or 0)
    return {user_id: (n[0], n[1], n[2]) for user_id, n in found.items()}


TURNAROUND_WINDOW = dt.timedelta(days=365)
"""How far back the dashboard's median turnaround looks."""


def _turnarounds(session: Session, now: dt.datetime) -> dict[int, list[float]]:
    """``user id -> days from assignment to first submission`` of each read first submitted
    within :data:`TURNAROUND_WINDOW` before ``now``.

    The difference is computed by the database (``julianday`` on SQLite, ``epoch`` on
    PostgreSQL), so only numbers travel, one per (case, reader) submitted.
    """
    # A read's first submission is its revision 1 (a correction is a new revision), so no
    # grouping is needed and the window is a range on ``reads.submitted_at``.
    first = (
        select(
            Read.case_id,
            Read.reader_id,
            Read.submitted_at.label("first_submitted"),
        )
        # Only a submitted read has a ``submitted_at``: no status test, which would also
        # tempt the planner away from the range.
        .where(Read.submitted_at >= now - TURNAROUND_WINDOW, Read.revision == 1)
        .subquery()
    )
    assigned = (
        select(CaseAssignment.assigned_at)
        .where(
            CaseAssignment.case_id == first.c.case_id,
            CaseAssignment.user_id == first.c.reader_id,
            CaseAssignment.role == Role.READER,
        )
        .correlate(first)
        .scalar_subquery()
    )
    if session.get_bind().dialect.name == "postgresql":
        days = func.extract("epoch", first.c.first_submitted - assigned) / 86400.0
    else:
        days = func.julianday(first.c.first_submitted) - func.julianday(assigned)
    found: dict[int, list[float]] = defaultdict(list)
    for user_id, value in session.execute(select(first.c.reader_id, days)):
        if value is not None:
            found[user_id].append(max(0.0, float(value)))
    return found


@dataclass(frozen=True, slots=True)
class _Person:
    id: int
    username: str
    display_name: str
    active: bool
    site_id: int | None
    roles: frozenset[Role]


def _people(session: Session) -> list[_Person]:
    """Every user with their roles, in two statements, by username."""
    roles: dict[int, set[Role]] = defaultdict(set)
    for user_id, role in session.execute(select(UserRole.user_id, UserRole.role)):
        roles[user_id].add(Role(role))
    rows = session.execute(
        select(User.id, User.username, User.display_name, User.active, User.site_id).order_by(
            User.username
        )
    )
    return [
        _Person(uid, name, display, bool(active), site_id, frozenset(roles.get(uid, ())))
        for uid, name, display, active, site_id in rows
    ]


def _site_codes(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Site.id, Site.code)).all())


def reader_loads(
    session: Session, *, now: dt.datetime | None = None, turnaround: bool = True
) -> list[ReaderLoad]:
    """Every holder of the reader role, and everyone else ever assigned as reader, with their
    workload; by username."""
    now = now or utcnow()
    loads = _workload(session, now)
    times = _turnarounds(session, now) if turnaround else {}
    codes = _site_codes(session)
    result = []
    for person in _people(session):
        if Role.READER not in person.roles and person.id not in loads:
            continue
        n_open, n_overdue, n_submitted = loads.get(person.id, (0, 0, 0))
        spans = times.get(person.id)
        result.append(
            ReaderLoad(
                username=person.username,
                display_name=person.display_name,
                site=codes.get(person.site_id) if person.site_id is not None else None,
                active=person.active,
                open_reads=n_open,
                overdue=n_overdue,
                submitted=n_submitted,
                median_turnaround_days=round(statistics.median(spans), 2) if spans else None,
            )
        )
    return result


# --- the dashboard ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteLoad:
    """One site's cases by status."""

    site: str
    by_status: Mapping[CaseStatus, int] = field(default_factory=dict)
    readers: int = 0
    """Active readers who work at the site."""

    @property
    def total(self) -> int:
        """All the site's cases."""
        return sum(self.by_status.values())

    def as_json(self) -> dict[str, Any]:
        """The site's row as ``dashboard --json`` prints it."""
        return {
            "site": self.site,
            "total": self.total,
            "readers": self.readers,
            "by_status": {s.value: self.by_status.get(s, 0) for s in CaseStatus},
        }


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The coordinator's view of the review queue."""

    as_of: dt.datetime
    by_status: Mapping[CaseStatus, int]
    """Cases in each status (every status, zeros included)."""
    readers: tuple[ReaderLoad, ...]
    sites: tuple[SiteLoad, ...]

    @property
    def total(self) -> int:
        """All cases."""
        return sum(self.by_status.values())

    @property
    def open_reads(self) -> int:
        """Reads assigned and not submitted, over all readers."""
        return sum(r.open_reads for r in self.readers)

    @property
    def overdue(self) -> int:
        """Open reads past their due date, over all readers."""
        return sum(r.overdue for r in self.readers)

    def as_json(self) -> dict[str, Any]:
        """The dashboard as ``dashboard --json`` prints it."""
        return {
            "as_of": self.as_of.isoformat(),
            "total": self.total,
            "by_status": {s.value: n for s, n in self.by_status.items()},
            "open_reads": self.open_reads,
            "overdue": self.overdue,
            "readers": [r.as_json() for r in self.readers],
            "sites": [s.as_json() for s in self.sites],
        }


def dashboard(session: Session, actor: Actor, *, now: dt.datetime | None = None) -> Dashboard:
    """Cases by status, per reader and per site (coordinators and administrators).

    Five grouped statements whatever the registry's size.
    """
    require(actor, Action.SEE_DASHBOARD)
    now = now or utcnow()
    by_site: dict[str, dict[CaseStatus, int]] = defaultdict(dict)
    by_status = dict.fromkeys(CaseStatus, 0)
    for code, status, count in session.execute(
        select(Site.code, Case.status, func.count(Case.id))
        .join(Site, Site.id == Case.site_id)
        .group_by(Site.code, Case.status)
    ):
        status = CaseStatus(status)
        by_site[code][status] = int(count)
        by_status[status] += int(count)
    readers = reader_loads(session, now=now)
    readers_at: dict[str, int] = defaultdict(int)
    for reader in readers:
        if reader.site is not None and reader.active:
            readers_at[reader.site] += 1
    sites = tuple(
        SiteLoad(code, dict(by_site.get(code, {})), readers_at.get(code, 0))
        for code in sorted(set(by_site) | set(readers_at))
    )
    return Dashboard(now, by_status, tuple(readers), sites)


# --- balanced assignment ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RankedReader:
    """One active reader as the suggestion weighs them."""

    username: str
    display_name: str
    site: str | None
    open_reads: int
    overdue: int
    excluded: str | None = None
    """Why they are not suggested for this case (same site, already on it, ...), if not."""

    @property
    def eligible(self) -> bool:
        """Whether they may be suggested."""
        return self.excluded is None

    def as_json(self) -> dict[str, Any]:
        """The reader as ``case assign --suggest --json`` would print them."""
        return {
            "username": self.username,
            "site": self.site,
            "open_reads": self.open_reads,
            "overdue": self.overdue,
            "excluded": self.excluded,
        }


@dataclass(frozen=True, slots=True)
class AssignmentSuggestion:
    """Whom to assign as readers of one case, least loaded first, and why not the others."""

    registry_id: str
    site: str
    status: CaseStatus
    readers_required: int
    readers_assigned: int
    suggested: tuple[str, ...]
    """Usernames to assign: as many as the case still needs, if enough are eligible."""
    ranking: tuple[RankedReader, ...]
    """Every active reader: eligible ones by open workload (then overdue, username), then the
    excluded ones with their reason."""
    note: str | None = None
    """Why fewer are suggested than needed, or none at all, if so."""

    @property
    def needed(self) -> int:
        """Readers the case still needs."""
        return max(0, self.readers_required - self.readers_assigned)


def suggest_assignment(
    session: Session, actor: Actor, registry_id: str, *, now: dt.datetime | None = None
) -> AssignmentSuggestion:
    """Suggest readers for case ``registry_id`` (coordinators and administrators).

    Active holders of the reader role are ranked by open reads (fewest first), then overdue
    reads, then username. Excluded, each with the reason: readers who work at the case's site,
    readers already assigned to it (as reader or on its panel), and anyone the policy forbids
    the actor to assign (themselves). The suggestion is the first ``readers_required`` minus
    those already assigned. Raises :class:`NotFoundError` for an unknown case.
    """
    require(actor, Action.ASSIGN)
    now = now or utcnow()
    found = session.execute(
        select(Case.id, Case.status, Case.readers_required, Site.id, Site.code)
        .join(Site, Site.id == Case.site_id)
        .where(Case.registry_id == registry_id)
    ).first()
    if found is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    case_id, status, required, site_id, site_code = found
    status = CaseStatus(status)
    on_case = {
        user_id: Role(role)
        for user_id, role in session.execute(
            select(CaseAssignment.user_id, CaseAssignment.role).where(
                CaseAssignment.case_id == case_id
            )
        )
    }
    assigned_readers = sum(1 for role in on_case.values() if role is Role.READER)
    loads = _workload(session, now, submitted=False)
    codes = _site_codes(session)
    ranked: list[RankedReader] = []
    for person in _people(session):
        if not person.active or Role.READER not in person.roles:
            continue
        why: str | None = None
        refusal = can(actor, Action.ASSIGN, Facts(target_is_self=person.username == actor.username))
        if refusal is not None:
            why = refusal.reason
        elif on_case.get(person.id) is Role.READER:
            why = "already a reader of this case"
        elif on_case.get(person.id) is Role.PANEL:
            why = "on this case's panel; nobody is both reader and panel member of one case"
        elif person.site_id is not None and person.site_id == site_id:
            why = f"works at {site_code}, the case's own site"
        n_open, n_overdue, _ = loads.get(person.id, (0, 0, 0))
        ranked.append(
            RankedReader(
                person.username,
                person.display_name,
                codes.get(person.site_id) if person.site_id is not None else None,
                n_open,
                n_overdue,
                why,
            )
        )
    ranked.sort(key=lambda r: (not r.eligible, r.open_reads, r.overdue, r.username))
    needed = max(0, required - assigned_readers)
    note: str | None = None
    if status in (CaseStatus.INCOMPLETE, CaseStatus.FINAL):
        needed, note = 0, f"case {registry_id} is {status.label}: it is not assigned readers"
    elif needed == 0:
        note = f"case {registry_id} has its {required} reader(s) already"
    eligible = [r.username for r in ranked if r.eligible]
    suggested = tuple(eligible[:needed])
    if len(suggested) < needed:
        note = (
            f"case {registry_id} needs {needed} more reader(s) but only {len(suggested)} "
            f"eligible reader(s) are active (not of site {site_code}, not on the case)"
        )
    return AssignmentSuggestion(
        registry_id=registry_id,
        site=site_code,
        status=status,
        readers_required=required,
        readers_assigned=assigned_readers,
        suggested=suggested,
        ranking=tuple(ranked),
        note=note,
    )
