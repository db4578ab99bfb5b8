"""``bench``: the workbench's speed against its peers, as ratios."""

from __future__ import annotations

import argparse
import json
import os
import sys

from workbench.cli._common import EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bench``."""
    bench = commands.add_parser("bench", help="measure speed against peers, as ratios")
    bench.add_argument("--json", action="store_true", help="print JSON rows")
    bench.add_argument(
        "--slices", type=int, default=176, help="slices of the generated series (default 176)"
    )
    bench.add_argument(
        "--cases",
        type=int,
        default=100_000,
        help="cases in the case list's registries (default 100000; 0 skips those rows)",
    )
    bench.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("PML_BENCH_POSTGRES_URL"),
        help="also time the case list on this PostgreSQL database, in a schema of its own "
        "dropped afterwards (default: $PML_BENCH_POSTGRES_URL)",
    )
    bench.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (repeatable), e.g. case_list, import, render",
    )
    bench.set_defaults(run=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from workbench.bench import format_table, run_all

    rows = run_all(
        progress=lambda text: print(text, file=sys.stderr, flush=True),
        slices=args.slices,
        cases=args.cases,
        postgres_url=args.postgres,
        only=args.only,
    )
    if args.json:
        print(json.dumps([row.as_json() for row in rows], indent=2))
    else:
        print(format_table(rows))
    return EXIT_OK
