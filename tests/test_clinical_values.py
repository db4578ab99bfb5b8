"""The clinical record's value types: what they accept, what they refuse, and how they say so."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from workbench.cases import NewExposure
from workbench.clinical import (
    ClinicalRecord,
    DrugClass,
    Finding,
    Histology,
    Scale,
    Score,
    ScoreTime,
    SpecimenKind,
    TissueJcv,
    TissueTechnique,
    Treatment,
    TreatmentKind,
    validate_score,
)
from workbench.domain import Condition
from workbench.errors import ValidationError

FULL: dict[str, Any] = {
    "diagnosis_year": "2019",
    "onset_day": "-21",
    "diagnosis_day": 0,
    "detection_mode": "screening_mri",
    "other_conditions": "solid_neoplasm; primary_immunodeficiency",
    "anti_jcv_index": "3.2",
    "anti_jcv_index_day": -200,
    "lymphocytes": "0.6",
    "cd4_nadir": "120",
    "iris": "yes",
    "iris_onset_day": 40,
    "iris_treatment": "methylprednisolone 1 g for 5 days",
    "death_cause": "pml",
    "histopathology": [
        {
            "kind": "biopsy",
            "day": 5,
            "demyelination": "present",
            "bizarre_astrocytes": "present",
            "enlarged_oligodendroglial_nuclei": "present",
            "tissue_jcv": "detected",
            "techniques": ["ihc", "pcr"],
        }
    ],
    "treatments": [
        {"kind": "plasma_exchange", "start_day": 3, "stop_day": 10, "detail": "5 sessions"},
        {"kind": "other", "detail": "maraviroc"},
    ],
    "scores": [
        {"scale": "edss", "time": "before_pml", "value": "3.5"},
        {"scale": "kps", "time": "diagnosis", "value": 60},
        {"scale": "mrs", "time": "month_12", "value": "4"},
    ],
}


def test_a_full_record_reads_from_strings_and_round_trips() -> None:
    record = ClinicalRecord.from_json(FULL)

    assert record.diagnosis_year == 2019
    assert record.onset_day == -21
    assert record.other_conditions == (
        Condition.SOLID_NEOPLASM,
        Condition.PRIMARY_IMMUNODEFICIENCY,
    )
    assert record.anti_jcv_index == pytest.approx(3.2)
    assert record.cd4_nadir == 120
    assert record.histopathology[0].techniques == (TissueTechnique.IHC, TissueTechnique.PCR)
    assert record.score(Scale.EDSS, ScoreTime.BEFORE_PML) == 3.5
    assert record.score(Scale.EDSS, ScoreTime.MONTH_24) is None
    assert ClinicalRecord.from_json(record.as_json()) == record


@pytest.mark.parametrize(
    ("components", "triad"),
    [
        ((Finding.PRESENT,) * 3, "present"),
        ((Finding.PRESENT, Finding.ABSENT, Finding.NOT_ASSESSED), "incomplete"),
        ((Finding.ABSENT,) * 3, "absent"),
        ((Finding.ABSENT, Finding.NOT_ASSESSED, Finding.NOT_ASSESSED), "absent"),
        ((Finding.NOT_ASSESSED,) * 3, "not_done"),
    ],
)
def test_the_engine_triad_follows_the_components(
    components: tuple[Finding, Finding, Finding], triad: str
) -> None:
    record = Histology(SpecimenKind.AUTOPSY, None, *components)
    assert record.triad == triad


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"diagnosis_year": dt.datetime.now(dt.UTC).year + 1}, "diagnosis year", "not between"),
        ({"diagnosis_year": 1900}, "diagnosis year", "not between"),
        ({"onset_day": 5, "diagnosis_day": 1}, "diagnosis day", "before onset"),
        ({"onset_day": "2020-01-01"}, "onset day", "dates are never stored"),
        ({"detection_mode": "by chance"}, "detection mode", "not one of"),
        ({"other_conditions": "hiv;hiv"}, "other conditions", "twice"),
        ({"other_conditions": "diabetes"}, "other conditions", "not one of"),
        ({"anti_jcv_index": "-1"}, "anti-JCV index", "between"),
        ({"anti_jcv_index": "high"}, "anti-JCV index", "not a number"),
        ({"cd4_nadir": "12.5"}, "CD4 nadir", "whole number"),
        ({"cd4_nadir": 50_000}, "CD4 nadir", "not plausible"),
        ({"iris": "no", "iris_onset_day": 3}, "IRIS", "IRIS is no"),
        ({"death_cause": None, "death_cause_detail": "sepsis"}, "death cause", "without a cause"),
        ({"surname": "Smith"}, "surname", "unknown field"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        ClinicalRecord.from_json({**FULL, **change})
    assert refused.value.field == field
    assert words in str(refused.value)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"kind": "biopsy", "tissue_jcv": "detected"}, "say by which technique"),
        ({"kind": "biopsy", "techniques": "ihc"}, "tissue JCV is not done"),
        ({"kind": "biopsy", "tissue_jcv": "detected", "techniques": "ihc;ihc"}, "twice"),
        ({"day": 3}, "kind is required"),
        ({"kind": "smear"}, "not one of"),
    ],
)
def test_bad_histopathology_is_refused_with_its_number(entry: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=r"^histopathology 1: ") as refused:
        ClinicalRecord.from_json({"histopathology": [entry]})
    assert words in str(refused.value)


def test_scores_are_checked_against_their_scale() -> None:
    assert validate_score(Scale.KPS, 70) == 70
    assert validate_score(Scale.EDSS, 0) == 0
    assert validate_score(Scale.EDSS, 6.5) == 6.5
    for scale, value in [(Scale.KPS, 75), (Scale.MRS, 2.5), (Scale.MRS, 7), (Scale.EDSS, 0.5)]:
        with pytest.raises(ValidationError):
            validate_score(scale, value)
    with pytest.raises(ValidationError, match="given twice"):
        ClinicalRecord(
            scores=(
                Score(Scale.MRS, ScoreTime.DIAGNOSIS, 3),
                Score(Scale.MRS, ScoreTime.DIAGNOSIS, 4),
            )
        )


def test_treatments_need_their_days_in_order_and_other_needs_a_detail() -> None:
    with pytest.raises(ValidationError, match="stops before it starts"):
        Treatment(TreatmentKind.CORTICOSTEROIDS, start_day=10, stop_day=2)
    with pytest.raises(ValidationError, match="say what"):
        Treatment(TreatmentKind.OTHER)
    assert Treatment("Plasma_Exchange").kind is TreatmentKind.PLASMA_EXCHANGE  # type: ignore[arg-type]


def test_structured_exposures_validate_class_schedule_and_last_dose() -> None:
    schedule: Any = "extended_interval"
    exposure = NewExposure("natalizumab", 0, 700, 24, DrugClass.ANTI_INTEGRIN, schedule, 690)
    assert exposure.dosing_schedule.value == "extended_interval"
    with pytest.raises(ValidationError, match="class"):
        NewExposure("natalizumab", drug_class="integrin blocker")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="last dose day"):
        NewExposure("natalizumab", start_day=100, last_dose_day=10)


def test_tissue_not_done_needs_no_technique() -> None:
    record = Histology(SpecimenKind.BIOPSY, tissue_jcv=TissueJcv.NOT_DONE)
    assert record.techniques == ()
