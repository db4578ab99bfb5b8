"""Viewport grids and hanging protocols: which series goes into which viewport.

A hanging protocol here is a pure function from what a case has (``(series id, sequence
class)`` pairs, where the class is a string such as ``"FLAIR"`` or ``"T1+Gd"``) to a list
with one series id (or None) per viewport, row-major. The reading order is the one a
neuroradiologist uses for PML: FLAIR, T2, T1, T1+Gd, DWI, ADC, then anything else in the
order given. Sequence-class strings are matched case-insensitively with a few common
spellings (``T1_GD``, ``T1C``, ``T2W``, ...); this module does not import the application's
enum, it only needs its values.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

READING_ORDER: tuple[str, ...] = ("FLAIR", "T2", "T1", "T1+Gd", "DWI", "ADC")
"""Sequence classes in hanging order; other classes follow in input order."""

_ALIASES = {
    "FLAIR": "FLAIR", "T2FLAIR": "FLAIR", "T2-FLAIR": "FLAIR", "T2_FLAIR": "FLAIR",
    "T2": "T2", "T2W": "T2", "T2WI": "T2",
    "T1": "T1", "T1W": "T1", "T1WI": "T1",
    "T1+GD": "T1+Gd", "T1_GD": "T1+Gd", "T1GD": "T1+Gd", "T1-GD": "T1+Gd", "T1 GD": "T1+Gd",
    "T1C": "T1+Gd", "T1CE": "T1+Gd", "T1+C": "T1+Gd", "T1POST": "T1+Gd",
    "DWI": "DWI", "TRACE": "DWI", "TRACEW": "DWI", "ADC": "ADC", "SWI": "SWI",
}  # fmt: skip

SeriesEntry = tuple[str, str]
"""``(series id, sequence class)``."""


class GridLayout(enum.Enum):
    """Viewport grids: ``rows × columns``."""

    ONE_BY_ONE = (1, 1)
    ONE_BY_TWO = (1, 2)
    TWO_BY_TWO = (2, 2)
    TWO_BY_THREE = (2, 3)

    @property
    def rows(self) -> int:
        """Number of viewport rows."""
        return int(self.value[0])

    @property
    def columns(self) -> int:
        """Number of viewport columns."""
        return int(self.value[1])

    @property
    def count(self) -> int:
        """Number of viewports."""
        return self.rows * self.columns

    @property
    def label(self) -> str:
        """``"2×2"`` and so on, for menus."""
        return f"{self.rows}×{self.columns}"

    def position(self, index: int) -> tuple[int, int]:
        """``(row, column)`` of viewport ``index`` (row-major)."""
        if not 0 <= index < self.count:
            raise IndexError(f"viewport {index} outside a {self.label} grid")
        return divmod(index, self.columns)

    @classmethod
    def parse(cls, text: str) -> GridLayout:
        """``"2x2"``, ``"2×2"`` or ``"TWO_BY_TWO"`` → the layout."""
        cleaned = text.strip().lower().replace("×", "x")
        for layout in cls:
            if cleaned in (f"{layout.rows}x{layout.columns}", layout.name.lower()):
                return layout
        raise ValueError(f"unknown grid layout {text!r}; use 1x1, 1x2, 2x2 or 2x3")


def normalise_sequence_class(text: str) -> str:
    """The canonical spelling of a sequence class (``"t1_gd"`` → ``"T1+Gd"``); others as given."""
    key = text.strip().upper()
    return _ALIASES.get(key, _ALIASES.get(key.replace(" ", ""), text.strip()))


def _rank(sequence_class: str) -> int:
    canonical = normalise_sequence_class(sequence_class)
    return READING_ORDER.index(canonical) if canonical in READING_ORDER else len(READING_ORDER)


def reading_order(series: Sequence[SeriesEntry]) -> list[SeriesEntry]:
    """``series`` sorted into :data:`READING_ORDER` (stable: ties keep the input order)."""
    return sorted(series, key=lambda entry: _rank(entry[1]))


def hanging_protocol(
    series: Sequence[SeriesEntry], viewports: int | GridLayout
) -> list[str | None]:
    """Series ids for each viewport (row-major), in reading order; None where nothing is left."""
    count = viewports.count if isinstance(viewports, GridLayout) else int(viewports)
    ordered = [series_id for series_id, _ in reading_order(series)][:count]
    return ordered + [None] * (count - len(ordered))


def _first_of_each_class(series: Sequence[SeriesEntry]) -> dict[str, str]:
    first: dict[str, str] = {}
    for series_id, sequence_class in reading_order(series):
        first.setdefault(normalise_sequence_class(sequence_class), series_id)
    return first


def prior_current_pairs(
    prior: Sequence[SeriesEntry], current: Sequence[SeriesEntry]
) -> list[tuple[str, str, str]]:
    """``(sequence class, prior id, current id)`` for every class present at both timepoints,
    in reading order (the first series of a class at each timepoint)."""
    before, after = _first_of_each_class(prior), _first_of_each_class(current)
    classes = [c for c in after if c in before]
    return [(c, before[c], after[c]) for c in classes]


def prior_current_protocol(
    prior: Sequence[SeriesEntry], current: Sequence[SeriesEntry], layout: GridLayout
) -> list[str | None]:
    """Prior beside current, same sequence class, one id (or None) per viewport, row-major.

    Two-row grids put the prior timepoint on the top row and the current one below, one
    sequence class per column (2×2: FLAIR, T2; 2×3: FLAIR, T2, T1). One-row grids put one
    class side by side: prior left, current right (1×2); a 1×1 grid shows the current FLAIR
    (or first class).
    """
    pairs = prior_current_pairs(prior, current)
    cells: list[str | None] = [None] * layout.count
    if layout is GridLayout.ONE_BY_ONE:
        if pairs:
            cells[0] = pairs[0][2]
        return cells
    if layout.rows == 1:
        for column in range(0, layout.columns - 1, 2):
            pair_index = column // 2
            if pair_index < len(pairs):
                cells[column], cells[column + 1] = pairs[pair_index][1], pairs[pair_index][2]
        return cells
    for column, (_, prior_id, current_id) in enumerate(pairs[: layout.columns]):
        cells[column] = prior_id
        cells[layout.columns + column] = current_id
    return cells
