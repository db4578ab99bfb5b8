"""The sign-in dialog on a real registry: refusals, a one-time password, the first user, and
what ``run()`` renders when nobody is signed in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QLabel, QWidget
from pytestqt.qtbot import QtBot

from adjudication.vocabulary import Role
from tests.signin import TEST_PASSWORD
from tests.ui.conftest import cli_token
from workbench.config import Settings
from workbench.errors import PermissionDeniedError
from workbench.registry.db import Registry
from workbench.services import signin
from workbench.ui import app as app_module
from workbench.ui.main_window import MainWindow
from workbench.ui.signin_dialog import SignInDialog
from workbench.users import add_user, resolve_actor, set_password

READER = "rad.ahmed"
ONE_TIME = "one-time-password-1"
OWN = "chosen-by-me-1"


@pytest.fixture
def people(registry: Registry) -> Registry:
    """The registry with ``coordinator`` (administrator and coordinator) and the reader
    :data:`READER`, both with the password :data:`~tests.signin.TEST_PASSWORD` of their own."""
    with registry.write() as session:
        add_user(
            session,
            "coordinator",
            "Coordinator",
            {Role.ADMIN, Role.COORDINATOR},
            by=None,
            password=TEST_PASSWORD,
        )
        admin = resolve_actor(session, "coordinator")
        add_user(session, READER, "Dr A. Ahmed", {Role.READER}, by=admin, password=TEST_PASSWORD)
    return registry


def shown(qtbot: QtBot, registry: Registry, **options: object) -> SignInDialog:
    """The dialog, shown without blocking (as ``exec()`` would show it)."""
    dialog = SignInDialog(registry, **options)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def press_ok(qtbot: QtBot, dialog: SignInDialog) -> None:
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def fill(dialog: SignInDialog, username: str, password: str) -> None:
    dialog.username_edit.setText(username)
    dialog.password_edit.setText(password)


def row_shown(dialog: SignInDialog, field: QWidget) -> bool:
    return dialog.form.isRowVisible(field)


def label_of(dialog: SignInDialog, field: QWidget) -> str:
    label = dialog.form.labelForField(field)
    assert isinstance(label, QLabel)
    return label.text()


def started(dialog: SignInDialog) -> signin.SignedIn | None:
    """The dialog's sign-in (a call, so that checking it is ``None`` narrows nothing)."""
    return dialog.signed_in


def outlined(widget: QWidget) -> bool:
    return widget.property("invalid") == "true"


# --- signing in --------------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_user_get_the_same_refusal(
    qtbot: QtBot, people: Registry
) -> None:
    dialog = shown(qtbot, people)
    assert dialog.windowTitle().endswith(": sign in")
    assert not row_shown(dialog, dialog.new_password_edit)
    assert not row_shown(dialog, dialog.again_edit)
    assert dialog.focusWidget() is dialog.username_edit

    fill(dialog, READER, "not-the-password")
    press_ok(qtbot, dialog)
    wrong_password = dialog.error_text
    assert dialog.isVisible()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert started(dialog) is None

    fill(dialog, "nobody.here", TEST_PASSWORD)
    press_ok(qtbot, dialog)
    unknown_user = dialog.error_text

    assert wrong_password == unknown_user == signin.REFUSED
    assert dialog.error_label.isVisible()
    assert dialog.isVisible()
    assert started(dialog) is None
    assert not outlined(dialog.username_edit), "the refusal says nothing about which was wrong"
    assert not outlined(dialog.password_edit)


def test_an_empty_user_name_is_refused_naming_the_field(qtbot: QtBot, people: Registry) -> None:
    dialog = shown(qtbot, people)
    fill(dialog, "  ", TEST_PASSWORD)
    press_ok(qtbot, dialog)
    assert dialog.error_text.startswith("user name:")
    assert outlined(dialog.username_edit)
    assert dialog.isVisible()


def test_the_right_password_signs_in(qtbot: QtBot, people: Registry) -> None:
    dialog = shown(qtbot, people)
    fill(dialog, " Rad.Ahmed ", TEST_PASSWORD)  # typed as people type names
    press_ok(qtbot, dialog)

    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not dialog.isVisible()
    assert dialog.signed_in is not None
    assert dialog.signed_in.actor.username == READER
    assert signin.resume(people, dialog.signed_in.token).actor.username == READER


def test_a_locked_dialog_signs_in_only_its_person(qtbot: QtBot, people: Registry) -> None:
    dialog = shown(
        qtbot, people, username=READER, locked=True, reason="Your sign-in ended. Sign in again."
    )
    assert dialog.intro.text() == "Your sign-in ended. Sign in again."
    assert dialog.username_edit.isReadOnly()
    assert dialog.focusWidget() is dialog.password_edit
    dialog.password_edit.setText(TEST_PASSWORD)
    press_ok(qtbot, dialog)
    assert dialog.signed_in is not None
    assert dialog.signed_in.actor.username == READER


# --- a one-time password -----------------------------------------------------------------------


@pytest.fixture
def reset(people: Registry) -> Registry:
    """:data:`READER`'s password reset by the coordinator to :data:`ONE_TIME`."""
    with people.write() as session:
        set_password(session, resolve_actor(session, "coordinator"), READER, ONE_TIME)
    return people


