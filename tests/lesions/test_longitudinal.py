"""Carrying label maps between series and lesion volume change, on synthetic grids."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.lesions.longitudinal import (
    TRACK_KEY,
    carry_labels,
    dst_to_src_transform,
    format_change,
    label_volumes,
    track_of,
    volume_pairs,
)


def grid_affine(
    spacing: tuple[float, float, float], origin: tuple[float, float, float]
) -> np.ndarray:
    """An axis-aligned LPS affine."""
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return affine


def blob_labels() -> np.ndarray:
    """A 40³ grid with lesion 1 (a 5³ cube) and lesion 2 (a 3x4x2 box)."""
    labels = np.zeros((40, 40, 40), dtype=np.uint16)
    labels[10:15, 12:17, 8:13] = 1
    labels[25:28, 20:24, 30:32] = 2
    return labels


def centroid_mm(labels: np.ndarray, label: int, affine: np.ndarray) -> np.ndarray:
    """World centroid (LPS mm) of one label."""
    ijk = np.argwhere(labels == label).mean(axis=0)
    return (affine @ np.append(ijk, 1.0))[:3]


def test_identity_same_grid_is_identical() -> None:
    """No transform (or the identity) on the same grid gives the same voxels."""
    labels = blob_labels()
    affine = grid_affine((1.0, 1.2, 2.0), (-20.0, -24.0, -40.0))
    assert np.array_equal(carry_labels(labels, affine, labels.shape, affine), labels)
    same = carry_labels(labels, affine, labels.shape, affine, np.eye(4))
    assert np.array_equal(same, labels)
    assert same.dtype == labels.dtype


def test_translation_moves_centroid() -> None:
    """A known translation moves each lesion's centroid by it, within half a voxel."""
    labels = blob_labels()
    spacing = (1.0, 1.0, 1.5)
    src = grid_affine(spacing, (-20.0, -20.0, -30.0))
    dst = grid_affine((0.9, 0.9, 1.2), (-18.0, -19.0, -31.0))
    shift = np.array([4.0, -3.0, 6.0])  # the lesion moved by this from source to destination
    transform = np.eye(4)
    transform[:3, 3] = -shift  # destination world → source world
    carried = carry_labels(labels, src, (48, 48, 56), dst, transform)
    for label in (1, 2):
        moved = centroid_mm(carried, label, dst) - centroid_mm(labels, label, src)
        assert np.all(np.abs(moved - shift) <= 0.5 * np.array([1.0, 1.0, 1.5])), (label, moved)


def test_outside_source_grid_is_background() -> None:
    """A translation that moves the lesion off the destination grid leaves nothing."""
    labels = blob_labels()
    affine = grid_affine((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    transform = np.eye(4)
    transform[:3, 3] = [500.0, 0.0, 0.0]
    assert not np.any(carry_labels(labels, affine, labels.shape, affine, transform))


def test_bad_transform_refused() -> None:
    """A transform that is not 4x4 is refused."""
    labels = blob_labels()
    affine = np.eye(4)
    with pytest.raises(ValueError, match="4x4"):
        carry_labels(labels, affine, labels.shape, affine, np.eye(3))


def test_dst_to_src_transform_directions() -> None:
    """Prior→current uses the stored current→prior transform; the other way its inverse."""
    t = np.eye(4)
    t[:3, 3] = [1.0, 2.0, 3.0]
    transforms = {0: t}  # day 0 is the prior; day 35 (current) has none
    assert dst_to_src_transform({}, 0, 35) is None
    assert np.allclose(dst_to_src_transform(transforms, 0, 35), t)  # type: ignore[arg-type]
    assert np.allclose(dst_to_src_transform(transforms, 35, 0), np.linalg.inv(t))  # type: ignore[arg-type]


def test_label_volumes_and_pairs() -> None:
    """Per-label volumes in mL and the change of matched tracks."""
    labels = blob_labels()
    affine = grid_affine((1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    volumes = label_volumes(labels, affine)
    assert volumes == {1: pytest.approx(0.25), 2: pytest.approx(0.048)}
    after = {5: 0.5, 9: 1.0}
    pairs = volume_pairs(volumes, after, after_tracks={5: 1})
    assert set(pairs) == {1}
    change = pairs[1]
    assert change.before_ml == pytest.approx(0.25)
    assert change.after_ml == pytest.approx(0.5)
    assert change.absolute_ml == pytest.approx(0.25)
    assert change.relative_percent == pytest.approx(100.0)
    assert format_change(change) == "+0.250 mL (+100 %)"


def test_format_change_shrink_and_new() -> None:
    """A shrinking lesion is negative; nothing before gives no percentage."""
    pairs = volume_pairs({1: 2.0}, {1: 1.5})
    assert format_change(pairs[1]) == "-0.500 mL (-25 %)"
    assert format_change(volume_pairs({1: 0.0}, {1: 1.234})[1]) == "+1.234 mL"


def test_track_of() -> None:
    """A lesion's track is its stored track, else its own label."""
    assert track_of(4, None) == 4
    assert track_of(4, {TRACK_KEY: 1}) == 1
    assert track_of(4, {TRACK_KEY: True}) == 4
    assert track_of(4, {"u_fibres": "present"}) == 4
