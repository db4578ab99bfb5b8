"""The reading room without a window: :class:`DraftSession` and :mod:`workbench.services.reading`.

One case with two series (day 0 and day 35, same grid), readers ``rad1`` and ``rad2``
assigned, on a SQLite file and on PostgreSQL. No Qt is imported here.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from sqlalchemy import select

from adjudication.lesions import Hemisphere, Location
from adjudication.vocabulary import ImagingJudgement, ReadStatus, Role
from viewers.labels_edit import VoxelBox
from workbench.cases import NewCase, create_case
from workbench.domain import CaseStatus, Condition, SequenceClass, Sex, SourceKind
from workbench.errors import ConflictError, PermissionDeniedError, ValidationError
from workbench.reading_flow import assign
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, Lesion
from workbench.services import reading
from workbench.services.draft import DraftSession
from workbench.services.reading import LesionDetails
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.users import Actor, add_user, resolve_actor

CASE = "PML-S-0001"
SHAPE = (48, 40, 24)
AFFINE = np.diag([0.9, 0.9, 3.0, 1.0])
AFFINE[:3, 3] = (-20.0, -18.0, -30.0)


@dataclass(frozen=True)
class Setup:
    registry: Registry
    coordinator: Actor
    rad1: Actor
    rad2: Actor
    series: tuple[int, int]
    """Day 0, day 35."""


@pytest.fixture
def setup(registry: Registry) -> Setup:
    """The case with two series, in reading by rad1 and rad2 (each backend)."""
    ids = []
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        for name in ("rad1", "rad2"):
            add_user(session, name, name.title(), {Role.READER}, by=coordinator)
        create_case(
            session, coordinator, NewCase(CASE, "NL-AMS", Sex.FEMALE, "40-49", Condition.HIV)
        )
        for day in (0, 35):
            study = add_study(session, coordinator, CASE, day, description=f"day {day}")
            series = add_series(
                session,
                coordinator,
                study,
                SeriesRecord(
                    source_kind=SourceKind.NIFTI,
                    source_uri=f"/site/flair-{day}.nii.gz",
                    content_sha256=hashlib.sha256(f"flair-{day}".encode()).hexdigest(),
                    sequence_class=SequenceClass.FLAIR,
                    shape=SHAPE,
                    affine=AFFINE,
                    dtype="int16",
                ),
            )
            session.flush()
            ids.append(series.id)
        session.scalars(
            select(Case).where(Case.registry_id == CASE)
        ).one().status = CaseStatus.READY
    with registry.write() as session:
        assign(session, coordinator, CASE, ["rad1", "rad2"], Role.READER)
        rad1, rad2 = resolve_actor(session, "rad1"), resolve_actor(session, "rad2")
    return Setup(registry, coordinator, rad1, rad2, (ids[0], ids[1]))


def twenty_lesions() -> np.ndarray:
    """Twenty 3×3×2 lesions, labels 1 to 20, on the series grid."""
    labels = np.zeros(SHAPE, dtype=np.uint16)
    for n in range(20):
        i, j, k = 2 + (n % 5) * 9, 2 + (n // 5) * 9, 2 + (n % 3) * 6
        labels[i : i + 3, j : j + 3, k : k + 2] = n + 1
    return labels


def rows(s: Setup, read_id: int) -> dict[int, tuple[int, int, str]]:
    """``label → (row id, row version, mask checksum)`` of the read's lesion rows."""
    with s.registry.read() as session:
        return {
            lesion.label: (lesion.id, lesion.version, lesion.mask_sha256)
            for lesion in session.scalars(select(Lesion).where(Lesion.read_id == read_id))
        }


def written(draft: DraftSession) -> tuple[int, ...]:
    """The labels the draft's last save wrote."""
    assert draft.last_saved is not None
    return draft.last_saved.written


def deleted(draft: DraftSession) -> tuple[int, ...]:
    """The labels the draft's last save deleted."""
    assert draft.last_saved is not None
    return draft.last_saved.deleted


def last_save_event(s: Setup) -> dict[str, object]:
    with s.registry.read() as session:
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "read.draft_saved")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event is not None
        return dict(event.after or {})


def drawn(s: Setup) -> DraftSession:
    """rad1's draft with the twenty lesions on day 0, saved."""
    draft = DraftSession.open(s.registry, s.rad1, CASE, [s.series[0]])
    draft.set_labels(s.series[0], twenty_lesions())
    assert draft.save()
    return draft


# --- opening -----------------------------------------------------------------------------------


