"""How registry values read on screen and in reports: labels and formats (no Qt, no SQL).

One place for each label, so the case page, the panel page, dialogs and the command line say
the same thing.
"""

from __future__ import annotations

import datetime as dt
import math

from adjudication.text import escape_controls
from adjudication.vocabulary import Certainty, TriState
from workbench.domain import LabQualitative


def one_line(text: str | None) -> str:
    """``text`` safe to print on one line of a terminal: control characters (line breaks,
    escapes, bidirectional overrides) are shown as ``\\n``, ``\\x1b``, ... instead of acting.
    """
    return escape_controls(text or "")


_RESULT_LABELS = {
    LabQualitative.DETECTED: "detected",
    LabQualitative.DETECTED_BELOW_LOQ: "detected, below LOQ",
    LabQualitative.NOT_DETECTED: "not detected",
    LabQualitative.POSITIVE: "positive",
    LabQualitative.NEGATIVE: "negative",
    LabQualitative.INDETERMINATE: "indeterminate",
    LabQualitative.NOT_DONE: "not done",
    LabQualitative.QUANTITATIVE: "measured",
}

_TRISTATE_LABELS = {
    TriState.PRESENT: "present",
    TriState.ABSENT: "absent",
    TriState.NOT_ASSESSED: "not assessed",
}


def result_label(result: LabQualitative) -> str:
    """How a qualitative lab result reads on screen (``detected, below LOQ``)."""
    return _RESULT_LABELS[result]


_CERTAINTY_LABELS = {
    Certainty.DEFINITE: "definite PML",
    Certainty.PROBABLE: "probable PML",
    Certainty.POSSIBLE: "possible PML",
    Certainty.NOT_PML: "not PML",
    Certainty.NOT_CLASSIFIABLE: "not classifiable",
}


def certainty_label(certainty: Certainty) -> str:
    """How a diagnostic certainty reads on screen (``probable PML``)."""
    return _CERTAINTY_LABELS[certainty]


def format_utc(moment: dt.datetime | None) -> str:
    """A UTC time (stored naive) to the minute, ``2026-11-24 09:14 UTC``; empty for none."""
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def tristate_label(value: TriState) -> str:
    """``present``, ``absent`` or ``not assessed``."""
    return _TRISTATE_LABELS[value]


def format_number(value: float | None) -> str:
    """A lab number without float noise: ``1200``, ``0.35``, ``1.2e+07``; empty for none."""
    if value is None:
        return ""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e9:
        return f"{int(value)}"
    return f"{value:.6g}"


def format_day(day: int | None) -> str:
    """A relative day as a signed number (``-14``, ``0``, ``+90``); empty for none."""
    if day is None:
        return ""
    return f"{day:+d}" if day else "0"


def elide_middle(text: str, keep: int = 26) -> str:
    """``text`` shortened to about ``keep`` characters by cutting its middle (for UIDs)."""
    if len(text) <= keep:
        return text
    head = (keep - 1) // 2
    tail = keep - 1 - head
    return f"{text[:head]}…{text[-tail:]}"
