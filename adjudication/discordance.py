"""Do the independent reads of one case disagree? Configurable discordance rules.

Pure Python and numpy: no SQL, no Qt, no application imports. The workbench builds one
:class:`ReadSummary` per submitted read and calls :func:`assess`; the result says whether the
case is concordant (straight to adjudication) or discordant (the panel must reconcile), and
names every rule that fired, with its numbers.

Rules, checked for every pair of reads:

``judgement``
    The readers' imaging judgements differ (yes / no / equivocal).
``detection``
    A lesion of one reader of at least ``min_lesion_ml`` overlaps no lesion of the other.
``volume``
    The total lesion volumes differ by more than ``volume_fraction`` of the larger one.
``dice``
    The Dice coefficient between the two readers' union masks is below ``min_dice``
    (not checked when neither reader drew anything).

``detection`` and ``dice`` need the masks of both reads on one common grid; when the readers
drew on different series the caller passes ``spatial=False`` and only the judgement and volume
rules are applied.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

JUDGEMENT = "judgement"
DETECTION = "detection"
VOLUME = "volume"
DICE = "dice"


@dataclass(frozen=True, slots=True)
class DiscordanceRules:
    """Thresholds of the discordance rules.

    ``min_lesion_ml``: smallest lesion (mL) whose detection by one reader only counts.
    ``volume_fraction``: largest allowed difference of total volumes, as a fraction of the
    larger total. ``min_dice``: smallest allowed Dice between the readers' union masks.
    """

    min_lesion_ml: float = 0.1
    volume_fraction: float = 0.5
    min_dice: float = 0.5

    def __post_init__(self) -> None:
        if not self.min_lesion_ml >= 0:
            raise ValueError(f"min_lesion_ml must be >= 0, got {self.min_lesion_ml}")
        if not 0 <= self.volume_fraction <= 1:
            raise ValueError(f"volume_fraction must be in [0, 1], got {self.volume_fraction}")
        if not 0 <= self.min_dice <= 1:
            raise ValueError(f"min_dice must be in [0, 1], got {self.min_dice}")

    def as_dict(self) -> dict[str, float]:
        """The thresholds as plain values (for audit events)."""
        return {
            "min_lesion_ml": self.min_lesion_ml,
            "volume_fraction": self.volume_fraction,
            "min_dice": self.min_dice,
        }


@dataclass(frozen=True, slots=True, eq=False)
class ReadSummary:
    """What :func:`assess` needs of one read.

    ``judgement`` is the reader's imaging judgement (a string such as ``"yes"``);
    ``masks`` holds one boolean mask per lesion, all on one common grid, or ``None`` when the
    reader drew nothing; ``lesion_ml`` gives each lesion's volume (same order as ``masks``);
    ``total_ml`` is the read's total lesion volume.
    """

    reader: str
    judgement: str | None
    masks: Sequence[np.ndarray] | None
    total_ml: float
    lesion_ml: Sequence[float] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        masks = tuple(np.asarray(m, dtype=bool) for m in self.masks) if self.masks else None
        object.__setattr__(self, "masks", masks)
        object.__setattr__(self, "lesion_ml", tuple(float(v) for v in self.lesion_ml))
        n_masks = len(masks) if masks else 0
        if len(self.lesion_ml) != n_masks:
            raise ValueError(
                f"read of {self.reader}: {n_masks} lesion mask(s) but "
                f"{len(self.lesion_ml)} lesion volume(s)"
            )
        if masks and len({m.shape for m in masks}) > 1:
            raise ValueError(f"read of {self.reader}: lesion masks are on different grids")


@dataclass(frozen=True, slots=True)
class RuleFinding:
    """One rule that fired for one pair of readers, with the numbers behind it."""

    rule: str
    readers: tuple[str, str]
    detail: str
    values: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for audit events)."""
        return {
            "rule": self.rule,
            "readers": list(self.readers),
            "detail": self.detail,
            "values": dict(self.values),
        }


