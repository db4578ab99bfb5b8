"""Greyscale slice + label overlays → one RGBA image, ready for the screen.

The output is a C-contiguous ``(rows, cols, 4)`` uint8 array (bytes R, G, B, A per pixel,
opaque), which Qt wraps without a copy (``QImage(..., Format_RGBA8888)``).

Steps, each vectorised:

1. window the base slice to packed RGBA (:func:`viewers.window.window_to_rgba32`; a
   single gather through a lookup table for 8/16-bit images);
2. for each visible label slice (already sampled onto the same grid, nearest-neighbour),
   find the painted pixels (every labelled pixel, or only the boundary pixels in outline
   mode) and their colour and alpha (label colour alpha × layer opacity);
3. alpha-blend those pixels (only those: lesions cover few pixels) over the grey.

:class:`Compositor` keeps the result of each step keyed by what it depends on, so a window
drag repeats only steps 1 and 3 and a cursor move inside one slice repeats nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from viewers.image import LabelMode
from viewers.window import Window, window_to_rgba32


@dataclass(frozen=True, slots=True, eq=False)
class OverlaySlice:
    """A label slice on the output grid, with how to draw it.

    ``labels`` is a ``(rows, cols)`` integer block (0 = nothing) whose top-left pixel is
    output pixel ``origin`` (row, col): the whole slice, or only the part a label map
    covers. ``lut`` is ``(n, 4)`` uint8 RGBA per label value (values beyond ``n − 1`` use the
    last row; negative values count as 0); ``opacity`` (0–1) multiplies the colours' alpha.
    """

    labels: np.ndarray
    lut: np.ndarray
    opacity: float = 0.5
    mode: LabelMode = LabelMode.FILLED
    origin: tuple[int, int] = (0, 0)

    def check_fits(self, shape: tuple[int, ...]) -> None:
        """Raise ValueError unless the block lies inside an output of ``shape``."""
        rows, cols = self.labels.shape
        r0, c0 = self.origin
        if r0 < 0 or c0 < 0 or r0 + rows > shape[0] or c0 + cols > shape[1]:
            raise ValueError(
                f"overlay block {self.labels.shape} at {self.origin} exceeds the slice {shape}"
            )


@dataclass(frozen=True, slots=True, eq=False)
class PaintedPixels:
    """Pixels an overlay paints: flat indices, colour × alpha, and 1 − alpha."""

    index: np.ndarray
    weighted_rgb: np.ndarray
    keep: np.ndarray

    @property
    def count(self) -> int:
        """Number of painted pixels."""
        return int(self.index.size)


def _row_band(mask: np.ndarray) -> tuple[int, int] | None:
    """First and one-past-last row holding a True, or None."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1


def outline_mask(labels: np.ndarray) -> np.ndarray:
    """Boundary pixels: labelled pixels with a 4-neighbour of another label (or the edge)."""
    labels = np.asarray(labels)
    boundary = np.zeros(labels.shape, dtype=bool)
    band = _row_band(labels != 0)
    if band is None:
        return boundary
    top, bottom = band
    lo, hi = max(top - 1, 0), min(bottom + 1, labels.shape[0])
    padded = np.pad(labels[lo:hi], 1)
    centre = padded[1:-1, 1:-1]
    same = (
        (centre == padded[:-2, 1:-1])
        & (centre == padded[2:, 1:-1])
        & (centre == padded[1:-1, :-2])
        & (centre == padded[1:-1, 2:])
    )
    if lo > 0:
        same[0] &= labels[lo] == labels[lo - 1]
    if hi < labels.shape[0]:
        same[-1] &= labels[hi - 1] == labels[hi]
    boundary[lo:hi] = (centre != 0) & ~same
    return boundary


