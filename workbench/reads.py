"""A reader's read of one case: the draft, its lesions, and submission.

A read is one reader's independent review of one case (DESIGN.md §2). While it is a draft the
workbench saves it as the reader works (:func:`save_draft`, each save a whole snapshot) and
offers it back after a restart (:func:`latest_draft`); :func:`submit_read` freezes it.

Lesions are stored one row per lesion, each with its own compressed binary mask on the grid of
its series (:mod:`workbench.lesions.codec`), so a lesion is addressable on its own (agreement,
adjudication) and the label map of a series is rebuilt from the rows
(:func:`load_draft_labels`). The caller hands over the **whole label map** of a series
(:class:`LesionDraft`): every non-zero label is one lesion. Volumes and centroids are always
measured here from the mask and the series' stored affine, never taken from the caller.

Every save checks the read's version (optimistic concurrency): a stale ``expected_version``
raises :class:`~workbench.registry.errors.ConflictError` before anything is written, and a
save that races another one is refused by the row's version counter at commit.

Access: a reader may only touch their own read. Blinding (who may *see* whose read,
DESIGN.md §8) is enforced here, where data is read, by :func:`check_read_access`:
:func:`load_draft_labels` and :func:`list_lesions` apply it when given the acting user, and
:mod:`workbench.review_flow` applies it to every read it hands out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from adjudication.lesions import Hemisphere, Location
from adjudication.vocabulary import ImagingJudgement, ReadStatus, Role
from workbench.lesions.codec import decode_mask, encode_mask, mask_sha256, sparse_mask_sha256
from workbench.lesions.errors import LesionMaskError
from workbench.lesions.labels import checked_labels, label_dtype
from workbench.lesions.measure import hemisphere_of, measure_labels
from workbench.registry import audit
from workbench.registry.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from workbench.registry.models import (
    Case,
    ImagingStudy,
    Lesion,
    Read,
    ReaderAssignment,
    Series,
    User,
    utcnow,
)
from workbench.studies import series_affine
from workbench.users import Actor

CONFIDENCE_RANGE = range(1, 6)
"""A reader's confidence in their judgement: 1 (very unsure) to 5 (certain)."""

MAX_COMMENT_LENGTH = 20_000
"""Longest free-text comment a read may carry (characters)."""

_STATUS_ROLES = (Role.COORDINATOR, Role.ADMIN)
"""Roles that may see the status of any read, and its contents once all reads are in."""


@dataclass(frozen=True, slots=True)
class LesionDetails:
    """What a reader says about one lesion: side, location and PML features.

    ``hemisphere`` ``None`` means "not chosen": the workbench then stores the side suggested by
    the centroid (LPS ``x`` against the midline ``x = 0``).
    """

    hemisphere: Hemisphere | None = None
    location: Location | None = None
    features: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            if self.hemisphere is not None:
                object.__setattr__(self, "hemisphere", Hemisphere(self.hemisphere))
            if self.location is not None:
                object.__setattr__(self, "location", Location(self.location))
        except ValueError as exc:
            raise ValidationError(f"lesion details: {exc}") from None
        if not all(isinstance(key, str) for key in self.features):
            raise ValidationError("lesion details: feature names must be strings")
        object.__setattr__(self, "features", dict(self.features))


@dataclass(frozen=True, slots=True, eq=False)
class LesionDraft:
    """The whole label map a reader drew on one series, with what they said per label.

    ``labels`` is indexed ``(i, j, k)`` on the series grid (0 = background); each non-zero
    label is one lesion. Labels are unique within a read, across all its series. ``details``
    maps a label to its :class:`LesionDetails`; labels without an entry get empty details.
    """

    series_id: int
    labels: np.ndarray
    details: Mapping[int, LesionDetails] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            array = checked_labels(self.labels, f"series {self.series_id} label map")
        except LesionMaskError as exc:
            raise ValidationError(str(exc)) from None
        if array.ndim != 3:
            raise ValidationError(
                f"series {self.series_id} label map: must be 3-D, got shape {array.shape}"
            )
        object.__setattr__(self, "labels", array)
        for label, details in self.details.items():
            if not isinstance(details, LesionDetails):
                raise ValidationError(
                    f"series {self.series_id} label {label}: details must be LesionDetails"
                )
        object.__setattr__(self, "details", dict(self.details))


