"""The dark theme: a Fusion palette for reading rooms, and the few style rules on top of it.

Radiology reading rooms are dim; a dark window keeps the screen from outshining the images.
Colours are defined once here so that list, page and forms agree.
"""

from __future__ import annotations

from PyQt6.QtGui import QColor, QFont, QPalette
from PyQt6.QtWidgets import QApplication

from workbench.domain import CaseStatus

WINDOW = "#1e2227"
BASE = "#16191d"
ALTERNATE = "#1b1f24"
PANEL = "#252a31"
BORDER = "#343b45"
TEXT = "#dde3ea"
MUTED = "#8a94a3"
ACCENT = "#4c9be8"
ERROR = "#ff6b6b"
CSF_PCR_TINT = "#1d3350"
"""Background of CSF JCV PCR rows in lab tables: the result the criteria turn on."""
WARNING = "#f0b429"
"""Text that asks for attention without being an error: engine warnings, unverified rows,
a panel decision that departs from the engine."""
READER_COLOURS: tuple[str, ...] = ("#ff9f1c", "#2ec4b6", "#e36bae", "#a3d65c")
"""One colour per reader of a case (in reader order) on the panel page and for their mask
outlines over the images; distinct from each other, from the status colours' meaning and
from the red/yellow/green of a reader's own draft labels."""

STATUS_COLOURS: dict[CaseStatus, str] = {
    CaseStatus.INCOMPLETE: "#c9a227",
    CaseStatus.READY: "#4c9be8",
    CaseStatus.IN_READING: "#39b8c6",
    CaseStatus.DISCORDANT: "#f0743e",
    CaseStatus.IN_ADJUDICATION: "#b08cf0",
    CaseStatus.FINAL: "#5cc67a",
}

STYLE_SHEET = f"""
QToolTip {{ color: {TEXT}; background: {PANEL}; border: 1px solid {BORDER}; }}
QHeaderView::section {{
    background: {PANEL}; color: {TEXT}; padding: 4px 6px; border: none;
    border-right: 1px solid {BORDER}; border-bottom: 1px solid {BORDER};
}}
QLineEdit {{ border: 1px solid {BORDER}; border-radius: 3px; padding: 3px 4px; }}
QLineEdit:focus, QPlainTextEdit:focus {{ border: 1px solid {ACCENT}; }}
QLineEdit:disabled {{ background: {WINDOW}; }}
QTableView, QTreeView, QPlainTextEdit, QTextEdit {{
    border: 1px solid {BORDER}; gridline-color: {BORDER};
}}
QTabWidget::pane {{ border: 1px solid {BORDER}; top: -1px; }}
QTabBar::tab {{
    background: {WINDOW}; color: {MUTED}; padding: 6px 14px; border: 1px solid {BORDER};
    border-bottom: none; margin-right: 2px;
}}
QTabBar::tab:selected {{ background: {PANEL}; color: {TEXT}; }}
QGroupBox {{ border: 1px solid {BORDER}; margin-top: 14px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; color: {MUTED}; }}
QLabel#caseTitle {{ font-size: 20pt; font-weight: 600; }}
QLabel#statusBadge {{ border-radius: 9px; padding: 2px 10px; font-weight: 600; color: #111; }}
QLabel#factName {{ color: {MUTED}; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#emptyTitle {{ font-size: 16pt; font-weight: 600; }}
QLabel#emptyText {{ color: {MUTED}; font-size: 11pt; }}
QLabel#formError {{
    color: {ERROR}; background: #3a1f22; border: 1px solid #6b2f35; border-radius: 3px;
    padding: 6px;
}}
QLineEdit[invalid="true"], QComboBox[invalid="true"], QTableWidget[invalid="true"],
QPlainTextEdit[invalid="true"] {{
    border: 1px solid {ERROR};
}}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 6px; }}
QToolBar {{ border: none; spacing: 4px; padding: 2px; }}
QSplitter::handle {{ background: {BORDER}; }}
"""


def dark_palette() -> QPalette:
    """The window palette: dark greys, light text, a blue accent."""
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: ALTERNATE,
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: MUTED,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: ERROR,
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Highlight: "#2f6db3",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Light: "#3a414b",
        QPalette.ColorRole.Midlight: "#2e343c",
        QPalette.ColorRole.Mid: BORDER,
        QPalette.ColorRole.Dark: "#121417",
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(disabled, role, QColor("#5d6673"))
    return palette


def apply_theme(app: QApplication) -> None:
    """Give ``app`` the Fusion style, the dark palette and the style rules."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)


def status_colour(status: CaseStatus) -> QColor:
    """The colour that marks ``status`` in the list and on the case page."""
    return QColor(STATUS_COLOURS[status])
