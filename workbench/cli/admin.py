"""Looking after the registry: ``db upgrade``, ``audit verify``, ``audit anchor`` and
``config show``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.cli._common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, open_registry


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db``, ``audit`` and ``config`` with their actions."""
    db = commands.add_parser("db", help="the registry database")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="run the schema migrations")
    db_upgrade.set_defaults(run=_cmd_db_upgrade)

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain of the audit trail, that the decisions, signatures, reads, "
        "assignments, cases, users and roles match it, and that it still contains each anchor; "
        "exits 1 naming each row that does not",
    )
    verify.add_argument(
        "--anchor",
        metavar="FILE",
        type=Path,
        action="append",
        default=[],
        help="an anchor file from 'audit anchor' the trail must still contain (repeatable); "
        "a missing or malformed anchor file exits 2",
    )
    verify.set_defaults(run=_cmd_audit_verify)
    anchor = audit_commands.add_parser(
        "anchor", help="write the audit trail's head to FILE (mode 0600), to keep elsewhere"
    )
    anchor.add_argument("file", metavar="FILE", type=Path)
    anchor.add_argument("--force", action="store_true", help="replace FILE if it exists")
    anchor.set_defaults(run=_cmd_audit_anchor)

    config = commands.add_parser("config", help="the review configuration")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_show = config_commands.add_parser(
        "show", help="print the review configuration in force and the file it came from"
    )
    config_show.add_argument("--json", action="store_true", help="print JSON")
    config_show.set_defaults(run=_cmd_config_show)


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from workbench.services import admin

    registry = open_registry(args, upgrade=False)
    try:
        schema = admin.upgrade_schema(registry)
    finally:
        registry.close()
    state = "upgraded to" if schema.upgraded else "already at"
    print(f"{schema.url}: {state} schema revision {schema.revision}")
    return EXIT_OK


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from adjudication.text import escape_controls
    from workbench.errors import ValidationError
    from workbench.services import admin

    # Exit 1 means the trail failed a check; an anchor that cannot be read means nothing was
    # checked, so it exits 2, like deid-check and criteria on a file they cannot read.
    try:
        anchors = [(path, admin.read_anchor(path)) for path in args.anchor]
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    registry = open_registry(args)
    try:
        check = admin.verify_audit(registry)
        held = [(path, admin.check_anchor(registry, anchor)) for path, anchor in anchors]
    finally:
        registry.close()
    status = EXIT_OK
    if check.intact:
        print(f"audit chain intact: {check.events} event(s)")
    else:
        print(f"error: audit event {check.broken_event}: {check.reason}", file=sys.stderr)
        status = EXIT_ERROR
    for path, result in held:
        anchor = result.anchor
        what = f"anchor {path} ({anchor.events} events at {anchor.when})"
        if result.contained:
            print(f"{what}: contained")
        else:
            print(f"error: {what}: not contained: {result.problem}", file=sys.stderr)
            status = EXIT_ERROR
    # One line per row: a tampered row id (a role name) is written out, never interpreted.
    for finding in check.findings:
        row = escape_controls(str(finding.row_id))
        print(f"error: {finding.table} row {row}: {finding.problem}", file=sys.stderr)
    if check.findings:
        print(
            f"error: {len(check.findings)} row(s) do not match the audit trail "
            "(changed, inserted or deleted behind the application's back)",
            file=sys.stderr,
        )
        status = EXIT_ERROR
    else:
        print("guarded rows match the audit trail")
    return status


def _cmd_audit_anchor(args: argparse.Namespace) -> int:
    from workbench.services import admin

    registry = open_registry(args)
    try:
        anchor = admin.anchor_audit(registry)
    finally:
        registry.close()
    admin.write_anchor(anchor, args.file, force=args.force)
    print(
        f"anchored the audit trail at event {anchor.head_id} ({anchor.events} events, "
        f"{anchor.when}) in {args.file}; keep it where the database's users cannot write"
    )
    return EXIT_OK


def _cmd_config_show(args: argparse.Namespace) -> int:
    from workbench.review_config import REVIEW_CONFIG_ENV, config_path, load_review_config

    config = load_review_config()
    data = config.as_dict()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    if config.source is None:
        print(
            f"review configuration: built-in defaults (no file at {config_path()}; "
            f"set ${REVIEW_CONFIG_ENV} to name another)"
        )
    else:
        print(f"review configuration: {config.source}")
    for section in ("discordance", "signatures"):
        print(f"[{section}]")
        for key, value in data[section].items():
            print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return EXIT_OK