@dataclass(frozen=True, slots=True)
class LesionSummary:
    """One stored lesion as plain values (no mask), for lists and reports."""

    id: int
    series_id: int
    label: int
    volume_ml: float
    centroid_lps: tuple[float, float, float]
    hemisphere: str | None
    location: str | None
    features: dict[str, Any]
    mask_sha256: str


# --- helpers -------------------------------------------------------------------------------


def _user_id(session: Session, actor: Actor) -> int:
    user_id = session.scalar(select(User.id).where(User.username == actor.username))
    if user_id is None:
        raise NotFoundError(f"user {actor.username!r} is not known to this registry")
    return user_id


def _get_read(session: Session, read_id: int) -> Read:
    read = session.get(Read, read_id)
    if read is None:
        raise NotFoundError(f"no read {read_id} in this registry")
    return read


def _own_read(session: Session, actor: Actor, read_id: int, action: str) -> Read:
    """The read ``read_id`` if ``actor`` is a reader and it is theirs."""
    actor.require(Role.READER, action=action)
    read = _get_read(session, read_id)
    if read.reader_id != _user_id(session, actor):
        raise PermissionDeniedError(
            f"user {actor.username!r} may not {action}: read {read_id} is another reader's"
        )
    return read


def assigned_reader_ids(session: Session, case_id: int) -> set[int]:
    """User ids of the readers assigned to case ``case_id``."""
    return set(
        session.scalars(
            select(ReaderAssignment.user_id).where(
                ReaderAssignment.case_id == case_id, ReaderAssignment.role == Role.READER
            )
        )
    )


def assigned_panel_ids(session: Session, case_id: int) -> set[int]:
    """User ids of the panel members assigned to case ``case_id``."""
    return set(
        session.scalars(
            select(ReaderAssignment.user_id).where(
                ReaderAssignment.case_id == case_id, ReaderAssignment.role == Role.PANEL
            )
        )
    )


def _submitted_reader_ids(session: Session, case_id: int) -> set[int]:
    return set(
        session.scalars(
            select(Read.reader_id).where(
                Read.case_id == case_id, Read.status == ReadStatus.SUBMITTED
            )
        )
    )


def all_reads_in(session: Session, case_id: int) -> bool:
    """Whether the case has assigned readers and every one of them has submitted a read."""
    assigned = assigned_reader_ids(session, case_id)
    return bool(assigned) and assigned <= _submitted_reader_ids(session, case_id)


def check_read_access(session: Session, actor: Actor | None, read: Read) -> bool:
    """The blinding rule: may ``actor`` see ``read``, and its contents or its status only?

    Returns ``True`` when the actor may see the whole read (judgement, lesions, masks) and
    ``False`` when only its status (coordinators and administrators before every assigned
    reader has submitted). Raises :class:`PermissionDeniedError` otherwise. ``actor`` ``None``
    is the workbench itself (exports, discordance), which sees everything.

    - Anyone sees their own read.
    - A reader assigned to the case sees another reader's *submitted* read once they have
      submitted their own read of the case; a reader not assigned to the case sees nothing.
    - A panel member of the case sees its submitted reads once every assigned reader has
      submitted; a panel member not on the case's panel sees nothing.
    - A coordinator or administrator sees the status of every read, and the submitted reads
      in full once every assigned reader has submitted.
    """
    if actor is None:
        return True
    user_id = _user_id(session, actor)
    if read.reader_id == user_id:
        return True
    submitted = read.status is ReadStatus.SUBMITTED
    if (
        submitted
        and Role.READER in actor.roles
        and user_id in assigned_reader_ids(session, read.case_id)
        and user_id in _submitted_reader_ids(session, read.case_id)
    ):
        return True
    complete = all_reads_in(session, read.case_id)
    if (
        Role.PANEL in actor.roles
        and complete
        and submitted
        and user_id in assigned_panel_ids(session, read.case_id)
    ):
        return True
    if actor.roles.intersection(_STATUS_ROLES):
        return complete and submitted
    raise PermissionDeniedError(
        f"user {actor.username!r} may not open read {read.id}: it is another reader's, and "
        "reads are blinded until you have submitted your own read of this case (readers) or "
        "every assigned reader has submitted (panel)"
    )


