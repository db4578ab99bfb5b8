"""The case list: one page at a time of :class:`~workbench.cases.CaseSummary` rows, with filters.

A registry may hold 100,000 cases, so the list is never loaded whole. :class:`CaseTableModel`
asks a :class:`CaseListSource` for pages of :data:`PAGE_SIZE` rows as the view paints them,
keeping the last :data:`CACHED_PAGES` pages; its row count is the number of cases the filter
matches, so the scroll bar spans the whole list and any row can be shown at once. Filtering,
sorting (a header click) and the counts by status are the database's work
(:func:`workbench.services.cases.list_page`), which also applies the blinding of statuses.
Selecting a case that is on no loaded page asks the source for its row
(:func:`workbench.services.cases.case_position`).

:class:`RegistrySource` reads the registry through the services; :class:`MemorySource` serves
rows held in memory with the same meaning (filters, order, ties), for tests and as the peer of
the benchmark.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PyQt6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
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
from workbench.errors import RegistryError
from workbench.services import Actor, Registry, cases
from workbench.services.cases import (
    CONDITION_ORDER,
    MAX_PAGE,
    STATUS_ORDER,
    CaseFilter,
    CaseListQuery,
    CasePage,
    CaseSummary,
    SortKey,
)
from workbench.ui.dialogs import user_message
from workbench.ui.theme import status_colour

PAGE_SIZE = 200
"""Rows fetched at once: a few screens, one short query."""
SEARCH_PAUSE_MS = 200
"""How long typing in the search box must pause before the list is queried again."""
CACHED_PAGES = 16
"""Pages kept; older ones are fetched again when scrolled back to."""

_ModelIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the case list: its title, its text and what it sorts by."""

    title: str
    text: Callable[[CaseSummary], str]
    sort: SortKey
    numeric: bool = False
    width: int = 90


CONDITION_COLUMN = Column("Condition", lambda r: r.condition.label, SortKey.CONDITION, width=130)
COLUMNS: tuple[Column, ...] = (
    Column("Registry id", lambda r: r.registry_id, SortKey.REGISTRY_ID, width=126),
    Column("Status", lambda r: status_text(r), SortKey.STATUS, width=122),
    Column("Site", lambda r: r.site, SortKey.SITE, width=62),
    CONDITION_COLUMN,
    Column("Timepoints", lambda r: str(r.timepoints), SortKey.TIMEPOINTS, True, 84),
    Column("Series", lambda r: str(r.series), SortKey.SERIES, True, 54),
    Column("Labs", lambda r: str(r.lab_results), SortKey.LABS, True, 44),
)
"""The columns, in order: status next to the id, because the queue is worked by status.
Status sorts in the order of the review flow, not alphabetically."""


CRITERIA_MARK = " ⚠"
"""Appended to the status of a case whose final decision the criteria no longer give."""


def status_text(row: CaseSummary) -> str:
    """The status cell: the status, marked when ``reclassify`` flagged the case."""
    return row.status.label + (CRITERIA_MARK if row.criteria_flag else "")


def status_tooltip(row: CaseSummary) -> str | None:
    """The status cell's tooltip: what ``reclassify`` found, when it flagged the case."""
    if not row.criteria_flag:
        return None
    return (
        f"Re-classification: {row.criteria_flag}. Run reclassify again after the panel reviews it."
    )


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


SORT_KEYS: dict[SortKey, Callable[[CaseSummary], Any]] = {
    SortKey.REGISTRY_ID: lambda r: r.registry_id,
    SortKey.SITE: lambda r: r.site,
    SortKey.CONDITION: lambda r: CONDITION_ORDER[r.condition],
    SortKey.STATUS: lambda r: STATUS_ORDER[r.status],
    SortKey.TIMEPOINTS: lambda r: r.timepoints,
    SortKey.SERIES: lambda r: r.series,
    SortKey.LABS: lambda r: r.lab_results,
}
"""Each sort column's key in memory, the order the database gives (ties: registry id)."""


class CaseListSource(Protocol):
    """Where the case list's pages come from."""

    def page(self, query: CaseListQuery, offset: int, limit: int, *, counts: bool) -> CasePage:
        """Rows ``offset`` to ``offset + limit`` of ``query``'s list (see ``list_page``)."""
        ...

    def position(self, query: CaseListQuery, registry_id: str) -> int | None:
        """The row of ``registry_id`` in ``query``'s list, ``None`` when not in it."""
        ...


