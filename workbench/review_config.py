"""The review process's configuration: discordance thresholds and signing.

Kept in ``review.toml`` in the data directory, or in the file named by
``PML_WORKBENCH_REVIEW_CONFIG``. Every key is optional; a missing file gives the defaults::

    [discordance]
    min_lesion_ml = 0.1      # smallest lesion (mL) whose detection by one reader only counts
    volume_fraction = 0.5    # largest allowed difference of total volumes (of the larger)
    min_dice = 0.5           # smallest allowed Dice between the readers' masks

    [signatures]
    required = 2             # panel signatures that make a decision final
    meaning = "approved as the registry's final decision"

    [sessions]
    lifetime_hours = 12      # a sign-in ends this long after it began, used or not
    idle_minutes = 30        # ... or this long after it was last used

    [readiness]
    sequences = ["FLAIR"]    # sequence classes the latest imaging timepoint must have
    csf_pcr = true           # a CSF JCV PCR result, or one recorded as not done
    clinical = true          # the clinical features assessed (consistent with PML or not)

    [worklist]
    reader_due_days = 14     # a read is due this many days after its reader is assigned
    panel_due_days = 14      # the panel's decision, this many days after a member is assigned

A file that cannot be read, or a key with a wrong type or value, raises
:class:`ReviewConfigError` naming the file, the key and the problem; nothing falls back
silently to a default.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adjudication.consensus import DEFAULT_MEANING
from adjudication.discordance import DiscordanceRules
from workbench.config import data_dir
from workbench.domain import SequenceClass
from workbench.errors import ValidationError

REVIEW_CONFIG_ENV = "PML_WORKBENCH_REVIEW_CONFIG"
FILE_NAME = "review.toml"

_SECTIONS: dict[str, dict[str, type]] = {
    "discordance": {"min_lesion_ml": float, "volume_fraction": float, "min_dice": float},
    "signatures": {"required": int, "meaning": str},
    "sessions": {"lifetime_hours": float, "idle_minutes": float},
    "readiness": {"sequences": list, "csf_pcr": bool, "clinical": bool},
    "worklist": {"reader_due_days": int, "panel_due_days": int},
}

MAX_DUE_DAYS = 365
"""Longest time (days) a due date may be set ahead, in ``review.toml`` or at assignment."""


class ReviewConfigError(ValidationError):
    """The review configuration file is unreadable or holds a bad value."""


@dataclass(frozen=True, slots=True)
class ReadinessRules:
    """What a case needs before it is read (``[readiness]``; see :mod:`workbench.readiness`)."""

    sequences: tuple[SequenceClass, ...] = (SequenceClass.FLAIR,)
    """Sequence classes the latest imaging timepoint must have."""
    csf_pcr: bool = True
    """Whether a CSF JC-virus PCR result (or an explicit "not done") is required."""
    clinical: bool = True
    """Whether the clinical features must have been assessed."""


@dataclass(frozen=True, slots=True)
class WorklistRules:
    """When assigned work falls due (``[worklist]``; see :mod:`workbench.worklist`)."""

    reader_due_days: int = 14
    """Days from a reader's assignment to the read's due date."""
    panel_due_days: int = 14
    """Days from a panel member's assignment to the panel's decision's due date."""

    def __post_init__(self) -> None:
        for name in ("reader_due_days", "panel_due_days"):
            value = getattr(self, name)
            if not 1 <= value <= MAX_DUE_DAYS:
                raise ValueError(f"{name}: {value} — give 1 to {MAX_DUE_DAYS} days")


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    """Discordance thresholds, and how many panel signatures make a decision final."""

    discordance: DiscordanceRules = field(default_factory=DiscordanceRules)
    signatures_required: int = 2
    signature_meaning: str = DEFAULT_MEANING
    session_lifetime: dt.timedelta = dt.timedelta(hours=12)
    """How long a sign-in lasts at most (``[sessions] lifetime_hours``)."""
    session_idle: dt.timedelta = dt.timedelta(minutes=30)
    """How long a sign-in lasts without use (``[sessions] idle_minutes``)."""
    readiness: ReadinessRules = field(default_factory=ReadinessRules)
    worklist: WorklistRules = field(default_factory=WorklistRules)
    source: Path | None = None
    """The file these values came from; ``None`` for the built-in defaults."""

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for ``config show`` and audit events)."""
        return {
            "source": str(self.source) if self.source else None,
            "discordance": self.discordance.as_dict(),
            "signatures": {
                "required": self.signatures_required,
                "meaning": self.signature_meaning,
            },
            "sessions": {
                "lifetime_hours": self.session_lifetime.total_seconds() / 3600,
                "idle_minutes": self.session_idle.total_seconds() / 60,
            },
            "readiness": {
                "sequences": [s.value for s in self.readiness.sequences],
                "csf_pcr": self.readiness.csf_pcr,
                "clinical": self.readiness.clinical,
            },
            "worklist": {
                "reader_due_days": self.worklist.reader_due_days,
                "panel_due_days": self.worklist.panel_due_days,
            },
        }


def config_path() -> Path:
    """Where the review configuration is read from (it need not exist)."""
    override = os.environ.get(REVIEW_CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return data_dir() / FILE_NAME


def _checked(path: Path, section: str, key: str, value: object, kind: type) -> Any:
    where = f"{path}: [{section}] {key}"
    if kind is bool:
        if not isinstance(value, bool):
            raise ReviewConfigError(f"{where}: {value!r} is not true or false")
        return value
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ReviewConfigError(f"{where}: {value!r} is not a list of names")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ReviewConfigError(f"{where}: {value!r} is not a number")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ReviewConfigError(f"{where}: {value!r} is not a whole number")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ReviewConfigError(f"{where}: {value!r} is not a non-empty text")
    return value.strip()


def load_review_config(path: Path | None = None) -> ReviewConfig:
    """The review configuration from ``path`` (default :func:`config_path`)."""
    explicit = path is not None or REVIEW_CONFIG_ENV in os.environ
    path = path or config_path()
    if not path.exists():
        if explicit:
            raise ReviewConfigError(f"{path}: review configuration file not found")
        return ReviewConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewConfigError(f"{path}: cannot read the review configuration: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ReviewConfigError(f"{path}: not valid TOML: {exc}") from exc
    values: dict[str, dict[str, Any]] = {}
    for section, body in raw.items():
        if section not in _SECTIONS:
            known = ", ".join(f"[{name}]" for name in _SECTIONS)
            raise ReviewConfigError(f"{path}: unknown section [{section}] (known: {known})")
        if not isinstance(body, dict):
            raise ReviewConfigError(f"{path}: {section} must be a [{section}] table")
        for key, value in body.items():
            kind = _SECTIONS[section].get(key)
            if kind is None:
                known = ", ".join(_SECTIONS[section])
                raise ReviewConfigError(f"{path}: [{section}] {key}: unknown key (known: {known})")
            values.setdefault(section, {})[key] = _checked(path, section, key, value, kind)
    try:
        rules = DiscordanceRules(**values.get("discordance", {}))
    except ValueError as exc:
        raise ReviewConfigError(f"{path}: [discordance] {exc}") from None
    signing = values.get("signatures", {})
    required = signing.get("required", 2)
    if required < 1:
        raise ReviewConfigError(
            f"{path}: [signatures] required: {required} — at least one signature is needed"
        )
    sessions = values.get("sessions", {})
    lifetime = sessions.get("lifetime_hours", 12.0)
    idle = sessions.get("idle_minutes", 30.0)
    if not 0 < lifetime <= 24 * 30:
        raise ReviewConfigError(
            f"{path}: [sessions] lifetime_hours: {lifetime} — give more than 0 and at most 720"
        )
    if not 0 < idle <= lifetime * 60:
        raise ReviewConfigError(
            f"{path}: [sessions] idle_minutes: {idle} — give more than 0 and at most the lifetime"
        )
    ready = values.get("readiness", {})
    classes = {c.value.lower(): c for c in SequenceClass}
    sequences: list[SequenceClass] = []
    for name in ready.get("sequences", ["FLAIR"]):
        if name.lower() not in classes:
            raise ReviewConfigError(
                f"{path}: [readiness] sequences: {name!r} is not a sequence class (known: "
                f"{', '.join(c.value for c in SequenceClass)})"
            )
        sequences.append(classes[name.lower()])
    readiness = ReadinessRules(
        tuple(sequences), ready.get("csf_pcr", True), ready.get("clinical", True)
    )
    try:
        worklist = WorklistRules(**values.get("worklist", {}))
    except ValueError as exc:
        raise ReviewConfigError(f"{path}: [worklist] {exc}") from None
    return ReviewConfig(
        discordance=rules,
        readiness=readiness,
        worklist=worklist,
        signatures_required=required,
        signature_meaning=signing.get("meaning", DEFAULT_MEANING),
        session_lifetime=dt.timedelta(hours=lifetime),
        session_idle=dt.timedelta(minutes=idle),
        source=path,
    )
