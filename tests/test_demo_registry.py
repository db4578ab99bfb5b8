"""The demo registry a new user opens: built by the project, idempotent, complete."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from sqlalchemy import func, select

from adjudication.criteria import RULESET_VERSION
from adjudication.vocabulary import Certainty, ReadStatus
from tests.actors import AUDITOR
from workbench.cases import CaseFilter, list_cases
from workbench.demo.build import DEMO_PREFIX, build_demo, stages_summary
from workbench.demo.catalogue import DEMO_CASES, Outline
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, SequenceClass
from workbench.panel import DecisionState, decisions_of_case, final_decision, latest_discordance
from workbench.reading_flow import reads_of_case
from workbench.reads import latest_draft, list_lesions, load_draft_labels
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, LabResult, Read, Series, User
from workbench.review_config import ReviewConfig
from workbench.users import resolve_actor


@pytest.fixture
def demo(demo_registry: tuple[Registry, Path]) -> tuple[Registry, Path]:
    return demo_registry


def test_demo_covers_conditions_states_and_sequences(demo: tuple[Registry, Path]) -> None:
    registry, _ = demo
    with registry.read() as session:
        rows = list_cases(session, CaseFilter())
        assert len(rows) >= 8
        assert {r.condition for r in rows} >= {
            Condition.HIV,
            Condition.MS_NATALIZUMAB,
            Condition.OTHER_IMMUNOMODULATOR,
            Condition.TRANSPLANT,
            Condition.HAEMATOLOGICAL_MALIGNANCY,
        }
        assert {r.status for r in rows} == set(CaseStatus)  # every stage of the review
        assert all(r.timepoints >= 2 and r.series >= 3 * r.timepoints for r in rows)
        classes = set(session.scalars(select(Series.sequence_class)))
        assert classes >= {SequenceClass.T1, SequenceClass.FLAIR, SequenceClass.DWI}
        assert SequenceClass.T1_GD in classes
        pcr = session.scalars(select(LabResult).where(LabResult.test == LabTest.CSF_JCV_PCR))
        kinds = {(r.qualitative, r.unit) for r in pcr}
        assert (LabQualitative.DETECTED, "copies/mL") in kinds
        assert (LabQualitative.DETECTED, "IU/mL") in kinds
        assert (LabQualitative.NOT_DETECTED, "copies/mL") in kinds
        assert any(k[0] == LabQualitative.DETECTED_BELOW_LOQ for k in kinds)
        tests = set(session.scalars(select(LabResult.test)))
        assert {LabTest.CD4_COUNT, LabTest.SERUM_JCV_ANTIBODY_INDEX} <= tests
        assert audit.verify(session) is None


def test_demo_series_are_real_deidentified_dicom(demo: tuple[Registry, Path]) -> None:
    registry, images = demo
    with registry.read() as session:
        series = session.scalars(select(Series).order_by(Series.id)).first()
        assert series is not None
        files = sorted(Path(series.source_uri).glob("*.dcm"))
        assert len(files) == series.n_files == series.shape[2]
        assert Path(series.source_uri).is_relative_to(images)
        uid, shape = series.series_instance_uid, list(series.shape)
    ds = pydicom.dcmread(files[0])
    assert ds.SeriesInstanceUID == uid
    assert ds.PatientIdentityRemoved == "YES"
    assert str(ds.PatientName).startswith(DEMO_PREFIX)
    assert "113100" in [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    assert not ds.get("PatientBirthDate")
    assert not ds.get("StudyDate")
    assert not any(element.tag.is_private for element in ds.iterall())
    assert (ds.Rows, ds.Columns) == (shape[1], shape[0])


def test_lesions_grow_between_timepoints(demo: tuple[Registry, Path]) -> None:
    """The FLAIR-bright area (lesion) is larger at the later timepoint of a case."""
    import numpy as np

    registry, _ = demo
    first = DEMO_CASES[0]
    with registry.read() as session:
        flair = session.scalars(
            select(Series).where(Series.sequence_class == SequenceClass.FLAIR).order_by(Series.id)
        ).all()
        paths = [Path(s.source_uri) for s in flair if first.registry_id in s.source_uri]
    bright = []
    for folder in paths[:2]:
        stack = np.stack([pydicom.dcmread(f).pixel_array for f in sorted(folder.glob("*.dcm"))])
        bright.append(int(np.count_nonzero(stack > np.percentile(stack[stack > 0], 99.5) * 0.9)))
    assert bright[1] > bright[0]


def test_building_again_changes_nothing(demo: tuple[Registry, Path]) -> None:
    registry, images = demo
    with registry.read() as session:
        events = session.scalar(select(func.count()).select_from(AuditEvent))
    report = build_demo(registry, images_dir=images, username="tester")
    assert report.up_to_date
    with registry.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_a_damaged_demo_is_rebuilt(tmp_path: Path) -> None:
    registry = Registry.open(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    images = tmp_path / "images"
    build_demo(registry, images_dir=images, username="tester")
    (images / "demo.json").unlink()
    report = build_demo(registry, images_dir=images, username="tester")
    assert not report.up_to_date
    with registry.read() as session:
        rows = list_cases(session, CaseFilter())
        assert [r.registry_id for r in rows] == [c.registry_id for c in DEMO_CASES]
        assert {r.status for r in rows} >= {CaseStatus.FINAL, CaseStatus.INCOMPLETE}
        assert audit.verify(session) is None
    registry.close()


def test_demo_series_went_through_the_import(demo: tuple[Registry, Path]) -> None:
    """Every demo series is in the voxel cache, as an imported site series would be."""
    from workbench.cache import open_cached

    registry, _ = demo
    with registry.read() as session:
        rows = [(s.cache_path, tuple(s.shape), s.dtype) for s in session.scalars(select(Series))]
        evidence = session.scalars(select(Series.sequence_evidence)).first()
    assert rows
    assert all(path for path, _, _ in rows)
    for path, shape, dtype in rows[:6]:
        assert open_cached(Path(str(path)), shape=shape, dtype=dtype).shape == shape
    assert evidence  # the classifier's reasons are kept for the user to check


# --- the review at every stage ---------------------------------------------------------------


def _case(status: CaseStatus, *, where: str = "") -> str:
    """The registry id of the demo case at ``status`` whose stage text mentions ``where``."""
    (registry_id,) = [
        c.registry_id for c in DEMO_CASES if c.status is status and where in c.review.stage
    ]
    return registry_id


def test_final_decisions_carry_two_signatures_and_the_engine_version(
    demo: tuple[Registry, Path],
) -> None:
    registry, _ = demo
    finals = [c.registry_id for c in DEMO_CASES if c.status is CaseStatus.FINAL]
    assert len(finals) >= 3
    with registry.read() as session:
        for registry_id in finals:
            decision = final_decision(session, registry_id)
            assert decision is not None, registry_id
            assert decision.is_final
            assert len({s.user_id for s in decision.signatures}) == 2
            assert all(s.meaning and s.printed_name for s in decision.signatures)
            assert decision.engine_version == RULESET_VERSION
            assert decision.engine_result["certainty"]
        departed = final_decision(session, _case(CaseStatus.FINAL, where="against the engine"))
        assert departed is not None
        assert departed.certainty is Certainty.DEFINITE
        assert departed.engine_result["certainty"] == Certainty.NOT_CLASSIFIABLE.value
        assert departed.rationale is not None
        assert len(departed.rationale) > 50


def test_a_changed_final_decision_is_superseded_and_kept(demo: tuple[Registry, Path]) -> None:
    registry, _ = demo
    registry_id = _case(CaseStatus.FINAL, where="superseded")
    with registry.read() as session:
        old, new = decisions_of_case(
            session, resolve_actor(session, "tester"), registry_id, ReviewConfig()
        )
    assert (old.state, new.state) == (DecisionState.SUPERSEDED, DecisionState.FINAL)
    assert (old.certainty, new.certainty) == (Certainty.POSSIBLE, Certainty.DEFINITE)
    assert new.supersedes_id == old.id
    assert new.change_reason is not None
    assert "CSF" in new.change_reason
    assert len(old.signatures) == len(new.signatures) == 2
    assert (old.engine_certainty, new.engine_certainty) == (Certainty.POSSIBLE, Certainty.DEFINITE)


def test_pending_signatures(demo: tuple[Registry, Path]) -> None:
    registry, _ = demo
    registry_id = _case(CaseStatus.IN_ADJUDICATION, where="pending signatures")
    with registry.read() as session:
        (pending,) = decisions_of_case(
            session, resolve_actor(session, "tester"), registry_id, ReviewConfig()
        )
    assert pending.state is DecisionState.PENDING
    assert len(pending.signatures) == 1


def test_discordant_cases_name_the_rule_that_fired(demo: tuple[Registry, Path]) -> None:
    registry, _ = demo
    discordant = [c for c in DEMO_CASES if c.status is CaseStatus.DISCORDANT]
    assert {rule for c in discordant for rule in c.review.discordance} >= {
        "judgement",
        "detection",
    }
    with registry.read() as session:
        for demo_case in discordant:
            assessment = latest_discordance(session, AUDITOR, demo_case.registry_id)
            assert assessment is not None
            assert assessment["discordant"] is True
            assert assessment["spatial"] is True  # both readers drew on the same FLAIR grid
            assert set(demo_case.review.discordance) <= set(assessment["fired"])
            named = {finding["rule"] for finding in assessment["findings"]}
            assert set(demo_case.review.discordance) <= named
        concordant = latest_discordance(
            session, AUDITOR, _case(CaseStatus.IN_ADJUDICATION, where="two")
        )
        assert concordant is not None
        assert concordant["discordant"] is False


def test_a_case_in_reading_has_one_read_in_and_a_draft_to_reopen(
    demo: tuple[Registry, Path],
) -> None:
    registry, _ = demo
    demo_case = next(c for c in DEMO_CASES if c.status is CaseStatus.IN_READING)
    (drafted,) = [r.reader for r in demo_case.review.reads if not r.submitted]
    with registry.read() as session:
        coordinator = resolve_actor(session, "tester")
        views = reads_of_case(session, coordinator, demo_case.registry_id)
        assert sorted(v.status for v in views) == [ReadStatus.DRAFT, ReadStatus.SUBMITTED]
        assert all(v.blinded for v in views)  # not every read is in
        draft = latest_draft(session, resolve_actor(session, drafted))
        assert draft is not None
        assert draft.status is ReadStatus.DRAFT
        assert draft.id in {v.id for v in views}  # the draft of this case is offered back
        assert list_lesions(session, resolve_actor(session, drafted), draft.id)


def test_read_masks_lie_on_the_lesions_of_the_flair(demo: tuple[Registry, Path]) -> None:
    """An exact reader's mask, on the FLAIR grid, covers FLAIR-bright voxels: the phantom's
    lesion map reached the series' (i, j, k) grid the right way round."""
    from workbench.cache import open_cached

    registry, _ = demo
    demo_case = DEMO_CASES[0]
    (exact,) = [r.reader for r in demo_case.review.reads if r.outline is Outline.EXACT]
    with registry.read() as session:
        read = session.scalars(
            select(Read)
            .join(User, User.id == Read.reader_id)
            .join(Case, Case.id == Read.case_id)
            .where(Case.registry_id == demo_case.registry_id, User.username == exact)
        ).one()
        (series_id,) = {lesion.series_id for lesion in read.lesions}
        series = session.get(Series, series_id)
        assert series is not None
        assert series.sequence_class is SequenceClass.FLAIR
        labels = load_draft_labels(session, resolve_actor(session, exact), read.id, series_id)
        path, shape, dtype = str(series.cache_path), tuple(series.shape), series.dtype
    volume = open_cached(Path(path), shape=shape, dtype=dtype)
    inside = volume[labels != 0]
    assert inside.size > 100
    assert inside.mean() > 1.8 * volume[volume > 0].mean()


def test_the_summary_says_which_case_is_at_which_stage() -> None:
    text = stages_summary()
    for demo_case in DEMO_CASES:
        assert f"{demo_case.registry_id}  {demo_case.status.label}" in text
    assert "rad.berg" in text


def test_audit_verify_passes_on_the_demo(
    demo: tuple[Registry, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli import main

    registry, _ = demo
    assert main(["--db", registry.url, "audit", "verify"]) == 0
    assert "audit chain intact" in capsys.readouterr().out
