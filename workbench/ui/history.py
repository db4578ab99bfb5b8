"""The case history: the case's audit events as the acting user may see them, read-only.

:class:`HistoryView` shows :class:`~workbench.services.cases.HistoryEvent` values (already
blinded by :func:`workbench.services.cases.case_history`) in a table, newest first: time
(UTC), actor, role, action, entity, reason and a compact ``before → after`` summary.
Selecting a row shows the whole event (before and after as JSON) in the pane below it; each
row's tooltip holds the same. Draft autosaves, which a reader writes every few seconds, can be
hidden.

:func:`summarise_change` and :func:`event_text` are plain Python, so the wording can be
tested without a screen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFont, QFontDatabase, QResizeEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.services.cases import HistoryEvent

HISTORY_COLUMNS = ("Time (UTC)", "Actor", "Role", "Action", "Entity", "Details", "Reason")
"""The reason comes last: most events have none, and on a narrow page it is the column that
scrolls out of view (it is in each row's tooltip and in the detail pane too)."""
TIME, ACTOR, ROLE, ACTION, ENTITY, DETAILS, REASON = range(len(HISTORY_COLUMNS))
DRAFT_SAVED = "read.draft_saved"
"""The action of a draft autosave (many per read)."""
MAX_VALUE_CHARS = 48
"""A value longer than this is cut in the details column (the tooltip has it whole)."""
MAX_DETAILS_CHARS = 180
"""The details column is cut here; the tooltip and the detail pane have everything."""
MAX_REASON_WIDTH = 120
"""The reason column is no wider (px); a long reason is in the tooltip and the pane."""
MIN_DETAILS_WIDTH = 220
"""The details column is at least this wide (px), even when the table then scrolls."""
_EVENT_ROLE = Qt.ItemDataRole.UserRole + 1


def format_time(event: HistoryEvent) -> str:
    """The event's UTC time, to the second (``2026-11-24 09:14:05``)."""
    return f"{event.occurred_at:%Y-%m-%d %H:%M:%S}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _value(value: Any) -> str:
    """One value, compactly: scalars as they are, lists of scalars comma-separated."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    else:
        text = str(value)
    return _cut(text, MAX_VALUE_CHARS)


def summarise_change(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    known: Mapping[str, Any] | None = None,
) -> str:
    """``before → after`` in one line: changed keys as ``key: old → new``, new keys as
    ``key=value``, removed keys as ``key: old → —``; unchanged keys are left out, and so are
    keys whose value is ``known`` already (the case of the page, say)."""
    old, new = dict(before or {}), dict(after or {})
    known = known or {}
    parts = []
    for key in [*new, *(k for k in old if k not in new)]:
        if key in known and known[key] == new.get(key, old.get(key)):
            continue
        if key in old and key in new:
            if old[key] != new[key]:
                parts.append(f"{key}: {_value(old[key])} → {_value(new[key])}")
        elif key in new:
            parts.append(f"{key}={_value(new[key])}")
        else:
            parts.append(f"{key}: {_value(old[key])} → —")
    return "; ".join(parts)


def _json(values: Mapping[str, Any] | None) -> str:
    if values is None:
        return "—"
    return json.dumps(values, ensure_ascii=False, indent=2, default=str)


def event_text(event: HistoryEvent) -> str:
    """The whole event as text: who, when, what, why, and before and after as JSON."""
    who = event.actor if not event.role else f"{event.actor} ({event.role})"
    lines = [f"{format_time(event)} UTC · {who} · {event.action} · {event.entity}"]
    if event.reason:
        lines.append(f"Reason: {event.reason}")
    summary = summarise_change(event.before, event.after)
    if summary:
        lines.append(f"Change: {summary}")
    lines += ["", "Before:", _json(event.before), "", "After:", _json(event.after)]
    return "\n".join(lines)


class HistoryView(QWidget):
    """The History tab: a read-only table of audit events and a pane with the selected one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._events: tuple[HistoryEvent, ...] = ()
        self._registry_id: str | None = None
        self.hint_label = QLabel()
        self.hint_label.setObjectName("muted")
        self.hint_label.setWordWrap(True)
        self.hide_drafts_box = QCheckBox("Hide draft autosaves")
        self.hide_drafts_box.setToolTip(
            "A reader's draft is saved every few seconds while they draw; each save is an event"
        )
        self.hide_drafts_box.toggled.connect(self._fill)

        self.table = QTableWidget(0, len(HISTORY_COLUMNS))
        self.table.setObjectName("historyTable")
        self.table.setHorizontalHeaderLabels(list(HISTORY_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        vertical = self.table.verticalHeader()
        assert vertical is not None
        vertical.setVisible(False)
        vertical.setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        assert header is not None
        header.setHighlightSections(False)
        header.setMinimumSectionSize(40)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)  # _fit_columns gives the details the room left
        self.table.itemSelectionChanged.connect(self._selected)

        self.detail_edit = QPlainTextEdit()
        self.detail_edit.setObjectName("historyDetail")
        self.detail_edit.setReadOnly(True)
        self.detail_edit.setPlaceholderText("Select an event to see all it recorded.")
        self.detail_edit.setFont(
            QFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        )

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail_edit)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)

        top = QHBoxLayout()
        top.addWidget(self.hint_label, 1)
        top.addWidget(self.hide_drafts_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

    @property
    def events(self) -> tuple[HistoryEvent, ...]:
        """Every event given (shown or hidden by the filter), oldest first."""
        return self._events

    def set_events(self, events: Sequence[HistoryEvent], registry_id: str | None = None) -> None:
        """Show ``events`` of case ``registry_id`` (oldest first, as
        :func:`~workbench.services.cases.case_history` gives them), keeping the selected event
        selected when it is still there. The details column leaves out
        ``case=<registry_id>``."""
        self._events = tuple(events)
        self._registry_id = registry_id
        self._fill()

    def shown_events(self) -> list[HistoryEvent]:
        """The events in the table, top to bottom (newest first)."""
        shown = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, TIME)
            if item is not None:
                shown.append(item.data(_EVENT_ROLE))
        return shown

    def select_event(self, event_id: int) -> bool:
        """Select the row of event ``event_id``; False when it is not shown."""
        for row, event in enumerate(self.shown_events()):
            if event.id == event_id:
                self.table.selectRow(row)
                return True
        return False

    def cell_text(self, row: int, column: int) -> str:
        """The text of one cell (``""`` when empty)."""
        item = self.table.item(row, column)
        return "" if item is None else item.text()

    # --- private -------------------------------------------------------------------------

    def _fill(self) -> None:
        selected = self._selected_event()
        hide_drafts = self.hide_drafts_box.isChecked()
        shown = [e for e in reversed(self._events) if not (hide_drafts and e.action == DRAFT_SAVED)]
        table = self.table
        table.blockSignals(True)
        try:
            table.setRowCount(0)
            table.setRowCount(len(shown))
            for row, event in enumerate(shown):
                full = event_text(event)
                details = summarise_change(
                    event.before, event.after, known={"case": self._registry_id}
                )
                cells = (
                    format_time(event),
                    event.actor,
                    event.role or "",
                    event.action,
                    event.entity,
                    _cut(details, MAX_DETAILS_CHARS),
                    event.reason or "",
                )
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setToolTip(full)
                    if column == TIME:
                        item.setData(_EVENT_ROLE, event)
                    table.setItem(row, column, item)
        finally:
            table.blockSignals(False)
        self._fit_columns()
        drafts = sum(1 for e in self._events if e.action == DRAFT_SAVED)
        hidden = f" ({drafts} draft autosave(s) hidden)" if hide_drafts and drafts else ""
        if self._events:
            self.hint_label.setText(
                f"{len(shown)} event(s), newest first{hidden} · times in UTC · select one "
                "for its full record"
            )
        else:
            self.hint_label.setText("No events you may see yet.")
        if selected is None or not self.select_event(selected.id):
            self.detail_edit.clear()

    def _fit_columns(self) -> None:
        """Fit the short columns to their text; cap the reason; give the details the rest
        (at least :data:`MIN_DETAILS_WIDTH`: on a narrow page the reason scrolls out of view)."""
        table = self.table
        header = table.horizontalHeader()
        assert header is not None
        for column in (TIME, ACTOR, ROLE, ACTION, ENTITY, REASON):
            table.resizeColumnToContents(column)
        header.resizeSection(REASON, min(max(header.sectionSize(REASON), 70), MAX_REASON_WIDTH))
        viewport = table.viewport()
        room = viewport.width() if viewport is not None else 0
        used = sum(header.sectionSize(c) for c in range(DETAILS)) + header.sectionSize(REASON)
        header.resizeSection(DETAILS, max(room - used, MIN_DETAILS_WIDTH))

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 - Qt override
        """Refit the columns to the new width."""
        super().resizeEvent(event)
        self._fit_columns()

    def _selected_event(self) -> HistoryEvent | None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        item = self.table.item(rows.pop(), TIME)
        return None if item is None else item.data(_EVENT_ROLE)

    def _selected(self) -> None:
        event = self._selected_event()
        if event is None:
            self.detail_edit.clear()
        else:
            self.detail_edit.setPlainText(event_text(event))
