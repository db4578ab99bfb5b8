"""The label editor and the brush, eraser and polygon tools, driven without Qt."""

from __future__ import annotations

import math

import numpy as np
import pytest

from viewers.geometry import reslice
from viewers.image import ImageLayer, LabelLayer
from viewers.interaction import Buttons, Key, Modifiers, PointerEvent, PointerKind
from viewers.labels_edit import EditorError, LabelEditor, VoxelBox
from viewers.measure import connected_lesions
from viewers.tools import (
    Brush,
    BrushShape,
    PolygonTool,
    capsule_mask,
    connect_view,
    fill_polygon,
    points_in_polygon,
)
from viewers.view import SliceView

AXIAL_NORMAL = np.array([0.0, 0.0, 1.0])


def painting_view(
    shape: tuple[int, int, int] = (64, 64, 20),
    spacing: tuple[float, float, float] = (1.0, 1.0, 2.0),
) -> tuple[SliceView, LabelEditor]:
    """An axial view of a ramp image with an empty label layer that an editor edits."""
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = (-20.0, -30.0, -10.0)
    image = ImageLayer("t2", np.arange(np.prod(shape), dtype=np.int16).reshape(shape), affine)
    editor = LabelEditor.blank(shape, affine)
    view = SliceView(image=image, viewport=(512.0, 512.0))
    view.add_label(LabelLayer("lesions", editor.array, affine))
    connect_view(editor, view, "lesions")
    return view, editor


def press(x: float, y: float, modifiers: Modifiers = Modifiers.NONE) -> PointerEvent:
    return PointerEvent(PointerKind.PRESS, x, y, Buttons.LEFT, Buttons.LEFT, modifiers)


def move(x: float, y: float) -> PointerEvent:
    return PointerEvent(PointerKind.MOVE, x, y, Buttons.LEFT)


def release(x: float, y: float) -> PointerEvent:
    return PointerEvent(PointerKind.RELEASE, x, y, Buttons.NONE, Buttons.LEFT)


def stroke(tool: Brush, view: SliceView, points: list[tuple[float, float]]) -> None:
    assert tool.handle_pointer(press(*points[0]), view)
    for x, y in points[1:]:
        assert tool.handle_pointer(move(x, y), view)
    assert tool.handle_pointer(release(*points[-1]), view)


# --- the editor ----------------------------------------------------------------------------


def test_voxel_box_arithmetic():
    box = VoxelBox((1, 2, 3), (4, 6, 5))
    assert box.shape == (3, 4, 2)
    assert box.size == 24
    assert box.union(VoxelBox((0, 0, 0), (0, 0, 0))) == box
    assert box.union(VoxelBox((5, 0, 4), (6, 1, 9))) == VoxelBox((1, 0, 3), (6, 6, 9))
    assert box.grown(2).clip((4, 100, 100)) == VoxelBox((0, 0, 1), (4, 8, 7))
    assert box.contains((1, 5, 4))
    assert not box.contains((4, 5, 4))
    assert VoxelBox.around([[3, 4, 5], [1, 9, 2]]) == VoxelBox((1, 4, 2), (4, 10, 6))


def test_editor_rejects_what_it_cannot_edit():
    frozen = np.zeros((4, 4, 4), dtype=np.uint8)
    frozen.setflags(write=False)
    with pytest.raises(EditorError, match="read-only"):
        LabelEditor(frozen, np.eye(4))
    with pytest.raises(EditorError, match="integer"):
        LabelEditor(np.zeros((4, 4, 4), dtype=np.float32), np.eye(4))
    with pytest.raises(EditorError, match="3D"):
        LabelEditor(np.zeros((4, 4), dtype=np.uint8), np.eye(4))
    editor = LabelEditor(np.zeros((4, 4, 4), dtype=np.uint8), np.eye(4))
    with pytest.raises(EditorError, match="label 256"):
        editor.active_label = 256
    with pytest.raises(EditorError, match="label 0"):
        editor.active_label = 0


