"""``QtSliceView``: the Qt widget that shows a :class:`viewers.view.SliceView`.

Binding both ways, napari style: the widget turns Qt input into toolkit-neutral
:class:`~viewers.interaction.PointerEvent` s and :class:`~viewers.interaction.Key` s for
the model, and repaints when the model's ``changed`` event fires. The widget never writes
model state in response to a model event, so a change cannot loop back.

Painting: the model's RGBA array is wrapped by a ``QImage`` (``Format_RGBA8888``, no copy,
no per-pixel Python) and drawn into the model's image rectangle (zoom and pan only move
that rectangle), then the crosshair, the orientation letters of the four edges, a scale
bar and the corner texts (series, slice number and position, window/level, and the world
position and stored value under the pointer) are drawn on a black background.

Tools: the model's active tool (``SliceView.set_tool``) gets the pointer events and keys
first (the model decides, see ``SliceView.handle_pointer``). The widget draws what
:mod:`viewers.tool_overlay` computes for it: the grow preview over the image, the open
polygon, and the brush circle at the pointer, plus a caption line about the tool. Keys a
tool takes (Escape dropping a grow preview) are claimed before the application's
shortcuts see them (``ShortcutOverride``).
"""

from __future__ import annotations

import itertools
import math
from typing import cast

import numpy as np
from PyQt6.QtCore import QEvent, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PyQt6.QtWidgets import QSizePolicy, QWidget

from viewers.geometry import Plane
from viewers.grow import GrowPreview, GrowTool
from viewers.interaction import Buttons, Key, Modifiers, PointerEvent, PointerKind, PointerTool
from viewers.tool_overlay import GrowPreviewImage, brush_outline, polygon_outline, tool_captions
from viewers.view import SliceView

BACKGROUND = QColor(0, 0, 0)
TEXT = QColor(232, 232, 232)
SHADOW = QColor(0, 0, 0, 220)
LETTERS = QColor(255, 214, 102)
CROSSHAIR = QColor(80, 200, 255, 150)
CROSSHAIR_GAP = 12.0
POLYGON = QColor(255, 214, 102)
ERASER = QColor(240, 240, 240)

_BUTTONS = (
    (Qt.MouseButton.LeftButton, Buttons.LEFT),
    (Qt.MouseButton.RightButton, Buttons.RIGHT),
    (Qt.MouseButton.MiddleButton, Buttons.MIDDLE),
)
_MODIFIERS = (
    (Qt.KeyboardModifier.ShiftModifier, Modifiers.SHIFT),
    (Qt.KeyboardModifier.ControlModifier, Modifiers.CTRL),
    (Qt.KeyboardModifier.AltModifier, Modifiers.ALT),
    (Qt.KeyboardModifier.MetaModifier, Modifiers.META),
)
_KEYS = {
    Qt.Key.Key_Up: Key.UP, Qt.Key.Key_Down: Key.DOWN, Qt.Key.Key_Left: Key.LEFT,
    Qt.Key.Key_Right: Key.RIGHT, Qt.Key.Key_PageUp: Key.PAGE_UP,
    Qt.Key.Key_PageDown: Key.PAGE_DOWN, Qt.Key.Key_Home: Key.HOME, Qt.Key.Key_End: Key.END,
    Qt.Key.Key_Plus: Key.PLUS, Qt.Key.Key_Equal: Key.EQUAL, Qt.Key.Key_Minus: Key.MINUS,
    Qt.Key.Key_Underscore: Key.MINUS, Qt.Key.Key_R: Key.R, Qt.Key.Key_I: Key.I,
    Qt.Key.Key_A: Key.A, Qt.Key.Key_BracketLeft: Key.BRACKET_LEFT,
    Qt.Key.Key_BracketRight: Key.BRACKET_RIGHT, Qt.Key.Key_1: Key.PRESET_1,
    Qt.Key.Key_2: Key.PRESET_2, Qt.Key.Key_3: Key.PRESET_3, Qt.Key.Key_4: Key.PRESET_4,
    Qt.Key.Key_5: Key.PRESET_5, Qt.Key.Key_6: Key.PRESET_6, Qt.Key.Key_Return: Key.ENTER,
    Qt.Key.Key_Enter: Key.ENTER, Qt.Key.Key_Escape: Key.ESCAPE,
}  # fmt: skip


def buttons_from_qt(buttons: Qt.MouseButton) -> Buttons:
    """Qt mouse buttons → :class:`Buttons`."""
    result = Buttons.NONE
    for qt_button, ours in _BUTTONS:
        if buttons & qt_button:
            result |= ours
    return result


