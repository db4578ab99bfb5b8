"""Site packages: ``intake PATH [--dry-run]`` takes in a whole case; ``intake --template DIR``
writes an example package that passes.

A refused package prints every problem, one per line, as ``FILE:LINE: FIELD: PROBLEM`` (file
relative to the package) on standard error and exits 1; nothing is written. Progress goes to
standard error, the result to standard output (JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    acting_user,
    open_registry,
    resolve_settings,
)

if TYPE_CHECKING:
    from workbench.services.intake import Problem


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``intake``."""
    intake = commands.add_parser(
        "intake",
        help="take in a site package (manifest, labs, images) as a new case, all or nothing",
        description="Take in a site package as a new case: manifest, clinical record, "
        "exposures, labs and images, through the de-identification gate, all or nothing. "
        "'--template DIR' writes an example package.",
    )
    intake.add_argument("path", nargs="?", type=Path, metavar="PATH", help="the package folder")
    intake.add_argument(
        "--dry-run", action="store_true", help="check everything, write nothing, say what would be"
    )
    intake.add_argument("--json", action="store_true", help="print JSON")
    intake.add_argument("--policy", type=Path, metavar="TOML", help="de-identification policy")
    intake.add_argument(
        "--template", type=Path, metavar="DIR", help="write an example package into DIR (empty)"
    )
    intake.add_argument(
        "--id", dest="registry_id", metavar="PML-XXXX", help="registry id of the template's case"
    )
    intake.set_defaults(run=_cmd_intake)


def _progress(text: str, fraction: float) -> None:
    if fraction < 1:
        print(f"{text} ...", file=sys.stderr, flush=True)


def _cmd_intake(args: argparse.Namespace) -> int:
    from workbench.services import intake

    if args.template is not None:
        if args.path is not None or args.dry_run:
            print("error: --template DIR writes a package; give no PATH or --dry-run with it",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        written = intake.write_template(args.template, args.registry_id or intake.TEMPLATE_ID)
        if args.json:
            print(json.dumps({"template": str(args.template), "files": len(written)}))
        else:
            print(f"wrote an example package to {args.template} ({len(written)} files)")
            print(f"check it with: pml-workbench intake --dry-run {args.template}")
        return EXIT_OK
    if args.path is None:
        print("error: give the package folder (PATH), or --template DIR", file=sys.stderr)
        return EXIT_USAGE
    if args.registry_id is not None:
        print("error: --id names the template's case; the package's is in its manifest",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE

    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        if args.dry_run:
            check = intake.check_package(
                registry, actor, args.path, policy_path=args.policy, progress=_progress
            )
            if not check.ok:
                return _refused(args, check.problems)
            assert check.preview is not None
            if args.json:
                print(json.dumps({"ok": True, "dry_run": True, **check.preview.as_json()}))
            else:
                print("would create:")
                print("\n".join(check.preview.lines()))
                print("dry run: nothing was written")
            return EXIT_OK
        try:
            result = intake.intake(
                registry,
                actor,
                args.path,
                cache_root=resolve_settings(args).data_dir / "cache",
                policy_path=args.policy,
                progress=_progress,
            )
        except intake.PackageError as error:
            return _refused(args, error.problems)
    finally:
        registry.close()
        intake.default_sandbox().close()
    if args.json:
        out: dict[str, Any] = {
            "ok": True,
            "dry_run": False,
            **result.preview.as_json(),
            "status": result.status.value,
            "missing_for_reading": list(result.missing_for_reading),
            "series_ids": list(result.series_ids),
        }
        print(json.dumps(out))
    else:
        print(f"created case {result.registry_id}: {result.status.label}")
        print("\n".join(result.preview.lines()))
        for missing in result.missing_for_reading:
            print(f"  missing for reading: {missing}")
        if result.status.value == "ready":
            print(f"next: pml-workbench case assign {result.registry_id} --reader USER ...")
    return EXIT_OK


def _refused(args: argparse.Namespace, problems: tuple[Problem, ...]) -> int:
    """Print every problem (one per line) and say nothing was written; exit 1."""
    if args.json:
        print(json.dumps({"ok": False, "problems": [p.as_json() for p in problems]}))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"error: {args.path}: {len(problems)} problem(s); nothing was written", file=sys.stderr)
    return EXIT_ERROR
