"""Lesions across timepoints: carrying a label map to another series, and volume change.

Qt-free. :func:`carry_labels` resamples a label map from one series' grid onto another's,
nearest neighbour through world space (:func:`~workbench.lesions.nifti_io.resample_labels_to`),
optionally through a 4x4 **world transform from the destination's world to the source's
world** (``x_src = transform @ x_dst``, LPS mm). That is the direction the review workspace's
alignment stores (current world → prior world): carrying *from the prior to the current*
passes the alignment transform as it is, carrying *from the current to the prior* passes its
inverse (:func:`dst_to_src_transform` works it out for any two days).

:func:`label_volumes` measures each label's volume; :func:`volume_pairs` matches the lesions of
two timepoints by their track (see :func:`track_of`) and :func:`format_change` shows
:func:`adjudication.lesions.volume_change` as ``"+1.234 mL (+45 %)"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from adjudication.lesions import VolumeChange, volume_change
from viewers.measure import label_stats
from workbench.lesions.labels import checked_labels
from workbench.lesions.nifti_io import resample_labels_to

TRACK_KEY = "track"
"""Key in a lesion's stored details (``features``) naming the lesion it was carried from.

Labels are unique within a read across all its series, so a carried lesion gets a new label;
its ``track`` is the label of the lesion the chain started from. A lesion without the key is
its own track.
"""


def _matrix(value: Any, where: str) -> np.ndarray:
    matrix = np.asarray(value, dtype=np.float64)
    if matrix.shape == (16,):
        matrix = matrix.reshape(4, 4)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"{where}: must be a finite 4x4 matrix, got shape {matrix.shape}")
    return matrix


def carry_labels(
    labels: Any,
    src_affine: Any,
    dst_shape: tuple[int, ...],
    dst_affine: Any,
    transform: Any | None = None,
) -> np.ndarray:
    """``labels`` (on the grid ``src_affine``) carried onto ``dst_shape`` / ``dst_affine``.

    ``transform`` maps destination world to source world (LPS mm); ``None`` is the identity
    (the two series share their scanner coordinates). Each destination voxel centre ``v``
    takes the label of the source voxel nearest ``inv(src_affine) @ transform @ dst_affine @ v``
    (0 outside the source grid). The result keeps the labels' type.
    """
    dst = _matrix(dst_affine, "carry_labels: dst_affine")
    if transform is not None:
        dst = _matrix(transform, "carry_labels: transform") @ dst
    return resample_labels_to(labels, src_affine, dst_shape, dst)


def dst_to_src_transform(
    transforms: Mapping[int, Any], src_day: int, dst_day: int
) -> np.ndarray | None:
    """The world transform destination → source from the alignment's per-day transforms.

    ``transforms[day]`` maps the current timepoint's world to day ``day``'s (the review
    workspace's :meth:`alignment_transform`); a day without one shares the current world. So
    ``x_src = T_src @ inv(T_dst) @ x_dst``. ``None`` when neither day has a transform.
    """
    src = transforms.get(src_day)
    dst = transforms.get(dst_day)
    if src is None and dst is None:
        return None
    src_m = np.eye(4) if src is None else _matrix(src, "transform of the source day")
    dst_m = np.eye(4) if dst is None else _matrix(dst, "transform of the destination day")
    return src_m @ np.linalg.inv(dst_m)


def label_volumes(labels: Any, affine: Any) -> dict[int, float]:
    """Volume in mL of each non-zero label of ``labels`` on the grid ``affine``."""
    array = checked_labels(labels, "label_volumes")
    matrix = _matrix(affine, "label_volumes: affine")
    return {stats.label: stats.volume_ml for stats in label_stats(array, matrix)}


def track_of(label: int, features: Mapping[str, Any] | None) -> int:
    """The track of a lesion: ``features[TRACK_KEY]`` when set, else its own label."""
    if features:
        value = features.get(TRACK_KEY)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return int(label)


def volume_pairs(
    before: Mapping[int, float],
    after: Mapping[int, float],
    before_tracks: Mapping[int, int] | None = None,
    after_tracks: Mapping[int, int] | None = None,
) -> dict[int, VolumeChange]:
    """Volume change of each track present at both timepoints, by track.

    ``before`` / ``after`` map label → mL at the earlier / later timepoint; the ``*_tracks``
    map label → track (missing: the label is its own track). Tracks present at one timepoint
    only are left out (a lesion that appeared or vanished has no counterpart to compare).
    """
    by_track_before: dict[int, float] = {}
    for label, ml in before.items():
        track = (before_tracks or {}).get(label, label)
        by_track_before[track] = by_track_before.get(track, 0.0) + ml
    by_track_after: dict[int, float] = {}
    for label, ml in after.items():
        track = (after_tracks or {}).get(label, label)
        by_track_after[track] = by_track_after.get(track, 0.0) + ml
    return {
        track: volume_change(by_track_before[track], by_track_after[track])
        for track in sorted(set(by_track_before) & set(by_track_after))
    }


def format_change(change: VolumeChange) -> str:
    """``"+1.234 mL (+45 %)"`` (no percentage when there was nothing before)."""
    text = f"{change.absolute_ml:+.3f} mL"
    if change.relative_percent is not None:
        text += f" ({change.relative_percent:+.0f} %)"
    return text
