"""Consensus rules: when a rationale is owed, proposal checks, change reasons, finality."""

from __future__ import annotations

import pytest

from adjudication.consensus import (
    ConsensusError,
    Proposal,
    check_change_reason,
    check_meaning,
    check_proposal,
    is_final,
    rationale_needed,
)
from adjudication.vocabulary import Certainty, Pathway

WHY = "Typical imaging and course."


def test_agreeing_with_the_engine_on_a_concordant_case_needs_no_rationale() -> None:
    proposal = Proposal(Certainty.DEFINITE, Pathway.CLINICAL)
    assert rationale_needed(proposal, Certainty.DEFINITE, discordant=False) is None
    assert check_proposal(proposal, Certainty.DEFINITE, discordant=False) == proposal


@pytest.mark.parametrize(
    ("engine", "discordant", "reason"),
    [
        (Certainty.POSSIBLE, False, "differs from the criteria engine (possible)"),
        (Certainty.DEFINITE, True, "the reads were discordant"),
    ],
)
def test_a_rationale_is_owed_when_the_panel_departs_or_reconciles(
    engine: Certainty, discordant: bool, reason: str
) -> None:
    proposal = Proposal(Certainty.DEFINITE, Pathway.CLINICAL)
    needed = rationale_needed(proposal, engine, discordant=discordant)
    assert needed is not None
    assert reason in needed
    with pytest.raises(ConsensusError, match="rationale: required"):
        check_proposal(proposal, engine, discordant=discordant)
    with pytest.raises(ConsensusError, match="at least 10 characters"):
        check_proposal(
            Proposal(Certainty.DEFINITE, Pathway.CLINICAL, " ok "), engine, discordant=discordant
        )
    cleaned = check_proposal(
        Proposal(Certainty.DEFINITE, Pathway.CLINICAL, f"  {WHY}  "), engine, discordant=discordant
    )
    assert cleaned.rationale == WHY


def test_pathway_goes_with_pml_categories_only() -> None:
    with pytest.raises(ConsensusError, match="names its pathway"):
        check_proposal(
            Proposal(Certainty.PROBABLE, None, WHY), Certainty.POSSIBLE, discordant=False
        )
    with pytest.raises(ConsensusError, match="has no pathway"):
        check_proposal(
            Proposal(Certainty.NOT_PML, Pathway.CLINICAL, WHY), Certainty.NOT_PML, discordant=False
        )


def test_an_alternative_diagnosis_means_not_pml_and_needs_a_rationale() -> None:
    with pytest.raises(ConsensusError, match="makes the case not PML"):
        check_proposal(
            Proposal(Certainty.POSSIBLE, Pathway.CLINICAL, WHY, "HIV encephalopathy"),
            Certainty.POSSIBLE,
            discordant=False,
        )
    with pytest.raises(ConsensusError, match="an alternative diagnosis is recorded"):
        check_proposal(
            Proposal(Certainty.NOT_PML, None, None, "HIV encephalopathy"),
            Certainty.NOT_PML,
            discordant=False,
        )


def test_change_reason_and_meaning_are_required_texts() -> None:
    with pytest.raises(ConsensusError, match="changing a final decision needs a reason"):
        check_change_reason("  ")
    assert check_change_reason(" New PCR result came in. ") == "New PCR result came in."
    with pytest.raises(ConsensusError, match="states what it means"):
        check_meaning("")
    assert check_meaning(" approved ") == "approved"


def test_finality_counts_signers_against_the_configured_number() -> None:
    assert not is_final(1, 2)
    assert is_final(2, 2)
    assert is_final(1, 1)
    with pytest.raises(ValueError, match="at least 1"):
        is_final(3, 0)
