"""Series and their volumes: ``series set-class`` and ``convert``.

``series set-class`` corrects an imported series' sequence class (the header evidence is kept);
``convert`` writes each volume of DICOM or NIfTI files as NIfTI + JSON. ``convert`` is here, next
to ``series``, rather than with ``import`` in :mod:`workbench.cli.imaging`, so that ``--help``
keeps listing the commands in the order it always has.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli._common import EXIT_OK, acting_user, open_registry
from workbench.domain import coerce_enum


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``series`` with its actions, and ``convert``."""
    series = commands.add_parser("series", help="imported series")
    series_commands = series.add_subparsers(dest="series_command", metavar="ACTION", required=True)
    set_class = series_commands.add_parser(
        "set-class", help="correct a series' sequence class (the header evidence is kept)"
    )
    set_class.add_argument("series_id", type=int, metavar="SERIES_ID")
    set_class.add_argument(
        "sequence_class", metavar="CLASS", help="T1, T1+Gd, T2, FLAIR, DWI, ADC, SWI or other"
    )
    set_class.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    set_class.set_defaults(run=_cmd_series_set_class)

    convert = commands.add_parser(
        "convert", help="write each volume of a DICOM folder/file or NIfTI as NIfTI + JSON"
    )
    convert.add_argument("input", type=Path, metavar="INPUT")
    convert.add_argument("outdir", type=Path, metavar="OUTDIR")
    convert.set_defaults(run=_cmd_convert)


def _cmd_series_set_class(args: argparse.Namespace) -> int:
    from workbench.domain import SequenceClass
    from workbench.services import imaging

    wanted = coerce_enum(SequenceClass, args.sequence_class, "CLASS")
    registry = open_registry(args)
    try:
        imaging.set_sequence_class(
            registry, acting_user(args, registry), args.series_id, wanted, reason=args.reason
        )
    finally:
        registry.close()
    print(f"series #{args.series_id} is now {wanted.value}")
    return EXIT_OK


def _cmd_convert(args: argparse.Namespace) -> int:
    from workbench.imaging.convert import convert

    if not args.input.exists():
        from workbench.errors import ValidationError

        raise ValidationError(f"{args.input}: no such file or folder")
    for path in convert(args.input, args.outdir):
        print(path)
    return EXIT_OK
