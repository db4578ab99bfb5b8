"""Reading: a reader's drafts, submission and corrections, and the reads of a case.

Each function takes the registry and the acting person, opens and owns its transaction, asks
:mod:`workbench.policy` (through the data layer's facts) for every permission and blinding
rule, and returns frozen values, never ORM rows. The window's annotation works on a
:class:`~workbench.services.draft.DraftSession`, which calls these functions; the command
line's ``read submit|correct|list`` and ``import-mask`` call them directly.

- :func:`open_draft` / :func:`open_read` load what a draft session holds (:class:`OpenedRead`);
- :func:`save_changes` saves only what changed (:func:`workbench.reads.save_draft_changes`);
- :func:`submit` saves the last changes and submits in one transaction, through
  :func:`workbench.reading_flow.submit` (the one way to submit: it assesses discordance);
  :func:`set_choices_and_submit` does it for a draft whose lesions are already saved;
- :func:`start_correction` opens a correction of a submitted read;
- :func:`reads_of_case`, :func:`fetch_read`, :func:`list_lesions`, :func:`load_labels` hand
  reads out through the blinding rule;
- :func:`latest_draft` names the draft to offer back after a restart;
- :func:`import_mask` adds a mask made elsewhere to the reader's draft.

Database errors below the door come out as :class:`~workbench.errors.RegistryError` with
one line a user can read, so callers catch only the workbench's errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from adjudication.discordance import Discordance
from adjudication.vocabulary import ImagingJudgement, ReadStatus
from workbench import reading_flow, reads
from workbench.actor import Actor
from workbench.domain import CaseStatus
from workbench.errors import NotFoundError, ValidationError
from workbench.lesions.longitudinal import (
    TRACK_KEY,
    carry_labels,
    dst_to_src_transform,
    format_change,
    label_volumes,
    track_of,
    volume_pairs,
)
from workbench.policy import Action, Refusal, can, require, visible_status
from workbench.reading_flow import ReadRecord
from workbench.reads import (
    CONFIDENCE_RANGE,
    MAX_COMMENT_LENGTH,
    ChangedLesions,
    DraftChoices,
    LesionDetails,
    LesionDraft,
    LesionSummary,
)
from workbench.registry.db import Registry
from workbench.registry.models import Case, ImagingStudy, Lesion, Read, Series, User
from workbench.review_config import ReviewConfig
from workbench.studies import series_affine

__all__ = [
    "CONFIDENCE_RANGE",
    "MAX_COMMENT_LENGTH",
    "TRACK_KEY",
    "ChangedLesions",
    "DraftChoices",
    "DraftRef",
    "DraftSaved",
    "LabelMap",
    "LesionDetails",
    "LesionDraft",
    "LesionSummary",
    "MaskImport",
    "OpenedRead",
    "ReadRecord",
    "Submission",
    "carry_labels",
    "dst_to_src_transform",
    "fetch_read",
    "format_change",
    "import_mask",
    "label_volumes",
    "latest_draft",
    "list_lesions",
    "load_label_maps",
    "load_labels",
    "may_annotate",
    "open_draft",
    "open_read",
    "reads_of_case",
    "save_changes",
    "set_choices_and_submit",
    "start_correction",
    "submit",
    "track_of",
    "volume_pairs",
]


# --- values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DraftRef:
    """A reader's read, named well enough to open it again (e.g. a draft after a restart)."""

    registry_id: str
    read_id: int
    revision: int
    version: int
    updated_at: dt.datetime
    lesion_series: tuple[int, ...] = ()
    """The series its lesions are on, the series of its first lesion (by label) first."""

    @property
    def has_lesions(self) -> bool:
        """Whether any lesion is drawn."""
        return bool(self.lesion_series)

    @property
    def first_lesion_series(self) -> int | None:
        """The series of its first lesion (to open the review on), if any."""
        return self.lesion_series[0] if self.lesion_series else None


@dataclass(frozen=True, slots=True, eq=False)
class LabelMap:
    """A read's label map of one series, on the series grid ``(i, j, k)``, with its affine."""

    series_id: int
    labels: np.ndarray
    """At least ``uint16`` (what the editor paints in); 0 is background."""
    affine: np.ndarray
    """Voxel ``(i, j, k, 1)`` → LPS mm."""


