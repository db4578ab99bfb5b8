"""Window/level: stored voxel values to display grey levels, fast.

A :class:`Window` is a centre and a width in the image's stored units. The mapping splits
``[low, high)`` (``low = centre − width/2``) into 256 equal bins: ``grey =
clip(floor((value − low) / width · 256), 0, 255)``; ``invert`` flips it (``255 − grey``).

Speed: for 8- and 16-bit images the mapping is a lookup table with one entry per possible
stored value (65,536 for int16/uint16, built once per window change in well under a
millisecond), indexed by the raw bits, and it yields packed RGBA (one ``uint32`` per pixel)
so that greyscale-to-RGBA is a single gather. Other dtypes (float32, int32) take the
vectorised arithmetic path.

Automatic windows and presets are relative to the image: MR intensities have no absolute
scale, so presets are percentile windows of the *nonzero* voxels (computed once per layer
and time point on a subsample, see :func:`intensity_stats`), tuned per contrast. The ADC
preset starts at zero so that restricted diffusion stays dark.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viewers.image import ImageLayer

_SAMPLE_VOXELS = 1_000_000
_PERCENTILE_POINTS = np.linspace(0.0, 100.0, 1001)


@dataclass(frozen=True, slots=True)
class Window:
    """Display window: ``center`` and ``width`` in stored units (width > 0)."""

    center: float
    width: float

    def __post_init__(self) -> None:
        center, width = float(self.center), float(self.width)
        if not (math.isfinite(center) and math.isfinite(width)):
            raise ValueError(f"window centre/width must be finite, got {center}, {width}")
        if width <= 0:
            raise ValueError(f"window width must be positive, got {width}")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "width", width)

    @classmethod
    def from_range(cls, low: float, high: float) -> Window:
        """The window mapping ``low`` to black and ``high`` to white (a tiny width if equal)."""
        width = float(high) - float(low)
        if not width > 0:
            width = max(abs(float(low)) * 1e-6, 1e-6)
        return cls(float(low) + width / 2.0, width)

    @property
    def low(self) -> float:
        """Value at the bottom of the window (black)."""
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        """Value at the top of the window (white)."""
        return self.center + self.width / 2.0


def _grey_of(values: np.ndarray, window: Window, invert: bool) -> np.ndarray:
    """Grey level 0–255 (uint8) of float values, vectorised."""
    scale = np.float32(256.0 / window.width)
    scaled = (values.astype(np.float32, copy=False) - np.float32(window.low)) * scale
    np.clip(scaled, 0.0, 255.0, out=scaled)
    grey = scaled.astype(np.uint8)
    if invert:
        np.subtract(255, grey, out=grey)
    return grey


def _lut_dtype(dtype: np.dtype) -> np.dtype | None:
    """The unsigned dtype whose bits index the LUT of ``dtype``, or None (no LUT path)."""
    if dtype.kind in "iub" and dtype.itemsize <= 2:
        return np.dtype(f"u{dtype.itemsize}")
    return None


@functools.lru_cache(maxsize=16)
def _rgba_lut_cached(dtype_str: str, window: Window, invert: bool) -> np.ndarray:
    dtype = np.dtype(dtype_str)
    unsigned = _lut_dtype(dtype)
    assert unsigned is not None
    bits = np.arange(2 ** (8 * dtype.itemsize), dtype=np.int64).astype(unsigned)
    values = bits.view(np.bool_ if dtype.kind == "b" else dtype)
    lut = grey_to_rgba32(_grey_of(values, window, invert))
    lut.setflags(write=False)
    return lut


def rgba_lut(dtype: npt.DTypeLike, window: Window, invert: bool = False) -> np.ndarray:
    """Packed-RGBA lookup table of a 8/16-bit integer dtype, indexed by the raw bits.

    ``lut[values.view(unsigned)]`` is the packed RGBA of ``values`` (see
    :func:`grey_to_rgba32`). The last 16 tables are kept.
    """
    dtype = np.dtype(dtype)
    if _lut_dtype(dtype) is None:
        raise ValueError(f"no lookup table for dtype {dtype}; use window_to_grey")
    return _rgba_lut_cached(dtype.str, window, bool(invert))


def grey_lut(dtype: npt.DTypeLike, window: Window, invert: bool = False) -> np.ndarray:
    """Grey level (uint8) lookup table of a 8/16-bit integer dtype, indexed by the raw bits."""
    return rgba_lut(dtype, window, invert).view(np.uint8).reshape(-1, 4)[:, 0]


def window_to_grey(values: np.ndarray, window: Window, invert: bool = False) -> np.ndarray:
    """Grey levels (uint8, same shape) of ``values`` under ``window``."""
    values = np.asarray(values)
    unsigned = _lut_dtype(values.dtype)
    if unsigned is None:
        return _grey_of(values, window, invert)
    return grey_lut(values.dtype, window, invert)[values.view(unsigned)]


_GREY_TO_RGBA = np.zeros((256, 4), dtype=np.uint8)
_GREY_TO_RGBA[:, :3] = np.arange(256, dtype=np.uint8)[:, None]
_GREY_TO_RGBA[:, 3] = 255
_GREY_TO_RGBA32 = _GREY_TO_RGBA.view(np.uint32).ravel()
_GREY_TO_RGBA32.setflags(write=False)


def grey_to_rgba32(grey: np.ndarray) -> np.ndarray:
    """Packed opaque grey RGBA: one uint32 per pixel whose bytes in memory are R, G, B, A.

    ``result.view(np.uint8)`` (with a trailing axis of 4) is the RGBA8888 byte image, on
    any byte order.
    """
    return _GREY_TO_RGBA32[grey]


def window_to_rgba32(values: np.ndarray, window: Window, invert: bool = False) -> np.ndarray:
    """Packed opaque RGBA (uint32, same shape as ``values``) of windowed ``values``."""
    values = np.asarray(values)
    unsigned = _lut_dtype(values.dtype)
    if unsigned is None:
        return grey_to_rgba32(_grey_of(values, window, invert))
    lut = rgba_lut(values.dtype, window, invert)
    index = values.view(unsigned)
    if index.flags.c_contiguous:
        return lut.take(index)
    return lut[index]


# --- statistics, auto window, presets ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntensityStats:
    """Intensity summary of one volume: true min/max and percentiles of the nonzero voxels."""

    minimum: float
    maximum: float
    nonzero_percentiles: np.ndarray
    """1001 values: the 0.0, 0.1, ..., 100.0th percentiles of the (subsampled) nonzero voxels."""

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0–100) of the nonzero voxels (interpolated)."""
        return float(np.interp(q, _PERCENTILE_POINTS, self.nonzero_percentiles))


