"""A reader's draft and its lesions: save, reload, conflicts, submission, restart, export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from adjudication.lesions import Location
from adjudication.vocabulary import ImagingJudgement, ReadStatus, Role
from workbench.cases import NewCase, create_case
from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import CaseStatus, Condition, SequenceClass, Sex
from workbench.errors import ConflictError, PermissionDeniedError, ValidationError
from workbench.importer import ParserSandbox, import_path
from workbench.lesions.export import export_case_segs
from workbench.reading_flow import assign
from workbench.reads import (
    ChangedLesions,
    DraftChoices,
    LesionDetails,
    LesionDraft,
    latest_draft,
    list_lesions,
    load_draft_labels,
    save_draft,
    save_draft_changes,
    start_or_resume_draft,
    submit_read,
)
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, Lesion, Read
from workbench.services.imaging import export_lesions
from workbench.users import Actor, add_user, resolve_actor

CASE = "PML-0001"
SHAPE_IJK = (20, 24, 12)  # columns, rows, slices of the written series
SPACING = (0.9, 0.8, 3.0)  # row spacing, column spacing, slice spacing (mm)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    box = ParserSandbox()
    yield box
    box.close()


@dataclass(frozen=True)
class Setup:
    registry: Registry
    coordinator: Actor
    reader: Actor
    other_reader: Actor
    series_id: int
    series_uid: str


def _setup(
    registry: Registry, tmp_path: Path, sandbox: ParserSandbox, *, assign_readers: bool = True
) -> Setup:
    """Case PML-0001 with one imported series; with ``assign_readers``, readers 1 and 2 are
    assigned to it (and it is in reading)."""
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        create_case(
            session, coordinator, NewCase(CASE, "NL-AMS", Sex.FEMALE, "40-49", Condition.HIV)
        )
        create_case(
            session, coordinator, NewCase("PML-0002", "NL-AMS", Sex.MALE, "50-59", Condition.HIV)
        )
        add_user(session, "reader1", "Reader One", {Role.READER}, by=coordinator)
        add_user(session, "reader2", "Reader Two", {Role.READER}, by=coordinator)
        reader = resolve_actor(session, "reader1")
        other = resolve_actor(session, "reader2")
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 1500, size=(SHAPE_IJK[2], SHAPE_IJK[1], SHAPE_IJK[0]), dtype=np.int16)
    uid = new_uid("reads", str(tmp_path))
    write_series(
        pixels,
        tmp_path / "dicom",
        spacing_mm=SPACING,
        origin_lps=(-10.0, -20.0, 5.0),
        study_instance_uid=new_uid("reads", "study" + str(tmp_path)),
        series_instance_uid=uid,
        frame_of_reference_uid=new_uid("reads", "frame" + str(tmp_path)),
        series_number=1,
        sequence=SequenceClass.FLAIR,
        patient_pseudonym=CASE,
    )
    result = import_path(
        registry,
        coordinator,
        tmp_path / "dicom",
        CASE,
        day=0,
        cache_root=tmp_path / "cache",
        sandbox=sandbox,
    )
    assert len(result.series_ids) == 1
    if assign_readers:
        with registry.write() as session:
            case = session.scalars(select(Case).where(Case.registry_id == CASE)).one()
            case.status = CaseStatus.READY
            assign(session, coordinator, CASE, ["reader1", "reader2"], Role.READER)
    return Setup(registry, coordinator, reader, other, result.series_ids[0], uid)


@pytest.fixture
def setup(registry: Registry, tmp_path: Path, sandbox: ParserSandbox) -> Setup:
    """A case with one imported DICOM series and two readers, on SQLite and PostgreSQL."""
    return _setup(registry, tmp_path, sandbox)


def _two_lesions() -> np.ndarray:
    labels = np.zeros(SHAPE_IJK, dtype=np.uint8)
    labels[2:5, 3:7, 1:3] = 1  # 3 * 4 * 2 = 24 voxels
    labels[12:18, 10:12, 6:9] = 2  # 6 * 2 * 3 = 36 voxels
    return labels


def _draft(s: Setup) -> tuple[int, int]:
    with s.registry.write() as session:
        read = start_or_resume_draft(session, s.reader, CASE)
        return read.id, read.version


def _save_two(s: Setup) -> tuple[int, int]:
    read_id, version = _draft(s)
    with s.registry.write() as session:
        read = save_draft(
            session,
            s.reader,
            read_id,
            version,
            lesions=[
                LesionDraft(
                    s.series_id,
                    _two_lesions(),
                    {2: LesionDetails(location=Location.FRONTAL, features={"dwi": "rim"})},
                )
            ],
            judgement=ImagingJudgement.YES,
            confidence=4,
            comment="two lesions",
        )
        return read.id, read.version


def _audit_count(registry: Registry) -> int:
    with registry.read() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_draft_is_created_once_and_resumed(setup: Setup) -> None:
    first, _ = _draft(setup)
    again, _ = _draft(setup)
    assert first == again
    with setup.registry.write() as session:
        other = start_or_resume_draft(session, setup.other_reader, CASE)
        assert other.id != first
        with pytest.raises(PermissionDeniedError, match="reader role"):
            start_or_resume_draft(session, setup.coordinator, CASE)


def test_lesions_round_trip_voxel_for_voxel(setup: Setup) -> None:
    read_id, _ = _save_two(setup)
    with setup.registry.read() as session:
        labels = load_draft_labels(session, setup.reader, read_id, setup.series_id)
        lesions = list_lesions(session, setup.reader, read_id)
        rows = session.scalars(select(Lesion).where(Lesion.read_id == read_id)).all()
    np.testing.assert_array_equal(labels, _two_lesions())
    assert len(rows) == 2  # one row per lesion, each with its own mask
    voxel_ml = SPACING[0] * SPACING[1] * SPACING[2] / 1000
    assert [lesion.label for lesion in lesions] == [1, 2]
    assert lesions[0].volume_ml == pytest.approx(24 * voxel_ml)
    assert lesions[1].volume_ml == pytest.approx(36 * voxel_ml)
    assert lesions[1].location == "frontal"
    assert lesions[1].features == {"dwi": "rim"}
    assert lesions[0].hemisphere in {"left", "right", "midline"}


def test_centroid_is_computed_from_the_affine(setup: Setup) -> None:
    read_id, _ = _save_two(setup)
    with setup.registry.read() as session:
        first = list_lesions(session, setup.reader, read_id)[0]
    # Label 1 spans i 2..4, j 3..6, k 1..2; axial grid with origin (-10, -20, 5).
    # i runs along the row direction (column spacing), j down the columns (row spacing).
    expected = (-10.0 + 3.0 * SPACING[1], -20.0 + 4.5 * SPACING[0], 5.0 + 1.5 * SPACING[2])
    assert first.centroid_lps == pytest.approx(expected)


def test_a_mask_off_the_series_grid_is_refused(setup: Setup) -> None:
    read_id, version = _draft(setup)
    wrong = np.zeros((SHAPE_IJK[0], SHAPE_IJK[1], SHAPE_IJK[2] + 1), dtype=np.uint8)
    wrong[1, 1, 1] = 1
    with setup.registry.write() as session, pytest.raises(ValidationError, match="series grid"):
        save_draft(
            session, setup.reader, read_id, version, lesions=[LesionDraft(setup.series_id, wrong)]
        )


def test_a_stale_version_is_refused_and_nothing_is_written(setup: Setup) -> None:
    read_id, version = _save_two(setup)
    events = _audit_count(setup.registry)
    with setup.registry.write() as session, pytest.raises(ConflictError, match="nothing was saved"):
        save_draft(session, setup.reader, read_id, version - 1, lesions=[], comment="lost?")
    with setup.registry.read() as session:
        assert len(list_lesions(session, setup.reader, read_id)) == 2
        read = start_or_resume_draft(session, setup.reader, CASE)
        assert (read.version, read.comment) == (version, "two lesions")
    assert _audit_count(setup.registry) == events


def _rows(s: Setup, read_id: int) -> dict[int, tuple[int, int]]:
    """``label → (row id, row version)`` of the read's lesions."""
    with s.registry.read() as session:
        return {
            row.label: (row.id, row.version)
            for row in session.scalars(select(Lesion).where(Lesion.read_id == read_id))
        }


