"""Lab results: ``labs import`` reads a CSV of them into the registry.

Rows identical to results already on record are skipped and their lines printed; see
:mod:`workbench.labs` for what makes two results identical.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from workbench.cli._common import EXIT_OK, acting_user, open_registry


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``labs`` with its actions."""
    labs = commands.add_parser("labs", help="lab results")
    labs_commands = labs.add_subparsers(dest="labs_command", metavar="ACTION", required=True)
    labs_import = labs_commands.add_parser("import", help="import a CSV of lab results")
    labs_import.add_argument("file", type=Path, metavar="FILE.csv")
    labs_import.set_defaults(run=_cmd_labs_import)


def _cmd_labs_import(args: argparse.Namespace) -> int:
    from workbench.services import cases

    registry = open_registry(args)
    try:
        outcome = cases.import_lab_file(registry, acting_user(args, registry), args.file)
    finally:
        registry.close()
    print(imported_line(args.file, outcome.imported, outcome.skipped_lines))
    return EXIT_OK


def imported_line(path: Path, imported: int, skipped_lines: Sequence[int]) -> str:
    """``imported 2 lab result(s) from FILE; 3 already on record were skipped (lines 2, 4,
    5)`` (the second part only when rows were skipped)."""
    line = f"imported {imported} lab result(s) from {path}"
    if skipped_lines:
        shown = ", ".join(str(n) for n in skipped_lines)
        line += f"; {len(skipped_lines)} already on record were skipped (lines {shown})"
    return line
