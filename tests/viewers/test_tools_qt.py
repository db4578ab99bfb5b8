"""Drawing in a viewport through real Qt events: brush, undo, toolbar, grow, navigation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QApplication, QVBoxLayout, QWidget

from viewers.geometry import Plane
from viewers.image import ImageLayer, LabelLayer
from viewers.label_tools import ToolKind
from viewers.labels_edit import LabelEditor
from viewers.qt import QtLabelToolbar, QtSliceView
from viewers.view import SliceView
from viewers.window import Window

SHAPE = (150, 180, 40)
SPACING = (1.0, 1.0, 3.0)
LESION_VOXEL = (98, 72, 22)
"""Centre of the bright lesion: the patient's left, anterior, above the middle slice."""
LEFT = Qt.MouseButton.LeftButton


def phantom() -> tuple[np.ndarray, np.ndarray]:
    """A head-like int16 volume (scalp, grey and white matter, ventricles, a bright
    FLAIR-like lesion) and its LPS affine, axial slices 3 mm apart."""
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = (-75.0, -95.0, -60.0)
    i, j, k = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in SHAPE), indexing="ij")
    x, y, z = i - 75.0, j - 92.0, (k - 20.0) * 3.0
    head = (x / 68) ** 2 + (y / 84) ** 2 + (z / 70) ** 2
    brain = (x / 62) ** 2 + (y / 78) ** 2 + (z / 64) ** 2
    white = (x / 50) ** 2 + (y / 64) ** 2 + (z / 52) ** 2
    ventricle = ((np.abs(x) - 9) / 6) ** 2 + ((y + 4) / 26) ** 2 + (z / 22) ** 2
    lesion = sum(
        ((axis - c) * s) ** 2 for axis, c, s in zip((i, j, k), LESION_VOXEL, SPACING, strict=True)
    )
    wobble = 1.0 + 0.12 * np.sin(np.arctan2(y, x) * 5.0)
    image = np.where(head <= 1, 180.0, 0.0)
    image = np.where(brain <= 1, 330.0, image)
    image = np.where(white * wobble <= 1, 420.0, image)
    image = np.where((ventricle <= 1) & (brain <= 1), 90.0, image)
    image = np.where(lesion <= 7.5**2, 760.0, image)
    rng = np.random.default_rng(7)
    image = image + np.where(head <= 1, rng.normal(0.0, 14.0, SHAPE), 0.0)
    return np.clip(image, 0, None).astype(np.int16), affine


@dataclass
class Scene:
    host: QWidget
    widget: QtSliceView
    toolbar: QtLabelToolbar
    editor: LabelEditor

    @property
    def view(self) -> SliceView:
        return self.widget.view

    def at(self, voxel: tuple[float, float, float]) -> QPoint:
        x, y = self.view.world_to_view(self.editor.voxel_to_world(np.array(voxel, dtype=float)))
        return QPoint(round(x), round(y))


@pytest.fixture
def scene(qtbot) -> Iterator[Scene]:
    array, affine = phantom()
    image = ImageLayer("FLAIR · phantom", array, affine)
    editor = LabelEditor.blank(SHAPE, affine)
    view = SliceView(Plane.AXIAL, image=image)
    view.add_label(LabelLayer("lesions", editor.array, affine, opacity=0.55))
    view.set_cursor(editor.voxel_to_world(np.array(LESION_VOXEL, dtype=float)))
    host = QWidget()
    host.setObjectName("host")
    host.setStyleSheet("QWidget#host { background: #000000; }")
    toolbar = QtLabelToolbar(editor, [view])
    widget = QtSliceView(view)
    column = QVBoxLayout(host)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(0)
    column.addWidget(toolbar)
    column.addWidget(widget, 1)
    qtbot.addWidget(host)
    host.resize(1100, 760)
    with qtbot.waitActive(host):  # window shortcuts (Ctrl+Z) need the active window
        host.show()
        host.activateWindow()
    widget.setFocus()
    yield Scene(host, widget, toolbar, editor)
    toolbar.release()
    widget.release()


