"""What the case list's benchmark times in the window: the panel painted after each action.

:mod:`workbench.bench` builds the registry and times these calls against the same SQL run
through the database's own client; the Qt side lives here so the benchmark module stays free
of Qt (the import contracts). Each function returns when the panel has painted its visible
rows and counts, which is what the user waits for.
"""

from __future__ import annotations

import os

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from workbench.domain import CaseStatus
from workbench.services import Actor, Registry
from workbench.ui.case_list import COLUMNS, CaseListPanel

_APPLICATION: list[QApplication] = []
"""The application this module made, kept alive for as long as the process runs."""


def application() -> QApplication:
    """The running application, or a new one (off screen when there is no display)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _APPLICATION.append(QApplication([]))
    return _APPLICATION[0]


def paint(panel: CaseListPanel) -> None:
    """Paint the panel now, rows and counts included."""
    panel.grab()


def open_panel(registry: Registry, actor: Actor, site_codes: list[str]) -> CaseListPanel:
    """A new case list panel showing the registry, painted."""
    application()
    panel = CaseListPanel()
    panel.resize(760, 900)
    panel.show_registry(registry, actor, site_codes)
    paint(panel)
    return panel


def filter_status(panel: CaseListPanel, status: CaseStatus) -> None:
    """Choose ``status`` in the status filter and paint the answer."""
    panel.status_combo.setCurrentIndex(panel.status_combo.findData(status))
    paint(panel)


def filter_site(panel: CaseListPanel, site: str | None) -> None:
    """Choose ``site`` (``None``: all) in the site filter and paint the answer."""
    panel.site_combo.setCurrentIndex(max(panel.site_combo.findData(site), 0))
    paint(panel)


def search(panel: CaseListPanel, text: str) -> None:
    """Type ``text`` in the registry id search, press Return and paint the answer."""
    panel.search_edit.setText(text)
    panel.search_edit.returnPressed.emit()
    paint(panel)


def sort_by(panel: CaseListPanel, title: str, descending: bool) -> None:
    """Sort by the column titled ``title`` as a header click does, and paint."""
    column = [c.title for c in COLUMNS].index(title)
    order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
    panel.table.sortByColumn(column, order)
    paint(panel)


def close(panel: CaseListPanel) -> None:
    """Throw the panel away."""
    panel.close()
    panel.deleteLater()
