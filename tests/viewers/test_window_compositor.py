"""Window/level lookup tables, presets, and composition of label overlays."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewers.conftest import rotation
from viewers.compositor import Compositor, OverlaySlice, compose, outline_mask, painted_pixels
from viewers.geometry import Plane, layer_grid, reslice
from viewers.image import ImageLayer, LabelLayer, LabelMode
from viewers.window import (
    PRESETS,
    Window,
    auto_window,
    grey_lut,
    intensity_stats,
    rgba_lut,
    window_to_grey,
    window_to_rgba32,
)


def test_window_maps_low_to_black_high_to_white_in_256_bins():
    window = Window(center=100.0, width=200.0)  # 0 .. 200
    values = np.array([-32768, -1, 0, 1, 99, 100, 199, 200, 32767], dtype=np.int16)
    assert window_to_grey(values, window).tolist() == [0, 0, 0, 1, 126, 128, 254, 255, 255]
    assert window_to_grey(values, window, invert=True).tolist() == [
        255, 255, 255, 254, 129, 127, 1, 0, 0,
    ]  # fmt: skip


def test_int16_lut_has_an_entry_per_bit_pattern_and_matches_arithmetic():
    window = Window.from_range(-50.0, 1200.0)
    lut = grey_lut(np.int16, window)
    assert lut.shape == (65536,)
    assert lut[np.uint16(np.int16(-50).view(np.uint16))] == 0
    assert lut[1199] == 255
    values = np.random.default_rng(0).integers(-2000, 3000, size=(64, 64)).astype(np.int16)
    assert np.array_equal(
        window_to_grey(values, window), window_to_grey(values.astype(np.float32), window)
    )
    rgba = window_to_rgba32(values, window).view(np.uint8).reshape(64, 64, 4)
    assert np.array_equal(rgba[..., 0], window_to_grey(values, window))
    assert (rgba[..., 1] == rgba[..., 0]).all()
    assert (rgba[..., 3] == 255).all()
    assert rgba_lut(np.int16, window) is rgba_lut(np.int16, window)  # cached per window


def test_window_rejects_nonsense():
    with pytest.raises(ValueError, match="positive"):
        Window(10, 0)
    assert Window.from_range(5, 5).width > 0


def test_auto_window_and_presets_come_from_nonzero_percentiles():
    rng = np.random.default_rng(1)
    volume = np.zeros((40, 40, 40), dtype=np.int16)
    volume[10:30, 10:30, 10:30] = rng.integers(100, 1101, size=(20, 20, 20))
    layer = ImageLayer("x", volume, np.eye(4))
    stats = intensity_stats(layer)
    assert stats.minimum == 0
    assert stats.maximum <= 1100
    window = auto_window(layer)  # zeros (background) are ignored
    assert window.low == pytest.approx(110, abs=6)
    assert window.high == pytest.approx(1090, abs=6)
    assert intensity_stats(layer) is stats  # computed once
    names = [preset.name for preset in PRESETS]
    assert names == ["Brain", "FLAIR", "T1+Gd", "DWI", "ADC", "Full range"]
    assert PRESETS[4].window(layer).low == 0.0
    full = PRESETS[5].window(layer)
    assert (full.low, full.high) == (0.0, float(volume.max()))


def _lut() -> np.ndarray:
    return np.array([[0, 0, 0, 0], [255, 0, 0, 255], [0, 255, 0, 255]], dtype=np.uint8)


def test_compose_is_c_contiguous_rgba_with_blended_labels():
    values = np.full((5, 6), 100, dtype=np.int16)
    labels = np.zeros((5, 6), dtype=np.uint8)
    labels[1, 2] = 1
    labels[3, 4] = 2
    rgba = compose(values, Window.from_range(0, 200), [OverlaySlice(labels, _lut(), 0.5)])
    assert rgba.shape == (5, 6, 4)
    assert rgba.dtype == np.uint8
    assert rgba.flags.c_contiguous
    assert tuple(rgba[0, 0]) == (128, 128, 128, 255)
    assert tuple(rgba[1, 2]) == (192, 64, 64, 255)  # half red over mid grey
    assert tuple(rgba[3, 4]) == (64, 192, 64, 255)
    opaque = compose(values, Window.from_range(0, 200), [OverlaySlice(labels, _lut(), 1.0)])
    assert tuple(opaque[1, 2]) == (255, 0, 0, 255)


def test_outline_keeps_only_boundary_pixels():
    labels = np.zeros((7, 7), dtype=np.uint8)
    labels[1:6, 1:6] = 1
    labels[3, 3] = 2
    outline = outline_mask(labels)
    expected = np.zeros((7, 7), dtype=bool)
    expected[1:6, 1:6] = True
    expected[2:5, 2:5] = False
    expected[2, 3] = expected[4, 3] = expected[3, 2] = expected[3, 4] = True  # touch label 2
    expected[3, 3] = True  # label 2 is a one-pixel region: its own boundary
    assert np.array_equal(outline, expected)
    edge = np.ones((3, 3), dtype=np.uint8)  # touching the image edge counts as a boundary
    assert outline_mask(edge).sum() == 8


def test_overlay_on_a_different_grid_lands_on_the_right_pixels():
    """A mask on a coarser, rotated grid is resampled through the affines, not by index."""
    image_affine = np.diag([1.0, 1.0, 3.0, 1.0])
    image_affine[:3, 3] = (0.5, 0.5, 0.0)  # pixel centres at x, y = n + 0.5: no rounding ties
    image = ImageLayer("img", np.zeros((40, 40, 10), dtype=np.int16), image_affine)
    affine = np.eye(4)
    affine[:3, :3] = rotation("z", 90) @ np.diag([2.0, 2.0, 3.0])  # i → +y, j → −x
    affine[:3, 3] = (30.0, 4.0, 0.0)
    mask = np.zeros((20, 20, 10), dtype=np.uint8)
    mask[5, 3, 4] = 1  # world centre: (30 − 2·3, 4 + 2·5, 12) = (24, 14, 12)
    labels = LabelLayer("m", mask, affine)
    assert np.allclose(labels.voxel_to_world([5, 3, 4]), [24, 14, 12])
    grid = layer_grid(image, Plane.AXIAL, np.array([0.0, 0.0, 12.0]))
    sampled = reslice(labels, grid)
    rows, cols = np.nonzero(sampled)
    # the 2 mm voxel covers x 23..25, y 13..15: the pixels centred at 23.5 and 24.5 each way
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [
        (13, 23), (13, 24), (14, 23), (14, 24),
    ]  # fmt: skip
    rgba = compose(
        np.zeros(grid.shape, np.int16),
        Window.from_range(0, 1),
        [OverlaySlice(sampled, _lut(), 1.0)],
    )
    assert tuple(rgba[14, 24]) == (255, 0, 0, 255)
    assert tuple(rgba[14, 25]) == (0, 0, 0, 255)


def test_painted_pixels_of_a_block_are_placed_at_its_origin():
    block = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    painted = painted_pixels(OverlaySlice(block, _lut(), 1.0, LabelMode.FILLED, (2, 3)), (5, 6))
    assert sorted(painted.index.tolist()) == [2 * 6 + 4, 3 * 6 + 3]
    with pytest.raises(ValueError, match="exceeds"):
        compose(np.zeros((3, 3)), Window(0, 1), [OverlaySlice(block, _lut(), 1.0, origin=(2, 2))])


def test_compositor_caches_and_reblends_only_what_changed():
    values = np.full((4, 4), 50, dtype=np.int16)
    labels = np.zeros((4, 4), dtype=np.uint8)
    labels[0, 0] = 1
    compositor = Compositor()
    overlay = OverlaySlice(labels, _lut(), 0.5)
    first = compositor.render(values, "slice-1", Window(50, 100), False, [("m", overlay)])
    again = compositor.render(values, "slice-1", Window(50, 100), False, [("m", overlay)])
    assert again is first
    assert not first.flags.writeable
    brighter = compositor.render(values, "slice-1", Window(0, 100), False, [("m", overlay)])
    assert tuple(brighter[1, 1]) == (255, 255, 255, 255)
    assert tuple(brighter[0, 0]) == (255, 128, 128, 255)
    plain = compositor.render(values, "slice-1", Window(0, 100), False, [])
    assert tuple(plain[0, 0]) == (255, 255, 255, 255)
