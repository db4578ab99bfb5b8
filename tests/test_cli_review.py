"""The review flow from the command line: reads, panel decisions, signatures, history, config.

Everything runs through :func:`workbench.cli.main` against a real SQLite registry, acting as
different users, each signed in with ``pml-workbench login`` first. Readers draw their lesions
with the Python API (the command line has no drawing), then submit from the command line.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.signin import NO_SIGN_IN, TEST_PASSWORD, login, signed_in_user
from workbench.cli import main
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Series
from workbench.services import signin
from workbench.users import check_password, read_password_hash

CASE = "PML-0042"
PASSWORDS = {"neuro1": "neuro-one-secret", "neuro2": "neuro-two-secret"}
SHAPE_IJK = (10, 12, 5)  # the series written by _write_series, as the registry stores it


@dataclass(frozen=True)
class Cli:
    """Runs the command line on one registry and returns (exit code, stdout, stderr)."""

    url: str
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    passwords: dict[str, str] = field(default_factory=dict)
    """Each person's own password (default :data:`TEST_PASSWORD`)."""

    def __call__(self, *argv: str, user: str | None = None, stdin: str | None = None):
        """Run ``argv`` as ``user`` (default: the coordinator), signing them in first."""
        who = user or "coordinator"
        if argv and argv[0] not in NO_SIGN_IN and signed_in_user(self.url) != who:
            login(self.url, who, self.passwords.get(who, TEST_PASSWORD))
        if stdin is not None:
            self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--db", self.url, *argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *argv: str, user: str | None = None, stdin: str | None = None) -> str:
        code, out, err = self(*argv, user=user, stdin=stdin)
        assert code == 0, err
        assert "error:" not in err  # (an import reports its progress on stderr)
        return out

    def add_user(self, name: str, role: str, password: str = TEST_PASSWORD) -> None:
        """Add ``name`` as the coordinator, with a one-time password they replace by
        ``password`` at their first sign-in."""
        out = self.ok(
            *("user", "add", name, "--name", f"Dr {name.title()}", "--role", role),
            "--password-stdin",
            stdin=f"one-time-{name}\n",
        )
        assert out.strip() == f"added user {name} with a one-time password"
        login(self.url, name, f"one-time-{name}", new_password=password)
        self.passwords[name] = password


def _write_series(folder: Path) -> None:
    from workbench.demo.dicom_series import new_uid, write_series
    from workbench.domain import SequenceClass

    volume = (np.arange(5 * 12 * 10, dtype=np.int16) % 500).reshape(5, 12, 10)
    write_series(
        volume,
        folder,
        spacing_mm=(1.0, 1.0, 5.0),
        origin_lps=(0.0, 0.0, 0.0),
        study_instance_uid=new_uid("cli-review", "study"),
        series_instance_uid=new_uid("cli-review", str(folder)),
        frame_of_reference_uid=new_uid("cli-review", "frame"),
        series_number=1,
        sequence=SequenceClass.FLAIR,
        patient_pseudonym=CASE,
    )


def _draw(url: str, reader: str, box: tuple[slice, slice, slice]) -> None:
    """The reader's draft with one lesion, drawn the way the window saves it."""
    from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
    from workbench.users import resolve_actor

    registry = Registry.open(url)
    with registry.write() as session:
        actor = resolve_actor(session, reader)
        series_id = session.scalars(select(Series.id)).one()
        labels = np.zeros(SHAPE_IJK, dtype=np.uint8)
        labels[box] = 1
        read = start_or_resume_draft(session, actor, CASE)
        save_draft(session, actor, read.id, read.version, lesions=[LesionDraft(series_id, labels)])
    registry.close()


