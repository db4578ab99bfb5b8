"""Starting the window: :func:`run` is what ``pml-workbench gui`` and ``demo`` call."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtWidgets import QApplication, QMessageBox

from viewers.layout import GridLayout
from workbench.config import Settings
from workbench.errors import RegistryError
from workbench.services import Actor, Registry, admin
from workbench.ui.dialogs import ReportDialog, user_message
from workbench.ui.main_window import APP_TITLE, MainWindow
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


def open_registry(settings: Settings, username: str) -> tuple[Registry, Actor]:
    """Open (and upgrade) the registry and resolve the acting user.

    Raises :class:`RegistryError` with a message for the user; nothing stays open then.
    """
    registry = admin.open_registry(settings.db_url)
    try:
        actor = admin.sign_in(registry, username)
    except RegistryError:
        registry.close()
        raise
    return registry, actor


def run(
    settings: Settings,
    username: str,
    *,
    screenshot: Path | None = None,
    case: str | None = None,
    layout: str | GridLayout | None = None,
    protocol: str | ReviewProtocol | None = None,
    tab: str | None = None,
    panel: bool = False,
) -> int:
    """Show the main window on the registry of ``settings`` as ``username``.

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
        registry, actor = open_registry(settings, username)
    except RegistryError as exc:
        if screenshot is not None:
            print(f"error: {exc}", file=sys.stderr)
        else:
            QMessageBox.critical(None, f"{APP_TITLE}: cannot open the registry", str(exc))
        return EXIT_ERROR
    try:
        window = MainWindow(registry, actor, quiet=screenshot is not None)
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
    finally:
        registry.close()


def _screenshot(app: QApplication, window: MainWindow, path: Path) -> int:
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(SCREENSHOT_SIZE)
    window.show()
    app.processEvents()
    app.processEvents()  # a second pass settles nested layouts (the review grid)
    image = window.grab().toImage()
    if image.size() != SCREENSHOT_SIZE:  # a high-DPI screen renders more device pixels
        image = image.scaled(
            SCREENSHOT_SIZE,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    window.close()
    window.deleteLater()
    if window.errors:
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