def _check_may_see(session: Session, actor: Actor | None, read: Read) -> None:
    """Refuse unless ``actor`` may see the contents of ``read`` (see :func:`check_read_access`)."""
    if not check_read_access(session, actor, read):
        assert actor is not None  # the workbench itself always sees contents
        raise PermissionDeniedError(
            f"user {actor.username!r} may not open the lesions of read {read.id}: reads are "
            "blinded until every assigned reader has submitted"
        )


def _check_version(read: Read, expected_version: int) -> None:
    if read.version != expected_version:
        raise ConflictError(
            f"read {read.id} was saved elsewhere since you opened it (version {read.version}, "
            f"you had {expected_version}); nothing was saved. Reload it, then apply your "
            "change again."
        )


def _check_draft(read: Read) -> None:
    if read.status is not ReadStatus.DRAFT:
        raise ValidationError(
            f"read {read.id} is {read.status.value}, not a draft: a submitted read cannot be "
            "changed (a correction is a new version with a reason)"
        )


def _series_of_case(session: Session, series_id: int, case_id: int) -> Series:
    series = session.get(Series, series_id)
    if series is None:
        raise ValidationError(f"lesions: no series {series_id} in this registry")
    study_case = session.scalar(
        select(ImagingStudy.case_id).where(ImagingStudy.id == series.study_id)
    )
    if study_case != case_id:
        raise ValidationError(f"lesions: series {series_id} does not belong to this read's case")
    return series


def _grid_shape(series: Series) -> tuple[int, ...]:
    return tuple(int(n) for n in series.shape)


def _summary(lesion: Lesion) -> LesionSummary:
    c = lesion.centroid_lps
    return LesionSummary(
        id=lesion.id,
        series_id=lesion.series_id,
        label=lesion.label,
        volume_ml=lesion.volume_ml,
        centroid_lps=(float(c[0]), float(c[1]), float(c[2])),
        hemisphere=lesion.hemisphere,
        location=lesion.location,
        features=dict(lesion.features),
        mask_sha256=lesion.mask_sha256,
    )


def _lesion_rows(session: Session, read: Read, drafts: Sequence[LesionDraft]) -> list[Lesion]:
    """New (unsaved) lesion rows for ``drafts``, checked against the series grids."""
    seen_series: set[int] = set()
    seen_labels: dict[int, int] = {}
    rows: list[Lesion] = []
    for draft in drafts:
        if draft.series_id in seen_series:
            raise ValidationError(
                f"lesions: series {draft.series_id} given twice; hand over one label map per series"
            )
        seen_series.add(draft.series_id)
        series = _series_of_case(session, draft.series_id, read.case_id)
        grid = _grid_shape(series)
        if draft.labels.shape != grid:
            raise ValidationError(
                f"lesions: the label map for series {series.id} has shape "
                f"{draft.labels.shape}, but the series grid is {grid}; draw on that grid or "
                "resample the mask explicitly"
            )
        affine = series_affine(series)
        measurements = measure_labels(draft.labels, affine)
        present = {m.label for m in measurements}
        unknown = sorted(set(draft.details) - present)
        if unknown:
            raise ValidationError(
                f"lesions: details given for label(s) {unknown} of series {series.id}, "
                "which have no voxels"
            )
        for m in measurements:
            if m.label in seen_labels:
                raise ValidationError(
                    f"lesions: label {m.label} is used on series {seen_labels[m.label]} and "
                    f"{series.id}; labels must be unique within a read"
                )
            seen_labels[m.label] = series.id
            if not all(math.isfinite(v) for v in m.centroid_lps):
                raise ValidationError(f"lesions: label {m.label}: centroid is not finite")
            # Work inside the lesion's bounding box: a full-grid comparison and hash per
            # lesion made saving a 20-lesion draft on a 256-slice grid take half a second.
            box = tuple(slice(lo, hi + 1) for lo, hi in zip(m.bbox_min, m.bbox_max, strict=True))
            inside = np.asarray(draft.labels[box]) == m.label
            local = np.nonzero(inside)
            where = tuple(axis + s.start for axis, s in zip(local, box, strict=True))
            mask = np.zeros(draft.labels.shape, dtype=np.uint8)
            mask[box][inside] = 1
            flat = np.ravel_multi_index(where, draft.labels.shape)
            digest = sparse_mask_sha256(draft.labels.shape, flat, np.ones(flat.size, np.uint32))
            details = draft.details.get(m.label, LesionDetails())
            hemisphere = details.hemisphere or hemisphere_of(m.centroid_lps)
            rows.append(
                Lesion(
                    series_id=series.id,
                    label=m.label,
                    mask=encode_mask(mask),
                    mask_sha256=digest,
                    volume_ml=m.volume_ml,
                    centroid_lps=list(m.centroid_lps),
                    hemisphere=hemisphere.value,
                    location=details.location.value if details.location else None,
                    features=dict(details.features),
                )
            )
    return rows