@dataclass(frozen=True, slots=True, eq=False)
class OpenedRead:
    """Everything a draft session holds of one read when it opens (plain values)."""

    registry_id: str
    read_id: int
    version: int
    revision: int
    status: ReadStatus
    submitted_at: dt.datetime | None
    corrects_revision: int | None
    """The revision this read corrects (a correction), if any."""
    correction_reason: str | None
    choices: DraftChoices
    case_status: CaseStatus | None
    """The case's status as the actor may see it (:func:`workbench.policy.visible_status`)."""
    outstanding: int
    """How many assigned readers of the case have not submitted."""
    may_edit: Refusal | None
    """Why the actor may not change this read (``None``: they may)."""
    may_correct: Refusal | None
    """Why the actor may not correct this read (``None``: they may, once it is submitted)."""
    label_maps: tuple[LabelMap, ...]
    lesions: tuple[LesionSummary, ...]


@dataclass(frozen=True, slots=True)
class DraftSaved:
    """What a save wrote: the read's new version and the labels written and deleted."""

    read_id: int
    version: int
    written: tuple[int, ...]
    deleted: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Submission:
    """What submitting a read did: the read, its lesions, and what became of the case."""

    registry_id: str
    read_id: int
    revision: int
    version: int
    submitted_at: dt.datetime
    correction: bool
    """The read corrects an earlier one (which it supersedes now)."""
    judgement: ImagingJudgement
    lesions: int
    total_ml: float
    assessment: Discordance | None
    """The discordance assessment this submission triggered (the last read in), if any."""
    readers_assigned: int
    readers_submitted: int
    case_status: CaseStatus | None
    """The case's status now, as the actor may see it."""
    may_correct: Refusal | None = None
    """Why the actor may not correct the read now (``None``: they may)."""

    @property
    def outstanding(self) -> int:
        """How many assigned readers have not submitted yet."""
        return max(self.readers_assigned - self.readers_submitted, 0)

    @property
    def all_in(self) -> bool:
        """Whether every assigned reader has submitted."""
        return self.readers_assigned > 0 and self.outstanding == 0


@dataclass(frozen=True, slots=True)
class MaskImport:
    """What :func:`import_mask` did: the draft, and the lesions now on that series."""

    registry_id: str
    read_id: int
    series_id: int
    lesions: int
    total_ml: float


# --- errors ----------------------------------------------------------------------------------


# --- helpers ---------------------------------------------------------------------------------


def _case(session: Session, registry_id: str) -> Case:
    case = session.scalars(select(Case).where(Case.registry_id == registry_id)).first()
    if case is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    return case


def _read(session: Session, read_id: int) -> Read:
    read = session.get(Read, read_id)
    if read is None:
        raise NotFoundError(f"no read {read_id} in this registry")
    return read


def _registry_id(session: Session, read: Read) -> str:
    return str(session.scalar(select(Case.registry_id).where(Case.id == read.case_id)))


def _lesion_series(session: Session, read_id: int) -> tuple[int, ...]:
    rows = session.execute(
        select(Lesion.series_id).where(Lesion.read_id == read_id).order_by(Lesion.label)
    )
    return tuple(dict.fromkeys(int(sid) for (sid,) in rows))


def _ref(session: Session, read: Read) -> DraftRef:
    return DraftRef(
        registry_id=_registry_id(session, read),
        read_id=read.id,
        revision=read.revision,
        version=read.version,
        updated_at=read.updated_at,
        lesion_series=_lesion_series(session, read.id),
    )


def _outstanding(session: Session, case_id: int) -> tuple[int, int]:
    """``(assigned readers, of whom submitted)`` of case ``case_id``."""
    assigned = reads.assigned_reader_ids(session, case_id)
    submitted = set(
        session.scalars(
            select(Read.reader_id).where(
                Read.case_id == case_id, Read.status == ReadStatus.SUBMITTED
            )
        )
    )
    return len(assigned), len(assigned & submitted)