class RegistrySource:
    """Pages read from the registry as ``actor`` may see them, through the services."""

    def __init__(self, registry: Registry, actor: Actor) -> None:
        self.registry = registry
        self.actor = actor

    def page(self, query: CaseListQuery, offset: int, limit: int, *, counts: bool) -> CasePage:
        """One page from :func:`workbench.services.cases.list_page`."""
        return cases.list_page(
            self.registry, self.actor, query, offset=offset, limit=limit, counts=counts
        )

    def position(self, query: CaseListQuery, registry_id: str) -> int | None:
        """The row from :func:`workbench.services.cases.case_position`."""
        return cases.case_position(self.registry, self.actor, query, registry_id)


class MemorySource:
    """Pages of rows held in memory, filtered with :func:`matches` and ordered by one
    ``sorted()`` call, exactly as the database pages them."""

    def __init__(self, rows: Sequence[CaseSummary]) -> None:
        self.rows = list(rows)
        self._ordered: tuple[CaseListQuery, list[CaseSummary]] | None = None

    def ordered(self, query: CaseListQuery) -> list[CaseSummary]:
        """The rows ``query`` shows, in its order (the last answer is kept)."""
        if self._ordered is None or self._ordered[0] != query:
            key = SORT_KEYS[query.sort]
            shown = [r for r in self.rows if matches(r, query.where)]
            shown.sort(key=lambda r: (key(r), r.registry_id), reverse=query.descending)
            self._ordered = (query, shown)
        return self._ordered[1]

    def page(self, query: CaseListQuery, offset: int, limit: int, *, counts: bool) -> CasePage:
        """Rows ``offset`` to ``offset + limit`` of ``query``'s order."""
        shown = self.ordered(query)
        rows = tuple(shown[offset : offset + limit])
        if not counts:
            return CasePage(rows, offset, len(shown))
        by_status = Counter(r.status for r in self.rows)
        return CasePage(
            rows, offset, len(shown), len(self.rows), {s: by_status[s] for s in CaseStatus}
        )

    def position(self, query: CaseListQuery, registry_id: str) -> int | None:
        """The row of ``registry_id`` in ``query``'s order."""
        for n, row in enumerate(self.ordered(query)):
            if row.registry_id == registry_id:
                return n
        return None