LESION = (slice(2, 6), slice(3, 7), slice(1, 4))  # 48 voxels of 5 mm³: 0.24 mL


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    tmp_path: Path,
) -> Cli:
    """A case with one FLAIR series, readers rad1 and rad2, panel neuro1 and neuro2 assigned."""
    from workbench.cases import get_case, update_case
    from workbench.users import resolve_actor

    run = Cli(sqlite_url, capsys, monkeypatch)
    run.ok(
        *("case", "add", "--id", CASE, "--site", "NL-AMS", "--sex", "female"),
        *("--age-band", "40-49", "--condition", "ms_natalizumab"),
    )
    _write_series(tmp_path / "flair")
    run.ok("import", str(tmp_path / "flair"), "--case", CASE, "--day", "0")
    for name in ("rad1", "rad2"):
        run.add_user(name, "reader")
    for name, secret in PASSWORDS.items():
        run.add_user(name, "panel", secret)
    registry = Registry.open(sqlite_url)
    with registry.write() as session:  # the coordinator marks the case complete
        case = get_case(session, CASE)
        update_case(
            session, resolve_actor(session, "coordinator"), CASE, case.version, {"status": "ready"}
        )
    registry.close()
    run.ok(
        *("case", "assign", CASE, "--reader", "rad1", "--reader", "rad2"),
        *("--panel", "neuro1", "--panel", "neuro2"),
    )
    _draw(sqlite_url, "rad1", LESION)
    _draw(sqlite_url, "rad2", LESION)
    return run


