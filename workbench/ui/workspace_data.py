"""What the review workspace needs of a case, as plain values, and how a series is loaded.

The case's imaging comes from the services as :class:`ReviewCase`
(:func:`workbench.services.case_detail.load_case`); this module adds what the window does
with it.

:func:`load_layer` memory-maps a series' cached voxels (:func:`workbench.cache.open_cached`)
into a :class:`viewers.image.ImageLayer`; a missing or broken cache file becomes a
:class:`SeriesLoadError` that says which series and what to do, never a crash.

No Qt here, so this is testable headless.
"""

from __future__ import annotations

import enum
from pathlib import Path

import numpy as np

from viewers.image import ImageLayer, LayerError
from workbench.cache import CacheError, open_cached
from workbench.services.review_case import ReviewCase, ReviewSeries, ReviewTimepoint


class ReviewProtocol(enum.StrEnum):
    """How series are hung in the review grid."""

    HANGING = "hanging"
    """The latest timepoint in reading order: FLAIR, T2, T1, T1+Gd, DWI, ADC, then others."""
    PRIOR_CURRENT = "prior-current"
    """The same sequence of the two latest timepoints side by side (prior, then current)."""

    @property
    def label(self) -> str:
        """The name in menus."""
        return "Hanging protocol" if self is ReviewProtocol.HANGING else "Prior vs current"


class SeriesLoadError(Exception):
    """A series' voxels cannot be shown: which series, why, and what to do."""

    def __init__(self, series: ReviewSeries, reason: str, path: str | None = None) -> None:
        self.series = series
        self.reason = reason
        """Why, in a short sentence without the file path."""
        self.path = path
        """The cache file concerned, if any."""
        super().__init__(self.message)

    @property
    def title(self) -> str:
        """``"FLAIR · day 35 (AX FLAIR) cannot be shown"``."""
        described = f" ({self.series.description})" if self.series.description else ""
        return f"{self.series.name}{described} cannot be shown"

    @property
    def advice(self) -> str:
        """What the user can do about it."""
        return (
            "Import the series again from its source (File → Import images…), "
            "which rebuilds its cached voxels."
        )

    @property
    def message(self) -> str:
        """Title, reason and advice in one text."""
        return f"{self.title}: {self.reason}. {self.advice}"


def _reason(exc: Exception, path: Path) -> str:
    text = str(exc)
    prefix = f"{path}: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text.rstrip(".")


def load_layer(series: ReviewSeries, cache_root: Path | None = None) -> ImageLayer:
    """The series' cached voxels, memory-mapped read-only, as an image layer.

    A relative cache path is taken under ``cache_root``. A 4D series gives a 4D layer that
    shows its first volume. Raises :class:`SeriesLoadError` when the file is missing, does
    not match the registry, or the recorded geometry is unusable.
    """
    if not series.cache_path:
        raise SeriesLoadError(series, "the registry holds no cached voxels for it")
    path = Path(series.cache_path)
    if not path.is_absolute() and cache_root is not None:
        path = cache_root / path
    try:
        array = open_cached(path, shape=series.shape, dtype=series.dtype)
    except CacheError as exc:
        raise SeriesLoadError(series, _reason(exc, path), str(path)) from exc
    try:
        return ImageLayer(series.name, array, series.affine_matrix())
    except LayerError as exc:
        raise SeriesLoadError(series, f"its recorded geometry is unusable ({exc})") from exc


def describe_transform(matrix: np.ndarray, centre: np.ndarray | None = None) -> tuple[float, float]:
    """``(shift mm, rotation degrees)`` of a rigid 4x4 transform, for a status line.

    The shift is how far ``centre`` (default: the world origin) moves.
    """
    point = np.zeros(3) if centre is None else np.asarray(centre, dtype=np.float64)
    shift = float(np.linalg.norm(matrix[:3, :3] @ point + matrix[:3, 3] - point))
    cosine = (float(np.trace(matrix[:3, :3])) - 1.0) / 2.0
    angle = float(np.degrees(np.arccos(min(max(cosine, -1.0), 1.0))))
    return shift, angle


def timepoint_label(timepoint: ReviewTimepoint, case: ReviewCase) -> str:
    """``"Day 35 · current"``, ``"Day 0 · prior"`` or ``"Day -30"``."""
    text = f"Day {timepoint.day}"
    if timepoint is case.current and len(case.timepoints) > 1:
        return f"{text} · current"
    if timepoint is case.prior:
        return f"{text} · prior"
    return text
