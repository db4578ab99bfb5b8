"""Free text cannot forge printed lines or carry terminal escapes: refused on input, escaped
on output."""

from __future__ import annotations

from pathlib import Path

import pytest

from adjudication.consensus import (
    ConsensusError,
    Proposal,
    check_change_reason,
    check_meaning,
    check_proposal,
)
from adjudication.text import escape_controls, forbidden_characters
from adjudication.vocabulary import Certainty, Pathway
from tests.test_cli import run
from workbench.display import one_line
from workbench.errors import ValidationError
from workbench.reads import DraftChoices

ESCAPE = "\x1b[2J\x1b[31m"
FORGED = "approved\n      Dr Somebody Else — 2026-01-01 00:00:00 UTC — approved"


@pytest.mark.parametrize("text", [ESCAPE, FORGED, "a\rb", "tab\there", "rtl \u202e override"])
def test_a_signature_meaning_is_one_plain_line(text: str) -> None:
    with pytest.raises(ConsensusError, match="meaning: holds control characters") as caught:
        check_meaning(text)
    assert caught.value.field == "meaning"


def test_a_rationale_may_have_line_breaks_but_no_escapes() -> None:
    ok = Proposal(Certainty.PROBABLE, Pathway.CLINICAL, "First line.\nSecond line,\tindented.")
    assert check_proposal(ok, Certainty.PROBABLE, discordant=False).rationale == ok.rationale
    bad = Proposal(Certainty.PROBABLE, Pathway.CLINICAL, f"Looks typical.{ESCAPE}")
    with pytest.raises(ConsensusError, match="U\\+001B") as caught:
        check_proposal(bad, Certainty.PROBABLE, discordant=False)
    assert caught.value.field == "rationale"
    with pytest.raises(ConsensusError, match="reason: holds control characters"):
        check_change_reason("A new PCR arrived\x07 and changes the category.")


def test_a_reader_comment_refuses_escapes() -> None:
    assert DraftChoices(None, None, "two\nlines", {}).comment == "two\nlines"
    with pytest.raises(ValidationError, match="comment: holds control characters") as caught:
        DraftChoices(None, None, f"fine{ESCAPE}", {})
    assert caught.value.field == "comment"


def test_output_shows_controls_instead_of_obeying_them() -> None:
    assert forbidden_characters("plain text, é ü 中文") == []
    assert one_line(FORGED).count("\n") == 0
    assert "\\n" in one_line(FORGED)
    assert escape_controls(ESCAPE) == "\\x1b[2J\\x1b[31m"
    assert one_line("rtl \u202e") == "rtl \\u202e"


def test_a_user_name_with_an_escape_is_refused_by_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ("--db", f"sqlite:///{tmp_path / 'r.sqlite3'}", "--user", "admin")
    code, _, err = run(
        capsys, *db, "user", "add", "eve", "--name", f"Eve{ESCAPE}", "--role", "reader"
    )
    assert code == 1
    assert "name: holds control characters (U+001B)" in err
    code, out, _ = run(capsys, *db, "user", "list")
    assert code == 0
    assert "eve" not in out  # nothing half-written