def modifiers_from_qt(modifiers: Qt.KeyboardModifier) -> Modifiers:
    """Qt keyboard modifiers → :class:`Modifiers` (Control is Command on macOS, as in Qt)."""
    result = Modifiers.NONE
    for qt_modifier, ours in _MODIFIERS:
        if modifiers & qt_modifier:
            result |= ours
    return result


def pointer_from_mouse(kind: PointerKind, event: QMouseEvent) -> PointerEvent:
    """A ``QMouseEvent`` as a :class:`PointerEvent` in widget pixels."""
    position = event.position()
    return PointerEvent(
        kind,
        position.x(),
        position.y(),
        buttons=buttons_from_qt(event.buttons()),
        button=buttons_from_qt(event.button()),
        modifiers=modifiers_from_qt(event.modifiers()),
    )


def pointer_from_wheel(event: QWheelEvent) -> PointerEvent:
    """A ``QWheelEvent`` as a wheel :class:`PointerEvent` (vertical delta, 120 per notch)."""
    angle = event.angleDelta()
    delta = angle.y() if angle.y() != 0 else angle.x()
    position = event.position()
    return PointerEvent(
        PointerKind.WHEEL,
        position.x(),
        position.y(),
        buttons=buttons_from_qt(event.buttons()),
        modifiers=modifiers_from_qt(event.modifiers()),
        wheel_delta=float(delta),
    )


def key_from_qt(event: QKeyEvent) -> Key | None:
    """The :class:`Key` of a ``QKeyEvent``, or None for keys the views do not use."""
    try:
        return _KEYS.get(Qt.Key(event.key()))
    except ValueError:
        return None


def _signed(value: float, negative: str, positive: str) -> str:
    return f"{positive if value >= 0 else negative} {abs(value):.1f}"


def world_text(point: np.ndarray) -> str:
    """``"R 12.3  A 45.6  S 7.0 mm"``: an LPS point with anatomical letters."""
    x, y, z = (float(v) for v in point)
    return f"{_signed(x, 'R', 'L')}  {_signed(y, 'A', 'P')}  {_signed(z, 'I', 'S')} mm"


def value_text(value: float) -> str:
    """A stored value as a reader expects it: integers plain, floats with 4 digits."""
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


