"""The ``pml-workbench`` command line (also ``python -m workbench``).

Every command opens the registry named by ``--db`` (or ``PML_WORKBENCH_DB``, or the default
SQLite file in the user data directory), upgrading its schema first, and acts as the person
signed in to that registry (``pml-workbench login``; on PostgreSQL, the registry user of the
connection's own database role). ``--user`` only says whom ``login`` signs in. Errors print
one line starting with ``error:`` and exit non-zero; nothing half-done is left in the
registry.

Layout: this module builds the top-level parser and runs the chosen command. Each noun has a
module of its own (:mod:`~workbench.cli.cases`, :mod:`~workbench.cli.reads`, ...) whose
``register(commands)`` adds its sub-commands and whose handlers stay thin; what they share (the
exit codes, opening the registry, the acting user, password prompts) is in
``workbench.cli._common``. The modules import only light modules at the top: SQLAlchemy,
SimpleITK and Qt are imported inside the handlers that use them, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from workbench import __version__
from workbench.cli import (
    admin,
    agreement,
    analytics,
    bench,
    cases,
    criteria,
    decisions,
    export,
    gui,
    imaging,
    intake,
    labs,
    lesions,
    reads,
    roles,
    series,
    session,
    stats,
    timeline,
    users,
    worklist,
)
from workbench.cli._common import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from workbench.config import DB_ENV, USER_ENV
from workbench.errors import RegistryError

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "main"]

#: The noun modules, in the order their commands are listed by ``--help``.
NOUNS = (
    session,
    gui,
    cases,
    worklist,
    reads,
    decisions,
    labs,
    users,
    roles,
    imaging,
    intake,
    lesions,
    criteria,
    bench,
    series,
    admin,
    stats,
    agreement,
    analytics,
    export,
    timeline,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pml-workbench",
        description="Case-review workbench of the PML registry.",
        epilog=f"Registry: --db, else ${DB_ENV}, else a SQLite file in the user data "
        "directory. '--db demo' is the demo registry.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--db", metavar="URL", help="registry database URL (or 'demo')")
    parser.add_argument(
        "--user",
        metavar="NAME",
        help=f"whom 'login' signs in (default: ${USER_ENV} or the OS login); other commands "
        "act as the signed-in person and refuse a different name",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for noun in NOUNS:
        noun.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted; nothing was saved of the interrupted step", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (``pml-workbench cases | head``): stop quietly,
        # as other command-line tools do, without a second error when Python flushes stdout.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