def intensity_stats(layer: ImageLayer) -> IntensityStats:
    """Statistics of the layer's current volume, computed once and remembered on the layer.

    Percentiles come from at most about a million voxels (a regular stride through the
    volume), min and max from every voxel. NaNs are ignored.
    """
    key = ("intensity_stats", layer.time_index)
    cached = layer.cached(key)
    if isinstance(cached, IntensityStats):
        return cached
    volume = layer.volume
    step = max(1, round((volume.size / _SAMPLE_VOXELS) ** (1.0 / 3.0)))
    sample = np.asarray(volume[::step, ::step, ::step], dtype=np.float64).ravel()
    sample = sample[np.isfinite(sample)]
    nonzero = sample[sample != 0]
    if volume.dtype.kind == "f":
        minimum, maximum = float(np.nanmin(volume)), float(np.nanmax(volume))
    else:
        minimum, maximum = float(volume.min()), float(volume.max())
    if not (math.isfinite(minimum) and math.isfinite(maximum)):
        minimum, maximum = 0.0, 0.0
    if nonzero.size == 0:
        nonzero = sample if sample.size else np.zeros(1)
    stats = IntensityStats(minimum, maximum, np.percentile(nonzero, _PERCENTILE_POINTS))
    layer.store(key, stats)
    return stats


def auto_window(layer: ImageLayer, low_q: float = 1.0, high_q: float = 99.0) -> Window:
    """The window spanning the ``low_q``-th to ``high_q``-th percentile of nonzero voxels."""
    stats = intensity_stats(layer)
    return Window.from_range(stats.percentile(low_q), stats.percentile(high_q))


@dataclass(frozen=True, slots=True)
class WindowPreset:
    """A named window relative to the image: each end a percentile of the nonzero voxels.

    ``low_value`` / ``high_value`` override an end with a fixed stored value; ``full_range``
    uses the true minimum and maximum.
    """

    name: str
    description: str
    low_percentile: float = 1.0
    high_percentile: float = 99.0
    low_value: float | None = None
    high_value: float | None = None
    full_range: bool = False

    def window(self, layer: ImageLayer) -> Window:
        """The window this preset gives on ``layer``'s current volume."""
        stats = intensity_stats(layer)
        if self.full_range:
            return Window.from_range(stats.minimum, stats.maximum)
        low = (
            self.low_value if self.low_value is not None else stats.percentile(self.low_percentile)
        )
        high = (
            self.high_value
            if self.high_value is not None
            else stats.percentile(self.high_percentile)
        )
        return Window.from_range(low, high)


PRESETS: tuple[WindowPreset, ...] = (
    WindowPreset("Brain", "T2/PD brain: 1st–99.5th percentile", 1.0, 99.5),
    WindowPreset("FLAIR", "FLAIR: 10th–99.9th, CSF black, white matter mid-grey, lesions bright",
                 10.0, 99.9),
    WindowPreset("T1+Gd", "T1 post-contrast: enhancement kept below white", 0.5, 99.9),
    WindowPreset("DWI", "DWI / trace: restricted diffusion bright, not clipped", 2.0, 99.9),
    WindowPreset("ADC", "ADC: zero is black, so restricted diffusion is dark", 0.0, 99.5,
                 low_value=0.0),
    WindowPreset("Full range", "every stored value, minimum to maximum", full_range=True),
)  # fmt: skip
"""Presets in key order: keys 1–6 pick them in the viewers."""
