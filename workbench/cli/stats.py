"""Statistics on the analyst's own CSV tables: ``stats kappa|incidence|survival``.

No registry is opened: these commands read a CSV file and print a text table (or JSON with
``--json``) so that published results can be reproduced. The statistics are in
:mod:`workbench.analysis.stats`, imported inside the handlers (statsmodels and scipy are heavy).
A bad file is refused with its line, column and problem (exit 1).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workbench.cli._common import EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stats`` with its actions ``kappa``, ``incidence`` and ``survival``."""
    stats = commands.add_parser(
        "stats", help="agreement, incidence and survival statistics of a CSV table"
    )
    actions = stats.add_subparsers(dest="action", metavar="ACTION", required=True)

    kappa = actions.add_parser(
        "kappa",
        help="Cohen's kappa (2 raters) or Fleiss' kappa (more) of categorical ratings",
        description="One row per subject, one column per rater (optional 'subject' column), "
        "cells are category labels; with --counts, one column per category, cells are the "
        "number of raters who chose it (Fleiss).",
    )
    kappa.add_argument("file", type=Path, metavar="FILE.csv")
    kappa.add_argument(
        "--counts", action="store_true", help="the table is subjects × category counts (Fleiss)"
    )
    kappa.add_argument("--json", action="store_true", help="print the result as JSON")
    kappa.set_defaults(run=_cmd_kappa)

    incidence = actions.add_parser(
        "incidence",
        help="rate per 1,000 person-years or patients by stratum, with 95%% CI",
        description="Columns 'stratum', 'events' and 'person_years' or 'patients'.",
    )
    incidence.add_argument("file", type=Path, metavar="FILE.csv")
    incidence.add_argument(
        "--ci",
        choices=("exact", "log-wald"),
        default="exact",
        help="exact (Garwood Poisson / Clopper-Pearson; default) or log-Wald",
    )
    incidence.add_argument("--json", action="store_true", help="print the result as JSON")
    incidence.set_defaults(run=_cmd_incidence)

    survival = actions.add_parser(
        "survival",
        help="Kaplan-Meier table, median survival and log-rank test",
        description="Columns 'time', 'event' (1 event, 0 censored) and optionally 'group'.",
    )
    survival.add_argument("file", type=Path, metavar="FILE.csv")
    survival.add_argument("--json", action="store_true", help="print the result as JSON")
    survival.set_defaults(run=_cmd_survival)


def _dump(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _fmt(value: float | None, digits: int = 4) -> str:
    """A number for the text table; ``-`` where undefined or not reached."""
    return "-" if value is None else f"{value:.{digits}f}"


def _cmd_kappa(args: argparse.Namespace) -> int:
    from workbench.analysis import stats

    data = stats.read_counts(args.file) if args.counts else stats.read_ratings(args.file)
    result = stats.kappa(data)
    if args.json:
        _dump(result.as_json())
        return EXIT_OK
    name = "Cohen's kappa" if result.method == "cohen" else "Fleiss' kappa"
    print(
        f"{name}: {result.subjects} subjects, {result.raters} raters, "
        f"{len(result.categories)} categories ({', '.join(result.categories)})"
    )
    print(f"  kappa      {_fmt(result.kappa)}")
    if result.method == "cohen":
        print(f"  SE         {_fmt(result.se)}  (asymptotic, under the alternative)")
        print(f"  95% CI     {_fmt(result.ci_low)} to {_fmt(result.ci_high)}")
        print(f"  SE (H0)    {_fmt(result.se_null)}")
        print(f"  z          {_fmt(result.z, 3)}  two-sided p = {result.p_value:.3g}")
    return EXIT_OK


def _cmd_incidence(args: argparse.Namespace) -> int:
    from workbench.analysis import stats

    result = stats.incidence(stats.read_incidence(args.file), ci=args.ci)
    if args.json:
        _dump(result.as_json())
        return EXIT_OK
    unit = "person-years" if result.denominator == "person_years" else "patients"
    print(f"Rate per {result.per:,} {unit}, 95% CI {result.ci_method}")
    rows = [*result.strata, result.total]
    width = max(len("stratum"), *(len(row.stratum) for row in rows))
    print(f"{'stratum':<{width}}  {'events':>7}  {unit:>12}  {'rate':>9}  {'95% CI':>21}")
    for row in rows:
        print(
            f"{row.stratum:<{width}}  {row.events:>7}  {row.denominator:>12g}  "
            f"{_fmt(row.rate, 3):>9}  {_fmt(row.ci_low, 3):>9} to {_fmt(row.ci_high, 3):>9}"
        )
    return EXIT_OK


def _cmd_survival(args: argparse.Namespace) -> int:
    from workbench.analysis import stats

    result = stats.survival(stats.read_survival(args.file))
    if args.json:
        _dump(result.as_json())
        return EXIT_OK
    for group in result.groups:
        title = "all subjects" if group.group is None else f"group {group.group}"
        print(f"Kaplan-Meier, {title}: {group.subjects} subjects, {group.events} events")
        print(f"  {'time':>8}  {'at risk':>7}  {'events':>6}  {'survival':>8}  {'SE':>7}")
        for row in group.table:
            print(
                f"  {row.time:>8g}  {row.at_risk:>7}  {row.events:>6}  "
                f"{row.survival:>8.4f}  {row.se:>7.4f}"
            )
        print(
            f"  median survival {_fmt(group.median, 2)} "
            f"(95% CI {_fmt(group.median_ci_low, 2)} to {_fmt(group.median_ci_high, 2)})"
        )
    if result.logrank is not None:
        test = result.logrank
        print(f"Log-rank test: chi-square {test.chi2:.3f}, df {test.df}, p = {test.p_value:.3g}")
    return EXIT_OK
