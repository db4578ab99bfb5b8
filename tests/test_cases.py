"""Cases: validation on entry, roles, auditing, and the case list's counts and filters."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sqlalchemy import select

from adjudication.vocabulary import Role, TriState
from workbench.cases import (
    CaseFilter,
    NewCase,
    NewExposure,
    create_case,
    list_cases,
    parse_exposure,
    parse_feature,
)
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, SequenceClass, Sex
from workbench.errors import PermissionDeniedError, ValidationError
from workbench.labs import LabEntry, add_lab_result
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.users import Actor, add_user, resolve_actor


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("registry_id", "John Smith", "registry id"),
        ("site_code", "nl ams", "site"),
        ("sex", "f", "sex: 'f' is not one of"),
        ("age_band", "43", "age band"),
        ("age_band", "50-40", "lower to a higher"),
        ("condition", "flu", "condition"),
        ("readers_required", 0, "readers required"),
    ],
)
def test_new_case_refuses_bad_fields(field: str, value: object, message: str) -> None:
    fields: dict[str, object] = {
        "registry_id": "PML-0001",
        "site_code": "NL-AMS",
        "sex": "female",
        "age_band": "40-49",
        "condition": "hiv",
    }
    fields[field] = value
    with pytest.raises(ValidationError, match=message):
        NewCase(**fields)  # type: ignore[arg-type]


def test_exposure_days_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="stop day -10 is before start day 0"):
        NewExposure("natalizumab", 0, -10)


def test_command_line_exposure_and_feature_syntax() -> None:
    assert parse_exposure("natalizumab:-900::41") == NewExposure("natalizumab", -900, None, 41)
    feature = parse_feature("hemiparesis=present@-12")
    assert (feature.feature, feature.status, feature.onset_day) == (
        "hemiparesis",
        TriState.PRESENT,
        -12,
    )
    with pytest.raises(ValidationError, match="not a whole number"):
        parse_exposure("rituximab:soon")
    with pytest.raises(ValidationError, match="is not one of"):
        parse_feature("ataxia=yes")


def test_create_case_is_audited_and_unique(registry: Registry, coordinator: Actor) -> None:
    new = NewCase(
        "PML-0007",
        "IT-MI",
        Sex.MALE,
        "50-59",
        Condition.HAEMATOLOGICAL_MALIGNANCY,
        exposures=(NewExposure("rituximab", -400, -100, 6),),
    )
    with registry.write() as session:
        create_case(session, coordinator, new)
    with pytest.raises(ValidationError, match="exists already"), registry.write() as session:
        create_case(session, coordinator, new)
    with registry.read() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.create"))
        (event,) = events.all()
        assert event.actor == "coordinator"
        assert event.after is not None
        assert event.after["exposures"] == [["rituximab", -400, -100, 6]]


def test_a_reader_cannot_create_cases(registry: Registry, coordinator: Actor) -> None:
    with registry.write() as session:
        add_user(session, "rad1", "Dr Reader", {Role.READER}, by=coordinator)
        reader = resolve_actor(session, "rad1")
    with (
        pytest.raises(PermissionDeniedError, match="needs the coordinator"),
        registry.write() as session,
    ):
        create_case(session, reader, NewCase("PML-1", "X", Sex.MALE, "20-29", Condition.HIV))


def test_case_list_counts_and_filters(registry: Registry, coordinator: Actor) -> None:
    affine = np.diag([0.9, 0.9, 4.0, 1.0])
    with registry.write() as session:
        for n, (site, condition) in enumerate(
            [
                ("NL-AMS", Condition.HIV),
                ("DE-BN", Condition.MS_NATALIZUMAB),
                ("NL-AMS", Condition.TRANSPLANT),
            ]
        ):
            create_case(
                session, coordinator, NewCase(f"PML-{n:04d}", site, Sex.FEMALE, "40-49", condition)
            )
        for day in (0, 60):
            study = add_study(
                session, coordinator, "PML-0001", day, study_instance_uid=f"1.2.{day}"
            )
            for seq in (SequenceClass.FLAIR, SequenceClass.T1, SequenceClass.DWI):
                add_series(
                    session,
                    coordinator,
                    study,
                    SeriesRecord(
                        source_kind="dicom",  # type: ignore[arg-type]
                        source_uri=f"/x/{day}/{seq}",
                        content_sha256=hashlib.sha256(f"{day}{seq}".encode()).hexdigest(),
                        sequence_class=seq,
                        shape=(256, 256, 40),
                        affine=affine,
                        dtype="int16",
                        series_instance_uid=f"1.2.{day}.{seq.name}",
                    ),
                )
        add_lab_result(
            session,
            coordinator,
            LabEntry("PML-0001", LabTest.CSF_JCV_PCR, 3, LabQualitative.DETECTED, 340, "copies/mL"),
        )
    with registry.read() as session:
        rows = {r.registry_id: r for r in list_cases(session)}
        assert (rows["PML-0001"].timepoints, rows["PML-0001"].series) == (2, 6)
        assert rows["PML-0001"].lab_results == 1
        assert (rows["PML-0000"].timepoints, rows["PML-0000"].series) == (0, 0)
        assert [r.registry_id for r in list_cases(session, CaseFilter(site="NL-AMS"))] == [
            "PML-0000",
            "PML-0002",
        ]
        only_hiv = list_cases(session, CaseFilter(condition=Condition.HIV))
        assert [r.registry_id for r in only_hiv] == ["PML-0000"]
        assert list_cases(session, CaseFilter(status=CaseStatus.FINAL)) == []
        assert [r.registry_id for r in list_cases(session, CaseFilter(text="0002"))] == ["PML-0002"]
        assert list_cases(session, CaseFilter(text="PML_0")) == []  # '_' is no wildcard
