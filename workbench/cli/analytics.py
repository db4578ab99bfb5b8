"""Registry analytics and their denominators: ``analytics`` and ``denominators import|list``.

``analytics`` prints what the registry has learned (cases by condition, exposure, site, year
and certainty; incidence where denominators were imported; the Bloomgren risk table;
survival; onset to diagnosis; IRIS; certainty changes), as text, as JSON (``--json``) or as a
self-contained HTML report (``--html FILE``). ``denominators import FILE.csv`` imports the
population of each stratum, all or nothing (``--dry-run`` checks only); ``denominators list``
shows them. The services are imported inside the handlers (SQLAlchemy, statsmodels and
matplotlib are heavy), so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._common import EXIT_OK, acting_user, open_registry

if TYPE_CHECKING:
    from workbench.analysis.report import Table

CERTAINTIES = ("definite", "probable", "possible")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``analytics`` and ``denominators`` (actions ``import``, ``list``)."""
    analytics = commands.add_parser(
        "analytics",
        help="registry analytics: counts, incidence, risk table, survival, IRIS (coordinators, "
        "panel)",
        description="What the registry has learned from its reviewed cases. A PML case is a "
        "case whose final panel decision has at least the --certainty given. Decisions of "
        "cases whose reads are not all in are left out (and counted).",
    )
    analytics.add_argument(
        "--certainty",
        choices=CERTAINTIES,
        default="probable",
        help="the least final certainty counted as PML (default probable: definite + probable)",
    )
    analytics.add_argument("--json", action="store_true", help="print JSON")
    analytics.add_argument(
        "--html", type=Path, metavar="FILE", help="also write a self-contained HTML report"
    )
    analytics.set_defaults(run=_cmd_analytics)

    denominators = commands.add_parser(
        "denominators",
        help="incidence denominators: patients and patient-years by stratum (coordinators)",
    )
    actions = denominators.add_subparsers(dest="action", metavar="ACTION", required=True)
    do_import = actions.add_parser(
        "import",
        help="import denominators from a CSV file, all or nothing",
        description="Columns stratum,year,patients,person_years,source. A stratum is 'all' "
        "or KEY:VALUE facets joined by '|' (keys condition, exposure, site, anti_jcv, "
        "prior_is, months), e.g. 'exposure:natalizumab|anti_jcv:>1.5'. year is a calendar "
        "year or empty for all years; patients and/or person_years. A stratum and year "
        "imported again replaces the stored one.",
    )
    do_import.add_argument("file", type=Path, metavar="FILE.csv")
    do_import.add_argument(
        "--dry-run", action="store_true", help="check the file and say what would change"
    )
    do_import.add_argument("--json", action="store_true", help="print JSON")
    do_import.set_defaults(run=_cmd_import)
    do_list = actions.add_parser("list", help="list the stored denominators")
    do_list.add_argument("--json", action="store_true", help="print JSON")
    do_list.set_defaults(run=_cmd_list)


def _dump(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return str(value)


def _print_table(table: Table, indent: str = "  ") -> None:
    if table.title:
        print(f"{indent}{table.title}")
    rows = [tuple(table.columns), *(tuple(_cell(v) for v in row) for row in table.rows)]
    if len(rows) == 1:
        print(f"{indent}(none)")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.columns))]
    for row in rows:
        text = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(indent + text.rstrip())
    if table.note:
        print(f"{indent}{table.note}")


def _cmd_analytics(args: argparse.Namespace) -> int:
    from workbench.services import analytics as service

    if args.html is not None:
        service.check_html_path(args.html)  # refused before any work is done
    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        result = service.analytics(registry, actor, args.certainty)
    finally:
        registry.close()
    if args.html is not None:
        service.write_html(result, args.html, actor)
    if args.json:
        _dump(result.as_json())
    else:
        print(f"Registry analytics: {result.rule}")
        for section in result.sections():
            print()
            print(section.title)
            print("-" * len(section.title))
            if section.text:
                print(section.text)
            for table in section.tables:
                _print_table(table)
    if args.html is not None:
        print(f"HTML report written to {args.html}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def _rows(values: Sequence[Any]) -> list[tuple[str, ...]]:
    return [
        (
            v.stratum,
            "all" if v.year is None else str(v.year),
            _cell(v.patients),
            _cell(v.person_years),
            v.source,
        )
        for v in values
    ]


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> None:
    table = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print(indent + text.rstrip())


def _cmd_import(args: argparse.Namespace) -> int:
    from workbench.services import analytics as service

    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        summary = service.import_denominators(registry, actor, args.file, dry_run=args.dry_run)
    finally:
        registry.close()
    if args.json:
        _dump(summary.as_json())
        return EXIT_OK
    verb = "would add" if summary.dry_run else "added"
    again = "would replace" if summary.dry_run else "replaced"
    print(
        f"{summary.file}: {verb} {len(summary.added)}, {again} {len(summary.replaced)} "
        f"denominator(s){' (dry run: nothing written)' if summary.dry_run else ''}"
    )
    header = ("stratum", "year", "patients", "person_years", "source")
    if summary.added:
        print(f"{verb}:")
        _text_table(header, _rows(summary.added))
    if summary.replaced:
        print(f"{again} (previous values):")
        _text_table(header, _rows(summary.previous))
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.services import analytics as service

    registry = open_registry(args)
    try:
        stored = service.list_denominators(registry, acting_user(args, registry))
    finally:
        registry.close()
    if args.json:
        _dump([row.as_json() for row in stored])
        return EXIT_OK
    if not stored:
        print("No denominators imported ('pml-workbench denominators import FILE.csv').")
        return EXIT_OK
    rows = [
        (*row, s.imported_by, s.imported_at.strftime("%Y-%m-%d"))
        for row, s in zip(_rows(stored), stored, strict=True)
    ]
    _text_table(
        ("stratum", "year", "patients", "person_years", "source", "imported by", "on"),
        rows,
        indent="",
    )
    return EXIT_OK
