"""The case page: header, imaging timepoints, lab results, exposures and clinical features.

It shows a :class:`~workbench.ui.case_detail.CaseDetail` (plain values) and asks the window,
through :attr:`CasePage.add_lab_requested`, to open the lab form; it never touches the
registry itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import QPoint, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QGuiApplication
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.case_detail import (
    CaseDetail,
    LabRow,
    elide_middle,
    format_day,
    format_number,
    result_label,
    tristate_label,
)
from workbench.ui.theme import CSF_PCR_TINT, STATUS_COLOURS

IMAGING_COLUMNS = ("Day / sequence", "Description", "Geometry", "Files", "Series UID")
LAB_COLUMNS = ("Test", "Day", "Result", "Value", "Unit", "LOD", "LOQ", "Assay", "Note")
"""Assay and note come last: the numbers stay in view on a narrow page."""
EXPOSURE_COLUMNS = ("Drug", "Start day", "Stop day", "Infusions")
FEATURE_COLUMNS = ("Feature", "Status", "Onset day", "Note")

_UID_ROLE = Qt.ItemDataRole.UserRole + 1
_POSITION_ROLE = Qt.ItemDataRole.UserRole + 2
"""``(timepoint index, series index)`` of a series row: the same order as
:class:`workbench.ui.review_data.ReviewCase`, so the window can name the series."""
_NUMERIC = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _readonly_table(columns: Sequence[str], stretch: int | None = None) -> QTableWidget:
    """A read-only table whose columns fit their contents (a case has few rows, so measuring
    them is cheap) except ``stretch`` (default: the last), which takes the rest."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    vertical = table.verticalHeader()
    assert vertical is not None
    vertical.setVisible(False)
    vertical.setDefaultSectionSize(24)
    header = table.horizontalHeader()
    assert header is not None
    header.setHighlightSections(False)
    header.setMinimumSectionSize(40)
    stretch = len(columns) - 1 if stretch is None else stretch
    for n in range(len(columns)):
        mode = (
            QHeaderView.ResizeMode.Stretch
            if n == stretch
            else QHeaderView.ResizeMode.ResizeToContents
        )
        header.setSectionResizeMode(n, mode)
    return table