def test_a_one_time_password_asks_for_a_new_one_before_signing_in(
    qtbot: QtBot, reset: Registry
) -> None:
    dialog = shown(qtbot, reset)
    fill(dialog, READER, ONE_TIME)
    press_ok(qtbot, dialog)

    assert dialog.isVisible()
    assert started(dialog) is None
    assert "for one use only" in dialog.error_text
    assert row_shown(dialog, dialog.new_password_edit)
    assert row_shown(dialog, dialog.again_edit)
    assert label_of(dialog, dialog.new_password_edit) == "New password"
    assert label_of(dialog, dialog.again_edit) == "New password again"
    assert dialog.username_edit.isReadOnly()
    assert dialog.password_edit.isReadOnly()
    assert dialog.focusWidget() is dialog.new_password_edit

    dialog.new_password_edit.setText(OWN)
    dialog.again_edit.setText(OWN + "x")
    press_ok(qtbot, dialog)
    assert dialog.error_text == "new password: the two entries differ"
    assert outlined(dialog.new_password_edit)
    assert dialog.isVisible()
    assert started(dialog) is None
    with pytest.raises(signin.PasswordChangeRequiredError):  # nothing was changed
        signin.sign_in(reset, READER, ONE_TIME, client="cli")

    dialog.new_password_edit.setText("short")
    dialog.again_edit.setText("short")
    press_ok(qtbot, dialog)
    assert "shorter than" in dialog.error_text
    assert outlined(dialog.new_password_edit), "the password the service refused is the new one"
    assert started(dialog) is None

    dialog.new_password_edit.setText(OWN)
    dialog.again_edit.setText(OWN)
    press_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.signed_in is not None
    assert dialog.signed_in.actor.username == READER

    with pytest.raises(PermissionDeniedError, match=re.escape(signin.REFUSED)):
        signin.sign_in(reset, READER, ONE_TIME, client="cli")
    again = signin.sign_in(reset, READER, OWN, client="cli")
    assert again.actor.username == READER


# --- an empty registry -------------------------------------------------------------------------


def test_an_empty_registry_asks_for_its_first_user(qtbot: QtBot, registry: Registry) -> None:
    dialog = shown(qtbot, registry)
    assert dialog.first_user
    assert "set up the registry" in dialog.windowTitle()
    assert "no users yet" in dialog.intro.text()
    assert row_shown(dialog, dialog.name_edit)
    assert row_shown(dialog, dialog.again_edit)
    assert label_of(dialog, dialog.again_edit) == "Password again"
    assert not row_shown(dialog, dialog.new_password_edit)

    dialog.username_edit.setText("alice")
    dialog.name_edit.setText("Dr Alice Admin")
    dialog.password_edit.setText(OWN)
    dialog.again_edit.setText(OWN + "x")
    press_ok(qtbot, dialog)
    assert dialog.error_text == "password: the two entries differ"
    assert outlined(dialog.password_edit)
    assert not signin.registry_has_users(registry), "a refused set-up creates nobody"

    dialog.again_edit.setText(OWN)
    press_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.signed_in is not None
    actor = dialog.signed_in.actor
    assert actor.username == "alice"
    assert actor.display_name == "Dr Alice Admin"
    assert actor.roles == {Role.ADMIN, Role.COORDINATOR}
    assert signin.registry_has_users(registry)
    assert signin.sign_in(registry, "alice", OWN, client="cli").actor.username == "alice"


# --- run() with nobody signed in ---------------------------------------------------------------


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> list[MainWindow]:
    """Every main window ``run()`` creates."""
    made: list[MainWindow] = []

    class Recorded(MainWindow):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(app_module, "MainWindow", Recorded)
    return made


@pytest.mark.parametrize("with_users", [True, False], ids=["sign-in", "first-user"])
def test_a_screenshot_with_nobody_signed_in_is_the_sign_in_dialog(
    qapp: QApplication,
    sqlite_url: str,
    tmp_path: Path,
    windows: list[MainWindow],
    with_users: bool,
) -> None:
    if with_users:
        registry = Registry.open(sqlite_url)
        try:
            signin.create_first_user(registry, "coordinator", TEST_PASSWORD, client="cli")
        finally:
            registry.close()
    png = tmp_path / "signin.png"

    assert app_module.run(Settings(sqlite_url, tmp_path), screenshot=png) == 0

    assert windows == [], "nobody signed in: no main window"
    assert png.stat().st_size > 8_000
    registry = Registry.open(sqlite_url)
    try:
        assert signin.registry_has_users(registry) is with_users, "a screenshot creates nobody"
        expected = SignInDialog(registry)  # the theme is applied by now, as in run()
        assert expected.first_user is not with_users
        size = expected.sizeHint()
        expected.deleteLater()
    finally:
        registry.close()
    image = QImage(str(png))
    assert (image.width(), image.height()) == (size.width(), size.height())
    assert image.width() >= 440, "drawn at the dialog's own width, not squeezed"
    assert image.height() < 800


def test_a_screenshot_with_the_command_lines_sign_in_is_the_main_window(
    qapp: QApplication, sqlite_url: str, tmp_path: Path, windows: list[MainWindow]
) -> None:
    token = cli_token(sqlite_url, "coordinator")  # the registry's first user
    png = tmp_path / "window.png"

    assert app_module.run(Settings(sqlite_url, tmp_path), token=token, screenshot=png) == 0

    assert len(windows) == 1
    assert windows[0].actor.username == "coordinator"
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1280, 800)
    assert png.stat().st_size > 10_000