def test_a_group_stores_each_changed_voxel_once_and_undoes_in_one_step():
    editor = LabelEditor.blank((30, 30, 30), np.eye(4))
    boxes: list[VoxelBox] = []
    editor.events.changed.connect(boxes.append)
    editor.begin_group("stroke")
    everywhere = np.ones((10, 10, 1), dtype=bool)
    for _ in range(5):  # the same voxels painted again and again: stored once
        editor.paint(VoxelBox((0, 0, 0), (10, 10, 1)), everywhere, 1)
    editor.paint(VoxelBox((5, 5, 0), (15, 15, 1)), everywhere, 2)
    editor.erase(VoxelBox((20, 20, 0), (21, 21, 1)), np.ones((1, 1, 1), dtype=bool))  # no-op
    group = editor.end_group()
    assert group is not None
    assert group.voxel_count == 100 + 75  # 100 of label 1 (25 then repainted 2), 75 new of 2
    assert group.indices.dtype == np.uint16  # 27,000 voxels: 2-byte indices
    assert group.nbytes == group.voxel_count * (2 + 2 + 2)
    assert group.box == VoxelBox((0, 0, 0), (15, 15, 1))
    assert boxes == [VoxelBox((0, 0, 0), (10, 10, 1)), VoxelBox((5, 5, 0), (15, 15, 1))]
    assert editor.history == ["stroke"]
    after = editor.array.copy()
    editor.undo()
    assert not editor.array.any()
    assert not editor.can_undo
    assert editor.can_redo
    assert boxes[-1] == group.box
    editor.redo()
    assert np.array_equal(editor.array, after)


def test_a_voxel_painted_and_erased_in_one_group_is_not_recorded():
    editor = LabelEditor.blank((8, 8, 8), np.eye(4))
    box = VoxelBox((2, 2, 2), (4, 4, 4))
    with editor.group("scribble"):
        editor.paint(box, np.ones((2, 2, 2), dtype=bool), 3)
        editor.erase(box, np.ones((2, 2, 2), dtype=bool))
    assert editor.history == []
    assert not editor.can_undo


def test_history_is_unlimited_and_a_new_edit_clears_redo():
    editor = LabelEditor.blank((40, 4, 4), np.eye(4))
    for i in range(40):
        editor.write(VoxelBox((i, 0, 0), (i + 1, 1, 1)), np.ones((1, 1, 1), dtype=bool), 1)
    assert len(editor.history) == 40
    for _ in range(40):
        editor.undo()
    assert not editor.array.any()
    assert editor.undo() is None
    editor.redo()
    editor.redo()
    assert editor.redo_history[0] == "edit"
    editor.write(VoxelBox((0, 1, 0), (1, 2, 1)), np.ones((1, 1, 1), dtype=bool), 2, name="other")
    assert not editor.can_redo
    assert editor.history == ["edit", "edit", "other"]


def test_groups_nest_and_undo_waits_for_the_open_group():
    editor = LabelEditor.blank((8, 8, 8), np.eye(4))
    editor.begin_group("outer")
    editor.begin_group("inner")
    editor.paint(VoxelBox((0, 0, 0), (1, 1, 1)), np.ones((1, 1, 1), dtype=bool), 1)
    assert editor.end_group() is None
    with pytest.raises(EditorError, match="in progress"):
        editor.undo()
    editor.paint(VoxelBox((1, 0, 0), (2, 1, 1)), np.ones((1, 1, 1), dtype=bool), 1)
    group = editor.end_group()
    assert group is not None
    assert group.voxel_count == 2
    assert editor.history == ["outer"]
    with pytest.raises(EditorError, match="without begin_group"):
        editor.end_group()


def test_editor_edits_a_fortran_ordered_array_in_place():
    array = np.asfortranarray(np.zeros((6, 7, 8), dtype=np.int16))
    editor = LabelEditor(array, np.eye(4))
    editor.paint(VoxelBox((1, 2, 3), (3, 4, 5)), np.ones((2, 2, 2), dtype=bool), 4)
    assert array[1:3, 2:4, 3:5].min() == 4
    assert np.count_nonzero(array) == 8
    editor.undo()
    assert not array.any()
    editor.redo()
    assert np.count_nonzero(array == 4) == 8


