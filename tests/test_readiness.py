"""A case leaves "incomplete": editing it, the completeness rules, and marking it ready.

Everything goes through the command line a coordinator uses, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.signin import TEST_PASSWORD, login
from workbench.cli import main
from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import SequenceClass
from workbench.review_config import ReviewConfigError, load_review_config

CASE = "PML-0042"
ADD = (
    *("case", "add", "--id", CASE, "--site", "NL-AMS", "--sex", "female"),
    *("--age-band", "40-49", "--condition", "ms_natalizumab"),
)


class Cli:
    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url, self.capsys = url, capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(["--db", self.url, *argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *argv: str) -> str:
        code, out, err = self(*argv)
        assert code == 0, err
        return out

    def shown(self) -> dict:
        return json.loads(self.ok("case", "show", CASE, "--json"))


@pytest.fixture
def cli(registry_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    login(registry_url, "coordinator")
    run = Cli(registry_url, capsys)
    run.ok(*ADD)
    return run


def _series(folder: Path, sequence: SequenceClass, number: int) -> Path:
    volume = (np.arange(5 * 12 * 10, dtype=np.int16) % 500).reshape(5, 12, 10)
    write_series(
        volume,
        folder,
        spacing_mm=(1.0, 1.0, 5.0),
        origin_lps=(0.0, 0.0, 0.0),
        study_instance_uid=new_uid("ready", "study"),
        series_instance_uid=new_uid("ready", str(folder)),
        frame_of_reference_uid=new_uid("ready", "frame"),
        series_number=number,
        sequence=sequence,
        patient_pseudonym=CASE,
    )
    return folder


def test_a_new_case_says_what_it_misses_and_is_not_marked_ready_without_a_reason(
    cli: Cli,
) -> None:
    shown = cli.shown()
    assert shown["status"] == "incomplete"
    assert shown["missing_for_reading"] == [
        "no imaging timepoint yet (needed: FLAIR)",
        "no CSF JC-virus PCR result (record one, or record it as not done)",
        "the clinical features have not been assessed (consistent with PML?)",
    ]
    code, _, err = cli("case", "ready", CASE)
    assert code == 1
    assert "is not complete: no imaging timepoint yet" in err
    assert "mark it ready anyway with a reason (--reason)" in err
    assert cli.shown()["status"] == "incomplete"
    code, _, err = cli("case", "ready", CASE, "--reason", "PCR \x1b[2J pending")
    assert code == 1
    assert "reason: holds control characters" in err

    out = cli.ok("case", "ready", CASE, "--reason", "the site sends the FLAIR next week")
    assert out.startswith(f"case {CASE} is ready; overridden: no imaging timepoint yet")
    assert cli.shown()["status"] == "ready"
    history = json.loads(cli.ok("case", "history", CASE, "--json"))
    (event,) = [e for e in history if e["action"] == "case.ready"]
    assert event["reason"] == "the site sends the FLAIR next week"
    assert len(event["after"]["readiness"]["missing_overridden"]) == 3
    code, _, err = cli("case", "ready", CASE, "--reason", "again")
    assert code == 1
    assert "only an incomplete case is marked ready" in err


def test_a_case_becomes_ready_when_its_data_complete_it(cli: Cli, tmp_path: Path) -> None:
    cli.ok("import", str(_series(tmp_path / "dwi", SequenceClass.DWI, 3)), "--case", CASE,
           "--day", "0")  # fmt: skip
    assert cli.shown()["missing_for_reading"][0] == (
        "the latest timepoint (day 0) has no FLAIR series"
    )
    cli.ok("import", str(_series(tmp_path / "flair", SequenceClass.FLAIR, 4)), "--case", CASE)
    out = cli.ok("case", "edit", CASE, "--clinical-consistent", "present", "--reason", "assessed")
    assert "status incomplete" in out  # the PCR is still missing
    labs = tmp_path / "labs.csv"
    labs.write_text("case,test,day,result\nPML-0042,csf_jcv_pcr,2,not_done\n", encoding="utf-8")
    cli.ok("labs", "import", str(labs))
    shown = cli.shown()
    assert shown["status"] == "ready"
    assert shown["missing_for_reading"] == []
    history = json.loads(cli.ok("case", "history", CASE, "--json"))
    (event,) = [e for e in history if e["action"] == "case.ready"]
    assert event["reason"] == "meets the completeness rules"
    # Readers may now be assigned: the case goes into reading.
    for name in ("rad1", "rad2"):
        cli.ok("user", "add", name, "--name", f"Dr {name}", "--role", "reader")
    out = cli.ok("case", "assign", CASE, "--reader", "rad1", "--reader", "rad2")
    assert "in_reading" in out or "in reading" in out


def test_editing_a_case_is_versioned_audited_and_validated(cli: Cli) -> None:
    out = cli.ok(
        *("case", "edit", CASE, "--summary", "gait ataxia over two months"),
        *("--exposure", "natalizumab:-1100:-20:37", "--feature", "ataxia=present@-60"),
        *("--reason", "site sent the clinical record"),
    )
    assert out.strip() == f"changed case {CASE} (version 2); status incomplete"
    shown = cli.shown()
    assert shown["exposures"] == [["natalizumab", -1100, -20, 37]]
    assert shown["clinical_features"] == [["ataxia", "present", -60]]
    assert shown["version"] == 2
    out = cli.ok("case", "edit", CASE, "--exposure", "rituximab:-400", "--reason", "correction")
    assert cli.shown()["exposures"] == [["rituximab", -400, None, None]]

    code, _, err = cli("case", "edit", CASE, "--sex", "male", "--reason", "x", "--version", "1")
    assert code == 1
    assert "changed by someone else since you opened it" in err
    assert cli.shown()["sex"] == "female"
    for argv, message in [
        (("--readers", "0"), "readers required: 0"),
        (("--readers", "6"), "readers required: 6 — give 1 to 5"),
        (("--age-band", "forty"), "age band: 'forty'"),
        (("--summary", "two\x1b[31m"), "holds control characters"),
        ((), "nothing to change"),
    ]:
        code, _, err = cli("case", "edit", CASE, *argv, "--reason", "try")
        assert code == 1, argv
        assert message in err
    with pytest.raises(SystemExit) as usage:  # the reason is required
        cli("case", "edit", CASE, "--sex", "male")
    assert usage.value.code == 2
    assert "--reason" in cli.capsys.readouterr().err
    history = json.loads(cli.ok("case", "history", CASE, "--json"))
    assert [e["reason"] for e in history if e["action"] == "case.update"] == [
        "site sent the clinical record",
        "correction",
    ]


def test_only_coordinators_edit_or_mark_ready(cli: Cli, registry_url: str) -> None:
    cli.ok("user", "add", "rad9", "--name", "Dr Nine", "--role", "reader")
    from workbench.registry.db import Registry
    from workbench.users import resolve_actor, set_password

    registry = Registry.open(registry_url)
    with registry.write() as session:
        set_password(session, resolve_actor(session, "rad9"), "rad9", TEST_PASSWORD)
    registry.close()
    login(registry_url, "rad9")
    code, _, err = cli("case", "edit", CASE, "--sex", "male", "--reason", "mine now")
    assert code == 1
    assert "coordinator" in err
    code, _, err = cli("case", "ready", CASE, "--reason", "mine now")
    assert code == 1
    assert "coordinator" in err


def test_the_readiness_rules_come_from_review_toml(tmp_path: Path) -> None:
    path = tmp_path / "review.toml"
    path.write_text('[readiness]\nsequences = ["flair", "DWI"]\ncsf_pcr = false\n')
    rules = load_review_config(path).readiness
    assert rules.sequences == (SequenceClass.FLAIR, SequenceClass.DWI)
    assert (rules.csf_pcr, rules.clinical) == (False, True)
    for body, message in [
        ('[readiness]\nsequences = ["PD"]\n', "'PD' is not a sequence class"),
        ("[readiness]\ncsf_pcr = 1\n", "csf_pcr: 1 is not true or false"),
        ('[readiness]\nsequences = "FLAIR"\n', "is not a list of names"),
    ]:
        path.write_text(body)
        with pytest.raises(ReviewConfigError, match=message):
            load_review_config(path)
