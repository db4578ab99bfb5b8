"""``pml-workbench intake``: template → dry run → intake → case assign → in reading, and a
refused package printed one problem per line with nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_cli import run


def _cache() -> list[Path]:
    cache = Path(os.environ["PML_WORKBENCH_DATA"]) / "cache"
    return sorted(cache.rglob("*")) if cache.exists() else []


def test_template_dry_run_intake_assign(
    capsys: pytest.CaptureFixture[str], sqlite_url: str, tmp_path: Path
) -> None:
    package = tmp_path / "site-package"
    code, out, _ = run(capsys, "intake", "--template", str(package))
    assert code == 0
    assert f"wrote an example package to {package}" in out
    assert (package / "manifest.toml").is_file()
    assert (package / "labs.csv").is_file()

    code, out, err = run(capsys, "--db", sqlite_url, "intake", str(package), "--dry-run")
    assert code == 0, err
    assert "would create:" in out
    assert "case PML-EXAMPLE-1 (site NL-AMS, ms_natalizumab)" in out
    assert "dry run: nothing was written" in out
    assert "Checking de-identification of images/baseline ..." in err  # progress on stderr
    assert json.loads(run(capsys, "--db", sqlite_url, "cases", "--json")[1]) == []
    assert _cache() == []

    code, out, err = run(capsys, "--db", sqlite_url, "intake", str(package), "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["status"] == "ready"
    assert created["missing_for_reading"] == []
    assert len(created["series_ids"]) == 4
    assert created["manifest_version"] == 1
    assert len(_cache()) > 0

    for name in ("rad1", "rad2"):
        argv = ("user", "add", name, "--name", name, "--role", "reader")
        assert run(capsys, "--db", sqlite_url, *argv)[0] == 0
    code, _, err = run(
        capsys, "--db", sqlite_url, "case", "assign", "PML-EXAMPLE-1",
        "--reader", "rad1", "--reader", "rad2",
    )  # fmt: skip
    assert code == 0, err
    (listed,) = json.loads(run(capsys, "--db", sqlite_url, "cases", "--json")[1])
    assert (listed["registry_id"], listed["status"]) == ("PML-EXAMPLE-1", "in_reading")
    assert (listed["series"], listed["lab_results"]) == (4, 3)


def test_a_bad_package_prints_every_problem_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], sqlite_url: str, tmp_path: Path
) -> None:
    package = tmp_path / "bad"
    assert run(capsys, "intake", "--template", str(package))[0] == 0
    manifest = package / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace('sex = "female"', 'sex = "woman"').replace("version = 1", "version = 1")
    text = text.replace('folder = "images/follow-up"', 'folder = "images/missing"')
    manifest.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    sex_line = next(n for n, line in enumerate(lines, 1) if line.startswith("sex ="))
    folder_line = next(n for n, line in enumerate(lines, 1) if '"images/missing"' in line)

    for extra in ((), ("--dry-run",)):
        code, out, err = run(capsys, "--db", sqlite_url, "intake", str(package), *extra)
        assert code == 1
        assert out == ""
        problems = [line for line in err.splitlines() if line.startswith("manifest.toml:")]
        assert problems == [
            f"manifest.toml:{sex_line}: case.sex: 'woman' is not one of female, male, other, "
            "unknown",
            f"manifest.toml:{folder_line}: imaging[2].folder: 'images/missing': no such folder "
            "in the package",
        ]
        assert err.splitlines()[-1] == f"error: {package}: 2 problem(s); nothing was written"
    assert json.loads(run(capsys, "--db", sqlite_url, "cases", "--json")[1]) == []
    assert _cache() == []

    code, out, _ = run(capsys, "--db", sqlite_url, "intake", str(package), "--dry-run", "--json")
    assert code == 1
    answer = json.loads(out)
    assert answer["ok"] is False
    assert [(p["line"], p["field"]) for p in answer["problems"]] == [
        (sex_line, "case.sex"),
        (folder_line, "imaging[2].folder"),
    ]


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "intake")[0] == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("x")
    code, _, err = run(capsys, "intake", "--template", str(tmp_path / "full"))
    assert code == 1
    assert "not an empty folder" in err
    code, _, err = run(capsys, "intake", "--template", str(tmp_path / "t"), "--id", "nope")
    assert code == 1
    assert "registry id: 'nope'" in err
    assert not (tmp_path / "t").exists()
