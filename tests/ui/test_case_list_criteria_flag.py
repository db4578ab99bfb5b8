"""The case list marks a case whose final decision the criteria no longer give (issue #13)."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from workbench.bench import build_case_registry
from workbench.registry.db import Registry
from workbench.registry.models import CaseListRow
from workbench.ui.case_list import COLUMNS, CRITERIA_MARK, CaseListPanel
from workbench.users import Actor

FLAG = "the criteria now give definite, not the final decision (probable)"


def test_a_flagged_case_shows_a_mark_and_a_tooltip_in_its_status(
    qtbot: QtBot, ui_registry: Registry, ui_actor: Actor
) -> None:
    build_case_registry(ui_registry, 5)
    with ui_registry.write() as session:  # as reclassify leaves it (bookkeeping, unguarded)
        session.execute(
            update(CaseListRow)
            .where(CaseListRow.registry_id == "PML-000002")
            .values(criteria_flag=FLAG)
        )
    panel = CaseListPanel()
    qtbot.addWidget(panel)
    panel.resize(760, 300)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.show_registry(ui_registry, ui_actor, ["SITE-00"]) == 5
    model = panel.model
    status = [c.title for c in COLUMNS].index("Status")
    ids = [model.data(model.index(row, 0)) for row in range(model.rowCount())]
    flagged = ids.index("PML-000002")
    text = model.data(model.index(flagged, status))
    assert text.endswith(CRITERIA_MARK)
    tip = model.data(model.index(flagged, status), Qt.ItemDataRole.ToolTipRole)
    assert FLAG in tip
    others = [row for row in range(model.rowCount()) if row != flagged]
    assert not any(model.data(model.index(r, status)).endswith(CRITERIA_MARK) for r in others)
    assert model.data(model.index(others[0], status), Qt.ItemDataRole.ToolTipRole) is None
    panel.grab().save("/tmp/case_list_criteria_flag.png")
