"""The case timeline in the window: the plot (with "Export…") and the numbers it draws.

:class:`TimelineView` shows one :class:`~workbench.services.timeline.CaseTimeline` (plain
values, already blinded for the signed-in person by the service) as the figure of
:func:`workbench.services.timeline.timeline_figure` in a
:class:`~workbench.ui.figure_view.FigureView`, and under it a compact table of every plotted
number (a "Numbers" toggle hides it). The case page and the panel's page both place one.

The view never reads the registry itself: it is given either the values
(:meth:`TimelineView.set_timeline`) or a *loader*, a callable that asks the service for a
registry id (:meth:`TimelineView.set_loader`). With a loader, :meth:`TimelineView.show_case`
only remembers the case; the timeline is read and drawn when the view is first shown, so a
case page whose Timeline tab stays closed costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QShowEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.errors import RegistryError
from workbench.services.timeline import CaseTimeline, timeline_figure
from workbench.ui.figure_view import FigureView

__all__ = ["NUMBER_COLUMNS", "TimelineLoader", "TimelineView"]

NUMBER_COLUMNS = ("Panel", "What", "Day", "Value", "Note")
NOTHING_TO_PLOT = (
    "Nothing to plot: this case has no imaging, lab results, exposures, treatments or dated "
    "events yet."
)
TimelineLoader = Callable[[str], CaseTimeline]
"""Reads the timeline of a registry id through the service (raises what the registry raises)."""


class TimelineView(QWidget):
    """The timeline of one case: plot, "Export…" and the table of its numbers."""

    def __init__(self, loader: TimelineLoader | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._loader = loader
        self._registry_id: str | None = None
        self._timeline: CaseTimeline | None = None
        self._stale = False

        self.figure_view = FigureView("Course of the case", export_name="timeline")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.figure_view)
        self.plot_area = scroll

        self.numbers_button = QPushButton("Numbers")
        self.numbers_button.setCheckable(True)
        self.numbers_button.setChecked(True)
        self.numbers_button.setToolTip("Show or hide the table of the plotted numbers")
        self.numbers_button.toggled.connect(self._toggle_numbers)
        self.note_label = QLabel()
        self.note_label.setObjectName("muted")
        self.note_label.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.note_label, 1)
        row.addWidget(self.numbers_button, alignment=Qt.AlignmentFlag.AlignTop)

        self.table = QTableWidget(0, len(NUMBER_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(NUMBER_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        vertical = self.table.verticalHeader()
        assert vertical is not None
        vertical.setVisible(False)
        vertical.setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        assert header is not None
        for n in range(len(NUMBER_COLUMNS)):
            header.setSectionResizeMode(
                n,
                QHeaderView.ResizeMode.Stretch
                if n == len(NUMBER_COLUMNS) - 1
                else QHeaderView.ResizeMode.ResizeToContents,
            )
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 2, 0, 0)
        bottom_layout.addLayout(row)
        bottom_layout.addWidget(self.table, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([600, 190])  # the plot first; the table shows a few rows
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.set_timeline(None)

    # --- what it shows -----------------------------------------------------------------

    @property
    def timeline(self) -> CaseTimeline | None:
        """The timeline shown, if any."""
        return self._timeline

    @property
    def registry_id(self) -> str | None:
        """The case whose timeline is shown (or waits to be read)."""
        return self._registry_id

    def set_loader(self, loader: TimelineLoader | None) -> None:
        """Read timelines with ``loader`` from now on (the case shown is read again)."""
        self._loader = loader
        if self._registry_id is not None:
            self.show_case(self._registry_id)

    def show_case(self, registry_id: str) -> None:
        """Show the timeline of ``registry_id``: read now when the view is visible, else when
        it is first shown. Without a loader the view says so."""
        self._registry_id = registry_id
        self._stale = True
        if self.isVisible():
            self.refresh()

    def refresh(self) -> bool:
        """Read and draw the timeline of the case shown; False when that failed (the message
        is shown in place of the plot)."""
        self._stale = False
        if self._registry_id is None:
            self.set_timeline(None)
            return False
        if self._loader is None:
            self.set_timeline(None, message="The timeline is not available here.")
            return False
        try:
            found = self._loader(self._registry_id)
        except RegistryError as exc:
            self.set_timeline(None, message=f"Cannot read the timeline: {exc}")
            return False
        if found != self._timeline or self.figure_view.figure is None:
            self.set_timeline(found)  # an unchanged case keeps its plot (no redraw on reload)
        return True

    def set_timeline(self, timeline: CaseTimeline | None, *, message: str = "") -> None:
        """Draw ``timeline`` and list its numbers (``None``: show ``message`` instead)."""
        self._timeline = timeline
        self._stale = False
        if timeline is not None:
            self._registry_id = timeline.registry_id
            self.figure_view.export_name = f"{timeline.registry_id}-timeline"
        if timeline is None or timeline.is_empty:
            text = NOTHING_TO_PLOT if timeline is not None else (message or "No case shown.")
            self.figure_view.set_figure(None, empty_text=text)
        else:
            self.figure_view.set_figure(timeline_figure(timeline))
        self._fill_numbers(timeline)

    def numbers(self) -> list[tuple[str, ...]]:
        """The rows of the numbers table as shown (for tests and copying)."""
        rows = []
        for r in range(self.table.rowCount()):
            cells = []
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                cells.append(item.text() if item is not None else "")
            rows.append(tuple(cells))
        return rows

    # --- internals ---------------------------------------------------------------------

    def _fill_numbers(self, timeline: CaseTimeline | None) -> None:
        rows = timeline.rows() if timeline is not None else ()
        self.table.setRowCount(0)
        self.table.setRowCount(len(rows))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for n, row in enumerate(rows):
            cells = (
                row.panel,
                row.what,
                "" if row.day is None else (f"{row.day:+d}" if row.day else "0"),
                row.value,
                row.note,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (2, 3):
                    item.setTextAlignment(right)
                if text:
                    item.setToolTip(text)
                self.table.setItem(n, column, item)
        notes = []
        if timeline is not None and timeline.reads_note:
            notes.append(timeline.reads_note)
        if timeline is not None and timeline.undated_bars:
            names = ", ".join(bar.label for bar in timeline.undated_bars)
            notes.append(f"Not drawn (no days recorded): {names}.")
        if timeline is not None and timeline.not_drawn:
            notes.append(f"Not drawn: {'; '.join(timeline.not_drawn)}.")
        self.note_label.setText(" ".join(notes) or f"{len(rows)} plotted value(s).")
        self.numbers_button.setEnabled(bool(rows))

    def _toggle_numbers(self, shown: bool) -> None:
        self.table.setVisible(shown)

    def showEvent(self, event: QShowEvent | None) -> None:  # noqa: N802 (Qt's name)
        """Read the case's timeline when the view is first shown after :meth:`show_case`."""
        super().showEvent(event)
        if self._stale:
            self.refresh()
