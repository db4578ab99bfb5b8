"""Keeping the window's sign-in alive while it is used, and locking the window when it ends.

The window acts as one signed-in person for as long as it is open. While they use it (a key,
a click, the wheel), :class:`SessionKeeper` restarts the session's idle clock in the registry
every :attr:`~SessionKeeper.interval_ms`; when the window goes unused for the idle timeout of
``review.toml``, or the session ends otherwise (its lifetime, a password reset, a sign-out
elsewhere), the window's content is hidden and the sign-in dialog asks the same person for
their password again. Cancelling it closes the window; nothing saved is lost, and the
annotation drafts are saved as they are made.

File → Sign out ends the session and closes the window.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time

from PyQt6.QtCore import QEvent, QObject, QTimer
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QApplication, QDialog

from workbench.errors import RegistryError
from workbench.services import Actor, Registry, signin
from workbench.ui.main_window import MainWindow
from workbench.ui.signin_dialog import SignInDialog

_INPUT = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


class SessionKeeper(QObject):
    """The window's sign-in: kept alive while used, asked for again when it ends.

    ``token`` is ``None`` when the database signs the person in (PostgreSQL login roles):
    there is no session to keep, and the window is never locked by the workbench.
    """

    def __init__(
        self,
        window: MainWindow,
        registry: Registry,
        actor: Actor,
        token: str | None,
        *,
        idle: dt.timedelta,
        interval_ms: int = 30_000,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.registry = registry
        self.actor = actor
        self.token = token
        self.owned_tokens: list[str] = []
        """Tokens of sessions this window started (signed out when it closes)."""
        self.idle = idle
        self.interval_ms = interval_ms
        self.locked = False
        now = time.monotonic()
        self._last_input = now
        self._last_touch = now
        self.sign_out_action = QAction("Sign &out", window)
        self.sign_out_action.setStatusTip(f"End the sign-in of {actor.username} and close")
        self.sign_out_action.setEnabled(token is not None)
        self.sign_out_action.triggered.connect(self.sign_out)
        menu = window.file_menu
        if menu is not None:
            menu.insertAction(window.quit_action, self.sign_out_action)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        if token is not None:
            self.timer.start()
            app = QApplication.instance()
            if app is not None:
                app.installEventFilter(self)

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:  # noqa: N802
        """Note the person's input (never consumes it)."""
        if event is not None and event.type() in _INPUT:
            self._last_input = time.monotonic()
        return False

    def check(self) -> None:
        """Lock when unused for the idle timeout or when the session ended; else keep it."""
        if self.token is None or self.locked:
            return
        now = time.monotonic()
        if now - self._last_input >= self.idle.total_seconds():
            minutes = round(self.idle.total_seconds() / 60)
            self.lock(f"The window was unused for {minutes} minutes.")
            return
        if self._last_input <= self._last_touch:
            return
        try:
            signin.resume(self.registry, self.token)
        except signin.SessionEndedError as exc:
            self.lock(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
            return
        except RegistryError:
            return  # the registry is unreachable for now: try again at the next tick
        self._last_touch = now

    def lock(self, reason: str) -> bool:
        """Hide the window's content and ask for the password again; whether it was given
        (else the window closes)."""
        self.locked = True
        central = self.window.centralWidget()
        if central is not None:
            central.hide()
        dialog = SignInDialog(
            self.registry,
            username=self.actor.username,
            locked=True,
            reason=f"{reason} Sign in again as {self.actor.username} to go on.",
            parent=self.window,
        )
        accepted = dialog.exec() == QDialog.DialogCode.Accepted and dialog.signed_in is not None
        if accepted and dialog.signed_in is not None:
            self.token = dialog.signed_in.token
            self.owned_tokens.append(self.token)
            self._last_input = self._last_touch = time.monotonic()
            if central is not None:
                central.show()
            self.locked = False
            return True
        self.window.close()
        return False

    def sign_out(self) -> None:
        """End the sign-in and close the window."""
        if self.token is not None:
            with contextlib.suppress(RegistryError):  # else it ends at its idle timeout
                signin.sign_out(self.registry, self.token)
            self.token = None
        self.timer.stop()
        self.window.close()

    def close(self) -> None:
        """Sign out the sessions this window started (called when the window has closed)."""
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        for token in self.owned_tokens:
            with contextlib.suppress(RegistryError):  # else it ends at its idle timeout
                signin.sign_out(self.registry, token)
        self.owned_tokens.clear()