def test_open_starts_the_draft_with_empty_label_maps(setup: Setup) -> None:
    draft = DraftSession.open(setup.registry, setup.rad1, CASE, [setup.series[0]])
    assert draft.status is ReadStatus.DRAFT
    assert not draft.read_only
    assert (draft.revision, draft.corrects_revision) == (1, None)
    assert draft.series_ids == (setup.series[0],)
    labels = draft.labels(setup.series[0])
    assert labels.shape == SHAPE
    assert labels.dtype == np.uint16
    assert not labels.any()
    assert np.allclose(draft.affine(setup.series[0]), AFFINE)
    assert draft.case_status is CaseStatus.IN_READING
    assert draft.outstanding == 2
    assert draft.may_edit is None
    assert not draft.dirty
    assert not draft.save()  # nothing to save
    assert draft.saves == 0
    again = DraftSession.open(setup.registry, setup.rad1, CASE)
    assert again.read_id == draft.read_id  # resumed, not a second draft


def test_the_draft_session_runs_without_qt() -> None:
    code = (
        "import sys, workbench.services.draft, workbench.services.reading; "
        "sys.exit(any(m.startswith('PyQt6') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_user_who_may_not_read_the_case_is_refused(setup: Setup) -> None:
    with pytest.raises(PermissionDeniedError, match="reader role"):
        DraftSession.open(setup.registry, setup.coordinator, CASE)
    refusal = reading.may_annotate(setup.registry, setup.coordinator)
    assert refusal is not None
    assert "reader role" in refusal.reason
    assert reading.may_annotate(setup.registry, setup.rad1) is None
    assert reading.may_annotate(setup.registry, setup.rad1, CASE) is None


# --- saving only what changed ------------------------------------------------------------------


def test_editing_one_lesion_of_twenty_writes_one_row(setup: Setup) -> None:
    draft = drawn(setup)
    assert draft.last_saved is not None
    assert written(draft) == tuple(range(1, 21))
    before = rows(setup, draft.read_id)
    assert len(before) == 20
    events: list[object] = []
    draft.events.saved.connect(events.append)
    dirty: list[bool] = []
    draft.events.dirty.connect(dirty.append)

    # Grow lesion 7 by one voxel, in place, as the label editor does.
    labels = draft.labels(setup.series[0])
    i, j, k = (int(v) for v in np.argwhere(labels == 7).max(axis=0))
    labels[i + 1, j, k] = 7
    draft.mark_edited(setup.series[0], VoxelBox((i + 1, j, k), (i + 2, j + 1, k + 1)))
    assert draft.dirty
    assert dirty == [True]
    version = draft.version
    assert draft.save()
    assert draft.version > version
    assert written(draft) == (7,)
    assert deleted(draft) == ()
    assert len(events) == 1
    assert dirty == [True, False]
    after = rows(setup, draft.read_id)
    changed = {label for label in after if after[label] != before[label]}
    assert changed == {7}
    assert after[7][0] == before[7][0]  # the same row, updated in place
    assert after[7][1] == before[7][1] + 1
    event = last_save_event(setup)
    assert event["lesions_written"] == [7]
    assert event["lesions_deleted"] == []
    assert event["lesions"] == 20

    # Erase lesion 3: its row alone is deleted.
    labels[labels == 3] = 0
    draft.mark_edited(setup.series[0])
    assert draft.save()
    assert deleted(draft) == (3,)
    now = rows(setup, draft.read_id)
    assert set(now) == set(range(1, 21)) - {3}
    assert all(now[label] == after[label] for label in now)

    # Details only: the lesion's row is written, with its mask as it was.
    draft.set_details(setup.series[0], 5, LesionDetails(location=Location.FRONTAL))
    assert draft.save()
    assert written(draft) == (5,)
    final = rows(setup, draft.read_id)
    assert final[5][2] == now[5][2]
    assert {label for label in final if final[label] != now[label]} == {5}
    (five,) = [
        x for x in reading.list_lesions(setup.registry, setup.rad1, draft.read_id) if x.label == 5
    ]
    assert five.location == "frontal"

    # Painting and undoing writes nothing.
    labels[0, 0, 0] = 9
    draft.mark_edited(setup.series[0], VoxelBox((0, 0, 0), (1, 1, 1)))
    labels[0, 0, 0] = 0
    saves = draft.saves
    assert not draft.save()
    assert draft.saves == saves
    assert not draft.dirty


def test_the_choices_alone_are_saved_without_touching_a_lesion(setup: Setup) -> None:
    draft = drawn(setup)
    before = rows(setup, draft.read_id)
    with pytest.raises(ValidationError, match="confidence") as refused:
        draft.set_choices(ImagingJudgement.YES, 9, None)
    assert refused.value.field == "confidence"
    draft.set_choices(ImagingJudgement.EQUIVOCAL, 2, "Could be HIVE.")
    assert draft.save()
    assert draft.last_saved is not None
    assert written(draft) == ()
    assert rows(setup, draft.read_id) == before
    again = DraftSession.open(setup.registry, setup.rad1, CASE)
    assert (again.judgement, again.confidence, again.comment) == (
        ImagingJudgement.EQUIVOCAL,
        2,
        "Could be HIVE.",
    )


def test_a_stale_save_conflicts_and_nothing_is_lost(setup: Setup) -> None:
    mine = drawn(setup)
    elsewhere = DraftSession.open(setup.registry, setup.rad1, CASE)  # another window
    elsewhere.set_choices(ImagingJudgement.NO, None, "saved elsewhere")
    assert elsewhere.save()
    labels = mine.labels(setup.series[0])
    labels[labels == 1] = 0
    mine.mark_edited(setup.series[0])
    kept = labels.copy()
    conflicts: list[str] = []
    mine.events.conflict.connect(conflicts.append)
    with pytest.raises(ConflictError, match="saved elsewhere since you opened it"):
        mine.save()
    assert mine.conflict is not None
    assert conflicts == [mine.conflict]
    assert mine.dirty
    assert np.array_equal(mine.labels(setup.series[0]), kept)
    with pytest.raises(ConflictError):  # and every time after
        mine.save()
    with pytest.raises(ConflictError):
        mine.submit(ImagingJudgement.YES)
    assert len(rows(setup, mine.read_id)) == 20  # lesion 1 was not deleted


def test_resume_after_reopen_gives_the_same_labels(setup: Setup, registry_url: str) -> None:
    draft = drawn(setup)
    draft.set_details(
        setup.series[0],
        2,
        LesionDetails(Hemisphere.LEFT, Location.PARIETAL, {"swi_rim": "absent"}),
    )
    draft.set_choices(ImagingJudgement.YES, 4, "twenty")
    assert draft.save()
    drawn_labels = draft.labels(setup.series[0]).copy()
    reopened = Registry.open(registry_url)
    try:
        again = DraftSession.open(reopened, setup.rad1, CASE, [setup.series[0]])
        ref = reading.latest_draft(reopened, setup.rad1)
    finally:
        reopened.close()
    assert again.read_id == draft.read_id
    assert again.version == draft.version
    assert np.array_equal(again.labels(setup.series[0]), drawn_labels)
    assert again.details_of(2) == draft.details_of(2)
    assert again.choices == draft.choices
    assert ref is not None
    assert (ref.registry_id, ref.read_id, ref.version) == (CASE, draft.read_id, draft.version)
    assert ref.first_lesion_series == setup.series[0]
    assert reading.latest_draft(setup.registry, setup.rad2) is None


def test_carried_lesions_are_saved_on_the_other_series(setup: Setup) -> None:
    draft = drawn(setup)
    draft.set_details(setup.series[0], 1, LesionDetails(location=Location.FRONTAL))
    assert draft.carry(setup.series[0], setup.series[1]) == 20
    assert draft.labels_on(setup.series[1]) == set(range(21, 41))
    assert draft.details_of(21).location is Location.FRONTAL
    assert draft.details_of(21).features == {"track": 1}
    assert draft.carry(setup.series[0], setup.series[1]) == 0  # the tracks are there
    assert draft.save()
    assert draft.last_saved is not None
    assert written(draft) == (1, *range(21, 41))
    again = DraftSession.open(setup.registry, setup.rad1, CASE)
    assert again.series_ids == setup.series
    assert np.array_equal(again.labels(setup.series[1]) != 0, twenty_lesions() != 0)
    assert again.totals()[0] == 40


def test_a_label_on_two_series_is_refused(setup: Setup) -> None:
    draft = drawn(setup)
    other = draft.ensure_series(setup.series[1])
    other[40:42, 30:32, 20:22] = 4  # label 4 is on day 0 already
    draft.mark_edited(setup.series[1], VoxelBox((40, 30, 20), (42, 32, 22)))
    with pytest.raises(ValidationError, match="unique within a read"):
        draft.save()
    assert draft.conflict is None
    assert draft.dirty


# --- who may open what -------------------------------------------------------------------------


def test_a_reader_cannot_open_another_readers_draft(setup: Setup) -> None:
    mine = drawn(setup)
    with pytest.raises(PermissionDeniedError):
        DraftSession.open_read(setup.registry, setup.rad2, mine.read_id)
    theirs = DraftSession.open(setup.registry, setup.rad2, CASE)
    assert theirs.read_id != mine.read_id
    assert theirs.series_ids == ()
    with pytest.raises(PermissionDeniedError):
        reading.save_changes(setup.registry, setup.rad2, mine.read_id, mine.version)


def test_a_blinded_read_is_refused(setup: Setup) -> None:
    mine = drawn(setup)
    submitted = mine.submit(ImagingJudgement.YES, 5, "twenty lesions")
    assert submitted.outstanding == 1
    assert submitted.lesions == 20
    with pytest.raises(PermissionDeniedError, match="blinded"):
        DraftSession.open_read(setup.registry, setup.rad2, mine.read_id)
    with pytest.raises(PermissionDeniedError, match="blinded"):
        reading.load_labels(setup.registry, setup.rad2, mine.read_id, setup.series[0])
    with pytest.raises(PermissionDeniedError, match="blinded"):
        reading.list_lesions(setup.registry, setup.rad2, mine.read_id)
    listed = reading.reads_of_case(setup.registry, setup.rad2, CASE)
    assert mine.read_id not in {view.id for view in listed}
    status_only = reading.fetch_read(setup.registry, setup.coordinator, mine.read_id)
    assert status_only.blinded
    assert status_only.judgement is None


# --- submitting and correcting -----------------------------------------------------------------


def test_submit_then_correct(setup: Setup) -> None:
    draft = drawn(setup)
    labels = draft.labels(setup.series[0])
    labels[labels == 20] = 0
    draft.mark_edited(setup.series[0])
    with pytest.raises(ValidationError, match="judgement") as refused:
        draft.submit(None)
    assert refused.value.field == "judgement"
    result = draft.submit(ImagingJudgement.YES, 4)
    assert result.lesions == 19  # the last change went in with the submission
    assert (result.correction, result.readers_assigned, result.readers_submitted) == (False, 2, 1)
    assert result.assessment is None
    assert draft.read_only
    assert draft.status is ReadStatus.SUBMITTED
    assert draft.submitted_at == result.submitted_at
    assert draft.may_correct is None
    with pytest.raises(ValidationError, match="submitted"):
        draft.mark_edited(setup.series[0])
    shown = DraftSession.open(setup.registry, setup.rad1, CASE)
    assert shown.read_only  # the submitted read, shown
    assert shown.read_id == draft.read_id
    assert shown.labels_on(setup.series[0]) == set(range(1, 20))

    with pytest.raises(ValidationError, match="reason"):
        draft.start_correction("typo")
    correction = draft.start_correction("Lesion 12 is a vessel, not a lesion.")
    assert correction.read_id != draft.read_id
    assert (correction.revision, correction.corrects_revision) == (2, 1)
    assert correction.correction_reason == "Lesion 12 is a vessel, not a lesion."
    assert not correction.read_only
    assert correction.judgement is ImagingJudgement.YES
    assert np.array_equal(correction.labels(setup.series[0]), labels)
    fixed = correction.labels(setup.series[0])
    fixed[fixed == 12] = 0
    correction.mark_edited(setup.series[0])
    again = correction.submit(ImagingJudgement.NO)
    assert again.correction
    assert again.lesions == 18
    statuses = {v.id: v.status for v in reading.reads_of_case(setup.registry, setup.rad1, CASE)}
    assert statuses == {
        draft.read_id: ReadStatus.SUPERSEDED,
        correction.read_id: ReadStatus.SUBMITTED,
    }


def test_set_choices_and_submit_keeps_the_stored_lesions(setup: Setup) -> None:
    draft = drawn(setup)
    draft.set_choices(None, 3, "kept")
    assert draft.save()
    before = rows(setup, draft.read_id)
    with pytest.raises(ValidationError, match="no open draft"):
        reading.set_choices_and_submit(setup.registry, setup.rad2, CASE, "yes")
    result = reading.set_choices_and_submit(setup.registry, setup.rad1, CASE, "no")
    assert result.judgement is ImagingJudgement.NO
    assert (result.lesions, result.outstanding) == (20, 1)
    assert rows(setup, draft.read_id) == before  # no mask saved again
    (view,) = reading.reads_of_case(setup.registry, setup.rad1, CASE)
    assert (view.judgement, view.confidence, view.comment) == ("no", 3, "kept")
    assert not view.blinded

    theirs = DraftSession.open(setup.registry, setup.rad2, CASE)
    other = reading.submit(
        setup.registry,
        setup.rad2,
        theirs.read_id,
        theirs.version,
        choices=reading.DraftChoices(ImagingJudgement.NO),
    )
    assert other.all_in
    assert other.assessment is not None
    assert other.case_status in (CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION)