class QtSliceView(QWidget):
    """A widget showing one :class:`SliceView` (created if not given) and driving it."""

    activated = pyqtSignal()
    """Emitted when the user presses a mouse button in the view (it becomes the active one)."""

    def __init__(self, view: SliceView | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view = view if view is not None else SliceView()
        self._frame: np.ndarray | None = None
        self.title = ""
        """Shown top-left above the image layer's name; empty shows only the name."""
        self.smooth = True
        """Bilinear filtering when the image is scaled (False: blocky voxels)."""
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(self._font.pointSizeF(), 9.5))
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._letters_font = QFont(self._font)
        self._letters_font.setPointSizeF(self._font.pointSizeF() + 2.5)
        self._letters_font.setBold(True)
        self._preview_image = GrowPreviewImage()
        self._grow_tool: GrowTool | None = None
        self._claimed_key: tuple[int, Qt.KeyboardModifier] | None = None
        self._connect(self._view)

    # --- model binding ----------------------------------------------------------------------

    @property
    def view(self) -> SliceView:
        """The model shown."""
        return self._view

    def set_view(self, view: SliceView) -> None:
        """Show another model (the old one is left as it is)."""
        if view is self._view:
            return
        self.release()
        self._view = view
        self._connect(view)
        self.update()

    def release(self) -> None:
        """Stop listening to the model (call before deleting the widget)."""
        self._view.events.changed.disconnect(self._on_model_changed)
        self._view.events.tool.disconnect(self._on_tool_changed)
        self._on_tool_changed(None)

    def _connect(self, view: SliceView) -> None:
        view.events.changed.connect(self._on_model_changed)
        view.events.tool.connect(self._on_tool_changed)
        self._on_tool_changed(view.tool)
        view.set_viewport_size(max(self.width(), 1), max(self.height(), 1))

    def _on_model_changed(self) -> None:
        self.update()

    def _on_tool_changed(self, tool: PointerTool | None) -> None:
        """Follow the grow preview of a grow tool (it changes without a pointer event)."""
        if self._grow_tool is not None:
            self._grow_tool.events.preview.disconnect(self._on_preview)
            self._grow_tool = None
        if isinstance(tool, GrowTool):
            tool.events.preview.connect(self._on_preview)
            self._grow_tool = tool
        self._preview_image.clear()
        self.update()

    def _on_preview(self, preview: GrowPreview | None) -> None:
        self.update()

    # --- Qt events → model ---------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 - Qt override
        """Tell the model its new viewport size."""
        self._view.set_viewport_size(max(self.width(), 1), max(self.height(), 1))
        super().resizeEvent(event)

    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        """Press: the active tool, else cursor, window/level or pan (see ``handle_pointer``)."""
        if event is None:
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.activated.emit()
        if self._view.handle_pointer(pointer_from_mouse(PointerKind.PRESS, event)):
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        """Move: drags, and the readout under the pointer."""
        if event is not None:
            self._view.handle_pointer(pointer_from_mouse(PointerKind.MOVE, event))
            event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        """Release: the drag ends."""
        if event is not None:
            self._view.handle_pointer(pointer_from_mouse(PointerKind.RELEASE, event))
            event.accept()

    def wheelEvent(self, event: QWheelEvent | None) -> None:  # noqa: N802
        """Wheel: scroll slices; with Ctrl, zoom about the pointer."""
        if event is None:
            return
        if self._view.handle_pointer(pointer_from_wheel(event)):
            event.accept()
        else:
            event.ignore()

    def leaveEvent(self, event: QEvent | None) -> None:  # noqa: N802
        """The pointer left: clear the readout."""
        self._view.handle_pointer(PointerEvent(PointerKind.LEAVE, 0.0, 0.0))
        super().leaveEvent(event)

    def event(self, event: QEvent | None) -> bool:
        """Let the active tool claim its keys before the application's shortcuts.

        Qt asks the focus widget (``ShortcutOverride``) before it runs a shortcut: when the
        tool uses the key (Escape dropping a grow preview, Alt+= growing the brush), the
        key is accepted here and its key press, which follows, is swallowed.
        """
        if (
            event is not None
            and event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
        ):
            key = key_from_qt(event)
            if key is not None and self._view.offer_key_to_tool(
                key, modifiers_from_qt(event.modifiers())
            ):
                self._claimed_key = (event.key(), event.modifiers())
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent | None) -> None:  # noqa: N802
        """Keys of :func:`viewers.interaction.shortcut_help`; others go to the parent."""
        if event is None:
            return
        if self._claimed_key is not None:
            claimed, self._claimed_key = self._claimed_key, None
            if claimed == (event.key(), event.modifiers()):
                event.accept()  # the tool used it already, at ShortcutOverride
                return
        key = key_from_qt(event)
        if key is not None and self._view.handle_key(key, modifiers_from_qt(event.modifiers())):
            event.accept()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent | None) -> None:  # noqa: N802
        """A claimed key whose press never came is forgotten."""
        if event is not None and not event.isAutoRepeat():
            self._claimed_key = None
        super().keyReleaseEvent(event)

    # --- painting ----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802
        """Image, tool overlays, crosshair, orientation letters, scale bar and texts on black."""
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), BACKGROUND)
            self._paint_image(painter)
            if self._view.image is not None:
                self._paint_grow_preview(painter)
                self._paint_crosshair(painter)
                self._paint_polygon(painter)
                self._paint_scale_bar(painter)
            self._paint_letters(painter)
            self._paint_texts(painter)
            self._paint_brush(painter)
        finally:
            painter.end()

    def _paint_image(self, painter: QPainter) -> None:
        rgba = self._view.render()
        rect = self._view.image_rect()
        if rgba.size == 0 or rect is None:
            self._frame = None
            return
        rows, cols = rgba.shape[:2]
        self._frame = rgba  # the QImage below borrows this memory
        # Any buffer works at runtime (PyQt's stub says bytes): wrap, do not copy.
        buffer = cast(bytes, rgba.data)
        image = QImage(buffer, cols, rows, cols * 4, QImage.Format.Format_RGBA8888)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
        painter.drawImage(QRectF(*rect), image)

    def _paint_grow_preview(self, painter: QPainter) -> None:
        rgba = self._preview_image.render(self._view)
        rect = self._view.image_rect()
        if rgba is None or rect is None:
            return
        rows, cols = rgba.shape[:2]
        buffer = cast(bytes, rgba.data)  # borrowed: the cache keeps the array alive
        image = QImage(buffer, cols, rows, cols * 4, QImage.Format.Format_RGBA8888)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(*rect), image)

    def _paint_polygon(self, painter: QPainter) -> None:
        corners = polygon_outline(self._view)
        if corners is None:
            return
        points = [QPointF(float(x), float(y)) for x, y in corners]
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for color, width in ((SHADOW, 3.5), (POLYGON, 1.5)):
            pen = QPen(color)
            pen.setWidthF(width)
            painter.setPen(pen)
            for a, b in itertools.pairwise(points):
                painter.drawLine(a, b)
        pointer = self._view.pointer
        if pointer is not None and points:
            pen = QPen(POLYGON)
            pen.setWidthF(1.0)
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(points[-1], QPointF(*pointer))
        painter.setPen(QPen(SHADOW))
        painter.setBrush(POLYGON)
        for n, point in enumerate(points):
            radius = 4.5 if n == 0 else 3.0  # the first corner closes the polygon
            painter.drawEllipse(point, radius, radius)
        painter.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_brush(self, painter: QPainter) -> None:
        outline = brush_outline(self._view)
        if outline is None:
            return
        r, g, b, _ = outline.color
        color = ERASER if outline.erase else QColor(r, g, b)
        centre = QPointF(outline.x, outline.y)
        radius = max(outline.radius_px, 1.0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for pen_color, width in ((SHADOW, 4.0), (color, 2.0)):
            pen = QPen(pen_color)
            pen.setWidthF(width)
            if outline.erase and pen_color is color:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawEllipse(centre, radius, radius)
        if outline.sphere:  # a 3D brush: a second, inner ring
            pen = QPen(color)
            pen.setWidthF(1.0)
            pen.setStyle(Qt.PenStyle.DotLine)
            painter.setPen(pen)
            painter.drawEllipse(centre, radius * 0.6, radius * 0.6)
        painter.setPen(QPen(color))  # the exact centre, where a 0 mm brush paints
        painter.drawLine(QPointF(outline.x - 2, outline.y), QPointF(outline.x + 2, outline.y))
        painter.drawLine(QPointF(outline.x, outline.y - 2), QPointF(outline.x, outline.y + 2))

    def _paint_crosshair(self, painter: QPainter) -> None:
        x, y = self._view.world_to_view(self._view.cursor)
        width, height = float(self.width()), float(self.height())
        pen = QPen(CROSSHAIR)
        pen.setWidthF(1.0)
        painter.setPen(pen)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if 0 <= y <= height:
            painter.drawLine(QPointF(0, y), QPointF(max(x - CROSSHAIR_GAP, 0), y))
            painter.drawLine(QPointF(min(x + CROSSHAIR_GAP, width), y), QPointF(width, y))
        if 0 <= x <= width:
            painter.drawLine(QPointF(x, 0), QPointF(x, max(y - CROSSHAIR_GAP, 0)))
            painter.drawLine(QPointF(x, min(y + CROSSHAIR_GAP, height)), QPointF(x, height))

    def _text(
        self,
        painter: QPainter,
        rect: QRectF,
        flags: Qt.AlignmentFlag,
        text: str,
        font: QFont,
        color: QColor = TEXT,
    ) -> None:
        """Text with a dark halo so it reads on any grey level."""
        painter.setFont(font)
        painter.setPen(SHADOW)
        for dx, dy in ((1, 1), (-1, 1), (1, -1), (-1, -1), (0, 1), (1, 0)):
            painter.drawText(rect.translated(dx, dy), int(flags), text)
        painter.setPen(color)
        painter.drawText(rect, int(flags), text)

    def _paint_letters(self, painter: QPainter) -> None:
        labels = self._view.edge_labels()
        width, height = float(self.width()), float(self.height())
        margin = 6.0
        size = QFontMetricsF(self._letters_font).height()
        align = Qt.AlignmentFlag
        font = self._letters_font
        middle_v = QRectF(0, (height - size) / 2, width, size)
        self._text(
            painter,
            middle_v.adjusted(margin, 0, 0, 0),
            align.AlignLeft | align.AlignVCenter,
            labels.left,
            font,
            LETTERS,
        )
        self._text(
            painter,
            middle_v.adjusted(0, 0, -margin, 0),
            align.AlignRight | align.AlignVCenter,
            labels.right,
            font,
            LETTERS,
        )
        self._text(
            painter,
            QRectF(0, margin, width, size),
            align.AlignHCenter | align.AlignTop,
            labels.top,
            font,
            LETTERS,
        )
        self._text(
            painter,
            QRectF(0, height - size - margin, width, size),
            align.AlignHCenter | align.AlignBottom,
            labels.bottom,
            font,
            LETTERS,
        )

    def _corner_lines(self) -> tuple[list[str], list[str], list[str], list[str]]:
        """Text lines of the four corners: top-left, top-right, bottom-left, bottom-right."""
        view = self._view
        image = view.image
        top_left: list[str] = []
        top_right: list[str] = []
        bottom_left: list[str] = []
        bottom_right: list[str] = []
        if self.title:
            top_left.append(self.title)
        if image is None:
            top_left.append("no series — drop one here")
            return top_left, top_right, bottom_left, bottom_right
        top_left.append(image.name)
        top_left.append(f"{view.plane.value.capitalize()}")
        info = view.slice_info()
        if info is not None:
            letters = {
                Plane.AXIAL: ("I", "S"),
                Plane.CORONAL: ("A", "P"),
                Plane.SAGITTAL: ("R", "L"),
            }[view.plane]
            position = _signed(info.position_mm, *letters)
            number = f"{info.index + 1}/{info.count}" if info.inside else f"— /{info.count}"
            top_right.append(f"Slice {number}")
            top_right.append(f"{position} mm")
        if image.time_points > 1:
            top_right.append(f"Volume {image.time_index + 1}/{image.time_points}")
        top_right.append("Zoom fit" if view.zoom == 1.0 else f"Zoom {view.zoom:.2f}× fit")
        if view.window is not None:
            window = view.window
            bottom_left.append(
                f"W {value_text(round(window.width, 1))}  L {value_text(round(window.center, 1))}"
                + ("  inverted" if view.invert else "")
            )
        bottom_left.extend(tool_captions(view))
        readout = view.readout
        if readout is not None:
            bottom_right.append(world_text(readout.world))
            if readout.voxel is not None and readout.value is not None:
                i, j, k = readout.voxel
                bottom_right.append(f"[{i}, {j}, {k}] = {value_text(readout.value)}")
            else:
                bottom_right.append("outside the series")
        return top_left, top_right, bottom_left, bottom_right

    def _paint_texts(self, painter: QPainter) -> None:
        metrics = QFontMetricsF(self._font)
        line = metrics.height()
        margin = 8.0
        width, height = float(self.width()), float(self.height())
        align = Qt.AlignmentFlag
        top_left, top_right, bottom_left, bottom_right = self._corner_lines()
        for n, text in enumerate(top_left):
            font = self._bold if (n == 0 or (self.title and n == 1)) else self._font
            rect = QRectF(margin, margin + n * line, width / 2, line)
            self._text(painter, rect, align.AlignLeft | align.AlignTop, text, font)
        for n, text in enumerate(top_right):
            rect = QRectF(width / 2 - margin, margin + n * line, width / 2, line)
            self._text(painter, rect, align.AlignRight | align.AlignTop, text, self._font)
        for n, text in enumerate(reversed(bottom_left)):
            rect = QRectF(margin, height - margin - (n + 1) * line, width / 2, line)
            self._text(painter, rect, align.AlignLeft | align.AlignBottom, text, self._font)
        for n, text in enumerate(reversed(bottom_right)):
            rect = QRectF(width / 2 - margin, height - margin - (n + 1) * line, width / 2, line)
            self._text(painter, rect, align.AlignRight | align.AlignBottom, text, self._font)

    def _paint_scale_bar(self, painter: QPainter) -> None:
        bar = self._view.scale_bar(0.2)
        if not math.isfinite(bar.length_px) or bar.length_px < 8:
            return
        metrics = QFontMetricsF(self._font)
        margin = 8.0
        lines = max(len(self._corner_lines()[2]), 2)  # above the bottom-left texts
        y = self.height() - margin - lines * metrics.height() - 4.0
        x0, x1 = margin + 1.0, margin + 1.0 + bar.length_px
        for color, width in ((SHADOW, 3.0), (TEXT, 1.0)):
            pen = QPen(color)
            pen.setWidthF(width)
            painter.setPen(pen)
            painter.drawLine(QPointF(x0, y), QPointF(x1, y))
            painter.drawLine(QPointF(x0, y - 4), QPointF(x0, y + 1))
            painter.drawLine(QPointF(x1, y - 4), QPointF(x1, y + 1))
        label = f"{value_text(bar.length_mm)} mm"
        rect = QRectF(x1 + 6.0, y - metrics.height() / 2, 120.0, metrics.height())
        self._text(
            painter,
            rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            label,
            self._font,
        )
