"""The demo registry a new user opens: built by the project, idempotent, complete."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from sqlalchemy import func, select

from workbench.cases import CaseFilter, list_cases
from workbench.demo.build import DEMO_PREFIX, build_demo
from workbench.demo.catalogue import DEMO_CASES
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, SequenceClass
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, LabResult, Series


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
        assert len({r.status for r in rows}) >= 5
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