def painted_pixels(overlay: OverlaySlice, shape: tuple[int, ...] | None = None) -> PaintedPixels:
    """Which pixels of an output of ``shape`` (default: the block's) ``overlay`` paints, and
    with what colour and alpha."""
    labels = np.asarray(overlay.labels)
    mask = outline_mask(labels) if overlay.mode is LabelMode.OUTLINE else labels != 0
    band = _row_band(mask)
    cols = labels.shape[1]
    if band is None or overlay.opacity <= 0:
        local = np.zeros(0, dtype=np.intp)
    else:
        top, bottom = band
        local = np.flatnonzero(mask[top:bottom]) + top * cols
    rows_local, cols_local = local // cols, local % cols
    values = labels[rows_local, cols_local] if local.size else np.zeros(0, dtype=np.intp)
    out_cols = cols if shape is None else shape[1]
    index = (rows_local + overlay.origin[0]) * out_cols + (cols_local + overlay.origin[1])
    lut = np.asarray(overlay.lut, dtype=np.uint8)
    colors = lut[np.clip(values, 0, lut.shape[0] - 1)]
    alpha = colors[:, 3].astype(np.float32) * np.float32(overlay.opacity / 255.0)
    alpha[values <= 0] = 0.0
    weighted = colors[:, :3].astype(np.float32) * alpha[:, None]
    return PaintedPixels(index, weighted + np.float32(0.5), (1.0 - alpha)[:, None])


def blend(rgba32: np.ndarray, painted: PaintedPixels) -> None:
    """Alpha-blend ``painted`` over packed-RGBA pixels in place (alpha stays opaque)."""
    if painted.count == 0:
        return
    pixels = rgba32.reshape(-1).view(np.uint8).reshape(-1, 4)
    under = pixels[painted.index, :3].astype(np.float32)
    pixels[painted.index, :3] = (under * painted.keep + painted.weighted_rgb).astype(np.uint8)


def as_rgba8888(rgba32: np.ndarray) -> np.ndarray:
    """``(rows, cols)`` packed uint32 → ``(rows, cols, 4)`` uint8 view (no copy)."""
    rgba32 = np.ascontiguousarray(rgba32)
    return rgba32.view(np.uint8).reshape(*rgba32.shape, 4)


def compose(
    values: np.ndarray,
    window: Window,
    overlays: Sequence[OverlaySlice] = (),
    *,
    invert: bool = False,
) -> np.ndarray:
    """One-shot composition (no caching): ``(rows, cols, 4)`` uint8 RGBA, C-contiguous."""
    rgba32 = np.ascontiguousarray(window_to_rgba32(values, window, invert))
    for overlay in overlays:
        overlay.check_fits(values.shape)
        blend(rgba32, painted_pixels(overlay, values.shape))
    return as_rgba8888(rgba32)


class Compositor:
    """:func:`compose` with a memory: each step is redone only when its inputs change.

    Callers name their inputs with hashable keys (a slice key says which pixels a sampled
    slice holds; an overlay key also covers its colours, opacity and mode). The returned
    array is read-only and may be returned again by the next call.
    """

    def __init__(self) -> None:
        self._grey_key: Hashable = None
        self._grey: np.ndarray | None = None
        self._painted: dict[Hashable, PaintedPixels] = {}
        self._final_key: Hashable = None
        self._final: np.ndarray | None = None

    def clear(self) -> None:
        """Forget everything (after pixels changed under an unchanged key)."""
        self._grey_key = self._final_key = None
        self._grey = self._final = None
        self._painted = {}

    def render(
        self,
        values: np.ndarray,
        values_key: Hashable,
        window: Window,
        invert: bool,
        overlays: Sequence[tuple[Hashable, OverlaySlice]] = (),
    ) -> np.ndarray:
        """``(rows, cols, 4)`` uint8 RGBA of ``values`` under ``window`` with ``overlays``."""
        grey_key = (values_key, window, bool(invert))
        final_key = (grey_key, tuple(key for key, _ in overlays))
        if final_key == self._final_key and self._final is not None:
            return self._final
        if grey_key != self._grey_key or self._grey is None:
            grey = np.ascontiguousarray(window_to_rgba32(values, window, invert))
            grey.setflags(write=False)
            self._grey, self._grey_key = grey, grey_key
        painted = []
        for key, overlay in overlays:
            found = self._painted.get(key)
            if found is None:
                overlay.check_fits(values.shape)
                found = painted_pixels(overlay, values.shape)
            painted.append((key, found))
        self._painted = dict(painted)
        if any(p.count for _, p in painted):
            rgba32 = self._grey.copy()
            for _, pixels in painted:
                blend(rgba32, pixels)
            rgba32.setflags(write=False)
        else:
            rgba32 = self._grey
        self._final, self._final_key = as_rgba8888(rgba32), final_key
        return self._final
