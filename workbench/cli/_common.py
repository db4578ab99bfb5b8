"""What every command module shares: exit codes, the registry and the acting user, prompts.

The names here are public to the ``workbench.cli`` package and to nothing else. Like the
command modules, this one imports only light modules at the top; the registry (SQLAlchemy)
and the user functions are imported inside the helpers that need them.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from workbench.config import Settings
from workbench.domain import E, coerce_enum

if TYPE_CHECKING:
    from workbench.services import Actor, Registry

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def resolve_settings(args: argparse.Namespace) -> Settings:
    """The settings for ``--db`` (else the environment, else the default registry)."""
    return Settings.resolve(args.db)


def open_registry(args: argparse.Namespace, *, upgrade: bool = True) -> Registry:
    """Open the registry of ``--db``, upgrading its schema first unless told not to."""
    from workbench.services import admin

    return admin.open_registry(resolve_settings(args).db_url, upgrade_schema=upgrade)


def acting_user(args: argparse.Namespace, registry: Registry) -> Actor:
    """The signed-in person: the registry user of this connection's own database role (on
    PostgreSQL), else the session ``pml-workbench login`` started for this registry.

    ``--user`` does not choose who acts: naming someone other than the signed-in person is
    refused rather than ignored.
    """
    from workbench.errors import PermissionDeniedError
    from workbench.services import signin

    actor = signin.connection_actor(registry)
    if actor is None:
        url = resolve_settings(args).db_url
        token = signin.load_token(url)
        if token is None:
            if not signin.registry_has_users(registry):
                raise PermissionDeniedError(
                    "this registry has no users yet: create its first administrator by signing "
                    "in ('pml-workbench login NAME')"
                )
            raise PermissionDeniedError(
                "not signed in to this registry: sign in with 'pml-workbench login USERNAME'"
            )
        try:
            actor = signin.resume(registry, token).actor
        except signin.SessionEndedError:
            signin.forget_token(url)
            raise
    named = (args.user or "").strip().lower()
    if named and named != actor.username:
        raise PermissionDeniedError(
            f"--user does not choose who acts: you are signed in as {actor.username!r}; to act "
            f"as {named!r}, sign in as them ('pml-workbench login {named}')"
        )
    return actor


def choice(kind: type[E], value: str | None, option: str) -> E | None:
    """The member of ``kind`` an option names (``None`` when the option was not given)."""
    return None if value is None else coerce_enum(kind, value, option)


def read_line(what: str) -> str:
    """One line of standard input (for ``--password-stdin``), without its line ending."""
    from workbench.errors import ValidationError

    line = sys.stdin.readline()
    text = line.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ValidationError(f"--password-stdin: no {what} on standard input")
    return text


def ask_password(prompt: str, *, twice: bool) -> str:
    """A password typed on the terminal (not echoed); asked twice when it is a new one."""
    import getpass

    from workbench.errors import ValidationError

    first = getpass.getpass(prompt)
    if twice and getpass.getpass("Type it again: ") != first:
        raise ValidationError("password: the two entries differ; nothing was changed")
    return first


def when(moment: object) -> str | None:
    """A stored UTC time as ``2026-11-24 09:14:03 UTC`` (``None`` stays ``None``)."""
    import datetime as dt

    if not isinstance(moment, dt.datetime):
        return None
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def iso(moment: object) -> str | None:
    """A stored UTC time as ISO 8601 with ``Z`` (for JSON)."""
    import datetime as dt

    if not isinstance(moment, dt.datetime):
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
