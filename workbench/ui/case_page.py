"""The case page: header, readiness, imaging timepoints, lab results, exposures and clinical
features, the case's timeline, the review status and the case's history.

It shows a :class:`~workbench.ui.case_detail.CaseDetail` (plain values) and asks the window,
through :attr:`CasePage.add_lab_requested`, :attr:`CasePage.assign_requested`,
:attr:`CasePage.edit_requested` and :attr:`CasePage.mark_ready_requested`, to open the lab,
assignment, edit and mark-ready forms; it never touches the registry itself. While a case is
incomplete, its readiness area lists what the case misses for reading (the service's
sentences, ``missing_for_reading``). The Review and History tabs
show what the registry let the acting user see (the values are blinded when they are loaded,
not here).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from html import escape

from PyQt6.QtCore import QPoint, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QGuiApplication
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QFrame,
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
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from adjudication.vocabulary import ReadStatus
from workbench.display import (
    certainty_label,
    elide_middle,
    format_day,
    format_number,
    format_utc,
    result_label,
    tristate_label,
)
from workbench.domain import CaseStatus
from workbench.services.case_detail import CaseDetail, LabRow, ReviewStatus
from workbench.services.timeline import CaseTimeline
from workbench.ui.case_edit import as_sentence
from workbench.ui.clinical_dialog import record_html
from workbench.ui.dialogs import repolish
from workbench.ui.history import HistoryView
from workbench.ui.theme import CSF_PCR_TINT, MUTED, STATUS_COLOURS
from workbench.ui.timeline import TimelineLoader, TimelineView

IMAGING_COLUMNS = ("Day / sequence", "Description", "Geometry", "Files", "Series UID")
LAB_COLUMNS = ("Test", "Day", "Result", "Value", "Unit", "LOD", "LOQ", "Assay", "Note")
"""Assay and note come last: the numbers stay in view on a narrow page."""
EXPOSURE_COLUMNS = (
    "Drug",
    "Start day",
    "Stop day",
    "Infusions",
    "Class",
    "Schedule",
    "Last dose",
    "Prior",
)
FEATURE_COLUMNS = ("Feature", "Status", "Onset day", "Note")
READ_COLUMNS = ("Reader", "Read", "Status", "Submitted (UTC)", "Judgement")
FINDING_COLUMNS = ("Rule", "Readers", "Detail")

_UID_ROLE = Qt.ItemDataRole.UserRole + 1
_POSITION_ROLE = Qt.ItemDataRole.UserRole + 2
"""``(timepoint index, series index)`` of a series row: the same order as
:class:`workbench.ui.workspace_data.ReviewCase`, so the window can name the series."""
_NUMERIC = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
EDIT_TIP = "Change the case's fields, exposures and clinical features (Ctrl+E)"
CLINICAL_TIP = (
    "Edit the research clinical record: diagnosis, histopathology, treatments, IRIS, "
    "outcome and scores"
)
MARK_READY_TIP = "Mark the case ready for reading (with a reason when items are missing)"


def readonly_table(columns: Sequence[str], stretch: int | None = None) -> QTableWidget:
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


def table_item(text: str, *, numeric: bool = False, tooltip: str | None = None) -> QTableWidgetItem:
    """A table cell: right-aligned when ``numeric``, with an optional tooltip."""
    item = QTableWidgetItem(text)
    if numeric:
        item.setTextAlignment(_NUMERIC)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def fill_lab_table(table: QTableWidget, labs: Sequence[LabRow], *, notes: bool) -> None:
    """Fill ``table`` with one row per lab result (test, day, result, value, unit, LOD, LOQ,
    assay and, with ``notes``, the note); CSF JCV PCR rows are tinted, test and result bold."""
    table.setRowCount(0)
    table.setRowCount(len(labs))
    tint = QBrush(QColor(CSF_PCR_TINT))
    bold = QFont(table.font())
    bold.setBold(True)
    for row, lab in enumerate(labs):
        cells = [
            table_item(lab.test_label),
            table_item(format_day(lab.day), numeric=True),
            table_item(result_label(lab.result)),
            table_item(format_number(lab.value), numeric=True),
            table_item(lab.unit or ""),
            table_item(format_number(lab.lod), numeric=True, tooltip="limit of detection"),
            table_item(format_number(lab.loq), numeric=True, tooltip="limit of quantification"),
            table_item(lab.assay or "", tooltip=lab.assay),
        ]
        if notes:
            cells.append(table_item(lab.note or "", tooltip=lab.note))
        for column, cell in enumerate(cells):
            if lab.is_csf_jcv_pcr:
                cell.setBackground(tint)
                if column in (0, 2):
                    cell.setFont(bold)
            table.setItem(row, column, cell)


def _known(value: StrEnum) -> str:
    """An enum's value in words, empty when it is ``unknown``."""
    return "" if value.value == "unknown" else value.value.replace("_", " ")