def test_write_checks_its_box():
    editor = LabelEditor.blank((4, 4, 4), np.eye(4))
    with pytest.raises(EditorError, match="outside"):
        editor.write(VoxelBox((3, 0, 0), (5, 1, 1)), np.ones((2, 1, 1), dtype=bool), 1)
    with pytest.raises(EditorError, match="mask shape"):
        editor.write(VoxelBox((0, 0, 0), (2, 1, 1)), np.ones((1, 1, 1), dtype=bool), 1)


# --- brush strokes from pointer events -----------------------------------------------------


def test_a_synthetic_drag_paints_one_connected_stroke_that_undoes_in_one_step():
    view, editor = painting_view()
    view.go_to_slice(7)
    info = view.slice_info()
    assert info is not None
    before = view.render().copy()
    changes: list[VoxelBox] = []
    editor.events.changed.connect(changes.append)
    brush = Brush(editor, radius_mm=1.5)
    # fast drag: successive moves 100+ view pixels (~15 mm) apart
    points = [(100.0, 100.0), (230.0, 140.0), (400.0, 300.0), (410.0, 420.0), (150.0, 430.0)]
    stroke(brush, view, points)
    painted = editor.array != 0
    ks = np.unique(np.nonzero(painted)[2])
    assert ks.tolist() == [info.index]  # only the displayed slice
    assert connected_lesions(painted).max() == 1  # one piece: no gaps
    for x, y in points:  # every pointer position is painted
        voxel = editor.nearest_voxel(view.view_to_world(x, y))
        assert voxel is not None
        assert painted[voxel]
    assert editor.history == ["brush"]
    box = changes[0]
    for change in changes[1:]:
        box = box.union(change)
    assert box == VoxelBox.around(np.argwhere(painted))
    after_render = view.render()
    assert not np.array_equal(before, after_render)  # the overlay shows the stroke
    snapshot = editor.array.copy()
    editor.undo()
    assert not editor.array.any()
    assert np.array_equal(view.render(), before)
    editor.redo()
    assert np.array_equal(editor.array, snapshot)


def test_a_coronal_stroke_stays_in_its_slice():
    view, editor = painting_view()
    view.plane = view.plane.CORONAL
    view.go_to_slice(30)
    brush = Brush(editor, radius_mm=2.0)
    stroke(brush, view, [(200.0, 200.0), (300.0, 260.0)])
    js = np.unique(np.nonzero(editor.array)[1])
    assert js.tolist() == [30]
    assert connected_lesions(editor.array > 0).max() == 1


def test_disc_covers_the_voxels_within_the_radius_in_the_plane():
    spacing = (0.5, 0.7, 1.5)
    editor = LabelEditor.blank((80, 80, 20), np.diag([*spacing, 1.0]))
    centre = np.array([20.1, 27.9, 15.0])
    Brush(editor, radius_mm=5.0).stamp(centre, AXIAL_NORMAL)
    index = np.argwhere(editor.array)
    assert np.unique(index[:, 2]).tolist() == [10]
    world = editor.voxel_to_world(index)
    assert np.all(np.hypot(world[:, 0] - centre[0], world[:, 1] - centre[1]) <= 5.0 + 1e-9)
    expected = math.pi * 25.0 / (spacing[0] * spacing[1])
    assert index.shape[0] == pytest.approx(expected, rel=0.03)


def test_sphere_brush_on_an_anisotropic_grid_has_the_analytic_volume():
    spacing = (0.5, 0.7, 1.5)
    editor = LabelEditor.blank((80, 80, 40), np.diag([*spacing, 1.0]))
    brush = Brush(editor, radius_mm=6.0, shape=BrushShape.SPHERE)
    centre = np.array([19.93, 28.2, 30.4])
    brush.stamp(centre)
    count = int(np.count_nonzero(editor.array))
    volume = count * spacing[0] * spacing[1] * spacing[2]
    assert volume == pytest.approx(4.0 / 3.0 * math.pi * 6.0**3, rel=0.04)
    world = editor.voxel_to_world(np.argwhere(editor.array))
    assert np.all(np.linalg.norm(world - centre, axis=1) <= 6.0 + 1e-9)
    assert len(np.unique(np.nonzero(editor.array)[2])) > 1  # it is 3D


