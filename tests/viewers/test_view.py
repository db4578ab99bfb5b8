"""SliceView: the model of one viewport, driven by synthetic pointer and key events."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewers.conftest import axial_layer
from viewers.geometry import Plane
from viewers.image import ImageLayer, LabelLayer, LabelMode
from viewers.interaction import Buttons, Key, Modifiers, PointerEvent, PointerKind, shortcut_help
from viewers.view import SliceView
from viewers.window import PRESETS, Window


def press(x: float, y: float, button: Buttons = Buttons.LEFT, mods=Modifiers.NONE) -> PointerEvent:
    return PointerEvent(PointerKind.PRESS, x, y, buttons=button, button=button, modifiers=mods)


def move(x: float, y: float, buttons: Buttons = Buttons.NONE) -> PointerEvent:
    return PointerEvent(PointerKind.MOVE, x, y, buttons=buttons)


def release(x: float, y: float, button: Buttons = Buttons.LEFT) -> PointerEvent:
    return PointerEvent(PointerKind.RELEASE, x, y, button=button)


def wheel(x: float, y: float, delta: float, mods=Modifiers.NONE) -> PointerEvent:
    return PointerEvent(PointerKind.WHEEL, x, y, wheel_delta=delta, modifiers=mods)


@pytest.fixture
def view() -> SliceView:
    return SliceView(Plane.AXIAL, image=axial_layer(), viewport=(400.0, 300.0))


def test_new_view_centres_on_the_image_and_windows_it(view):
    layer = view.image
    assert layer is not None
    assert np.allclose(view.cursor, layer.center_world)
    assert view.window is not None
    assert view.window.width > 0
    rgba = view.render()
    assert rgba.shape == (30, 20, 4)
    assert rgba.flags.c_contiguous
    _left, _top, width, height = view.image_rect() or (0, 0, 0, 0)
    assert width / 20 / 0.8 == pytest.approx(height / 30 / 0.9)  # square mm on screen
    assert max(width / 400, height / 300) == pytest.approx(1.0)  # fit


def test_click_sets_the_cursor_to_the_world_point_under_the_pixel(view):
    layer = view.image
    assert layer is not None
    view.handle_pointer(press(123.0, 77.0))
    view.handle_pointer(release(123.0, 77.0))
    world = view.cursor
    assert view.world_to_view(world) == pytest.approx((123.0, 77.0))
    # the voxel drawn under the pixel contains the world point: within half a voxel
    ijk = layer.world_to_voxel(world)
    voxel = view.readout_at(123.0, 77.0).voxel
    assert voxel is not None
    assert np.all(np.abs(ijk - np.array(voxel)) <= 0.5 + 1e-9)
    # and the pixel of the rendered slice there shows that voxel's value
    grid = view.slice_grid()
    assert grid is not None
    col, row = np.floor(grid.world_to_pixel(world) + 0.5).astype(int)
    base = view.base_slice()
    assert base is not None
    assert base[row, col] == layer.volume[voxel]


def test_scroll_moves_by_the_slice_step_and_stays_inside(view):
    layer = view.image
    assert layer is not None
    view.go_to_slice(3)
    start = view.cursor
    view.scroll(2)
    assert view.cursor - start == pytest.approx([0, 0, 2 * 2.5])
    info = view.slice_info()
    assert info is not None
    assert (info.index, info.count) == (5, 12)
    view.scroll(100)
    info = view.slice_info()
    assert info is not None
    assert info.index == 11
    view.scroll(-100)
    info = view.slice_info()
    assert info is not None
    assert info.index == 0
    assert np.array_equal(view.base_slice(), layer.array[:, :, 0].T)


def test_scroll_snaps_to_slice_centres_from_anywhere(view):
    layer = view.image
    assert layer is not None
    view.set_cursor(layer.voxel_to_world([4.3, 5.1, 6.3]))
    view.scroll(1)
    assert layer.world_to_voxel(view.cursor)[2] == pytest.approx(7.0)


def test_wheel_scrolls_and_fine_wheels_add_up(view):
    view.go_to_slice(4)
    view.handle_pointer(wheel(10, 10, 120))
    assert view.slice_info().index == 5
    view.handle_pointer(wheel(10, 10, -240))
    assert view.slice_info().index == 3
    for _ in range(4):
        view.handle_pointer(wheel(10, 10, 30))  # a touchpad: four quarter-notches
    assert view.slice_info().index == 4


def test_ctrl_wheel_zooms_about_the_pointer(view):
    anchor = view.view_to_world(300.0, 40.0)
    view.handle_pointer(wheel(300.0, 40.0, 240, Modifiers.CTRL))
    assert view.zoom == pytest.approx(1.25**2)
    assert np.allclose(view.view_to_world(300.0, 40.0), anchor)


def test_right_drag_changes_window_and_level(view):
    start = view.window
    assert start is not None
    view.handle_pointer(press(100, 100, Buttons.RIGHT))
    view.handle_pointer(move(150, 100, Buttons.RIGHT))
    wider = view.window
    assert wider is not None
    assert wider.width > start.width
    assert wider.center == start.center
    view.handle_pointer(move(150, 140, Buttons.RIGHT))
    lower = view.window
    assert lower is not None
    assert lower.center > start.center
    assert lower.width == wider.width
    view.handle_pointer(release(150, 140, Buttons.RIGHT))
    view.handle_pointer(move(300, 300))
    assert view.window == lower  # the drag has ended
    cursor = view.cursor
    view.handle_pointer(press(100, 100, Buttons.LEFT, Modifiers.CTRL))  # ctrl+left = window too
    view.handle_pointer(move(60, 100, Buttons.LEFT))
    narrowed = view.window
    assert narrowed is not None
    assert narrowed.width < lower.width
    assert np.array_equal(view.cursor, cursor)


def test_middle_drag_pans_with_the_pointer(view):
    before = view.world_to_view(view.cursor)
    view.handle_pointer(press(100, 100, Buttons.MIDDLE))
    view.handle_pointer(move(130, 80, Buttons.MIDDLE))
    after = view.world_to_view(view.cursor)
    assert after == pytest.approx((before[0] + 30, before[1] - 20))


def test_left_drag_moves_the_cursor(view):
    view.handle_pointer(press(100, 100))
    view.handle_pointer(move(120, 110, Buttons.LEFT))
    assert view.world_to_view(view.cursor) == pytest.approx((120, 110))


def test_keys(view):
    view.go_to_slice(5)
    assert view.handle_key(Key.UP)
    assert view.slice_info().index == 6
    assert view.handle_key("PageDown")
    assert view.slice_info().index == 0
    assert view.handle_key(Key.END)
    assert view.slice_info().index == 11
    view.handle_key(Key.PLUS)
    assert view.zoom == pytest.approx(1.25)
    view.handle_key("r")
    assert (view.zoom, view.pan) == (1.0, (0.0, 0.0))
    view.handle_key(Key.I)
    assert view.invert
    view.set_window(Window(0, 10))
    view.handle_key(Key.A)
    assert view.window != Window(0, 10)
    layer = view.image
    assert layer is not None
    view.handle_key("6")
    assert view.window == PRESETS[5].window(layer)
    assert not view.handle_key("Q")
    keys = [key for key, _ in shortcut_help()]
    assert "Mouse wheel" in keys
    assert "I" in keys
    assert "6" in keys


def test_orientation_letters_follow_the_plane(view):
    assert (view.edge_labels().left, view.edge_labels().right) == ("R", "L")
    view.plane = Plane.SAGITTAL
    labels = view.edge_labels()
    assert (labels.left, labels.right, labels.top, labels.bottom) == ("A", "P", "S", "I")


def test_scale_bar_is_a_round_length_that_fits(view):
    bar = view.scale_bar(0.25)
    assert bar.length_mm in (1, 2, 5, 10, 20, 50, 100)
    assert bar.length_px <= 0.25 * 400 + 1e-9
    assert bar.length_px == pytest.approx(bar.length_mm * view.pixels_per_mm)
    view.set_camera(zoom=4.0)
    assert view.scale_bar(0.25).length_mm < bar.length_mm


def test_events_fire_once_per_change_and_not_for_no_change(view):
    seen: list[str] = []
    view.events.cursor.connect(lambda cursor: seen.append("cursor"))
    view.events.window.connect(lambda window, invert: seen.append("window"))
    view.events.changed.connect(lambda: seen.append("changed"))
    view.set_cursor(view.cursor)
    assert seen == []
    view.set_cursor(view.cursor + 1.0)
    view.set_invert(True)
    assert seen == ["cursor", "changed", "window", "changed"]


def test_render_is_cached_until_something_visible_changes(view):
    first = view.render()
    assert view.render() is first
    view.set_cursor(view.cursor + np.array([3.0, 2.0, 0.0]))  # same slice, moved in-plane
    assert view.render() is first
    view.scroll(1)
    assert view.render() is not first


def test_label_overlay_filled_and_outline(view):
    layer = view.image
    assert layer is not None
    mask = np.zeros(layer.spatial_shape, dtype=np.uint8)
    mask[5:9, 10:14, 6] = 1
    view.add_label(LabelLayer("lesion", mask, layer.affine, opacity=1.0))
    view.go_to_slice(6)
    rgba = view.render()
    red = (rgba[..., 0] == 255) & (rgba[..., 1] == 48)
    assert np.array_equal(np.argwhere(red), np.argwhere(mask[:, :, 6].T))
    view.update_label("lesion", mode=LabelMode.OUTLINE)
    red = (view.render()[..., 1] == 48) & (view.render()[..., 0] == 255)
    assert red.sum() == 12  # the 4x4 square's ring
    view.go_to_slice(7)
    assert not ((view.render()[..., 0] == 255) & (view.render()[..., 1] == 48)).any()
    mask[5, 10, 7] = 1
    view.labels_changed("lesion")
    assert ((view.render()[..., 0] == 255) & (view.render()[..., 1] == 48)).sum() == 1
    view.update_label("lesion", visible=False)
    assert not ((view.render()[..., 0] == 255) & (view.render()[..., 1] == 48)).any()


def test_readout_reports_value_and_clears_on_leave(view):
    layer = view.image
    assert layer is not None
    x, y = view.world_to_view(layer.voxel_to_world([4, 9, 6]))
    view.go_to_slice(6)
    view.handle_pointer(move(x, y))
    readout = view.readout
    assert readout is not None
    assert readout.voxel == (4, 9, 6)
    assert readout.value == layer.array[4, 9, 6]
    view.handle_pointer(PointerEvent(PointerKind.LEAVE, 0, 0))
    assert view.readout is None
    assert view.readout_at(-500, -500).voxel is None


def test_4d_series_shows_one_volume_at_a_time():
    data = np.stack([np.full((4, 5, 6), t * 10, dtype=np.int16) for t in range(3)], axis=-1)
    view = SliceView(image=ImageLayer("dwi", data, np.eye(4)))

    def shown() -> int:
        values = view.base_slice()
        assert values is not None
        return int(values.max())

    assert shown() == 0
    for _ in range(3):  # the third press stays on the last volume
        view.handle_key("]")
    assert view.image is not None
    assert view.image.time_index == 2
    assert shown() == 20
    view.handle_key("[")
    assert shown() == 10


def test_empty_view_renders_nothing_and_scrolls_in_mm():
    view = SliceView()
    assert view.render().shape == (0, 0, 4)
    view.scroll(3)
    assert np.array_equal(view.cursor, [0, 0, 3])
    assert view.slice_info() is None
