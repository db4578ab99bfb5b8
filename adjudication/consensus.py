"""The panel's consensus: when a rationale is owed, and when signatures make a decision final.

Pure Python, no SQL and no Qt. The workbench stores decisions and signatures; this module
holds the rules they are checked against, so the window, the command line and the tests all
apply the same ones:

- The panel may decide otherwise than the criteria engine, but then it must say why; the same
  holds for a discordant case, whose reads the panel had to reconcile
  (:func:`rationale_needed`).
- Each signature carries the signer's printed name, the time (UTC) and the meaning of the
  signature (21 CFR 11.50); a decision is final once ``required`` distinct panel members have
  signed it (:func:`is_final`).
- Changing a final decision needs a reason and a new set of signatures; the old decision
  stays on record (:func:`check_change_reason`).
"""

from __future__ import annotations

from dataclasses import dataclass

from adjudication.text import describe_forbidden
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway

DEFAULT_MEANING = "approved as the registry's final decision"
"""What a panel member's signature means, unless the registry configures another text."""

MIN_RATIONALE_LENGTH = 10
"""A rationale shorter than this is not an explanation ("ok", "agree")."""

MAX_TEXT_LENGTH = 10_000


class ConsensusError(ValueError):
    """A decision or signature that breaks a consensus rule; the message says which.

    ``field`` names the part of the proposal or signature the refusal is about
    (``"rationale"``, ``"pathway"``, ``"alternative diagnosis"``, ``"reason"``, ``"meaning"``),
    so a form can outline it without reading the message.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


PATHWAY_CERTAINTIES = frozenset({Certainty.DEFINITE, Certainty.PROBABLE, Certainty.POSSIBLE})
"""The certainties that name their pathway (clinical or histopathologic); "not PML" and "not
classifiable" name none."""


def takes_pathway(certainty: Certainty) -> bool:
    """Whether a decision of ``certainty`` names its pathway (:data:`PATHWAY_CERTAINTIES`)."""
    return certainty in PATHWAY_CERTAINTIES


@dataclass(frozen=True, slots=True)
class Proposal:
    """What the panel proposes for a case, before anyone signs."""

    certainty: Certainty
    pathway: Pathway | None
    rationale: str | None = None
    alternative_diagnosis: str | None = None
    imaging: ImagingJudgement | None = None
    """The panel's own imaging judgement (``None``: not recorded; the readers' then stand)."""


def _label(value: Certainty | Pathway) -> str:
    return value.value.replace("_", " ")


def rationale_needed(
    proposal: Proposal, engine_certainty: Certainty, *, discordant: bool
) -> str | None:
    """Why this proposal needs a written rationale, or ``None`` when it does not."""
    reasons = []
    if proposal.certainty != engine_certainty:
        reasons.append(
            f"the decision ({_label(proposal.certainty)}) differs from the criteria engine "
            f"({_label(engine_certainty)})"
        )
    if discordant:
        reasons.append("the reads were discordant")
    if proposal.alternative_diagnosis:
        reasons.append("an alternative diagnosis is recorded")
    return " and ".join(reasons) if reasons else None


def check_proposal(
    proposal: Proposal, engine_certainty: Certainty, *, discordant: bool
) -> Proposal:
    """The proposal with its texts trimmed; raises :class:`ConsensusError` when it is refused.

    Refused: a pathway on a "not PML" or "not classifiable" decision, a missing pathway on a
    PML category, a rationale missing (or too short) where :func:`rationale_needed` says one is
    owed, and texts over :data:`MAX_TEXT_LENGTH` characters.
    """
    rationale = (proposal.rationale or "").strip() or None
    alternative = (proposal.alternative_diagnosis or "").strip() or None
    for name, text in (("rationale", rationale), ("alternative diagnosis", alternative)):
        if text is not None and len(text) > MAX_TEXT_LENGTH:
            raise ConsensusError(f"{name}: longer than {MAX_TEXT_LENGTH} characters", field=name)
        refused = describe_forbidden(name, text or "", multiline=name == "rationale")
        if refused is not None:
            raise ConsensusError(refused, field=name)
    pml = takes_pathway(proposal.certainty)
    if pml and proposal.pathway is None:
        raise ConsensusError(
            f"pathway: a {_label(proposal.certainty)} PML decision names its pathway "
            "(clinical or histopathologic)",
            field="pathway",
        )
    if not pml and proposal.pathway is not None:
        raise ConsensusError(
            f"pathway: a {_label(proposal.certainty)} decision has no pathway "
            f"(got {_label(proposal.pathway)})",
            field="pathway",
        )
    if alternative and proposal.certainty is not Certainty.NOT_PML:
        raise ConsensusError(
            "alternative diagnosis: a diagnosis that better explains the findings makes the "
            f"case not PML, not {_label(proposal.certainty)}",
            field="alternative diagnosis",
        )
    cleaned = Proposal(
        proposal.certainty, proposal.pathway, rationale, alternative, proposal.imaging
    )
    why = rationale_needed(cleaned, engine_certainty, discordant=discordant)
    if why is not None and (rationale is None or len(rationale) < MIN_RATIONALE_LENGTH):
        raise ConsensusError(
            f"rationale: required because {why}; write at least {MIN_RATIONALE_LENGTH} "
            "characters saying why",
            field="rationale",
        )
    return cleaned


def check_change_reason(reason: str | None) -> str:
    """The trimmed reason for changing a final decision; refused when missing or too short."""
    text = (reason or "").strip()
    if len(text) < MIN_RATIONALE_LENGTH:
        raise ConsensusError(
            "reason: changing a final decision needs a reason of at least "
            f"{MIN_RATIONALE_LENGTH} characters; the old decision and its signatures stay on "
            "record",
            field="reason",
        )
    if len(text) > MAX_TEXT_LENGTH:
        raise ConsensusError(f"reason: longer than {MAX_TEXT_LENGTH} characters", field="reason")
    refused = describe_forbidden("reason", text, multiline=True)
    if refused is not None:
        raise ConsensusError(refused, field="reason")
    return text


def check_meaning(meaning: str | None) -> str:
    """The trimmed meaning of a signature; every signature states one (21 CFR 11.50)."""
    text = (meaning or "").strip()
    if not text:
        raise ConsensusError("meaning: a signature states what it means", field="meaning")
    if len(text) > 200:
        raise ConsensusError("meaning: longer than 200 characters", field="meaning")
    refused = describe_forbidden("meaning", text)
    if refused is not None:
        raise ConsensusError(refused, field="meaning")
    return text


def is_final(signers: int, required: int) -> bool:
    """Whether ``signers`` distinct panel signatures make a decision final."""
    if required < 1:
        raise ValueError(f"required must be at least 1, got {required}")
    return signers >= required