def test_readers_submit_discordant_reads_and_the_panel_signs_a_decision(cli: Cli) -> None:
    # rad2 submits first; the case waits for rad1.
    out = cli.ok("read", "submit", CASE, "--judgement", "equivocal", user="rad2")
    assert re.match(rf"submitted read #\d+ of {CASE} \(revision 1\): equivocal, 1 lesion", out)
    assert f"{CASE}: 1 of 2 assigned read(s) in; status in_reading" in out

    # Blinding: rad1 has not submitted and may not see rad2's read; the coordinator sees
    # only its status.
    mine = json.loads(cli.ok("read", "list", CASE, "--json", user="rad1"))
    assert [r["reader"] for r in mine] == ["rad1"]  # rad2's read is not even listed
    reads = json.loads(cli.ok("read", "list", CASE, "--json"))
    submitted = [r for r in reads if r["status"] == "submitted"]
    assert [(r["reader"], r["blinded"], r["judgement"]) for r in submitted] == [
        ("rad2", True, None)
    ]
    assert "blinded until every assigned reader has submitted" in cli.ok("read", "list", CASE)

    # The panel cannot decide yet.
    code, _, err = cli(
        "decision", "propose", CASE, "--certainty", "possible", "--pathway", "clinical",
        user="neuro1",
    )  # fmt: skip
    assert code == 1
    assert "reads are still outstanding" in err

    out = cli.ok(
        "read", "submit", CASE, "--judgement", "yes", "--confidence", "4",
        "--comment", "Subcortical lesion reaching the U-fibres.", user="rad1",
    )  # fmt: skip
    assert f"{CASE}: all reads in: discordant (judgement); status discordant" in out
    reads = json.loads(cli.ok("read", "list", CASE, "--json", user="rad1"))
    assert {(r["reader"], r["judgement"], r["lesions"], r["blinded"]) for r in reads} == {
        ("rad1", "yes", 1, False),
        ("rad2", "equivocal", 1, False),
    }
    assert {r["total_ml"] for r in reads} == {0.24}  # the drawn lesion was kept on submit
    mine = next(r for r in reads if r["reader"] == "rad1")
    assert (mine["confidence"], mine["comment"]) == (4, "Subcortical lesion reaching the U-fibres.")
    code, _, err = cli("read", "submit", CASE, "--judgement", "yes", user="rad1")
    assert code == 1
    assert "no open draft read" in err

    # Discordant reads owe a rationale.
    propose = ("decision", "propose", CASE, "--certainty", "not_classifiable")
    code, out, err = cli(*propose, user="neuro1")
    assert (code, out) == (1, "")
    assert err.startswith(f"error: case {CASE}: rationale: required because")
    assert "discordant" in err
    assert cli.ok("decision", "list", CASE).strip() == f"{CASE}: no panel decision yet"
    rationale = "Reads disagree (yes against equivocal) and no CSF PCR yet."
    out = cli.ok(*propose, "--rationale", rationale, "--imaging", "equivocal", user="neuro1")
    match = re.match(rf"proposed decision #(\d+) for {CASE}: not_classifiable; ", out)
    assert match, out
    decision = match.group(1)
    assert f"pml-workbench decision sign {decision}" in out
    code, _, err = cli(*propose, "--rationale", rationale, user="neuro2")
    assert code == 1
    assert f"--replaces {decision}" in err  # a pending decision is replaced only by name

    # A wrong password signs nothing.
    code, _, err = cli(
        "decision", "sign", decision, "--password-stdin", user="neuro1", stdin="guess\n"
    )
    assert code == 1
    assert "does not match; nothing was signed" in err
    (pending,) = json.loads(cli.ok("decision", "list", CASE, "--json"))
    assert (pending["state"], pending["signatures"]) == ("pending", [])
    code, _, err = cli("decision", "sign", "999", "--password-stdin", user="neuro1", stdin="x\n")
    assert code == 1
    assert err.strip() == "error: no decision 999 that user 'neuro1' may see"

    # neuro1 types the password at the terminal; neuro2 pipes it in.
    prompts: list[str] = []

    def typed(prompt: str = "") -> str:
        prompts.append(prompt)
        return PASSWORDS["neuro1"]

    cli.monkeypatch.setattr("getpass.getpass", typed)
    out = cli.ok("decision", "sign", decision, user="neuro1")
    assert prompts == [f"Password of neuro1 to sign decision {decision} of {CASE}: "]
    assert "(1 of 2 signature(s))" in out
    assert "is final" not in out
    out = cli.ok(
        "decision", "sign", decision, "--meaning", "reviewed and approved",
        "--password-stdin", user="neuro2", stdin=PASSWORDS["neuro2"] + "\n",
    )  # fmt: skip
    assert f"decision #{decision} is final; case {CASE} is final" in out

    (final,) = json.loads(cli.ok("decision", "list", CASE, "--json", user="neuro2"))
    assert final["state"] == "final"
    assert (final["certainty"], final["pathway"], final["rationale"]) == (
        "not_classifiable",
        None,
        rationale,
    )
    assert final["engine_certainty"] == "not_classifiable"
    assert final["panel_imaging"] == "equivocal"  # the panel's own imaging judgement
    assert final["engine_version"]
    assert len(final["manifest"]) == 2
    assert final["manifest"][0].startswith("Dr Neuro1 — ")
    assert final["manifest"][1].endswith(" UTC — reviewed and approved")
    text = cli.ok("decision", "list", CASE)
    assert f"decision #{decision}  final  not_classifiable" in text
    assert "signatures (2 of 2):" in text
    assert json.loads(cli.ok("cases", "--json"))[0]["status"] == "final"

    history = json.loads(cli.ok("case", "history", CASE, "--json"))
    actions = [e["action"] for e in history]
    for action in (
        "case.create",
        "case.assign",
        "read.submitted",
        "case.discordance",
        "adjudication.proposed",
        "adjudication.signature_refused",  # the wrong password, on record
        "adjudication.signed",
        "adjudication.final",
    ):
        assert action in actions
    assert actions[-1] == "adjudication.final"
    assert all(e["occurred_at"].endswith("Z") for e in history)
    discordance = next(e for e in history if e["action"] == "case.discordance")
    assert discordance["after"]["fired"] == ["judgement"]
    lines = cli.ok("case", "history", CASE).splitlines()
    assert lines[-1] == f"{len(history)} event(s)"
    assert any("neuro2 (panel)  adjudication.final" in line and " → " in line for line in lines)

    assert "audit chain intact" in cli.ok("audit", "verify")


