"""What the review workspace needs of a case's imaging, as plain values.

:func:`review_case` copies, inside the session that loaded a case, per series its id,
sequence class, day, geometry, cache file and frame of reference. Timepoints and series come
in the same order as on the case page (studies by day then id, series by id), so a row of the
page's imaging tree names the same series here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viewers.layout import SeriesEntry
from workbench.registry.models import Case
from workbench.studies import series_affine


@dataclass(frozen=True, slots=True)
class ReviewSeries:
    """One series as the review workspace needs it (plain values, no ORM)."""

    series_id: str
    """The registry's series id, as text (what a drag carries)."""
    sequence_class: str
    """The :class:`~workbench.domain.SequenceClass` value, e.g. ``"FLAIR"`` or ``"T1+Gd"``."""
    description: str
    day: int
    """Day of its timepoint, relative to the case's index date."""
    shape: tuple[int, ...]
    dtype: str
    affine: tuple[float, ...]
    """Row-major 4x4, voxel ``(i, j, k)`` → LPS mm."""
    cache_path: str | None
    frame_of_reference_uid: str | None
    source_uri: str

    @property
    def name(self) -> str:
        """The layer name a reader sees in the viewport: ``"FLAIR · day 35"``."""
        what = self.sequence_class if self.sequence_class != "other" else self.description
        return f"{what or 'series'} · day {self.day}"

    @property
    def entry(self) -> SeriesEntry:
        """``(series id, sequence class)`` for :mod:`viewers.layout`."""
        return (self.series_id, self.sequence_class)

    @property
    def time_points(self) -> int:
        """Number of volumes (``shape[3]`` of a 4D series, else 1)."""
        return self.shape[3] if len(self.shape) == 4 else 1

    def affine_matrix(self) -> np.ndarray:
        """The affine as a 4x4 array."""
        return np.asarray(self.affine, dtype=np.float64).reshape(4, 4)


@dataclass(frozen=True, slots=True)
class ReviewTimepoint:
    """One imaging study of the case: its day and series."""

    day: int
    description: str
    series: tuple[ReviewSeries, ...]

    @property
    def entries(self) -> list[SeriesEntry]:
        """``(series id, sequence class)`` of every series, for the hanging protocols."""
        return [s.entry for s in self.series]

    @property
    def frames_of_reference(self) -> frozenset[str | None]:
        """The FrameOfReferenceUIDs of its series (None for a series without one)."""
        return frozenset(s.frame_of_reference_uid for s in self.series)


@dataclass(frozen=True, slots=True)
class ReviewCase:
    """A case's imaging for review: timepoints by day (earliest first)."""

    registry_id: str
    timepoints: tuple[ReviewTimepoint, ...]

    @property
    def series(self) -> tuple[ReviewSeries, ...]:
        """Every series, timepoint by timepoint."""
        return tuple(s for t in self.timepoints for s in t.series)

    @property
    def series_ids(self) -> tuple[str, ...]:
        """Every series id, in :attr:`series` order."""
        return tuple(s.series_id for s in self.series)

    def find(self, series_id: str) -> ReviewSeries | None:
        """The series with this id, or None when the case has none such."""
        for series in self.series:
            if series.series_id == series_id:
                return series
        return None

    def at(self, timepoint_index: int, series_index: int) -> ReviewSeries | None:
        """The series at this position of the case page's imaging tree, or None."""
        if 0 <= timepoint_index < len(self.timepoints):
            series = self.timepoints[timepoint_index].series
            if 0 <= series_index < len(series):
                return series[series_index]
        return None

    @property
    def current(self) -> ReviewTimepoint | None:
        """The latest timepoint (the one reviewed), or None without imaging."""
        return self.timepoints[-1] if self.timepoints else None

    @property
    def prior(self) -> ReviewTimepoint | None:
        """The timepoint before the latest, or None with fewer than two."""
        return self.timepoints[-2] if len(self.timepoints) >= 2 else None

    def needs_alignment(self) -> bool:
        """Whether prior and current may not share world coordinates.

        True when the two latest timepoints have no FrameOfReferenceUID in common, or when a
        series lacks one (a NIfTI file, say): then nothing says their millimetres agree.
        """
        prior, current = self.prior, self.current
        if prior is None or current is None:
            return False
        frames = prior.frames_of_reference | current.frames_of_reference
        return None in frames or len(frames) > 1


def review_case(case: Case) -> ReviewCase:
    """Copy a case loaded by :func:`workbench.cases.get_case` into review values.

    Call it inside the session that loaded ``case``.
    """
    timepoints = []
    for study in sorted(case.studies, key=lambda st: (st.day, st.id)):
        series = tuple(
            ReviewSeries(
                series_id=str(s.id),
                sequence_class=s.sequence_class.value,
                description=s.description or "",
                day=study.day,
                shape=tuple(int(n) for n in s.shape),
                dtype=s.dtype,
                affine=tuple(float(v) for v in series_affine(s).ravel()),
                cache_path=s.cache_path,
                frame_of_reference_uid=s.frame_of_reference_uid,
                source_uri=s.source_uri,
            )
            for s in study.series
        )
        timepoints.append(ReviewTimepoint(study.day, study.description or "", series))
    return ReviewCase(case.registry_id, tuple(timepoints))
