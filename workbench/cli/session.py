"""Who acts: ``login``, ``logout`` and ``whoami``.

``login`` checks the password and keeps the session's token in a file of the data directory
that only its owner can read, one per registry; every other command presents it. On an empty
registry, ``login NAME`` creates its first administrator (with the password typed). On
PostgreSQL, a person connecting as their own database role is signed in by the database and
needs no ``login``.
"""

from __future__ import annotations

import argparse
import json

from workbench.cli._common import (
    EXIT_OK,
    acting_user,
    ask_password,
    open_registry,
    read_line,
    resolve_settings,
)
from workbench.display import one_line


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``login``, ``logout`` and ``whoami``."""
    login = commands.add_parser(
        "login",
        help="sign in to the registry (every other command then acts as you)",
        description="Sign in to the registry. On an empty registry, create its first user "
        "(administrator and coordinator) with the password typed.",
    )
    login.add_argument(
        "username", nargs="?", metavar="USERNAME", help="default: --user, else the OS login"
    )
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (one line) from standard input; when it is a one-time "
        "password set by an administrator, the new password on the second line",
    )
    login.add_argument("--name", help="printed name, when creating the registry's first user")
    login.set_defaults(run=_cmd_login)
    logout = commands.add_parser("logout", help="sign out of the registry")
    logout.set_defaults(run=_cmd_logout)
    whoami = commands.add_parser("whoami", help="who is signed in, and until when")
    whoami.add_argument("--json", action="store_true", help="print JSON")
    whoami.set_defaults(run=_cmd_whoami)


def _password(args: argparse.Namespace, prompt: str, *, twice: bool, what: str) -> str:
    return read_line(what) if args.password_stdin else ask_password(prompt, twice=twice)


def _cmd_login(args: argparse.Namespace) -> int:
    from workbench.actor import default_username
    from workbench.cli._common import when
    from workbench.errors import PermissionDeniedError
    from workbench.services import signin

    username = (args.username or args.user or default_username()).strip().lower()
    url = resolve_settings(args).db_url
    registry = open_registry(args)
    try:
        by_database = signin.connection_actor(registry)
        if by_database is not None:
            if by_database.username != username and args.username:
                raise PermissionDeniedError(
                    f"this connection's database role signs you in as "
                    f"{by_database.username!r}; connect as {username!r}'s own role instead"
                )
            print(f"signed in by the database as {by_database.username}; no login is needed")
            return EXIT_OK
        if not signin.registry_has_users(registry):
            password = _password(
                args, f"Choose a password for {username}: ", twice=True, what="password"
            )
            started = signin.create_first_user(
                registry, username, password, client="cli", display_name=args.name
            )
            print(f"created {username}, the registry's first user (administrator, coordinator)")
        else:
            password = _password(args, f"Password of {username}: ", twice=False, what="password")
            try:
                started = signin.sign_in(registry, username, password, client="cli")
            except signin.PasswordChangeRequiredError as exc:
                if not args.password_stdin:
                    print(f"{exc}.")
                new = _password(
                    args,
                    f"New password for {username}: ",
                    twice=True,
                    what="new password (yours is a one-time password: give a new one on "
                    "the next line)",
                )
                started = signin.sign_in(
                    registry, username, password, client="cli", new_password=new
                )
                print(f"password of {username} changed")
        previous = signin.load_token(url)
        signin.save_token(url, started)
        if previous is not None:  # one sign-in per registry from here: the new one replaces it
            signin.sign_out(registry, previous, reason="replaced by a new sign-in")
    finally:
        registry.close()
    print(
        f"signed in as {started.actor.username} ({one_line(started.actor.display_name)}) "
        f"until {when(started.expires_at)}"
    )
    return EXIT_OK


def _cmd_logout(args: argparse.Namespace) -> int:
    from workbench.services import signin

    url = resolve_settings(args).db_url
    token = signin.load_token(url)
    if token is None:
        print("not signed in to this registry")
        return EXIT_OK
    registry = open_registry(args)
    try:
        username = signin.sign_out(registry, token)
    finally:
        registry.close()
        signin.forget_token(url)
    print(f"signed out {username}" if username else "signed out (the sign-in had ended already)")
    return EXIT_OK


def _cmd_whoami(args: argparse.Namespace) -> int:
    from workbench.cli._common import iso, when
    from workbench.services import signin

    registry = open_registry(args)
    try:
        actor = acting_user(args, registry)
        by_database = signin.connection_actor(registry) is not None
        state = None
        if not by_database:
            token = signin.load_token(resolve_settings(args).db_url)
            state = signin.resume(registry, token) if token else None
    finally:
        registry.close()
    roles = sorted(r.value for r in actor.roles)
    if args.json:
        body = {
            "username": actor.username,
            "name": actor.display_name,
            "roles": roles,
            "signed_in_by": "database role" if by_database else "password",
            "expires_at": iso(state.expires_at) if state else None,
            "idle_until": iso(state.idle_until) if state else None,
        }
        print(json.dumps(body, indent=2))
        return EXIT_OK
    print(f"{actor.username} ({one_line(actor.display_name)}): {', '.join(roles) or 'no role'}")
    if by_database:
        print("signed in by the database (this connection's own login role)")
    elif state is not None:
        print(
            f"signed in until {when(state.expires_at)}, or until {when(state.idle_until)} if unused"
        )
    return EXIT_OK
