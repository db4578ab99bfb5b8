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
raises :class:`~workbench.errors.ConflictError` before anything is written, and a
save that races another one is refused by the row's version counter at commit.

Access: a reader may only touch their own read. Blinding (who may *see* whose read,
DESIGN.md §8) is enforced here, where data is read, by :func:`check_read_access`:
:func:`load_draft_labels` and :func:`list_lesions` apply it when given the acting user, and
:mod:`workbench.reading_flow` applies it to every read it hands out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from adjudication.lesions import Hemisphere, LesionMeasurement, Location, hemisphere_of
from adjudication.text import describe_forbidden
from adjudication.vocabulary import ImagingJudgement, ReadStatus, Role
from workbench.actor import Actor
from workbench.errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
)
from workbench.lesions.codec import decode_mask, encode_mask, mask_sha256, sparse_mask_sha256
from workbench.lesions.errors import LesionMaskError
from workbench.lesions.labels import checked_labels, label_dtype
from workbench.lesions.measure import lesion_measurements
from workbench.policy import Action, Facts, can, require
from workbench.registry import audit
from workbench.registry.models import (
    Case,
    CaseAssignment,
    ImagingStudy,
    Lesion,
    Read,
    Series,
    User,
    utcnow,
)
from workbench.studies import series_affine

CONFIDENCE_RANGE = range(1, 6)
"""A reader's confidence in their judgement: 1 (very unsure) to 5 (certain)."""

MAX_COMMENT_LENGTH = 20_000
"""Longest free-text comment a read may carry (characters)."""


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


def checked_judgement(value: ImagingJudgement | str | None) -> ImagingJudgement | None:
    """``value`` as an :class:`ImagingJudgement` (``None`` stays ``None``); else refused."""
    if value is None:
        return None
    try:
        return ImagingJudgement(value)
    except ValueError:
        choices = ", ".join(j.value for j in ImagingJudgement)
        raise ValidationError(
            f"judgement: {value!r} is not one of {choices}", field="judgement"
        ) from None


@dataclass(frozen=True, slots=True)
class DraftChoices:
    """What a reader says of the read as a whole: judgement, confidence, comment, features.

    Checked on construction (a :class:`ValidationError` naming the field): the judgement is
    an :class:`~adjudication.vocabulary.ImagingJudgement` (a string is coerced), the
    confidence a whole number in :data:`CONFIDENCE_RANGE`, the comment at most
    :data:`MAX_COMMENT_LENGTH` characters. ``None`` means "not given".
    """

    judgement: ImagingJudgement | None = None
    confidence: int | None = None
    comment: str | None = None
    features: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "judgement", checked_judgement(self.judgement))
        confidence = self.confidence
        if confidence is not None and (
            isinstance(confidence, bool)
            or not isinstance(confidence, int)
            or confidence not in CONFIDENCE_RANGE
        ):
            raise ValidationError(
                f"confidence: {confidence!r} is not a whole number from "
                f"{CONFIDENCE_RANGE.start} to {CONFIDENCE_RANGE.stop - 1}",
                field="confidence",
            )
        if self.comment is not None and len(self.comment) > MAX_COMMENT_LENGTH:
            raise ValidationError(
                f"comment: longer than {MAX_COMMENT_LENGTH} characters", field="comment"
            )
        refused = describe_forbidden("comment", self.comment or "", multiline=True)
        if refused is not None:
            raise ValidationError(refused, field="comment")
        object.__setattr__(self, "features", dict(self.features))

    @classmethod
    def of(cls, read: Read) -> DraftChoices:
        """The choices stored on ``read``."""
        return cls(read.imaging_judgement, read.confidence, read.comment, dict(read.features or {}))

    def apply_to(self, read: Read) -> None:
        """Store these choices on ``read`` (the caller checks it may be changed)."""
        read.imaging_judgement = self.judgement
        read.confidence = self.confidence
        read.comment = self.comment
        read.features = dict(self.features)


