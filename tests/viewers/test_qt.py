"""The Qt widgets, driven through real Qt events (pytest-qt, QT_QPA_PLATFORM=offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PyQt6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent, QWheelEvent
from PyQt6.QtWidgets import QApplication, QWidget

from tests.viewers.conftest import axial_layer, load_lps
from viewers.geometry import Plane
from viewers.image import LabelLayer, LabelMode
from viewers.layout import GridLayout
from viewers.qt import SERIES_MIME_TYPE, QtSliceView, QtViewerGrid, shortcut_help
from viewers.view import SliceView
from viewers.window import PRESETS


def _mouse(widget: QWidget, kind: QEvent.Type, x: float, y: float, button, buttons, mods=None):
    event = QMouseEvent(
        kind,
        QPointF(x, y),
        QPointF(widget.mapToGlobal(QPoint(int(x), int(y)))),
        button,
        buttons,
        mods if mods is not None else Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def _wheel(widget: QWidget, x: float, y: float, delta: int, mods=None) -> None:
    event = QWheelEvent(
        QPointF(x, y),
        QPointF(widget.mapToGlobal(QPoint(int(x), int(y)))),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        mods if mods is not None else Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


@pytest.fixture
def widget(qtbot) -> QtSliceView:
    view = QtSliceView(SliceView(Plane.AXIAL, image=axial_layer()))
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_widget_paints_the_model_pixels_where_the_model_says(widget):
    assert widget.view.viewport_size == (400.0, 300.0)
    widget.smooth = False
    image = widget.grab().toImage()
    assert image.width() == 400
    assert image.pixelColor(2, 100).getRgb()[:3] == (0, 0, 0)  # black margin beside the image
    rgba = widget.view.render()
    grid = widget.view.slice_grid()
    for x, y in ((170, 220), (230, 60), (205, 260)):
        world = widget.view.view_to_world(x + 0.5, y + 0.5)  # centre of screen pixel (x, y)
        col, row = np.floor(grid.world_to_pixel(world) + 0.5).astype(int)
        assert image.pixelColor(x, y).getRgb() == tuple(int(v) for v in rgba[row, col])


def test_click_sets_the_model_cursor(widget, qtbot):
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(180, 120))
    assert widget.view.world_to_view(widget.view.cursor) == pytest.approx((180, 120))
    assert widget.hasFocus()


def test_wheel_scrolls_and_ctrl_wheel_zooms(widget):
    view = widget.view
    view.go_to_slice(4)
    _wheel(widget, 200, 150, 120)
    assert view.slice_info().index == 5
    _wheel(widget, 200, 150, -360)
    assert view.slice_info().index == 2
    _wheel(widget, 200, 150, 120, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == pytest.approx(1.25)


def test_right_drag_changes_the_window(widget):
    view = widget.view
    before = view.window
    right, none = Qt.MouseButton.RightButton, Qt.MouseButton.NoButton
    _mouse(widget, QEvent.Type.MouseButtonPress, 100, 100, right, right)
    _mouse(widget, QEvent.Type.MouseMove, 160, 130, none, right)
    _mouse(widget, QEvent.Type.MouseButtonRelease, 160, 130, right, none)
    after = view.window
    assert before is not None
    assert after is not None
    assert after.width > before.width
    assert after.center > before.center
    cursor = view.cursor
    _mouse(widget, QEvent.Type.MouseMove, 10, 10, none, none)
    assert view.window == after
    assert np.array_equal(view.cursor, cursor)


def test_keys_scroll_zoom_invert_and_window(widget, qtbot):
    view = widget.view
    view.go_to_slice(5)
    qtbot.keyClick(widget, Qt.Key.Key_Up)
    assert view.slice_info().index == 6
    qtbot.keyClick(widget, Qt.Key.Key_PageDown)
    assert view.slice_info().index == 0
    qtbot.keyClick(widget, Qt.Key.Key_Plus)
    assert view.zoom == pytest.approx(1.25)
    qtbot.keyClick(widget, Qt.Key.Key_R)
    assert view.zoom == 1.0
    qtbot.keyClick(widget, Qt.Key.Key_I)
    assert view.invert
    qtbot.keyClick(widget, Qt.Key.Key_2)
    assert view.window == PRESETS[1].window(view.image)
    qtbot.keyClick(widget, Qt.Key.Key_A)
    assert view.window != PRESETS[1].window(view.image)
    assert len(shortcut_help()) >= 20


def test_grid_layout_switch_creates_linked_views(qtbot):
    grid = QtViewerGrid(GridLayout.ONE_BY_ONE)
    qtbot.addWidget(grid)
    grid.resize(800, 600)
    grid.show()
    first = grid.views[0]
    first.set_image(axial_layer())
    grid.set_grid_layout(GridLayout.TWO_BY_TWO)
    assert len(grid.views) == 4
    assert len(grid.viewports) == 4
    assert grid.views[0] is first  # kept
    assert [v.plane for v in grid.views] == [
        Plane.AXIAL,
        Plane.AXIAL,
        Plane.CORONAL,
        Plane.SAGITTAL,
    ]
    for view in grid.views[1:]:
        view.set_image(axial_layer())
    grid.views[2].set_cursor(np.array([1.0, 2.0, 3.0]))
    assert all(np.array_equal(v.cursor, [1, 2, 3]) for v in grid.views)
    grid.set_grid_layout(GridLayout.ONE_BY_TWO)
    assert len(grid.views) == 2


def test_grid_header_binds_plane_and_link_both_ways(qtbot):
    grid = QtViewerGrid(GridLayout.ONE_BY_TWO)
    qtbot.addWidget(grid)
    viewport = grid.viewport(1).parentWidget()
    combo = viewport.plane_box  # type: ignore[union-attr]
    combo.setCurrentIndex(list(Plane).index(Plane.SAGITTAL))
    assert grid.views[1].plane is Plane.SAGITTAL
    grid.views[1].plane = Plane.CORONAL
    assert combo.currentData() is Plane.CORONAL
    viewport.link_button.click()  # type: ignore[union-attr]
    assert grid.views[1].linked is False
    grid.views[0].set_cursor(np.array([5.0, 5.0, 5.0]))
    assert not np.array_equal(grid.views[1].cursor, [5, 5, 5])


def test_dropping_a_series_id_emits_the_signal(qtbot):
    grid = QtViewerGrid(GridLayout.TWO_BY_TWO)
    qtbot.addWidget(grid)
    grid.resize(800, 600)
    grid.show()
    target = grid.viewport(3).parentWidget()
    assert target is not None
    mime = QMimeData()
    mime.setData(SERIES_MIME_TYPE, b"1.2.826.0.1.3680043.8.498.42")
    enter = QDragEnterEvent(
        QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    with qtbot.waitSignal(grid.series_dropped, timeout=1000) as blocker:
        QApplication.sendEvent(target, drop)
    assert blocker.args == [3, "1.2.826.0.1.3680043.8.498.42"]
    other = QMimeData()
    other.setText("not a series")
    refused = QDragEnterEvent(
        QPoint(20, 20), Qt.DropAction.CopyAction, other, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(target, refused)
    assert not refused.isAccepted()


@pytest.mark.shared_data
def test_screenshot_of_a_2x2_grid_with_flair_t2_t1_and_lesion_mask(
    qtbot, shared_data: Path, tmp_path: Path
):
    folder = shared_data / "open_ms_data/cross_sectional/MNI/patient26"
    suffix = "_N4_noneck_reduced_winsor_regtoFLAIR_brain_N4_regtoMNI.nii.gz"
    mask_array, mask_affine = load_lps(
        folder / "GOLD_STANDARD_N4_noneck_reduced_winsor_regtoFLAIR_regtoMNI.nii.gz", np.uint8
    )
    from viewers.image import ImageLayer

    images = {}
    for name in ("FLAIR", "T2", "T1"):
        array, affine = load_lps(folder / f"{name}{suffix}")
        images[name] = ImageLayer(f"{name} · patient26 (MNI)", array, affine)
    grid = QtViewerGrid(GridLayout.TWO_BY_TWO)
    qtbot.addWidget(grid)
    grid.resize(1280, 800)
    grid.show()
    qtbot.waitExposed(grid)
    hanging = [
        ("FLAIR", Plane.AXIAL, LabelMode.FILLED),
        ("T2", Plane.AXIAL, LabelMode.OUTLINE),
        ("T1", Plane.AXIAL, LabelMode.OUTLINE),
        ("FLAIR", Plane.CORONAL, LabelMode.FILLED),
    ]
    for view, (name, plane, mode) in zip(grid.views, hanging, strict=True):
        view.plane = plane
        view.set_image(images[name])
        opacity = 0.45 if mode is LabelMode.FILLED else 0.9
        view.add_label(LabelLayer("lesions", mask_array, mask_affine, opacity=opacity, mode=mode))
        if name == "FLAIR":
            view.handle_key("2")  # the FLAIR window preset, as a reader would
    mask = grid.views[0].labels[0]
    lesion = mask.voxel_to_world(np.argwhere(mask.array > 0))
    right_hemisphere = lesion[lesion[:, 0] < 0]
    target = right_hemisphere[
        np.argmin(np.linalg.norm(right_hemisphere - np.median(right_hemisphere, 0), axis=1))
    ]
    grid.views[0].set_cursor(target)
    assert all(np.allclose(v.cursor, target) for v in grid.views)
    first = grid.viewport(0)
    x, y = first.view.world_to_view(target)
    _mouse(
        first, QEvent.Type.MouseMove, x + 3, y + 2, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton
    )
    QApplication.processEvents()
    pixmap = grid.grab()
    assert (pixmap.width(), pixmap.height()) == (1280, 800)
    assert pixmap.save(str(tmp_path / "viewer-2x2.png"))
    image = pixmap.toImage()
    # radiological: the patient's right (where most lesions are) is on the screen's left
    assert first.view.edge_labels().left == "R"
    assert (
        first.view.world_to_view(np.array([-40.0, 0.0, 0.0]))[0]
        < first.view.world_to_view(np.array([40.0, 0.0, 0.0]))[0]
    )
    assert image.pixelColor(20, 500).getRgb()[:3] == (0, 0, 0)  # black background