def _case_series(session: Session, case_id: int, series_id: int) -> Series:
    """Series ``series_id`` of case ``case_id``, on a 3-D grid; refused otherwise."""
    series = session.get(Series, series_id)
    owner = (
        None
        if series is None
        else session.scalar(select(ImagingStudy.case_id).where(ImagingStudy.id == series.study_id))
    )
    if series is None or owner != case_id:
        raise NotFoundError(f"series #{series_id} is not a series of this read's case")
    if len(series.shape) != 3:
        raise ValidationError(
            f"series #{series_id} is not a 3-D volume (shape {tuple(series.shape)}): lesions "
            "are drawn on 3-D series"
        )
    return series


def _label_maps(
    session: Session, actor: Actor, read: Read, series_ids: Iterable[int]
) -> list[LabelMap]:
    maps = []
    for series_id in sorted(set(series_ids)):
        series = _case_series(session, read.case_id, series_id)
        stored = reads.load_draft_labels(session, actor, read.id, series.id)
        labels = stored.astype(np.promote_types(stored.dtype, np.uint16), copy=False)
        maps.append(LabelMap(series.id, labels, series_affine(series)))
    return maps


def _opened(session: Session, actor: Actor, read: Read, series_ids: Iterable[int]) -> OpenedRead:
    facts = reads.read_facts(session, actor, read)
    lesions = reads.list_lesions(session, actor, read.id)
    wanted = set(series_ids) | {lesion.series_id for lesion in lesions}
    corrected = session.get(Read, read.supersedes_id) if read.supersedes_id else None
    assigned, submitted = _outstanding(session, read.case_id)
    may_edit = can(actor, Action.EDIT_READ, facts)
    if may_edit is None and read.status is not ReadStatus.DRAFT:
        may_edit = Refusal(
            Action.EDIT_READ,
            f"read {read.id} is {read.status.value}: a submitted read cannot be changed "
            "(a correction is a new revision with a reason)",
        )
    return OpenedRead(
        registry_id=_registry_id(session, read),
        read_id=read.id,
        version=read.version,
        revision=read.revision,
        status=read.status,
        submitted_at=read.submitted_at,
        corrects_revision=corrected.revision if corrected is not None else None,
        correction_reason=read.correction_reason,
        choices=reads.DraftChoices.of(read),
        case_status=visible_status(actor, facts),
        outstanding=assigned - submitted,
        may_edit=may_edit,
        may_correct=can(actor, Action.CORRECT_READ, facts),
        label_maps=tuple(_label_maps(session, actor, read, wanted)),
        lesions=tuple(lesions),
    )


def _own_reads(session: Session, actor: Actor, case_id: int) -> list[Read]:
    """The actor's reads of case ``case_id``, newest revision first."""
    return list(
        session.scalars(
            select(Read)
            .join(User, User.id == Read.reader_id)
            .where(Read.case_id == case_id, User.username == actor.username)
            .order_by(Read.revision.desc(), Read.id.desc())
        )
    )


def _totals(session: Session, read_id: int) -> tuple[int, float]:
    rows = session.execute(select(Lesion.volume_ml).where(Lesion.read_id == read_id)).all()
    return len(rows), float(sum(volume for (volume,) in rows))


# --- permissions -----------------------------------------------------------------------------


def may_annotate(
    registry: Registry, actor: Actor, registry_id: str | None = None
) -> Refusal | None:
    """Why ``actor`` may not annotate (read) case ``registry_id``; ``None`` when they may.

    Without a case, whether they may read a case they are assigned to: what the window's
    "Annotate" toggle shows before any case is opened (the case's own refusal, e.g. not
    assigned, comes when a draft is opened on it).
    """
    if registry_id is None:
        return can(actor, Action.ANNOTATE)
    with registry.read() as session:
        case = _case(session, registry_id)
        return can(actor, Action.READ_CASE, reads.case_facts(session, actor, case.id))


# --- opening and saving a draft ----------------------------------------------------------------


def open_draft(
    registry: Registry, actor: Actor, registry_id: str, series_ids: Iterable[int] = ()
) -> OpenedRead:
    """Start or resume ``actor``'s draft read of ``registry_id`` and load it.

    The label maps of ``series_ids`` (all zero where nothing is drawn) and of every series
    the draft has lesions on are loaded. A reader whose read of the case is submitted, with
    no correction open, gets that read (``status`` submitted, ``may_edit`` refused): it is
    shown, not changed. Refused (:class:`~workbench.errors.PermissionDeniedError`, the
    policy's reason) for a user who may not read the case.
    """
    with registry.write() as session:
        case = _case(session, registry_id)
        own = _own_reads(session, actor, case.id)
        has_draft = any(read.status is ReadStatus.DRAFT for read in own)
        done = next((read for read in own if read.status is ReadStatus.SUBMITTED), None)
        if done is not None and not has_draft:
            read = done
        else:
            read = reads.start_or_resume_draft(session, actor, registry_id)
        return _opened(session, actor, read, series_ids)