@dataclass(frozen=True, slots=True)
class Discordance:
    """The outcome of :func:`assess`: every rule that fired (none means concordant)."""

    findings: tuple[RuleFinding, ...]
    rules: DiscordanceRules
    spatial: bool
    """Whether the mask rules (detection, Dice) were applied."""

    @property
    def discordant(self) -> bool:
        """Whether any rule fired."""
        return bool(self.findings)

    @property
    def concordant(self) -> bool:
        """Whether no rule fired."""
        return not self.findings

    @property
    def fired(self) -> tuple[str, ...]:
        """The names of the rules that fired, each once, in rule order."""
        order = (JUDGEMENT, DETECTION, VOLUME, DICE)
        names = {f.rule for f in self.findings}
        return tuple(name for name in order if name in names)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for audit events)."""
        return {
            "discordant": self.discordant,
            "fired": list(self.fired),
            "spatial": self.spatial,
            "rules": self.rules.as_dict(),
            "findings": [f.as_dict() for f in self.findings],
        }


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two boolean masks on one grid (1.0 when both are empty)."""
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def _union(read: ReadSummary, shape: tuple[int, ...] | None) -> np.ndarray | None:
    if read.masks:
        return np.logical_or.reduce(list(read.masks))
    return None if shape is None else np.zeros(shape, dtype=bool)


def _missed(a: ReadSummary, b_union: np.ndarray | None, min_ml: float) -> list[dict[str, Any]]:
    """Lesions of ``a`` of at least ``min_ml`` that overlap nothing in ``b_union``."""
    missed = []
    for index, (mask, ml) in enumerate(zip(a.masks or (), a.lesion_ml, strict=True)):
        if ml < min_ml:
            continue
        if b_union is None or not np.logical_and(mask, b_union).any():
            missed.append({"lesion": index + 1, "volume_ml": round(ml, 4)})
    return missed


def _pair(
    a: ReadSummary, b: ReadSummary, rules: DiscordanceRules, spatial: bool
) -> list[RuleFinding]:
    pair = (a.reader, b.reader)
    found: list[RuleFinding] = []
    if a.judgement != b.judgement:
        found.append(
            RuleFinding(
                JUDGEMENT,
                pair,
                f"judgements differ: {a.reader} {a.judgement}, {b.reader} {b.judgement}",
                {a.reader: a.judgement, b.reader: b.judgement},
            )
        )
    shapes = {m.shape for m in (*(a.masks or ()), *(b.masks or ()))}
    if spatial and len(shapes) > 1:
        raise ValueError(f"reads of {a.reader} and {b.reader}: masks are on different grids")
    shape = next(iter(shapes)) if shapes else None
    a_union, b_union = _union(a, shape), _union(b, shape)
    if spatial:
        for reader, other, missed in (
            (a, b, _missed(a, b_union, rules.min_lesion_ml)),
            (b, a, _missed(b, a_union, rules.min_lesion_ml)),
        ):
            if missed:
                found.append(
                    RuleFinding(
                        DETECTION,
                        pair,
                        f"{len(missed)} lesion(s) of {reader.reader} of at least "
                        f"{rules.min_lesion_ml} mL overlap no lesion of {other.reader}",
                        {"reader": reader.reader, "missed": missed},
                    )
                )
    larger = max(a.total_ml, b.total_ml)
    difference = abs(a.total_ml - b.total_ml)
    if larger > 0 and difference > rules.volume_fraction * larger:
        found.append(
            RuleFinding(
                VOLUME,
                pair,
                f"total volumes differ by {difference:.3f} mL "
                f"({difference / larger:.0%} of the larger, limit {rules.volume_fraction:.0%})",
                {
                    a.reader: round(a.total_ml, 4),
                    b.reader: round(b.total_ml, 4),
                    "fraction": round(difference / larger, 4),
                },
            )
        )
    if spatial and a_union is not None and b_union is not None and (a_union.any() or b_union.any()):
        score = dice(a_union, b_union)
        if score < rules.min_dice:
            found.append(
                RuleFinding(
                    DICE,
                    pair,
                    f"Dice of the union masks {score:.3f} is below {rules.min_dice}",
                    {"dice": round(score, 4)},
                )
            )
    return found


def assess(
    reads: Sequence[ReadSummary],
    rules: DiscordanceRules | None = None,
    *,
    spatial: bool = True,
) -> Discordance:
    """Apply ``rules`` (default thresholds if ``None``) to every pair of ``reads``.

    With ``spatial=False`` only the judgement and volume rules are applied (the readers drew
    on different grids). Raises :class:`ValueError` for fewer than two reads, or for masks on
    different grids when ``spatial`` is true.
    """
    rules = rules or DiscordanceRules()
    if len(reads) < 2:
        raise ValueError(f"discordance needs at least two reads, got {len(reads)}")
    findings: list[RuleFinding] = []
    for a, b in itertools.combinations(reads, 2):
        findings.extend(_pair(a, b, rules, spatial))
    return Discordance(tuple(findings), rules, spatial)
