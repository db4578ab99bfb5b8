"""``QtViewerGrid``: a grid of slice views (1×1, 1×2, 2×2, 2×3) with linked cursors.

Each viewport is a :class:`QtSliceView` under a slim header: the viewport's title, a plane
selector (axial, coronal, sagittal) and a link toggle. All viewports share one
:class:`viewers.linking.ViewLink`, so a click in one moves the cursor in all linked ones.

Series are dropped onto viewports: a drag carrying MIME type
``application/x-pml-series-id`` (the series id as UTF-8) is accepted and
:attr:`QtViewerGrid.series_dropped` ``(viewport index, series id)`` is emitted. The grid
loads nothing itself; the application decides what a series id means and calls
``grid.views[i].set_image(...)``.

Switching layouts keeps the models of the viewports that remain (and remembers the others,
so switching back restores them).
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from viewers.events import Signal
from viewers.geometry import Plane
from viewers.layout import GridLayout
from viewers.linking import ViewLink
from viewers.qt.qt_slice_view import QtSliceView
from viewers.view import SliceView

SERIES_MIME_TYPE = "application/x-pml-series-id"
"""MIME type of a dragged series: its id, UTF-8 encoded."""

_DEFAULT_PLANES = (
    Plane.AXIAL,
    Plane.AXIAL,
    Plane.CORONAL,
    Plane.SAGITTAL,
    Plane.AXIAL,
    Plane.AXIAL,
)

_STYLE = """
QFrame#viewport { background: #000000; border: 1px solid #2a2f36; }
QFrame#viewport[active="true"] { border: 1px solid #4fa3ff; }
QFrame#viewport[dropping="true"] { border: 2px dashed #ffd866; }
QFrame#viewportHeader { background: #16191d; border: none; border-bottom: 1px solid #2a2f36; }
QLabel#viewportTitle { color: #d8dde3; font-weight: bold; padding-left: 4px; }
QComboBox { color: #d8dde3; background: #22262c; border: 1px solid #3a4048; padding: 0 6px;
            min-height: 18px; }
