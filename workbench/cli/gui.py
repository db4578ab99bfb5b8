"""The window: ``gui`` opens it; ``demo`` builds the demo registry, then opens it.

These two are the only commands that start the Qt shell (:mod:`workbench.ui`). They import it
inside their handlers, so that no other command (nor ``--help``) loads Qt. ``gui`` opens on
the sign-in dialog unless ``pml-workbench login`` signed someone in to this registry (or, on
PostgreSQL, the database role did); ``demo`` opens signed in as the demo's coordinator.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli._common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, open_registry, resolve_settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``gui`` and ``demo``."""
    gui = commands.add_parser("gui", help="open the main window")
    gui.add_argument("--screenshot", metavar="PNG", type=Path, help="render once to PNG and exit")
    gui.add_argument("--case", metavar="ID", help="open this case's page")
    gui.add_argument(
        "--layout",
        choices=("1x1", "1x2", "2x2", "2x3"),
        help="open the case's images in this viewport layout (needs --case)",
    )
    gui.add_argument(
        "--protocol",
        choices=("hanging", "prior-current"),
        help="hang the case's images by this protocol (needs --case; default: the user's last)",
    )
    gui.add_argument(
        "--tab",
        choices=("imaging", "labs", "clinical", "timeline", "review", "history"),
        help="show this tab of the case page (needs --case)",
    )
    gui.add_argument(
        "--panel", action="store_true", help="open the panel's page of the case (needs --case)"
    )
    gui.set_defaults(run=_cmd_gui)

    demo = commands.add_parser("demo", help="build the demo registry, then open the window")
    demo.add_argument("--no-gui", action="store_true", help="build only, do not open the window")
    demo.add_argument("--screenshot", metavar="PNG", type=Path, help="render once to PNG and exit")
    demo.set_defaults(run=_cmd_demo)


def _cmd_gui(args: argparse.Namespace) -> int:
    from workbench.services import signin

    if (args.layout or args.protocol or args.tab or args.panel) and not args.case:
        print("error: --layout, --protocol, --tab and --panel need --case ID", file=sys.stderr)
        return EXIT_USAGE
    if args.panel and (args.layout or args.protocol):
        print("error: --panel opens the panel's page, not the images", file=sys.stderr)
        return EXIT_USAGE
    if (problem := _window_problem()) is not None:
        return problem
    from workbench.ui.app import run

    settings = resolve_settings(args)
    return run(
        settings,
        token=signin.load_token(settings.db_url),
        username=(args.user or "").strip().lower(),
        screenshot=args.screenshot,
        case=args.case,
        layout=args.layout,
        protocol=args.protocol,
        tab=args.tab,
        panel=args.panel,
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from workbench.config import DEMO_DB_ALIAS
    from workbench.demo.build import build_demo

    if args.db is None:
        args.db = DEMO_DB_ALIAS
    if not args.no_gui and (problem := _window_problem()) is not None:
        return problem  # before the demo is built: the window could not show it
    registry = open_registry(args)
    try:
        report = build_demo(registry, progress=lambda text: print(text, flush=True))
    finally:
        registry.close()
    print(report.summary())
    if args.no_gui:
        return EXIT_OK
    # The demo is a sandbox with users of its own: it opens signed in as its coordinator.
    from workbench.demo.build import DEMO_PASSWORD
    from workbench.services import signin
    from workbench.ui.app import run

    settings = resolve_settings(args)
    registry = open_registry(args)
    try:
        started = signin.sign_in(registry, report.username, DEMO_PASSWORD, client="window")
    finally:
        registry.close()
    return run(settings, signed_in=started, screenshot=args.screenshot, case=None)


def _window_problem() -> int | None:
    """Exit 1 with what to install (or do) when Qt cannot open a window here; ``None`` when
    it can. Checked before Qt is loaded: a missing platform library aborts the process."""
    from workbench.qt_platform import platform_problem

    problem = platform_problem()
    if problem is None:
        return None
    print(f"error: {problem}", file=sys.stderr)
    return EXIT_ERROR