def test_history_is_blinded_for_a_reader_who_has_not_submitted(cli: Cli) -> None:
    cli.ok("read", "submit", CASE, "--judgement", "yes", user="rad2")
    events = json.loads(cli.ok("case", "history", CASE, "--json", user="rad1"))
    other_reads = [e for e in events if e["entity"].startswith("read ") and e["actor"] == "rad2"]
    assert other_reads == []  # rad2's read is none of rad1's business yet
    code, _, err = cli("decision", "list", CASE, user="rad1")
    assert code == 1
    assert "may not see the discordance and the panel's decisions" in err


def test_a_corrected_read_reassesses_the_case(cli: Cli) -> None:
    cli.ok("read", "submit", CASE, "--judgement", "yes", user="rad1")
    out = cli.ok("read", "submit", CASE, "--judgement", "yes", user="rad2")
    assert f"{CASE}: all reads in: concordant, the case goes to the panel" in out
    (first,) = [
        r["id"] for r in json.loads(cli.ok("read", "list", CASE, "--json")) if r["reader"] == "rad1"
    ]
    code, _, err = cli("read", "correct", str(first), "--reason", "typo", user="rad1")
    assert code == 1
    assert "reason of at least 10 characters" in err
    code, _, err = cli("read", "correct", str(first), "--reason", "missed a lesion", user="rad2")
    assert code == 1
    assert "another reader's" in err
    out = cli.ok("read", "correct", str(first), "--reason", "judged too early", user="rad1")
    assert f"correction of read #{first} opened as draft read #" in out
    out = cli.ok("read", "submit", CASE, "--judgement", "no", user="rad1")
    assert "submitted correction" in out
    assert "(revision 2): no, 1 lesion(s)" in out  # the correction keeps the lesions
    assert f"{CASE}: all reads in: discordant (judgement); status discordant" in out
    reads = json.loads(cli.ok("read", "list", CASE, "--json"))
    assert sorted((r["reader"], r["revision"], r["status"]) for r in reads) == [
        ("rad1", 1, "superseded"),
        ("rad1", 2, "submitted"),
        ("rad2", 1, "submitted"),
    ]