def open_read(
    registry: Registry, actor: Actor, read_id: int, series_ids: Iterable[int] = ()
) -> OpenedRead:
    """Load ``actor``'s own read ``read_id`` (e.g. the draft :func:`latest_draft` names).

    Another reader's read is refused: by the blinding rule while the actor may not see it,
    and as another reader's once they may (a draft session edits one's own read only).
    """
    with registry.read() as session:
        read = _read(session, read_id)
        facts = reads.read_facts(session, actor, read)
        if not facts.read_is_own:
            require(actor, Action.SEE_READ, facts)
            require(actor, Action.EDIT_READ, facts)
        return _opened(session, actor, read, series_ids)


def load_label_maps(
    registry: Registry, actor: Actor, read_id: int, series_ids: Iterable[int]
) -> list[LabelMap]:
    """The label maps of read ``read_id`` on ``series_ids`` (blinded like :func:`load_labels`)."""
    with registry.read() as session:
        return _label_maps(session, actor, _read(session, read_id), series_ids)


def save_changes(
    registry: Registry,
    actor: Actor,
    read_id: int,
    expected_version: int,
    *,
    lesions: Sequence[ChangedLesions] = (),
    choices: DraftChoices | None = None,
) -> DraftSaved:
    """Save what changed in the actor's draft (see :func:`workbench.reads.save_draft_changes`).

    Raises :class:`~workbench.errors.ConflictError` when ``expected_version`` is stale
    (nothing written).
    """
    with registry.write() as session:
        saved = reads.save_draft_changes(
            session, actor, read_id, expected_version, lesions=lesions, choices=choices
        )
        return DraftSaved(read_id, saved.read.version, saved.written, saved.deleted)


def _submitted(
    session: Session,
    actor: Actor,
    read: Read,
    assessment: Discordance | None,
) -> Submission:
    assigned, submitted = _outstanding(session, read.case_id)
    count, total = _totals(session, read.id)
    facts = reads.read_facts(session, actor, read)
    assert read.imaging_judgement is not None
    assert read.submitted_at is not None
    return Submission(
        registry_id=_registry_id(session, read),
        read_id=read.id,
        revision=read.revision,
        version=read.version,
        submitted_at=read.submitted_at,
        correction=read.supersedes_id is not None,
        judgement=read.imaging_judgement,
        lesions=count,
        total_ml=total,
        assessment=assessment,
        readers_assigned=assigned,
        readers_submitted=submitted,
        case_status=visible_status(actor, facts),
        may_correct=can(actor, Action.CORRECT_READ, facts),
    )


def submit(
    registry: Registry,
    actor: Actor,
    read_id: int,
    expected_version: int,
    *,
    lesions: Sequence[ChangedLesions] = (),
    choices: DraftChoices | None = None,
    config: ReviewConfig | None = None,
) -> Submission:
    """Save the draft's last changes (if any) and submit it, in one transaction.

    Submits through :func:`workbench.reading_flow.submit`: a correction supersedes the read it
    corrects, and the last read in triggers the discordance assessment. Refused, nothing is
    written (a stale version raises :class:`~workbench.errors.ConflictError`, a draft
    without a judgement :class:`~workbench.errors.ValidationError`).
    """
    with registry.write() as session:
        version = expected_version
        if lesions or choices is not None:
            saved = reads.save_draft_changes(
                session, actor, read_id, expected_version, lesions=lesions, choices=choices
            )
            version = saved.read.version
        read, result = reading_flow.submit(session, actor, read_id, version, config=config)
        return _submitted(session, actor, read, result)


