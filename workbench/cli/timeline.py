"""``timeline CASE_ID [--out FILE.png|FILE.svg] [--json]``: a case's course on one day axis.

Draws the case timeline (:mod:`workbench.services.timeline`) as the signed-in person may see
it (a blinded reader's plot shows only their own read's lesion volumes) and writes it as PNG
or SVG; prints the plotted numbers as a table, or as JSON with ``--json``. A bad ``--out``
(another suffix, a folder that does not exist) is refused before the registry is opened, and
nothing is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.cli._common import EXIT_OK, acting_user, open_registry


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``timeline``."""
    timeline = commands.add_parser(
        "timeline",
        help="a case's course on one day axis: MRI, CSF JCV, antibody index, CD4, drugs",
        description="Plot one case's course in days from its day 0: MRI timepoints with "
        "each visible read's lesion volume, CSF JCV DNA (log scale, with each assay's LOD "
        "and LOQ), the anti-JCV antibody index, CD4 count and lymphocytes, drug exposures "
        "and treatments as bars, and symptom onset, diagnosis, IRIS and outcome. Reads are "
        "shown as the signed-in person may see them.",
    )
    timeline.add_argument("registry_id", metavar="CASE_ID", help="registry id of the case")
    timeline.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the plot to FILE (.png or .svg)",
    )
    timeline.add_argument("--json", action="store_true", help="print the plotted numbers as JSON")
    timeline.set_defaults(run=_cmd_timeline)


def _cmd_timeline(args: argparse.Namespace) -> int:
    from workbench.services import timeline as service

    out: Path | None = args.out
    if out is not None:
        service.check_figure_path(out)
    registry = open_registry(args)
    try:
        found = service.case_timeline(registry, acting_user(args, registry), args.registry_id)
    finally:
        registry.close()
    if out is not None:
        service.save_timeline(found, out)
    if args.json:
        data = found.as_json()
        data["written_to"] = str(out) if out is not None else None
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{found.registry_id}: days from day 0 ({found.index_event})")
    rows = found.rows()
    if not rows:
        print("Nothing to plot: no imaging, labs, exposures, treatments or dated events.")
    else:
        table = [("panel", "what", "day", "value", "note")]
        table += [
            (r.panel, r.what, "" if r.day is None else f"{r.day:+d}", r.value, r.note) for r in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(5)]
        for line in table:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    if out is not None:
        print(f"wrote {out}")
    return EXIT_OK
