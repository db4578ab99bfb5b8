"""Lab results: ``labs import`` reads a CSV of them into the registry."""

from __future__ import annotations

import argparse
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
        imported = cases.import_lab_file(registry, acting_user(args, registry), args.file)
    finally:
        registry.close()
    print(f"imported {imported} lab result(s) from {args.file}")
    return EXIT_OK