def test_a_brush_smaller_than_a_voxel_still_draws_a_connected_line():
    editor = LabelEditor.blank((40, 40, 3), np.eye(4))
    brush = Brush(editor, radius_mm=0.0)
    brush.begin_stroke([2.0, 3.0, 1.0], AXIAL_NORMAL)
    brush.continue_stroke([35.0, 21.0, 1.0])
    brush.end_stroke()
    assert connected_lesions(editor.array > 0).max() == 1
    assert editor.array[2, 3, 1]
    assert editor.array[35, 21, 1]
    assert np.count_nonzero(editor.array) < 80  # a line, not a band


def test_strokes_outside_the_volume_record_nothing():
    editor = LabelEditor.blank((10, 10, 10), np.eye(4))
    brush = Brush(editor, radius_mm=2.0)
    brush.begin_stroke([100.0, 100.0, 5.0], AXIAL_NORMAL)
    brush.continue_stroke([120.0, 100.0, 5.0])
    brush.end_stroke()
    assert editor.history == []
    box, mask = capsule_mask(editor, [100, 100, 5], [120, 100, 5], 2.0, AXIAL_NORMAL)
    assert box.is_empty
    assert mask.size == 0


def test_eraser_clears_everything_or_only_the_active_label():
    editor = LabelEditor.blank((30, 30, 5), np.eye(4))
    editor.array[5:25, 5:15, 2] = 1
    editor.array[5:25, 15:25, 2] = 2
    editor.active_label = 2
    only_active = Brush(editor, radius_mm=30.0, erase=True, erase_only_active=True)
    only_active.stamp([15.0, 15.0, 2.0], AXIAL_NORMAL)
    assert np.count_nonzero(editor.array == 2) == 0
    assert np.count_nonzero(editor.array == 1) == 200
    assert editor.history == ["erase"]
    eraser = Brush(editor, radius_mm=3.0, erase=True)
    eraser.begin_stroke([5.0, 10.0, 2.0], AXIAL_NORMAL)
    eraser.continue_stroke([24.0, 10.0, 2.0])
    eraser.end_stroke()
    assert np.count_nonzero(editor.array[5:25, 7:14, 2]) == 0
    assert np.count_nonzero(editor.array) > 0
    editor.undo()
    editor.undo()
    assert np.count_nonzero(editor.array == 2) == 200


def test_preserve_other_labels_leaves_other_lesions_alone():
    editor = LabelEditor.blank((30, 30, 5), np.eye(4))
    editor.array[10:20, 10:20, 2] = 1
    editor.active_label = 2
    Brush(editor, radius_mm=8.0, preserve_other=True).stamp([15.0, 15.0, 2.0], AXIAL_NORMAL)
    assert np.count_nonzero(editor.array == 1) == 100
    assert np.count_nonzero(editor.array == 2) > 50
    editor.undo()
    Brush(editor, radius_mm=8.0).stamp([15.0, 15.0, 2.0], AXIAL_NORMAL)
    assert np.count_nonzero(editor.array == 1) < 100


def test_radius_changes_by_call_wheel_and_key():
    view, editor = painting_view()
    brush = Brush(editor, radius_mm=2.0)
    assert brush.grow_radius(2) == 3.0
    assert brush.grow_radius(-1) == 2.5
    assert brush.set_radius_mm(-5.0) == 0.0
    assert brush.set_radius_mm(500.0) == Brush.MAX_RADIUS_MM
    brush.set_radius_mm(2.0)
    wheel = PointerEvent(PointerKind.WHEEL, 10, 10, modifiers=Modifiers.SHIFT, wheel_delta=240)
    assert brush.handle_pointer(wheel, view)
    assert brush.radius_mm == 3.0
    plain_wheel = PointerEvent(PointerKind.WHEEL, 10, 10, wheel_delta=120)
    assert not brush.handle_pointer(plain_wheel, view)  # the view scrolls
    assert brush.handle_key(Key.MINUS, Modifiers.ALT)
    assert brush.handle_key("=", Modifiers.ALT)
    assert brush.radius_mm == 3.0
    assert not brush.handle_key(Key.MINUS)  # plain '-' zooms the view
    assert brush.radius_px(view) == pytest.approx(3.0 * view.pixels_per_mm)