def _item(text: str, *, numeric: bool = False, tooltip: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if numeric:
        item.setTextAlignment(_NUMERIC)
    if tooltip:
        item.setToolTip(tooltip)
    return item


class CasePage(QWidget):
    """One case, read-only, with an "Add lab result…" button.

    Call :meth:`show_case` with fresh values after every change.
    """

    add_lab_requested = pyqtSignal(str)
    """The user asked to add a lab result to the case of this registry id."""
    import_images_requested = pyqtSignal(str)
    """The user asked to import images into the case of this registry id."""
    review_requested = pyqtSignal(str, object)
    """``(registry id, (timepoint index, series index) or None)``: the user asked to review
    the case's images (from the button, or by double-clicking a series or a timepoint)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._detail: CaseDetail | None = None

        self.title_label = QLabel()
        self.title_label.setObjectName("caseTitle")
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_badge = QLabel()
        self.status_badge.setObjectName("statusBadge")
        title_row = QHBoxLayout()
        title_row.addWidget(self.title_label)
        title_row.addSpacing(10)
        title_row.addWidget(self.status_badge, alignment=Qt.AlignmentFlag.AlignVCenter)
        title_row.addStretch()

        self.fact_labels: dict[str, QLabel] = {}
        facts = QGridLayout()
        facts.setHorizontalSpacing(10)
        facts.setVerticalSpacing(4)
        names = (
            "Site",
            "Sex",
            "Age band",
            "Condition",
            "Clinical features consistent with PML",
            "Day 0",
        )
        for n, name in enumerate(names):
            row, pair = divmod(n, 3)
            label = QLabel(name)
            label.setObjectName("factName")
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            facts.addWidget(label, row * 2, pair)
            facts.addWidget(value, row * 2 + 1, pair)
            self.fact_labels[name] = value
        for column in range(3):
            facts.setColumnStretch(column, 1)

        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._imaging_tab(), "Imaging")
        self.tabs.addTab(self._labs_tab(), "Labs")
        self.tabs.addTab(self._clinical_tab(), "Exposures && clinical features")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addLayout(title_row)
        layout.addLayout(facts)
        layout.addWidget(self.summary_label)
        layout.addSpacing(4)
        layout.addWidget(self.tabs, 1)

    # --- building ------------------------------------------------------------------------

    def _imaging_tab(self) -> QWidget:
        self.imaging_tree = QTreeWidget()
        self.imaging_tree.setHeaderLabels(list(IMAGING_COLUMNS))
        self.imaging_tree.setAlternatingRowColors(True)
        self.imaging_tree.setUniformRowHeights(True)
        self.imaging_tree.setRootIsDecorated(True)
        self.imaging_tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.imaging_tree.customContextMenuRequested.connect(self._imaging_menu)
        self.imaging_tree.itemDoubleClicked.connect(self._imaging_double_clicked)
        header = self.imaging_tree.header()
        assert header is not None
        header.setStretchLastSection(True)
        for n in (0, 2, 3):
            header.setSectionResizeMode(n, QHeaderView.ResizeMode.ResizeToContents)
        self.imaging_tree.setColumnWidth(1, 120)
        self.imaging_hint = QLabel()
        self.imaging_hint.setObjectName("muted")
        self.imaging_hint.setWordWrap(True)
        self.import_images_button = QPushButton("Import images…")
        self.import_images_button.setToolTip(
            "Import a DICOM folder or a NIfTI file into this case (Ctrl+Shift+I)"
        )
        self.import_images_button.clicked.connect(self._import_images_clicked)
        self.review_button = QPushButton("Review images")
        self.review_button.setToolTip(
            "Open the series in linked viewports, hung by protocol (Ctrl+R); "
            "double-click a series to open it"
        )
        self.review_button.clicked.connect(lambda: self._request_review(None))
        top = QHBoxLayout()
        top.addWidget(self.imaging_hint, 1)
        top.addWidget(self.review_button)
        top.addWidget(self.import_images_button)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.imaging_tree, 1)
        return page

    def _labs_tab(self) -> QWidget:
        self.labs_table = _readonly_table(LAB_COLUMNS, stretch=LAB_COLUMNS.index("Assay"))
        self.labs_hint = QLabel()
        self.labs_hint.setObjectName("muted")
        self.add_lab_button = QPushButton("Add lab result…")
        self.add_lab_button.setToolTip("Enter one lab result for this case (Ctrl+L)")
        self.add_lab_button.clicked.connect(self._add_lab_clicked)
        top = QHBoxLayout()
        top.addWidget(self.labs_hint, 1)
        top.addWidget(self.add_lab_button)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.labs_table, 1)
        return page

    def _clinical_tab(self) -> QWidget:
        self.exposures_table = _readonly_table(EXPOSURE_COLUMNS, stretch=0)
        self.features_table = _readonly_table(FEATURE_COLUMNS)
        exposures = QGroupBox("Drug exposures (days from day 0)")
        QVBoxLayout(exposures).addWidget(self.exposures_table)
        features = QGroupBox("Clinical features")
        QVBoxLayout(features).addWidget(self.features_table)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(exposures, 1)
        layout.addWidget(features, 1)
        return page

    # --- showing -------------------------------------------------------------------------

    @property
    def detail(self) -> CaseDetail | None:
        """The case shown, if any."""
        return self._detail

    def show_case(self, detail: CaseDetail) -> None:
        """Show ``detail``, replacing whatever was shown."""
        self._detail = detail
        self.title_label.setText(detail.registry_id)
        colour = STATUS_COLOURS[detail.status]
        self.status_badge.setText(detail.status.label)
        self.status_badge.setStyleSheet(f"background: {colour};")
        condition = detail.condition.label
        if detail.condition_detail:
            condition = f"{condition} — {detail.condition_detail}"
        values = {
            "Site": detail.site,
            "Sex": detail.sex,
            "Age band": detail.age_band,
            "Condition": condition,
            "Clinical features consistent with PML": tristate_label(detail.clinical_consistent),
            "Day 0": detail.index_event,
        }
        for name, text in values.items():
            self.fact_labels[name].setText(text)
        self.summary_label.setText(detail.clinical_summary or "No clinical summary.")
        self.summary_label.setObjectName("" if detail.clinical_summary else "muted")
        self._repolish(self.summary_label)
        self._fill_imaging(detail)
        self._fill_labs(detail.labs)
        self._fill_clinical(detail)
        self.tabs.setTabText(
            0, f"Imaging ({len(detail.timepoints)} timepoints, {detail.series_count} series)"
        )
        self.tabs.setTabText(1, f"Labs ({len(detail.labs)})")
        self.tabs.setTabText(
            2, f"Exposures && clinical features ({len(detail.exposures)}, {len(detail.features)})"
        )

    def _fill_imaging(self, detail: CaseDetail) -> None:
        tree = self.imaging_tree
        tree.clear()
        bold = QFont(tree.font())
        bold.setBold(True)
        for t_index, timepoint in enumerate(detail.timepoints):
            top = QTreeWidgetItem(
                [
                    f"Day {format_day(timepoint.day)}",
                    timepoint.description,
                    f"{len(timepoint.series)} series",
                    "",
                    elide_middle(timepoint.study_instance_uid or "", 21),
                ]
            )
            top.setFont(0, bold)
            if timepoint.study_instance_uid:
                top.setToolTip(4, f"Study UID {timepoint.study_instance_uid}")
                top.setData(4, _UID_ROLE, timepoint.study_instance_uid)
            for s_index, series in enumerate(timepoint.series):
                uid = series.series_instance_uid or ""
                child = QTreeWidgetItem(
                    [
                        series.sequence_class.value,
                        series.description,
                        series.geometry,
                        str(series.n_files),
                        elide_middle(uid, 21) if uid else "—",
                    ]
                )
                child.setTextAlignment(3, _NUMERIC)
                child.setToolTip(4, uid or "no series instance UID (e.g. a NIfTI file)")
                child.setToolTip(1, series.source_uri)
                child.setData(4, _UID_ROLE, uid)
                child.setData(0, _POSITION_ROLE, (t_index, s_index))
                child.setToolTip(0, "Double-click to review this series")
                top.addChild(child)
            tree.addTopLevelItem(top)
        tree.expandAll()
        self.review_button.setEnabled(detail.series_count > 0)
        if detail.timepoints:
            days = ", ".join(format_day(t.day) for t in detail.timepoints)
            self.imaging_hint.setText(
                f"{len(detail.timepoints)} timepoint(s) on day {days} · "
                f"{detail.series_count} series · double-click to review, right-click to copy a UID"
            )
        else:
            self.imaging_hint.setText(
                "No imaging yet. Series are added by the imaging import (pml-workbench import)."
            )

    def _fill_labs(self, labs: Sequence[LabRow]) -> None:
        table = self.labs_table
        table.setRowCount(0)
        table.setRowCount(len(labs))
        tint = QBrush(QColor(CSF_PCR_TINT))
        bold = QFont(table.font())
        bold.setBold(True)
        for row, lab in enumerate(labs):
            cells = [
                _item(lab.test_label),
                _item(format_day(lab.day), numeric=True),
                _item(result_label(lab.result)),
                _item(format_number(lab.value), numeric=True),
                _item(lab.unit or ""),
                _item(format_number(lab.lod), numeric=True, tooltip="limit of detection"),
                _item(format_number(lab.loq), numeric=True, tooltip="limit of quantification"),
                _item(lab.assay or "", tooltip=lab.assay),
                _item(lab.note or "", tooltip=lab.note),
            ]
            for column, cell in enumerate(cells):
                if lab.is_csf_jcv_pcr:
                    cell.setBackground(tint)
                    if column in (0, 2):
                        cell.setFont(bold)
                table.setItem(row, column, cell)
        csf = sum(1 for lab in labs if lab.is_csf_jcv_pcr)
        if labs:
            self.labs_hint.setText(
                f"{len(labs)} result(s), {csf} CSF JCV PCR (highlighted) · by day"
            )
        else:
            self.labs_hint.setText("No lab results yet.")

    def _fill_clinical(self, detail: CaseDetail) -> None:
        self.exposures_table.setRowCount(len(detail.exposures))
        for row, exposure in enumerate(detail.exposures):
            infusions = exposure.infusion_count
            for column, cell in enumerate(
                (
                    _item(exposure.drug),
                    _item(format_day(exposure.start_day), numeric=True),
                    _item(format_day(exposure.stop_day), numeric=True),
                    _item("" if infusions is None else str(infusions), numeric=True),
                )
            ):
                self.exposures_table.setItem(row, column, cell)
        self.features_table.setRowCount(len(detail.features))
        for row, feature in enumerate(detail.features):
            for column, cell in enumerate(
                (
                    _item(feature.feature),
                    _item(tristate_label(feature.status)),
                    _item(format_day(feature.onset_day), numeric=True),
                    _item(feature.note or "", tooltip=feature.note),
                )
            ):
                self.features_table.setItem(row, column, cell)

    # --- private -------------------------------------------------------------------------

    def _import_images_clicked(self) -> None:
        if self._detail is not None:
            self.import_images_requested.emit(self._detail.registry_id)

    def _request_review(self, position: tuple[int, int] | None) -> None:
        if self._detail is not None and self._detail.series_count > 0:
            self.review_requested.emit(self._detail.registry_id, position)

    def _imaging_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        position = item.data(0, _POSITION_ROLE)
        if isinstance(position, tuple | list) and len(position) == 2:
            self._request_review((int(position[0]), int(position[1])))
        else:
            self._request_review(None)

    def _add_lab_clicked(self) -> None:
        if self._detail is not None:
            self.add_lab_requested.emit(self._detail.registry_id)

    def _imaging_menu(self, position: QPoint) -> None:
        item = self.imaging_tree.itemAt(position)
        uid = item.data(4, _UID_ROLE) if item is not None else None
        if not uid:
            return
        menu = QMenu(self)
        copy = menu.addAction("Copy UID")
        viewport = self.imaging_tree.viewport()
        assert viewport is not None
        if menu.exec(viewport.mapToGlobal(position)) is copy:
            clipboard = QGuiApplication.clipboard()
            if clipboard is not None:
                clipboard.setText(str(uid))

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        style = widget.style()
        if style is not None:
            style.unpolish(widget)
            style.polish(widget)


class CasePlaceholder(QLabel):
    """What the page area shows before a case is selected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Select a case in the list to see its page.", parent)
        self.setObjectName("muted")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
