"""The ``export`` command: the registry's de-identified research extract for analysts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.cli._common import EXIT_OK, acting_user, open_registry


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export DIR``."""
    export = commands.add_parser(
        "export",
        help="write the de-identified research extract (CSV per table, dictionary) (coordinators)",
        description="Write the registry's de-identified extract for analysts into DIR (which "
        "must not exist or be empty): one CSV per table, data_dictionary.csv and .json, and "
        "versions.json. No usernames (readers are R01, R02..., panel members P01...), no "
        "image paths, UIDs or descriptions, no free text unless asked. Reads, lesions and "
        "panel decisions only of cases whose every assigned reader has submitted; the others "
        "are counted as withheld. The export is recorded in the audit trail.",
    )
    export.add_argument("directory", metavar="DIR", type=Path, help="new or empty folder")
    export.add_argument(
        "--with-free-text",
        action="store_true",
        help="also write the free-text columns (clinical summary, notes, ...), which can "
        "hold identifying text",
    )
    export.add_argument("--json", action="store_true", help="print the summary as JSON")
    export.set_defaults(run=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from workbench.services import research_export

    registry = open_registry(args)
    try:
        summary = research_export.export_extract(
            registry,
            acting_user(args, registry),
            args.directory,
            with_free_text=args.with_free_text,
        )
    finally:
        registry.close()
    if args.json:
        print(json.dumps(summary.as_json(), indent=2))
        return EXIT_OK
    print(f"Research extract written to {summary.directory}")
    width = max(len(f.name) for f in summary.files)
    for f in summary.files:
        rows = "" if f.rows is None else f"{f.rows:>7} row(s)"
        print(f"  {f.name.ljust(width)}  {rows}".rstrip())
    print(
        f"Withheld: {summary.withheld_cases} case(s) with reads outstanding (their reads, "
        "lesions and panel decisions are not in the extract)"
    )
    if summary.with_free_text:
        print("Free-text columns are included: check them for identifying text before sharing.")
    print("The export is recorded in the audit trail (registry.export).")
    return EXIT_OK