def set_choices_and_submit(
    registry: Registry,
    actor: Actor,
    registry_id: str,
    judgement: ImagingJudgement | str,
    confidence: int | None = None,
    comment: str | None = None,
    features: Mapping[str, Any] | None = None,
    *,
    config: ReviewConfig | None = None,
) -> Submission:
    """Set the judgement of ``actor``'s open draft of ``registry_id`` and submit it.

    What ``read submit`` of the command line does: the draft's lesions are kept as they are
    stored (no mask is saved again); ``confidence``, ``comment`` and ``features`` ``None``
    keep the draft's own. Refused when the actor has no open draft of the case.
    """
    with registry.write() as session:
        case = _case(session, registry_id)
        draft = next(
            (r for r in _own_reads(session, actor, case.id) if r.status is ReadStatus.DRAFT),
            None,
        )
        if draft is None:
            raise ValidationError(
                f"case {registry_id}: user {actor.username!r} has no open draft read of it; "
                "mark the lesions in the window (or with 'pml-workbench import-mask'), then "
                "submit"
            )
        stored = DraftChoices.of(draft)
        choices = DraftChoices(
            reads.checked_judgement(judgement),
            stored.confidence if confidence is None else confidence,
            stored.comment if comment is None else comment,
            stored.features if features is None else features,
        )
        saved = reads.save_draft_changes(session, actor, draft.id, draft.version, choices=choices)
        read, result = reading_flow.submit(
            session, actor, draft.id, saved.read.version, config=config
        )
        return _submitted(session, actor, read, result)


def start_correction(registry: Registry, actor: Actor, read_id: int, reason: str) -> DraftRef:
    """Open a correction of the actor's submitted read ``read_id``: a new draft revision.

    See :func:`workbench.reading_flow.start_correction` (an open correction is returned as
    it is; refused without a reason of at least 10 characters, or under a final decision).
    """
    with registry.write() as session:
        draft = reading_flow.start_correction(session, actor, read_id, reason)
        return _ref(session, draft)


# --- reads as the actor may see them -------------------------------------------------------------


def reads_of_case(registry: Registry, actor: Actor, registry_id: str) -> list[ReadRecord]:
    """Every read of case ``registry_id`` the actor may see (blinded), by reader and revision."""
    with registry.read() as session:
        return reading_flow.reads_of_case(session, actor, registry_id)


def fetch_read(registry: Registry, actor: Actor, read_id: int) -> ReadRecord:
    """Read ``read_id`` as the actor may see it (a status-only view before all reads are in)."""
    with registry.read() as session:
        return reading_flow.fetch_read(session, actor, read_id)


def list_lesions(registry: Registry, actor: Actor, read_id: int) -> list[LesionSummary]:
    """The lesions of read ``read_id`` (no masks), by label; the blinding rule applies."""
    with registry.read() as session:
        return reads.list_lesions(session, actor, read_id)


def load_labels(registry: Registry, actor: Actor, read_id: int, series_id: int) -> np.ndarray:
    """The label map of read ``read_id`` on series ``series_id``; the blinding rule applies."""
    with registry.read() as session:
        return reads.load_draft_labels(session, actor, read_id, series_id)


def latest_draft(registry: Registry, actor: Actor) -> DraftRef | None:
    """The actor's most recently saved open draft (any case), to offer back after a restart."""
    with registry.read() as session:
        read = reads.latest_draft(session, actor)
        return None if read is None else _ref(session, read)


# --- masks made elsewhere ------------------------------------------------------------------------


def import_mask(
    registry: Registry, actor: Actor, registry_id: str, series_id: int, path: Path
) -> MaskImport:
    """Add the lesions of the mask file ``path`` to the actor's draft of ``registry_id``.

    See :func:`workbench.lesions.import_mask.import_mask_into_draft` (NIfTI on the series
    grid, or DICOM SEG; new lesions fill only unmarked voxels). All or nothing.
    """
    from workbench.lesions.import_mask import import_mask_into_draft

    with registry.write() as session:
        read = import_mask_into_draft(session, actor, registry_id, series_id, path)
        on_series = [
            lesion
            for lesion in reads.list_lesions(session, actor, read.id)
            if lesion.series_id == series_id
        ]
        return MaskImport(
            registry_id=registry_id,
            read_id=read.id,
            series_id=series_id,
            lesions=len(on_series),
            total_ml=float(sum(lesion.volume_ml for lesion in on_series)),
        )