def stroke(qtbot, widget: QWidget, points: list[QPoint]) -> None:
    qtbot.mousePress(widget, LEFT, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(widget, point)
    qtbot.mouseRelease(widget, LEFT, pos=points[-1])


def painted_on_screen(scene: Scene, point: QPoint) -> bool:
    """The model's rendered pixel under ``point`` is tinted red (label 1)."""
    grid = scene.view.slice_grid()
    assert grid is not None
    rgba = scene.view.render()
    col, row = np.floor(grid.world_to_pixel(scene.view.view_to_world(point.x(), point.y())) + 0.5)
    r, g, b, _ = (int(v) for v in rgba[int(row), int(col)])
    return r > g + 60 and r > b + 60


def test_a_brush_stroke_through_mouse_events_paints_and_ctrl_z_undoes_it(qtbot, scene: Scene):
    assert scene.toolbar.tool_actions[ToolKind.NAVIGATE].isChecked()
    scene.toolbar.tool_actions[ToolKind.BRUSH].trigger()
    assert scene.view.tool is scene.toolbar.tools.brush
    checked = [k for k, a in scene.toolbar.tool_actions.items() if a.isChecked()]
    assert checked == [ToolKind.BRUSH]
    points = [scene.at((90, 66, 22)), scene.at((98, 72, 22)), scene.at((106, 78, 22))]
    cursor = scene.view.cursor
    stroke(qtbot, scene.widget, points)
    layer = scene.view.label("lesions")
    assert layer.array is scene.editor.array
    painted = np.argwhere(layer.array)
    assert painted.shape[0] > 60
    assert np.unique(painted[:, 2]).tolist() == [22]  # the slice shown
    assert scene.editor.history == ["brush"]
    assert np.array_equal(scene.view.cursor, cursor)  # painting does not move the cursor
    assert all(painted_on_screen(scene, p) for p in points)
    assert scene.toolbar.undo_action.isEnabled()
    qtbot.keyClick(scene.widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not layer.array.any()  # one Ctrl+Z undoes the whole drag
    assert scene.editor.history == []
    assert not any(painted_on_screen(scene, p) for p in points)
    assert not scene.toolbar.undo_action.isEnabled()
    qtbot.keyClick(
        scene.widget,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert np.count_nonzero(layer.array) == painted.shape[0]


def test_undo_is_disabled_while_a_stroke_is_open(qtbot, scene: Scene):
    scene.toolbar.set_tool(ToolKind.BRUSH)
    stroke(qtbot, scene.widget, [scene.at((80, 60, 22)), scene.at((84, 60, 22))])
    qtbot.mousePress(scene.widget, LEFT, pos=scene.at((100, 100, 22)))
    qtbot.mouseMove(scene.widget, scene.at((104, 100, 22)))
    assert scene.editor.in_group
    assert not scene.toolbar.undo_action.isEnabled()
    assert not scene.toolbar.split_action.isEnabled()
    qtbot.keyClick(scene.widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert scene.editor.in_group  # nothing undone mid-drag
    qtbot.mouseRelease(scene.widget, LEFT, pos=scene.at((104, 100, 22)))
    assert scene.toolbar.undo_action.isEnabled()
    assert scene.editor.history == ["brush", "brush"]


def test_the_toolbar_switches_tools_and_follows_the_views(qtbot, scene: Scene):
    toolbar, view = scene.toolbar, scene.view
    second = SliceView(Plane.CORONAL, image=view.image)
    toolbar.tools.add_view(second)
    for kind, tool in (
        (ToolKind.ERASER, toolbar.tools.eraser),
        (ToolKind.POLYGON, toolbar.tools.polygon),
        (ToolKind.GROW, toolbar.tools.grow),
        (ToolKind.BRUSH, toolbar.tools.brush),
    ):
        qtbot.mouseClick(toolbar.tool_row.widgetForAction(toolbar.tool_actions[kind]), LEFT)
        assert toolbar.tools.kind is kind
        assert view.tool is tool
        assert second.tool is tool
        assert [k for k, a in toolbar.tool_actions.items() if a.isChecked()] == [kind]
    toolbar.radius_box.setValue(6.0)
    assert toolbar.tools.brush.radius_mm == 6.0
    assert toolbar.tools.eraser.radius_mm == 6.0
    qtbot.keyClick(scene.widget, Qt.Key.Key_Minus, Qt.KeyboardModifier.AltModifier)
    assert toolbar.radius_box.value() == 5.5  # the view's change reaches the toolbar
    assert view.zoom == 1.0  # Alt+- went to the brush, not to the zoom
    qtbot.keyClick(scene.widget, Qt.Key.Key_Equal)
    assert view.zoom == pytest.approx(1.25)  # plain '=' still zooms
    toolbar.sphere_action.trigger()
    assert toolbar.tools.brush_3d
    toolbar.label_box.setValue(3)
    assert scene.editor.active_label == 3
    toolbar.new_action.trigger()
    assert toolbar.label_box.value() == 1  # the map is empty: next free label is 1
    toolbar.tools.release()
    assert second.tool is None


def test_grow_preview_follows_the_slider_and_enter_applies(qtbot, scene: Scene):
    toolbar = scene.toolbar
    assert toolbar.set_tool(ToolKind.GROW)
    assert not toolbar.apply_action.isEnabled()
    toolbar.tolerance_slider.setValue(25)
    qtbot.mouseClick(scene.widget, LEFT, pos=scene.at(LESION_VOXEL))
    preview = toolbar.tools.preview
    assert preview is not None
    assert toolbar.apply_action.isEnabled()
    assert "Preview:" in toolbar.status.text()
    expected = 4.0 / 3.0 * np.pi * 7.5**3 / np.prod(SPACING)
    assert preview.voxel_count == pytest.approx(expected, rel=0.15)
    toolbar.tolerance_slider.setValue(40)  # live: grown again with the new tolerance
    regrown = toolbar.tools.preview
    assert regrown is not None
    assert regrown is not preview
    assert regrown.tolerance == 4.0
    image = scene.widget.grab().toImage()
    point = scene.at(LESION_VOXEL)
    tint = image.pixelColor(point.x() + 6, point.y() + 4)
    assert tint.red() > tint.green() + 40  # the preview tints the lesion in its colour
    assert not scene.editor.array.any()
    qtbot.keyClick(scene.widget, Qt.Key.Key_Return)
    assert scene.editor.history == ["grow"]
    assert np.count_nonzero(scene.editor.array) == regrown.voxel_count
    assert toolbar.tools.preview is None
    assert not toolbar.apply_action.isEnabled()


def test_escape_cancels_the_preview_before_a_window_shortcut_sees_it(qtbot, scene: Scene):
    back = QAction("Back", scene.host)
    back.setShortcut(QKeySequence(Qt.Key.Key_Escape))
    fired: list[bool] = []
    back.triggered.connect(lambda: fired.append(True))
    scene.host.addAction(back)
    scene.toolbar.set_tool(ToolKind.GROW)
    tools = scene.toolbar.tools
    qtbot.mouseClick(scene.widget, LEFT, pos=scene.at(LESION_VOXEL))
    grow = tools.grow
    assert grow is not None
    assert grow.preview is not None
    qtbot.keyClick(scene.widget, Qt.Key.Key_Escape)
    assert tools.preview is None
    assert fired == []  # the tool claimed the key
    qtbot.keyClick(scene.widget, Qt.Key.Key_Escape)
    assert fired == [True]  # nothing to cancel: the application's shortcut runs


def test_navigate_still_moves_the_cursor(qtbot, scene: Scene):
    scene.toolbar.set_tool(ToolKind.BRUSH)
    scene.toolbar.set_tool(ToolKind.NAVIGATE)
    assert scene.view.tool is None
    qtbot.mouseClick(scene.widget, LEFT, pos=QPoint(300, 260))
    assert scene.view.world_to_view(scene.view.cursor) == pytest.approx((300, 260))
    assert not scene.editor.array.any()


def test_screenshot_of_a_painted_lesion_with_the_brush_and_the_toolbar(
    qtbot, scene: Scene, tmp_path: Path
):
    view, editor = scene.view, scene.editor
    view.set_camera(zoom=1.6, pan=(12.0, -14.0))
    view.set_window(Window(center=420.0, width=900.0))  # as a reader windows a FLAIR
    toolbar = scene.toolbar
    toolbar.set_tool(ToolKind.BRUSH)
    toolbar.radius_box.setValue(3.0)
    # paint the lesion the way a reader would: a few overlapping strokes across it
    ci, cj, k = LESION_VOXEL
    for dj in (-5, -2.5, 0, 2.5, 5):
        half = int(np.sqrt(max(7.5**2 - dj**2, 0.0)))
        stroke(
            qtbot,
            scene.widget,
            [scene.at((ci + di, cj + dj, k)) for di in range(-half, half + 1, 2)],
        )
    assert len(editor.history) == 5
    painted = editor.array[:, :, k] != 0
    truth = np.asarray(scene.view.image.volume[:, :, k] > 600)  # type: ignore[union-attr]
    assert np.count_nonzero(painted & truth) >= 0.85 * np.count_nonzero(truth)
    toolbar.tools.set_brush_radius_mm(5.0)
    hover = scene.at((ci - 22, cj + 16, k))
    qtbot.mouseMove(scene.widget, hover)
    QApplication.processEvents()
    assert view.pointer == (float(hover.x()), float(hover.y()))
    pixmap = scene.host.grab()
    assert pixmap.save(str(tmp_path / "tools.png"))
    image = pixmap.toImage()
    offset = scene.widget.mapTo(scene.host, QPoint(0, 0))
    x, y = offset.x() + hover.x(), offset.y() + hover.y()
    radius = round(5.0 * view.pixels_per_mm)
    ring = [image.pixelColor(x + dx, y) for dx in range(radius - 2, radius + 3)]
    assert any(c.red() > 200 and c.green() < 120 for c in ring)  # the red brush circle
    corner = image.pixelColor(offset.x() + 4, offset.y() + scene.widget.height() // 2 - 40)
    assert corner.lightness() < 20  # dark background
    bar = image.pixelColor(scene.host.width() - 8, 8)
    assert bar.lightness() < 40  # dark toolbar
