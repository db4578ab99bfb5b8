"""The review workspace: a case's series, hung in a grid of linked slice views.

:class:`ReviewWorkspace` is the page the main window shows when a reader opens a case's
images. On the left, :class:`SeriesList` lists the series by timepoint (latest first); each
can be dragged onto a viewport (MIME type :data:`viewers.qt.SERIES_MIME_TYPE`, the series id)
or double-clicked into the active one. On the right, a :class:`viewers.qt.QtViewerGrid` with
one :class:`viewers.linking.ViewLink` (a click or a scroll in one viewport moves the others
by world position; zoom and pan are linked on request). Above: layout (1×1 … 2×3), protocol
(hanging or prior vs current), window preset, zoom/pan link, and "Align prior to current".

Volumes are memory-mapped from the voxel cache by series id (:func:`load_layer`), once per
case. A series that cannot be loaded leaves its viewport empty with a message naming it and
saying what to do, and a banner above the grid; nothing is raised at the user.

Alignment: when the prior and current timepoints do not share a frame of reference (or when
the reader asks), :class:`~workbench.ui.alignment.AlignmentJob` registers the prior onto the
current in a background thread, with a progress bar and a Cancel button. The link's world is
the current timepoint's: every viewport showing a prior-timepoint series gets the recovered
transform (current world → prior world) with :meth:`ViewLink.set_transform`, so a click on
the current image lands on the same anatomy in the prior.

Layout, protocol, the zoom/pan link and each sequence class's window preset are remembered
per user (:class:`~workbench.ui.workspace_settings.ReviewSettings`).

Label overlays (lesion masks, next issue): :meth:`ReviewWorkspace.set_label_overlay` attaches
a :class:`viewers.image.LabelLayer` to a series; every viewport showing that series draws it
(the views resample it through the affines, whatever its grid).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QEvent, QMimeData, QObject, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QBrush, QColor, QFont, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewers.geometry import Plane
from viewers.image import ImageLayer, LabelLayer
from viewers.layout import GridLayout, hanging_protocol, prior_current_pairs, prior_current_protocol
from viewers.qt import SERIES_MIME_TYPE, QtSliceView, QtViewerGrid
from viewers.view import SliceView
from viewers.window import PRESETS
from workbench.display import elide_middle
from workbench.ui.alignment import AlignmentJob
from workbench.ui.theme import ACCENT, BORDER, ERROR, MUTED, PANEL
from workbench.ui.workspace_data import (
    ReviewCase,
    ReviewProtocol,
    ReviewSeries,
    SeriesLoadError,
    describe_transform,
    load_layer,
    timepoint_label,
)
from workbench.ui.workspace_settings import AUTO_WINDOW, WINDOW_PRESET_NAMES, ReviewSettings

SERIES_ID_ROLE = Qt.ItemDataRole.UserRole + 1
"""Item data role holding a series id in :class:`SeriesList`."""

LAYOUT_SHORTCUTS = {
    GridLayout.ONE_BY_ONE: "Ctrl+1",
    GridLayout.ONE_BY_TWO: "Ctrl+2",
    GridLayout.TWO_BY_TWO: "Ctrl+3",
    GridLayout.TWO_BY_THREE: "Ctrl+4",
}
PROTOCOL_SHORTCUTS = {
    ReviewProtocol.HANGING: "Ctrl+Shift+H",
    ReviewProtocol.PRIOR_CURRENT: "Ctrl+Shift+P",
}

_STYLE = f"""
QFrame#reviewBar {{ background: {PANEL}; border-bottom: 1px solid {BORDER}; }}
QLabel#reviewTitle {{ font-size: 13pt; font-weight: 600; }}
QLabel#barLabel {{ color: {MUTED}; }}
QLabel#reviewBanner {{
    color: #ffd0d0; background: #3a1f22; border: 1px solid #6b2f35; padding: 4px 8px;
}}
QLabel#reviewNotice {{
    color: #d8e6f5; background: #1d3350; border: 1px solid #2f5788; padding: 4px 8px;
}}
QFrame#alignmentBar {{ background: #1d2a38; border-bottom: 1px solid #2f5788; }}
QLabel#seriesHint {{ color: {MUTED}; padding: 4px 2px; }}
QLabel#viewportMessage {{
    color: #ffd0d0; background: rgba(58, 31, 34, 235); border: 1px solid #8c3a42;
    padding: 12px; font-size: 10.5pt;
}}
QToolButton#linkZoom {{ padding: 3px 8px; }}
QToolButton#linkZoom:checked {{ color: #0b0d10; background: {ACCENT}; border-color: {ACCENT}; }}
QProgressBar {{ border: 1px solid {BORDER}; border-radius: 3px; text-align: center;
                min-height: 16px; max-height: 16px; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
"""


class SeriesList(QTreeWidget):
    """The case's series grouped by timepoint (latest first); drag one onto a viewport."""

    series_activated = pyqtSignal(str)
    """``(series id)``: the user double-clicked (or pressed Enter on) a series."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Series", "Description"])
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setIndentation(14)
        header = self.header()
        assert header is not None
        header.setStretchLastSection(True)
        self.setHeaderHidden(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self._items: dict[str, QTreeWidgetItem] = {}
        self.itemActivated.connect(self._activated)

    def set_case(self, case: ReviewCase) -> None:
        """List the series of ``case``, latest timepoint first."""
        self.clear()
        self._items = {}
        bold = QFont(self.font())
        bold.setBold(True)
        for timepoint in reversed(case.timepoints):
            top = QTreeWidgetItem([timepoint_label(timepoint, case), ""])
            top.setFont(0, bold)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            top.setToolTip(0, timepoint.description or f"Day {timepoint.day}")
            for series in timepoint.series:
                item = QTreeWidgetItem([series.sequence_class, series.description])
                item.setData(0, SERIES_ID_ROLE, series.series_id)
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
                item.setToolTip(0, self._tooltip(series))
                item.setToolTip(1, self._tooltip(series))
                top.addChild(item)
                self._items[series.series_id] = item
            self.addTopLevelItem(top)
            top.setFirstColumnSpanned(True)  # only works once the item is in the tree
        self.expandAll()

    @staticmethod
    def _tooltip(series: ReviewSeries) -> str:
        shape = "×".join(str(n) for n in series.shape)
        frame = series.frame_of_reference_uid or "none recorded"
        return (
            f"{series.name} — {series.description or 'no description'}\n"
            f"{shape} {series.dtype}\nFrame of reference: {frame}\n"
            "Drag onto a viewport, or double-click to show it in the active one."
        )

    def item_of(self, series_id: str) -> QTreeWidgetItem | None:
        """The row of ``series_id``, or None."""
        return self._items.get(series_id)

    def series_ids(self) -> list[str]:
        """Series ids in display order."""
        return list(self._items)

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt override
        """A drag carries a series id."""
        return [SERIES_MIME_TYPE]

    def mimeData(self, items: Iterable[QTreeWidgetItem]) -> QMimeData | None:  # noqa: N802
        """The dragged series' id as :data:`SERIES_MIME_TYPE` (and as text)."""
        ids = [str(i.data(0, SERIES_ID_ROLE)) for i in items if i.data(0, SERIES_ID_ROLE)]
        if not ids:
            return None
        mime = QMimeData()
        mime.setData(SERIES_MIME_TYPE, ids[0].encode("utf-8"))
        mime.setText(ids[0])
        return mime

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802 - Qt override
        """Copy only: the tree's model drags with these actions, and a "move" would take
        the series out of the list."""
        return Qt.DropAction.CopyAction

    def mark(self, shown: Iterable[str], broken: Iterable[str]) -> None:
        """Highlight series shown in a viewport; mark those that failed to load."""
        shown_set, broken_set = set(shown), set(broken)
        for series_id, item in self._items.items():
            if series_id in broken_set:
                colour: QColor | None = QColor(ERROR)
            elif series_id in shown_set:
                colour = QColor(ACCENT)
            else:
                colour = None
            for column in (0, 1):
                if colour is None:
                    item.setData(column, Qt.ItemDataRole.ForegroundRole, None)
                else:
                    item.setForeground(column, QBrush(colour))
            font = QFont(self.font())
            font.setBold(series_id in shown_set)
            item.setFont(0, font)

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        series_id = item.data(0, SERIES_ID_ROLE)
        if series_id:
            self.series_activated.emit(str(series_id))


class ViewportMessage(QLabel):
    """A message box drawn over a viewport (a series that cannot be shown there)."""

    def __init__(self, text: str, viewport: QtSliceView) -> None:
        super().__init__(text, viewport)
        self.setObjectName("viewportMessage")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        viewport.installEventFilter(self)
        self._viewport = viewport
        self._place()
        self.show()

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:  # noqa: N802
        """Follow the viewport's size."""
        if watched is self._viewport and event is not None and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        width = max(min(self._viewport.width() - 24, 460), 80)
        self.setFixedWidth(width)
        self.adjustSize()
        height = min(self.sizeHint().height(), max(self._viewport.height() - 24, 40))
        self.setGeometry(
            (self._viewport.width() - width) // 2,
            (self._viewport.height() - height) // 2,
            width,
            height,
        )


class ReviewWorkspace(QWidget):
    """The review page of one case: series list, viewer grid, toolbar, alignment.

    Give it plain values with :meth:`show_case`; it reads voxels from the cache itself (by
    series id) and never touches the registry.
    """

    back_requested = pyqtSignal()
    """The user asked to go back to the case page."""
    problem = pyqtSignal(str)
    """``(message)``: something could not be done (a series not loaded, alignment failed)."""
    status = pyqtSignal(str)
    """``(message)``: something worth a line in the status bar."""
    alignment_done = pyqtSignal(object)
    """``(np.ndarray | None)``: an alignment ended with this transform (None: cancelled or
    failed)."""

    def __init__(
        self,
        settings: ReviewSettings,
        cache_root: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("reviewWorkspace")
        self.setStyleSheet(_STYLE)
        self.settings = settings
        self.cache_root = cache_root
        self._case: ReviewCase | None = None
        self._layers: dict[str, ImageLayer] = {}
        self._errors: dict[str, SeriesLoadError] = {}
        self._shown: dict[SliceView, str] = {}
        self._messages: dict[SliceView, str] = {}
        self._message_widgets: dict[SliceView, ViewportMessage] = {}
        self._overlays: dict[str, dict[str, LabelLayer]] = {}
        self._transforms: dict[int, np.ndarray] = {}
        self._job: AlignmentJob | None = None
        self._job_days: tuple[int, int] | None = None
        self._restored = False
        self._page_active = True
        self._protocol = ReviewProtocol.HANGING
        self._notice = ""

        self._build_actions()
        self.grid = QtViewerGrid(GridLayout.TWO_BY_TWO)
        self.series_list = SeriesList()
        self._build()
        self.grid.series_dropped.connect(self._dropped)
        self.grid.layout_changed.connect(self._grid_rebuilt)
        self.grid.active_changed.connect(self._active_changed)
        self.series_list.series_activated.connect(self._series_activated)

    # --- construction --------------------------------------------------------------------

    def _action(self, text: str, shortcut: str | Sequence[str] | None, tip: str) -> QAction:
        action = QAction(text, self)
        shortcuts = [shortcut] if isinstance(shortcut, str) else list(shortcut or [])
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setToolTip(f"{tip} ({shortcuts[0]})")
        else:
            action.setToolTip(tip)
        action.setStatusTip(tip)
        return action

    def _build_actions(self) -> None:
        self.back_action = self._action(
            "&Back to case", "Alt+Left", "Leave the images, show the case page"
        )  # not Esc: the viewports' drawing tools use it to cancel
        self.back_action.triggered.connect(self.back_requested)
        self.layout_actions: dict[GridLayout, QAction] = {}
        layout_group = QActionGroup(self)
        for layout in GridLayout:
            action = self._action(
                f"{layout.label} layout", LAYOUT_SHORTCUTS[layout], f"{layout.label} viewports"
            )
            action.setCheckable(True)
            action.setActionGroup(layout_group)
            action.triggered.connect(lambda _=False, chosen=layout: self.set_grid_layout(chosen))
            self.layout_actions[layout] = action
        self.protocol_actions: dict[ReviewProtocol, QAction] = {}
        protocol_group = QActionGroup(self)
        tips = {
            ReviewProtocol.HANGING: "Latest timepoint: FLAIR, T2, T1, T1+Gd, DWI, ADC",
            ReviewProtocol.PRIOR_CURRENT: "The same sequence of the two latest timepoints",
        }
        for protocol in ReviewProtocol:
            action = self._action(protocol.label, PROTOCOL_SHORTCUTS[protocol], tips[protocol])
            action.setCheckable(True)
            action.setActionGroup(protocol_group)
            action.triggered.connect(lambda _=False, chosen=protocol: self.set_protocol(chosen))
            self.protocol_actions[protocol] = action
        self.link_zoom_action = self._action(
            "Link &zoom and pan", "Ctrl+Shift+L", "Zoom and pan all viewports together"
        )
        self.link_zoom_action.setCheckable(True)
        self.link_zoom_action.toggled.connect(self.set_link_zoom_pan)
        self.align_action = self._action(
            "&Align prior to current",
            "Ctrl+Shift+A",
            "Register the prior timepoint onto the current one (rigid, in the background)",
        )
        self.align_action.triggered.connect(self.align_prior_to_current)
        self.reset_alignment_action = self._action(
            "&Reset alignment", None, "Link prior and current by scanner coordinates again"
        )
        self.reset_alignment_action.triggered.connect(self.reset_alignment)
        self.reset_alignment_action.setEnabled(False)
        self.annotate_action = self._action(
            "Annotate &lesions",
            "Ctrl+Shift+E",
            "Draw lesions on the active viewport's series (your draft read, saved as you work)",
        )
        self.annotate_action.setCheckable(True)
        self.annotate_action.setEnabled(False)
        self.annotation_allowed = True
        """Whether the acting user may annotate (the annotator says; readers only)."""

    @property
    def actions_for_menu(self) -> list[QAction | None]:
        """The workspace's actions in menu order (None = separator)."""
        return [
            self.back_action,
            None,
            *self.layout_actions.values(),
            None,
            *self.protocol_actions.values(),
            None,
            self.link_zoom_action,
            self.align_action,
            self.reset_alignment_action,
            None,
            self.annotate_action,
        ]

    def _build(self) -> None:
        bar = QFrame()
        bar.setObjectName("reviewBar")
        self.back_button = QToolButton()
        self.back_button.setDefaultAction(self.back_action)
        self.back_button.setText("◀  Back to case")
        self.title_label = QLabel()
        self.title_label.setObjectName("reviewTitle")
        self.subtitle_label = QLabel()
        self.subtitle_label.setObjectName("barLabel")
        # Takes the room left over, never widens the window (the grid needs it more).
        self.subtitle_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.layout_box = QComboBox()
        for choice in GridLayout:
            self.layout_box.addItem(choice.label, choice)
        self.layout_box.setToolTip("Viewport layout (Ctrl+1 … Ctrl+4)")
        self.protocol_box = QComboBox()
        for protocol in ReviewProtocol:
            self.protocol_box.addItem(protocol.label, protocol)
        self.protocol_box.setToolTip(
            "Hanging protocol (Ctrl+Shift+H): latest timepoint in reading order.\n"
            "Prior vs current (Ctrl+Shift+P): one sequence of the two latest timepoints."
        )
        self.window_box = QComboBox()
        for name in WINDOW_PRESET_NAMES:
            self.window_box.addItem(name, name)
        self._window_tips()
        self.link_zoom_button = QToolButton()
        self.link_zoom_button.setObjectName("linkZoom")
        self.link_zoom_action.setIconText("Link zoom/pan")
        self.link_zoom_button.setDefaultAction(self.link_zoom_action)
        self.align_button = QToolButton()
        self.align_action.setIconText("Align prior → current")
        self.align_button.setDefaultAction(self.align_action)
        for box in (self.layout_box, self.protocol_box, self.window_box):
            box.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        row = QHBoxLayout(bar)
        row.setContentsMargins(6, 4, 6, 4)
        row.setSpacing(6)
        row.addWidget(self.back_button)
        row.addSpacing(6)
        row.addWidget(self.title_label)
        row.addSpacing(4)
        row.addWidget(self.subtitle_label, 1)
        for text, widget in (
            ("Layout", self.layout_box),
            ("Protocol", self.protocol_box),
            ("Window", self.window_box),
        ):
            label = QLabel(text)
            label.setObjectName("barLabel")
            label.setBuddy(widget)
            row.addWidget(label)
            row.addWidget(widget)
            row.addSpacing(8)
        row.addWidget(self.link_zoom_button)
        row.addWidget(self.align_button)
        self.annotate_button = QToolButton()
        self.annotate_button.setObjectName("linkZoom")
        self.annotate_action.setIconText("Annotate")
        self.annotate_button.setDefaultAction(self.annotate_action)
        row.addWidget(self.annotate_button)

        self.alignment_bar = QFrame()
        self.alignment_bar.setObjectName("alignmentBar")
        self.alignment_label = QLabel()
        self.alignment_progress = QProgressBar()
        self.alignment_progress.setRange(0, 1000)
        self.alignment_progress.setFixedWidth(260)
        self.alignment_progress.setFormat("%p %")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the alignment; prior and current stay as they were")
        self.cancel_button.clicked.connect(self.cancel_alignment)
        self.dismiss_button = QToolButton()
        self.dismiss_button.setText("✕")
        self.dismiss_button.setToolTip("Hide this line")
        self.dismiss_button.setAutoRaise(True)
        self.dismiss_button.clicked.connect(self.alignment_bar.hide)
        align_row = QHBoxLayout(self.alignment_bar)
        align_row.setContentsMargins(10, 3, 6, 3)
        align_row.addWidget(self.alignment_label, 1)
        align_row.addWidget(self.alignment_progress)
        align_row.addWidget(self.cancel_button)
        align_row.addWidget(self.dismiss_button)
        self.alignment_bar.hide()

        self.banner = QLabel()
        self.banner.setObjectName("reviewBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.notice = QLabel()
        self.notice.setObjectName("reviewNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()

        hint = QLabel("Drag a series onto a viewport, or double-click it for the active one.")
        hint.setObjectName("seriesHint")
        hint.setWordWrap(True)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(6, 6, 2, 6)
        side_layout.setSpacing(4)
        side_title = QLabel("Series")
        side_title.setObjectName("barLabel")
        side_layout.addWidget(side_title)
        side_layout.addWidget(self.series_list, 1)
        side_layout.addWidget(hint)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(0)
        right_layout.addWidget(self.alignment_bar)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.notice)
        self.annotation_top = QVBoxLayout()
        """Host above the grid for the annotation toolbar (filled by the annotator)."""
        self.annotation_top.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(self.annotation_top)
        right_layout.addWidget(self.grid, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(side)
        self.splitter.addWidget(right)
        self.annotation_side = QWidget()
        """Panel right of the grid for the lesion table (filled by the annotator)."""
        self.annotation_side.setObjectName("annotationSide")
        side_host = QVBoxLayout(self.annotation_side)
        side_host.setContentsMargins(2, 0, 0, 0)
        self.annotation_side.hide()
        self.splitter.addWidget(self.annotation_side)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([260, 1020, 0])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(self.splitter, 1)

        self.layout_box.currentIndexChanged.connect(self._layout_chosen)
        self.protocol_box.currentIndexChanged.connect(self._protocol_chosen)
        self.window_box.currentIndexChanged.connect(self._window_chosen)
        self._sync_controls()

    def _window_tips(self) -> None:
        self.window_box.setItemData(
            0, "The view's automatic window (1st–99th percentile)", Qt.ItemDataRole.ToolTipRole
        )
        for n, preset in enumerate(PRESETS, start=1):
            self.window_box.setItemData(n, preset.description, Qt.ItemDataRole.ToolTipRole)
        self.window_box.setToolTip(
            "Window preset of the active viewport's sequence, remembered for that sequence\n"
            "(keys 1–6 in a viewport apply one once)"
        )

    # --- showing a case ------------------------------------------------------------------

    @property
    def case(self) -> ReviewCase | None:
        """The case shown, if any."""
        return self._case

    @property
    def protocol(self) -> ReviewProtocol:
        """The hanging protocol in use."""
        return self._protocol

    @property
    def grid_layout(self) -> GridLayout:
        """The grid layout in use."""
        return self.grid.grid_layout

    def _restore_settings(self) -> None:
        """Take the user's layout, protocol and zoom link (first case only)."""
        if self._restored:
            return
        self._restored = True
        self._protocol = self.settings.protocol
        self.grid.set_grid_layout(self.settings.layout)
        with _Blocked(self.link_zoom_action):
            self.link_zoom_action.setChecked(self.settings.link_zoom_pan)
        self._apply_link_zoom(self.settings.link_zoom_pan)
        self._sync_controls()

    def show_case(
        self,
        case: ReviewCase,
        *,
        layout: GridLayout | None = None,
        protocol: ReviewProtocol | None = None,
    ) -> None:
        """Show ``case``: list its series and hang them by the protocol.

        ``layout`` and ``protocol`` override the user's remembered ones for this time (they
        are not remembered). The same case again (same series) keeps what the viewports
        show unless a layout or protocol is given.
        """
        self._restore_settings()
        same = (
            self._case is not None
            and self._case.registry_id == case.registry_id
            and self._case.series_ids == case.series_ids
        )
        if not same:
            self.cancel_alignment(wait=True)
            self._layers.clear()
            self._errors.clear()
            self._transforms.clear()
            self.alignment_bar.hide()
            self.reset_alignment_action.setEnabled(False)
        self._case = case
        self.title_label.setText(case.registry_id)
        self.series_list.set_case(case)
        if layout is not None:
            self.set_grid_layout(layout, remember=False, rehang=False)
        if protocol is not None:
            self._protocol = protocol
        self._sync_controls()
        if not same or layout is not None or protocol is not None:
            self.apply_protocol()
        else:
            self._refresh_marks()

    def apply_protocol(self) -> list[str | None]:
        """Hang the case's series by the current protocol and layout; returns the ids hung."""
        case = self._case
        cells: list[str | None] = [None] * self.grid_layout.count
        self._notice = ""
        if case is None or case.current is None:
            if case is not None:
                self._notice = "This case has no imaging yet: import its series first."
        elif self._protocol is ReviewProtocol.PRIOR_CURRENT and case.prior is None:
            self._notice = (
                f"Only one timepoint (day {case.current.day}): prior vs current needs two, "
                "so the latest timepoint is hung in reading order."
            )
            cells = hanging_protocol(case.current.entries, self.grid_layout)
        elif self._protocol is ReviewProtocol.PRIOR_CURRENT:
            assert case.prior is not None
            prior, current = case.prior.entries, case.current.entries
            cells = prior_current_protocol(prior, current, self.grid_layout)
            if not prior_current_pairs(prior, current):
                self._notice = (
                    f"Day {case.prior.day} and day {case.current.day} have no sequence in "
                    "common to compare."
                )
        else:
            cells = hanging_protocol(case.current.entries, self.grid_layout)
        for view in self.grid.views:
            view.plane = Plane.AXIAL
        for index, series_id in enumerate(cells):
            self.show_series(index, series_id, refresh=False)
        self._refresh_marks()
        self._update_banner()
        self.subtitle_label.setText(self._subtitle())
        if (
            self._protocol is ReviewProtocol.PRIOR_CURRENT
            and case is not None
            and case.prior is not None
            and case.needs_alignment()
            and case.prior.day not in self._transforms
            and self._job is None
        ):
            self.align_prior_to_current()
        return cells

    def _subtitle(self) -> str:
        case = self._case
        if case is None or case.current is None:
            return ""
        if self._protocol is ReviewProtocol.PRIOR_CURRENT and case.prior is not None:
            return f"day {case.prior.day} → day {case.current.day}"
        count = len(case.timepoints)
        return f"day {case.current.day}" + (f" (of {count} timepoints)" if count > 1 else "")

    def show_series(self, index: int, series_id: str | None, *, refresh: bool = True) -> bool:
        """Show ``series_id`` (None: nothing) in viewport ``index``; False if it failed.

        A failure leaves the viewport empty with a message naming the series and saying what
        to do, and is reported through :attr:`problem`.
        """
        view = self.grid.views[index]
        for label in view.labels:
            view.remove_label(label.name)
        series = None if series_id is None or self._case is None else self._case.find(series_id)
        if series_id is not None and series is None:
            self._forget(view)
            view.set_image(None)
            self._set_message(view, f"Series {series_id} is not part of this case.")
            self.problem.emit(f"series {series_id} is not part of case {self._case_id()}")
            return False
        if series is None:
            self._forget(view)
            view.set_image(None)
            self._set_message(view, None)
            if refresh:
                self._refresh_marks()
            return True
        try:
            layer = self._layer(series)
        except SeriesLoadError as exc:
            self._forget(view)
            view.set_image(None)
            reason = f"{exc.reason[:1].upper()}{exc.reason[1:]}."
            self._set_message(view, f"{exc.title}.\n\n{reason}\n\n{exc.advice}")
            if refresh:
                self._refresh_marks()
                self._update_banner()
            return False
        self._set_message(view, None)
        view.set_image(layer)
        self.grid.link.set_transform(view, self._transforms.get(series.day))
        self._apply_window(view, series)
        for overlay in self._overlays.get(series.series_id, {}).values():
            view.add_label(overlay)
        self._shown[view] = series.series_id
        if refresh:
            self._refresh_marks()
        return True

    def _forget(self, view: SliceView) -> None:
        self._shown.pop(view, None)

    def _layer(self, series: ReviewSeries) -> ImageLayer:
        layer = self._layers.get(series.series_id)
        if layer is None:
            try:
                layer = load_layer(series, self.cache_root)
            except SeriesLoadError as exc:
                first = series.series_id not in self._errors
                self._errors[series.series_id] = exc
                if first:
                    self.problem.emit(exc.message)
                raise
            self._errors.pop(series.series_id, None)
            self._layers[series.series_id] = layer
        return layer

    def _case_id(self) -> str:
        return self._case.registry_id if self._case is not None else "—"

    def viewport_series(self) -> list[str | None]:
        """The series id shown in each visible viewport (None: empty), row-major."""
        return [self._shown.get(view) for view in self.grid.views]

    def viewport_names(self) -> list[str | None]:
        """The image layer name shown in each visible viewport (None: empty), row-major."""
        return [None if v.image is None else v.image.name for v in self.grid.views]

    def viewport_message(self, index: int) -> str | None:
        """The message over viewport ``index`` (a series that failed to load), or None."""
        return self._messages.get(self.grid.views[index])

    @property
    def load_errors(self) -> dict[str, SeriesLoadError]:
        """Series that failed to load, by id."""
        return dict(self._errors)

    def views_showing(self, series_id: str) -> list[SliceView]:
        """The visible views that show ``series_id``."""
        return [v for v in self.grid.views if self._shown.get(v) == series_id]

    # --- messages ------------------------------------------------------------------------

    def _set_message(self, view: SliceView, text: str | None) -> None:
        old = self._message_widgets.pop(view, None)
        if old is not None:
            old.deleteLater()
        if text is None:
            self._messages.pop(view, None)
            return
        self._messages[view] = text
        self._attach_message(view)

    def _attach_message(self, view: SliceView) -> None:
        if view not in self._messages:
            return
        for index, shown in enumerate(self.grid.views):
            if shown is view:
                widget = ViewportMessage(self._messages[view], self.grid.viewport(index))
                self._message_widgets[view] = widget

    def _update_banner(self) -> None:
        problems = list(self._errors.values())
        if problems:
            lines = []
            for error in problems:
                where = (
                    f" <span style='color:#c99'>({elide_middle(error.path, 64)})</span>"
                    if error.path
                    else ""
                )
                lines.append(f"<b>{error.title}</b>: {error.reason}{where}")
            self.banner.setText("<br>".join([*lines, problems[0].advice]))
            self.banner.setToolTip("\n".join(e.path or e.message for e in problems))
            self.banner.show()
        else:
            self.banner.hide()
        self.notice.setText(self._notice)
        self.notice.setVisible(bool(self._notice))

    def _refresh_marks(self) -> None:
        shown = [sid for sid in self.viewport_series() if sid is not None]
        self.series_list.mark(shown, self._errors)
        self._sync_window_box()

    # --- layout, protocol, window, link ----------------------------------------------------

    def set_grid_layout(
        self, layout: GridLayout, *, remember: bool = True, rehang: bool = True
    ) -> None:
        """Use ``layout`` and hang the series again; ``remember`` it for this user."""
        if remember:
            self.settings.layout = layout
        changed = layout is not self.grid.grid_layout
        self.grid.set_grid_layout(layout)
        self._sync_controls()
        if rehang and (changed or self._case is not None):
            self.apply_protocol()

    def set_protocol(self, protocol: ReviewProtocol, *, remember: bool = True) -> None:
        """Use ``protocol`` and hang the series again; ``remember`` it for this user."""
        if remember:
            self.settings.protocol = protocol
        self._protocol = protocol
        self._sync_controls()
        self.apply_protocol()

    def set_link_zoom_pan(self, linked: bool, *, remember: bool = True) -> None:
        """Link (or unlink) zoom and pan between the viewports."""
        if remember:
            self.settings.link_zoom_pan = linked
        with _Blocked(self.link_zoom_action):
            self.link_zoom_action.setChecked(linked)
        self._apply_link_zoom(linked)

    def _apply_link_zoom(self, linked: bool) -> None:
        link = self.grid.link
        link.link_zoom = link.link_pan = linked
        views = self.grid.views
        active = views[min(self.grid.active_index, len(views) - 1)] if views else None
        if linked and active is not None:
            for view in views:
                if view is not active and view.linked and view.plane is active.plane:
                    view.set_camera(zoom=active.zoom, pan=active.pan)

    def set_window_preset(self, name: str, *, remember: bool = True) -> None:
        """Apply window preset ``name`` to every viewport showing the active viewport's
        sequence class, and ``remember`` it for that class."""
        if name not in WINDOW_PRESET_NAMES:
            raise ValueError(f"unknown window preset {name!r}")
        series = self._active_series()
        if series is None:
            return
        if remember:
            self.settings.set_window_preset(series.sequence_class, name)
        for view in self.grid.views:
            shown = self._series_of(view)
            if shown is not None and shown.sequence_class == series.sequence_class:
                self._apply_preset(view, name)
        self._sync_window_box()

    def _apply_window(self, view: SliceView, series: ReviewSeries) -> None:
        self._apply_preset(view, self.settings.window_preset(series.sequence_class))

    @staticmethod
    def _apply_preset(view: SliceView, name: str) -> None:
        if name == AUTO_WINDOW:
            view.auto_window()
            return
        for preset in PRESETS:
            if preset.name == name:
                view.apply_preset(preset)

    def _series_of(self, view: SliceView) -> ReviewSeries | None:
        series_id = self._shown.get(view)
        if series_id is None or self._case is None:
            return None
        return self._case.find(series_id)

    def _active_series(self) -> ReviewSeries | None:
        views = self.grid.views
        index = self.grid.active_index
        return self._series_of(views[index]) if 0 <= index < len(views) else None

    def _sync_controls(self) -> None:
        with _Blocked(self.layout_box), _Blocked(self.protocol_box):
            self.layout_box.setCurrentIndex(list(GridLayout).index(self.grid.grid_layout))
            self.protocol_box.setCurrentIndex(list(ReviewProtocol).index(self._protocol))
        self.layout_actions[self.grid.grid_layout].setChecked(True)
        self.protocol_actions[self._protocol].setChecked(True)
        self._sync_window_box()
        self._sync_align_action()

    def _sync_window_box(self) -> None:
        series = self._active_series()
        with _Blocked(self.window_box):
            self.window_box.setEnabled(series is not None)
            if series is not None:
                name = self.settings.window_preset(series.sequence_class)
                self.window_box.setCurrentIndex(WINDOW_PRESET_NAMES.index(name))

    def set_page_active(self, active: bool) -> None:
        """Enable the workspace's actions (and shortcuts) only while its page is shown."""
        self._page_active = active
        for action in self.actions_for_menu:
            if action is not None:
                action.setEnabled(active)
        self.annotate_action.setEnabled(active and self.annotation_allowed)
        self.reset_alignment_action.setEnabled(active and bool(self._transforms))
        self._sync_align_action()

    def _sync_align_action(self) -> None:
        case = self._case
        possible = case is not None and case.prior is not None and self._job is None
        self.align_action.setEnabled(possible and self._page_active)
        if case is not None and case.prior is None:
            self.align_action.setToolTip("Alignment needs two timepoints")
        else:
            self.align_action.setToolTip(
                "Register the prior timepoint onto the current one (Ctrl+Shift+A)"
            )

    def _layout_chosen(self, index: int) -> None:
        layout = self.layout_box.itemData(index)
        if isinstance(layout, GridLayout):
            self.set_grid_layout(layout)

    def _protocol_chosen(self, index: int) -> None:
        protocol = self.protocol_box.itemData(index)
        if isinstance(protocol, ReviewProtocol):
            self.set_protocol(protocol)

    def _window_chosen(self, index: int) -> None:
        name = self.window_box.itemData(index)
        if isinstance(name, str):
            self.set_window_preset(name)

    def _grid_rebuilt(self, _layout: object) -> None:
        """The grid made new viewport widgets: put the messages back over them."""
        self._message_widgets.clear()  # the old widgets go with their viewports
        for view in list(self._messages):
            self._attach_message(view)
        if self.link_zoom_action.isChecked():
            self._apply_link_zoom(True)

    def _active_changed(self, _index: int) -> None:
        self._sync_window_box()

    # --- drag and drop, double-click -------------------------------------------------------

    def _dropped(self, index: int, series_id: str) -> None:
        if self.show_series(index, series_id):
            self.grid.set_active(index)
            series = self._case.find(series_id) if self._case is not None else None
            if series is not None:
                self.status.emit(f"{series.name} in viewport {index + 1}")
        self._update_banner()

    def _series_activated(self, series_id: str) -> None:
        self.show_in_active(series_id)

    def show_in_active(self, series_id: str) -> bool:
        """Show ``series_id`` in the active viewport."""
        index = self.grid.active_index
        done = self.show_series(index, series_id)
        self._update_banner()
        return done

    def reveal_series(self, series_id: str) -> bool:
        """Make sure ``series_id`` is visible: activate its viewport, or show it in the
        active one. Selects it in the series list."""
        item = self.series_list.item_of(series_id)
        if item is not None:
            self.series_list.setCurrentItem(item)
        for index, shown in enumerate(self.viewport_series()):
            if shown == series_id:
                self.grid.set_active(index)
                return True
        return self.show_in_active(series_id)

    # --- alignment -------------------------------------------------------------------------

    @property
    def alignment_running(self) -> bool:
        """Whether an alignment is under way."""
        return self._job is not None

    @property
    def alignment_job(self) -> AlignmentJob | None:
        """The alignment under way, if any."""
        return self._job

    def alignment_transform(self, day: int) -> np.ndarray | None:
        """The transform from the current timepoint's world to day ``day``'s, if aligned."""
        found = self._transforms.get(day)
        return None if found is None else found.copy()

    def _alignment_pair(self) -> tuple[ReviewSeries, ReviewSeries] | None:
        """``(current, prior)`` series to register: the first sequence both timepoints have
        in reading order (FLAIR when present)."""
        case = self._case
        if case is None or case.prior is None or case.current is None:
            return None
        pairs = prior_current_pairs(case.prior.entries, case.current.entries)
        if not pairs:
            return None
        _, prior_id, current_id = pairs[0]
        prior, current = case.find(prior_id), case.find(current_id)
        assert prior is not None
        assert current is not None
        return current, prior

    def align_prior_to_current(self) -> bool:
        """Start aligning the prior timepoint to the current one in the background.

        Returns False (and says why through :attr:`problem`) when it cannot start.
        """
        if self._job is not None:
            return False
        pair = self._alignment_pair()
        if pair is None:
            self.problem.emit("alignment needs two timepoints with a sequence in common")
            return False
        current, prior = pair
        try:
            fixed, moving = self._layer(current), self._layer(prior)
        except SeriesLoadError:
            self._update_banner()
            return False
        job = AlignmentJob(fixed, moving, self)
        self._job = job
        self._job_days = (current.day, prior.day)
        job.progress.connect(self._alignment_progress)
        job.succeeded.connect(lambda matrix, j=job: self._alignment_succeeded(j, matrix))
        job.cancelled.connect(lambda j=job: self._alignment_ended(j, "Alignment cancelled."))
        job.failed.connect(
            lambda text, j=job: self._alignment_ended(j, f"Alignment failed: {text}", True)
        )
        job.finished.connect(job.deleteLater)
        self.alignment_label.setText(
            f"Aligning day {prior.day} ({prior.sequence_class}) to day {current.day} "
            f"({current.sequence_class})… the images stay usable meanwhile."
        )
        self.alignment_progress.setValue(0)
        self.alignment_progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.dismiss_button.hide()
        self.alignment_bar.show()
        self._sync_align_action()
        job.start()
        return True

    def cancel_alignment(self, *, wait: bool = False) -> None:
        """Stop a running alignment (``wait``: until its thread has ended)."""
        job = self._job
        if job is None:
            return
        job.cancel()
        self.cancel_button.setEnabled(False)
        self.alignment_label.setText("Cancelling the alignment…")
        if wait:
            job.wait()
            self._alignment_ended(job, "Alignment cancelled.")

    def _alignment_progress(self, fraction: float) -> None:
        self.alignment_progress.setValue(round(fraction * 1000))

    def _alignment_succeeded(self, job: AlignmentJob, matrix: np.ndarray) -> None:
        if job is not self._job or self._job_days is None or job.cancel_requested:
            self._alignment_ended(job, "Alignment cancelled.")
            return
        current_day, prior_day = self._job_days
        self._transforms[prior_day] = np.asarray(matrix, dtype=np.float64)
        for view in self.grid.views:
            series = self._series_of(view)
            if series is not None:
                self.grid.link.set_transform(view, self._transforms.get(series.day))
        shift, angle = describe_transform(matrix, job.fixed.center_world)
        text = (
            f"Day {prior_day} aligned to day {current_day}: the prior follows the current "
            f"cursor (shift {shift:.1f} mm, rotation {angle:.1f}°)."
        )
        self._finish_job(job, text)
        self.reset_alignment_action.setEnabled(self._page_active)
        self.status.emit(text)
        self.alignment_done.emit(matrix)

    def _alignment_ended(self, job: AlignmentJob, text: str, failed: bool = False) -> None:
        if job is not self._job:
            return
        self._finish_job(job, text)
        if failed:
            self.problem.emit(text)
        else:
            self.status.emit(text)
        self.alignment_done.emit(None)

    def _finish_job(self, job: AlignmentJob, text: str) -> None:
        self._job = None
        self._job_days = None
        self.alignment_label.setText(text)
        self.alignment_progress.hide()
        self.cancel_button.hide()
        self.dismiss_button.show()
        self._sync_align_action()

    def reset_alignment(self) -> None:
        """Forget the alignment: link prior and current by scanner coordinates again."""
        self._transforms.clear()
        for view in self.grid.views:
            self.grid.link.set_transform(view, None)
        self.reset_alignment_action.setEnabled(False)
        self.alignment_bar.hide()
        self.status.emit("Alignment reset: prior and current linked by scanner coordinates")

    def shutdown(self) -> None:
        """Stop background work (before the window closes)."""
        self.cancel_alignment(wait=True)

    # --- label overlays (lesion masks) -----------------------------------------------------

    def set_label_overlay(self, series_id: str, layer: LabelLayer) -> None:
        """Draw ``layer`` over ``series_id`` wherever it is shown (now and later).

        The label map may lie on any grid: the views resample it through its affine. A layer
        of the same name on that series is replaced.
        """
        overlays = self._overlays.setdefault(series_id, {})
        overlays[layer.name] = layer
        for view in self.views_showing(series_id):
            if any(existing.name == layer.name for existing in view.labels):
                view.remove_label(layer.name)
            view.add_label(layer)

    def remove_label_overlay(self, series_id: str, name: str) -> None:
        """Stop drawing the overlay ``name`` over ``series_id`` (no error if absent)."""
        self._overlays.get(series_id, {}).pop(name, None)
        for view in self.views_showing(series_id):
            view.remove_label(name)

    def active_series(self) -> ReviewSeries | None:
        """The series shown in the active viewport, if any."""
        return self._active_series()

    def image_layer(self, series_id: str) -> ImageLayer | None:
        """The loaded image of ``series_id`` (None if it is not loaded or cannot be)."""
        series = None if self._case is None else self._case.find(series_id)
        if series is None:
            return None
        try:
            return self._layer(series)
        except SeriesLoadError:
            return None

    def label_overlays(self, series_id: str) -> tuple[LabelLayer, ...]:
        """The overlays attached to ``series_id``."""
        return tuple(self._overlays.get(series_id, {}).values())


class _Blocked:
    """Block a Qt object's signals inside a ``with`` block."""

    def __init__(self, target: QObject) -> None:
        self._target = target
        self._was = False

    def __enter__(self) -> None:
        self._was = self._target.blockSignals(True)

    def __exit__(self, *_: object) -> None:
        self._target.blockSignals(self._was)
