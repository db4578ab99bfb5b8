"""``deid_check_main`` and ``deidentify_main``: exit codes and what they print."""

from __future__ import annotations

import io
import re
from pathlib import Path

from tests.deid.builders import (
    CASE,
    assert_nothing_planted,
    clean_dataset,
    identifying_dataset,
    write,
)
from workbench.deid.commands import deid_check_main, deidentify_main

FINDING_LINE = re.compile(
    r"^(?P<file>.+): (?P<keyword>\S+) (?P<tag>\(\S+\)) \[(?P<rule>[a-z-]+)\]: .+$"
)


def _run_check(path: Path, policy: Path | None = None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = deid_check_main(path, policy, out)
    return code, out.getvalue().splitlines()


def test_check_clean_exits_0_with_a_summary(tmp_path: Path) -> None:
    write(clean_dataset(), tmp_path / "a.dcm")
    code, lines = _run_check(tmp_path)
    assert code == 0
    assert lines == [
        f"{tmp_path}: 1 file(s) checked, 0 finding(s) in 0 file(s), 0 unreadable, "
        "0 not checked: de-identified"
    ]


def test_check_findings_exits_1_one_line_each(tmp_path: Path) -> None:
    path = write(identifying_dataset(), tmp_path / "a.dcm")
    code, lines = _run_check(path)
    assert code == 1
    findings = [m for m in map(FINDING_LINE.match, lines) if m]
    assert len(findings) == len(lines) - 1
    assert all(m["file"] == str(path) for m in findings)
    assert {
        ("PatientName", "(0010,0010)", "person-name"),
        ("AccessionNumber", "(0008,0050)", "annex-e"),
        ("RequestAttributesSequence[0].AccessionNumber", "(0040,0275)[0].(0008,0050)", "annex-e"),
        ("Private", "(0009,xxxx)", "private"),
    } <= {(m["keyword"], m["tag"], m["rule"]) for m in findings}
    assert lines[-1].endswith("NOT DE-IDENTIFIED")
    assert_nothing_planted(lines)


def test_check_unreadable_exits_2(tmp_path: Path) -> None:
    write(clean_dataset(), tmp_path / "a.dcm")
    bad = write(identifying_dataset(), tmp_path / "b.dcm")
    bad.write_bytes(bad.read_bytes()[:500])
    code, lines = _run_check(tmp_path)
    assert code == 2
    assert any(line.startswith(f"{bad}: unreadable: ") for line in lines)
    assert_nothing_planted(lines)


def test_check_missing_path_exits_2(tmp_path: Path) -> None:
    code, lines = _run_check(tmp_path / "nowhere")
    assert code == 2
    assert lines == [f"error: {tmp_path / 'nowhere'}: no such file or folder"]


def test_check_bad_policy_exits_2(tmp_path: Path) -> None:
    write(clean_dataset(), tmp_path / "a.dcm")
    policy = tmp_path / "policy.toml"
    policy.write_text("pseudonym_patern = 'x'\n")
    code, lines = _run_check(tmp_path / "a.dcm", policy)
    assert code == 2
    assert "unknown policy key(s) pseudonym_patern" in lines[0]
    code, lines = _run_check(tmp_path / "a.dcm", tmp_path / "missing.toml")
    assert code == 2
    assert lines[0].startswith("error: cannot use the policy")


def test_check_with_a_policy_file(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.PatientName = ds.PatientID = "SITE7-0001"
    path = write(ds, tmp_path / "a.dcm")
    policy = tmp_path / "policy.toml"
    policy.write_text("[deid]\npseudonym_pattern = '^SITE[0-9]-[0-9]{4}$'\n")
    assert _run_check(path)[0] == 1
    assert _run_check(path, policy)[0] == 0


def test_deidentify_writes_and_exits_0(tmp_path: Path) -> None:
    ds = identifying_dataset()
    ds.BurnedInAnnotation = "NO"
    write(ds, tmp_path / "in" / "a.dcm")
    (tmp_path / "in" / "notes.txt").write_text("notes")
    out = io.StringIO()
    assert deidentify_main(tmp_path / "in", tmp_path / "out", CASE, None, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"wrote {tmp_path / 'out' / 'a.dcm'}"
    assert lines[1] == f"{tmp_path / 'in' / 'notes.txt'}: note: not copied: neither DICOM nor NIfTI"
    assert "passes the de-identification gate" in lines[-1]
    assert _run_check(tmp_path / "out")[0] == 0
    assert_nothing_planted(lines)


def test_deidentify_refusals_exit_2(tmp_path: Path) -> None:
    write(clean_dataset(), tmp_path / "in" / "a.dcm")
    cases = [
        (tmp_path / "in", tmp_path / "out", "Smith^John", "is not a registry pseudonym"),
        (tmp_path / "in", tmp_path / "in" / "out", CASE, "inside the input"),
        (tmp_path / "nowhere", tmp_path / "out", CASE, "no such file or folder"),
    ]
    for source, target, case_id, message in cases:
        out = io.StringIO()
        assert deidentify_main(source, target, case_id, None, out) == 2
        assert out.getvalue().startswith("error: ")
        assert message in out.getvalue()
        assert "Smith" not in out.getvalue()
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.dcm"]
