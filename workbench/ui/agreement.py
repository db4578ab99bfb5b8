"""The reader-agreement page: kappa, panel against engine, masks, disagreement by reader.

:class:`AgreementPage` shows an :class:`~workbench.services.agreement.AgreementReport` (the
service's answer, plain values) as one scrolling page: a line of counts (cases counted, and
left out because reads are outstanding), then one box per section of the report with its
plot (:class:`~workbench.ui.figure_view.FigureView`, exportable as PNG or SVG) next to the
tables of the numbers it draws. A section with too few cases shows, in place of the plot,
the sentence that says so. "Export HTML…" writes the whole report as one HTML page through
:func:`workbench.services.agreement.write_html`. The page neither reads the registry nor
decides who may see it: the window asks the service, which asks the policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.analysis.report import Section
from workbench.errors import RegistryError
from workbench.services.agreement import AgreementReport, write_html
from workbench.ui.figure_view import FigureView, table_widget

__all__ = ["AgreementPage", "SectionView", "table_widget"]

_MAX_VISIBLE_ROWS = 10
"""Rows a table shows before it scrolls (the page scrolls too)."""


class SectionView(QGroupBox):
    """One section of the report: its explanation, its plot and its tables side by side."""

    def __init__(
        self, section: Section, *, empty_text: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(section.title, parent)
        self.section = section
        self.text_label = QLabel(section.text)
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.figure_view: FigureView | None = None
        self.tables: list[QTableWidget] = []
        body = QHBoxLayout()
        if section.figure is not None or empty_text is not None:
            name = section.title.lower().replace(" ", "_")
            self.figure_view = FigureView(export_name=f"agreement_{name}")
            self.figure_view.set_figure(section.figure, empty_text=empty_text or "")
            if section.figure is None:
                self.figure_view.empty_label.setStyleSheet("font-weight: bold; padding: 12px;")
            body.addWidget(self.figure_view, 5)
        tables = QVBoxLayout()
        for table in section.tables:
            if table.title:
                caption = QLabel(f"<b>{table.title}</b>")
                caption.setWordWrap(True)
                tables.addWidget(caption)
            widget = table_widget(table, max_rows=_MAX_VISIBLE_ROWS)
            self.tables.append(widget)
            tables.addWidget(widget)
            if table.note:
                note = QLabel(table.note)
                note.setWordWrap(True)
                note.setObjectName("muted")
                tables.addWidget(note)
        tables.addStretch(1)
        body.addLayout(tables, 6)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text_label)
        layout.addLayout(body)


class AgreementPage(QWidget):
    """Reader agreement for coordinators, administrators and the panel."""

    back_requested = pyqtSignal()
    refresh_requested = pyqtSignal()
    exported = pyqtSignal(Path)
    """The path the HTML report was just written to."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: AgreementReport | None = None
        self.sections: list[SectionView] = []
        title = QLabel("Reader agreement")
        title.setObjectName("caseTitle")
        self.summary_label = QLabel("No report loaded.")
        self.summary_label.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.export_button = QPushButton("Export HTML…")
        self.export_button.setToolTip("Save the whole report, plots and tables, as one HTML page")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(lambda: self.choose_export())
        self.back_button = QPushButton("Back to cases")
        self.back_button.clicked.connect(self.back_requested)
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)
        top.addWidget(self.back_button)

        self._content = QWidget()
        self._sections_layout = QVBoxLayout(self._content)
        self._sections_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self._content)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.scroll_area, 1)

    def set_report(self, report: AgreementReport) -> None:
        """Show ``report``: its counts, then each section with its plot and tables."""
        self.report = report
        since = f" · reads submitted since {report.since}" if report.since else ""
        self.summary_label.setText(
            f"{report.summary()}{since} · as of {report.as_of:%Y-%m-%d %H:%M} UTC"
        )
        for view in self.sections:
            self._sections_layout.removeWidget(view)
            view.setParent(None)
            view.deleteLater()
        self.sections = []
        notes: Sequence[str | None] = (
            None,
            report.judgement.note,
            report.certainty.note,
            report.masks.note,
            report.disagreement.note,
        )
        for index, section in enumerate(report.sections()):
            note = notes[index] if index < len(notes) else None
            empty = None if index == 0 else (note or "Nothing to plot.")
            view = SectionView(section, empty_text=empty)
            self._sections_layout.insertWidget(self._sections_layout.count() - 1, view)
            self.sections.append(view)
        self.export_button.setEnabled(True)

    def export_to(self, path: Path) -> Path:
        """Write the report shown to ``path`` as HTML; raises RegistryError naming the file."""
        if self.report is None:
            raise ValueError("there is no report to export")
        written = write_html(self.report, path)
        self.exported.emit(written)
        return written

    def choose_export(self) -> Path | None:
        """Ask for a file name, then export; a failure is shown in a message box."""
        if self.report is None:
            return None
        name, _ = QFileDialog.getSaveFileName(
            self, "Export reader agreement", "reader_agreement.html", "HTML page (*.html)"
        )
        if not name:
            return None
        path = Path(name)
        if path.suffix.lower() not in (".html", ".htm"):
            path = path.with_suffix(".html")
        try:
            return self.export_to(path)
        except (RegistryError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot export the report", str(exc))
            return None
