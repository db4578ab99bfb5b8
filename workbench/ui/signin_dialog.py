"""The sign-in dialog the window opens on (and shows again when a sign-in runs out).

Three forms in one dialog, as the registry needs:

- signing in: user name and password;
- a one-time password set by an administrator: after it was accepted, the person chooses a
  new password (typed twice) before the window opens;
- an empty registry: the first user names themselves and chooses a password (typed twice),
  and becomes its administrator and coordinator.

Every refusal shows in the dialog, which stays open; a wrong user name and a wrong password
get the same message.
"""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QResizeEvent
from PyQt6.QtWidgets import QFormLayout, QLabel, QLineEdit, QSizePolicy, QVBoxLayout, QWidget

from workbench.errors import ValidationError
from workbench.services import Registry, signin
from workbench.ui.dialogs import FormDialog
from workbench.ui.main_window import APP_TITLE

ONE_TIME_TEXT = "Choose a new password of your own and type it twice; OK signs you in with it."
"""The dialog's intro once a one-time password was accepted (the message says why)."""


def _fix(field: QLineEdit) -> None:
    """Make ``field`` read-only, and look it (greyed: the theme styles no read-only edit)."""
    field.setReadOnly(True)
    field.setEnabled(False)


def _password_field(name: str) -> QLineEdit:
    field = QLineEdit()
    field.setObjectName(name)
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


class _ElidedLabel(QLabel):
    """One line of text cut in the middle to the width it is given (a database URL has no
    spaces to wrap at); the whole text is the tooltip."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.full_text = text
        self.setToolTip(text)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self.full_text, Qt.TextElideMode.ElideMiddle, self.width()))


class SignInDialog(FormDialog):
    """Sign in to ``registry``; :attr:`signed_in` holds the session once accepted.

    With ``username`` given and ``locked``, only that person may sign in; ``reason`` replaces
    the opening sentence (why they are asked).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        username: str = "",
        locked: bool = False,
        reason: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        self.first_user = not signin.registry_has_users(registry)
        title = "set up the registry" if self.first_user else "sign in"
        super().__init__(f"{APP_TITLE}: {title}", parent)
        self.setObjectName("signInDialog")
        self.registry = registry
        self.signed_in: signin.SignedIn | None = None
        self._changing = False

        intro = QLabel()
        intro.setWordWrap(True)
        if self.first_user:
            intro.setText(
                "This registry has no users yet. Name yourself and choose a password: you "
                "become its first administrator and coordinator."
            )
        elif reason:
            intro.setText(reason)
        else:
            intro.setText("Sign in with your registry user name and password.")
        self.intro = intro

        self.registry_label = _ElidedLabel(registry.url)
        self.registry_label.setObjectName("muted")
        self.username_edit = QLineEdit(username)
        self.username_edit.setObjectName("username")
        if locked:
            _fix(self.username_edit)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("printedName")
        self.name_edit.setPlaceholderText("as signatures print it, e.g. Dr A. Ahmed")
        self.password_edit = _password_field("password")
        self.new_password_edit = _password_field("newPassword")
        self.again_edit = _password_field("passwordAgain")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Registry", self.registry_label)
        form.addRow("User name", self.username_edit)
        if self.first_user:
            form.addRow("Printed name", self.name_edit)
        form.addRow("Password", self.password_edit)
        form.addRow("New password", self.new_password_edit)
        form.addRow("Password again" if self.first_user else "New password again", self.again_edit)
        self.form = form
        form.setRowVisible(self.new_password_edit, False)
        form.setRowVisible(self.again_edit, self.first_user)
        self.register_field("user name", self.username_edit)
        self.register_field("password", self.password_edit)
        self.register_field("new password", self.new_password_edit)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)
        (self.password_edit if username else self.username_edit).setFocus()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """At least the minimum width, and the height the wrapped text needs at that width
        (what a screenshot renders)."""
        hint = super().sizeHint().expandedTo(self.minimumSize())
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            hint.setHeight(layout.totalHeightForWidth(hint.width()))
        return hint

    def accept(self) -> None:
        """Sign in; when refused, stay open, resized to what is shown now."""
        super().accept()
        if self.result() != self.DialogCode.Accepted:
            self._fit()

    def _fit(self) -> None:
        """Grow or shrink the height to the rows and message shown (rows appear, a long
        message goes); the width the person chose is kept."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        width = self.width() if self.isVisible() else self.sizeHint().width()
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else 0
        self.resize(width, max(height, layout.totalMinimumSize().height()))

    def _ask_new_password(self) -> None:
        """Show the new-password rows and fix the user name and one-time password."""
        self._changing = True
        self.intro.setText(ONE_TIME_TEXT)
        self.form.setRowVisible(self.new_password_edit, True)
        self.form.setRowVisible(self.again_edit, True)
        _fix(self.username_edit)
        _fix(self.password_edit)
        # From now on a refused password is about the new one.
        self._fields = [(name, widget) for name, widget in self._fields if name != "password"]
        self.register_field("password", self.new_password_edit)
        self.new_password_edit.setFocus()

    def submit(self) -> None:
        """Sign in (or set up the first user); raise to refuse and keep the dialog open."""
        username = self.username_edit.text().strip().lower()
        password = self.password_edit.text()
        if not username:
            raise ValidationError("user name: type your registry user name", field="user name")
        if self.first_user:
            if password != self.again_edit.text():
                raise ValidationError("password: the two entries differ", field="password")
            self.signed_in = signin.create_first_user(
                self.registry,
                username,
                password,
                client="window",
                display_name=self.name_edit.text().strip() or None,
            )
            return
        new_password = None
        if self._changing:
            new_password = self.new_password_edit.text()
            if new_password != self.again_edit.text():
                raise ValidationError("new password: the two entries differ", field="new password")
        try:
            self.signed_in = signin.sign_in(
                self.registry, username, password, client="window", new_password=new_password
            )
        except signin.PasswordChangeRequiredError as exc:
            self._ask_new_password()
            raise ValidationError(f"{exc}.", field="new password") from None