QComboBox QAbstractItemView { color: #d8dde3; background: #22262c;
                              selection-background-color: #34506e; }
QToolButton { color: #9aa3ad; background: #22262c; border: 1px solid #3a4048; padding: 0 6px;
              min-height: 18px; }
QToolButton:checked { color: #0b0d10; background: #4fa3ff; border-color: #4fa3ff; }
"""


class _Viewport(QFrame):
    """One cell of the grid: header (title, plane, link) over a :class:`QtSliceView`."""

    dropped = pyqtSignal(str)

    def __init__(self, view: SliceView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewport")
        self.setAcceptDrops(True)
        self.slice_view = QtSliceView(view, self)
        self.slice_view.setAcceptDrops(False)

        header = QFrame(self)
        header.setObjectName("viewportHeader")
        header.setFixedHeight(26)
        self.title = QLabel(header)
        self.title.setObjectName("viewportTitle")
        self.plane_box = QComboBox(header)
        self.plane_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for plane in Plane:
            self.plane_box.addItem(plane.value.capitalize(), plane)
        self.plane_box.setToolTip("View plane")
        self.link_button = QToolButton(header)
        self.link_button.setText("Linked")
        self.link_button.setCheckable(True)
        self.link_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.link_button.setToolTip("Follow the cursor of the other linked viewports")
        row = QHBoxLayout(header)
        row.setContentsMargins(4, 2, 4, 2)
        row.setSpacing(4)
        row.addWidget(self.title, 1)
        row.addWidget(self.plane_box)
        row.addWidget(self.link_button)

        column = QVBoxLayout(self)
        column.setContentsMargins(1, 1, 1, 1)
        column.setSpacing(0)
        column.addWidget(header)
        column.addWidget(self.slice_view, 1)

        self.plane_box.currentIndexChanged.connect(self._plane_chosen)
        self.link_button.toggled.connect(self._link_toggled)
        self.bind(view)

    def bind(self, view: SliceView) -> None:
        """Show ``view`` and mirror its plane, link flag and image name in the header."""
        old = self.slice_view.view
        if old is not view:
            for signal, handler in self._handlers(old):
                signal.disconnect(handler)
            self.slice_view.set_view(view)
        for signal, handler in self._handlers(view):
            signal.connect(handler)
        self._sync_header()

    def unbind(self) -> None:
        """Disconnect from the model (before the viewport is deleted)."""
        for signal, handler in self._handlers(self.slice_view.view):
            signal.disconnect(handler)
        self.slice_view.release()

    def _handlers(self, view: SliceView) -> list[tuple[Signal, Callable[..., object]]]:
        return [
            (view.events.plane, self._sync_header),
            (view.events.linked, self._sync_header),
            (view.events.layers, self._sync_header),
        ]

    def _sync_header(self, *_: object) -> None:
        """Model → header (signals blocked: setting a widget must not set the model back)."""
        view = self.slice_view.view
        with _blocked(self.plane_box), _blocked(self.link_button):
            self.plane_box.setCurrentIndex(list(Plane).index(view.plane))
            self.link_button.setChecked(view.linked)
        self.title.setText(view.image.name if view.image is not None else "empty")

    def _plane_chosen(self, index: int) -> None:
        plane = self.plane_box.itemData(index)
        if isinstance(plane, Plane):
            self.slice_view.view.plane = plane

    def _link_toggled(self, checked: bool) -> None:
        self.slice_view.view.linked = checked

    def set_active(self, active: bool) -> None:
        """Highlight (or not) as the active viewport."""
        self._set_flag("active", active)

    def _set_flag(self, name: str, value: bool) -> None:
        self.setProperty(name, "true" if value else "false")
        style = self.style()
        if style is not None:
            style.unpolish(self)
            style.polish(self)

    # --- drag and drop -----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:  # noqa: N802 - Qt override
        """Accept a dragged series id."""
        mime = None if event is None else event.mimeData()
        if event is not None and mime is not None and mime.hasFormat(SERIES_MIME_TYPE):
            event.acceptProposedAction()
            self._set_flag("dropping", True)
        elif event is not None:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent | None) -> None:  # noqa: N802
        """Drop the highlight."""
        self._set_flag("dropping", False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent | None) -> None:  # noqa: N802
        """Emit the dropped series id."""
        self._set_flag("dropping", False)
        mime = None if event is None else event.mimeData()
        if event is None or mime is None or not mime.hasFormat(SERIES_MIME_TYPE):
            if event is not None:
                event.ignore()
            return
        series_id = bytes(mime.data(SERIES_MIME_TYPE).data()).decode("utf-8").strip()
        event.acceptProposedAction()
        if series_id:
            self.dropped.emit(series_id)


class _blocked:  # noqa: N801 - used like a function: ``with _blocked(widget):``
    """Block a widget's Qt signals inside a ``with`` block."""

    def __init__(self, widget: QWidget) -> None:
        self._widget = widget
        self._was = False

    def __enter__(self) -> None:
        self._was = self._widget.blockSignals(True)

    def __exit__(self, *_: object) -> None:
        self._widget.blockSignals(self._was)


class QtViewerGrid(QWidget):
    """A grid of linked slice views for a :class:`GridLayout`, accepting dropped series."""

    series_dropped = pyqtSignal(int, str)
    """``(viewport index, series id)``: a series was dropped on a viewport."""
    active_changed = pyqtSignal(int)
    """``(viewport index)``: the user clicked into another viewport."""
    layout_changed = pyqtSignal(object)
    """``(GridLayout)``: the grid was rebuilt for another layout."""

    def __init__(
        self,
        layout: GridLayout = GridLayout.ONE_BY_ONE,
        parent: QWidget | None = None,
        *,
        link: ViewLink | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("viewerGrid")
        self.setStyleSheet(_STYLE)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), Qt.GlobalColor.black)
        self.setPalette(palette)
        self.link = link if link is not None else ViewLink()
        """The link all viewports belong to."""
        self._models: list[SliceView] = []
        self._viewports: list[_Viewport] = []
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self._layout = layout
        self._active = 0
        self._build()

    @property
    def grid_layout(self) -> GridLayout:
        """The current layout."""
        return self._layout

    def set_grid_layout(self, layout: GridLayout) -> None:
        """Rebuild the grid for ``layout`` (models of kept viewports are kept)."""
        if layout is self._layout:
            return
        self._layout = layout
        self._build()
        self.layout_changed.emit(layout)

    @property
    def views(self) -> list[SliceView]:
        """The models of the visible viewports, row-major."""
        return [viewport.slice_view.view for viewport in self._viewports]

    @property
    def viewports(self) -> list[QtSliceView]:
        """The slice-view widgets of the visible viewports, row-major."""
        return [viewport.slice_view for viewport in self._viewports]

    def viewport(self, index: int) -> QtSliceView:
        """The slice-view widget of viewport ``index``."""
        return self._viewports[index].slice_view

    @property
    def active_index(self) -> int:
        """The viewport the user worked in last."""
        return self._active

    def set_active(self, index: int) -> None:
        """Make viewport ``index`` the active one (highlighted)."""
        index = min(max(index, 0), len(self._viewports) - 1)
        changed = index != self._active
        self._active = index
        for n, viewport in enumerate(self._viewports):
            viewport.set_active(n == index)
        if changed:
            self.active_changed.emit(index)

    def _model(self, index: int) -> SliceView:
        while len(self._models) <= index:
            plane = _DEFAULT_PLANES[len(self._models) % len(_DEFAULT_PLANES)]
            model = SliceView(plane)
            self._models.append(model)
            self.link.add(model)
        return self._models[index]

    def _build(self) -> None:
        for viewport in self._viewports:
            viewport.unbind()
            self._grid.removeWidget(viewport)
            viewport.hide()
            viewport.deleteLater()
        self._viewports = []
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 0)
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 0)
        for index in range(self._layout.count):
            viewport = _Viewport(self._model(index), self)
            row, column = self._layout.position(index)
            self._grid.addWidget(viewport, row, column)
            viewport.dropped.connect(
                lambda series_id, i=index: self.series_dropped.emit(i, series_id)
            )
            viewport.slice_view.activated.connect(lambda i=index: self.set_active(i))
            self._viewports.append(viewport)
        for row in range(self._layout.rows):
            self._grid.setRowStretch(row, 1)
        for column in range(self._layout.columns):
            self._grid.setColumnStretch(column, 1)
        self._active = min(self._active, len(self._viewports) - 1)
        for n, viewport in enumerate(self._viewports):
            viewport.set_active(n == self._active)