def test_user_passwd_rules(cli: Cli, sqlite_url: str) -> None:
    own = ("user", "passwd", "--password-stdin")
    code, _, err = cli(*own, user="rad1", stdin=f"{TEST_PASSWORD}\nshort\n")
    assert code == 1
    assert err.strip() == (
        "error: password of 'rad1': shorter than 8 characters; choose a longer one "
        "(nothing was changed)"
    )
    code, _, err = cli("user", "passwd", "rad2", "--password-stdin", user="rad1", stdin="x" * 9)
    assert code == 1
    assert "may not set the password of 'rad2'" in err
    assert "coordinator or admin role" in err
    code, _, err = cli("user", "passwd", "nobody", "--password-stdin", stdin="long-enough\n")
    assert code == 1
    assert "user 'nobody' is not known" in err

    # Changing one's own password needs the current one.
    code, _, err = cli(*own, user="rad1", stdin="taken-over\n")
    assert code == 1
    assert "no new password (after the current one)" in err
    code, _, err = cli(*own, user="rad1", stdin="wrong-guess\ntaken-over\n")
    assert code == 1
    assert "does not match; nothing was changed" in err
    assert cli.ok(*own, user="rad1", stdin=f"{TEST_PASSWORD}\nrad1-better\n") == (
        "password of rad1 set\n"
    )
    cli.passwords["rad1"] = "rad1-better"

    # A coordinator's reset is a one-time password: it ends rad2's sessions, and whoever
    # signs in with it must choose a new one, so rad2's own password stops working.
    code, _, err = cli(*own, user="rad2", stdin=f"{TEST_PASSWORD}\nrad2-own-pass\n")
    assert code == 0, err
    cli.passwords["rad2"] = "rad2-own-pass"
    registry = Registry.open(sqlite_url)
    window = signin.sign_in(registry, "rad2", "rad2-own-pass", client="window")
    out = cli.ok("user", "passwd", "rad2", "--password-stdin", stdin="set-by-coordinator\n")
    assert "reset to a one-time password" in out
    with pytest.raises(signin.SessionEndedError, match=r"has ended \(password reset\)"):
        signin.resume(registry, window.token)
    registry.close()
    assert "one-time password" in cli.ok("user", "list")
    with pytest.raises(AssertionError, match="one-time password: give a new one"):
        login(sqlite_url, "rad2", "set-by-coordinator")
    with pytest.raises(AssertionError, match="sign-in refused: unknown user or wrong password"):
        login(sqlite_url, "rad2", "rad2-own-pass")
    login(sqlite_url, "rad2", "set-by-coordinator", new_password="rad2-newest")
    cli.passwords["rad2"] = "rad2-newest"

    answers = iter(["rad2-newest", "first-entry", "second-entry"])
    cli.monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = cli("user", "passwd", user="rad2")
    assert code == 1
    assert "the two entries differ" in err

    code, _, err = cli(
        "user", "add", "rad3", "--name", "Dr Three", "--role", "reader", "--password-stdin",
        stdin="tiny\n",
    )  # fmt: skip
    assert code == 1
    assert "shorter than 8 characters" in err
    assert "rad3" not in cli.ok("user", "list")  # a refused password adds no user either

    registry = Registry.open(sqlite_url)
    with registry.read() as session:
        hashes = {
            name: read_password_hash(session, name) or "" for name in ("rad1", "rad2", "neuro1")
        }
        events = [
            (e.actor, e.action, e.entity_id, e.after)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["user.password_set", "user.password_reset"]))
                .order_by(AuditEvent.id)
            )
        ]
    registry.close()
    assert check_password("rad1-better", hashes["rad1"])
    assert check_password("rad2-newest", hashes["rad2"])
    assert hashes["rad1"].startswith("scrypt$")
    assert [e[:3] for e in events][-6:] == [
        ("coordinator", "user.password_reset", "neuro2"),
        ("neuro2", "user.password_set", "neuro2"),
        ("rad1", "user.password_set", "rad1"),
        ("rad2", "user.password_set", "rad2"),
        ("coordinator", "user.password_reset", "rad2"),
        ("rad2", "user.password_set", "rad2"),
    ]
    assert events[-2][3] == {"password": "one-time", "must_change": True, "sessions_ended": 1}
    stored = json.dumps(events)
    assert "secret" not in stored
    assert "scrypt" not in stored


def test_config_show(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("config", "show")
    assert code == 0
    assert out.startswith("review configuration: built-in defaults (no file at ")
    assert "required = 2" in out

    good = tmp_path / "review.toml"
    good.write_text("[discordance]\nmin_dice = 0.6\n\n[signatures]\nrequired = 3\n")
    monkeypatch.setenv("PML_WORKBENCH_REVIEW_CONFIG", str(good))
    code, out, _ = run("config", "show")
    assert code == 0
    assert out.splitlines()[0] == f"review configuration: {good}"
    assert "min_dice = 0.6" in out
    shown = json.loads(run("config", "show", "--json")[1])
    assert shown["source"] == str(good)
    assert shown["signatures"]["required"] == 3
    assert shown["discordance"]["min_dice"] == 0.6

    bad = tmp_path / "bad.toml"
    bad.write_text('[discordance]\nmin_dice = "high"\n')
    monkeypatch.setenv("PML_WORKBENCH_REVIEW_CONFIG", str(bad))
    code, out, err = run("config", "show")
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {bad}: [discordance] min_dice: 'high' is not a number")
    monkeypatch.setenv("PML_WORKBENCH_REVIEW_CONFIG", str(tmp_path / "missing.toml"))
    code, _, err = run("config", "show")
    assert code == 1
    assert "missing.toml: review configuration file not found" in err
