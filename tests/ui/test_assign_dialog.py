"""Assigning a case's readers and panel from the window, on a real SQLite registry.

The cases are those of :func:`tests.ui.conftest.populate` (PML-0003 is ready, PML-0001
incomplete); the users are added here: readers ``rad1``-``rad3``, panel members ``panel1`` and
``panel2``, ``dual`` who holds both roles and ``gone``, an inactive reader and panel member.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from adjudication.vocabulary import Role
from workbench.domain import CaseStatus
from workbench.reading_flow import assign
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, CaseAssignment, User
from workbench.ui.app import application
from workbench.ui.assign_dialog import AssignDialog
from workbench.ui.main_window import MainWindow
from workbench.users import Actor, add_user, resolve_actor

from .conftest import USERNAME

READY = "PML-0003"
INCOMPLETE = "PML-0001"
USERS = {
    "rad1": ("Dr Ada Reader", {Role.READER}),
    "rad2": ("Dr Ben Reader", {Role.READER}),
    "rad3": ("Dr Cy Reader", {Role.READER}),
    "panel1": ("Dr Panel One", {Role.PANEL}),
    "panel2": ("Dr Panel Two", {Role.PANEL}),
    "dual": ("Dr Dee Dual", {Role.READER, Role.PANEL}),
    "gone": ("Dr Gone Away", {Role.READER, Role.PANEL}),
}


@pytest.fixture
def registry(populated: Registry, ui_actor: Actor) -> Registry:
    """The three cases and the users of :data:`USERS` (``gone`` deactivated)."""
    with populated.write() as session:
        for name, (printed, roles) in USERS.items():
            add_user(session, name, printed, roles, by=ui_actor)
    deactivate(populated, "gone")
    return populated


def deactivate(registry: Registry, username: str) -> None:
    """Deactivate ``username`` as an administrator would (no service does it yet): the
    change and its audit event in one transaction, as the registry requires."""
    with registry.write() as session:
        session.scalars(select(User).where(User.username == username)).one().active = False
        session.flush()
        audit.record(
            session,
            actor=USERNAME,
            role="admin",
            action="user.deactivate",
            entity_type="user",
            entity_id=username,
            before={"active": True},
            after={"active": False},
        )


def window_for(qtbot: QtBot, registry: Registry, actor: Actor) -> MainWindow:
    window = MainWindow(registry, actor, quiet=True)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_dialog(qtbot: QtBot, window: MainWindow, registry_id: str) -> AssignDialog:
    """Open the case, then the form through the Review tab's button, as a user would."""
    assert window.open_case(registry_id), window.errors
    window.case_page.show_tab("review")
    button = window.case_page.assign_button
    assert button.isEnabled(), button.toolTip()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.last_assign_dialog
    assert dialog is not None
    assert dialog.isVisible()
    return dialog


def press_assign(qtbot: QtBot, dialog: AssignDialog) -> None:
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok is not None
    assert ok.text() == "Assign"
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)


def listed(dialog: AssignDialog, role: Role) -> list[str]:
    widget = dialog.reader_list if role is Role.READER else dialog.panel_list
    items = [widget.item(n) for n in range(widget.count())]
    return [str(i.data(Qt.ItemDataRole.UserRole)) for i in items if i is not None]


def assignments(registry: Registry, registry_id: str) -> set[tuple[str, Role]]:
    with registry.read() as session:
        rows = session.execute(
            select(User.username, CaseAssignment.role)
            .join(User, User.id == CaseAssignment.user_id)
            .join(Case, Case.id == CaseAssignment.case_id)
            .where(Case.registry_id == registry_id)
        )
        return {(name, Role(role)) for name, role in rows}


def status_of(registry: Registry, registry_id: str) -> CaseStatus:
    with registry.read() as session:
        case = session.scalars(select(Case).where(Case.registry_id == registry_id)).one()
        return case.status


def audit_count(registry: Registry) -> int:
    with registry.read() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def enabled(dialog: AssignDialog, role: Role, username: str) -> bool:
    item = dialog.item_of(role, username)
    assert item is not None, f"{username} is not listed as {role.value}"
    return bool(item.flags() & Qt.ItemFlag.ItemIsEnabled)


