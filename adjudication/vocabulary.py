"""Controlled vocabularies of the review process.

Each is a ``StrEnum`` so that its value is what the registry stores and what the command line
and exports print; the docstring of each member says what it means to a reviewer.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a registry user may do; a user can hold several roles."""

    COORDINATOR = "coordinator"
    """Imports cases and labs, assigns readers, keeps the queue moving."""
    READER = "reader"
    """Neuroradiologist who submits blinded reads."""
    PANEL = "panel"
    """Adjudication panel member who decides and signs."""
    ADMIN = "admin"
    """Manages users and the registry itself."""


class TriState(StrEnum):
    """A criterion input: consistent with PML, not, or not assessed (never guessed)."""

    PRESENT = "present"
    ABSENT = "absent"
    NOT_ASSESSED = "not_assessed"


class Certainty(StrEnum):
    """Diagnostic certainty of PML after AAN 2013 (Berger et al., Neurology 2013)."""

    DEFINITE = "definite"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    NOT_PML = "not_pml"
    NOT_CLASSIFIABLE = "not_classifiable"
    """No rule covers the inputs; the engine says why instead of guessing."""


class Pathway(StrEnum):
    """Which AAN 2013 pathway a certainty comes from."""

    CLINICAL = "clinical"
    HISTOPATHOLOGIC = "histopathologic"


class ImagingJudgement(StrEnum):
    """A reader's answer to "is the imaging consistent with PML?"."""

    YES = "yes"
    NO = "no"
    EQUIVOCAL = "equivocal"


class ReadStatus(StrEnum):
    """Life of a read: editable draft, then immutable once submitted."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    SUPERSEDED = "superseded"
    """Replaced by a corrected version (which carries the reason)."""