def test_saving_changes_touches_only_the_changed_rows(setup: Setup) -> None:
    read_id, version = _save_two(setup)
    before = _rows(setup, read_id)
    labels = _two_lesions()
    labels[5, 3:7, 1:3] = 1  # lesion 1 grows by a column
    with setup.registry.write() as session:
        saved = save_draft_changes(
            session, setup.reader, read_id, version,
            lesions=[ChangedLesions(LesionDraft(setup.series_id, labels), frozenset({1}))],
        )  # fmt: skip
        version = saved.read.version
        assert (saved.written, saved.deleted) == ((1,), ())
    after = _rows(setup, read_id)
    assert after[2] == before[2]  # untouched
    assert after[1] == (before[1][0], before[1][1] + 1)  # the same row, updated
    with setup.registry.read() as session:
        (one, two) = list_lesions(session, setup.reader, read_id)
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        action, audited = event.action, dict(event.after or {})
        read = session.get(Read, read_id)
        assert read is not None
        assert (read.comment, read.confidence) == ("two lesions", 4)  # choices kept
    voxel_ml = SPACING[0] * SPACING[1] * SPACING[2] / 1000
    assert one.volume_ml == pytest.approx(32 * voxel_ml)
    assert two.location == "frontal"  # lesion 2's details were not handed over, and kept
    assert action == "read.draft_saved"
    assert (audited["lesions_written"], audited["lesions"]) == ([1], 2)

    labels[labels == 2] = 0  # erased: its row is deleted, lesion 1's left alone
    with setup.registry.write() as session:
        saved = save_draft_changes(
            session, setup.reader, read_id, version,
            lesions=[ChangedLesions(LesionDraft(setup.series_id, labels), frozenset({2}))],
            choices=DraftChoices(ImagingJudgement.NO, None, None),
        )  # fmt: skip
        assert (saved.written, saved.deleted) == ((), (2,))
        version = saved.read.version
    assert _rows(setup, read_id) == {1: after[1]}
    with setup.registry.write() as session, pytest.raises(ConflictError, match="nothing"):
        save_draft_changes(session, setup.reader, read_id, version - 1)
    with setup.registry.write() as session, pytest.raises(PermissionDeniedError):
        save_draft_changes(session, setup.other_reader, read_id, version)
    wrong = np.zeros((3, 3, 3), dtype=np.uint8)
    with setup.registry.write() as session, pytest.raises(ValidationError, match="series grid"):
        save_draft_changes(
            session, setup.reader, read_id, version,
            lesions=[ChangedLesions(LesionDraft(setup.series_id, wrong), frozenset({1}))],
        )  # fmt: skip