def _read_snapshot(read: Read) -> dict[str, Any]:
    lesions = list(read.lesions)
    return {
        "status": read.status.value,
        "version": read.version,
        "imaging_judgement": read.imaging_judgement.value if read.imaging_judgement else None,
        "confidence": read.confidence,
        "lesions": len(lesions),
        "total_ml": round(sum(lesion.volume_ml for lesion in lesions), 6),
    }


# --- public API ----------------------------------------------------------------------------


def start_or_resume_draft(session: Session, actor: Actor, registry_id: str) -> Read:
    """The actor's open draft of case ``registry_id``, created (and audited) if there is none.

    Requires the reader role and assignment to the case as one of its readers. A reader who
    already submitted a read of the case is refused:
    a correction is a new version with a reason, not a fresh draft.
    """
    actor.require(Role.READER, action="read cases")
    case_id = session.scalar(select(Case.id).where(Case.registry_id == registry_id))
    if case_id is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    reader_id = _user_id(session, actor)
    if reader_id not in assigned_reader_ids(session, case_id):
        raise PermissionDeniedError(
            f"user {actor.username!r} may not read case {registry_id}: they are not one of its "
            "assigned readers (a coordinator assigns them)"
        )
    mine = list(
        session.scalars(
            select(Read)
            .where(Read.case_id == case_id, Read.reader_id == reader_id)
            .order_by(Read.revision.desc(), Read.id.desc())
        )
    )
    for read in mine:
        if read.status is ReadStatus.DRAFT:
            return read
    if any(read.status is ReadStatus.SUBMITTED for read in mine):
        raise ValidationError(
            f"case {registry_id}: you have submitted your read already; it cannot be "
            "reopened as a draft"
        )
    revision = (
        session.scalar(
            select(func.max(Read.revision)).where(
                Read.case_id == case_id, Read.reader_id == reader_id
            )
        )
        or 0
    ) + 1
    read = Read(case_id=case_id, reader_id=reader_id, revision=revision, status=ReadStatus.DRAFT)
    session.add(read)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="read.draft_started",
        entity_type="read",
        entity_id=read.id,
        after={"case": registry_id, "revision": revision},
    )
    return read


def save_draft(
    session: Session,
    actor: Actor,
    read_id: int,
    expected_version: int,
    *,
    lesions: Sequence[LesionDraft],
    judgement: ImagingJudgement | str | None = None,
    confidence: int | None = None,
    comment: str | None = None,
    features: Mapping[str, Any] | None = None,
) -> Read:
    """Save the whole draft: its lesions (replacing the stored ones), judgement and notes.

    Each save is a snapshot of the reader's work: ``None`` clears a field, and ``lesions``
    replaces every lesion of the read (an empty sequence removes them all). Volumes and
    centroids are measured here from the masks and the series' affines.

    Raises :class:`ConflictError` when ``expected_version`` is not the read's version (nothing
    written), :class:`ValidationError` for a submitted read, a mask off its series' grid, a
    series of another case, or a label used twice, and :class:`PermissionDeniedError` for
    another reader's read. Audited as ``read.draft_saved`` (lesion count and total mL, never
    the masks).
    """
    read = _own_read(session, actor, read_id, "save this read")
    _check_version(read, expected_version)
    _check_draft(read)
    try:
        judgement_value = ImagingJudgement(judgement) if judgement is not None else None
    except ValueError:
        choices = ", ".join(j.value for j in ImagingJudgement)
        raise ValidationError(f"judgement: {judgement!r} is not one of {choices}") from None
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, int)
        or confidence not in CONFIDENCE_RANGE
    ):
        raise ValidationError(
            f"confidence: {confidence!r} is not a whole number from "
            f"{CONFIDENCE_RANGE.start} to {CONFIDENCE_RANGE.stop - 1}"
        )
    if comment is not None and len(comment) > MAX_COMMENT_LENGTH:
        raise ValidationError(f"comment: longer than {MAX_COMMENT_LENGTH} characters")
    rows = _lesion_rows(session, read, lesions)
    before = _read_snapshot(read)

    read.lesions.clear()
    # Flush the deletes before the inserts: (read_id, label) is unique.
    session.flush()
    read.lesions.extend(rows)
    read.imaging_judgement = judgement_value
    read.confidence = confidence
    read.comment = comment
    read.features = dict(features) if features is not None else {}
    read.updated_at = utcnow()  # always touch the row, so its version moves on
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="read.draft_saved",
        entity_type="read",
        entity_id=read.id,
        before=before,
        after=_read_snapshot(read),
    )
    return read


