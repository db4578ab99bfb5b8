"""The small signal class and the layer value types."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from viewers.events import Signal
from viewers.image import ImageLayer, LabelLayer, LabelMode, LayerError, default_color


class _Listener:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def on(self, *args: object) -> None:
        self.calls.append(args)


def test_signal_calls_in_order_once_per_connection():
    signal = Signal()
    seen: list[str] = []
    first = signal.connect(lambda value: seen.append(f"a{value}"))
    signal.connect(lambda value: seen.append(f"b{value}"))
    signal.connect(first)  # twice: still once
    signal.emit(1)
    assert seen == ["a1", "b1"]
    signal.disconnect(first)
    signal.emit(2)
    assert seen == ["a1", "b1", "b2"]


def test_signal_holds_bound_methods_weakly():
    signal = Signal()
    listener = _Listener()
    signal.connect(listener.on)
    signal.emit("x")
    assert listener.calls == [("x",)]
    del listener
    gc.collect()
    signal.emit("y")  # the dead listener is skipped and dropped
    assert len(signal) == 0


def test_signal_blocked_drops_emissions():
    signal = Signal()
    seen: list[int] = []
    signal.connect(seen.append)
    with signal.blocked():
        signal.emit(1)
    signal.emit(2)
    assert seen == [2]


def test_image_layer_validates_affine_and_shape():
    volume = np.zeros((4, 5, 6), dtype=np.int16)
    with pytest.raises(LayerError, match="shape"):
        ImageLayer("x", volume, np.eye(3))
    with pytest.raises(LayerError, match="non-finite"):
        ImageLayer("x", volume, np.diag([1.0, np.nan, 1.0, 1.0]))
    with pytest.raises(LayerError, match="singular"):
        ImageLayer("x", volume, np.diag([1.0, 0.0, 1.0, 1.0]))
    bad = np.eye(4)
    bad[3, 0] = 1.0
    with pytest.raises(LayerError, match="last row"):
        ImageLayer("x", volume, bad)
    with pytest.raises(LayerError, match="dimensions"):
        ImageLayer("x", np.zeros((4, 5)), np.eye(4))
    with pytest.raises(LayerError, match="time index"):
        ImageLayer("x", np.zeros((4, 5, 6, 3)), np.eye(4), time_index=3)


def test_image_layer_uses_the_array_without_copying_and_shows_one_volume_of_4d():
    data = np.arange(4 * 5 * 6 * 3, dtype=np.float32).reshape(4, 5, 6, 3)
    mapped = data.copy()
    mapped.setflags(write=False)
    layer = ImageLayer("dwi", mapped, np.eye(4))
    assert layer.array is mapped
    assert layer.time_points == 3
    assert layer.spatial_shape == (4, 5, 6)
    later = layer.at_time(2)
    assert np.shares_memory(later.volume, mapped)
    assert later.volume[1, 2, 3] == data[1, 2, 3, 2]
    assert layer.affine.flags.writeable is False


def test_voxel_world_round_trip_and_nearest_voxel():
    affine = np.array([[0, 0, -2.0, 10], [1.5, 0, 0, -5], [0, 3.0, 0, 7], [0, 0, 0, 1]])
    layer = ImageLayer("x", np.zeros((4, 5, 6)), affine)
    ijk = np.array([1.25, 2.5, 3.0])
    assert np.allclose(layer.world_to_voxel(layer.voxel_to_world(ijk)), ijk)
    assert layer.nearest_voxel(layer.voxel_to_world([1.4, 2.5, 3.6])) == (1, 3, 4)
    assert layer.nearest_voxel(layer.voxel_to_world([-0.6, 0, 0])) is None


def test_label_layer_colours_and_bounding_box():
    mask = np.zeros((6, 7, 8), dtype=np.uint8)
    mask[2:4, 1:3, 5] = 3
    layer = LabelLayer("m", mask, np.eye(4), colors={1: (10, 20, 30)}, mode="outline")  # type: ignore[arg-type]
    assert layer.mode is LabelMode.OUTLINE
    lut = layer.color_lut()
    assert lut.shape == (4, 4)
    assert tuple(lut[0]) == (0, 0, 0, 0)
    assert tuple(lut[1]) == (10, 20, 30, 255)
    assert tuple(lut[3]) == default_color(3)
    assert layer.bounding_box() == ((2, 1, 5), (3, 2, 5))
    mask[0, 0, 0] = 1
    layer.forget_derived()
    assert layer.bounding_box() == ((0, 0, 0), (3, 2, 5))
    with pytest.raises(LayerError, match="integer"):
        LabelLayer("m", mask.astype(np.float32), np.eye(4))
    with pytest.raises(LayerError, match="opacity"):
        LabelLayer("m", mask, np.eye(4), opacity=1.5)