def test_a_coordinator_assigns_two_readers_and_a_panel_member(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    dialog = open_dialog(qtbot, window, READY)

    assert listed(dialog, Role.READER) == ["dual", "rad1", "rad2", "rad3"]  # not 'gone'
    assert listed(dialog, Role.PANEL) == ["dual", "panel1", "panel2"]
    first = dialog.item_of(Role.READER, "rad1")
    assert first is not None
    assert first.text() == "Dr Ada Reader (rad1)"
    assert dialog.count_label.text() == "0 of 2 readers required"
    dialog.set_ticked(Role.READER, "rad1")
    assert dialog.count_label.text() == "1 of 2 readers required (1 ticked)"
    dialog.set_ticked(Role.READER, "rad2")
    assert dialog.count_label.text() == (
        "2 of 2 readers required (2 ticked) — Assign moves the case to in reading"
    )
    dialog.set_ticked(Role.PANEL, "panel1")
    assert dialog.panel_count_label.text() == "1 panel member(s) (1 ticked)"
    before = audit_count(registry)

    press_assign(qtbot, dialog)

    assert not dialog.isVisible()
    assert dialog.error_text == ""
    assert assignments(registry, READY) == {
        ("rad1", Role.READER),
        ("rad2", Role.READER),
        ("panel1", Role.PANEL),
    }
    assert status_of(registry, READY) is CaseStatus.IN_READING
    assert audit_count(registry) == before + 4  # three case.assign, one case.status
    page = window.case_page
    assert page.tabs.currentWidget() is page.review_tab
    readers = [page.reads_table.item(r, 0) for r in range(page.reads_table.rowCount())]
    assert {i.text() for i in readers if i is not None} == {
        "Dr Ada Reader (rad1)",
        "Dr Ben Reader (rad2)",
    }
    assert page.panel_label.text() == "Panel: Dr Panel One (panel1)"
    assert page.status_badge.text() == "in reading"
    status = window.statusBar()
    assert status is not None
    assert status.currentMessage() == f"Assigned 2 reader(s), 1 panel member(s) to {READY}"
    assert window.errors == []


def test_users_already_assigned_are_ticked_and_disabled(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    with registry.write() as session:
        assign(session, ui_actor, READY, ["rad1"], Role.READER)
        assign(session, ui_actor, READY, ["dual"], Role.PANEL)
    window = window_for(qtbot, registry, ui_actor)
    dialog = open_dialog(qtbot, window, READY)

    for role, name in ((Role.READER, "rad1"), (Role.PANEL, "dual")):
        item = dialog.item_of(role, name)
        assert item is not None
        assert item.checkState() == Qt.CheckState.Checked
        assert not enabled(dialog, role, name)
        assert item.text().endswith(" — assigned")
        assert "Already" in item.toolTip()
    other = dialog.item_of(Role.READER, "dual")
    assert other is not None
    assert other.checkState() == Qt.CheckState.Unchecked
    assert not enabled(dialog, Role.READER, "dual")
    assert other.text() == "Dr Dee Dual (dual) — on the panel"
    assert "nobody is both reader and panel member" in other.toolTip()
    with pytest.raises(ValueError, match="is panel member of this case"):
        dialog.set_ticked(Role.READER, "dual")
    assert dialog.count_label.text() == "1 of 2 readers required"
    assert dialog.ticked(Role.READER) == []
    assert dialog.ticked(Role.PANEL) == []

    dialog.set_ticked(Role.READER, "rad3")
    press_assign(qtbot, dialog)

    assert not dialog.isVisible()
    assert ("rad3", Role.READER) in assignments(registry, READY)
    assert status_of(registry, READY) is CaseStatus.IN_READING


def test_ticking_a_user_in_one_role_disables_them_in_the_other(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    dialog = open_dialog(qtbot, window, READY)
    assert enabled(dialog, Role.PANEL, "dual")

    dialog.set_ticked(Role.READER, "dual")
    assert not enabled(dialog, Role.PANEL, "dual")
    item = dialog.item_of(Role.PANEL, "dual")
    assert item is not None
    assert item.toolTip().startswith("Ticked as reader")

    dialog.set_ticked(Role.READER, "dual", False)
    assert enabled(dialog, Role.PANEL, "dual")
    assert item.toolTip() == ""


def test_a_refused_assignment_shows_inline_and_writes_nothing(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    dialog = open_dialog(qtbot, window, INCOMPLETE)
    dialog.set_ticked(Role.READER, "rad1")
    dialog.set_ticked(Role.PANEL, "panel1")
    before = audit_count(registry)

    press_assign(qtbot, dialog)

    assert dialog.isVisible()
    assert f"case {INCOMPLETE} is incomplete" in dialog.error_text
    assert dialog.error_label.isVisible()
    assert dialog.ticked(Role.READER) == ["rad1"]  # nothing lost
    assert dialog.ticked(Role.PANEL) == ["panel1"]
    assert assignments(registry, INCOMPLETE) == set()
    assert audit_count(registry) == before
    assert status_of(registry, INCOMPLETE) is CaseStatus.INCOMPLETE
    assert window.errors == []


def test_readers_and_panel_are_written_together_or_not_at_all(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    """The panel member is deactivated while the form is open: the readers, whose assignment
    the registry accepted first, are not written either."""
    window = window_for(qtbot, registry, ui_actor)
    dialog = open_dialog(qtbot, window, READY)
    dialog.set_ticked(Role.READER, "rad1")
    dialog.set_ticked(Role.READER, "rad2")
    dialog.set_ticked(Role.PANEL, "panel2")
    deactivate(registry, "panel2")

    press_assign(qtbot, dialog)

    assert dialog.isVisible()
    assert "'panel2' cannot be assigned as panel: they are not active" in dialog.error_text
    assert assignments(registry, READY) == set()
    assert status_of(registry, READY) is CaseStatus.READY

    dialog.set_ticked(Role.PANEL, "panel2", False)
    press_assign(qtbot, dialog)
    assert not dialog.isVisible()
    assert assignments(registry, READY) == {("rad1", Role.READER), ("rad2", Role.READER)}


def test_pressing_assign_with_nothing_ticked_says_so(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    dialog = open_dialog(qtbot, window, READY)
    press_assign(qtbot, dialog)
    assert dialog.isVisible()
    assert dialog.error_text.startswith("assign: tick at least one reader or panel member")


def test_a_reader_sees_the_action_and_the_button_disabled(qtbot: QtBot, registry: Registry) -> None:
    with registry.write() as session:
        reader = resolve_actor(session, "rad1")
    window = window_for(qtbot, registry, reader)
    assert not window.assign_action.isEnabled()
    assert window.open_case(READY), window.errors
    why = (
        "User 'rad1' may not assign readers and panel members: that needs the coordinator or "
        "admin role"
    )  # the policy's own reason
    assert not window.assign_action.isEnabled()
    assert window.assign_action.toolTip() == why
    button = window.case_page.assign_button
    assert not button.isEnabled()
    assert button.toolTip() == why


def test_the_action_waits_for_an_open_case(
    qtbot: QtBot, registry: Registry, ui_actor: Actor
) -> None:
    window = window_for(qtbot, registry, ui_actor)
    action = window.assign_action
    assert not action.isEnabled()
    assert action.toolTip() == "Open a case first, then assign its readers and panel"
    assert window.open_case(READY)
    assert action.isEnabled()
    assert action.text() == "&Assign readers…"
    assert window.case_page.assign_button.isEnabled()
    action.trigger()
    dialog = window.last_assign_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.choices.registry_id == READY


def test_screenshot_of_the_dialog(
    qtbot: QtBot, registry: Registry, ui_actor: Actor, tmp_path: Path
) -> None:
    """``assign-dialog.png``: one reader and one panel member assigned, one reader ticked."""
    application()  # the themed application the window runs in
    with registry.write() as session:
        assign(session, ui_actor, READY, ["rad1"], Role.READER)
        assign(session, ui_actor, READY, ["dual"], Role.PANEL)
    window = window_for(qtbot, registry, ui_actor)
    dialog = open_dialog(qtbot, window, READY)
    dialog.set_ticked(Role.READER, "rad2")
    dialog.set_ticked(Role.PANEL, "panel1")
    QApplication.processEvents()
    png = tmp_path / "assign-dialog.png"
    assert dialog.grab().save(str(png))
    image = QImage(str(png))
    assert image.width() >= 700
    assert image.height() >= 400
