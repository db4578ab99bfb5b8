"""Tools inside a view, without Qt: routing, keys, the label layer's cached box, LabelTools."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewers.test_tools import painting_view, press
from viewers.geometry import Plane
from viewers.grow import GrowTool
from viewers.image import ImageLayer, LabelLayer
from viewers.interaction import (
    Buttons,
    Key,
    Modifiers,
    PointerEvent,
    PointerKind,
    PointerTool,
    shortcut_help,
)
from viewers.label_tools import LabelTools, ToolKind
from viewers.labels_edit import LabelEditor
from viewers.tool_overlay import (
    GrowPreviewImage,
    brush_outline,
    polygon_outline,
    preview_rgba,
    tool_captions,
)
from viewers.tools import Brush, PolygonTool
from viewers.view import SliceView


def pointer(kind: PointerKind, x: float, y: float, buttons=Buttons.LEFT, button=Buttons.NONE, **kw):
    return PointerEvent(kind, x, y, buttons, button, **kw)


def true_box(array: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    found = np.argwhere(array)
    if found.size == 0:
        return None
    return tuple(int(v) for v in found.min(0)), tuple(int(v) for v in found.max(0))


def contains(outer, inner) -> bool:
    """``outer`` (inclusive box) holds ``inner`` (inclusive box or None)."""
    if inner is None:
        return True
    return all(a <= b for a, b in zip(outer[0], inner[0], strict=True)) and all(
        a >= b for a, b in zip(outer[1], inner[1], strict=True)
    )


def busy(editor: LabelEditor) -> bool:
    """``editor.in_group``, read fresh (mypy keeps narrowed properties across calls)."""
    return editor.in_group


def undoable(tools: LabelTools) -> bool:
    """``tools.can_undo``, read fresh."""
    return tools.can_undo


def blob_scene(
    shape: tuple[int, int, int] = (64, 64, 24),
) -> tuple[SliceView, LabelEditor, np.ndarray]:
    """An axial view of a bright ball (radius 6 voxels) in noise, on the label grid."""
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (-32.0, -32.0, -12.0)
    i, j, k = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij", sparse=True)
    ball = (i - 40) ** 2 + (j - 24) ** 2 + (k - 12) ** 2 <= 36
    rng = np.random.default_rng(3)
    image = (np.where(ball, 1000.0, 100.0) + rng.normal(0, 10, shape)).astype(np.int16)
    layer = ImageLayer("flair", image, affine)
    editor = LabelEditor.blank(shape, affine)
    view = SliceView(image=layer, viewport=(400.0, 400.0))
    view.add_label(LabelLayer("lesions", editor.array, affine))
    view.set_cursor(editor.voxel_to_world([40, 24, 12]))
    return view, editor, np.asarray(ball)


# --- LabelLayer.note_edit ----------------------------------------------------------------------


def test_note_edit_widens_the_cached_box_and_never_rescans():
    array = np.zeros((30, 30, 10), dtype=np.uint8)
    array[5:8, 6:9, 2] = 1
    layer = LabelLayer("lesions", array, np.eye(4))
    assert layer.bounding_box() == ((5, 6, 2), (7, 8, 2))
    assert layer.color_lut().shape[0] == 2
    array[20:22, 3:5, 7] = 4  # edited in place, as the editor does
    layer.note_edit((20, 3, 7), (22, 5, 8), top_label=4)
    assert layer.bounding_box() == ((5, 3, 2), (21, 8, 7))
    assert contains(layer.bounding_box(), true_box(array))
    assert layer.color_lut().shape[0] == 5  # the largest label was raised, no rescan
    array[:] = 0  # everything erased: the cached box stays (a rescan would give None)
    layer.note_edit((0, 0, 0), (30, 30, 10), top_label=0)
    assert layer.bounding_box() == ((0, 0, 0), (29, 29, 9))  # widened to the edit, a superset
    assert layer.color_lut().shape[0] == 5  # never lowered
    layer.forget_derived()
    assert layer.bounding_box() is None


def test_note_edit_on_an_empty_or_unscanned_map():
    array = np.zeros((10, 10, 10), dtype=np.uint16)
    layer = LabelLayer("lesions", array, np.eye(4))
    layer.note_edit((1, 1, 1), (3, 3, 3), 2)  # nothing cached yet: nothing to widen
    array[2, 2, 2] = 2
    assert layer.bounding_box() == ((2, 2, 2), (2, 2, 2))  # found by the first scan
    empty = LabelLayer("empty", np.zeros((10, 10, 10), dtype=np.uint8), np.eye(4))
    assert empty.bounding_box() is None
    empty.array[4, 5, 6] = 1
    empty.note_edit((4, 5, 6), (5, 6, 7), 1)
    assert empty.bounding_box() == ((4, 5, 6), (4, 5, 6))
    empty.note_edit((-5, 8, 9), (2, 20, 10))  # clipped to the array
    assert empty.bounding_box() == ((0, 5, 6), (4, 9, 9))
    empty.note_edit((3, 3, 3), (3, 9, 9))  # an empty box changes nothing
    assert empty.bounding_box() == ((0, 5, 6), (4, 9, 9))


def test_a_brush_stroke_keeps_the_views_box_a_superset_without_rescanning():
    view, editor = painting_view()
    layer = view.label("lesions")
    assert layer.bounding_box() is None  # scanned once, cached
    view.set_tool(Brush(editor, radius_mm=3.0))
    view.handle_pointer(pointer(PointerKind.PRESS, 150, 150, button=Buttons.LEFT))
    for x in (170, 200, 240, 260):
        view.handle_pointer(pointer(PointerKind.MOVE, x, 160))
        box = layer.bounding_box()
        assert box is not None
        assert contains(box, true_box(editor.array))
    view.handle_pointer(pointer(PointerKind.RELEASE, 260, 160, Buttons.NONE, Buttons.LEFT))
    exact = true_box(editor.array)
    assert layer.bounding_box() == exact  # painting only: widening gives the exact box
    editor.undo()  # erases the stroke: the cached box is kept (no rescan), still a superset
    assert not editor.array.any()
    assert layer.bounding_box() == exact
    view.labels_changed("lesions")  # without a box: forgotten and found again
    assert layer.bounding_box() is None


def test_labels_changed_raises_the_colour_table_for_labels_from_split_and_undo():
    view, editor = painting_view()
    layer = view.label("lesions")
    layer.color_lut()
    Brush(editor, radius_mm=2.0).stamp(view.view_to_world(100, 100), Plane.AXIAL.normal)
    Brush(editor, radius_mm=2.0).stamp(view.view_to_world(300, 300), Plane.AXIAL.normal)
    from viewers.label_ops import split_label

    assert split_label(editor, 1) == [1, 2]  # label 2 appears while label 1 is active
    assert layer.color_lut().shape[0] == 3
    rgba = view.render()
    grid = view.slice_grid()
    assert grid is not None
    col, row = np.round(grid.world_to_pixel(view.view_to_world(300, 300))).astype(int)
    yellowish = rgba[row, col]
    assert yellowish[1] > yellowish[2] + 40  # label 2's colour (yellow), not label 1's red


# --- routing in SliceView ----------------------------------------------------------------------


def test_the_view_offers_pointer_events_to_its_tool_first():
    view, editor = painting_view()
    seen: list[PointerTool | None] = []
    view.events.tool.connect(seen.append)
    brush = Brush(editor, radius_mm=2.0)
    view.set_tool(brush)
    assert view.tool is brush
    assert seen == [brush]
    cursor = view.cursor
    view.handle_pointer(pointer(PointerKind.PRESS, 200, 200, button=Buttons.LEFT))
    view.handle_pointer(pointer(PointerKind.MOVE, 240, 210))
    assert view.pointer == (240.0, 210.0)
    readout = view.readout  # readouts keep working while the tool takes the events
    assert readout is not None
    assert readout.world == pytest.approx(view.view_to_world(240, 210))
    view.handle_pointer(pointer(PointerKind.RELEASE, 240, 210, Buttons.NONE, Buttons.LEFT))
    assert np.array_equal(view.cursor, cursor)  # the click painted, it did not move the cursor
    assert editor.history == ["brush"]
    painted = int(np.count_nonzero(editor.array))
    # what the brush declines, the view does as before
    window = view.window
    ctrl = Modifiers.CTRL
    view.handle_pointer(pointer(PointerKind.PRESS, 100, 100, button=Buttons.LEFT, modifiers=ctrl))
    view.handle_pointer(pointer(PointerKind.MOVE, 160, 140, modifiers=ctrl))
    view.handle_pointer(pointer(PointerKind.RELEASE, 160, 140, Buttons.NONE, Buttons.LEFT))
    assert view.window != window
    middle = Buttons.MIDDLE
    view.handle_pointer(pointer(PointerKind.PRESS, 100, 100, middle, middle))
    view.handle_pointer(pointer(PointerKind.MOVE, 140, 100, middle))
    view.handle_pointer(pointer(PointerKind.RELEASE, 140, 100, Buttons.NONE, middle))
    assert view.pan[0] != 0.0
    info = view.slice_info()
    assert info is not None
    view.handle_pointer(pointer(PointerKind.WHEEL, 100, 100, Buttons.NONE, wheel_delta=120))
    after = view.slice_info()
    assert after is not None
    assert after.index == info.index + 1
    shift = Modifiers.SHIFT
    wheel = pointer(PointerKind.WHEEL, 100, 100, Buttons.NONE, modifiers=shift, wheel_delta=120)
    view.handle_pointer(wheel)
    assert brush.radius_mm == 2.5
    assert np.count_nonzero(editor.array) == painted
    # navigate again: a click moves the cursor
    view.set_tool(None)
    assert seen == [brush, None]
    view.handle_pointer(pointer(PointerKind.PRESS, 50, 60, button=Buttons.LEFT))
    assert view.world_to_view(view.cursor) == pytest.approx((50, 60))


def test_a_stroke_ends_on_release_even_after_a_window_drag_started():
    view, editor = painting_view()
    view.set_tool(Brush(editor))
    left, right = Buttons.LEFT, Buttons.RIGHT
    view.handle_pointer(pointer(PointerKind.PRESS, 200, 200, left, left))
    view.handle_pointer(pointer(PointerKind.PRESS, 200, 200, left | right, right))
    assert busy(editor)
    window = view.window
    view.handle_pointer(pointer(PointerKind.MOVE, 230, 230, left | right))  # the view's drag
    assert view.window != window
    view.handle_pointer(pointer(PointerKind.RELEASE, 230, 230, right, left))
    assert not busy(editor)  # the stroke ended: one undo step
    assert editor.history == ["brush"]
    view.handle_pointer(pointer(PointerKind.RELEASE, 230, 230, Buttons.NONE, right))
    moved = view.window
    view.handle_pointer(pointer(PointerKind.MOVE, 300, 300, Buttons.NONE))
    assert view.window == moved  # the window drag ended too


def test_keys_go_to_the_tool_first():
    view, editor = painting_view()
    brush = Brush(editor, radius_mm=2.0)
    view.set_tool(brush)
    assert view.handle_key(Key.EQUAL, Modifiers.ALT)
    assert view.handle_key("-", Modifiers.ALT)
    assert view.handle_key("=", Modifiers.ALT)
    assert brush.radius_mm == 2.5
    assert view.zoom == 1.0
    assert view.handle_key("=")  # without Alt: zoom in, as "+"
    assert view.zoom == pytest.approx(1.25)
    assert not view.handle_key(Key.ENTER)  # nothing takes it
    assert not view.handle_key("z", Modifiers.CTRL)


def test_polygon_keys_close_and_cancel_through_the_view():
    view, editor = painting_view()
    polygon = PolygonTool(editor)
    view.set_tool(polygon)
    for x, y in [(100.0, 100.0), (200.0, 100.0), (200.0, 200.0)]:
        assert view.handle_pointer(pointer(PointerKind.PRESS, x, y, button=Buttons.LEFT))
    corners = polygon_outline(view)
    assert corners is not None
    assert corners == pytest.approx(np.array([[100, 100], [200, 100], [200, 200]]))
    view.scroll(2)
    assert polygon_outline(view) is None  # not on this slice
    view.scroll(-2)
    assert tool_captions(view) == ["Polygon · lesion 1 · 3 corners"]
    assert view.handle_key(Key.ENTER)
    assert editor.history == ["polygon fill"]
    assert polygon_outline(view) is None
    view.handle_pointer(press(50, 50))
    assert view.handle_key(Key.ESCAPE)
    assert polygon.vertices.shape == (0, 3)
    assert not view.handle_key(Key.ESCAPE)  # nothing left to cancel
    assert editor.history == ["polygon fill"]


def test_grow_preview_then_enter_applies_through_the_view():
    view, editor, ball = blob_scene()
    assert view.image is not None
    grow = GrowTool(editor, view.image)
    view.set_tool(grow)
    x, y = view.world_to_view(editor.voxel_to_world([40, 24, 12]))
    assert view.handle_pointer(pointer(PointerKind.PRESS, x, y, button=Buttons.LEFT))
    preview = grow.preview
    assert preview is not None
    assert preview.voxel_count == pytest.approx(ball.sum(), rel=0.05)
    rgba = GrowPreviewImage().render(view)
    assert rgba is not None
    grid = view.slice_grid()
    assert grid is not None
    assert rgba.shape == (*grid.shape, 4)
    tinted = rgba[..., 3] > 0
    assert tinted.sum() == pytest.approx(np.count_nonzero(ball[:, :, 12]), rel=0.1)
    assert (rgba[..., :3] == 255).all(axis=2).any()  # a white boundary
    captions = tool_captions(view)
    assert captions[0] == "Grow · tolerance 2.50 · lesion 1"
    assert "Enter applies" in captions[1]
    assert not editor.array.any()
    assert view.handle_key(Key.ENTER)
    assert editor.history == ["grow"]
    assert np.count_nonzero(editor.array) == preview.voxel_count
    assert grow.preview is None
    view.handle_pointer(pointer(PointerKind.PRESS, x, y, button=Buttons.LEFT))
    assert view.handle_key(Key.ESCAPE)
    assert grow.preview is None
    assert editor.history == ["grow"]
    # the preview on a coronal view through the ball: sampled on that plane
    view.plane = Plane.CORONAL
    layer = preview_rgba(preview, editor, view, (255, 0, 0, 255))
    assert layer is not None
    assert (layer[..., 3] > 0).sum() == pytest.approx(np.count_nonzero(ball[:, 24, :]), rel=0.1)


def test_brush_outline_follows_the_pointer():
    view, editor = painting_view()
    assert brush_outline(view) is None
    brush = Brush(editor, radius_mm=4.0)
    view.set_tool(brush)
    assert brush_outline(view) is None  # the pointer is away
    view.handle_pointer(pointer(PointerKind.MOVE, 120, 80, Buttons.NONE))
    outline = brush_outline(view)
    assert outline is not None
    assert (outline.x, outline.y) == (120, 80)
    assert outline.radius_px == pytest.approx(4.0 * view.pixels_per_mm)
    assert outline.color[:3] == (255, 48, 48)  # label 1
    assert not outline.erase
    assert tool_captions(view) == ["Brush 4.0 mm 2D · lesion 1"]
    view.handle_pointer(PointerEvent(PointerKind.LEAVE, 0, 0))
    assert brush_outline(view) is None


def test_shortcut_help_lists_the_tool_keys():
    rows = dict(shortcut_help())
    assert "Alt + - / Alt + =" in rows
    assert "Ctrl+Z / Ctrl+Shift+Z" in rows
    assert "grow tolerance" in rows["Shift + mouse wheel"]
    assert rows["Enter"].startswith("apply the grow preview")
    assert "cancel" in rows["Escape"]
    assert Key("=") is Key.EQUAL
    assert Key("Enter") is Key.ENTER


# --- LabelTools ---------------------------------------------------------------------------------


def test_label_tools_set_the_tool_on_every_view_and_refresh_them_all():
    view, editor, _ = blob_scene()
    other = SliceView(Plane.CORONAL, image=view.image, viewport=(300.0, 300.0))
    other.add_label(LabelLayer("mask", editor.array, editor.affine))  # another layer object
    stranger = SliceView(image=view.image)
    stranger.add_label(LabelLayer("other", np.zeros(editor.shape, np.uint8), editor.affine))
    tools = LabelTools(editor, [view, other, stranger])
    kinds: list[ToolKind] = []
    tools.events.kind.connect(kinds.append)
    assert all(v.tool is None for v in tools.views)
    assert tools.set_kind("brush")
    assert all(v.tool is tools.brush for v in tools.views)
    assert tools.set_kind(ToolKind.ERASER)
    assert all(v.tool is tools.eraser for v in tools.views)
    assert tools.set_kind(ToolKind.GROW)  # the views' image is on the editor's grid
    assert all(v.tool is tools.grow for v in tools.views)
    assert kinds == [ToolKind.BRUSH, ToolKind.ERASER, ToolKind.GROW]
    for v in tools.views:
        v.labels[0].bounding_box()
    tools.set_kind(ToolKind.BRUSH)
    tools.brush.stamp(editor.voxel_to_world([40, 24, 12]), Plane.AXIAL.normal)
    for v in (view, other):
        box = v.labels[0].bounding_box()
        assert box is not None
        assert contains(box, true_box(editor.array))
    assert stranger.labels[0].bounding_box() is None
    assert tools.edited_layers(stranger) == []
    tools.remove_view(other)
    assert other.tool is None
    tools.set_kind(ToolKind.NAVIGATE)
    assert view.tool is None


def test_label_tools_settings_undo_and_operations():
    view, editor, _ = blob_scene()
    tools = LabelTools(editor, [view], brush_radius_mm=3.0)
    messages: list[str] = []
    tools.events.message.connect(messages.append)
    settings: list[None] = []
    tools.events.settings.connect(lambda: settings.append(None))
    assert tools.set_brush_radius_mm(5.0) == 5.0
    assert tools.eraser.radius_mm == 5.0
    tools.set_brush_3d(True)
    assert tools.brush_3d
    tools.set_brush_3d(False)
    tools.set_kind(ToolKind.BRUSH)
    # Shift+wheel in a view changes the brush; the toolset notices and keeps the eraser equal
    shift = Modifiers.SHIFT
    view.handle_pointer(
        pointer(PointerKind.WHEEL, 10, 10, Buttons.NONE, modifiers=shift, wheel_delta=-240)
    )
    assert tools.brush_radius_mm == 4.0
    assert tools.eraser.radius_mm == 4.0
    count = len(settings)
    # a stroke: undo is unavailable while it is open
    view.handle_pointer(pointer(PointerKind.PRESS, 200, 200, button=Buttons.LEFT))
    assert busy(editor)
    assert not tools.can_undo
    assert not tools.undo()
    view.handle_pointer(pointer(PointerKind.RELEASE, 200, 200, Buttons.NONE, Buttons.LEFT))
    assert undoable(tools)
    # two lesions: new lesion takes the next free label
    assert tools.new_lesion() == 2
    view.handle_pointer(pointer(PointerKind.PRESS, 60, 60, button=Buttons.LEFT))
    view.handle_pointer(pointer(PointerKind.RELEASE, 60, 60, Buttons.NONE, Buttons.LEFT))
    assert tools.other_labels() == [1]
    assert tools.merge_into_active(1) > 0
    assert editor.labels_present() == [2]
    assert tools.split() == [2, 3]
    assert tools.delete_active() > 0
    assert editor.labels_present() == [3]
    assert tools.undo()
    assert editor.labels_present() == [2, 3]
    assert tools.redo()
    assert messages[-1] == "Redone: delete"
    assert len(settings) > count  # the active label changed
    assert not tools.set_active_label(70000)
    assert "label 70000" in messages[-1]


def test_grow_needs_an_image_on_the_label_grid():
    view, editor = painting_view()
    shifted = SliceView(image=ImageLayer("other", np.zeros((8, 8, 8), np.int16), np.eye(4)))
    tools = LabelTools(editor, [shifted])
    messages: list[str] = []
    tools.events.message.connect(messages.append)
    assert not tools.can_grow
    assert not tools.set_kind(ToolKind.GROW)
    assert tools.kind is ToolKind.NAVIGATE
    assert "Grow needs" in messages[-1]
    tools.add_view(view)  # its image is on the grid
    assert tools.set_kind(ToolKind.GROW)
    tools.set_tolerance(1.5)
    grow = tools.grow
    assert grow is not None
    assert grow.tolerance == 1.5
    tools.release()
    assert view.tool is None


def test_the_tool_models_import_neither_qt_nor_simpleitk():
    import subprocess
    import sys

    modules = ["viewers.label_tools", "viewers.tool_overlay", "viewers.tools", "viewers.grow"]
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in {'PyQt6', 'SimpleITK'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
