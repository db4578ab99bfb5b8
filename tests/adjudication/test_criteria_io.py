"""The JSON file format of ``pml-workbench criteria FILE.json``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from adjudication.criteria import (
    RULESET_VERSION,
    Inputs,
    PcrInput,
    TissueJcvInput,
    TriadInput,
    evaluate,
)
from adjudication.criteria_io import (
    CriteriaInputError,
    criteria_main,
    load_cases,
    result_json,
)
from adjudication.vocabulary import Certainty, TriState


def obj(case_id: str = "PML-0001", **changes: Any) -> dict[str, Any]:
    """A valid case object, changed by ``changes`` (a value of ``...`` removes the field)."""
    value: dict[str, Any] = {
        "id": case_id,
        "clinical_features": "present",
        "imaging_findings": "present",
        "csf_jcv_pcr": "not_done",
        "histopathology_triad": "not_done",
        "tissue_jcv": "not_done",
        "alternative_diagnosis": False,
    }
    value.update(changes)
    return {k: v for k, v in value.items() if v is not ...}


def problem(objects: Any) -> str:
    text = objects if isinstance(objects, str) else json.dumps(objects)
    with pytest.raises(CriteriaInputError) as caught:
        load_cases(text)
    return str(caught.value)


def test_load_cases_from_text_and_from_a_path(tmp_path: Path) -> None:
    objects = [
        obj("A", csf_jcv_pcr="detected"),
        obj("B", pcr_lod_copies_per_ml=200, pcr_days_after_onset=3, total_lesion_volume_ml=2.5),
        obj("C", pcr_lod_copies_per_ml=None),
    ]
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(objects), encoding="utf-8")
    for source in (json.dumps(objects), path):
        cases = load_cases(source)
        assert [case_id for case_id, _ in cases] == ["A", "B", "C"]
        assert cases[0][1].csf_jcv_pcr is PcrInput.DETECTED
        assert cases[0][1].clinical_features is TriState.PRESENT
        assert cases[1][1].pcr_lod_copies_per_ml == 200.0
        assert cases[1][1].pcr_days_after_onset == 3
        assert cases[2][1].pcr_lod_copies_per_ml is None


def test_an_empty_list_is_valid() -> None:
    assert load_cases("[]") == []


def test_invalid_json_names_line_and_column() -> None:
    message = problem('[\n  {"id": "A",\n   "clinical_features": present}\n]')
    assert "invalid JSON at line 3, column" in message


def test_invalid_json_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(CriteriaInputError, match=r"broken\.json: invalid JSON at line 1"):
        load_cases(path)


def test_top_level_must_be_a_list() -> None:
    assert "expected a JSON list of case objects, got an object" in problem(obj())


def test_each_item_must_be_an_object() -> None:
    message = problem([obj("A"), "B"])
    assert "object at index 1: expected a JSON object, got a string" in message


def test_missing_field_names_object_and_field() -> None:
    message = problem([obj("A"), obj("B", imaging_findings=...)])
    assert "object at index 1 (id 'B'): missing field 'imaging_findings'" in message


def test_missing_id_is_named_by_index() -> None:
    message = problem([obj(id=...)])
    assert "object at index 0: missing field 'id'" in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("alternative_diagnosis", "no", "field 'alternative_diagnosis' must be true or false"),
        ("alternative_diagnosis", 0, "field 'alternative_diagnosis' must be true or false"),
        ("clinical_features", True, "field 'clinical_features' must be a string"),
        ("csf_jcv_pcr", None, "field 'csf_jcv_pcr' must be a string"),
        ("id", 7, "field 'id' must be a non-empty string"),
        ("id", " ", "field 'id' must be a non-empty string"),
        ("pcr_lod_copies_per_ml", "high", "field 'pcr_lod_copies_per_ml' must be a number"),
        ("pcr_days_after_onset", 2.5, "field 'pcr_days_after_onset' must be a whole number"),
        ("total_lesion_volume_ml", [1], "field 'total_lesion_volume_ml' must be a number"),
        ("pcr_lod_copies_per_ml", 0, "field pcr_lod_copies_per_ml: must be greater than 0"),
        ("total_lesion_volume_ml", -2, "field total_lesion_volume_ml: must not be negative"),
    ],
)
def test_wrong_types_name_object_and_field(field: str, value: Any, expected: str) -> None:
    message = problem([obj("OK"), obj("X", **{field: value})])
    assert "object at index 1 (id " in message
    assert expected in message


def test_unknown_value_lists_the_allowed_ones() -> None:
    message = problem([obj("A", csf_jcv_pcr="positive")])
    assert (
        "object at index 0 (id 'A'): field 'csf_jcv_pcr': unknown value 'positive'; "
        "allowed: detected, detected_below_loq, not_detected, not_done"
    ) in message
    triad = problem([obj("A", histopathology_triad="partial")])
    assert "allowed: present, incomplete, absent, not_done" in triad


def test_unknown_field_is_refused_so_typos_show() -> None:
    message = problem([obj("A", csf_pcr="detected")])
    assert "object at index 0 (id 'A'): unknown field 'csf_pcr'" in message


def test_duplicate_id_names_both_objects() -> None:
    message = problem([obj("A"), obj("B"), obj("A")])
    assert "object at index 2 (id 'A'): duplicate id 'A' (first used by the object at index 0)" in (
        message
    )


def test_every_problem_is_reported_not_just_the_first() -> None:
    with pytest.raises(CriteriaInputError) as caught:
        load_cases(json.dumps([obj("A", csf_jcv_pcr="positive"), obj("B", tissue_jcv=...)]))
    assert len(caught.value.problems) == 2
    assert "2 problems" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_result_json_has_the_documented_shape() -> None:
    inputs = Inputs(
        clinical_features=TriState.PRESENT,
        imaging_findings=TriState.PRESENT,
        csf_jcv_pcr=PcrInput.NOT_DONE,
        histopathology_triad=TriadInput.NOT_DONE,
        tissue_jcv=TissueJcvInput.NOT_DONE,
        alternative_diagnosis=False,
    )
    data = result_json("PML-7", evaluate(inputs))
    assert list(data) == [
        "id",
        "certainty",
        "pathway",
        "rows",
        "explanation",
        "would_change",
        "unverified",
        "warnings",
        "ruleset",
        "bound",
    ]
    assert data["id"] == "PML-7"
    assert data["certainty"] == "possible"
    assert data["pathway"] == "clinical"
    assert data["rows"] == ["AAN2013-C3"]
    assert data["ruleset"] == RULESET_VERSION
    assert any("definite" in change for change in data["would_change"])
    assert json.loads(json.dumps(data)) == data


def test_not_classifiable_serialises_with_a_null_pathway() -> None:
    ((case_id, inputs),) = load_cases(json.dumps([obj("N", imaging_findings="not_assessed")]))
    data = result_json(case_id, evaluate(inputs))
    assert data["certainty"] == Certainty.NOT_CLASSIFIABLE.value == "not_classifiable"
    assert data["pathway"] is None
    assert data["rows"] == []


def run(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = criteria_main(path, out, err)
    return code, out.getvalue(), err.getvalue()


def test_criteria_main_prints_a_json_list(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    objects = [
        obj("D", csf_jcv_pcr="detected"),
        obj("P", clinical_features="absent", csf_jcv_pcr="detected"),
        obj("X", alternative_diagnosis=True),
        obj("H", histopathology_triad="incomplete", tissue_jcv="detected"),
    ]
    path.write_text(json.dumps(objects), encoding="utf-8")
    code, out, err = run(path)
    assert (code, err) == (0, "")
    results = json.loads(out)
    assert [(r["id"], r["certainty"]) for r in results] == [
        ("D", "definite"),
        ("P", "probable"),
        ("X", "not_pml"),
        ("H", "possible"),
    ]
    assert results[3]["unverified"] == ["AAN2013-H3"]
    allowed = {"definite", "probable", "possible", "not_pml", "not_classifiable"}
    assert {r["certainty"] for r in results} <= allowed


def test_criteria_main_invalid_input_exits_1_with_the_message(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([obj("A", tissue_jcv="maybe")]), encoding="utf-8")
    code, out, err = run(path)
    assert (code, out) == (1, "")
    assert err.startswith("error: ")
    assert "object at index 0 (id 'A'): field 'tissue_jcv': unknown value 'maybe'" in err


def test_criteria_main_not_utf8_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_bytes(b"\xff\xfe\x00[")
    code, out, err = run(path)
    assert (code, out) == (1, "")
    assert "not UTF-8" in err


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_criteria_main_unreadable_file_exits_2(tmp_path: Path, make: str) -> None:
    path = tmp_path / "cases.json"
    if make == "directory":
        path.mkdir()
    code, out, err = run(path)
    assert (code, out) == (2, "")
    assert f"cannot read {path}" in err


def test_detected_below_loq_is_expressible_counts_as_detected_and_is_flagged() -> None:
    ((_, inputs),) = load_cases(json.dumps([obj(csf_jcv_pcr="detected_below_loq")]))
    assert inputs.csf_jcv_pcr is PcrInput.DETECTED
    assert inputs.pcr_below_loq
    data = result_json("A", evaluate(inputs))
    assert data["certainty"] == "definite"
    assert any("low positive" in w for w in data["warnings"])


def test_iu_lod_and_copies_are_read_and_bad_ones_refused() -> None:
    text = json.dumps([obj(csf_jcv_pcr="not_detected", pcr_lod_iu_per_ml=25)])
    ((_, inputs),) = load_cases(text)
    assert inputs.pcr_lod_iu_per_ml == 25.0
    with pytest.raises(CriteriaInputError, match="pcr_copies_per_ml"):
        load_cases(json.dumps([obj(pcr_copies_per_ml="many")]))


def test_a_bound_is_serialised() -> None:
    text = json.dumps([obj(clinical_features="not_assessed", csf_jcv_pcr="detected")])
    ((case_id, inputs),) = load_cases(text)
    assert result_json(case_id, evaluate(inputs))["bound"] == ["definite", "probable"]
