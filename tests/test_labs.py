"""Lab results: validation, unit spelling, and all-or-nothing CSV import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from workbench.cases import NewCase, create_case
from workbench.domain import Condition, LabQualitative, LabTest, Sex
from workbench.errors import ValidationError
from workbench.labs import LabEntry, LabFileError, import_lab_file, normalise_unit
from workbench.registry.db import Registry
from workbench.registry.models import LabResult
from workbench.users import Actor

HEADER = "case,test,day,result,value,unit,assay,lod,loq\n"


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("cp/ml", "copies/mL"),
        ("Copies/mL", "copies/mL"),
        ("IU/ml", "IU/mL"),
        ("cells/mm3", "cells/µL"),
        ("cells/uL", "cells/µL"),
        ("  index ", "index"),
    ],
)
def test_unit_spellings_are_normalised(spelling: str, canonical: str) -> None:
    assert normalise_unit(spelling) == canonical


def test_copies_and_international_units_are_kept_apart() -> None:
    copies = LabEntry("PML-1", LabTest.CSF_JCV_PCR, 0, LabQualitative.DETECTED, 500, "cp/ml")
    iu = LabEntry("PML-1", LabTest.CSF_JCV_PCR, 0, LabQualitative.DETECTED, 500, "iu/mL")
    assert (copies.unit, copies.value) == ("copies/mL", 500)
    assert (iu.unit, iu.value) == ("IU/mL", 500)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qualitative": LabQualitative.NOT_DETECTED, "value": 12.0}, "value: a not_detected"),
        ({"unit": "mg/dL"}, "unit: 'mg/dL' is not a unit of csf_jcv_pcr"),
        ({"value": None, "unit": None, "lod": 10.0}, "unit: LOD and LOQ"),
        ({"lod": 50.0, "loq": 20.0}, "loq: 20.0 is below the LOD"),
        ({"value": 5.0, "lod": 10.0}, "below the assay's LOD"),
        ({"qualitative": LabQualitative.QUANTITATIVE}, "result: 'quantitative' is not a result"),
        ({"value": -3.0}, "value: -3.0 must be a finite number"),
        ({"unit": None}, "unit: a value needs its unit"),
    ],
)
def test_inconsistent_results_are_refused_naming_the_field(kwargs: dict, message: str) -> None:
    base = {
        "registry_id": "PML-1",
        "test": LabTest.CSF_JCV_PCR,
        "day": 0,
        "qualitative": LabQualitative.DETECTED,
        "value": 120.0,
        "unit": "copies/mL",
    }
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        LabEntry(**{**base, **kwargs})


def test_detected_below_loq_needs_no_value() -> None:
    entry = LabEntry(
        "PML-1", LabTest.CSF_JCV_PCR, 3, LabQualitative.DETECTED_BELOW_LOQ,
        unit="copies/mL", assay="ultrasensitive", lod=10, loq=50,
    )  # fmt: skip
    assert entry.value is None


@pytest.fixture
def two_cases(registry: Registry, coordinator: Actor) -> Registry:
    with registry.write() as session:
        for rid in ("PML-0001", "PML-0002"):
            create_case(
                session, coordinator, NewCase(rid, "DE-BN", Sex.MALE, "30-39", Condition.HIV)
            )
    return registry


def _lab_count(registry: Registry) -> int:
    with registry.read() as session:
        return int(session.scalar(select(func.count()).select_from(LabResult)) or 0)


def test_csv_import_stores_every_row(two_cases: Registry, coordinator: Actor, tmp_path: Path):
    path = tmp_path / "labs.csv"
    path.write_text(
        HEADER
        + "PML-0001,csf_jcv_pcr,0,detected,1200,cp/ml,Quest ultrasensitive,10,\n"
        + "PML-0001,cd4_count,-2,quantitative,85,cells/mm3,,,\n"
        + "PML-0002,CSF JCV PCR,5,not_detected,,copies/mL,in-house,200,\n",
        encoding="utf-8",
    )
    with two_cases.write() as session:
        results = import_lab_file(session, coordinator, path)
    assert len(results) == 3
    with two_cases.read() as session:
        rows = session.scalars(select(LabResult).order_by(LabResult.id)).all()
        assert [(r.test, r.value, r.unit, r.lod) for r in rows] == [
            (LabTest.CSF_JCV_PCR, 1200.0, "copies/mL", 10.0),
            (LabTest.CD4_COUNT, 85.0, "cells/µL", None),
            (LabTest.CSF_JCV_PCR, None, "copies/mL", 200.0),
        ]


def test_a_file_with_any_bad_row_imports_nothing(
    two_cases: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    path = tmp_path / "labs.csv"
    path.write_text(
        HEADER
        + "PML-0001,csf_jcv_pcr,0,detected,1200,copies/mL,Quest,10,\n"
        + "PML-0001,cd4_count,x,quantitative,85,cells/µL,,,\n"
        + "PML-0009,csf_jcv_pcr,1,not_detected,,copies/mL,X,200,\n"
        + "PML-0002,csf_jcv_pcr,1,maybe,,,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(LabFileError) as caught, two_cases.write() as session:
        import_lab_file(session, coordinator, path)
    lines = [(e.line, e.column) for e in caught.value.errors]
    assert lines == [(3, "day"), (4, "case"), (5, "result")]
    assert "nothing imported" in str(caught.value)
    assert _lab_count(two_cases) == 0


def test_missing_columns_are_named(two_cases: Registry, coordinator: Actor, tmp_path: Path):
    path = tmp_path / "labs.csv"
    path.write_text("case,test,value\nPML-0001,cd4_count,5\n", encoding="utf-8")
    with (
        pytest.raises(LabFileError, match="column day: required column"),
        two_cases.write() as session,
    ):
        import_lab_file(session, coordinator, path)


def test_a_file_that_is_not_text_is_refused(
    two_cases: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    path = tmp_path / "labs.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    with pytest.raises(ValidationError, match="not UTF-8"), two_cases.write() as session:
        import_lab_file(session, coordinator, path)
