"""Lesion masks: ``lesions``, ``import-mask`` and ``export-seg``.

``lesions`` measures a mask file, ``import-mask`` adds a mask's lesions to your draft read of a
case, ``export-seg`` writes a case's lesion masks out as DICOM SEG (or NIfTI label maps).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli._common import EXIT_OK, acting_user, open_registry


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lesions``, ``import-mask`` and ``export-seg``."""
    lesions = commands.add_parser(
        "lesions", help="measure a lesion mask or label map (NIfTI or DICOM SEG)"
    )
    lesions.add_argument("mask", type=Path, metavar="MASK")
    lesions.add_argument("--json", action="store_true", help="print JSON")
    lesions.set_defaults(run=_cmd_lesions)

    import_mask = commands.add_parser(
        "import-mask",
        help="add the lesions of a NIfTI mask or DICOM SEG to your draft read of a case",
    )
    import_mask.add_argument("mask", type=Path, metavar="MASK")
    import_mask.add_argument("--case", required=True, dest="registry_id", metavar="ID")
    import_mask.add_argument(
        "--series", required=True, type=int, dest="series_id", metavar="SERIES_ID"
    )
    import_mask.set_defaults(run=_cmd_import_mask)

    export_seg = commands.add_parser(
        "export-seg",
        help="export a case's lesion masks as DICOM SEG (NIfTI label maps for NIfTI series)",
    )
    export_seg.add_argument("outdir", type=Path, metavar="OUTDIR")
    export_seg.add_argument("--case", required=True, dest="registry_id", metavar="ID")
    export_seg.add_argument("--read", type=int, dest="read_id", metavar="READ_ID")
    export_seg.set_defaults(run=_cmd_export_seg)


def _cmd_lesions(args: argparse.Namespace) -> int:
    from workbench.lesions.commands import lesions_main

    return lesions_main(args.mask, args.json, sys.stdout, sys.stderr)


def _cmd_import_mask(args: argparse.Namespace) -> int:
    from workbench.services import reading

    registry = open_registry(args)
    try:
        done = reading.import_mask(
            registry, acting_user(args, registry), args.registry_id, args.series_id, args.mask
        )
    finally:
        registry.close()
    print(
        f"draft read #{done.read_id} of {args.registry_id}: {done.lesions} lesion(s) on series "
        f"#{args.series_id}, {done.total_ml:.3f} mL"
    )
    return EXIT_OK


def _cmd_export_seg(args: argparse.Namespace) -> int:
    from workbench.services import imaging

    registry = open_registry(args)
    try:
        written = imaging.export_lesions(
            registry, acting_user(args, registry), args.registry_id, args.outdir,
            read_id=args.read_id,
        )  # fmt: skip
    finally:
        registry.close()
    for path in written:
        print(path)
    return EXIT_OK
