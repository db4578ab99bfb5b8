"""Starting the window: :func:`run` is what ``pml-workbench gui`` and ``demo`` call."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from viewers.layout import GridLayout
from workbench.config import Settings
from workbench.errors import PermissionDeniedError, RegistryError
from workbench.services import Actor, Registry, admin, signin
from workbench.services import panel as panel_service
from workbench.ui.dialogs import ReportDialog, user_message
from workbench.ui.main_window import APP_TITLE, MainWindow
from workbench.ui.session_keeper import SessionKeeper
from workbench.ui.signin_dialog import SignInDialog
from workbench.ui.theme import apply_theme
from workbench.ui.workspace_data import ReviewProtocol

SCREENSHOT_SIZE = QSize(1280, 800)
EXIT_OK = 0
EXIT_ERROR = 1

_ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


def application() -> QApplication:
    """The running ``QApplication``, created (and themed) on first use."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("pml-workbench")
    app.setOrganizationName("PML registry")
    apply_theme(app)
    return app


@dataclass(frozen=True, slots=True)
class Who:
    """Who the window acts as, and whether the window started that sign-in (it then signs
    out when it closes)."""

    actor: Actor
    token: str | None
    owned: bool


def sign_in_window(
    registry: Registry,
    *,
    signed_in: signin.SignedIn | None = None,
    token: str | None = None,
    username: str = "",
    parent: QWidget | None = None,
) -> Who | None:
    """Who acts in the window: the sign-in given (``demo``), this connection's own database
    role (PostgreSQL), the command line's session ``token`` when it is in force, else
    whoever signs in with :class:`SignInDialog` (``None`` when the dialog is cancelled)."""
    if signed_in is not None:
        return Who(signed_in.actor, signed_in.token, True)
    by_database = signin.connection_actor(registry)
    if by_database is not None:
        return Who(by_database, None, False)
    if token is not None:
        try:
            return Who(signin.resume(registry, token).actor, token, False)
        except signin.SessionEndedError:
            pass
    dialog = SignInDialog(registry, username=username, parent=parent)
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.signed_in is None:
        return None
    return Who(dialog.signed_in.actor, dialog.signed_in.token, True)