def test_brush_declines_what_the_view_does():
    view, editor = painting_view()
    brush = Brush(editor)
    assert not brush.handle_pointer(press(50, 50, Modifiers.CTRL), view)  # window/level
    middle = PointerEvent(PointerKind.PRESS, 50, 50, Buttons.MIDDLE, Buttons.MIDDLE)
    assert not brush.handle_pointer(middle, view)  # pan
    assert not brush.handle_pointer(move(60, 60), view)  # hover
    assert not editor.array.any()


# --- polygon fill ----------------------------------------------------------------------------


def test_points_in_polygon_even_odd_and_edges():
    square = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]])
    points = np.array([[2.0, 2.0], [4.0, 2.0], [0.0, 0.0], [5.0, 2.0], [-0.1, 2.0]])
    assert points_in_polygon(points, square).tolist() == [True, True, True, False, False]
    ring = np.array(
        [[0, 0], [6, 0], [6, 6], [0, 6], [0, 0], [2, 2], [2, 4], [4, 4], [4, 2], [2, 2]]
    )
    assert points_in_polygon(np.array([[3.0, 3.0], [1.0, 1.0]]), ring.astype(float)).tolist() == [
        False,
        True,
    ]


def test_polygon_fill_of_a_square_gives_exactly_the_inside_voxels():
    affine = np.diag([0.8, 0.9, 2.5, 1.0])
    affine[:3, 3] = (-8.0, -13.0, -14.0)
    editor = LabelEditor.blank((20, 30, 12), affine)
    k = 5
    # corners on voxel centres (i 3..9, j 4..12): border voxels are inside
    corners = editor.voxel_to_world([[3, 4, k], [9, 4, k], [9, 12, k], [3, 12, k]])
    changed = fill_polygon(editor, corners, AXIAL_NORMAL)
    expected = np.zeros(editor.shape, dtype=bool)
    expected[3:10, 4:13, k] = True
    assert changed == 7 * 9
    assert np.array_equal(editor.array != 0, expected)
    assert editor.history == ["polygon fill"]
    editor.undo()
    # corners between voxel centres, one slice up, normal fitted from the points
    corners = editor.voxel_to_world(
        [[2.5, 3.5, k + 1], [7.5, 3.5, k + 1], [7.5, 9.5, k + 1], [2.5, 9.5, k + 1]]
    )
    fill_polygon(editor, corners)
    expected = np.zeros(editor.shape, dtype=bool)
    expected[3:8, 4:10, k + 1] = True
    assert np.array_equal(editor.array != 0, expected)


def test_polygon_fill_of_an_l_shape_on_a_flipped_grid():
    affine = np.array(
        [[-1.0, 0, 0, 30.0], [0, -1.0, 0, 40.0], [0, 0, 3.0, 0.0], [0, 0, 0, 1.0]]
    )  # i runs right, j anterior: a RAS-stored volume seen in LPS
    editor = LabelEditor.blank((32, 32, 8), affine)
    shape = [[0.5, 0.5], [10.5, 0.5], [10.5, 4.5], [4.5, 4.5], [4.5, 12.5], [0.5, 12.5]]
    corners = editor.voxel_to_world([[i, j, 3] for i, j in shape])
    fill_polygon(editor, corners, AXIAL_NORMAL, label=4)
    expected = np.zeros(editor.shape, dtype=bool)
    expected[1:11, 1:5, 3] = True
    expected[1:5, 1:13, 3] = True
    assert np.array_equal(editor.array == 4, expected)


