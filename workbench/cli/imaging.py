"""Images in: ``import``, ``deid-check`` and ``deidentify``.

``import`` brings DICOM or NIfTI into a case through the de-identification gate;
``deid-check`` runs the gate alone and ``deidentify`` writes a copy that passes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli._common import EXIT_OK, acting_user, open_registry, resolve_settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import``, ``deid-check`` and ``deidentify``."""
    imp = commands.add_parser(
        "import",
        help="import DICOM or NIfTI into a case (gate, load, cache, store; all or nothing)",
    )
    imp.add_argument("path", type=Path, metavar="PATH")
    imp.add_argument("--case", required=True, dest="registry_id", metavar="ID")
    imp.add_argument(
        "--day", type=int, help="timepoint day relative to the index date (needed for new studies)"
    )
    imp.add_argument("--policy", type=Path, metavar="TOML", help="de-identification policy file")
    imp.set_defaults(run=_cmd_import)

    deid_check = commands.add_parser(
        "deid-check", help="check files for identifying data (exit 0 clean, 1 found, 2 unreadable)"
    )
    deid_check.add_argument("path", type=Path, metavar="PATH")
    deid_check.add_argument("--policy", type=Path, metavar="TOML", help="policy file")
    deid_check.set_defaults(run=_cmd_deid_check)

    deidentify = commands.add_parser(
        "deidentify", help="write a de-identified copy that passes the gate"
    )
    deidentify.add_argument("input", type=Path, metavar="INPUT")
    deidentify.add_argument("outdir", type=Path, metavar="OUTDIR")
    deidentify.add_argument("--case-id", required=True, metavar="PML-XXXX")
    deidentify.add_argument("--policy", type=Path, metavar="TOML", help="policy file")
    deidentify.set_defaults(run=_cmd_deidentify)


def _cmd_import(args: argparse.Namespace) -> int:
    from workbench.services.imaging import default_sandbox, import_images

    registry = open_registry(args)
    actor = acting_user(args, registry)
    settings = resolve_settings(args)
    try:
        result = import_images(
            registry,
            actor,
            args.path,
            args.registry_id,
            day=args.day,
            cache_root=settings.data_dir / "cache",
            policy_path=args.policy,
            progress=lambda text, _fraction: print(f"{text} ...", file=sys.stderr, flush=True),
        )
    finally:
        registry.close()
        default_sandbox().close()
    for volume, series_id in zip(result.volumes, result.series_ids, strict=True):
        shape = "x".join(str(n) for n in volume.shape)
        print(
            f"series #{series_id}: {volume.sequence_class.value:6} {shape:14} {volume.description}"
        )
    print(f"imported {len(result.series_ids)} series into {result.registry_id}")
    return EXIT_OK


def _cmd_deid_check(args: argparse.Namespace) -> int:
    from workbench.deid.commands import deid_check_main

    return deid_check_main(args.path, args.policy, sys.stdout)


def _cmd_deidentify(args: argparse.Namespace) -> int:
    from workbench.config import deid_secret
    from workbench.deid.commands import deidentify_main

    return deidentify_main(
        args.input,
        args.outdir,
        args.case_id,
        args.policy,
        sys.stdout,
        secret=deid_secret(args.case_id),
    )
