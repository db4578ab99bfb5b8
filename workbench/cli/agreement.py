"""``pml-workbench agreement``: how well the registry's readers agree.

Prints kappa of the imaging judgement (Cohen's per reader pair, Fleiss' per number of
readers), the final panel certainty against the criteria engine, Dice and volume agreement
of the lesion masks, and each reader's disagreement index; ``--json`` prints the report as
JSON and ``--html FILE`` writes it as one HTML page with its plots. Coordinators,
administrators and panel members only; only cases whose every assigned read is in count.
The work is in :mod:`workbench.services.agreement`, imported inside the handler.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli._common import EXIT_OK, acting_user, open_registry

if TYPE_CHECKING:
    from workbench.analysis.stats import KappaResult
    from workbench.services.agreement import AgreementReport


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``agreement``."""
    command = commands.add_parser(
        "agreement",
        help="reader agreement: kappa, panel vs engine, Dice and volume, disagreement by reader",
        description="How well the registry's readers agree, over the cases whose every "
        "assigned reader has submitted (coordinators, administrators and panel members).",
    )
    command.add_argument("--json", action="store_true", help="print the report as JSON")
    command.add_argument(
        "--html", type=Path, metavar="FILE", help="also write the report with its plots as HTML"
    )
    command.add_argument(
        "--since",
        metavar="YYYY-MM-DD",
        help="only cases whose every current read was submitted on or after this day (UTC)",
    )
    command.set_defaults(run=_cmd_agreement)


def _num(value: float | None, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals; ``-`` when missing or undefined (NaN)."""
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _kappa(result: KappaResult | None, note: str | None) -> str:
    if result is None:
        return f"kappa - ({note})" if note else "kappa -"
    text = f"kappa {_num(result.kappa)}"
    if result.se is not None and math.isfinite(result.se):
        text += f" (SE {result.se:.3f}, 95% CI {_num(result.ci_low)} to {_num(result.ci_high)})"
    return text


def _print(report: AgreementReport) -> None:
    print(f"Reader agreement, {report.as_of:%Y-%m-%d %H:%M} UTC: {report.summary()}")
    j = report.judgement
    print("\nImaging judgement")
    if j.note:
        print(f"  {j.note}")
    for p in j.pairs:
        print(
            f"  Cohen {p.reader_a} x {p.reader_b}: {p.cases} case(s), observed "
            f"{_num(p.observed)}, {_kappa(p.kappa, p.note)}"
        )
    for g in j.groups:
        print(
            f"  Fleiss, cases with {g.readers_per_case} readers: {g.cases} case(s), observed "
            f"{_num(g.observed)}, {_kappa(g.kappa, g.note)}"
        )
    c = report.certainty
    print("\nPanel certainty against the criteria engine")
    print(
        f"  {c.cases} decided case(s), observed {_num(c.observed)}, {_kappa(c.kappa, c.note)}; "
        f"{c.undecided} without a final decision, {c.no_engine_result} without an engine result"
    )
    if c.cases:
        width = max(len(x) for x in (*c.categories, "panel \\ engine"))
        print("  " + "panel \\ engine".ljust(width) + "  " + "  ".join(c.categories))
        for name, row in zip(c.categories, c.table, strict=True):
            cells = "  ".join(str(n).rjust(len(h)) for n, h in zip(row, c.categories, strict=True))
            print("  " + name.ljust(width) + "  " + cells)
    m = report.masks
    print("\nLesion masks")
    print(
        f"  {len(m.pairs)} reader pair(s) on a series; {m.both_empty} left out (neither "
        f"marked a lesion), {m.other_series} series left out (marked on different series)"
    )
    if m.dice is not None:
        print(f"  Dice median {m.dice.median:.3f} (IQR {m.dice.q1:.3f} to {m.dice.q3:.3f})")
    if m.volume is not None:
        v = m.volume
        print(
            f"  volume difference {v.mean_difference:.4f} mL (SD {v.sd:.4f}), 95% limits of "
            f"agreement {v.lower:.4f} to {v.upper:.4f} mL"
        )
    if m.note:
        print(f"  {m.note}")
    d = report.disagreement
    print("\nDisagreement by reader")
    if d.note:
        print(f"  {d.note}")
    for r in d.readers:
        print(
            f"  {r.reader}: {r.disagreements} of {r.compared} compared case(s) "
            f"(index {_num(r.index)}), {r.no_reference} without a reference"
        )
    for point in d.drift:
        print(
            f"    {point.reader} {point.period}: {point.disagreements} of {point.compared} "
            f"(index {_num(point.index)})"
        )


def _cmd_agreement(args: argparse.Namespace) -> int:
    from workbench.services import agreement

    since = None if args.since is None else agreement.parse_since(args.since)
    if args.html is not None:
        agreement.check_html_path(args.html)  # refused before any work is done
    registry = open_registry(args)
    try:
        report = agreement.agreement_report(registry, acting_user(args, registry), since=since)
    finally:
        registry.close()
    if args.html is not None:
        agreement.write_html(report, args.html)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _print(report)
        if args.html is not None:
            print(f"\nwrote {args.html}")
    return EXIT_OK