@dataclass(frozen=True, slots=True, eq=False)
class ChangedLesions:
    """The lesions of one series that changed since the last save (:func:`save_draft_changes`).

    ``draft`` is the series' **whole** label map as it is now (the changed lesions are
    measured in it, and a label is checked against the others), with the details of the
    changed labels; ``labels`` are the labels whose mask or details changed. A changed label
    with voxels in the map is stored anew; one without voxels is deleted, if its stored
    lesion is on this series.
    """

    draft: LesionDraft
    labels: frozenset[int]

    def __post_init__(self) -> None:
        labels = frozenset(int(label) for label in self.labels)
        if any(label <= 0 for label in labels):
            raise ValidationError(
                f"series {self.draft.series_id}: changed labels must be positive, got "
                f"{sorted(labels)}"
            )
        object.__setattr__(self, "labels", labels)


@dataclass(frozen=True, slots=True)
class SavedChanges:
    """What :func:`save_draft_changes` wrote: the read, and the labels written and deleted."""

    read: Read
    written: tuple[int, ...]
    deleted: tuple[int, ...]


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


def _own_read(session: Session, actor: Actor, read_id: int) -> Read:
    """The read ``read_id`` if the policy lets ``actor`` change it (their own, as a reader)."""
    read = _get_read(session, read_id)
    require(actor, Action.EDIT_READ, read_facts(session, actor, read))
    return read


def assigned_reader_ids(session: Session, case_id: int) -> set[int]:
    """User ids of the readers assigned to case ``case_id``."""
    return set(
        session.scalars(
            select(CaseAssignment.user_id).where(
                CaseAssignment.case_id == case_id, CaseAssignment.role == Role.READER
            )
        )
    )


