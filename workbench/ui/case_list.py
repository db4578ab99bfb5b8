"""The case list: a table of :class:`~workbench.cases.CaseSummary` rows with filters.

The list is loaded with one query (:func:`workbench.cases.list_cases`) and then filtered and
sorted in memory by :class:`CaseTableModel`. Both are plain list operations over frozen rows
(a comprehension and one ``sorted`` call), so a registry of tens of thousands of cases filters
as the user types. Sorting is done in the model, not in a ``QSortFilterProxyModel``, whose
comparisons would each cross from C++ into Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    pyqtSignal,
)
from PyQt6.QtGui import QBrush, QFont
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.domain import CaseStatus, Condition
from workbench.services.cases import CaseFilter, CaseSummary
from workbench.ui.theme import status_colour

_STATUS_ORDER = {status: n for n, status in enumerate(CaseStatus)}
_ModelIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the case list: its title, its text and its sort key."""

    title: str
    text: Callable[[CaseSummary], str]
    key: Callable[[CaseSummary], Any]
    numeric: bool = False
    width: int = 90


CONDITION_COLUMN = Column(
    "Condition", lambda r: r.condition.label, lambda r: r.condition.label.casefold(), width=130
)
COLUMNS: tuple[Column, ...] = (
    Column("Registry id", lambda r: r.registry_id, lambda r: r.registry_id, width=126),
    Column("Status", lambda r: r.status.label, lambda r: _STATUS_ORDER[r.status], width=122),
    Column("Site", lambda r: r.site, lambda r: r.site, width=62),
    CONDITION_COLUMN,
    Column("Timepoints", lambda r: str(r.timepoints), lambda r: r.timepoints, True, 84),
    Column("Series", lambda r: str(r.series), lambda r: r.series, True, 54),
    Column("Labs", lambda r: str(r.lab_results), lambda r: r.lab_results, True, 44),
)
"""The columns, in order: status next to the id, because the queue is worked by status.
Status sorts in the order of the review flow, not alphabetically."""


def matches(row: CaseSummary, where: CaseFilter) -> bool:
    """Whether ``row`` passes ``where``, with the meaning :func:`~workbench.cases.list_cases`
    gives it (the text is a case-insensitive part of the registry id)."""
    if where.status is not None and row.status != where.status:
        return False
    if where.site is not None and row.site != where.site:
        return False
    if where.condition is not None and row.condition != where.condition:
        return False
    return not where.text or where.text.casefold() in row.registry_id.casefold()


