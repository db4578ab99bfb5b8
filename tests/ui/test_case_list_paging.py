"""The case list panel on a registry of a few thousand cases: pages, header sorts, selection."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from tests.test_case_list import CONDITIONS, ordered, reference
from workbench.bench import build_case_registry
from workbench.case_list import CaseListQuery, SortKey
from workbench.domain import CaseStatus
from workbench.registry.db import Registry
from workbench.ui.case_list import COLUMNS, PAGE_SIZE, CaseListPanel
from workbench.users import Actor

CASES = 3000


def _panel(qtbot: QtBot, registry: Registry, actor: Actor) -> CaseListPanel:
    build_case_registry(registry, CASES, conditions=CONDITIONS)
    panel = CaseListPanel()
    qtbot.addWidget(panel)
    panel.resize(760, 700)
    panel.show()
    qtbot.waitExposed(panel)
    codes = sorted({r.site for r in reference(registry)})
    assert panel.show_registry(registry, actor, codes) == CASES
    return panel


def _visible_ids(panel: CaseListPanel) -> list[str]:
    model, table = panel.model, panel.table
    viewport = table.viewport()
    assert viewport is not None
    first = table.rowAt(0)
    last = table.rowAt(viewport.height() - 1)
    last = model.rowCount() - 1 if last < 0 else last
    return [model.data(model.index(row, 0)) for row in range(first, last + 1)]


def test_the_panel_pages_sorts_and_selects_off_page(
    qtbot: QtBot, ui_registry: Registry, ui_actor: Actor, tmp_path: Path
) -> None:
    panel = _panel(qtbot, ui_registry, ui_actor)
    model = panel.model
    everything = reference(ui_registry)

    assert model.rowCount() == CASES, "the scroll bar spans every case"
    assert model.loaded_pages() == [0], "only the first page is read on opening"
    assert panel.count_label.text() == f"{CASES} cases"
    counts = {s: sum(r.status is s for r in everything) for s in CaseStatus}
    texts = [panel.status_combo.itemText(n) for n in range(panel.status_combo.count())]
    assert f"{CaseStatus.FINAL.label} ({counts[CaseStatus.FINAL]})" in texts

    panel.table.scrollToBottom()
    panel.grab()
    assert _visible_ids(panel)[-1] == ordered(everything, CaseListQuery())[-1].registry_id
    assert (CASES - 1) // PAGE_SIZE in model.loaded_pages(), "the last page was fetched to paint"

    header = panel.table.horizontalHeader()
    assert header is not None
    series = [c.title for c in COLUMNS].index("Series")
    position = QPoint(header.sectionViewportPosition(series) + 10, header.height() // 2)
    header_viewport = header.viewport()
    assert header_viewport is not None
    qtbot.mouseClick(header_viewport, Qt.MouseButton.LeftButton, pos=position)
    descending = header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    expected = ordered(everything, CaseListQuery(sort=SortKey.SERIES, descending=descending))
    assert header.sortIndicatorSection() == series
    panel.table.scrollToTop()
    panel.grab()
    shown = _visible_ids(panel)
    assert shown == [r.registry_id for r in expected[: len(shown)]]
    assert len(shown) > 10

    # A case far down the list (on a page not loaded) is selected and scrolled to.
    target = expected[2345]
    assert 2345 // PAGE_SIZE not in model.loaded_pages()
    assert panel.select_case(target.registry_id)
    assert panel.selected_registry_id() == target.registry_id
    assert panel.table.currentIndex().row() == 2345
    panel.grab()
    assert target.registry_id in _visible_ids(panel)

    # Sorting again keeps it selected, at its new row.
    panel.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    by_id = ordered(everything, CaseListQuery(descending=True))
    row = [r.registry_id for r in by_id].index(target.registry_id)
    assert panel.table.currentIndex().row() == row
    assert panel.selected_registry_id() == target.registry_id

    # A filter re-queries; the selection stays when the case passes it.
    panel.status_combo.setCurrentIndex(panel.status_combo.findData(target.status))
    assert model.rowCount() == counts[target.status]
    assert panel.selected_registry_id() == target.registry_id
    assert panel.count_label.text() == f"{counts[target.status]} of {CASES} cases shown"
    panel.grab().save(str(tmp_path / "case_list.png"))
