"""Migration 0012: the series' sequence-class constraint allows phase, field map and scout."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from workbench.cases import NewCase, create_case, get_case
from workbench.domain import Condition, SequenceClass, Sex, SourceKind
from workbench.registry.db import Registry, _alembic_config, schema_revision
from workbench.registry.models import ImagingStudy, Series
from workbench.users import Actor

NEW_CLASSES = ("phase", "field map", "field map magnitude", "scout")


def _migrate(registry: Registry, target: str, *, down: bool = False) -> None:
    with registry.engine.connect() as conn:
        (command.downgrade if down else command.upgrade)(_alembic_config(conn), target)
        conn.commit()


def _series(registry: Registry, coordinator: Actor, kind: SequenceClass) -> int:
    with registry.write() as session:
        create_case(
            session,
            coordinator,
            NewCase("PML-0012", "NL-AMS", Sex.FEMALE, "40-49", Condition.MS_NATALIZUMAB),
        )
    with registry.write() as session:
        study = ImagingStudy(case_id=get_case(session, "PML-0012").id, day=0)
        series = Series(
            source_kind=SourceKind.DICOM,
            source_uri="site/PML-0012/801",
            content_sha256="ab" * 32,
            sequence_class=kind,
            sequence_evidence={"rule": "test"},
            shape=[4, 4, 2],
            spacing=[1.0, 1.0, 2.0],
            affine=[1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 2.0, 0, 0, 0, 0, 1.0],
            dtype="int16",
            n_files=2,
        )
        study.series.append(series)
        session.add(study)
        session.flush()
        return series.id


def _set_class(registry: Registry, series_id: int, value: str) -> None:
    with registry.engine.begin() as conn:
        conn.execute(
            text("UPDATE series SET sequence_class = :v WHERE id = :id"),
            {"v": value, "id": series_id},
        )


def _class_of(registry: Registry, series_id: int) -> str:
    with registry.engine.connect() as conn:
        value = conn.execute(
            text("SELECT sequence_class FROM series WHERE id = :id"), {"id": series_id}
        ).scalar_one()
    return str(value)


def test_new_classes_are_stored_and_read_back(registry: Registry, coordinator: Actor) -> None:
    series_id = _series(registry, coordinator, SequenceClass.FIELD_MAP_MAGNITUDE)
    with registry.read() as session:
        stored = session.execute(select(Series).where(Series.id == series_id)).scalar_one()
        assert stored.sequence_class is SequenceClass.FIELD_MAP_MAGNITUDE
    for value in NEW_CLASSES:
        _set_class(registry, series_id, value)
        assert _class_of(registry, series_id) == value


def test_constraint_still_refuses_unknown_classes(registry: Registry, coordinator: Actor) -> None:
    series_id = _series(registry, coordinator, SequenceClass.T1)
    with pytest.raises(IntegrityError):
        _set_class(registry, series_id, "localiser")
    assert _class_of(registry, series_id) == "T1"


def test_downgrade_turns_new_classes_into_other_and_upgrade_allows_them_again(
    registry: Registry, coordinator: Actor
) -> None:
    series_id = _series(registry, coordinator, SequenceClass.SCOUT)
    _migrate(registry, "0011", down=True)
    assert _class_of(registry, series_id) == "other"
    with pytest.raises(IntegrityError):  # 0011's list has no scout
        _set_class(registry, series_id, "scout")
    _set_class(registry, series_id, "FLAIR")
    _migrate(registry, "head")
    current, head = schema_revision(registry.engine)
    assert current == head == "0012"
    assert _class_of(registry, series_id) == "FLAIR"  # the row kept through the change
    _set_class(registry, series_id, "phase")
    assert _class_of(registry, series_id) == "phase"