def load_draft_labels(
    session: Session, read_id: int, series_id: int, *, actor: Actor | None = None
) -> np.ndarray:
    """The label map of series ``series_id`` in read ``read_id``, rebuilt from its lesion rows.

    Indexed ``(i, j, k)`` on the series grid, in the smallest unsigned type that holds the
    labels; all zero when the read has no lesion on that series. With ``actor``, the blinding
    rule applies (:func:`check_read_access`; status-only access is refused).
    """
    read = _get_read(session, read_id)
    _check_may_see(session, actor, read)
    series = session.get(Series, series_id)
    if series is None:
        raise NotFoundError(f"no series {series_id} in this registry")
    grid = _grid_shape(series)
    rows = list(
        session.scalars(
            select(Lesion)
            .where(Lesion.read_id == read_id, Lesion.series_id == series_id)
            .order_by(Lesion.label)
        )
    )
    high = max((row.label for row in rows), default=0)
    labels = np.zeros(grid, dtype=label_dtype(max(high, 1)))
    for row in rows:
        mask = decode_mask(row.mask)
        if mask.shape != grid:
            raise ValidationError(
                f"lesion {row.label} of read {read_id}: stored mask shape {mask.shape} is not "
                f"the series grid {grid}"
            )
        if mask_sha256(mask) != row.mask_sha256:
            raise ValidationError(
                f"lesion {row.label} of read {read_id}: stored mask does not match its checksum"
            )
        labels[mask != 0] = row.label
    return labels


def list_lesions(
    session: Session, read_id: int, *, actor: Actor | None = None
) -> list[LesionSummary]:
    """The lesions of read ``read_id`` as plain values, by label (no masks).

    With ``actor``, the blinding rule applies (:func:`check_read_access`; status-only access
    is refused).
    """
    read = _get_read(session, read_id)
    _check_may_see(session, actor, read)
    rows = session.scalars(
        select(Lesion)
        .where(Lesion.read_id == read_id)
        .order_by(Lesion.label)
        .options(defer(Lesion.mask))  # the summaries need no mask blobs
    )
    return [_summary(row) for row in rows]


def latest_draft(session: Session, actor: Actor) -> Read | None:
    """The actor's most recently saved open draft (any case), to offer back after a restart."""
    user_id = session.scalar(select(User.id).where(User.username == actor.username))
    if user_id is None:
        return None
    return session.scalars(
        select(Read)
        .where(Read.reader_id == user_id, Read.status == ReadStatus.DRAFT)
        .order_by(Read.updated_at.desc(), Read.id.desc())
        .limit(1)
    ).first()


def submit_read(session: Session, actor: Actor, read_id: int, expected_version: int) -> Read:
    """Submit the actor's draft: it becomes immutable. Needs a judgement; audited.

    Raises :class:`ConflictError` for a stale ``expected_version`` and
    :class:`ValidationError` for a read that is not a draft or has no judgement.
    """
    read = _own_read(session, actor, read_id, "submit this read")
    _check_version(read, expected_version)
    _check_draft(read)
    if read.imaging_judgement is None:
        raise ValidationError(
            f"read {read.id}: say whether the imaging is consistent with PML before submitting"
        )
    before = _read_snapshot(read)
    now = utcnow()
    read.status = ReadStatus.SUBMITTED
    read.submitted_at = now
    read.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="read.submitted",
        entity_type="read",
        entity_id=read.id,
        before=before,
        after=_read_snapshot(read),
    )
    return read