class CasePage(QWidget):
    """One case, read-only, with "Edit case…", "Mark ready…", "Add lab result…" and
    "Assign readers and panel…" buttons.

    Call :meth:`show_case` with fresh values after every change.
    """

    add_lab_requested = pyqtSignal(str)
    """The user asked to add a lab result to the case of this registry id."""
    import_images_requested = pyqtSignal(str)
    """The user asked to import images into the case of this registry id."""
    assign_requested = pyqtSignal(str)
    """The user asked to assign readers and panel members to the case of this registry id."""
    edit_requested = pyqtSignal(str)
    """The user asked to change the case of this registry id."""
    clinical_edit_requested = pyqtSignal(str)
    """The user asked to edit the research clinical record of the case of this registry id."""
    mark_ready_requested = pyqtSignal(str)
    """The user asked to mark the (incomplete) case of this registry id ready for reading."""
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
        self.edit_button = QPushButton("Edit case…")
        self.edit_button.setToolTip(EDIT_TIP)
        self.edit_button.clicked.connect(self._edit_clicked)
        title_row.addWidget(self.edit_button, alignment=Qt.AlignmentFlag.AlignVCenter)

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
        self.readiness_box = self._readiness_box()

        self.tabs = QTabWidget()
        self.tabs.setUsesScrollButtons(False)  # all tabs in view; a long title is elided
        self.tabs.setElideMode(Qt.TextElideMode.ElideRight)
        self.tabs.addTab(self._imaging_tab(), "Imaging")
        self.tabs.addTab(self._labs_tab(), "Labs")
        self.tabs.addTab(self._clinical_tab(), "Clinical")
        self.timeline_view = TimelineView()
        self.tabs.addTab(self.timeline_view, "Timeline")
        self.review_tab = self._review_tab()
        self.tabs.addTab(self.review_tab, "Review")
        self.history_view = HistoryView()
        self.tabs.addTab(self.history_view, "History")
        self.tab_names = ("imaging", "labs", "clinical", "timeline", "review", "history")
        """The tabs by name, in order (``gui --tab NAME``)."""

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addLayout(title_row)
        layout.addLayout(facts)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.readiness_box)
        layout.addSpacing(4)
        layout.addWidget(self.tabs, 1)

    # --- building ------------------------------------------------------------------------

    def _readiness_box(self) -> QGroupBox:
        """What an incomplete case misses for reading, and "Mark ready…" (hidden otherwise)."""
        self.readiness_label = QLabel()
        self.readiness_label.setObjectName("readinessItems")
        self.readiness_label.setWordWrap(True)
        self.readiness_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mark_ready_button = QPushButton("Mark ready…")
        self.mark_ready_button.setToolTip(MARK_READY_TIP)
        self.mark_ready_button.clicked.connect(self._mark_ready_clicked)
        box = QGroupBox("Readiness")
        box.setObjectName("readiness")
        row = QHBoxLayout(box)
        row.setContentsMargins(8, 4, 8, 6)
        row.addWidget(self.readiness_label, 1)
        row.addWidget(self.mark_ready_button, alignment=Qt.AlignmentFlag.AlignTop)
        box.hide()
        return box

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
        self.labs_table = readonly_table(LAB_COLUMNS, stretch=LAB_COLUMNS.index("Assay"))
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
        self.exposures_table = readonly_table(EXPOSURE_COLUMNS, stretch=0)
        self.features_table = readonly_table(FEATURE_COLUMNS)
        exposures = QGroupBox("Drug exposures (days from day 0)")
        QVBoxLayout(exposures).addWidget(self.exposures_table)
        features = QGroupBox("Clinical features")
        QVBoxLayout(features).addWidget(self.features_table)
        self.clinical_text = QTextBrowser()
        """The record, a few dense lines and the score table (scrolls when long)."""
        self.clinical_text.setObjectName("clinicalRecord")
        self.clinical_text.setFrameShape(QFrame.Shape.NoFrame)
        self.clinical_text.setOpenLinks(False)
        self.clinical_button = QPushButton("Edit clinical record…")
        self.clinical_button.setToolTip(CLINICAL_TIP)
        self.clinical_button.clicked.connect(self._clinical_clicked)
        record = QGroupBox("Research clinical record")
        record_layout = QHBoxLayout(record)
        record_layout.addWidget(self.clinical_text, 1)
        record_layout.addWidget(self.clinical_button, alignment=Qt.AlignmentFlag.AlignTop)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(record, 3)
        layout.addWidget(exposures, 2)
        layout.addWidget(features, 2)
        return page

    def _review_tab(self) -> QWidget:
        self.review_hint = QLabel()
        self.review_hint.setObjectName("muted")
        self.review_hint.setWordWrap(True)
        self.assign_button = QPushButton("Assign readers and panel…")
        self.assign_button.setToolTip("Choose the case's readers and panel members")
        self.assign_button.clicked.connect(self._assign_clicked)
        top = QHBoxLayout()
        top.addWidget(self.review_hint, 1)
        top.addWidget(self.assign_button)
        self.reads_table = readonly_table(READ_COLUMNS)
        self.reads_note = QLabel()
        self.reads_note.setObjectName("muted")
        self.reads_note.setWordWrap(True)
        self.panel_label = QLabel()
        self.panel_label.setWordWrap(True)
        self.panel_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        reads = QGroupBox("Readers and their reads")
        reads_layout = QVBoxLayout(reads)
        reads_layout.addWidget(self.reads_table, 1)
        reads_layout.addWidget(self.reads_note)
        reads_layout.addWidget(self.panel_label)

        self.discordance_label = QLabel()
        self.discordance_label.setObjectName("discordanceOutcome")
        self.discordance_label.setWordWrap(True)
        self.discordance_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings_table = readonly_table(FINDING_COLUMNS)
        self.findings_table.setWordWrap(True)
        self.rules_label = QLabel()
        self.rules_label.setObjectName("muted")
        self.rules_label.setWordWrap(True)
        outcome = QGroupBox("Discordance")
        self._outcome_box = outcome
        outcome_layout = QVBoxLayout(outcome)
        outcome_layout.addWidget(self.discordance_label)
        outcome_layout.addWidget(self.findings_table, 1)
        outcome_layout.addWidget(self.rules_label)

        self.decision_label = QLabel()
        self.decision_label.setObjectName("decisionInForce")
        self.decision_label.setWordWrap(True)
        self.decision_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        decision = QGroupBox("Panel decision in force")
        QVBoxLayout(decision).addWidget(self.decision_label)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(reads, 3)
        layout.addWidget(outcome, 2)
        layout.addWidget(decision)
        self._review_layout = layout
        return page

    # --- showing -------------------------------------------------------------------------

    def set_timeline_loader(self, loader: TimelineLoader | None) -> None:
        """Read the Timeline tab's values with ``loader`` (a registry id to the service's
        :class:`~workbench.services.timeline.CaseTimeline`, blinded for the signed-in person);
        the window gives it, since the page never touches the registry."""
        self.timeline_view.set_loader(loader)

    def set_timeline(self, timeline: CaseTimeline | None) -> None:
        """Show ``timeline`` in the Timeline tab as it is (without reading anything)."""
        self.timeline_view.set_timeline(timeline)

    def show_tab(self, name: str) -> None:
        """Bring tab ``name`` (one of :attr:`tab_names`) to the front."""
        self.tabs.setCurrentIndex(self.tab_names.index(name))

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
        repolish(self.summary_label)
        self._fill_readiness(detail)
        self._fill_imaging(detail)
        self._fill_labs(detail.labs)
        self._fill_clinical(detail)
        self._fill_review(detail.review)
        self.history_view.set_events(detail.history, detail.registry_id)
        self.timeline_view.show_case(detail.registry_id)  # read when its tab is first shown
        # Six tabs share a page about 650 px wide: short titles, the counts in words in
        # each tab's tooltip.
        timepoints, series = len(detail.timepoints), detail.series_count
        exposures, features = len(detail.exposures), len(detail.features)
        history = self.tabs.indexOf(self.history_view)
        for index, text, tip in (
            (0, f"Imaging ({series})", f"{timepoints} timepoint(s), {series} series"),
            (1, f"Labs ({len(detail.labs)})", f"{len(detail.labs)} lab result(s)"),
            (
                2,
                f"Clinical ({exposures}, {features})",
                f"{exposures} drug exposure(s), {features} clinical feature(s)",
            ),
            (
                self.tabs.indexOf(self.timeline_view),
                "Timeline",
                "The case's course in days: MRI, CSF JCV, antibody index, CD4, drugs, events",
            ),
            (
                self.tabs.indexOf(self.review_tab),
                "Review",
                "Readers, reads, discordance and the panel's decision",
            ),
            (history, f"History ({len(detail.history)})", "The case's audit trail"),
        ):
            self.tabs.setTabText(index, text)
            self.tabs.setTabToolTip(index, tip)

    def _fill_readiness(self, detail: CaseDetail) -> None:
        incomplete = detail.status is CaseStatus.INCOMPLETE
        self.readiness_box.setVisible(incomplete)
        if not incomplete:
            self.readiness_label.clear()
            return
        missing = detail.missing_for_reading
        if missing:
            self.readiness_box.setTitle(f"Readiness — {len(missing)} item(s) missing for reading")
            self.readiness_label.setText("\n".join(f"•  {as_sentence(m)}" for m in missing))
        else:
            self.readiness_box.setTitle("Readiness")
            self.readiness_label.setText("Complete: ready to be read.")

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
        fill_lab_table(self.labs_table, labs, notes=True)
        csf = sum(1 for lab in labs if lab.is_csf_jcv_pcr)
        if labs:
            self.labs_hint.setText(
                f"{len(labs)} result(s), {csf} CSF JCV PCR (highlighted) · by day"
            )
        else:
            self.labs_hint.setText("No lab results yet.")

    def _fill_clinical(self, detail: CaseDetail) -> None:
        view = detail.clinical
        if view is None:
            self.clinical_text.setPlainText("The clinical record is not available.")
            self.clinical_button.setEnabled(False)
        else:
            self.clinical_text.setHtml(record_html(view))
            refusal = view.edit_refusal
            self.clinical_button.setEnabled(refusal is None)
            self.clinical_button.setToolTip(as_sentence(refusal) if refusal else CLINICAL_TIP)
        self.exposures_table.setRowCount(len(detail.exposures))
        for row, exposure in enumerate(detail.exposures):
            infusions = exposure.infusion_count
            for column, cell in enumerate(
                (
                    table_item(exposure.drug),
                    table_item(format_day(exposure.start_day), numeric=True),
                    table_item(format_day(exposure.stop_day), numeric=True),
                    table_item("" if infusions is None else str(infusions), numeric=True),
                    table_item(_known(exposure.drug_class)),
                    table_item(_known(exposure.dosing_schedule)),
                    table_item(format_day(exposure.last_dose_day), numeric=True),
                    table_item("prior" if exposure.prior else ""),
                )
            ):
                self.exposures_table.setItem(row, column, cell)
        self.features_table.setRowCount(len(detail.features))
        for row, feature in enumerate(detail.features):
            for column, cell in enumerate(
                (
                    table_item(feature.feature),
                    table_item(tristate_label(feature.status)),
                    table_item(format_day(feature.onset_day), numeric=True),
                    table_item(feature.note or "", tooltip=feature.note),
                )
            ):
                self.features_table.setItem(row, column, cell)

    def _fill_review(self, review: ReviewStatus | None) -> None:
        table = self.reads_table
        table.setRowCount(0)
        if review is None:
            self.review_hint.setText("The review status is not loaded.")
            for label in (self.reads_note, self.panel_label, self.rules_label):
                label.clear()
            self.discordance_label.clear()
            self.findings_table.setRowCount(0)
            self.decision_label.clear()
            return
        assigned = sum(1 for r in review.readers if r.assigned)
        submitted = sum(
            1
            for r in review.readers
            if r.assigned and any(read.status is ReadStatus.SUBMITTED for read in r.reads)
        )
        blinded = any(r.note == "blinded" for r in review.readers)
        if assigned == 0:
            self.review_hint.setText("No readers assigned yet.")
        elif blinded:
            self.review_hint.setText(f"{assigned} reader(s) assigned.")
        else:
            self.review_hint.setText(
                f"{assigned} reader(s) assigned, {submitted} submitted · judgements are shown "
                "only to those the blinding rules allow"
            )
        rows: list[tuple[QTableWidgetItem, ...]] = []
        for reader in review.readers:
            name = f"{reader.display_name} ({reader.username})"
            if not reader.assigned:
                name += " — not assigned"
            if not reader.reads:
                note = table_item(reader.note)
                note.setForeground(QBrush(QColor(MUTED)))
                rows.append(
                    (table_item(name), table_item(""), note, table_item(""), table_item(""))
                )
                continue
            for read in reader.reads:
                if read.blinded:
                    judgement = table_item(
                        "blinded",
                        tooltip="Shown once every assigned reader has submitted",
                    )
                    judgement.setForeground(QBrush(QColor(MUTED)))
                else:
                    judgement = table_item(read.judgement or "—")
                status = table_item(read.status.value)
                if read.status is ReadStatus.SUPERSEDED:
                    status.setForeground(QBrush(QColor(MUTED)))
                    status.setToolTip("Replaced by a corrected revision")
                rows.append(
                    (
                        table_item(name),
                        table_item(f"revision {read.revision}", numeric=True),
                        status,
                        table_item(format_utc(read.submitted_at).removesuffix(" UTC")),
                        judgement,
                    )
                )
        table.setRowCount(len(rows))
        for row, cells in enumerate(rows):
            for column, cell in enumerate(cells):
                table.setItem(row, column, cell)
        self.reads_note.setText(review.reads_note or "")
        self.reads_note.setVisible(bool(review.reads_note))
        self.panel_label.setText(
            "Panel: " + ", ".join(review.panel) if review.panel else "Panel: none assigned yet"
        )
        self._fill_outcome(review)

    def _fill_outcome(self, review: ReviewStatus) -> None:
        findings = self.findings_table
        findings.setRowCount(0)
        self.rules_label.clear()
        self.discordance_label.setStyleSheet("")
        if not review.sees_panel_work:
            hidden = (
                "Not shown to you: a reader sees the discordance outcome and the panel's "
                "decision only after submitting their own read of the case."
            )
            self.discordance_label.setText(hidden)
            self.discordance_label.setStyleSheet(f"color: {MUTED};")
            self.decision_label.setText("Not shown to you until you have submitted your read.")
            self.decision_label.setStyleSheet(f"color: {MUTED};")
            self._show_findings(False)
            return
        found = review.discordance
        if found is None:
            self.discordance_label.setText(
                "Not assessed yet: the reads are compared once every assigned reader has submitted."
            )
            self._show_findings(False)
        elif found.discordant:
            self.discordance_label.setText(
                f"<b>Discordant</b> — rule(s) fired: <b>{escape(', '.join(found.fired))}</b>. "
                "The panel reconciles the reads."
            )
            colour = STATUS_COLOURS[CaseStatus.DISCORDANT]
            self.discordance_label.setStyleSheet(f"color: {colour};")
            self._show_findings(True)
            findings.setRowCount(len(found.findings))
            for row, finding in enumerate(found.findings):
                for column, cell in enumerate(
                    (
                        table_item(finding.rule),
                        table_item(" · ".join(finding.readers)),
                        table_item(finding.detail, tooltip=finding.detail),
                    )
                ):
                    findings.setItem(row, column, cell)
        else:
            self.discordance_label.setText(
                "<b>Concordant</b> — no rule fired; the case went to adjudication."
            )
            self._show_findings(False)
        if found is not None and found.rules:
            rules = found.rules
            nb = "\u00a0"  # keeps "Dice < 0.5" on one line
            text = (
                "Discordant when the judgements differ; a lesion of "
                f"≥{nb}{rules.get('min_lesion_ml', 0):g}{nb}mL is seen by one reader only; the "
                f"total volumes differ by >{nb}{rules.get('volume_fraction', 0):.0%}; or "
                f"Dice{nb}<{nb}{rules.get('min_dice', 0):g}."
            )
            if not found.spatial:
                text += " Mask rules (detection, Dice) not applied: the readers drew on "
                text += "different series."
            self.rules_label.setText(text)
        decision = review.decision
        self.decision_label.setStyleSheet("")
        if decision is None:
            self.decision_label.setText("No final decision yet.")
            self.decision_label.setStyleSheet(f"color: {MUTED};")
        else:
            pathway = f" ({decision.pathway.value} pathway)" if decision.pathway else ""
            signers = "<br>".join(escape(s) for s in decision.signers) or "—"
            text = f"<b>{certainty_label(decision.certainty)}</b>{pathway}"
            text += f"<br>Signed by:<br>{signers}"
            if decision.rationale:
                text += f"<br>Rationale: {escape(decision.rationale)}"
            self.decision_label.setText(text)

    def _show_findings(self, shown: bool) -> None:
        """The findings table only when rules fired; the outcome box then takes the room."""
        self.findings_table.setVisible(shown)
        self._review_layout.setStretchFactor(self._outcome_box, 2 if shown else 0)

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

    def _edit_clicked(self) -> None:
        if self._detail is not None:
            self.edit_requested.emit(self._detail.registry_id)

    def _clinical_clicked(self) -> None:
        if self._detail is not None:
            self.clinical_edit_requested.emit(self._detail.registry_id)

    def _mark_ready_clicked(self) -> None:
        if self._detail is not None:
            self.mark_ready_requested.emit(self._detail.registry_id)

    def _assign_clicked(self) -> None:
        if self._detail is not None:
            self.assign_requested.emit(self._detail.registry_id)

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


class CasePlaceholder(QLabel):
    """What the page area shows before a case is selected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Select a case in the list to see its page.", parent)
        self.setObjectName("muted")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
