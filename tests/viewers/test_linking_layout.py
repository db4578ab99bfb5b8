"""Linked views (by world position) and hanging protocols."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewers.conftest import axial_layer, ramp_volume, rotation
from viewers.geometry import Plane
from viewers.image import ImageLayer
from viewers.interaction import Buttons, PointerEvent, PointerKind
from viewers.layout import (
    GridLayout,
    hanging_protocol,
    normalise_sequence_class,
    prior_current_pairs,
    prior_current_protocol,
)
from viewers.linking import ViewLink
from viewers.view import SliceView


def _oblique_layer() -> ImageLayer:
    """Same field as :func:`axial_layer`, acquired 20° oblique with its own voxel size."""
    affine = np.eye(4)
    affine[:3, :3] = rotation("x", 20) @ np.diag([1.1, 1.2, 3.0])
    affine[:3, 3] = (-9.0, -16.0, -10.0)
    return ImageLayer("oblique", ramp_volume((18, 26, 10)), affine)


def test_click_in_one_view_lands_on_the_same_world_point_of_an_oblique_series():
    axial = SliceView(Plane.AXIAL, image=axial_layer(), viewport=(400, 400))
    oblique = SliceView(Plane.AXIAL, image=_oblique_layer(), viewport=(300, 500))
    ViewLink([axial, oblique])
    axial.handle_pointer(PointerEvent(PointerKind.PRESS, 210.0, 170.0, Buttons.LEFT, Buttons.LEFT))
    world = axial.view_to_world(210.0, 170.0)
    assert np.allclose(oblique.cursor, world)
    # the oblique view's slice passes through the point, and the pixel drawn there is it
    grid = oblique.slice_grid()
    assert grid is not None
    assert abs((world - grid.origin) @ grid.normal) < 1e-9
    x, y = oblique.world_to_view(world)
    assert np.allclose(oblique.view_to_world(x, y), world)
    readout = oblique.readout_at(x, y)
    layer = oblique.image
    assert layer is not None
    assert readout.voxel is not None
    # the voxel reported under that pixel is the one containing the point: within one voxel
    offset = layer.world_to_voxel(world) - np.array(readout.voxel)
    assert np.all(np.abs(offset) <= 0.5 + 1e-9)
    assert np.linalg.norm(layer.voxel_to_world(readout.voxel) - world) <= np.linalg.norm(
        layer.spacing
    )


def test_scrolling_one_view_moves_the_others_by_the_same_millimetres():
    first = SliceView(Plane.AXIAL, image=axial_layer())
    second = SliceView(Plane.AXIAL, image=_oblique_layer())
    coronal = SliceView(Plane.CORONAL, image=axial_layer())
    ViewLink([first, second, coronal])
    first.go_to_slice(4)
    before = second.cursor
    first.scroll(2)  # 2 × 2.5 mm along +z
    assert second.cursor - before == pytest.approx([0, 0, 5.0])
    assert np.allclose(coronal.cursor, first.cursor)


def test_link_guards_against_feedback_loops():
    views = [SliceView(image=axial_layer()) for _ in range(3)]
    link = ViewLink(views)
    calls: list[int] = []
    for n, view in enumerate(views):
        view.events.cursor.connect(lambda cursor, n=n: calls.append(n))
    # a listener that echoes the cursor back (as a careless widget might)
    views[1].events.cursor.connect(lambda cursor: views[1].set_cursor(cursor))
    views[0].set_cursor(np.array([1.0, 2.0, 3.0]))
    assert sorted(calls) == [0, 1, 2]
    assert all(np.array_equal(v.cursor, [1, 2, 3]) for v in views)
    assert link.cursor is not None
    assert np.array_equal(link.cursor, [1, 2, 3])
    # a listener that nudges the cursor on every change would ping-pong for ever without
    # the guard; with it, the nudge stays local while the link is propagating
    views[2].events.cursor.connect(lambda cursor: views[2].set_cursor(np.round(cursor) + 0.5))
    calls.clear()
    views[0].set_cursor(np.array([4.0, 4.0, 4.0]))
    assert len(calls) < 10
    assert np.array_equal(views[1].cursor, [4, 4, 4])


def test_unlinked_view_neither_follows_nor_drives_and_catches_up_when_relinked():
    a, b = SliceView(image=axial_layer()), SliceView(image=axial_layer())
    ViewLink([a, b])
    b.linked = False
    a.set_cursor(np.array([1.0, 1.0, 1.0]))
    assert not np.array_equal(b.cursor, [1, 1, 1])
    b.set_cursor(np.array([5.0, 5.0, 5.0]))
    assert np.array_equal(a.cursor, [1, 1, 1])
    b.linked = True
    assert np.array_equal(b.cursor, [1, 1, 1])


def test_a_series_opened_in_a_linked_view_opens_at_the_shared_cursor():
    first = SliceView(image=axial_layer())
    second = SliceView(Plane.CORONAL)
    ViewLink([first, second])
    point = axial_layer().voxel_to_world([3.0, 4.0, 5.0])
    first.set_cursor(point)
    second.set_image(_oblique_layer())  # the point is inside the oblique series: stay there
    assert np.allclose(second.cursor, point)
    assert np.allclose(first.cursor, point)
    far = SliceView()
    far.set_cursor(np.array([500.0, 0.0, 0.0]))
    far.set_image(axial_layer())  # outside: open at the series' centre
    assert np.allclose(far.cursor, axial_layer().center_world)


def test_per_view_transform_maps_the_link_world_to_the_view_world():
    fixed, moving = SliceView(image=axial_layer()), SliceView(image=axial_layer())
    link = ViewLink([fixed])
    shift = np.eye(4)
    shift[:3, 3] = (0.0, 4.0, 0.0)
    link.add(moving, shift)
    fixed.set_cursor(np.array([1.0, 2.0, 3.0]))
    assert np.allclose(moving.cursor, [1, 6, 3])
    moving.set_cursor(np.array([0.0, 4.0, 0.0]))
    assert np.allclose(fixed.cursor, [0, 0, 0])


def test_zoom_and_pan_link_between_views_of_the_same_plane_only():
    a, b = SliceView(image=axial_layer()), SliceView(image=axial_layer())
    c = SliceView(Plane.CORONAL, image=axial_layer())
    link = ViewLink([a, b, c], zoom=True, pan=True)
    a.set_camera(zoom=2.0, pan=(3.0, -1.0))
    assert (b.zoom, b.pan) == (2.0, (3.0, -1.0))
    assert c.zoom == 1.0
    link.link_zoom = link.link_pan = False
    a.set_camera(zoom=3.0)
    assert b.zoom == 2.0
    link.remove(b)
    a.set_cursor(np.array([9.0, 9.0, 9.0]))
    assert not np.array_equal(b.cursor, [9, 9, 9])


def test_hanging_protocol_reading_order():
    series = [
        ("s-adc", "ADC"),
        ("s-t1", "T1"),
        ("s-swi", "SWI"),
        ("s-flair", "FLAIR"),
        ("s-dwi", "DWI"),
        ("s-gd", "T1+Gd"),
        ("s-t2", "T2"),
    ]
    assert hanging_protocol(series, GridLayout.TWO_BY_THREE) == [
        "s-flair", "s-t2", "s-t1", "s-gd", "s-dwi", "s-adc",
    ]  # fmt: skip
    assert hanging_protocol(series, 8) == [
        "s-flair", "s-t2", "s-t1", "s-gd", "s-dwi", "s-adc", "s-swi", None,
    ]  # fmt: skip
    assert hanging_protocol([("x", "t1_gd"), ("y", "flair")], GridLayout.ONE_BY_TWO) == ["y", "x"]
    assert normalise_sequence_class(" t2w ") == "T2"
    assert normalise_sequence_class("MPRAGE") == "MPRAGE"


def test_prior_versus_current_pairs_the_same_sequence_class():
    prior = [("p-t2", "T2"), ("p-flair", "FLAIR"), ("p-dwi", "DWI")]
    current = [("c-flair", "FLAIR"), ("c-t1", "T1"), ("c-t2", "T2W"), ("c-dwi", "DWI")]
    assert prior_current_pairs(prior, current) == [
        ("FLAIR", "p-flair", "c-flair"), ("T2", "p-t2", "c-t2"), ("DWI", "p-dwi", "c-dwi"),
    ]  # fmt: skip
    assert prior_current_protocol(prior, current, GridLayout.TWO_BY_TWO) == [
        "p-flair", "p-t2", "c-flair", "c-t2",
    ]  # fmt: skip
    assert prior_current_protocol(prior, current, GridLayout.TWO_BY_THREE) == [
        "p-flair", "p-t2", "p-dwi", "c-flair", "c-t2", "c-dwi",
    ]  # fmt: skip
    assert prior_current_protocol(prior, current, GridLayout.ONE_BY_TWO) == ["p-flair", "c-flair"]
    assert prior_current_protocol(prior, current, GridLayout.ONE_BY_ONE) == ["c-flair"]


def test_grid_layouts():
    assert [layout.count for layout in GridLayout] == [1, 2, 4, 6]
    assert GridLayout.parse("2×3") is GridLayout.TWO_BY_THREE
    assert GridLayout.TWO_BY_THREE.position(4) == (1, 1)
    with pytest.raises(ValueError, match="unknown"):
        GridLayout.parse("3x3")
