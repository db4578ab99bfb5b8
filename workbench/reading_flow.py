"""The review flow of a case: assigning readers, blinded access to reads, discordance.

- :func:`assign` puts readers or panel members on a case (coordinators and administrators);
  a ``ready`` case moves to ``in_reading`` once it has ``readers_required`` readers.
- :func:`fetch_read` and :func:`reads_of_case` hand out reads through the blinding rule of
  :func:`workbench.reads.check_read_access` (DESIGN.md §8): blinding is enforced here, where
  data is read, not only hidden in a window.
- :func:`after_submit` runs once every assigned reader has submitted: it compares the stored
  reads with :func:`adjudication.discordance.assess` and moves the case to ``discordant`` or
  ``in_adjudication``, storing the assessment (the rules that fired, with their numbers) in
  ``discordance_assessments`` and recording it in the audit trail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from adjudication.discordance import Discordance, DiscordanceRules, ReadSummary, assess
from adjudication.vocabulary import ReadStatus, Role
from workbench.actor import Actor
from workbench.domain import CaseStatus
from workbench.errors import NotFoundError, ValidationError
from workbench.lesions.codec import decode_mask
from workbench.policy import Action, Facts, can, require
from workbench.reads import (
    LesionSummary,
    all_reads_in,
    assigned_reader_ids,
    case_facts,
    check_read_access,
    list_lesions,
    read_facts,
    submit_read,
)
from workbench.registry import audit
from workbench.registry.models import (
    Case,
    CaseAssignment,
    DiscordanceAssessment,
    Lesion,
    Read,
    User,
)
from workbench.review_config import ReviewConfig, load_review_config
from workbench.worklist import due_date

ASSIGNABLE_ROLES = (Role.READER, Role.PANEL)
"""The roles a user can be assigned to a case in."""


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """One read as an actor may see it.

    When ``blinded`` is true (a coordinator before every assigned reader has submitted) only
    the status fields are filled: ``judgement``, ``confidence`` and ``comment`` are ``None``
    and ``lesions`` is empty.
    """

    id: int
    registry_id: str
    reader: str
    revision: int
    status: ReadStatus
    submitted_at: dt.datetime | None
    blinded: bool
    judgement: str | None
    confidence: int | None
    comment: str | None
    lesions: tuple[LesionSummary, ...]


# --- helpers -------------------------------------------------------------------------------


def _case(session: Session, registry_id: str) -> Case:
    case = session.scalars(select(Case).where(Case.registry_id == registry_id)).first()
    if case is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    return case


def _username(session: Session, user_id: int) -> str:
    name = session.scalar(select(User.username).where(User.id == user_id))
    return name or f"user {user_id}"


def _view(
    session: Session, actor: Actor, read: Read, registry_id: str, facts: Facts | None = None
) -> ReadRecord:
    facts = facts if facts is not None else read_facts(session, actor, read)
    full = check_read_access(session, actor, read, facts)
    return ReadRecord(
        id=read.id,
        registry_id=registry_id,
        reader=_username(session, read.reader_id),
        revision=read.revision,
        status=read.status,
        submitted_at=read.submitted_at,
        blinded=not full,
        judgement=(read.imaging_judgement.value if read.imaging_judgement else None)
        if full
        else None,
        confidence=read.confidence if full else None,
        comment=read.comment if full else None,
        lesions=tuple(list_lesions(session, actor, read.id, facts)) if full else (),
    )


def _latest_submitted(session: Session, case_id: int) -> list[Read]:
    """The latest submitted read of each assigned reader, by reader id."""
    assigned = assigned_reader_ids(session, case_id)
    rows = session.scalars(
        select(Read)
        .where(Read.case_id == case_id, Read.status == ReadStatus.SUBMITTED)
        .order_by(Read.reader_id, Read.revision.desc(), Read.id.desc())
    )
    latest: dict[int, Read] = {}
    for read in rows:
        if read.reader_id in assigned:
            latest.setdefault(read.reader_id, read)
    return [latest[k] for k in sorted(latest)]


# --- public API ----------------------------------------------------------------------------


def assign(
    session: Session,
    actor: Actor,
    registry_id: str,
    usernames: Sequence[str],
    role: Role,
    *,
    due_days: int | None = None,
) -> list[CaseAssignment]:
    """Assign ``usernames`` to case ``registry_id`` as readers or panel members.

    Needs the coordinator or administrator role. Each user must be active and hold ``role``
    (``reader`` or ``panel``); nobody is both reader and panel member of one case. A user
    already assigned in ``role`` is left as they are. Each new assignment is audited as
    ``case.assign``; a ``ready`` case with at least ``readers_required`` readers moves to
    ``in_reading`` (audited as ``case.status``). Returns the new assignments.

    Each new assignment is due ``due_days`` days from now (default: ``[worklist]`` in
    ``review.toml``, by role; see :func:`workbench.worklist.due_date`).
    """
    require(actor, Action.ASSIGN)
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError(f"role: {role!r} is not one of reader, panel") from None
    if role not in ASSIGNABLE_ROLES:
        raise ValidationError(f"role: a user is assigned as reader or panel, not {role.value}")
    if not usernames:
        raise ValidationError("assign: name at least one user")
    case = _case(session, registry_id)
    if case.status in (CaseStatus.INCOMPLETE, CaseStatus.FINAL):
        raise ValidationError(
            f"case {registry_id} is {case.status.label}: readers are assigned to cases that are "
            "ready or in review"
        )
    due_at = due_date(role, due_days)
    by_id = session.scalar(select(User.id).where(User.username == actor.username))
    other_role = Role.PANEL if role is Role.READER else Role.READER
    new: list[CaseAssignment] = []
    for username in dict.fromkeys(usernames):
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"user {username!r} is not known to this registry")
        if not user.active or not user.has_role(role):
            raise ValidationError(
                f"user {username!r} cannot be assigned as {role.value}: they "
                + ("are not active" if not user.active else f"do not hold the {role.value} role")
            )
        existing = {
            a.role
            for a in session.scalars(
                select(CaseAssignment).where(
                    CaseAssignment.case_id == case.id, CaseAssignment.user_id == user.id
                )
            )
        }
        require(actor, Action.ASSIGN, Facts(target_is_self=username == actor.username))
        if other_role in existing:
            raise ValidationError(
                f"user {username!r} is already {other_role.value} of case {registry_id}; "
                "nobody is both reader and panel member of one case"
            )
        if role in existing:
            continue
        assignment = CaseAssignment(
            case_id=case.id, user_id=user.id, role=role, assigned_by_id=by_id, due_at=due_at
        )
        session.add(assignment)
        session.flush()
        new.append(assignment)
        audit.record(
            session,
            actor=actor.username,
            role=actor.main_role,
            action="case.assign",
            entity_type="case",
            entity_id=registry_id,
            after={"user": username, "role": role.value},
        )
    readers = len(assigned_reader_ids(session, case.id))
    added_readers = sum(1 for a in new if a.role is Role.READER)
    after = status_after_assignment(case.status, readers, case.readers_required, added_readers)
    if after is not case.status:
        extra: dict[str, object] | None = None
        if case.status is not CaseStatus.READY:
            extra = {"because": "a reader was added after the reads were assessed"}
        _set_status(session, actor.username, actor.main_role, case, after, extra)
    return new


def status_after_assignment(
    status: CaseStatus, readers: int, readers_required: int, added_readers: int
) -> CaseStatus:
    """The case status once ``added_readers`` new readers make ``readers`` in all.

    A ``ready`` case with ``readers_required`` readers starts its reading. A reader added
    after the reads were assessed (``discordant``, ``in adjudication``) sends the case back
    to ``in reading``: the assessment is made anew, with their read, once they submit.
    """
    if status is CaseStatus.READY and readers >= readers_required:
        return CaseStatus.IN_READING
    if added_readers and status in (CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION):
        return CaseStatus.IN_READING
    return status


def _set_status(
    session: Session,
    username: str,
    role: str,
    case: Case,
    status: CaseStatus,
    extra: dict[str, object] | None = None,
) -> None:
    before = case.status
    case.status = status
    session.flush()
    audit.record(
        session,
        actor=username,
        role=role,
        action="case.status",
        entity_type="case",
        entity_id=case.registry_id,
        before={"status": before.value},
        after={"status": status.value, **(extra or {})},
    )


def fetch_read(session: Session, actor: Actor, read_id: int) -> ReadRecord:
    """Read ``read_id`` as ``actor`` may see it (blinded; see :func:`check_read_access`).

    Raises :class:`PermissionDeniedError` for a read the actor may not see at all; a
    coordinator before every assigned reader has submitted gets a status-only view.
    """
    read = session.get(Read, read_id)
    if read is None:
        raise NotFoundError(f"no read {read_id} in this registry")
    registry_id = session.scalar(select(Case.registry_id).where(Case.id == read.case_id))
    return _view(session, actor, read, str(registry_id))


def reads_of_case(session: Session, actor: Actor, registry_id: str) -> list[ReadRecord]:
    """Every read of case ``registry_id`` the actor may see, by reader and revision.

    Raises :class:`PermissionDeniedError` when the actor may not see another reader's read
    of the case (a reader before submitting their own read, a reader not assigned to the
    case, a panel member before every assigned reader has submitted). Drafts of other readers
    are listed only to coordinators and administrators (status only).
    """
    case = _case(session, registry_id)
    facts = case_facts(session, actor, case.id)
    require(actor, Action.LIST_READS, facts)
    reads = session.scalars(
        select(Read).where(Read.case_id == case.id).order_by(Read.reader_id, Read.revision)
    )
    user_id = session.scalar(select(User.id).where(User.username == actor.username))
    views = []
    for read in reads:
        of_read = dataclasses.replace(
            facts, read_is_own=read.reader_id == user_id, read_status=read.status
        )
        if can(actor, Action.SEE_READ_STATUS, of_read) is not None:
            continue  # e.g. another reader's draft, or any read while the actor is blinded
        views.append(_view(session, actor, read, registry_id, of_read))
    return views


def _summary(session: Session, read: Read) -> tuple[ReadSummary, set[int]]:
    """A :class:`ReadSummary` of ``read`` (masks decoded) and the series its lesions are on."""
    lesions = list(read.lesions)
    masks = [np.asarray(decode_mask(lesion.mask)) != 0 for lesion in lesions]
    summary = ReadSummary(
        reader=_username(session, read.reader_id),
        judgement=read.imaging_judgement.value if read.imaging_judgement else None,
        masks=masks or None,
        total_ml=sum(lesion.volume_ml for lesion in lesions),
        lesion_ml=[lesion.volume_ml for lesion in lesions],
    )
    return summary, {lesion.series_id for lesion in lesions}


def after_submit(
    session: Session,
    registry_id: str,
    rules: DiscordanceRules | None = None,
    *,
    actor: Actor,
    reassess: bool = False,
) -> Discordance | None:
    """Once every assigned reader has submitted, assess discordance and move the case on.

    Returns ``None`` (and changes nothing) while reads are outstanding or when the case is
    not ``in_reading``/``ready``; a case read by a single reader goes to the panel without an
    assessment (``None``). Otherwise compares the latest submitted read of each
    assigned reader: masks are compared when all lesions of all reads lie on one series grid,
    volumes and judgements only when the readers used different series. The case becomes
    ``discordant`` or ``in_adjudication``. The assessment (the reads compared, the rules, the
    rules that fired and their numbers) is stored as a :class:`DiscordanceAssessment` row,
    which :func:`workbench.panel.latest_discordance` reads, and recorded in the audit trail
    as the event ``case.discordance`` with the same values. ``actor`` is who triggered it (the
    submitting reader, who may see the result: their own read is in).
    ``reassess`` (after a corrected read) also re-assesses a case that is already
    ``discordant`` or ``in_adjudication``.
    """
    case = _case(session, registry_id)
    waiting = (CaseStatus.READY, CaseStatus.IN_READING)
    reviewed = (CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION)
    if case.status not in waiting and not (reassess and case.status in reviewed):
        return None
    if not all_reads_in(session, case.id):
        return None
    reads = _latest_submitted(session, case.id)
    if len(reads) < 2:
        # A case that asks for one reader has nothing to disagree with: it goes to the panel
        # as it is, and no discordance assessment is recorded.
        if case.status in waiting:
            _set_status(session, actor.username, actor.main_role, case, CaseStatus.IN_ADJUDICATION)
        return None
    pairs = [_summary(session, read) for read in reads]
    series = set().union(*(ids for _, ids in pairs))
    spatial = len(series) <= 1
    result = assess([summary for summary, _ in pairs], rules, spatial=spatial)
    status = CaseStatus.DISCORDANT if result.discordant else CaseStatus.IN_ADJUDICATION
    username, role = actor.username, actor.main_role
    by_id = session.scalar(select(User.id).where(User.username == actor.username))
    values = result.as_dict()
    assessment = DiscordanceAssessment(
        case_id=case.id,
        assessed_by_id=by_id,
        read_ids=[read.id for read in reads],
        discordant=values["discordant"],
        spatial=values["spatial"],
        fired=values["fired"],
        rules=values["rules"],
        findings=values["findings"],
    )
    session.add(assessment)
    session.flush()
    audit.record(
        session,
        actor=username,
        role=role,
        action="case.discordance",
        entity_type="case",
        entity_id=registry_id,
        after=assessment.as_dict(),
    )
    if status is not case.status:
        _set_status(session, username, role, case, status)
    return result


def submit(
    session: Session,
    actor: Actor,
    read_id: int,
    expected_version: int,
    *,
    config: ReviewConfig | None = None,
) -> tuple[Read, Discordance | None]:
    """Submit the actor's draft read and move the case on: the way every screen submits.

    Submits through :func:`workbench.reads.submit_read` (immutable from now on). A corrected
    read supersedes the read it corrects (audited as ``read.superseded``). When this was the
    last outstanding read, or a correction of a case already assessed, discordance is assessed
    with the configured rules (:func:`after_submit`). Returns the read and the assessment, if
    one was made.
    """
    config = config or load_review_config()
    read = submit_read(session, actor, read_id, expected_version)
    registry_id = str(session.scalar(select(Case.registry_id).where(Case.id == read.case_id)))
    corrected = None
    if read.supersedes_id is not None:
        corrected = session.get(Read, read.supersedes_id)
    if corrected is not None and corrected.status is ReadStatus.SUBMITTED:
        corrected.status = ReadStatus.SUPERSEDED
        session.flush()
        audit.record(
            session,
            actor=actor.username,
            role=actor.main_role,
            action="read.superseded",
            entity_type="read",
            entity_id=corrected.id,
            before={"status": ReadStatus.SUBMITTED.value},
            after={"status": ReadStatus.SUPERSEDED.value, "by": read.id},
            reason=read.correction_reason,
        )
    result = after_submit(
        session, registry_id, config.discordance, actor=actor, reassess=corrected is not None
    )
    return read, result


def start_correction(session: Session, actor: Actor, read_id: int, reason: str) -> Read:
    """Open a correction of the actor's submitted read: a new draft version with a reason.

    The draft starts as a copy of the submitted read (judgement, notes, lesions); the
    submitted read stays in force, and visible to whoever may see it, until the correction is
    submitted with :func:`submit`. An open correction is returned as it is. Refused for a read
    that is not submitted, for another reader's read, for a case whose decision is final, and
    without a reason.
    """
    read = session.get(Read, read_id)
    if read is None:
        raise NotFoundError(f"no read {read_id} in this registry")
    require(actor, Action.CORRECT_READ, read_facts(session, actor, read))
    if read.status is not ReadStatus.SUBMITTED:
        raise ValidationError(
            f"read {read_id} is {read.status.value}: only the submitted read in force can be "
            "corrected (a draft is still editable as it is)"
        )
    case = session.get(Case, read.case_id)
    assert case is not None
    text = (reason or "").strip()
    if len(text) < 10:
        raise ValidationError(
            f"read {read_id}: a correction needs a reason of at least 10 characters"
        )
    existing = session.scalars(
        select(Read).where(Read.supersedes_id == read.id, Read.status == ReadStatus.DRAFT)
    ).first()
    if existing is not None:
        return existing
    draft = Read(
        case_id=read.case_id,
        reader_id=read.reader_id,
        revision=read.revision + 1,
        supersedes_id=read.id,
        correction_reason=text,
        status=ReadStatus.DRAFT,
        imaging_judgement=read.imaging_judgement,
        confidence=read.confidence,
        features=dict(read.features or {}),
        comment=read.comment,
    )
    draft.lesions.extend(
        Lesion(
            series_id=lesion.series_id,
            label=lesion.label,
            mask=lesion.mask,
            mask_sha256=lesion.mask_sha256,
            volume_ml=lesion.volume_ml,
            centroid_lps=list(lesion.centroid_lps),
            hemisphere=lesion.hemisphere,
            location=lesion.location,
            features=dict(lesion.features or {}),
        )
        for lesion in read.lesions
    )
    session.add(draft)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="read.correction_started",
        entity_type="read",
        entity_id=draft.id,
        before={"read": read.id, "revision": read.revision},
        after={"case": case.registry_id, "revision": draft.revision},
        reason=text,
    )
    return draft