class CaseTableModel(QAbstractTableModel):
    """Qt table model over the pages of a :class:`CaseListSource`, fetched as rows are shown.

    Errors of the source while painting or sorting are not raised into Qt: the model emits
    :attr:`failed` with a message for the user and shows the rows it has.
    """

    REGISTRY_ID_ROLE = Qt.ItemDataRole.UserRole + 1
    """Data role giving the row's registry id in any column."""

    failed = pyqtSignal(str)
    """A page could not be read; the argument says why."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source: CaseListSource | None = None
        self._pages: OrderedDict[int, tuple[CaseSummary, ...]] = OrderedDict()
        self._where = CaseFilter()
        self._sort_column = 0
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._matching = 0
        self._total = 0
        self._by_status: dict[CaseStatus, int] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    # --- plain-Python side -------------------------------------------------------------

    def set_source(self, source: CaseListSource) -> None:
        """Show the pages of ``source`` (after a reload); the filter and sort order stay.

        Raises what the source raises for the first page (nothing is changed then).
        """
        first = source.page(self.query, 0, PAGE_SIZE, counts=True)
        self.beginResetModel()
        self._source = source
        self._take(first)
        self.endResetModel()

    def set_rows(self, rows: Sequence[CaseSummary]) -> None:
        """Show ``rows`` held in memory (see :class:`MemorySource`)."""
        self.set_source(MemorySource(rows))

    def set_filter(self, where: CaseFilter) -> None:
        """Show only the cases passing ``where`` (one query for the first page and counts)."""
        if where == self._where:
            return
        self._where = where
        if self._source is None:
            return
        self.beginResetModel()
        try:
            self._take(self._source.page(self.query, 0, PAGE_SIZE, counts=True))
        except RegistryError as exc:
            self._pages.clear()
            self._matching = 0
            self.failed.emit(user_message(exc))
        finally:
            self.endResetModel()

    @property
    def where(self) -> CaseFilter:
        """The current filter."""
        return self._where

    @property
    def query(self) -> CaseListQuery:
        """The filter and order the model shows."""
        return CaseListQuery(
            self._where,
            COLUMNS[self._sort_column].sort,
            self._sort_order == Qt.SortOrder.DescendingOrder,
        )

    @property
    def total_count(self) -> int:
        """Number of cases in the registry, shown or not."""
        return self._total

    @property
    def shown_count(self) -> int:
        """Number of cases passing the filter (on all pages)."""
        return self._matching

    def status_counts(self) -> Counter[CaseStatus]:
        """How many of all cases stand at each status (as the user may see it)."""
        return Counter(self._by_status)

    def summary_at(self, row: int) -> CaseSummary:
        """The shown row ``row`` (its page is fetched when not loaded); ``IndexError`` when
        there is no such row."""
        if not 0 <= row < self._matching:
            raise IndexError(f"row {row} of {self._matching}")
        page = self._page(row // PAGE_SIZE)
        if row % PAGE_SIZE >= len(page):
            raise IndexError(f"row {row} is no longer in the list (reload it)")
        return page[row % PAGE_SIZE]

    def shown_rows(self) -> list[CaseSummary]:
        """Every shown row, in display order (reads the whole list: for tests and exports)."""
        if self._source is None:
            return []
        rows: list[CaseSummary] = []
        while len(rows) < self._matching:
            page = self._source.page(self.query, len(rows), MAX_PAGE, counts=False)
            if not page.rows:
                break
            rows.extend(page.rows)
        return rows

    def loaded_pages(self) -> list[int]:
        """The pages held now, by number (from 0), oldest first."""
        return list(self._pages)

    def row_of(self, registry_id: str) -> int | None:
        """The display row of ``registry_id``, or ``None`` when it is not shown."""
        for number, page in self._pages.items():
            for n, summary in enumerate(page):
                if summary.registry_id == registry_id:
                    return number * PAGE_SIZE + n
        if self._source is None or not self._matching:
            return None
        try:
            return self._source.position(self.query, registry_id)
        except RegistryError as exc:
            self.failed.emit(user_message(exc))
            return None

    def _take(self, first: CasePage) -> None:
        self._pages.clear()
        self._pages[0] = first.rows
        self._matching = first.matching
        if first.total is not None and first.by_status is not None:
            self._total = first.total
            self._by_status = dict(first.by_status)

    def _page(self, number: int) -> tuple[CaseSummary, ...]:
        """Page ``number``, fetched when not held (raises what the source raises)."""
        page = self._pages.get(number)
        if page is not None:
            self._pages.move_to_end(number)
            return page
        if self._source is None:
            return ()
        page = self._source.page(self.query, number * PAGE_SIZE, PAGE_SIZE, counts=False).rows
        self._pages[number] = page
        while len(self._pages) > CACHED_PAGES:
            self._pages.popitem(last=False)
        return page

    def _row(self, row: int) -> CaseSummary | None:
        """Row ``row`` for painting: ``None`` (and :attr:`failed`) when it cannot be read."""
        try:
            return self.summary_at(row)
        except IndexError:
            return None
        except RegistryError as exc:
            self.failed.emit(user_message(exc))
            return None

    # --- Qt model interface ------------------------------------------------------------

    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        """Number of cases passing the filter (a flat table has no children)."""
        return 0 if parent.isValid() else self._matching

    def columnCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        """Number of columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, alignment, status colour and registry id of one cell."""
        if not index.isValid():
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = (
                Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            )
            return horizontal | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.FontRole and index.column() == 0:
            return self._bold
        if role not in (
            Qt.ItemDataRole.DisplayRole,
            self.REGISTRY_ID_ROLE,
            Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        row = self._row(index.row())
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == self.REGISTRY_ID_ROLE:
            return row.registry_id
        if role == Qt.ItemDataRole.ForegroundRole and column.title == "Status":
            return QBrush(status_colour(row.status))
        if role == Qt.ItemDataRole.ToolTipRole and column.title == "Status":
            return status_tooltip(row)
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
        """Sort by ``column`` (ties by registry id) in the database, keeping the selection.

        A sort is a layout change, not a reset: persistent indexes (the selection, the
        current row) move to their cases' new rows, which the source tells.
        """
        if not 0 <= column < len(COLUMNS):
            return
        if (column, order) == (self._sort_column, self._sort_order):
            return
        previous = (self._sort_column, self._sort_order)
        self._sort_column, self._sort_order = column, order
        if self._source is None:
            return
        persistent = self.persistentIndexList()
        held = {index.row(): self._held_id(index.row()) for index in persistent}
        try:
            first = self._source.page(self.query, 0, PAGE_SIZE, counts=False)
            moved_to = {
                registry_id: self._source.position(self.query, registry_id)
                for registry_id in set(held.values())
                if registry_id is not None
            }
        except RegistryError as exc:
            self._sort_column, self._sort_order = previous
            self.failed.emit(user_message(exc))
            return
        self.layoutAboutToBeChanged.emit([], QAbstractItemModel.LayoutChangeHint.VerticalSortHint)
        self._take(first)
        moved = []
        for index in persistent:
            registry_id = held.get(index.row())
            row = moved_to.get(registry_id) if registry_id is not None else None
            moved.append(QModelIndex() if row is None else self.index(row, index.column()))
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit([], QAbstractItemModel.LayoutChangeHint.VerticalSortHint)

    def _held_id(self, row: int) -> str | None:
        page = self._pages.get(row // PAGE_SIZE)
        if page is None or row % PAGE_SIZE >= len(page):
            return None
        return page[row % PAGE_SIZE].registry_id


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
        # Typing re-queries once the user pauses, not on every key: at 100,000 cases each query
        # is a scan of the registry ids.
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_PAUSE_MS)
        self._search_timer.timeout.connect(self._filters_changed)
        self.search_edit.textChanged.connect(self._search_timer.start)
        self.search_edit.returnPressed.connect(self._filters_changed)

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
        self.model.failed.connect(self._show_failure)

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

    def set_source(self, source: CaseListSource, site_codes: Sequence[str]) -> None:
        """Show the cases of ``source`` and offer ``site_codes``; keep filters, order and
        selection. Raises what the source raises for the first page (the list stays as it
        was)."""
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
        self.model.set_source(source)
        self._update_counts()
        if keep is not None:
            self.select_case(keep, reveal=False)

    def show_registry(self, registry: Registry, actor: Actor, site_codes: Sequence[str]) -> int:
        """Page the registry's cases as ``actor`` may see them (:class:`RegistrySource`);
        returns how many cases the registry holds. Raises what the registry raises."""
        self.set_source(RegistrySource(registry, actor), site_codes)
        return self.model.total_count

    def set_data(self, rows: Sequence[CaseSummary], site_codes: Sequence[str]) -> None:
        """Show ``rows`` held in memory (all cases) and offer ``site_codes``; keep filters
        and selection."""
        self.set_source(MemorySource(rows), site_codes)

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
        registry_id = self.model.data(index, CaseTableModel.REGISTRY_ID_ROLE)
        return None if registry_id is None else str(registry_id)

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
        self._search_timer.stop()
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
        if not current.isValid():
            return
        registry_id = self.model.data(current, CaseTableModel.REGISTRY_ID_ROLE)
        if registry_id is not None:
            self.case_selected.emit(registry_id)

    def _show_failure(self, message: str) -> None:
        self.count_label.setText(f"Cannot read the case list: {message}")
        self.count_label.setToolTip(message)

    def _update_counts(self) -> None:
        counts = self.model.status_counts()
        total = self.model.total_count
        self.status_combo.setItemText(0, f"All statuses ({total})")
        for n, status in enumerate(CaseStatus, start=1):
            self.status_combo.setItemText(n, f"{status.label} ({counts.get(status, 0)})")
        shown = self.model.shown_count
        self.count_label.setToolTip("")
        noun = "case" if total == 1 else "cases"
        if shown == total:
            self.count_label.setText(f"{total} {noun}")
        else:
            self.count_label.setText(f"{shown} of {total} {noun} shown")
        self.stack.setCurrentIndex(0 if shown or not total else 1)
