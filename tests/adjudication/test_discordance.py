"""Discordance rules between independent reads of one case."""

from __future__ import annotations

import numpy as np
import pytest

from adjudication.discordance import (
    DETECTION,
    DICE,
    JUDGEMENT,
    VOLUME,
    DiscordanceRules,
    ReadSummary,
    assess,
    dice,
)

SHAPE = (10, 10, 10)
VOXEL_ML = 0.01  # 10 mm^3 voxels


def _box(lo: tuple[int, int, int], hi: tuple[int, int, int]) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = True
    return mask


def _read(reader: str, judgement: str, *masks: np.ndarray) -> ReadSummary:
    volumes = [float(m.sum()) * VOXEL_ML for m in masks]
    return ReadSummary(reader, judgement, list(masks) or None, sum(volumes), volumes)


RULES = DiscordanceRules(min_lesion_ml=0.05, volume_fraction=0.5, min_dice=0.5)


def test_concordant_reads() -> None:
    a = _read("r1", "yes", _box((0, 0, 0), (4, 4, 4)))
    b = _read("r2", "yes", _box((0, 0, 0), (4, 4, 3)))
    result = assess([a, b], RULES)
    assert result.concordant
    assert not result.discordant
    assert result.findings == ()
    assert result.fired == ()
    assert result.as_dict()["discordant"] is False


def test_two_empty_reads_agree() -> None:
    result = assess([_read("r1", "no"), _read("r2", "no")], RULES)
    assert result.concordant


def test_judgements_differ() -> None:
    mask = _box((0, 0, 0), (4, 4, 4))
    result = assess([_read("r1", "yes", mask), _read("r2", "equivocal", mask)], RULES)
    assert result.fired == (JUDGEMENT,)
    (finding,) = result.findings
    assert finding.readers == ("r1", "r2")
    assert finding.values == {"r1": "yes", "r2": "equivocal"}


def test_a_lesion_seen_by_one_reader_only() -> None:
    shared = _box((0, 0, 0), (4, 4, 4))  # 64 voxels, 0.64 mL
    extra = _box((8, 8, 8), (10, 10, 10))  # 8 voxels, 0.08 mL: above 0.05
    rules = DiscordanceRules(min_lesion_ml=0.05, volume_fraction=0.9, min_dice=0.1)
    result = assess([_read("r1", "yes", shared, extra), _read("r2", "yes", shared)], rules)
    assert result.fired == (DETECTION,)
    (finding,) = result.findings
    assert finding.values == {"reader": "r1", "missed": [{"lesion": 2, "volume_ml": 0.08}]}


def test_a_small_unmatched_lesion_is_below_the_detection_threshold() -> None:
    shared = _box((0, 0, 0), (4, 4, 4))
    speck = _box((9, 9, 9), (10, 10, 10))  # 0.01 mL
    result = assess([_read("r1", "yes", shared, speck), _read("r2", "yes", shared)], RULES)
    assert result.concordant


def test_total_volumes_differ() -> None:
    big = _box((0, 0, 0), (6, 6, 6))  # 216 voxels
    small = _box((0, 0, 0), (3, 3, 3))  # 27 voxels, inside big
    rules = DiscordanceRules(min_lesion_ml=0.05, volume_fraction=0.5, min_dice=0.0)
    result = assess([_read("r1", "yes", big), _read("r2", "yes", small)], rules)
    assert result.fired == (VOLUME,)
    values = result.findings[0].values
    assert values["r1"] == pytest.approx(2.16)
    assert values["r2"] == pytest.approx(0.27)
    assert values["fraction"] == pytest.approx((2.16 - 0.27) / 2.16, abs=1e-4)


def test_low_dice_between_union_masks() -> None:
    a = _box((0, 0, 0), (4, 4, 4))
    b = _box((2, 0, 0), (6, 4, 4))  # half overlaps: Dice 0.5
    rules = DiscordanceRules(min_lesion_ml=0.05, volume_fraction=0.5, min_dice=0.6)
    result = assess([_read("r1", "yes", a), _read("r2", "yes", b)], rules)
    assert result.fired == (DICE,)
    assert result.findings[0].values["dice"] == pytest.approx(0.5)
    assert assess([_read("r1", "yes", a), _read("r2", "yes", b)], RULES).concordant


def test_one_reader_drew_nothing() -> None:
    lesion = _box((0, 0, 0), (4, 4, 4))
    result = assess([_read("r1", "yes", lesion), _read("r2", "yes")], RULES)
    assert set(result.fired) == {DETECTION, VOLUME, DICE}


def test_without_a_common_grid_only_judgement_and_volume_apply() -> None:
    a = ReadSummary("r1", "yes", [np.ones((2, 2, 2), bool)], 1.0, [1.0])
    b = ReadSummary("r2", "yes", [np.ones((3, 3, 3), bool)], 1.1, [1.1])
    result = assess([a, b], RULES, spatial=False)
    assert result.concordant
    assert result.spatial is False
    with pytest.raises(ValueError, match="different grids"):
        assess([a, b], RULES)


def test_every_pair_of_three_readers_is_checked() -> None:
    mask = _box((0, 0, 0), (4, 4, 4))
    reads = [_read("r1", "yes", mask), _read("r2", "yes", mask), _read("r3", "no", mask)]
    result = assess(reads, RULES)
    assert [f.readers for f in result.findings] == [("r1", "r3"), ("r2", "r3")]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least two"):
        assess([_read("r1", "yes")])
    with pytest.raises(ValueError, match="volume_fraction"):
        DiscordanceRules(volume_fraction=1.5)
    with pytest.raises(ValueError, match="lesion volume"):
        ReadSummary("r1", "yes", [np.ones(SHAPE, bool)], 1.0, [])
    assert dice(np.zeros(SHAPE, bool), np.zeros(SHAPE, bool)) == 1.0
