"""A matplotlib figure inside the window, with its numbers and an export button.

:class:`FigureView` shows one :class:`~matplotlib.figure.Figure` (made by the analysis layer
with :func:`workbench.analysis.report.new_figure`) in a Qt canvas, and exports it as PNG or SVG
through a file dialog. Errors while saving (a folder that is gone, a read-only disk) appear in
the window, not only in a log.
"""

from __future__ import annotations

import gc
from pathlib import Path

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QHideEvent, QShowEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.analysis.report import CHANGED_MARK, Table, save_figure

__all__ = ["FigureCanvas", "FigureView", "table_widget"]

_CHANGED = QColor("#f6d5d0")


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return str(value)


def table_widget(table: Table, *, max_rows: int | None = None) -> QTableWidget:
    """A read-only table of a report's ``table``: numbers right-aligned, rows marked
    :data:`CHANGED_MARK` tinted, as tall as its rows (at most ``max_rows``, then it scrolls)."""
    widget = QTableWidget(len(table.rows), len(table.columns))
    widget.setHorizontalHeaderLabels(list(table.columns))
    widget.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    widget.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    widget.setAlternatingRowColors(True)
    widget.setWordWrap(False)
    vertical = widget.verticalHeader()
    assert vertical is not None
    vertical.setVisible(False)
    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    for r, row in enumerate(table.rows):
        changed = CHANGED_MARK in row
        for c, value in enumerate(row):
            item = QTableWidgetItem(_cell(value))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            if isinstance(value, int | float) and not isinstance(value, bool):
                item.setTextAlignment(right)
            if changed:
                item.setBackground(QBrush(_CHANGED))
            widget.setItem(r, c, item)
    header = widget.horizontalHeader()
    assert header is not None
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    widget.resizeRowsToContents()
    shown = len(table.rows) if max_rows is None else min(len(table.rows), max_rows)
    rows_height = sum(widget.rowHeight(r) for r in range(shown))
    scrollbar = widget.horizontalScrollBar()
    room = scrollbar.sizeHint().height() if scrollbar is not None else 0  # when too wide
    widget.setFixedHeight(header.sizeHint().height() + rows_height + room + 2 * widget.frameWidth())
    if max_rows is None or len(table.rows) <= max_rows:
        widget.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    if table.note:
        widget.setToolTip(table.note)
    return widget


class FigureCanvas(FigureCanvasQTAgg):
    """matplotlib's Qt canvas, drawing with Python's cycle collector paused.

    A window its owner has let go of (a closed window kept only by reference cycles) is freed
    by the collector whenever it runs; a matplotlib draw allocates enough to run it, and the
    window would then be deleted under the canvas that is drawing it (a crash).
    """

    def draw(self) -> None:
        collecting = gc.isenabled()
        gc.disable()
        try:
            super().draw()
        finally:
            if collecting:
                gc.enable()


class FigureView(QWidget):
    """One figure in a canvas, with "Export…" (PNG or SVG)."""

    exported = pyqtSignal(Path)
    """The path a figure was just written to."""

    def __init__(
        self, title: str = "", *, export_name: str = "figure", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.figure: Figure | None = None
        self.export_name = export_name
        self.title_label = QLabel(f"<b>{title}</b>" if title else "")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save this plot as PNG or SVG")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(lambda: self.choose_export())
        self.empty_label = QLabel("Nothing to plot yet.")
        self.empty_label.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.title_label)
        top.addStretch(1)
        top.addWidget(self.export_button)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addLayout(top)
        self._layout.addWidget(self.empty_label)
        self.canvas: FigureCanvas | None = None

    def set_figure(
        self, figure: Figure | None, *, empty_text: str = "Nothing to plot yet."
    ) -> None:
        """Show ``figure`` (or ``empty_text`` when None)."""
        if self.canvas is not None:
            self._layout.removeWidget(self.canvas)
            self.canvas.setParent(None)
            self.canvas.deleteLater()
            self.canvas = None
        self.figure = figure
        self.empty_label.setText(empty_text)
        self.empty_label.setVisible(figure is None)
        self.export_button.setEnabled(figure is not None)
        if figure is None:
            return
        canvas = FigureCanvas(figure)
        canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        width, height = figure.get_size_inches()
        canvas.setMinimumSize(int(width * 60), int(height * 60))
        self._layout.addWidget(canvas, 1)
        self.canvas = canvas
        canvas.draw_idle()

    def showEvent(self, event: QShowEvent | None) -> None:  # noqa: N802 (Qt's name)
        """Draw again on showing, in case a queued draw was called off while hidden."""
        super().showEvent(event)
        if self.canvas is not None:
            self.canvas.draw_idle()

    def hideEvent(self, event: QHideEvent | None) -> None:  # noqa: N802 (Qt's name)
        """Call off a queued draw: a closed window may be freed before it runs, and
        matplotlib would then draw on a deleted canvas."""
        if self.canvas is not None and getattr(self.canvas, "_draw_pending", False):
            self.canvas._draw_pending = False  # matplotlib's flag: its queued call then returns
        super().hideEvent(event)

    def export_to(self, path: Path) -> Path:
        """Write the figure to ``path`` (``.png`` or ``.svg``); raises ValueError/OSError."""
        if self.figure is None:
            raise ValueError("there is no plot to export")
        saved = save_figure(self.figure, path)
        self.exported.emit(saved)
        return saved

    def choose_export(self) -> Path | None:
        """Ask for a file name, then export; a failure is shown in a message box."""
        name, chosen = QFileDialog.getSaveFileName(
            self,
            "Export plot",
            f"{self.export_name}.png",
            "PNG image (*.png);;SVG drawing (*.svg)",
        )
        if not name:
            return None
        path = Path(name)
        if path.suffix.lower() not in (".png", ".svg"):
            path = path.with_suffix(".svg" if "svg" in chosen.lower() else ".png")
        try:
            return self.export_to(path)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot export the plot", str(exc))
            return None
