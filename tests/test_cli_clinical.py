"""``case edit --clinical`` and the clinical options, ``case clinical``, ``case show``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import ADD, run
from workbench.cli import main
from workbench.clinical import ClinicalRecord

RECORD: dict[str, Any] = {
    "diagnosis_year": 2022,
    "onset_day": -14,
    "diagnosis_day": 2,
    "detection_mode": "symptomatic",
    "other_conditions": ["solid_neoplasm"],
    "anti_jcv_index": 3.1,
    "histopathology": [
        {
            "kind": "biopsy",
            "day": 9,
            "demyelination": "present",
            "bizarre_astrocytes": "present",
            "enlarged_oligodendroglial_nuclei": "present",
            "tissue_jcv": "detected",
            "techniques": ["ihc"],
        }
    ],
    "treatments": [{"kind": "plasma_exchange", "start_day": 5, "stop_day": 12}],
    "scores": [{"scale": "edss", "time": "diagnosis", "value": 6.5}],
}


def _clinical(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, Any]:
    code, out, err = run(capsys, "--db", url, "case", "clinical", "PML-0042", "--json")
    assert (code, err) == (0, ""), err
    data: dict[str, Any] = json.loads(out)
    return data


def _version(capsys: pytest.CaptureFixture[str], url: str) -> int:
    code, out, _ = run(capsys, "--db", url, "case", "show", "PML-0042", "--json")
    assert code == 0
    return int(json.loads(out)["version"])


@pytest.fixture
def url(capsys: pytest.CaptureFixture[str], registry_url: str) -> str:
    code, _, err = run(capsys, "--db", registry_url, *ADD)
    assert (code, err) == (0, "")
    return registry_url


def test_a_record_file_is_stored_shown_and_merged_with_options(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path
) -> None:
    empty = _clinical(capsys, url)
    assert empty["histopathology"] == []
    assert empty["diagnosis_year"] is None
    path = tmp_path / "record.json"
    path.write_text(json.dumps(RECORD), encoding="utf-8")
    version = _version(capsys, url)
    code, out, err = run(
        capsys, "--db", url, "case", "edit", "PML-0042", "--clinical", str(path),
        "--reason", "site report", "--version", str(version),
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    assert f"(version {version + 1})" in out
    stored = _clinical(capsys, url)
    assert ClinicalRecord.from_json(stored) == ClinicalRecord.from_json(RECORD)
    assert stored["histopathology"][0]["techniques"] == ["ihc"]
    # Options change only their fields; the rest of the record stays.
    code, _, err = run(
        capsys, "--db", url, "case", "edit", "PML-0042", "--reason", "follow-up",
        "--iris", "yes", "--iris-onset-day", "40", "--other-condition", "hiv",
        "--other-condition", "primary_immunodeficiency", "--outcome", "died",
        "--outcome-day", "120", "--death-cause", "pml", "--cd4-nadir", "210",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    after = _clinical(capsys, url)
    assert (after["iris"], after["iris_onset_day"]) == ("yes", 40)
    assert after["other_conditions"] == ["hiv", "primary_immunodeficiency"]
    assert (after["death_cause"], after["cd4_nadir"]) == ("pml", 210)
    assert after["histopathology"] == stored["histopathology"]
    code, out, _ = run(capsys, "--db", url, "case", "clinical", "PML-0042")
    assert code == 0
    assert "biopsy (day +9): triad present" in out
    assert "outcome: died (day +120), cause pml" in out
    assert "EDSS diagnosis: 6.5" in out
    code, out, _ = run(capsys, "--db", url, "case", "show", "PML-0042", "--json")
    assert json.loads(out)["clinical_record"]["cd4_nadir"] == 210


def test_structured_exposures_from_the_command_line(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, _, err = run(
        capsys, "--db", url, "case", "edit", "PML-0042", "--reason", "class known",
        "--exposure", "natalizumab:-1100:-20:37,class=anti_integrin,schedule=extended_interval,"
        "last=-25", "--exposure", "azathioprine:-3000:-1200,prior",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    code, out, _ = run(capsys, "--db", url, "case", "show", "PML-0042", "--json")
    assert json.loads(out)["exposures"] == [
        ["azathioprine", -3000, -1200, None, {"prior": True}],
        [
            "natalizumab", -1100, -20, 37,
            {"class": "anti_integrin", "schedule": "extended_interval", "last_dose_day": -25},
        ],
    ]  # fmt: skip
    code, _, err = run(
        capsys, "--db", url, "case", "edit", "PML-0042", "--reason", "x",
        "--exposure", "natalizumab:-1100,class=integrin",
    )  # fmt: skip
    assert code != 0
    assert "exposure natalizumab class: 'integrin' is not one of" in err
    with pytest.raises(SystemExit):
        main(["case", "edit", "--help"])
    out = capsys.readouterr().out
    for words in ("class=CLASS", "--other-condition", "--clinical", "--death-cause"):
        assert words in out


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", r"record\.json: not JSON \(Expecting property name"),
        ("[1, 2]", r"record\.json: expected a JSON object"),
        ('{"onset_day": "yesterday"}', r"record\.json: .*onset day: 'yesterday' is not a day"),
        ('{"colour": "red"}', r"record\.json: .*unknown field 'colour'"),
        (
            '{"histopathology": [{"kind": "biopsy", "tissue_jcv": "detected"}]}',
            r"record\.json: histopathology 1: tissue JCV technique",
        ),
        (
            '{"scores": [{"scale": "kps", "time": "diagnosis", "value": 65}]}',
            r"record\.json: score 1: KPS score: 65 is not 0 to 100 in steps of 10",
        ),
    ],
)
def test_a_bad_record_file_names_the_file_and_the_field_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path, content: str, words: str
) -> None:
    path = tmp_path / "record.json"
    path.write_text(content, encoding="utf-8")
    version = _version(capsys, url)
    code, out, err = run(
        capsys, "--db", url, "case", "edit", "PML-0042", "--clinical", str(path),
        "--reason", "r", "--diagnosis-year", "2020",
    )  # fmt: skip
    assert code != 0
    assert out == ""
    assert re.search(words, err), err
    assert _version(capsys, url) == version
    assert _clinical(capsys, url)["diagnosis_year"] is None


def test_a_missing_file_is_named(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path
) -> None:
    path = tmp_path / "absent.json"
    code, _, err = run(
        capsys, "--db", url, "case", "edit", "PML-0042", "--clinical", str(path), "--reason", "r"
    )
    assert code != 0
    assert f"{path}: no such file" in err


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--onset-day", "soon", "onset day: 'soon' is not a day"),
        ("--detection-mode", "mri", "detection mode: 'mri' is not one of"),
        ("--anti-jcv-index", "-1", "anti-JCV index: '-1' must be between 0 and 100"),
        ("--diagnosis-year", "1900", "diagnosis year: 1900 is not between 1958"),
        ("--iris", "maybe", "IRIS: 'maybe' is not one of"),
        ("--other-condition", "flu", "other conditions: 'flu' is not one of"),
        ("--death-cause", "pml", "death cause: the case's outcome is unknown, not died"),
        ("--outcome-day", "later", "outcome day: 'later' is not a whole number"),
        ("--outcome", "asleep", "outcome: 'asleep' is not one of"),
    ],
)
def test_bad_option_values_name_the_field_and_write_nothing(
    capsys: pytest.CaptureFixture[str], url: str, option: str, value: str, words: str
) -> None:
    version = _version(capsys, url)
    code, out, err = run(
        capsys, "--db", url, "case", "edit", "PML-0042", "--reason", "r",
        "--summary", "changed too", option, value,
    )  # fmt: skip
    assert code != 0
    assert out == ""
    assert words in err, err
    assert _version(capsys, url) == version
    code, shown, _ = run(capsys, "--db", url, "case", "show", "PML-0042", "--json")
    assert json.loads(shown)["clinical_summary"] is None


def test_a_stale_version_is_refused(capsys: pytest.CaptureFixture[str], url: str) -> None:
    version = _version(capsys, url)
    code, _, _ = run(capsys, "--db", url, "case", "edit", "PML-0042", "--reason", "r",
                     "--age-band", "50-59")  # fmt: skip
    assert code == 0
    code, _, err = run(
        capsys, "--db", url, "case", "edit", "PML-0042", "--reason", "r",
        "--version", str(version), "--diagnosis-year", "2021",
    )  # fmt: skip
    assert code != 0
    assert "changed by someone else" in err
    assert _clinical(capsys, url)["diagnosis_year"] is None
