"""Times in a JSON sidecar: BIDS seconds outside, DICOM milliseconds inside.

DICOM gives ``EchoTime``, ``RepetitionTime`` and ``InversionTime`` in milliseconds, and the
workbench keeps them so (``Volume.meta["echo_time"]`` etc., and what the sequence classifier
reads). BIDS, and dcm2niix's sidecars, give the same keys in seconds. The conversion happens
only at that boundary: :func:`to_bids_seconds` when a sidecar is written,
:func:`from_bids_seconds` when one is read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

TIME_KEYS = {
    "EchoTime": "echo_time",
    "RepetitionTime": "repetition_time",
    "InversionTime": "inversion_time",
}
"""BIDS key (seconds in a sidecar) → ``Volume.meta`` key (milliseconds)."""

MS_PER_S = 1000.0

_SURELY_MS = {"EchoTime": 1.0, "RepetitionTime": 100.0, "InversionTime": 10.0}
"""A sidecar value above this cannot be seconds (no MR echo time reaches 1 s, no TR 100 s,
no TI 10 s): it was written in milliseconds (as this workbench's sidecars were before)."""


def to_bids_seconds(milliseconds: Any) -> float | None:
    """Milliseconds (a DICOM value, or the first of several) as BIDS seconds, or ``None``."""
    value = _number(milliseconds)
    if value is None:
        return None
    return round(value / MS_PER_S, 9)


def from_bids_seconds(sidecar: Mapping[str, Any], where: str) -> tuple[dict[str, float], list[str]]:
    """The sidecar's times in milliseconds (``{"EchoTime": ms, ...}``) and notes.

    A value that is not a number is left out with a note naming the file and key. Values
    that can only be milliseconds (an ``EchoTime`` over 1 s, ...) are taken as such, with a
    note; then every time of that sidecar is, since one writer wrote them all.
    """
    notes: list[str] = []
    values: dict[str, float] = {}
    for key in TIME_KEYS:
        if key not in sidecar or sidecar[key] is None:
            continue
        value = _number(sidecar[key])
        if value is None or value < 0:
            notes.append(
                f"{where}: {key} {sidecar[key]!r} ignored, not a non-negative number of seconds"
            )
            continue
        values[key] = value
    in_ms = [key for key, value in values.items() if value > _SURELY_MS[key]]
    if in_ms:
        notes.append(
            f"{where}: {', '.join(in_ms)} too large for seconds; the sidecar's times were "
            "read as milliseconds (BIDS gives seconds)"
        )
        return values, notes
    return {key: round(value * MS_PER_S, 6) for key, value in values.items()}, notes


def _number(value: Any) -> float | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
