"""What the registry accepts as de-identified: the gate's :class:`Policy`.

A registry configures it in a TOML file, either at the top level or under a ``[deid]``
table (so it can live in a larger configuration file). Every key is optional; a missing key
keeps the :meth:`Policy.strict` default, an unknown key is an error (a typo must not weaken
the gate)::

    [deid]
    # How a registry pseudonym looks (Python regular expression, matched against the
    # whole value). PatientName, PatientID and any other person name must be empty or match.
    pseudonym_pattern = '^PML-[A-Z0-9-]+$'

    # De-identification options (PS3.15 CID 7050 code values, or their names such as
    # "CLEAN_DESCRIPTORS") whose relaxations the registry accepts when a file declares them
    # in DeidentificationMethodCodeSequence. 113100 (Basic Profile) is always required and
    # is not listed here.
    accepted_options = ["113105", "113107", "113108", "113110"]

    # Refuse a DICOM file that has no BurnedInAnnotation (0028,0301) at all (otherwise
    # its absence is only a note). "YES" is always refused.
    refuse_missing_burned_in_annotation = false

    # Check descriptors kept under Clean Descriptors (113105), in DICOM and in NIfTI
    # sidecars, for dates, Surname^Given names and long digit runs. (NIfTI header text
    # fields are always checked this way.)
    check_descriptor_text = true
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from workbench.deid.rules import DeidOption

DEFAULT_PSEUDONYM_PATTERN: Final = r"^PML-[A-Z0-9-]+$"
"""The registry's pseudonym: ``PML-`` and capitals, digits and hyphens."""

STRICT_OPTIONS: Final = frozenset(
    {
        DeidOption.CLEAN_DESCRIPTORS,
        DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES,
        DeidOption.RETAIN_PATIENT_CHARACTERISTICS,
        DeidOption.RETAIN_UIDS,
    }
)
"""Options the strict policy accepts.

Clean Descriptors keeps series descriptions (needed to classify sequences) after cleaning;
Modified Dates keeps intervals between examinations with every date shifted; Patient
Characteristics keeps sex, age, size and weight; Retain UIDs changes nothing the gate checks
(UIDs are accepted either way). Not accepted: Full Dates (real calendar dates, which the
registry never stores), Device and Institution Identity, Safe Private.
"""

_KEYS: Final = frozenset(
    {
        "pseudonym_pattern",
        "accepted_options",
        "refuse_missing_burned_in_annotation",
        "check_descriptor_text",
    }
)


@dataclass(frozen=True, slots=True)
class Policy:
    """What the de-identification gate accepts. Build with :meth:`strict` or a TOML file."""

    pseudonym_pattern: str = DEFAULT_PSEUDONYM_PATTERN
    """Regular expression a pseudonym must match in full."""
    accepted_options: frozenset[DeidOption] = STRICT_OPTIONS
    """Options whose relaxations apply when a file declares them."""
    refuse_missing_burned_in_annotation: bool = False
    """Refuse a DICOM file without BurnedInAnnotation (else a note)."""
    check_descriptor_text: bool = True
    """Look for dates, names and long numbers in kept descriptors (DICOM and sidecars)."""
    pseudonym_regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    """The compiled :attr:`pseudonym_pattern`."""

    def __post_init__(self) -> None:
        if not isinstance(self.pseudonym_pattern, str) or not self.pseudonym_pattern:
            raise ValueError("pseudonym_pattern must be a non-empty regular expression")
        try:
            regex = re.compile(self.pseudonym_pattern)
        except re.error as exc:
            raise ValueError(f"pseudonym_pattern is not a regular expression: {exc}") from None
        if regex.fullmatch(""):
            raise ValueError("pseudonym_pattern must not match the empty string")
        options = frozenset(DeidOption.coerce(o) for o in self.accepted_options)
        if DeidOption.BASIC_PROFILE in options:
            raise ValueError("113100 (Basic Profile) is always required, not an option")
        for name in ("refuse_missing_burned_in_annotation", "check_descriptor_text"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        object.__setattr__(self, "accepted_options", options)
        object.__setattr__(self, "pseudonym_regex", regex)

    @classmethod
    def strict(cls) -> Policy:
        """The default policy (see :data:`STRICT_OPTIONS`)."""
        return cls()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Policy:
        """A policy from the keys documented in this module (top level or under ``deid``)."""
        table = values["deid"] if isinstance(values.get("deid"), Mapping) else values
        unknown = set(table) - _KEYS
        if unknown:
            raise ValueError(
                f"unknown policy key(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_KEYS))}"
            )
        kwargs: dict[str, Any] = dict(table)
        if "accepted_options" in kwargs:
            options = kwargs["accepted_options"]
            if isinstance(options, str) or not isinstance(options, Iterable):
                raise ValueError("accepted_options must be a list of option codes")
            kwargs["accepted_options"] = frozenset(DeidOption.coerce(str(o)) for o in options)
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: Path) -> Policy:
        """A policy read from a TOML file (``OSError`` if unreadable, ``ValueError`` if bad)."""
        with path.open("rb") as handle:
            try:
                values = tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{path}: not valid TOML: {exc}") from None
        try:
            return cls.from_mapping(values)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def accepts(self, option: DeidOption) -> bool:
        """Whether the registry accepts ``option``'s relaxations."""
        return option in self.accepted_options

    def is_pseudonym(self, value: str) -> bool:
        """Whether ``value`` is a registry pseudonym."""
        return self.pseudonym_regex.fullmatch(value) is not None


def load_policy(path: Path | None) -> Policy:
    """The policy in the TOML file ``path``, or the strict policy when ``path`` is None."""
    return Policy.strict() if path is None else Policy.from_toml(path)