def run(
    settings: Settings,
    *,
    signed_in: signin.SignedIn | None = None,
    token: str | None = None,
    username: str = "",
    screenshot: Path | None = None,
    case: str | None = None,
    layout: str | GridLayout | None = None,
    protocol: str | ReviewProtocol | None = None,
    tab: str | None = None,
    panel: bool = False,
) -> int:
    """Show the main window on the registry of ``settings``, as the person who signs in (or
    as ``signed_in``, or as the command line's session ``token``; see :func:`sign_in_window`).
    With ``screenshot`` and nobody signed in yet, the sign-in dialog is what is rendered.

    With ``screenshot``, render the window once at 1280×800 to that PNG and return without
    entering the event loop (errors then go to stderr, never to a dialog). With ``case``,
    open that case's page; with ``case`` and ``layout`` (``"1x1"``, ``"1x2"``, ``"2x2"``,
    ``"2x3"``) and/or ``protocol`` (``"hanging"``, ``"prior-current"``), open its images in
    the review workspace in that layout and protocol (the user's remembered ones stand in
    for the one not given, and neither is remembered); with ``tab``, show that tab of the case
    page; with ``panel``, open the panel's page of the case. Returns the exit status: 0, or 1
    when the registry cannot be opened (or, in screenshot mode, anything went wrong).
    """
    try:
        grid = GridLayout.parse(layout) if isinstance(layout, str) else layout
        hanging = ReviewProtocol(protocol) if isinstance(protocol, str) else protocol
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if (grid is not None or hanging is not None or tab or panel) and not case:
        print("error: a review layout, protocol, tab or panel needs a case", file=sys.stderr)
        return EXIT_ERROR
    app = application()
    try:
        registry = admin.open_registry(settings.db_url)
    except RegistryError as exc:
        if screenshot is not None:
            print(f"error: {exc}", file=sys.stderr)
        else:
            QMessageBox.critical(None, f"{APP_TITLE}: cannot open the registry", str(exc))
        return EXIT_ERROR
    who: Who | None = None
    keeper: SessionKeeper | None = None
    try:
        if screenshot is not None and signed_in is None:
            who = _who_without_asking(registry, token)
            if who is None:
                return _screenshot(app, SignInDialog(registry, username=username), screenshot)
        else:
            who = sign_in_window(registry, signed_in=signed_in, token=token, username=username)
        if who is None:
            return EXIT_OK  # the sign-in was cancelled: nothing to do, nothing went wrong
        if username and who.actor.username != username:
            raise PermissionDeniedError(
                f"--user does not choose who acts: you are signed in as {who.actor.username!r}"
                f"; to act as {username!r}, sign in as them ('pml-workbench login {username}')"
            )
        window = MainWindow(registry, who.actor, quiet=screenshot is not None)
        keeper = SessionKeeper(
            window, registry, who.actor, who.token, idle=panel_service.review_config().session_idle
        )
        if who.owned and who.token is not None:
            keeper.owned_tokens.append(who.token)
        if case and window.open_case(case):
            if tab:
                window.case_page.show_tab(tab)
            if panel:
                window.open_panel(case)
            elif grid is not None or hanging is not None:
                window.open_review(case, layout=grid, protocol=hanging)
        if screenshot is not None:
            return _screenshot(app, window, screenshot)
        window.show()
        previous = sys.excepthook
        sys.excepthook = _report_unexpected(window, previous)
        try:
            return app.exec()
        finally:
            sys.excepthook = previous
    except RegistryError as exc:
        if screenshot is not None:
            print(f"error: {exc}", file=sys.stderr)
        else:
            QMessageBox.critical(None, APP_TITLE, str(exc))
        return EXIT_ERROR
    finally:
        if keeper is not None:
            keeper.close()
        elif who is not None and who.owned and who.token is not None:
            with contextlib.suppress(RegistryError):
                signin.sign_out(registry, who.token)
        registry.close()


def _who_without_asking(registry: Registry, token: str | None) -> Who | None:
    """Who acts when nobody can be asked (a screenshot): the database role or the command
    line's session in force, else nobody."""
    by_database = signin.connection_actor(registry)
    if by_database is not None:
        return Who(by_database, None, False)
    if token is None:
        return None
    return Who(signin.resume(registry, token).actor, token, False)


def _screenshot(app: QApplication, window: QWidget, path: Path) -> int:
    """Render ``window`` once (the main window at 1280×800, a dialog at its own size)."""
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    size = SCREENSHOT_SIZE if isinstance(window, MainWindow) else window.sizeHint()
    window.resize(size)
    window.show()
    app.processEvents()
    app.processEvents()  # a second pass settles nested layouts (the review grid)
    image = window.grab().toImage()
    if image.size() != size:  # a high-DPI screen renders more device pixels
        image = image.scaled(
            size,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    window.close()
    window.deleteLater()
    if isinstance(window, MainWindow) and window.errors:
        return EXIT_ERROR
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    if not image.save(str(path), "PNG"):
        print(f"error: cannot write the screenshot {path}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _report_unexpected(window: MainWindow, previous: _ExceptHook) -> _ExceptHook:
    """An exception hook that shows an unexpected error instead of aborting.

    PyQt aborts the process on an exception escaping a slot unless a hook is set; the user's
    work in the registry is already committed or rolled back by then, so showing the error
    and carrying on is the safer choice.
    """

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        previous(kind, exc, tb)
        if isinstance(exc, RegistryError):
            window.report_error("Registry error", user_message(exc))
            return
        text = "".join(traceback.format_exception(kind, exc, tb))
        dialog = ReportDialog(
            "Unexpected error",
            f"Something went wrong: {exc}. Nothing half-done was saved. Please report the "
            "details below.",
            text,
            window,
        )
        dialog.open()

    return hook
