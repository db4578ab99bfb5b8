"""Database login roles on PostgreSQL: ``db-role grant``, ``db-role revoke`` and
``db-role list``.

Run on a connection as the owner of the registry's tables, by a signed-in administrator or
coordinator; on SQLite every action is refused with one line.
"""

from __future__ import annotations

import argparse
import json

from workbench.cli._common import EXIT_OK, acting_user, open_registry
from workbench.display import one_line


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db-role`` with its actions."""
    db_role = commands.add_parser(
        "db-role", help="PostgreSQL login roles and the registry users they authenticate"
    )
    actions = db_role.add_subparsers(dest="db_role_command", metavar="ACTION", required=True)
    grant = actions.add_parser(
        "grant",
        help="let the login role ROLE act as USERNAME (grants it pml_workbench_app)",
    )
    grant.add_argument("role", metavar="ROLE", help="an existing PostgreSQL login role")
    grant.add_argument("username", metavar="USERNAME", help="the registry user it acts as")
    grant.set_defaults(run=_cmd_grant)
    revoke = actions.add_parser(
        "revoke",
        help="revoke pml_workbench_app from ROLE (cluster-wide) and clear its registry user",
    )
    revoke.add_argument("role", metavar="ROLE")
    revoke.set_defaults(run=_cmd_revoke)
    listing = actions.add_parser(
        "list", help="list mapped roles and unmapped members of pml_workbench_app"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=_cmd_list)


def _cmd_grant(args: argparse.Namespace) -> int:
    from workbench.services import identity

    registry = open_registry(args)
    try:
        identity.require_postgresql(registry)  # before asking who acts
        record = identity.grant_db_role(
            registry, acting_user(args, registry), args.role, args.username.strip().lower()
        )
    finally:
        registry.close()
    print(f"database role {record.role} now acts as registry user {record.username}")
    return EXIT_OK


def _cmd_revoke(args: argparse.Namespace) -> int:
    from workbench.services import identity

    registry = open_registry(args)
    try:
        identity.require_postgresql(registry)
        record = identity.revoke_db_role(registry, acting_user(args, registry), args.role)
    finally:
        registry.close()
    was = f" (was registry user {record.username})" if record.username else ""
    print(f"database role {record.role} revoked from pml_workbench_app{was}")
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.services import identity

    registry = open_registry(args)
    try:
        identity.require_postgresql(registry)
        records = identity.list_db_roles(registry, acting_user(args, registry))
    finally:
        registry.close()
    if args.json:
        rows = [
            {
                "role": r.role,
                "username": r.username,
                "active": r.active,
                "exists": r.exists,
                "can_login": r.can_login,
                "member": r.member,
            }
            for r in records
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    for r in records:
        notes = []
        if not r.exists:
            notes.append("role does not exist")
        elif not r.can_login:
            notes.append("cannot log in")
        if r.exists and not r.member:
            notes.append("not a member of pml_workbench_app")
        if r.username is None:
            notes.append("mapped to nobody")
        elif not r.active:
            notes.append("user deactivated")
        who = f"{r.username}\t{one_line(r.display_name or '')}" if r.username else "-\t-"
        print(f"{r.role}\t{who}\t{'; '.join(notes)}")
    return EXIT_OK