class CaseTableModel(QAbstractTableModel):
    """All case rows of the registry, of which those passing the filter are shown, sorted."""

    REGISTRY_ID_ROLE = Qt.ItemDataRole.UserRole + 1
    """Data role giving the row's registry id in any column."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._all: list[CaseSummary] = []
        self._shown: list[CaseSummary] = []
        self._where = CaseFilter()
        self._sort_column = 0
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._bold = QFont()
        self._bold.setBold(True)

    # --- plain-Python side -------------------------------------------------------------

    def set_rows(self, rows: Sequence[CaseSummary]) -> None:
        """Replace all rows (after a reload); the filter and sort order stay."""
        self._all = list(rows)
        self._apply()

    def set_filter(self, where: CaseFilter) -> None:
        """Show only the rows passing ``where``."""
        if where != self._where:
            self._where = where
            self._apply()

    @property
    def where(self) -> CaseFilter:
        """The current filter."""
        return self._where

    @property
    def total_count(self) -> int:
        """Number of cases loaded, shown or not."""
        return len(self._all)

    @property
    def shown_count(self) -> int:
        """Number of cases passing the filter."""
        return len(self._shown)

    def status_counts(self) -> Counter[CaseStatus]:
        """How many of all loaded cases stand at each status."""
        return Counter(r.status for r in self._all)

    def summary_at(self, row: int) -> CaseSummary:
        """The shown row ``row``."""
        return self._shown[row]

    def shown_rows(self) -> list[CaseSummary]:
        """The shown rows, in display order."""
        return list(self._shown)

    def row_of(self, registry_id: str) -> int | None:
        """The display row of ``registry_id``, or ``None`` when it is not shown."""
        for n, summary in enumerate(self._shown):
            if summary.registry_id == registry_id:
                return n
        return None

    def _apply(self) -> None:
        self.beginResetModel()
        self._shown = self._sorted([r for r in self._all if matches(r, self._where)])
        self.endResetModel()

    def _sorted(self, rows: list[CaseSummary]) -> list[CaseSummary]:
        column = COLUMNS[self._sort_column]
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        return sorted(rows, key=lambda r: (column.key(r), r.registry_id), reverse=descending)

    # --- Qt model interface ------------------------------------------------------------

    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        """Number of shown rows (a flat table has no children)."""
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        """Number of columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, alignment, status colour and registry id of one cell."""
        if not index.isValid():
            return None
        row = self._shown[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == self.REGISTRY_ID_ROLE:
            return row.registry_id
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = (
                Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            )
            return horizontal | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.ForegroundRole and column.title == "Status":
            return QBrush(status_colour(row.status))
        if role == Qt.ItemDataRole.FontRole and index.column() == 0:
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole and column.title == "Condition":
            return row.condition.label
        return None

    def headerData(  # noqa: N802
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        """Column titles."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            numeric = COLUMNS[section].numeric
            return (
                Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
            ) | Qt.AlignmentFlag.AlignVCenter
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the shown rows by ``column`` (ties by registry id), keeping the selection.

        A sort is a layout change, not a reset: persistent indexes (the selection, the
        current row) move with their rows.
        """
        if not 0 <= column < len(COLUMNS):
            return
        self._sort_column, self._sort_order = column, order
        self.layoutAboutToBeChanged.emit([], QAbstractItemModel.LayoutChangeHint.VerticalSortHint)
        old = self._shown
        self._shown = self._sorted(old)
        new_row = {summary.registry_id: n for n, summary in enumerate(self._shown)}
        persistent = self.persistentIndexList()
        moved = [
            self.index(new_row[old[index.row()].registry_id], index.column())
            for index in persistent
        ]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit([], QAbstractItemModel.LayoutChangeHint.VerticalSortHint)


class CaseListPanel(QWidget):
    """The case list with its filter bar and counts.

    Emits :attr:`case_selected` with the registry id when the user moves to a case.
    """

    case_selected = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = CaseTableModel(self)

        self.status_combo = QComboBox()
        self.status_combo.setToolTip("Review status (number of cases at each)")
        self.status_combo.addItem("All statuses", None)
        for status in CaseStatus:
            self.status_combo.addItem(status.label, status)
        self.site_combo = QComboBox()
        self.site_combo.setToolTip("Contributing site")
        self.site_combo.addItem("All sites", None)
        self.condition_combo = QComboBox()
        self.condition_combo.setToolTip("Underlying condition")
        self.condition_combo.addItem("All conditions", None)
        for condition in Condition:
            self.condition_combo.addItem(condition.label, condition)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search registry id…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip("Part of a registry id, e.g. 0042 (Ctrl+F)")

        for combo in (self.status_combo, self.site_combo, self.condition_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.currentIndexChanged.connect(self._filters_changed)
        self.search_edit.textChanged.connect(self._filters_changed)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        vertical = self.table.verticalHeader()
        assert vertical is not None
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        assert header is not None
        header.setHighlightSections(False)
        header.setMinimumSectionSize(36)
        for n, column in enumerate(COLUMNS):
            self.table.setColumnWidth(n, column.width)
        # The condition column takes up the slack, so the row fits without scrolling sideways.
        header.setSectionResizeMode(COLUMNS.index(CONDITION_COLUMN), QHeaderView.ResizeMode.Stretch)
        selection = self.table.selectionModel()
        assert selection is not None
        selection.currentRowChanged.connect(self._current_row_changed)
        self.model.layoutChanged.connect(self._keep_current_in_view)

        self.no_match = QLabel("No case matches these filters.")
        self.no_match.setObjectName("muted")
        self.no_match.setAlignment(Qt.AlignmentFlag.AlignCenter)
        clear = QPushButton("Clear filters")
        clear.clicked.connect(self.clear_filters)
        no_match_page = QWidget()
        no_match_layout = QVBoxLayout(no_match_page)
        no_match_layout.addStretch()
        no_match_layout.addWidget(self.no_match)
        no_match_layout.addWidget(clear, alignment=Qt.AlignmentFlag.AlignHCenter)
        no_match_layout.addStretch()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(no_match_page)

        self.count_label = QLabel()
        self.count_label.setObjectName("muted")

        filters = QHBoxLayout()
        filters.setSpacing(6)
        filters.addWidget(self.status_combo)
        filters.addWidget(self.site_combo)
        filters.addWidget(self.condition_combo)
        filters.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 2, 6)
        layout.addWidget(self.search_edit)
        layout.addLayout(filters)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.count_label)
        self._update_counts()

    # --- data ----------------------------------------------------------------------------

    def set_data(self, rows: Sequence[CaseSummary], site_codes: Sequence[str]) -> None:
        """Show ``rows`` (all cases) and offer ``site_codes``; keep filters and selection."""
        keep = self.selected_registry_id()
        wanted_site = self.site_combo.currentData()
        self.site_combo.blockSignals(True)
        self.site_combo.clear()
        self.site_combo.addItem("All sites", None)
        for code in site_codes:
            self.site_combo.addItem(code, code)
        index = self.site_combo.findData(wanted_site) if wanted_site is not None else 0
        self.site_combo.setCurrentIndex(max(index, 0))
        self.site_combo.blockSignals(False)
        self.model.set_filter(self.current_filter())
        self.model.set_rows(rows)
        self._update_counts()
        if keep is not None:
            self.select_case(keep, reveal=False)

    def current_filter(self) -> CaseFilter:
        """The filter the controls describe."""
        return CaseFilter(
            status=self.status_combo.currentData(),
            site=self.site_combo.currentData(),
            condition=self.condition_combo.currentData(),
            text=self.search_edit.text().strip() or None,
        )

    def clear_filters(self) -> None:
        """Show every case again."""
        for widget in (self.status_combo, self.site_combo, self.condition_combo, self.search_edit):
            widget.blockSignals(True)
        self.status_combo.setCurrentIndex(0)
        self.site_combo.setCurrentIndex(0)
        self.condition_combo.setCurrentIndex(0)
        self.search_edit.clear()
        for widget in (self.status_combo, self.site_combo, self.condition_combo, self.search_edit):
            widget.blockSignals(False)
        self._filters_changed()

    def focus_search(self) -> None:
        """Put the cursor in the registry id search."""
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    # --- selection -----------------------------------------------------------------------

    def selected_registry_id(self) -> str | None:
        """The registry id of the current row, if any."""
        selection = self.table.selectionModel()
        assert selection is not None
        index = selection.currentIndex()
        if not index.isValid() or not selection.isRowSelected(index.row(), QModelIndex()):
            return None
        return self.model.summary_at(index.row()).registry_id

    def select_case(self, registry_id: str, *, reveal: bool = True) -> bool:
        """Make ``registry_id`` the current row; with ``reveal``, clear filters that hide it.

        Returns whether the case is now selected.
        """
        row = self.model.row_of(registry_id)
        if row is None and reveal:
            self.clear_filters()
            row = self.model.row_of(registry_id)
        if row is None:
            return False
        selection = self.table.selectionModel()
        assert selection is not None
        index = self.model.index(row, 0)
        selection.setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)
        return True

    # --- private -------------------------------------------------------------------------

    def _filters_changed(self) -> None:
        keep = self.selected_registry_id()
        self.model.set_filter(self.current_filter())
        self._update_counts()
        if keep is not None:
            self.select_case(keep, reveal=False)

    def _keep_current_in_view(self) -> None:
        current = self.table.currentIndex()
        if current.isValid():
            self.table.scrollTo(current, QAbstractItemView.ScrollHint.EnsureVisible)

    def _current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.case_selected.emit(self.model.summary_at(current.row()).registry_id)

    def _update_counts(self) -> None:
        counts = self.model.status_counts()
        total = self.model.total_count
        self.status_combo.setItemText(0, f"All statuses ({total})")
        for n, status in enumerate(CaseStatus, start=1):
            self.status_combo.setItemText(n, f"{status.label} ({counts.get(status, 0)})")
        shown = self.model.shown_count
        noun = "case" if total == 1 else "cases"
        if shown == total:
            self.count_label.setText(f"{total} {noun}")
        else:
            self.count_label.setText(f"{shown} of {total} {noun} shown")
        self.stack.setCurrentIndex(0 if shown or not total else 1)