def test_another_reader_cannot_save_my_read(setup: Setup) -> None:
    read_id, version = _draft(setup)
    with setup.registry.write() as session, pytest.raises(PermissionDeniedError):
        save_draft(session, setup.other_reader, read_id, version, lesions=[])
    with setup.registry.read() as session, pytest.raises(PermissionDeniedError):
        load_draft_labels(session, setup.other_reader, read_id, setup.series_id)


def test_a_submitted_read_is_immutable(setup: Setup) -> None:
    read_id, version = _save_two(setup)
    with setup.registry.write() as session:
        read = submit_read(session, setup.reader, read_id, version)
        assert read.status is ReadStatus.SUBMITTED
        assert read.submitted_at is not None
        version = read.version
    with setup.registry.write() as session, pytest.raises(ValidationError, match="submitted"):
        save_draft(session, setup.reader, read_id, version, lesions=[])
    with setup.registry.write() as session, pytest.raises(ValidationError, match="submitted"):
        start_or_resume_draft(session, setup.reader, CASE)
    with setup.registry.read() as session:
        assert latest_draft(session, setup.reader) is None
        assert len(list_lesions(session, setup.reader, read_id)) == 2


def test_submitting_needs_a_judgement(setup: Setup) -> None:
    read_id, version = _draft(setup)
    with setup.registry.write() as session, pytest.raises(ValidationError, match="consistent"):
        submit_read(session, setup.reader, read_id, version)


def test_latest_draft_is_offered_after_a_restart(
    sqlite_url: str, tmp_path: Path, sandbox: ParserSandbox
) -> None:
    first = Registry.open(sqlite_url)
    try:
        s = _setup(first, tmp_path, sandbox)
        read_id, version = _save_two(s)
    finally:
        first.close()
    again = Registry.open(sqlite_url)
    try:
        with again.read() as session:
            read = latest_draft(session, s.reader)
            assert read is not None
            assert (read.id, read.version) == (read_id, version)
            np.testing.assert_array_equal(
                load_draft_labels(session, s.reader, read_id, s.series_id), _two_lesions()
            )
            assert latest_draft(session, s.other_reader) is None
    finally:
        again.close()


def test_export_seg_writes_a_seg_of_the_source_series(setup: Setup, tmp_path: Path) -> None:
    import highdicom as hd

    from workbench.reads import submit_read

    read_id, _ = _save_two(setup)
    with pytest.raises(PermissionDeniedError, match="blinded"):  # a draft is not exported
        export_lesions(setup.registry, setup.coordinator, CASE, tmp_path / "early")
    with setup.registry.write() as session:
        read = session.get(Read, read_id)
        assert read is not None
        read = save_draft(
            session, setup.reader, read_id, read.version,
            lesions=[LesionDraft(setup.series_id, _two_lesions())],
            judgement=ImagingJudgement.YES,
        )  # fmt: skip
        submit_read(session, setup.reader, read.id, read.version)
        other = start_or_resume_draft(session, setup.other_reader, CASE)
        other = save_draft(
            session, setup.other_reader, other.id, other.version,
            lesions=[], judgement=ImagingJudgement.NO,
        )  # fmt: skip
        submit_read(session, setup.other_reader, other.id, other.version)
    paths = export_lesions(setup.registry, setup.coordinator, CASE, tmp_path / "out")
    assert [p.name for p in paths] == [f"{CASE}_read{read_id}_series{setup.series_id}.seg.dcm"]
    seg = hd.seg.segread(paths[0])
    assert seg.number_of_segments == 2
    referenced = {item.SeriesInstanceUID for item in seg.ReferencedSeriesSequence}
    assert referenced == {setup.series_uid}


def test_export_without_lesions_is_a_clear_error(setup: Setup, tmp_path: Path) -> None:
    _draft(setup)  # a draft without lesions
    with setup.registry.write() as session, pytest.raises(ValidationError, match="no lesions"):
        export_case_segs(session, "PML-0002", tmp_path, actor=setup.coordinator)
    with setup.registry.write() as session, pytest.raises(ValidationError, match="no lesions"):
        export_case_segs(session, CASE, tmp_path, actor=setup.coordinator)
    with setup.registry.write() as session, pytest.raises(PermissionDeniedError):
        export_case_segs(session, CASE, tmp_path, actor=setup.reader)
