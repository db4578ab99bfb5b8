"""The command line's layout: one module per noun, every command still there, a light import.

The expected commands were collected from the parser of the single ``workbench/cli.py`` before
it was split into the ``workbench.cli`` package; the split must not have lost or reordered one.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys

import pytest

import workbench.cli
from workbench.cli import main

COMMANDS = (
    *("login", "logout", "whoami", "gui", "demo", "cases", "case", "queue", "dashboard"),
    *("read", "decision", "labs"),
    *("user", "db-role", "import"),
    *("deid-check", "deidentify", "intake", "lesions", "import-mask", "export-seg", "criteria"),
    *("reclassify", "bench", "series", "convert", "db", "audit", "config", "stats"),
    *("agreement", "analytics", "denominators", "export", "timeline"),
)
"""The top-level commands, in the order ``pml-workbench --help`` lists them."""

ACTIONS = {
    "case": ("add", "edit", "ready", "assign", "show", "clinical", "history"),
    "read": ("submit", "correct", "list"),
    "decision": ("propose", "sign", "list"),
    "labs": ("import",),
    "user": ("add", "edit", "passwd", "list"),
    "db-role": ("grant", "revoke", "list"),
    "series": ("set-class",),
    "db": ("upgrade",),
    "audit": ("verify", "anchor"),
    "config": ("show",),
    "stats": ("kappa", "incidence", "survival"),
    "denominators": ("import", "list"),
}
"""The actions of the commands that have them, in the order their ``--help`` lists them."""


def listed(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """The sub-commands that ``pml-workbench ARGV --help`` lists, in its order."""
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    # argparse indents a sub-command's name by four spaces; options and wrapped help differ.
    return re.findall(r"^    (\S+)", out, flags=re.MULTILINE)


def test_every_noun_module_registers_and_is_registered() -> None:
    found = {
        f"workbench.cli.{info.name}"
        for info in pkgutil.iter_modules(workbench.cli.__path__)
        if not info.name.startswith("_")
    }
    assert found == {noun.__name__ for noun in workbench.cli.NOUNS}
    for name in sorted(found):
        assert callable(getattr(importlib.import_module(name), "register", None)), name


def test_help_lists_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert listed(capsys) == list(COMMANDS)


@pytest.mark.parametrize(("command", "actions"), ACTIONS.items())
def test_help_of_a_command_lists_its_actions(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    actions: tuple[str, ...],
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert listed(capsys, command) == list(actions)


def test_the_command_line_imports_no_database_nor_qt() -> None:
    """``pml-workbench --help`` stays fast: SQLAlchemy, Qt and SimpleITK load in the handlers."""
    code = (
        "import json, sys\n"
        "import workbench.cli\n"
        "try:\n"
        "    workbench.cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps([m in sys.modules for m in ('sqlalchemy', 'PyQt6', 'SimpleITK')]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == [False, False, False]


def test_python_dash_m_workbench_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("pml-workbench ")