def test_polygon_tool_from_clicks_fills_when_closed():
    view, editor = painting_view()
    view.go_to_slice(4)
    tool = PolygonTool(editor)
    for x, y in [(100.0, 100.0), (300.0, 100.0), (300.0, 300.0), (100.0, 300.0)]:
        assert tool.handle_pointer(press(x, y), view)
    assert tool.vertices.shape == (4, 3)
    assert not editor.array.any()
    assert tool.handle_pointer(press(102.0, 101.0), view)  # on the first corner: close
    assert tool.vertices.shape == (0, 3)
    assert editor.history == ["polygon fill"]
    index = np.argwhere(editor.array)
    assert np.unique(index[:, 2]).tolist() == [4]
    corners = [view.view_to_world(x, y) for x, y in [(100.0, 100.0), (300.0, 300.0)]]
    lo, hi = editor.world_to_voxel(corners[0]), editor.world_to_voxel(corners[1])
    width = np.floor(hi[:2]) - np.ceil(lo[:2]) + 1
    assert index.shape[0] == int(width[0] * width[1])
    # right click closes too; fewer than 3 corners fill nothing
    tool.handle_pointer(press(50.0, 50.0), view)
    tool.handle_pointer(press(80.0, 50.0), view)
    right = PointerEvent(PointerKind.PRESS, 60, 60, Buttons.RIGHT, Buttons.RIGHT)
    assert not tool.handle_pointer(right, view)
    assert tool.close() == 0
    assert editor.history == ["polygon fill"]


def test_brushes_on_an_oblique_grid():
    angle = np.deg2rad(25.0)
    rotation = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.8, 0.8, 1.2])
    editor = LabelEditor.blank((60, 60, 50), affine)
    centre = editor.voxel_to_world([30.2, 29.7, 25.4])
    Brush(editor, radius_mm=5.0, shape=BrushShape.SPHERE).stamp(centre)
    count = int(np.count_nonzero(editor.array))
    assert count * editor.voxel_volume_mm3 == pytest.approx(4.0 / 3.0 * math.pi * 125.0, rel=0.04)
    editor.undo()
    # an axial disc on this grid: a slab one slice step thick (1 / max|A⁻¹ n|)
    Brush(editor, radius_mm=8.0).stamp(centre, AXIAL_NORMAL)
    world = editor.voxel_to_world(np.argwhere(editor.array))
    step = 1.0 / np.max(np.abs(editor.inverse_affine[:3, :3] @ AXIAL_NORMAL))
    assert np.all(np.abs(world[:, 2] - centre[2]) <= step / 2.0 + 1e-9)
    expected = math.pi * 64.0 * step / editor.voxel_volume_mm3
    assert np.count_nonzero(editor.array) == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("flip", [False, True])
def test_a_stroke_between_two_slices_paints_the_slice_the_view_shows(flip):
    view, editor = painting_view()
    if flip:  # the same grid stored with k running inferior: the other end of the slab is open
        affine = editor.affine @ np.diag([1.0, 1.0, -1.0, 1.0])
        affine[2, 3] = editor.affine[2, 3] + 19 * 2.0
        editor = LabelEditor.blank(editor.shape, affine)
        view.remove_label("lesions")
        view.add_label(LabelLayer("lesions", editor.array, affine))
        connect_view(editor, view, "lesions")
    view.set_cursor([0.0, 0.0, 5.0])  # exactly between the slices at z = 4 and z = 6
    stroke(Brush(editor, radius_mm=2.0), view, [(200.0, 200.0), (260.0, 220.0)])
    z = np.unique(editor.voxel_to_world(np.argwhere(editor.array))[:, 2])
    # the view shows floor(index + 0.5): the upper slice, or the lower one when k runs down
    assert z.tolist() == ([4.0] if flip else [6.0])
    grid = view.slice_grid()
    assert grid is not None
    shown = reslice(view.label("lesions"), grid)
    assert np.count_nonzero(shown) == np.count_nonzero(editor.array)
