"""The main window: case list on the left, case page on the right, forms and menus around.

Opening a case's images (Case → Review images, Ctrl+R; the case page's button; a
double-click on a series) swaps the list and page for the review workspace
(:class:`~workbench.ui.workspace.ReviewWorkspace`) until "Back to case". Case → Panel
(Ctrl+Shift+D, for decide) swaps them for the panel's page of the case
(:class:`~workbench.ui.panel_view.PanelPage`) in the same way; its "Show reads on images"
opens the review workspace with the reads outlined, and "Back to case" there returns to the
panel page.

Readers and panel members see "My queue" (:class:`~workbench.ui.worklist.QueueWidget`, their
own open work with due dates, overdue marked) above the case list, reloaded with it; a
double-click opens the case. View → Dashboard (Ctrl+Shift+B, coordinators) swaps the list and
page for the review dashboard (:class:`~workbench.ui.worklist.DashboardPage`) until "Back to
cases".

Case → Edit case… (Ctrl+E) and the case page's "Edit case…" open the edit form
(:class:`~workbench.ui.case_edit.EditCaseDialog`); the page's "Mark ready…" marks an
incomplete case ready (:class:`~workbench.ui.case_edit.MarkReadyDialog`). Both are for the roles
the policy lets change cases; for others they are greyed with the policy's reason.

The window is the one widget that talks to the registry. Each user action opens one short
session (``registry.read()`` to show, ``registry.write()`` to save) and hands plain values to
the widgets. Every :class:`~workbench.errors.RegistryError` (and any raw database
error) ends up in front of the user, in the form that caused it or in a message box.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR, Qt
from PyQt6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PyQt6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from adjudication.vocabulary import Role
from viewers.layout import GridLayout
from workbench import __version__
from workbench.config import data_dir
from workbench.display import elide_middle
from workbench.errors import NotFoundError, RegistryError
from workbench.services import (
    Action,
    Actor,
    Registry,
    agreement,
    analytics,
    can,
    cases,
    clinical,
    reading,
    timeline,
    worklist,
)
from workbench.services.cases import (
    CaseChanges,
    CaseDetail,
    CaseEdit,
    LabEntry,
    LabFileError,
    NewCase,
    Readiness,
)
from workbench.services.imaging import ParserSandbox
from workbench.ui.agreement import AgreementPage
from workbench.ui.analytics import AnalyticsPage
from workbench.ui.annotate import Annotator
from workbench.ui.assign_dialog import AssignDialog
from workbench.ui.case_edit import EditCaseDialog, MarkReadyDialog
from workbench.ui.case_list import CaseListPanel
from workbench.ui.case_page import EDIT_TIP, MARK_READY_TIP, CasePage, CasePlaceholder
from workbench.ui.clinical_dialog import ClinicalDialog
from workbench.ui.dialogs import LabResultDialog, NewCaseDialog, ReportDialog, user_message
from workbench.ui.import_dialog import ImportImagesDialog
from workbench.ui.intake_dialog import IntakeDialog
from workbench.ui.panel_view import PanelPage
from workbench.ui.shortcuts import Shortcut, ShortcutsDialog, action_shortcuts
from workbench.ui.worklist import DashboardPage, QueueWidget
from workbench.ui.workspace import ReviewWorkspace
from workbench.ui.workspace_data import ReviewCase, ReviewProtocol
from workbench.ui.workspace_settings import ReviewSettings

APP_TITLE = "PML Registry Workbench"
EMPTY_TITLE = "This registry has no cases yet"
EMPTY_TEXT = (
    "Create a case with File → New case… (Ctrl+N), then add its lab results on its page\n"
    "or import a lab CSV for cases already entered (File → Import lab results…, Ctrl+I).\n\n"
    "To explore first, run  pml-workbench demo  for the synthetic demo registry\n"
    "(kept apart from this one)."
)


class EmptyRegistryPage(QWidget):
    """What the window shows on a registry without cases: what to do next."""

    def __init__(self, registry_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title_label = QLabel(EMPTY_TITLE)
        self.title_label.setObjectName("emptyTitle")
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text_label = QLabel(EMPTY_TEXT)
        self.text_label.setObjectName("emptyText")
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        where = QLabel(f"Registry: {registry_url}")
        where.setObjectName("muted")
        where.setAlignment(Qt.AlignmentFlag.AlignCenter)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.new_case_button = QPushButton("New case…")
        self.new_case_button.setMinimumWidth(160)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.title_label)
        layout.addSpacing(10)
        layout.addWidget(self.text_label)
        layout.addSpacing(16)
        layout.addWidget(self.new_case_button, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(24)
        layout.addWidget(where)
        layout.addStretch(3)

    @property
    def message(self) -> str:
        """The whole empty-state message."""
        return f"{self.title_label.text()}. {' '.join(self.text_label.text().split())}"


class MainWindow(QMainWindow):
    """The workbench window on one open registry, acting as ``actor``.

    With ``quiet`` (screenshot mode) errors go to stderr instead of message boxes; they are
    collected in :attr:`errors` either way.
    """

    def __init__(
        self,
        registry: Registry,
        actor: Actor,
        parent: QWidget | None = None,
        *,
        quiet: bool = False,
        cache_root: Path | None = None,
        sandbox: ParserSandbox | None = None,
    ) -> None:
        super().__init__(parent)
        self.cache_root = cache_root or data_dir() / "cache"
        self.sandbox = sandbox
        self.last_import_dialog: ImportImagesDialog | None = None
        self.last_assign_dialog: AssignDialog | None = None
        self.last_clinical_dialog: ClinicalDialog | None = None
        self.registry = registry
        self.actor = actor
        self.quiet = quiet
        self.errors: list[str] = []
        self.last_message_box: QMessageBox | None = None
        self.last_report: ReportDialog | None = None
        self.last_shortcuts: ShortcutsDialog | None = None
        self.draft_offer: QMessageBox | None = None
        """The "reopen your draft" offer shown at start, if any."""
        self._open_id: str | None = None
        self._review_case: ReviewCase | None = None
        self._has_cases = False
        self.entry_refusal = can(actor, Action.CREATE_CASE)
        """Why the actor may not enter data (the policy's reason), or None."""
        self.assign_refusal = can(actor, Action.ASSIGN)
        self.edit_refusal = can(actor, Action.EDIT_CASE)
        """Why the actor may not change cases or mark them ready (the policy's reason), or
        None."""
        self.can_enter_data = self.entry_refusal is None
        self.dashboard_refusal = can(actor, Action.SEE_DASHBOARD)
        """Why the actor may not see the review dashboard (the policy's reason), or None."""
        self.agreement_refusal = can(actor, Action.SEE_AGREEMENT)
        """Why the actor may not see reader agreement (the policy's reason), or None."""
        self.analytics_refusal = can(actor, Action.SEE_ANALYTICS)
        """Why the actor may not see the registry's analytics (the policy's reason), or None."""
        self.shows_queue = bool(actor.roles & {Role.READER, Role.PANEL})
        """Whether "My queue" is shown: the actor reads or sits on panels."""

        self.setWindowTitle(f"{APP_TITLE} — {actor.username} @ {registry.url}")
        self.resize(1280, 800)

        self.case_list = CaseListPanel()
        self.queue_widget = QueueWidget()
        self.queue_widget.setVisible(self.shows_queue)
        self.left_splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_splitter.addWidget(self.queue_widget)
        self.left_splitter.addWidget(self.case_list)
        self.left_splitter.setStretchFactor(0, 0)
        self.left_splitter.setStretchFactor(1, 1)
        self.left_splitter.setChildrenCollapsible(False)
        self.left_splitter.setSizes([210, 590])
        self.case_page = CasePage()
        self.case_page.set_timeline_loader(
            lambda registry_id: timeline.case_timeline(self.registry, self.actor, registry_id)
        )
        self.placeholder = CasePlaceholder()
        self.page_stack = QStackedWidget()
        self.page_stack.addWidget(self.placeholder)
        self.page_stack.addWidget(self.case_page)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left_splitter)
        self.splitter.addWidget(self.page_stack)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([610, 670])
        self.empty_page = EmptyRegistryPage(registry.url)
        self.central = QStackedWidget()
        self.central.addWidget(self.empty_page)
        self.central.addWidget(self.splitter)
        self.review = ReviewWorkspace(ReviewSettings(actor.username), self.cache_root)
        self.central.addWidget(self.review)
        self.panel_page = PanelPage(registry, actor)  # reads nothing until a case is opened
        self.central.addWidget(self.panel_page)
        self.dashboard_page = DashboardPage()
        self.central.addWidget(self.dashboard_page)
        self.agreement_page = AgreementPage()
        self.central.addWidget(self.agreement_page)
        self.analytics_page = AnalyticsPage()
        self.analytics_page.bind(registry, actor)
        self.central.addWidget(self.analytics_page)
        self.setCentralWidget(self.central)

        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()

        self.case_list.case_selected.connect(self._case_selected)
        self.queue_widget.case_opened.connect(self.open_from_queue)
        self.dashboard_page.back_requested.connect(self.show_cases)
        self.dashboard_page.refresh_requested.connect(self.refresh)
        self.agreement_page.back_requested.connect(self.show_cases)
        self.agreement_page.refresh_requested.connect(lambda: self.open_agreement())
        self.analytics_page.back_requested.connect(self.show_cases)
        self.analytics_page.refresh_requested.connect(lambda: self.open_analytics())
        self.case_page.add_lab_requested.connect(self.open_lab_dialog)
        self.case_page.assign_requested.connect(self.open_assign_dialog)
        self.case_page.edit_requested.connect(self.open_edit_dialog)
        self.case_page.mark_ready_requested.connect(self.open_mark_ready_dialog)
        self.case_page.clinical_edit_requested.connect(self.open_clinical_dialog)
        self.case_page.import_images_requested.connect(self.open_import_dialog)
        self.case_page.review_requested.connect(self._review_requested)
        self.review.back_requested.connect(self.back_to_case)
        self.review.problem.connect(self._review_problem)
        self.review.status.connect(self._status)
        self.panel_page.back_requested.connect(self.back_to_case)
        self.panel_page.images_requested.connect(self.show_reads_on_images)
        self.panel_page.problem.connect(self._review_problem)  # in place, and in self.errors
        # The page reloads itself after a proposal or signature; the rest follows it.
        self.panel_page.changed.connect(lambda _rid: self.refresh(panel=False))
        self.review.set_page_active(False)
        self.annotator = Annotator(registry, actor, self.review, self)
        self.review_menu.addSeparator()
        self.review_menu.addActions(self.annotator.actions)
        # A submitted read or a correction changes the case (status, review, history).
        self.annotator.submitted.connect(lambda _rid, _text: self.refresh())
        self.annotator.correction_started.connect(lambda _rid: self.refresh())
        self.empty_page.new_case_button.clicked.connect(self.open_new_case_dialog)
        self.refresh()
        if not quiet:
            self.offer_draft()

    # --- construction --------------------------------------------------------------------

    def _action(self, text: str, shortcut: str | None, tip: str) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
        return action

    def _build_actions(self) -> None:
        self.new_case_action = self._action("&New case…", "Ctrl+N", "Enter a new case")
        self.new_case_action.triggered.connect(self.open_new_case_dialog)
        self.import_labs_action = self._action(
            "&Import lab results…", "Ctrl+I", "Import a CSV of lab results (all or nothing)"
        )
        self.import_labs_action.triggered.connect(self._choose_lab_file)
        self.add_lab_action = self._action(
            "Add &lab result…", "Ctrl+L", "Enter one lab result for the open case"
        )
        self.add_lab_action.triggered.connect(lambda: self.open_lab_dialog())
        self.add_lab_action.setEnabled(False)
        self.import_images_action = self._action(
            "Import &images…", "Ctrl+Shift+I", "Import DICOM or NIfTI into the open case"
        )
        self.import_images_action.triggered.connect(lambda: self.open_import_dialog())
        self.import_images_action.setEnabled(False)
        self.intake_action = self._action(
            "Intake site &package…", None, "Take in a site's package folder as a new case"
        )
        self.intake_action.triggered.connect(lambda: self.open_intake_dialog())
        if self.entry_refusal is not None:
            self.intake_action.setEnabled(False)
            self.intake_action.setToolTip(_sentence(self.entry_refusal.reason))
        self.refresh_action = self._action("&Refresh", "F5", "Reload the list and the open case")
        self.refresh_action.triggered.connect(self.refresh)
        self.find_action = self._action("&Find case", "Ctrl+F", "Search registry ids")
        self.find_action.triggered.connect(self.case_list.focus_search)
        self.quit_action = self._action("&Quit", "Ctrl+Q", "Close the window")
        self.quit_action.triggered.connect(self.close)
        self.about_action = self._action("&About", None, "Version, registry and user")
        self.about_action.triggered.connect(self.show_about)
        self.review_action = self._action(
            "&Review images", "Ctrl+R", "Open the case's images in linked viewports"
        )
        self.review_action.triggered.connect(lambda: self.open_review())
        self.review_action.setEnabled(False)
        self.panel_action = self._action(
            "&Panel", "Ctrl+Shift+D", "The panel's page: reads side by side, engine, decision"
        )
        self.panel_action.triggered.connect(lambda: self.open_panel())
        self.panel_action.setEnabled(False)
        self.assign_action = self._action(
            "&Assign readers…", None, "Assign the open case's readers and panel members"
        )
        self.assign_action.triggered.connect(lambda: self.open_assign_dialog())
        self._assign_tip = self.assign_action.toolTip()
        self._update_assign_action()
        self.edit_case_action = self._action(
            "&Edit case…", "Ctrl+E", "Change the open case's fields (audited, with a reason)"
        )
        self.edit_case_action.triggered.connect(lambda: self.open_edit_dialog())
        self._edit_tip = self.edit_case_action.toolTip()
        self._update_edit_actions()
        self.shortcuts_action = self._action(
            "&Keyboard shortcuts", "F1", "Keys and gestures of the viewports and the window"
        )
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.dashboard_action = self._action(
            "&Dashboard", "Ctrl+Shift+B", "The review dashboard: cases by status, reader and site"
        )
        self.dashboard_action.triggered.connect(lambda: self.open_dashboard())
        if self.dashboard_refusal is not None:
            self.dashboard_action.setEnabled(False)
            self.dashboard_action.setToolTip(_sentence(self.dashboard_refusal.reason))
        self.agreement_action = self._action(
            "Reader &agreement",
            None,
            "Kappa, Dice and each reader's disagreement over the cases whose reads are all in",
        )
        self.agreement_action.triggered.connect(lambda: self.open_agreement())
        if self.agreement_refusal is not None:
            self.agreement_action.setEnabled(False)
            self.agreement_action.setToolTip(_sentence(self.agreement_refusal.reason))
        self.analytics_action = self._action(
            "A&nalytics",
            None,
            "What the registry has learned: counts, incidence, risk, survival, IRIS, certainty",
        )
        self.analytics_action.triggered.connect(lambda: self.open_analytics())
        if self.analytics_refusal is not None:
            self.analytics_action.setEnabled(False)
            self.analytics_action.setToolTip(_sentence(self.analytics_refusal.reason))
        self.queue_action = self._action(
            "My &queue", "Ctrl+Shift+Q", "Your own open work: cases assigned to you, by due date"
        )
        self.queue_action.triggered.connect(self.show_queue)
        self.queue_action.setEnabled(self.shows_queue)
        if not self.shows_queue:
            self.queue_action.setToolTip("Only readers and panel members have a queue")
        if self.entry_refusal is not None:
            why = _sentence(self.entry_refusal.reason)
            for action in (self.new_case_action, self.import_labs_action):
                action.setEnabled(False)
                action.setToolTip(why)
            self.case_page.add_lab_button.setEnabled(False)
            self.case_page.add_lab_button.setToolTip(why)
            self.case_page.import_images_button.setEnabled(False)
            self.case_page.import_images_button.setToolTip(why)
            self.empty_page.new_case_button.setEnabled(False)

    def _build_menus_and_toolbar(self) -> None:
        menu_bar = self.menuBar()
        assert menu_bar is not None
        file_menu = menu_bar.addMenu("&File")
        self.file_menu = file_menu
        assert file_menu is not None
        file_menu.addAction(self.new_case_action)
        file_menu.addAction(self.import_labs_action)
        file_menu.addAction(self.import_images_action)
        file_menu.addAction(self.intake_action)
        file_menu.addSeparator()
        file_menu.addAction(self.refresh_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        case_menu = menu_bar.addMenu("&Case")
        assert case_menu is not None
        case_menu.addAction(self.review_action)
        case_menu.addAction(self.panel_action)
        case_menu.addAction(self.assign_action)
        case_menu.addAction(self.edit_case_action)
        case_menu.setToolTipsVisible(True)  # a disabled action says why
        case_menu.addSeparator()
        case_menu.addAction(self.add_lab_action)
        case_menu.addAction(self.find_action)
        view_menu = menu_bar.addMenu("V&iew")
        assert view_menu is not None
        view_menu.setToolTipsVisible(True)
        view_menu.addAction(self.queue_action)
        view_menu.addAction(self.dashboard_action)
        view_menu.addAction(self.agreement_action)
        view_menu.addAction(self.analytics_action)
        self.view_menu = view_menu
        review_menu = menu_bar.addMenu("Re&view")
        assert review_menu is not None
        for action in self.review.actions_for_menu:
            if action is None:
                review_menu.addSeparator()
            else:
                review_menu.addAction(action)
        self.review_menu = review_menu
        help_menu = menu_bar.addMenu("&Help")
        assert help_menu is not None
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addAction(self.new_case_action)
        toolbar.addAction(self.import_labs_action)
        toolbar.addAction(self.add_lab_action)
        toolbar.addAction(self.import_images_action)
        toolbar.addAction(self.review_action)
        toolbar.addAction(self.panel_action)
        toolbar.addAction(self.dashboard_action)
        toolbar.addSeparator()
        toolbar.addAction(self.refresh_action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _build_status_bar(self) -> None:
        roles = ", ".join(sorted(r.value for r in self.actor.roles)) or "no role"
        self.user_label = QLabel(
            f"User: {self.actor.display_name} ({self.actor.username}) · {roles}"
        )
        self.registry_label = QLabel(f"Registry: {elide_middle(self.registry.url, 70)}")
        self.registry_label.setToolTip(self.registry.url)
        status = self.statusBar()
        assert status is not None
        status.addPermanentWidget(self.user_label)
        status.addPermanentWidget(self.registry_label)

    # --- reading -------------------------------------------------------------------------

    @property
    def open_registry_id(self) -> str | None:
        """The registry id of the case page shown, if any."""
        return self._open_id

    def refresh(self, *, panel: bool = True) -> bool:
        """Reload the case list and the open case; return whether the registry answered.

        ``panel`` false leaves the panel page as it is (it has just reloaded itself).
        """
        try:
            codes = cases.sites(self.registry, self.actor)
            rows = self.case_list.show_registry(self.registry, self.actor, codes)  # pages
            queue = worklist.my_queue(self.registry, self.actor) if self.shows_queue else None
            board = worklist.dashboard(self.registry, self.actor) if self.on_dashboard else None
        except RegistryError as exc:
            self.report_error("Cannot read the registry", user_message(exc))
            return False
        self._has_cases = bool(rows)
        self.queue_widget.set_queue(queue)
        if board is not None:
            self.dashboard_page.set_dashboard(board)
        elif not (rows and (self.reviewing or self.on_panel)):
            self.central.setCurrentWidget(self.splitter if rows else self.empty_page)
        if self._open_id is not None:
            self.open_case(self._open_id, force=True, reveal=False)
        if panel and self.on_panel:
            self.panel_page.reload()
        return True

    def load_case(self, registry_id: str) -> CaseDetail:
        """The case's page values, read now; raises what the registry raises."""
        return self._load_views(registry_id)[0]

    def _load_views(self, registry_id: str) -> tuple[CaseDetail, ReviewCase]:
        """Page and review values of one case, read together (so they agree)."""
        return cases.load_case(self.registry, self.actor, registry_id)

    def open_case(self, registry_id: str, *, force: bool = False, reveal: bool = True) -> bool:
        """Show the page of ``registry_id`` and select it in the list; False on an error.

        ``force`` reloads a page already shown; ``reveal`` clears list filters that hide it.
        """
        if registry_id == self._open_id and not force:
            return True
        try:
            detail, review = self._load_views(registry_id)
        except RegistryError as exc:
            if isinstance(exc, NotFoundError) and registry_id == self._open_id:
                self._close_case()
            self.report_error("Cannot open the case", user_message(exc))
            return False
        self._open_id = registry_id
        self._review_case = review
        self.case_page.show_case(detail)
        self.page_stack.setCurrentWidget(self.case_page)
        self.add_lab_action.setEnabled(self.can_enter_data)
        self.import_images_action.setEnabled(self.can_enter_data)
        self.review_action.setEnabled(bool(review.series))
        self.panel_action.setEnabled(not self.reviewing)
        self._update_assign_action()
        self._update_edit_actions()
        if self.reviewing:
            if review.series:
                self.review.show_case(review)
            else:
                self.back_to_case()
        if self.case_list.selected_registry_id() != registry_id:
            self.case_list.select_case(registry_id, reveal=reveal)
        return True

    def _close_case(self) -> None:
        self._open_id = None
        self._review_case = None
        if self.reviewing:
            self.back_to_case()
        if self.on_panel:
            self.central.setCurrentWidget(self.splitter)
        self.page_stack.setCurrentWidget(self.placeholder)
        self.add_lab_action.setEnabled(False)
        self.import_images_action.setEnabled(False)
        self.review_action.setEnabled(False)
        self.panel_action.setEnabled(False)
        self._update_assign_action()
        self._update_edit_actions()

    def _update_assign_action(self) -> None:
        """Assignment needs the coordinator or admin role and an open case; say which is
        missing where the action and the case page's button are disabled."""
        if self.assign_refusal is not None:
            why = _sentence(self.assign_refusal.reason)
        elif self._open_id is None:
            why = "Open a case first, then assign its readers and panel"
        else:
            why = ""
        self.assign_action.setEnabled(not why)
        self.assign_action.setToolTip(why or self._assign_tip)
        self.assign_action.setStatusTip(why or self._assign_tip)
        button = self.case_page.assign_button
        button.setEnabled(not why)
        button.setToolTip(why or "Choose the case's readers and panel members")

    def _update_edit_actions(self) -> None:
        """Editing a case and marking it ready need the role the policy asks for and an open
        case; say which is missing where the action and the page's buttons are disabled."""
        page = self.case_page
        if self.edit_refusal is not None:
            why = _sentence(self.edit_refusal.reason)
        elif self._open_id is None:
            why = "Open a case first, then edit it"
        else:
            why = ""
        self.edit_case_action.setEnabled(not why)
        self.edit_case_action.setToolTip(why or self._edit_tip)
        self.edit_case_action.setStatusTip(why or self._edit_tip)
        for button, tip in ((page.edit_button, EDIT_TIP), (page.mark_ready_button, MARK_READY_TIP)):
            button.setEnabled(not why)
            button.setToolTip(why or tip)

    def _case_selected(self, registry_id: str) -> None:
        self.open_case(registry_id)

    # --- reviewing images ------------------------------------------------------------------

    @property
    def reviewing(self) -> bool:
        """Whether the review workspace is shown (instead of the list and case page)."""
        return self.central.currentWidget() is self.review

    def open_review(
        self,
        registry_id: str | None = None,
        *,
        series: str | tuple[int, int] | None = None,
        layout: GridLayout | None = None,
        protocol: ReviewProtocol | None = None,
    ) -> bool:
        """Show the review workspace for ``registry_id`` (default: the open case).

        ``series`` (a series id, or a ``(timepoint, series)`` position of the case page's
        imaging tree) is made visible in the active viewport. ``layout`` and ``protocol``
        override the user's remembered ones this time. False (and a message) on an error.
        """
        target = registry_id or self._open_id
        if target is None:
            self.report_error("No case open", "Select a case first, then review its images.")
            return False
        if (target != self._open_id or self._review_case is None) and not self.open_case(target):
            return False
        case = self._review_case
        assert case is not None
        if not case.series:
            self.report_error(
                "No images to review",
                f"{target} has no imaging yet; import its series first (File → Import images…).",
            )
            return False
        self.review.show_case(case, layout=layout, protocol=protocol)
        self.central.setCurrentWidget(self.review)
        self.toolbar.hide()
        self.panel_action.setEnabled(False)
        self.review.set_page_active(True)
        if isinstance(series, tuple):
            found = case.at(*series)
            series = None if found is None else found.series_id
        if series is not None:
            self.review.reveal_series(series)
        self.review.grid.viewport(self.review.grid.active_index).setFocus()
        self._status(f"Reviewing the images of {target}")
        return True

    def back_to_case(self) -> None:
        """Leave the review workspace (or the panel page) for the list and the case page;
        from the reads shown on the images, back to the panel page."""
        to_panel = self.reviewing and self.panel_page.clear_overlays()
        self.annotator.stop()
        self.review.set_page_active(False)
        self.toolbar.show()
        self.panel_action.setEnabled(self._open_id is not None)
        self.central.setCurrentWidget(self.panel_page if to_panel else self.splitter)

    # --- worklists ------------------------------------------------------------------------

    @property
    def on_dashboard(self) -> bool:
        """Whether the review dashboard is shown (instead of the list and case page)."""
        return self.central.currentWidget() is self.dashboard_page

    def open_dashboard(self) -> bool:
        """Show the review dashboard, read now; False (and a message) when refused or the
        registry failed."""
        try:
            board = worklist.dashboard(self.registry, self.actor)
        except RegistryError as exc:
            self.report_error("Cannot show the dashboard", user_message(exc))
            return False
        if self.reviewing:
            self.back_to_case()
        self.dashboard_page.set_dashboard(board)
        self.central.setCurrentWidget(self.dashboard_page)
        self._status(f"Review dashboard: {board.total} case(s), {board.overdue} overdue read(s)")
        return True

    def open_agreement(self) -> bool:
        """Show the reader agreement report, computed now; False (and a message) when refused
        or the registry failed."""
        try:
            with _busy():
                report = agreement.agreement_report(self.registry, self.actor)
        except RegistryError as exc:
            self.report_error("Cannot show reader agreement", user_message(exc))
            return False
        if self.reviewing:
            self.back_to_case()
        self.agreement_page.set_report(report)
        self.central.setCurrentWidget(self.agreement_page)
        self._status("Reader agreement: " + report.summary())
        return True

    def open_analytics(self) -> bool:
        """Show the registry's analytics, computed now with the page's certainty rule; False
        (and a message) when refused or the registry failed."""
        try:
            with _busy():
                found = analytics.analytics(
                    self.registry, self.actor, self.analytics_page.certainty()
                )
        except RegistryError as exc:
            self.report_error("Cannot show the analytics", user_message(exc))
            return False
        if self.reviewing:
            self.back_to_case()
        self.analytics_page.set_analytics(found)
        self.central.setCurrentWidget(self.analytics_page)
        self._status(f"Analytics: {found.total_cases} case(s), {found.pml_cases} counted as PML")
        return True

    def show_cases(self) -> None:
        """Back to the case list and page (from the dashboard or the panel page)."""
        if self.reviewing:
            self.back_to_case()
        self.central.setCurrentWidget(self.splitter if self._has_cases else self.empty_page)

    def show_queue(self) -> None:
        """Show the case list with "My queue" above it, and put the focus in the queue."""
        self.show_cases()
        if self.shows_queue:
            self.queue_widget.table.setFocus()

    def open_from_queue(self, registry_id: str) -> bool:
        """Open a case of "My queue": back to the list and page, showing its page."""
        self.show_cases()
        opened = self.open_case(registry_id)
        if opened:
            self.case_page.show_tab("review")
        return opened

    # --- the panel -----------------------------------------------------------------------

    @property
    def on_panel(self) -> bool:
        """Whether the panel page is shown (instead of the list and case page)."""
        return self.central.currentWidget() is self.panel_page

    def open_panel(self, registry_id: str | None = None) -> bool:
        """Show the panel's page of ``registry_id`` (default: the open case).

        The page says itself why it is empty (reads still blinded, no access). False (and a
        message) when no case is open or the registry failed.
        """
        target = registry_id or self._open_id
        if target is None:
            self.report_error("No case open", "Select a case first, then open its panel page.")
            return False
        if target != self._open_id and not self.open_case(target):
            return False
        if self.reviewing:
            self.back_to_case()
        loaded = self.panel_page.load(target)
        self.central.setCurrentWidget(self.panel_page)
        self._status(f"The panel's page of {target}")
        return loaded

    def show_reads_on_images(self, registry_id: str | None = None) -> bool:
        """Open the review workspace on the panel page's case with each reader's lesions
        outlined in the reader's colour; False (and a message) when that failed."""
        target = registry_id or self.panel_page.registry_id
        if target is None or target != self.panel_page.registry_id:
            self.report_error("No panel page", "Open the case's panel page first (Case → Panel).")
            return False
        if not self.open_review(target, series=self.panel_page.first_lesion_series()):
            return False
        count = self.panel_page.overlay_reads(self.review)
        self._status(f"{count} read overlay(s) on the images of {target}")
        return count > 0

    def pending_draft(self) -> tuple[str, int | None] | None:
        """``(registry id, series id of its first lesion)`` of the reader's latest draft that
        has lesions, or None (not a reader, no such draft, or the registry did not answer)."""
        try:
            draft = reading.latest_draft(self.registry, self.actor)
        except RegistryError:
            return None
        if draft is None or draft.first_lesion_series is None:
            return None
        return draft.registry_id, draft.first_lesion_series

    def offer_draft(self) -> QMessageBox | None:
        """Offer (non-blocking) to reopen the reader's unfinished draft, if there is one."""
        found = self.pending_draft()
        if found is None:
            return None
        registry_id, series_id = found
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Unfinished draft",
            f"You have an unsubmitted draft read of {registry_id} with lesions drawn.\n"
            "Reopen it to continue annotating?",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        reopen = box.addButton("Reopen draft", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        assert reopen is not None
        reopen.clicked.connect(
            lambda _=False, rid=registry_id, sid=series_id: self.reopen_draft(rid, sid)
        )
        box.show()
        self.draft_offer = box
        return box

    def reopen_draft(self, registry_id: str, series_id: int | None = None) -> bool:
        """Open ``registry_id``'s review on ``series_id`` with annotation on; False on error."""
        if not self.open_review(registry_id, series=None if series_id is None else str(series_id)):
            return False
        return self.annotator.set_active(True)

    def _review_requested(self, registry_id: str, position: object) -> None:
        series = position if isinstance(position, tuple) else None
        self.open_review(registry_id, series=series)

    def _review_problem(self, message: str) -> None:
        """A series that cannot be shown, a failed alignment: the workspace shows it in
        place; here it reaches stderr (quiet mode) or the status bar."""
        self.errors.append(message)
        if self.quiet:
            print(f"error: {message}", file=sys.stderr)
        else:
            self._status(message[:1].upper() + message[1:])

    def window_shortcuts(self) -> list[Shortcut]:
        """``(keys, action)`` of the window's own shortcuts (menus), for the help panel."""
        actions: list[QAction] = []
        menu_bar = self.menuBar()
        assert menu_bar is not None
        for menu_action in menu_bar.actions():
            menu = menu_action.menu()
            if menu is not None:
                actions.extend(a for a in menu.actions() if not a.isSeparator())
        return action_shortcuts(actions)

    def show_shortcuts(self) -> ShortcutsDialog:
        """The keyboard-shortcut panel (non-modal)."""
        if self.last_shortcuts is not None and self.last_shortcuts.isVisible():
            self.last_shortcuts.raise_()
            self.last_shortcuts.activateWindow()
            return self.last_shortcuts
        dialog = ShortcutsDialog(self.window_shortcuts(), self)
        dialog.show()
        self.last_shortcuts = dialog
        return dialog

    # --- writing -------------------------------------------------------------------------

    def open_new_case_dialog(self) -> NewCaseDialog | None:
        """Open the new-case form (non-blocking); it saves through :meth:`save_new_case`."""
        try:
            codes = cases.sites(self.registry, self.actor)
        except RegistryError as exc:
            self.report_error("Cannot read the registry", user_message(exc))
            return None
        dialog = NewCaseDialog(codes, self.save_new_case, self)
        dialog.created.connect(self._case_created)
        dialog.open()
        return dialog

    def save_new_case(self, new: NewCase) -> None:
        """Write ``new`` in one transaction (raises what the registry raises)."""
        cases.create_case(self.registry, self.actor, new)

    def _case_created(self, registry_id: str) -> None:
        self.refresh()
        self.open_case(registry_id)
        self._status(f"Created case {registry_id}")

    def open_lab_dialog(self, registry_id: str | None = None) -> LabResultDialog | None:
        """Open the lab form for ``registry_id`` (default: the open case), non-blocking."""
        target = registry_id or self._open_id
        if target is None:
            self.report_error("No case open", "Select a case first, then add its lab result.")
            return None
        dialog = LabResultDialog(target, self.save_lab_result, self)
        dialog.saved.connect(self._lab_saved)
        dialog.open()
        return dialog

    def open_assign_dialog(self, registry_id: str | None = None) -> AssignDialog | None:
        """Open the assignment form for ``registry_id`` (default: the open case),
        non-blocking; it saves through :meth:`save_assignment`."""
        target = registry_id or self._open_id
        if target is None:
            self.report_error("No case open", "Select a case first, then assign its readers.")
            return None
        try:
            choices = cases.assign_choices(self.registry, self.actor, target)
            due = worklist.worklist_rules()
        except RegistryError as exc:
            self.report_error("Cannot read the registry", user_message(exc))
            return None
        dialog = AssignDialog(
            choices,
            lambda readers, panel, due_days: self.save_assignment(
                target, readers, panel, due_days=due_days
            ),
            self,
            suggest=lambda: worklist.suggest_assignment(self.registry, self.actor, target),
            due=due,
        )
        dialog.assigned.connect(self._assigned)
        self.last_assign_dialog = dialog
        dialog.open()
        return dialog

    def save_assignment(
        self,
        registry_id: str,
        readers: list[str],
        panel: list[str],
        *,
        due_days: int | None = None,
    ) -> None:
        """Assign ``readers`` and ``panel`` members to the case in one transaction, due in
        ``due_days`` (default: ``review.toml``); raises what the registry raises (then
        neither is written)."""
        cases.assign(
            self.registry,
            self.actor,
            registry_id,
            readers=readers,
            panel=panel,
            due_days=due_days,
        )

    def _assigned(self, registry_id: str, readers: list[str], panel: list[str]) -> None:
        self.refresh()
        self.open_case(registry_id)
        self.case_page.show_tab("review")
        who = [f"{len(readers)} reader(s)"] if readers else []
        who += [f"{len(panel)} panel member(s)"] if panel else []
        self._status(f"Assigned {', '.join(who)} to {registry_id}")  # the badge shows its status

    def open_edit_dialog(self, registry_id: str | None = None) -> EditCaseDialog | None:
        """Open the edit form for ``registry_id`` (default: the open case), non-blocking.

        The case is read again first (the page shows it too), and the form saves against the
        version it was filled from (:meth:`save_case_edit`).
        """
        target = registry_id or self._open_id
        if target is None:
            self.report_error("No case open", "Select a case first, then edit it.")
            return None
        if not self.open_case(target, force=True):
            return None
        detail = self.case_page.detail
        assert detail is not None
        dialog = EditCaseDialog(
            detail,
            lambda changes, reason: self.save_case_edit(
                detail.registry_id, changes, reason=reason, version=detail.version
            ),
            self,
        )
        dialog.saved.connect(self._case_edited)
        dialog.open()
        return dialog

    def save_case_edit(
        self, registry_id: str, changes: CaseChanges, *, reason: str, version: int
    ) -> CaseEdit:
        """Save ``changes`` to the case read at ``version``, in one transaction (raises what
        the registry raises: a case saved by someone else since is refused, nothing written)."""
        return cases.edit_case(
            self.registry, self.actor, registry_id, changes, reason=reason, version=version
        )

    def _case_edited(self, registry_id: str, edit: CaseEdit) -> None:
        self.refresh()
        self.open_case(registry_id)
        self._status(f"Saved the changes to {registry_id} (now {edit.status.label})")

    def open_clinical_dialog(self, registry_id: str) -> ClinicalDialog | None:
        """Open the clinical record form of ``registry_id`` (read again first), non-blocking;
        it saves against the case's version it was filled from."""
        if not self.open_case(registry_id, force=True):
            return None
        detail = self.case_page.detail
        if detail is None or detail.clinical is None:
            return None
        view = detail.clinical
        dialog = ClinicalDialog(
            view,
            lambda record, outcome, reason: clinical.set_clinical_record(
                self.registry, self.actor, registry_id, record,
                reason=reason, version=view.version, outcome=outcome,
            ),
            self,
        )  # fmt: skip
        dialog.saved.connect(lambda rid, _version: self.open_case(rid, force=True))
        self.last_clinical_dialog = dialog
        dialog.open()
        return dialog

    def open_mark_ready_dialog(self, registry_id: str | None = None) -> MarkReadyDialog | None:
        """Open the mark-ready form for ``registry_id`` (default: the open case), non-blocking;
        it lists what the case misses, read now, and saves through :meth:`mark_ready`."""
        target = registry_id or self._open_id
        if target is None:
            self.report_error("No case open", "Select a case first, then mark it ready.")
            return None
        if not self.open_case(target, force=True):
            return None
        detail = self.case_page.detail
        assert detail is not None
        dialog = MarkReadyDialog(
            target,
            detail.missing_for_reading,
            lambda reason: self.mark_ready(target, reason),
            self,
        )
        dialog.marked.connect(self._marked_ready)
        dialog.open()
        return dialog

    def mark_ready(self, registry_id: str, reason: str | None) -> Readiness:
        """Mark the case ready in one transaction (raises what the registry raises)."""
        return cases.mark_ready(self.registry, self.actor, registry_id, reason=reason)

    def _marked_ready(self, registry_id: str, found: Readiness) -> None:
        self.refresh()
        self.open_case(registry_id)
        overridden = f", {len(found.missing)} missing item(s) overridden" if found.missing else ""
        self._status(f"Marked {registry_id} ready for reading{overridden}")

    def open_import_dialog(self, registry_id: str | None = None) -> ImportImagesDialog | None:
        """Open the image import for ``registry_id`` (default: the open case), non-blocking."""
        target = registry_id or self._open_id
        if target is None:
            self.report_error("No case open", "Select a case first, then import its images.")
            return None
        dialog = ImportImagesDialog(
            self.registry, self.actor, target, self.cache_root, sandbox=self.sandbox, parent=self
        )
        dialog.imported.connect(self._images_imported)
        self.last_import_dialog = dialog
        dialog.open()
        return dialog

    def open_intake_dialog(self) -> IntakeDialog:
        """File → Intake site package…: validate and take in a site's folder (non-blocking);
        the new case opens when it is in."""
        dialog = IntakeDialog(
            self.registry, self.actor, self.cache_root, sandbox=self.sandbox, parent=self
        )
        dialog.taken_in.connect(self._package_taken_in)
        self.last_intake_dialog: IntakeDialog | None = dialog
        dialog.open()
        return dialog

    def _package_taken_in(self, registry_id: str) -> None:
        self.refresh()
        self.open_case(registry_id)
        self._status(f"Took in the site package as case {registry_id}")

    def _images_imported(self, registry_id: str) -> None:
        self.refresh()
        self.open_case(registry_id)
        self.case_page.tabs.setCurrentIndex(0)
        self._status(f"Imported images into {registry_id}")

    def save_lab_result(self, entry: LabEntry) -> None:
        """Write one lab result in one transaction (raises what the registry raises)."""
        cases.add_lab_result(self.registry, self.actor, entry)

    def _lab_saved(self, registry_id: str) -> None:
        self.refresh()  # reloads the open case too: the list's lab count and the page change
        self.open_case(registry_id)
        self.case_page.tabs.setCurrentIndex(1)
        self._status(f"Added a lab result to {registry_id}")

    def _choose_lab_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import lab results", "", "CSV files (*.csv);;All files (*)"
        )
        if path:
            self.import_lab_file(Path(path))

    def import_lab_file(self, path: Path) -> bool:
        """Import a lab CSV, all or nothing; show every refused line. Returns success."""
        try:
            imported = cases.import_lab_file(self.registry, self.actor, path)
        except LabFileError as exc:
            summary = (
                f"{path.name}: {len(exc.errors)} bad row(s). Nothing was imported; fix the "
                "rows below and import the whole file again."
            )
            self.errors.append(str(exc))
            if self.quiet:
                print(f"error: {exc}", file=sys.stderr)
                return False
            self.last_report = ReportDialog(
                "Lab file refused", summary, "\n".join(str(e) for e in exc.errors), self
            )
            self.last_report.open()
            return False
        except RegistryError as exc:
            self.report_error("Lab file refused", user_message(exc))
            return False
        self.refresh()
        done = f"Imported {imported.imported} lab result(s) from {path.name}"
        if imported.skipped_lines:
            lines = ", ".join(str(n) for n in imported.skipped_lines)
            done += (
                f"; {len(imported.skipped_lines)} already on record were skipped (lines {lines})"
            )
        self._status(done)
        self._message(QMessageBox.Icon.Information, "Lab results imported", f"{done}.")
        return True

    # --- feedback ------------------------------------------------------------------------

    def report_error(self, title: str, message: str) -> None:
        """Tell the user about a failure (a message box, or stderr when quiet)."""
        self.errors.append(message)
        if self.quiet:
            print(f"error: {message}", file=sys.stderr)
            return
        sentence = message[:1].upper() + message[1:]
        self._message(QMessageBox.Icon.Warning, title, sentence)
        self._status(sentence)

    def show_about(self) -> QMessageBox:
        """Version, registry and user, in a non-blocking box."""
        roles = ", ".join(sorted(r.value for r in self.actor.roles)) or "no role"
        text = (
            f"<b>{APP_TITLE}</b> {__version__}<br><br>"
            f"Registry: {self.registry.url}<br>"
            f"User: {self.actor.display_name} ({self.actor.username}), {roles}<br><br>"
            f"Qt {QT_VERSION_STR}, PyQt {PYQT_VERSION_STR}, Python {sys.version.split()[0]}"
        )
        return self._message(QMessageBox.Icon.NoIcon, f"About {APP_TITLE}", text)

    def _message(self, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_message_box = box
        return box

    def _status(self, text: str) -> None:
        status = self.statusBar()
        if status is not None:
            status.showMessage(text, 8000)

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802
        """Stop background work and close open forms with the window."""
        self.annotator.shutdown()
        self.review.shutdown()
        for dialog in self.findChildren(QWidget):
            if dialog.isWindow() and dialog is not self and dialog.isVisible():
                dialog.close()
        super().closeEvent(event)


@contextmanager
def _busy() -> Iterator[None]:
    """A wait cursor while a report is computed on the GUI thread (a second or two)."""
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QGuiApplication.restoreOverrideCursor()


def _sentence(text: str) -> str:
    """A refusal as a tooltip: capitalised."""
    return text[:1].upper() + text[1:]
