"""A reader's draft read as a plain-Python model: what the window's annotation edits and saves.

:class:`DraftSession` is to the window's :class:`~workbench.ui.annotate.Annotator` what
napari's ``ViewerModel`` is to ``QtViewer``: it holds the read (its id, version, status,
revision, the correction it is, the reader's judgement, confidence, comment and features),
the label map of every series it has lesions on (and of the series asked for), the reader's
details of every lesion, the case's status as the reader may see it and the reads still
outstanding, and says what it may do (``may_edit``, ``may_correct``: the policy's
:class:`~workbench.policy.Refusal`, or ``None``). It imports no Qt; its events are plain
callbacks (:class:`viewers.events.Signal`).

Editing: a label map is edited in place (by a :class:`viewers.labels_edit.LabelEditor`
sharing the array) and the session told which box changed (:meth:`DraftSession.mark_edited`);
details and the reader's choices are set through the session. It keeps the label maps as they
were at the last save and, when saving, compares only the boxes edited since: **only the
lesions whose mask or details changed are written** (and those erased deleted), through
:func:`workbench.services.reading.save_changes`, with the read's version. A stale version
raises :class:`~workbench.errors.ConflictError`; the session keeps everything it holds
(``conflict`` says why) and saves nothing more. Labels are unique within a read, across all
its series.

Submitting and correcting go through :mod:`workbench.services.reading` too
(:meth:`DraftSession.submit`, :meth:`DraftSession.start_correction`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from adjudication.lesions import Hemisphere, Location, hemisphere_of
from adjudication.vocabulary import ImagingJudgement, ReadStatus
from viewers.events import Signal
from viewers.labels_edit import VoxelBox
from workbench.actor import Actor
from workbench.domain import CaseStatus
from workbench.errors import ConflictError, ValidationError
from workbench.policy import Action, Refusal
from workbench.reads import checked_judgement
from workbench.registry.db import Registry
from workbench.services import reading
from workbench.services.reading import (
    TRACK_KEY,
    ChangedLesions,
    DraftChoices,
    DraftSaved,
    LabelMap,
    LesionDetails,
    LesionDraft,
    LesionSummary,
    OpenedRead,
    Submission,
    carry_labels,
    label_volumes,
    track_of,
)

__all__ = ["DraftEvents", "DraftSession", "stored_details"]


def stored_details(lesion: LesionSummary) -> LesionDetails:
    """The reader's details of a stored lesion.

    The registry stores the suggested side when the reader chose none, so a stored side is
    read back as the reader's choice only when it differs from the centroid's suggestion.
    """
    side = None
    if lesion.hemisphere:
        try:
            chosen = Hemisphere(lesion.hemisphere)
        except ValueError:
            chosen = None
        if chosen is not None and chosen != hemisphere_of(lesion.centroid_lps):
            side = chosen
    place = None
    if lesion.location:
        try:
            place = Location(lesion.location)
        except ValueError:
            place = None
    return LesionDetails(hemisphere=side, location=place, features=dict(lesion.features))


class DraftEvents:
    """What a :class:`DraftSession` tells its listeners (plain callbacks)."""

    def __init__(self) -> None:
        self.labels = Signal()
        """``(series_id: int, box: VoxelBox)``: a label map changed inside ``box``."""
        self.details = Signal()
        """``(label: int)``: the reader's details of a lesion changed."""
        self.choices = Signal()
        """``()``: the judgement, confidence, comment or features changed."""
        self.dirty = Signal()
        """``(dirty: bool)``: whether there are unsaved changes, when that changes."""
        self.saved = Signal()
        """``(saved: DraftSaved)``: the changes were written; the read has a new version."""
        self.conflict = Signal()
        """``(message: str)``: a save was refused as stale; nothing more is saved."""
        self.submitted = Signal()
        """``(submission: Submission)``: the read was submitted (read-only from now on)."""


