"""The AAN 2013 criteria: ``criteria`` and ``reclassify``.

``criteria`` classifies the cases of a JSON file by the rule table; ``reclassify`` re-runs the
criteria over the registry and reports the cases whose category would change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.cli._common import EXIT_OK, acting_user, open_registry


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``criteria`` and ``reclassify``."""
    criteria = commands.add_parser(
        "criteria", help="classify cases in a JSON file by the AAN 2013 criteria (rule table)"
    )
    criteria.add_argument("file", type=Path, metavar="FILE.json")
    criteria.set_defaults(run=_cmd_criteria)

    reclassify = commands.add_parser(
        "reclassify", help="re-run the criteria over the registry; report changed categories"
    )
    reclassify.add_argument("--json", action="store_true", help="print every case as JSON")
    reclassify.set_defaults(run=_cmd_reclassify)


def _cmd_criteria(args: argparse.Namespace) -> int:
    from adjudication.criteria_io import criteria_main

    return criteria_main(args.file, sys.stdout, sys.stderr)


def _cmd_reclassify(args: argparse.Namespace) -> int:
    from workbench.services import panel

    registry = open_registry(args)
    try:
        rows = panel.reclassify(registry, acting_user(args, registry))
    finally:
        registry.close()
    if args.json:
        print(json.dumps([row.as_json() for row in rows], indent=2, ensure_ascii=False))
        return EXIT_OK
    changed = [row for row in rows if row.changes]
    undecided = [row for row in rows if row.decided is None]
    for row in changed:
        assert row.decided is not None
        print(
            f"{row.registry_id}: decided {row.decided.value}, the criteria now give "
            f"{row.result.certainty.value} ({', '.join(row.result.rows) or 'no row'})"
        )
    print(
        f"{len(rows)} case(s): {len(changed)} would change category, "
        f"{len(undecided)} without a final decision yet"
    )
    return EXIT_OK
