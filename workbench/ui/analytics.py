"""The analytics page: what the registry has learned, section by section.

:class:`AnalyticsPage` shows a :class:`~workbench.services.analytics.RegistryAnalytics` (from
:func:`workbench.services.analytics.analytics`) as a scrollable list of sections, each with its
plot (:class:`~workbench.ui.figure_view.FigureView`, exportable as PNG or SVG) and a table of
the numbers the plot draws. It reads nothing by itself: the window calls the service and hands
the value to :meth:`AnalyticsPage.set_analytics`; "Refresh" and a change of the certainty rule
ask the window to do so again (``refresh_requested``; :meth:`AnalyticsPage.certainty` is the
rule chosen). "Export HTML…" writes the same sections as one self-contained file;
"Import denominators…" calls :func:`workbench.services.analytics.import_denominators` with the
person :meth:`AnalyticsPage.bind` was given, and shows every problem of a refused file in the
page.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.errors import RegistryError
from workbench.policy import Action, can
from workbench.ui.figure_view import FigureView, table_widget

if TYPE_CHECKING:
    from workbench.analysis.report import Section
    from workbench.services import Actor, Registry
    from workbench.services.analytics import ImportSummary, RegistryAnalytics

__all__ = ["AnalyticsPage"]

CERTAINTY_CHOICES = (
    ("probable", "Definite + probable"),
    ("definite", "Definite only"),
    ("possible", "Definite + probable + possible"),
)
"""The certainty rules offered, the default first."""


class _SectionView(QFrame):
    """One section: title, text, plot and tables."""

    def __init__(self, section: Section, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.section = section
        self.setObjectName("analyticsSection")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        title = QLabel(f"<b>{index}. {section.title}</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        self.text_label = QLabel(section.text)
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.text_label)
        self.figure_view: FigureView | None = None
        body = QHBoxLayout()
        if section.figure is not None:
            slug = "".join(ch if ch.isalnum() else "_" for ch in section.title.lower())
            self.figure_view = FigureView(export_name=f"analytics_{slug.strip('_')}")
            self.figure_view.set_figure(section.figure)
            body.addWidget(self.figure_view, 3)
        self.tables = [table_widget(table) for table in section.tables]
        narrow = all(len(t.columns) <= 4 for t in section.tables)
        column = QVBoxLayout()
        for table, widget in zip(section.tables, self.tables, strict=True):
            if table.title:
                caption = QLabel(table.title)
                caption.setWordWrap(True)
                column.addWidget(caption)
            column.addWidget(widget)
            if table.note:
                note = QLabel(table.note)
                note.setWordWrap(True)
                note.setObjectName("analyticsNote")
                column.addWidget(note)
        column.addStretch(1)
        if section.figure is not None and narrow:
            body.addLayout(column, 2)
            layout.addLayout(body)
        else:
            if section.figure is not None:
                layout.addLayout(body)
            layout.addLayout(column)


class AnalyticsPage(QWidget):
    """The registry's analytics: counts, incidence, risk table, survival, onset, IRIS,
    certainty changes; each section a plot and its numbers."""

    back_requested = pyqtSignal()
    refresh_requested = pyqtSignal()
    imported = pyqtSignal(object)
    """An import of denominators succeeded (its ImportSummary)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.analytics: RegistryAnalytics | None = None
        self._registry: Registry | None = None
        self._actor: Actor | None = None
        self.section_views: list[_SectionView] = []

        title = QLabel("Registry analytics")
        title.setObjectName("caseTitle")
        self.certainty_combo = QComboBox()
        for value, label in CERTAINTY_CHOICES:
            self.certainty_combo.addItem(label, value)
        self.certainty_combo.setToolTip(
            "Which final panel certainties count as a PML case (default: definite + probable)"
        )
        self.certainty_combo.currentIndexChanged.connect(lambda _: self.refresh_requested.emit())
        self.import_button = QPushButton("Import denominators…")
        self.import_button.setToolTip(
            "Import patients and patient-years by stratum from a CSV file (columns stratum, "
            "year, patients, person_years, source)"
        )
        self.import_button.clicked.connect(lambda: self.choose_import())
        self.export_button = QPushButton("Export HTML…")
        self.export_button.setToolTip("Save every section, plots and tables, as one HTML file")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(lambda: self.choose_export())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.back_button = QPushButton("Back to cases")
        self.back_button.clicked.connect(self.back_requested)
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(QLabel("PML cases:"))
        top.addWidget(self.certainty_combo)
        top.addWidget(self.import_button)
        top.addWidget(self.export_button)
        top.addWidget(self.refresh_button)
        top.addWidget(self.back_button)

        self.summary_label = QLabel("No analytics loaded yet.")
        self.summary_label.setWordWrap(True)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setVisible(False)
        self.problems_view = QPlainTextEdit()
        self.problems_view.setObjectName("denominatorProblems")
        self.problems_view.setReadOnly(True)
        self.problems_view.setMaximumHeight(120)
        self.problems_view.setVisible(False)

        self.sections_widget = QWidget()
        self.sections_layout = QVBoxLayout(self.sections_widget)
        self.sections_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self.sections_widget)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.problems_view)
        layout.addWidget(self.scroll_area, 1)

    # --- what the window gives the page ---------------------------------------------------

    def bind(self, registry: Registry, actor: Actor) -> None:
        """The registry and the signed-in person the buttons act for; the import button is
        greyed out, with the policy's reason, for someone who may not import."""
        self._registry = registry
        self._actor = actor
        refusal = can(actor, Action.IMPORT_DENOMINATORS)
        self.import_button.setEnabled(refusal is None)
        if refusal is not None:
            self.import_button.setToolTip(refusal.reason)

    def certainty(self) -> str:
        """The least final certainty chosen to count as PML (``probable`` by default)."""
        return str(self.certainty_combo.currentData())

    def set_analytics(self, value: RegistryAnalytics | None) -> None:
        """Show ``value`` (``None``: clear the page)."""
        self.analytics = value
        for view in self.section_views:
            self.sections_layout.removeWidget(view)
            view.setParent(None)
            view.deleteLater()
        self.section_views = []
        self.export_button.setEnabled(value is not None)
        if value is None:
            self.summary_label.setText("No analytics loaded yet.")
            return
        index = self.certainty_combo.findData(value.certainty.value)
        if index >= 0 and index != self.certainty_combo.currentIndex():
            self.certainty_combo.blockSignals(True)
            self.certainty_combo.setCurrentIndex(index)
            self.certainty_combo.blockSignals(False)
        self.summary_label.setText(
            f"{value.rule}. {value.total_cases} cases in the registry, {value.pml_cases} "
            f"counted as PML; {value.reads_outstanding} left out of decision-based figures "
            "because not every assigned read is in."
            + (f" {len(value.warnings)} warning(s): see the end." if value.warnings else "")
        )
        for number, section in enumerate(value.sections(), start=1):
            view = _SectionView(section, number)
            self.sections_layout.insertWidget(self.sections_layout.count() - 1, view)
            self.section_views.append(view)

    # --- actions ----------------------------------------------------------------------------

    def _show_message(self, text: str, *, error: bool) -> None:
        colour = "#a12a1a" if error else "#1d5e2a"
        self.message_label.setStyleSheet(f"color: {colour};")
        self.message_label.setText(text)
        self.message_label.setVisible(True)

    def import_denominators_from(self, path: Path) -> ImportSummary | None:
        """Import ``path`` through the service; success or every problem shown in the page."""
        from workbench.services import analytics as service

        self.problems_view.setVisible(False)
        if self._registry is None or self._actor is None:
            self._show_message("Not connected to a registry.", error=True)
            return None
        try:
            summary = service.import_denominators(self._registry, self._actor, path)
        except service.DenominatorFileError as exc:
            self._show_message(
                f"{path.name}: {len(exc.problems)} problem(s); nothing was imported.",
                error=True,
            )
            self.problems_view.setPlainText("\n".join(str(p) for p in exc.problems))
            self.problems_view.setVisible(True)
            return None
        except RegistryError as exc:
            self._show_message(str(exc), error=True)
            return None
        self._show_message(
            f"{summary.file}: added {len(summary.added)}, replaced {len(summary.replaced)} "
            "denominator(s).",
            error=False,
        )
        self.imported.emit(summary)
        self.refresh_requested.emit()
        return summary

    def choose_import(self) -> ImportSummary | None:
        """Ask for a CSV file, then import it."""
        name, _ = QFileDialog.getOpenFileName(
            self, "Import denominators", "", "CSV table (*.csv);;All files (*)"
        )
        return self.import_denominators_from(Path(name)) if name else None

    def export_html_to(self, path: Path) -> Path | None:
        """Write the analytics shown as one HTML file; a failure is shown in the page."""
        from workbench.services import analytics as service

        if self.analytics is None or self._actor is None:
            self._show_message("Nothing to export yet.", error=True)
            return None
        try:
            written = service.write_html(self.analytics, path, self._actor)
        except (OSError, ValueError, RegistryError) as exc:
            self._show_message(f"Cannot write the report: {exc}", error=True)
            return None
        self._show_message(f"Report written to {written}.", error=False)
        return written

    def choose_export(self) -> Path | None:
        """Ask for a file name, then export HTML."""
        name, _ = QFileDialog.getSaveFileName(
            self, "Export analytics", "analytics.html", "HTML report (*.html)"
        )
        if not name:
            return None
        path = Path(name)
        if path.suffix.lower() not in (".html", ".htm"):
            path = path.with_suffix(".html")
        return self.export_html_to(path)