class DraftSession:
    """One reader's read of one case, loaded for annotation; see the module docstring.

    Open it with :meth:`open` (the actor's draft of a case, started if need be) or
    :meth:`open_read` (the actor's read by id).
    """

    def __init__(self, registry: Registry, actor: Actor, opened: OpenedRead) -> None:
        self.registry = registry
        self.actor = actor
        self.events = DraftEvents()
        self.registry_id = opened.registry_id
        self.read_id = opened.read_id
        self.revision = opened.revision
        self.corrects_revision = opened.corrects_revision
        """The revision this read corrects (a correction draft), if any."""
        self.correction_reason = opened.correction_reason
        self._version = opened.version
        self._status = opened.status
        self._submitted_at = opened.submitted_at
        self._case_status = opened.case_status
        self._outstanding = opened.outstanding
        self._may_edit = opened.may_edit
        self._may_correct = opened.may_correct
        self._choices = opened.choices
        self._labels: dict[int, np.ndarray] = {}
        self._saved: dict[int, np.ndarray] = {}
        self._affines: dict[int, np.ndarray] = {}
        self._volumes: dict[int, dict[int, float]] = {}
        self._details: dict[int, LesionDetails] = {
            lesion.label: stored_details(lesion) for lesion in opened.lesions
        }
        self._saved_details = dict(self._details)
        self._edited: dict[int, VoxelBox] = {}
        self._details_edited: dict[int, int] = {}
        """Label → the series it is on, for details changed since the last save."""
        self._choices_edited = False
        self._conflict: str | None = None
        self.saves = 0
        """How many saves wrote to the registry (a save with nothing to write does not)."""
        self.last_saved: DraftSaved | None = None
        """What the last save wrote."""
        for label_map in opened.label_maps:
            self._hold(label_map)

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls, registry: Registry, actor: Actor, registry_id: str, series_ids: Iterable[int] = ()
    ) -> DraftSession:
        """Start or resume ``actor``'s draft of ``registry_id``, with the label maps of
        ``series_ids`` and of every series it has lesions on.

        A reader whose read is submitted (no correction open) gets it read-only. Refused with
        the policy's reason for a user who may not read the case.
        """
        return cls(registry, actor, reading.open_draft(registry, actor, registry_id, series_ids))

    @classmethod
    def open_read(
        cls, registry: Registry, actor: Actor, read_id: int, series_ids: Iterable[int] = ()
    ) -> DraftSession:
        """Open ``actor``'s own read ``read_id``; another reader's read is refused."""
        return cls(registry, actor, reading.open_read(registry, actor, read_id, series_ids))

    def _hold(self, label_map: LabelMap) -> None:
        sid = int(label_map.series_id)
        self._labels[sid] = label_map.labels
        self._saved[sid] = label_map.labels.copy()
        self._affines[sid] = np.asarray(label_map.affine, dtype=np.float64)
        self._volumes.pop(sid, None)

    # --- the read ------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The read's version as last loaded or saved (the next save expects it)."""
        return self._version

    @property
    def status(self) -> ReadStatus:
        """Draft, submitted or superseded."""
        return self._status

    @property
    def submitted_at(self) -> dt.datetime | None:
        """When the read was submitted (UTC), if it was."""
        return self._submitted_at

    @property
    def case_status(self) -> CaseStatus | None:
        """The case's status as the actor may see it."""
        return self._case_status

    @property
    def outstanding(self) -> int:
        """How many assigned readers of the case had not submitted, as last loaded."""
        return self._outstanding

    @property
    def may_edit(self) -> Refusal | None:
        """Why the read may not be changed (submitted, another's...); ``None``: it may."""
        return self._may_edit

    @property
    def may_correct(self) -> Refusal | None:
        """Why the read may not be corrected (e.g. a final decision); ``None``: it may."""
        return self._may_correct

    @property
    def read_only(self) -> bool:
        """Whether the read is shown only (submitted, or not the actor's to change)."""
        return self._status is not ReadStatus.DRAFT or self._may_edit is not None

    @property
    def conflict(self) -> str | None:
        """Why saving stopped (a stale version), or ``None``."""
        return self._conflict

    @property
    def choices(self) -> DraftChoices:
        """The reader's judgement, confidence, comment and read-level features."""
        return self._choices

    @property
    def judgement(self) -> ImagingJudgement | None:
        """Whether the imaging is consistent with PML, as the reader says (or not yet)."""
        return self._choices.judgement

    @property
    def confidence(self) -> int | None:
        """The reader's confidence, 1 to 5, if given."""
        return self._choices.confidence

    @property
    def comment(self) -> str | None:
        """The reader's comment, if any."""
        return self._choices.comment

    @property
    def features(self) -> Mapping[str, Any]:
        """The read-level features."""
        return MappingProxyType(dict(self._choices.features))

    @property
    def dirty(self) -> bool:
        """Whether anything changed since the last save (it may compare equal after all)."""
        return bool(self._edited or self._details_edited or self._choices_edited)

    # --- label maps ----------------------------------------------------------------------

    @property
    def series_ids(self) -> tuple[int, ...]:
        """The series whose label maps the session holds."""
        return tuple(sorted(self._labels))

    def has_series(self, series_id: int) -> bool:
        """Whether the label map of ``series_id`` is held."""
        return int(series_id) in self._labels

    def labels(self, series_id: int) -> np.ndarray:
        """The label map of ``series_id`` (the live array: after editing it in place, call
        :meth:`mark_edited`). Raises ``KeyError`` for a series not held."""
        return self._labels[int(series_id)]

    def affine(self, series_id: int) -> np.ndarray:
        """The affine of ``series_id`` (voxel → LPS mm)."""
        return self._affines[int(series_id)]

    def ensure_series(self, series_id: int) -> np.ndarray:
        """The label map of ``series_id``, loaded from the registry if not held yet."""
        sid = int(series_id)
        if sid not in self._labels:
            for label_map in reading.load_label_maps(
                self.registry, self.actor, self.read_id, [sid]
            ):
                self._hold(label_map)
        return self._labels[sid]

    def volumes(self, series_id: int) -> dict[int, float]:
        """Label → mL of the lesions on ``series_id`` (measured once per change)."""
        sid = int(series_id)
        if sid not in self._volumes:
            self._volumes[sid] = label_volumes(self._labels[sid], self._affines[sid])
        return dict(self._volumes[sid])

    def labels_on(self, series_id: int) -> set[int]:
        """The labels drawn on ``series_id``."""
        return set(self.volumes(series_id))

    def used_labels(self) -> set[int]:
        """Every label drawn on any series of the read."""
        used: set[int] = set()
        for sid in self._labels:
            used |= self.labels_on(sid)
        return used

    # --- details -------------------------------------------------------------------------

    @property
    def details(self) -> Mapping[int, LesionDetails]:
        """The reader's details of every lesion, by label (a read-only view)."""
        return MappingProxyType(self._details)

    def details_of(self, label: int) -> LesionDetails:
        """The details of lesion ``label`` (empty when none were given)."""
        return self._details.get(int(label), LesionDetails())

    def series_details(self, series_id: int) -> dict[int, LesionDetails]:
        """The details of the lesions drawn on ``series_id``."""
        on = self.labels_on(series_id)
        return {label: d for label, d in self._details.items() if label in on}

    # --- editing -------------------------------------------------------------------------

    def _check_editable(self) -> None:
        if self.read_only:
            reason = self._may_edit.reason if self._may_edit else "the read is not a draft"
            raise ValidationError(f"read {self.read_id} cannot be changed: {reason}")

    def _set_dirty(self, was: bool) -> None:
        if self.dirty != was:
            self.events.dirty.emit(self.dirty)

    def mark_edited(self, series_id: int, box: VoxelBox | None = None) -> None:
        """The label map of ``series_id`` was edited in place inside ``box`` (None: anywhere)."""
        self._check_editable()
        sid = int(series_id)
        array = self._labels[sid]
        whole = VoxelBox.of_shape(array.shape)
        box = whole if box is None else box
        was = self.dirty
        held = self._edited.get(sid)
        self._edited[sid] = box if held is None else held.union(box)
        self._volumes.pop(sid, None)
        self._set_dirty(was)
        self.events.labels.emit(sid, box)

    def set_labels(self, series_id: int, labels: np.ndarray) -> None:
        """Replace the whole label map of ``series_id`` (on its grid) with ``labels``."""
        self._check_editable()
        sid = int(series_id)
        array = self.ensure_series(sid)
        values = np.asarray(labels)
        if values.shape != array.shape:
            raise ValidationError(
                f"series {sid}: the label map has shape {values.shape}, the series grid is "
                f"{array.shape}"
            )
        array[...] = values
        self.mark_edited(sid)

    def set_details(self, series_id: int, label: int, details: LesionDetails) -> None:
        """The reader's side, location and features of lesion ``label`` on ``series_id``."""
        self._check_editable()
        label = int(label)
        if self._details.get(label) == details:
            return
        was = self.dirty
        self._details[label] = details
        self._details_edited[label] = int(series_id)
        self._set_dirty(was)
        self.events.details.emit(label)

    def set_choices(
        self,
        judgement: ImagingJudgement | str | None,
        confidence: int | None,
        comment: str | None,
        features: Mapping[str, Any] | None = None,
    ) -> None:
        """The reader's judgement, confidence, comment (and features; ``None`` keeps them).

        Checked at once (:class:`ValidationError` naming the field); saved with the next save.
        """
        self._check_editable()
        choices = DraftChoices(
            checked_judgement(judgement),
            confidence,
            comment,
            self._choices.features if features is None else features,
        )
        if choices == self._choices:
            return
        was = self.dirty
        self._choices = choices
        self._choices_edited = True
        self._set_dirty(was)
        self.events.choices.emit()

    def carry(self, source: int, target: int, transform: np.ndarray | None = None) -> int:
        """Copy the lesions of series ``source`` onto series ``target``; how many were carried.

        Resampled through world space (:func:`~workbench.lesions.longitudinal.carry_labels`);
        ``transform`` maps target world → source world (an alignment), ``None`` for scanner
        coordinates. Each carried lesion gets a new label (labels are unique within a read)
        with the source's side and location and its track (``features["track"]``); a lesion
        whose track the target has already is skipped, and voxels the target already labels
        are kept. Saved with the next save.
        """
        self._check_editable()
        src, dst = int(source), int(target)
        if src == dst:
            raise ValidationError(f"series {src}: lesions are carried to another series")
        source_map = self._labels[src]
        target_map = self.ensure_series(dst)
        try:
            carried = carry_labels(
                source_map, self._affines[src], target_map.shape, self._affines[dst], transform
            )
        except ValueError as exc:
            raise ValidationError(f"cannot carry the lesions: {exc}") from None
        have_tracks = {
            track_of(label, self.details_of(label).features) for label in self.labels_on(dst)
        }
        used = self.used_labels()
        free = target_map == 0
        count = 0
        was = self.dirty
        for label in (int(v) for v in np.unique(carried) if v != 0):
            said = self.details_of(label)
            track = track_of(label, said.features)
            where = (carried == label) & free
            if track in have_tracks or not np.any(where):
                continue
            new = max(used | {0}) + 1
            used.add(new)
            target_map[where] = new
            self._details[new] = LesionDetails(
                hemisphere=said.hemisphere, location=said.location, features={TRACK_KEY: track}
            )
            self._details_edited[new] = dst
            count += 1
        self._set_dirty(was)
        if count:
            self.mark_edited(dst)
        return count

    # --- saving --------------------------------------------------------------------------

    def _changed_lesions(self) -> list[ChangedLesions]:
        """Per series, the labels whose mask or details differ from the last save."""
        touched: dict[int, set[int]] = {}
        for sid, box in self._edited.items():
            now = self._labels[sid][box.slices]
            before = self._saved[sid][box.slices]
            differ = now != before
            if np.any(differ):
                values = np.union1d(np.unique(now[differ]), np.unique(before[differ]))
                touched.setdefault(sid, set()).update(int(v) for v in values if v != 0)
        for label, sid in self._details_edited.items():
            if self._details.get(label) != self._saved_details.get(label):
                touched.setdefault(sid, set()).add(label)
        changes = []
        for sid, labels in sorted(touched.items()):
            if not labels:
                continue
            details = {label: self._details[label] for label in labels if label in self._details}
            draft = LesionDraft(sid, self._labels[sid], details)
            changes.append(ChangedLesions(draft, frozenset(labels)))
        return changes

    def _mark_saved(self) -> None:
        for sid, box in self._edited.items():
            self._saved[sid][box.slices] = self._labels[sid][box.slices]
        self._saved_details = dict(self._details)
        self._edited.clear()
        self._details_edited.clear()
        self._choices_edited = False

    def _conflicted(self, exc: ConflictError) -> None:
        self._conflict = str(exc)
        self.events.conflict.emit(self._conflict)

    def save(self) -> bool:
        """Write what changed since the last save; ``True`` when something was written.

        Raises :class:`ConflictError` when the read was saved elsewhere since (and every
        time after: the session keeps its labels and saves nothing more; reopen to continue
        from the saved read), and what the registry refuses (nothing written, the changes
        are kept for the next try).
        """
        if self._conflict is not None:
            raise ConflictError(self._conflict)
        if not self.dirty:
            return False
        self._check_editable()
        changes = self._changed_lesions()
        choices = self._choices if self._choices_edited else None
        if not changes and choices is None:
            self._mark_saved()  # edited back to what was saved: nothing to write
            self.events.dirty.emit(False)
            return False
        try:
            saved = reading.save_changes(
                self.registry,
                self.actor,
                self.read_id,
                self._version,
                lesions=changes,
                choices=choices,
            )
        except ConflictError as exc:
            self._conflicted(exc)
            raise
        self._version = saved.version
        self._mark_saved()
        self.saves += 1
        self.last_saved = saved
        self.events.saved.emit(saved)
        self.events.dirty.emit(False)
        return True

    # --- submitting and correcting ---------------------------------------------------------

    def submit(
        self,
        judgement: ImagingJudgement | str | None,
        confidence: int | None = None,
        comment: str | None = None,
    ) -> Submission:
        """Save what changed with these choices and submit the read, in one transaction.

        Refused (nothing written, everything kept here): a stale version
        (:class:`ConflictError`, and saving stops), no judgement or a bad value
        (:class:`ValidationError` naming the field). Read-only afterwards.
        """
        self._check_editable()
        if self._conflict is not None:
            raise ConflictError(self._conflict)
        choices = DraftChoices(
            checked_judgement(judgement),
            confidence,
            comment,
            self._choices.features,
        )
        if choices.judgement is None:
            raise ValidationError(
                "judgement: say whether the imaging is consistent with PML before submitting",
                field="judgement",
            )
        try:
            result = reading.submit(
                self.registry,
                self.actor,
                self.read_id,
                self._version,
                lesions=self._changed_lesions(),
                choices=choices,
            )
        except ConflictError as exc:
            self._conflicted(exc)
            raise
        self._choices = choices
        self._mark_saved()
        self._version = result.version
        self._status = ReadStatus.SUBMITTED
        self._submitted_at = result.submitted_at
        self._case_status = result.case_status
        self._outstanding = result.outstanding
        self._may_edit = Refusal(
            Action.EDIT_READ,
            f"read {self.read_id} is submitted: it cannot be changed, only corrected (a new "
            "revision with a reason)",
        )
        self._may_correct = result.may_correct
        self.events.submitted.emit(result)
        self.events.dirty.emit(False)
        return result

    def start_correction(self, reason: str) -> DraftSession:
        """Open a correction of this submitted read (a new draft revision, with ``reason``)
        and return the session on it; this session is left as it is."""
        if self._status is not ReadStatus.SUBMITTED:
            raise ValidationError(
                f"read {self.read_id} is {self._status.value}: only the submitted read in force "
                "can be corrected"
            )
        ref = reading.start_correction(self.registry, self.actor, self.read_id, reason)
        return DraftSession.open_read(self.registry, self.actor, ref.read_id, self.series_ids)

    # --- what it holds -------------------------------------------------------------------

    def totals(self) -> tuple[int, float, tuple[int, ...]]:
        """``(lesions, total mL, series with lesions)`` over every series held."""
        count, total, series = 0, 0.0, []
        for sid in self.series_ids:
            volumes = self.volumes(sid)
            if volumes:
                series.append(sid)
            count += len(volumes)
            total += sum(volumes.values())
        return count, total, tuple(series)
