"""Registry users: ``user add``, ``user edit``, ``user passwd`` and ``user list``."""

from __future__ import annotations

import argparse

from workbench.cli._common import (
    EXIT_OK,
    acting_user,
    ask_password,
    choice,
    open_registry,
    read_line,
    when,
)
from workbench.display import one_line


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``user`` with its actions."""
    user = commands.add_parser("user", help="registry users")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    user_add = user_commands.add_parser("add", help="add a user")
    user_add.add_argument("username")
    user_add.add_argument("--name", required=True, help="printed name")
    user_add.add_argument(
        "--role",
        action="append",
        required=True,
        help="coordinator, reader, panel or admin (repeatable)",
    )
    user_add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the user's password (one line) from standard input",
    )
    user_add.add_argument("--site", metavar="CODE", help="the site the user works at (e.g. NL-AMS)")
    user_add.set_defaults(run=_cmd_user_add)
    user_edit = user_commands.add_parser(
        "edit", help="change a user's details (coordinators, administrators)"
    )
    user_edit.add_argument("username")
    where = user_edit.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--site",
        metavar="CODE",
        help="the site the user works at; balanced assignment never suggests them for its cases",
    )
    where.add_argument("--no-site", action="store_true", help="the user works at no site")
    user_edit.set_defaults(run=_cmd_user_edit)
    passwd = user_commands.add_parser(
        "passwd", help="set your password (an admin or coordinator may set another user's)"
    )
    passwd.add_argument("username", nargs="?", metavar="USERNAME", help="default: yourself")
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (one line) from stdin; changing your own password that is "
        "set already: the current password on the first line, the new one on the second",
    )
    passwd.set_defaults(run=_cmd_user_passwd)
    user_list = user_commands.add_parser("list", help="list users")
    user_list.set_defaults(run=_cmd_user_list)


def _cmd_user_add(args: argparse.Namespace) -> int:
    from adjudication.vocabulary import Role
    from workbench.services import admin

    roles = {choice(Role, r, "--role") for r in args.role}
    password = read_line("password") if args.password_stdin else None
    registry = open_registry(args)
    try:
        admin.add_user(
            registry,
            acting_user(args, registry),
            args.username,
            args.name,
            {r for r in roles if r},
            password=password,
            site=args.site,
        )
    finally:
        registry.close()
    print(
        f"added user {args.username}"
        + (f" at site {args.site}" if args.site else "")
        + (" with a one-time password" if password is not None else "")
    )
    return EXIT_OK


def _cmd_user_edit(args: argparse.Namespace) -> int:
    from workbench.services import admin

    site = None if args.no_site else args.site
    registry = open_registry(args)
    try:
        admin.set_user_site(registry, acting_user(args, registry), args.username, site)
    finally:
        registry.close()
    print(f"{args.username}: site {site}" if site else f"{args.username}: no site")
    return EXIT_OK


def _cmd_user_passwd(args: argparse.Namespace) -> int:
    from workbench.errors import NotFoundError
    from workbench.policy import Action, Facts, require
    from workbench.services import admin

    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        username = (args.username or actor.username).lower()
        # Refuse before asking for a password (the service asks the policy again).
        require(
            actor,
            Action.SET_PASSWORD,
            Facts(target_is_self=username == actor.username, target=username),
        )
        known = {u.username: u for u in admin.list_users(registry, actor)}
        if username not in known:
            raise NotFoundError(f"user {username!r} is not known to this registry")
        # Changing one's own password needs the current one: first line (or prompt) of two.
        current = None
        if username == actor.username and known[username].has_password:
            if args.password_stdin:
                current = read_line("current password")
            else:
                current = ask_password(f"Current password of {username}: ", twice=False)
        if args.password_stdin:
            what = "new password (after the current one)" if current is not None else "password"
            password = read_line(what)
        else:
            password = ask_password(f"New password for {username}: ", twice=True)
        admin.set_password(registry, actor, username, password, current=current)
    finally:
        registry.close()
    if username == actor.username:
        print(f"password of {username} set")
    else:
        print(
            f"password of {username} reset to a one-time password: they choose their own at "
            "their next sign-in, and their sessions have ended"
        )
    return EXIT_OK


def _cmd_user_list(args: argparse.Namespace) -> int:
    from workbench.services import admin

    registry = open_registry(args)
    try:
        users = admin.list_users(registry, acting_user(args, registry))
    finally:
        registry.close()
    for user in users:
        roles = ", ".join(sorted(r.value for r in user.roles))
        notes = [f"site {user.site}"] if user.site else []
        if not user.active:
            notes.append("deactivated")
        if user.must_change_password:
            notes.append("one-time password")
        if user.recent_failures:
            notes.append(
                f"{user.recent_failures} failed password attempt(s), last {when(user.last_failure)}"
            )
        print(f"{user.username}\t{one_line(user.display_name)}\t{roles}\t{'; '.join(notes)}")
    return EXIT_OK
