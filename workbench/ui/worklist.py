"""Worklists in the window: "My queue" above the case list, and the coordinator's dashboard.

:class:`QueueWidget` shows a :class:`~workbench.services.worklist.MyQueue` (the service's
answer, as plain values): one row per case waiting for the signed-in person, most urgent
first, with a header line of counts. An overdue item is written in red *and* bold, with a
warning icon and the word "overdue", so it is not told by colour alone. Double-click (or
Enter) on a row asks the window to open that case.

:class:`DashboardPage` shows a :class:`~workbench.services.worklist.Dashboard`: the cases in
each status, a table of readers (open, overdue, submitted, median turnaround) and a table of
sites (cases by status). The window loads both through :mod:`workbench.services.worklist`;
neither widget reads the registry or decides anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QIcon, QKeyEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.domain import CaseStatus
from workbench.services.worklist import Dashboard, MyQueue, QueueItem
from workbench.ui.theme import ERROR, MUTED, STATUS_COLOURS

OVERDUE_COLOUR = ERROR
QUEUE_COLUMNS = ("Case", "Role", "State", "Status", "Due", "")
"""The queue's columns: the last says "overdue" (or how many days are left)."""


def _item(text: str, *, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _mark_overdue(items: Sequence[QTableWidgetItem], icon: QIcon | None = None) -> None:
    """Red, bold text (and the warning icon on the first item given one)."""
    for item in items:
        item.setForeground(QBrush(QColor(OVERDUE_COLOUR)))
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
    if icon is not None and items:
        items[0].setIcon(icon)


def _configure(table: QTableWidget, columns: Sequence[str]) -> QTableWidget:
    """Read-only rows, selected whole, headed by ``columns``."""
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    vertical = table.verticalHeader()
    assert vertical is not None
    vertical.hide()
    vertical.setDefaultSectionSize(24)
    header = table.horizontalHeader()
    assert header is not None
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    return table


def _table(columns: Sequence[str]) -> QTableWidget:
    return _configure(QTableWidget(), columns)


def due_text(item: QueueItem, now: dt.datetime) -> tuple[str, str]:
    """``(due date, remark)`` as the queue shows them: ``("2026-12-01", "overdue 3 d")``,
    ``("2026-12-20", "in 5 d")``, ``("—", "no due date")``."""
    if item.due_at is None:
        return "—", "no due date"
    days = item.days_left(now)
    assert days is not None
    due = f"{item.due_at:%Y-%m-%d}"
    if item.overdue:
        late = max(-days, 0)
        return due, "overdue" + (f" {late} d" if late else " today")
    return due, "due today" if days == 0 else f"in {days} d"


class _QueueTable(QTableWidget):
    """The queue's table: Enter opens the selected case, as a double-click does."""

    activated_row = pyqtSignal(int)

    def keyPressEvent(self, event: QKeyEvent | None) -> None:  # noqa: N802
        if event is not None and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            row = self.currentRow()
            if row >= 0:
                self.activated_row.emit(row)
                return
        super().keyPressEvent(event)


class QueueWidget(QWidget):
    """ "My queue": the signed-in person's open work, with counts, above the case list."""

    case_opened = pyqtSignal(str)
    """The registry id of the row double-clicked (or Enter pressed on)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue: MyQueue | None = None
        self.title_label = QLabel("<b>My queue</b>")
        self.counts_label = QLabel()
        self.counts_label.setObjectName("queueCounts")
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        heading = QHBoxLayout()
        heading.addWidget(self.title_label)
        heading.addWidget(self.counts_label, 1)
        self.table = _QueueTable()
        self._configure(self.table)
        self.table.setObjectName("queueTable")
        self.empty_label = QLabel("Nothing waits for you: no case is assigned to you now.")
        self.empty_label.setObjectName("muted")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 4)
        layout.addLayout(heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)
        style = self.style()
        assert style is not None
        self.overdue_icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.table.cellDoubleClicked.connect(lambda row, _column: self._open(row))
        self.table.activated_row.connect(self._open)
        self.set_queue(None)

    @staticmethod
    def _configure(table: QTableWidget) -> None:
        _configure(table, QUEUE_COLUMNS)
        for column, width in enumerate((118, 56, 86, 104, 84)):
            table.setColumnWidth(column, width)
        table.setToolTip("Double-click a case (or press Enter) to open it")

    # --- showing --------------------------------------------------------------------------

    def set_queue(self, queue: MyQueue | None) -> None:
        """Show ``queue`` (``None``: not loaded)."""
        self.queue = queue
        self.table.setRowCount(0)
        if queue is None:
            self.counts_label.setText("")
            self.table.hide()
            self.empty_label.show()
            return
        self.counts_label.setText(self._counts_html(queue))
        self.counts_label.setToolTip(queue.summary())
        for item in queue.items:
            self._add_row(item, queue.as_of)
        has_items = bool(queue.items)
        self.table.setVisible(has_items)
        self.empty_label.setVisible(not has_items)

    @staticmethod
    def _counts_html(queue: MyQueue) -> str:
        parts = [f"{len(queue.items)} open"]
        if queue.overdue:
            parts.append(f'<b style="color:{OVERDUE_COLOUR}">⚠ {queue.overdue} overdue</b>')
        else:
            parts.append("0 overdue")
        states = [f"{state.label} {n}" for state, n in queue.counts.items() if n]
        if states:
            parts.append(f'<span style="color:{MUTED}">{", ".join(states)}</span>')
        return " · ".join(parts)

    def _add_row(self, item: QueueItem, now: dt.datetime) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        due, remark = due_text(item, now)
        cells = [
            _item(item.registry_id),
            _item(item.role.value),
            _item(item.state.label),
            _item(item.status.label),
            _item(due),
            _item(remark),
        ]
        cells[0].setData(Qt.ItemDataRole.UserRole, item.registry_id)
        cells[3].setForeground(QBrush(QColor(STATUS_COLOURS[item.status])))
        tip = (
            f"{item.registry_id} (site {item.site}): {item.role.value}, {item.state.label}; "
            f"assigned {item.assigned_at:%Y-%m-%d}"
            + (f", due {item.due_at:%Y-%m-%d}" if item.due_at else "")
            + (" — OVERDUE" if item.overdue else "")
        )
        for column, cell in enumerate(cells):
            cell.setToolTip(tip)
            self.table.setItem(row, column, cell)
        if item.overdue:
            _mark_overdue([cells[0], cells[4], cells[5]], self.overdue_icon)

    # --- reading back (tests, the window) -------------------------------------------------

    def registry_ids(self) -> list[str]:
        """The cases shown, top to bottom."""
        rows = range(self.table.rowCount())
        return [str(self.table.item(r, 0).data(Qt.ItemDataRole.UserRole)) for r in rows]  # type: ignore[union-attr]

    def row_texts(self, row: int) -> list[str]:
        """The texts of one row, column by column."""
        cells = (self.table.item(row, c) for c in range(self.table.columnCount()))
        return [cell.text() if cell is not None else "" for cell in cells]

    def is_marked_overdue(self, row: int) -> bool:
        """Whether ``row`` is drawn as overdue: red, bold and with the warning icon."""
        first, remark = self.table.item(row, 0), self.table.item(row, 5)
        if first is None or remark is None:
            return False
        return (
            remark.foreground().color() == QColor(OVERDUE_COLOUR)
            and remark.font().bold()
            and not first.icon().isNull()
            and remark.text().startswith("overdue")
        )

    def _open(self, row: int) -> None:
        ids = self.registry_ids()
        if 0 <= row < len(ids):
            self.case_opened.emit(ids[row])


# --- the dashboard -----------------------------------------------------------------------------


class _StatusTile(QFrame):
    """One status and its count, in the status's colour (and its name, not colour alone)."""

    def __init__(self, status: CaseStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = status
        self.setObjectName("statusTile")
        colour = STATUS_COLOURS[status]
        self.setStyleSheet(
            f"QFrame#statusTile {{ border: 1px solid {colour}; border-radius: 4px; }}"
        )
        self.count_label = QLabel("0")
        self.count_label.setStyleSheet(f"font-size: 18pt; font-weight: 600; color: {colour};")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        name = QLabel(status.label)
        name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 6)
        layout.addWidget(self.count_label)
        layout.addWidget(name)

    def set_count(self, count: int) -> None:
        self.count_label.setText(str(count))


class DashboardPage(QWidget):
    """The review dashboard: cases by status, readers' workload, sites' cases."""

    back_requested = pyqtSignal()
    refresh_requested = pyqtSignal()
    READER_COLUMNS = ("Reader", "Site", "Open", "Overdue", "Submitted", "Median days")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dashboard: Dashboard | None = None
        title = QLabel("Review dashboard")
        title.setObjectName("caseTitle")
        self.summary_label = QLabel()
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.back_button = QPushButton("Back to cases")
        self.back_button.clicked.connect(self.back_requested)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_requested)
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.back_button)

        self.tiles = {status: _StatusTile(status) for status in CaseStatus}
        tiles = QHBoxLayout()
        for tile in self.tiles.values():
            tiles.addWidget(tile, 1)

        style = self.style()
        assert style is not None
        self.overdue_icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.reader_table = _table(self.READER_COLUMNS)
        self.reader_table.setObjectName("readerTable")
        self.site_table = _table(("Site", "Readers", *(s.label for s in CaseStatus), "Total"))
        self.site_table.setObjectName("siteTable")
        for column, width in enumerate((150, 74, 56, 76, 80, 90)):
            self.reader_table.setColumnWidth(column, width)
        site_header = self.site_table.horizontalHeader()
        assert site_header is not None
        site_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        readers_title = QLabel(
            "<b>Readers</b> — open reads are assigned and not submitted; median days from "
            "assignment to first submission, over the last 12 months"
        )
        readers_title.setWordWrap(True)
        sites_title = QLabel("<b>Sites</b> — cases by status")
        grid = QGridLayout()
        grid.addWidget(readers_title, 0, 0)
        grid.addWidget(sites_title, 0, 1)
        grid.addWidget(self.reader_table, 1, 0)
        grid.addWidget(self.site_table, 1, 1)
        grid.setColumnStretch(0, 4)
        grid.setColumnStretch(1, 5)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addSpacing(6)
        layout.addLayout(tiles)
        layout.addSpacing(10)
        layout.addLayout(grid, 1)

    def set_dashboard(self, board: Dashboard) -> None:
        """Show ``board``."""
        self.dashboard = board
        overdue = (
            f'<b style="color:{OVERDUE_COLOUR}">⚠ {board.overdue} overdue</b>'
            if board.overdue
            else "0 overdue"
        )
        self.summary_label.setText(
            f"{board.total} case(s) · {board.open_reads} open read(s) · {overdue} · as of "
            f"{board.as_of:%Y-%m-%d %H:%M} UTC"
        )
        for status, tile in self.tiles.items():
            tile.set_count(board.by_status.get(status, 0))
        self.reader_table.setRowCount(0)
        for reader in board.readers:
            row = self.reader_table.rowCount()
            self.reader_table.insertRow(row)
            median = reader.median_turnaround_days
            cells = [
                _item(reader.username + ("" if reader.active else " (inactive)")),
                _item(reader.site or "—"),
                _item(str(reader.open_reads), align_right=True),
                _item(str(reader.overdue), align_right=True),
                _item(str(reader.submitted), align_right=True),
                _item("—" if median is None else f"{median:.1f}", align_right=True),
            ]
            cells[0].setToolTip(f"{reader.display_name} ({reader.username})")
            for column, cell in enumerate(cells):
                self.reader_table.setItem(row, column, cell)
            if reader.overdue:
                _mark_overdue([cells[3], cells[0]], None)
                cells[3].setIcon(self.overdue_icon)
                cells[3].setToolTip(f"{reader.overdue} read(s) past their due date")
        self.site_table.setRowCount(0)
        for site in board.sites:
            row = self.site_table.rowCount()
            self.site_table.insertRow(row)
            values = [
                _item(site.site),
                _item(str(site.readers), align_right=True),
                *(
                    _item(str(site.by_status.get(status, 0)), align_right=True)
                    for status in CaseStatus
                ),
                _item(str(site.total), align_right=True),
            ]
            for column, cell in enumerate(values):
                self.site_table.setItem(row, column, cell)

    def reader_row(self, username: str) -> list[str]:
        """The texts of ``username``'s row of the reader table."""
        for row in range(self.reader_table.rowCount()):
            first = self.reader_table.item(row, 0)
            if first is not None and first.text().split(" ")[0] == username:
                cells = (self.reader_table.item(row, c) for c in range(len(self.READER_COLUMNS)))
                return [c.text() if c is not None else "" for c in cells]
        raise KeyError(username)

    def tile_count(self, status: CaseStatus) -> int:
        """The count the tile of ``status`` shows."""
        return int(self.tiles[status].count_label.text())