def assigned_panel_ids(session: Session, case_id: int) -> set[int]:
    """User ids of the panel members assigned to case ``case_id``."""
    return set(
        session.scalars(
            select(CaseAssignment.user_id).where(
                CaseAssignment.case_id == case_id, CaseAssignment.role == Role.PANEL
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


def case_facts(session: Session, actor: Actor, case_id: int) -> Facts:
    """The facts of case ``case_id`` that :func:`workbench.policy.can` decides on for ``actor``."""
    user_id = session.scalar(select(User.id).where(User.username == actor.username))
    assigned = session.execute(
        select(CaseAssignment.user_id, CaseAssignment.role).where(CaseAssignment.case_id == case_id)
    ).all()
    readers = {uid for uid, role in assigned if role is Role.READER}
    panel = {uid for uid, role in assigned if role is Role.PANEL}
    submitted = _submitted_reader_ids(session, case_id)
    own_submitted = user_id is not None and (
        session.scalar(
            select(Read.id)
            .where(
                Read.case_id == case_id,
                Read.reader_id == user_id,
                Read.status.in_((ReadStatus.SUBMITTED, ReadStatus.SUPERSEDED)),
            )
            .limit(1)
        )
        is not None
    )
    return Facts(
        case_status=session.scalar(select(Case.status).where(Case.id == case_id)),
        reader_of_case=user_id in readers,
        panel_of_case=user_id in panel,
        own_read_submitted=own_submitted,
        all_reads_in=bool(readers) and readers <= submitted,
    )


def read_facts(session: Session, actor: Actor, read: Read) -> Facts:
    """:func:`case_facts` of the read's case, with the facts of ``read`` itself."""
    facts = case_facts(session, actor, read.case_id)
    user_id = session.scalar(select(User.id).where(User.username == actor.username))
    return dataclasses.replace(
        facts, read_is_own=read.reader_id == user_id, read_status=read.status
    )


def check_read_access(
    session: Session, actor: Actor, read: Read, facts: Facts | None = None
) -> bool:
    """The blinding rule (:mod:`workbench.policy`): may ``actor`` see ``read``, or its status?

    Returns ``True`` when the actor may see the whole read (judgement, lesions, masks) and
    ``False`` when only its status (coordinators and administrators before every assigned
    reader has submitted). Raises :class:`PermissionDeniedError` otherwise. ``facts`` are
    the read's :func:`read_facts` when the caller has them already (one case, many reads).
    """
    facts = facts if facts is not None else read_facts(session, actor, read)
    if can(actor, Action.SEE_READ, facts) is None:
        return True
    require(actor, Action.SEE_READ_STATUS, facts)
    return False


def _check_may_see(session: Session, actor: Actor, read: Read) -> None:
    """Refuse unless ``actor`` may see the contents of ``read`` (see :func:`check_read_access`)."""
    require(actor, Action.SEE_READ, read_facts(session, actor, read))


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


def _draft_series(session: Session, read: Read, draft: LesionDraft) -> Series:
    """The series of ``draft``, checked: a series of the read's case, on whose grid it is."""
    series = _series_of_case(session, draft.series_id, read.case_id)
    grid = _grid_shape(series)
    if draft.labels.shape != grid:
        raise ValidationError(
            f"lesions: the label map for series {series.id} has shape "
            f"{draft.labels.shape}, but the series grid is {grid}; draw on that grid or "
            "resample the mask explicitly"
        )
    return series


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
        series = _draft_series(session, read, draft)
        measurements = lesion_measurements(draft.labels, series_affine(series))
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
            details = draft.details.get(m.label, LesionDetails())
            rows.append(Lesion(series_id=series.id, **_lesion_fields(draft.labels, m, details)))
    return rows


def _lesion_fields(
    labels: np.ndarray, m: LesionMeasurement, details: LesionDetails
) -> dict[str, Any]:
    """The columns of the row of lesion ``m.label`` of ``labels``: mask, measures, details."""
    if not all(math.isfinite(v) for v in m.centroid_lps):
        raise ValidationError(f"lesions: label {m.label}: centroid is not finite")
    # Work inside the lesion's bounding box: a full-grid comparison and hash per
    # lesion made saving a 20-lesion draft on a 256-slice grid take half a second.
    box = tuple(slice(lo, hi + 1) for lo, hi in zip(m.bbox_min, m.bbox_max, strict=True))
    inside = np.asarray(labels[box]) == m.label
    local = np.nonzero(inside)
    where = tuple(axis + s.start for axis, s in zip(local, box, strict=True))
    mask = np.zeros(labels.shape, dtype=np.uint8)
    mask[box][inside] = 1
    flat = np.ravel_multi_index(where, labels.shape)
    digest = sparse_mask_sha256(labels.shape, flat, np.ones(flat.size, np.uint32))
    hemisphere = details.hemisphere or hemisphere_of(m.centroid_lps)
    return {
        "label": m.label,
        "mask": encode_mask(mask),
        "mask_sha256": digest,
        "volume_ml": m.volume_ml,
        "centroid_lps": list(m.centroid_lps),
        "hemisphere": hemisphere.value,
        "location": details.location.value if details.location else None,
        "features": dict(details.features),
    }


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


def _read_totals(session: Session, read: Read) -> dict[str, Any]:
    """:func:`_read_snapshot` counted in the database (no lesion row or mask loaded)."""
    count, total = session.execute(
        select(func.count(Lesion.id), func.coalesce(func.sum(Lesion.volume_ml), 0.0)).where(
            Lesion.read_id == read.id
        )
    ).one()
    return {
        "status": read.status.value,
        "version": read.version,
        "imaging_judgement": read.imaging_judgement.value if read.imaging_judgement else None,
        "confidence": read.confidence,
        "lesions": int(count),
        "total_ml": round(float(total), 6),
    }


# --- public API ----------------------------------------------------------------------------


def start_or_resume_draft(session: Session, actor: Actor, registry_id: str) -> Read:
    """The actor's open draft of case ``registry_id``, created (and audited) if there is none.

    Requires the reader role and assignment to the case as one of its readers. A reader who
    already submitted a read of the case is refused:
    a correction is a new version with a reason, not a fresh draft.
    """
    case_id = session.scalar(select(Case.id).where(Case.registry_id == registry_id))
    if case_id is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    require(actor, Action.READ_CASE, case_facts(session, actor, case_id))
    reader_id = _user_id(session, actor)
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
    read = _own_read(session, actor, read_id)
    _check_version(read, expected_version)
    _check_draft(read)
    choices = DraftChoices(checked_judgement(judgement), confidence, comment, features or {})
    rows = _lesion_rows(session, read, lesions)
    before = _read_snapshot(read)

    read.lesions.clear()
    # Flush the deletes before the inserts: (read_id, label) is unique.
    session.flush()
    read.lesions.extend(rows)
    choices.apply_to(read)
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


def save_draft_changes(
    session: Session,
    actor: Actor,
    read_id: int,
    expected_version: int,
    *,
    lesions: Sequence[ChangedLesions] = (),
    choices: DraftChoices | None = None,
) -> SavedChanges:
    """Save only what changed in the draft: the changed lesions, the deleted ones, the choices.

    The counterpart of :func:`save_draft` for an editor that knows what it changed (the
    window's autosave): each changed label of ``lesions`` that has voxels is measured in its
    series' label map and its row updated in place (or inserted); one without voxels has its
    row deleted; every other lesion row is left as it is. ``choices`` ``None`` keeps the
    read's judgement, confidence, comment and features. The read's version moves on even when
    nothing else changed.

    A label is unique within a read: a changed label drawn on one series while another
    series (of this call, or stored and not part of it) still holds it is refused. Raises
    what :func:`save_draft` raises, in the same cases. Audited as ``read.draft_saved``, like
    :func:`save_draft`, with the labels written and deleted.
    """
    read = _own_read(session, actor, read_id)
    _check_version(read, expected_version)
    _check_draft(read)
    present: dict[int, tuple[Series, LesionMeasurement, LesionDraft]] = {}
    absent: dict[int, set[int]] = {}
    labels_on: dict[int, set[int]] = {}
    for change in lesions:
        draft = change.draft
        if draft.series_id in labels_on:
            raise ValidationError(
                f"lesions: series {draft.series_id} given twice; hand over one label map per series"
            )
        series = _draft_series(session, read, draft)
        measured = {m.label: m for m in lesion_measurements(draft.labels, series_affine(series))}
        labels_on[series.id] = set(measured)
        for label in sorted(change.labels):
            if label in measured:
                present[label] = (series, measured[label], draft)
            else:
                absent.setdefault(label, set()).add(series.id)
    for label, (series, _, _) in present.items():
        others = [sid for sid, held in labels_on.items() if label in held and sid != series.id]
        if others:
            raise ValidationError(
                f"lesions: label {label} is used on series {others[0]} and {series.id}; "
                "labels must be unique within a read"
            )
    touched = set(present) | set(absent)
    stored: dict[int, Lesion] = {}
    if touched:
        stored = {
            row.label: row
            for row in session.scalars(
                select(Lesion)
                .where(Lesion.read_id == read.id, Lesion.label.in_(sorted(touched)))
                .options(defer(Lesion.mask))  # replaced, never read
            )
        }
    for label, (series, _, _) in present.items():
        row = stored.get(label)
        if row is not None and row.series_id != series.id and row.series_id not in labels_on:
            raise ValidationError(
                f"lesions: label {label} is used on series {row.series_id} and {series.id}; "
                "labels must be unique within a read"
            )
    before = _read_totals(session, read)
    deleted = sorted(
        label
        for label, series_ids in absent.items()
        if label not in present and label in stored and stored[label].series_id in series_ids
    )
    for label in deleted:
        session.delete(stored[label])
    session.flush()
    for label, (series, m, draft) in sorted(present.items()):
        fields = _lesion_fields(draft.labels, m, draft.details.get(label, LesionDetails()))
        row = stored.get(label)
        if row is None:
            session.add(Lesion(read_id=read.id, series_id=series.id, **fields))
        else:
            row.series_id = series.id
            for name, value in fields.items():
                setattr(row, name, value)
    if choices is not None:
        choices.apply_to(read)
    read.updated_at = utcnow()  # always touch the row, so its version moves on
    session.flush()
    session.expire(read, ["lesions"])  # rows changed behind the collection's back
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="read.draft_saved",
        entity_type="read",
        entity_id=read.id,
        before=before,
        after={
            **_read_totals(session, read),
            "lesions_written": sorted(present),
            "lesions_deleted": deleted,
        },
    )
    return SavedChanges(read, tuple(sorted(present)), tuple(deleted))


def load_draft_labels(session: Session, actor: Actor, read_id: int, series_id: int) -> np.ndarray:
    """The label map of series ``series_id`` in read ``read_id``, rebuilt from its lesion rows.

    Indexed ``(i, j, k)`` on the series grid, in the smallest unsigned type that holds the
    labels; all zero when the read has no lesion on that series. The blinding rule applies
    (:func:`check_read_access`; status-only access is refused).
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
    session: Session, actor: Actor, read_id: int, facts: Facts | None = None
) -> list[LesionSummary]:
    """The lesions of read ``read_id`` as plain values, by label (no masks).

    The blinding rule applies (:func:`check_read_access`; status-only access is refused);
    ``facts`` as there.
    """
    read = _get_read(session, read_id)
    require(
        actor, Action.SEE_READ, facts if facts is not None else read_facts(session, actor, read)
    )
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
    read = _own_read(session, actor, read_id)
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
