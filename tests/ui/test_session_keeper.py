"""The window's sign-in runs out: unused, or ended elsewhere, the window locks and asks again."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.signin import TEST_PASSWORD
from workbench.registry.db import Registry
from workbench.services import signin
from workbench.ui.main_window import MainWindow
from workbench.ui.session_keeper import SessionKeeper
from workbench.ui.signin_dialog import SignInDialog

IDLE = dt.timedelta(minutes=5)


@pytest.fixture
def signed_in(ui_registry: Registry) -> signin.SignedIn:
    return signin.create_first_user(ui_registry, "coordinator", TEST_PASSWORD, client="window")


@pytest.fixture
def window(qtbot: QtBot, ui_registry: Registry, signed_in: signin.SignedIn) -> MainWindow:
    window = MainWindow(ui_registry, signed_in.actor, quiet=True)
    qtbot.addWidget(window)
    window.show()
    return window


def _keeper(window: MainWindow, registry: Registry, started: signin.SignedIn) -> SessionKeeper:
    keeper = SessionKeeper(window, registry, started.actor, started.token, idle=IDLE)
    keeper.owned_tokens.append(started.token)
    return keeper


def _central(window: MainWindow) -> QWidget:
    central = window.centralWidget()
    assert central is not None
    return central


def _answer(handle: Callable[[SignInDialog], None], seen: list[SignInDialog]) -> None:
    """When the sign-in dialog is up, let ``handle`` fill it in."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SignInDialog):
            QTimer.singleShot(10, act)
            return
        seen.append(dialog)
        handle(dialog)

    QTimer.singleShot(0, act)


def test_an_unused_window_locks_and_only_its_person_unlocks_it(
    window: MainWindow, ui_registry: Registry, signed_in: signin.SignedIn, tmp_path: Path
) -> None:
    keeper = _keeper(window, ui_registry, signed_in)
    seen: list[SignInDialog] = []
    refusals: list[str] = []

    def fill(dialog: SignInDialog) -> None:
        assert dialog.username_edit.isReadOnly()
        assert dialog.username_edit.text() == "coordinator"
        assert _central(window).isHidden()
        dialog.grab().save(str(tmp_path / "locked.png"))
        dialog.password_edit.setText("not-the-password")
        dialog.accept()
        refusals.append(dialog.error_text)
        dialog.password_edit.setText(TEST_PASSWORD)
        dialog.accept()

    _answer(fill, seen)
    keeper._last_input = time.monotonic() - IDLE.total_seconds() - 1  # unused for too long
    keeper.check()
    assert seen
    assert "unused for 5 minutes" in seen[0].intro.text()
    assert refusals == [signin.REFUSED]
    assert not keeper.locked
    assert window.isVisible()
    assert not _central(window).isHidden()
    assert keeper.token not in (None, signed_in.token)
    assert signin.resume(ui_registry, keeper.token).actor.username == "coordinator"
    assert (tmp_path / "locked.png").stat().st_size > 2_000


def test_a_session_ended_elsewhere_locks_the_window_and_cancel_closes_it(
    window: MainWindow, ui_registry: Registry, signed_in: signin.SignedIn
) -> None:
    keeper = _keeper(window, ui_registry, signed_in)
    signin.sign_out(ui_registry, signed_in.token)  # e.g. a password reset ends it
    seen: list[SignInDialog] = []
    _answer(lambda dialog: dialog.reject(), seen)
    keeper._last_input = time.monotonic()  # the person is using the window
    keeper.check()
    assert seen
    assert "has ended" in seen[0].intro.text()
    assert not window.isVisible()


def test_a_used_window_keeps_its_session_alive(
    window: MainWindow, ui_registry: Registry, signed_in: signin.SignedIn
) -> None:
    keeper = _keeper(window, ui_registry, signed_in)
    before = signin.resume(ui_registry, signed_in.token).idle_until
    time.sleep(1.1)
    keeper._last_input = time.monotonic()
    keeper.check()
    assert not keeper.locked
    assert signin.resume(ui_registry, signed_in.token).idle_until > before


def test_sign_out_ends_the_session_and_closes_the_window(
    window: MainWindow, ui_registry: Registry, signed_in: signin.SignedIn
) -> None:
    keeper = _keeper(window, ui_registry, signed_in)
    assert window.file_menu is not None
    assert keeper.sign_out_action in window.file_menu.actions()
    keeper.sign_out_action.trigger()
    assert not window.isVisible()
    with pytest.raises(signin.SessionEndedError, match="signed out"):
        signin.resume(ui_registry, signed_in.token)


def test_closing_signs_out_what_the_window_started(
    window: MainWindow, ui_registry: Registry, signed_in: signin.SignedIn
) -> None:
    keeper = _keeper(window, ui_registry, signed_in)
    window.close()
    keeper.close()
    with pytest.raises(signin.SessionEndedError):
        signin.resume(ui_registry, signed_in.token)
