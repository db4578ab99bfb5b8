"""The AAN 2013 criteria engine: the rule table, the engine over it, and what it explains."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from adjudication.criteria import (
    CERTAINTY_ORDER,
    EARLY_PCR_DAYS_AFTER_ONSET,
    INPUT_DOMAINS,
    PAPER,
    RULES,
    RULES_BY_ID,
    RULESET_VERSION,
    SENSITIVE_PCR_LOD_COPIES_PER_ML,
    SMALL_LESION_VOLUME_ML,
    UNKNOWN_VALUES,
    Inputs,
    PcrInput,
    Result,
    Rule,
    TissueJcvInput,
    TriadInput,
    evaluate,
)
from adjudication.vocabulary import Certainty, Pathway, TriState

P, A, N = TriState.PRESENT, TriState.ABSENT, TriState.NOT_ASSESSED
DET, NEG, NOT_DONE = PcrInput.DETECTED, PcrInput.NOT_DETECTED, PcrInput.NOT_DONE


def case(**changes: Any) -> Inputs:
    """A case with no findings at all, changed by ``changes``."""
    values: dict[str, Any] = {
        "clinical_features": N,
        "imaging_findings": N,
        "csf_jcv_pcr": NOT_DONE,
        "histopathology_triad": TriadInput.NOT_DONE,
        "tissue_jcv": TissueJcvInput.NOT_DONE,
        "alternative_diagnosis": False,
    }
    values.update(changes)
    return Inputs(**values)


def from_values(names: list[str], values: tuple[Any, ...]) -> Inputs:
    fields: dict[str, Any] = dict(zip(names, values, strict=True))
    return Inputs(**fields)


def all_cases() -> Iterator[Inputs]:
    """Every combination of every categorical input (648 cases)."""
    names = list(INPUT_DOMAINS)
    for combination in itertools.product(*INPUT_DOMAINS.values()):
        yield from_values(names, combination)


def strongest(certainties: list[Certainty]) -> Certainty:
    return min(certainties, key=CERTAINTY_ORDER.index)


def phrase(certainty: Certainty) -> str:
    return {
        Certainty.DEFINITE: "definite PML",
        Certainty.PROBABLE: "probable PML",
        Certainty.POSSIBLE: "possible PML",
        Certainty.NOT_PML: "not PML",
        Certainty.NOT_CLASSIFIABLE: "not classifiable",
    }[certainty]


ALL_CASES = list(all_cases())


# --- the table -----------------------------------------------------------------------------


def test_table_is_versioned_and_every_row_cites_the_paper() -> None:
    assert RULESET_VERSION == "AAN2013/2"
    assert len(RULES_BY_ID) == len(RULES)
    for rule in RULES:
        assert rule.id.startswith("AAN2013-")
        assert rule.source.startswith(PAPER)
        assert rule.note
        assert rule.certainty is not Certainty.NOT_CLASSIFIABLE
        assert set(rule.conditions) <= set(INPUT_DOMAINS)
        for name, accepted in rule.conditions.items():
            assert set(accepted) <= set(INPUT_DOMAINS[name])


def test_table_has_both_pathways_every_category_and_the_not_pml_rows() -> None:
    assert {rule.pathway for rule in RULES} == set(Pathway)
    assert {rule.certainty for rule in RULES} == set(CERTAINTY_ORDER)
    not_pml = {r.id for r in RULES if r.certainty is Certainty.NOT_PML}
    assert {"AAN2013-C0", "AAN2013-C4", "AAN2013-C5", "AAN2013-C6"} <= not_pml


def test_histology_probable_and_possible_rows_are_marked_unverified() -> None:
    assert RULES_BY_ID["AAN2013-H1"].verified
    for row in ("AAN2013-H2", "AAN2013-H3"):
        rule = RULES_BY_ID[row]
        assert not rule.verified
        assert "not yet checked" in rule.source
        assert "not yet checked" in rule.note
    assert RULES_BY_ID["AAN2013-H2"].certainty is Certainty.PROBABLE
    assert RULES_BY_ID["AAN2013-H3"].certainty is Certainty.POSSIBLE


def test_conditions_are_data_and_rows_are_immutable() -> None:
    rule = RULES_BY_ID["AAN2013-C1"]
    assert rule.conditions["csf_jcv_pcr"] == frozenset({DET})
    with pytest.raises(TypeError):
        rule.conditions["csf_jcv_pcr"] = frozenset({NEG})  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.certainty = Certainty.PROBABLE  # type: ignore[misc]
    assert "csf_jcv_pcr ∈ {detected}" in rule.describe_conditions()


# --- every row, generated from the table ---------------------------------------------------


def satisfying(rule: Rule) -> Iterator[Inputs]:
    """Every case that satisfies all of the row's conditions (any value elsewhere)."""
    names = list(INPUT_DOMAINS)
    domains = [
        [v for v in INPUT_DOMAINS[n] if n not in rule.conditions or v in rule.conditions[n]]
        for n in names
    ]
    for combination in itertools.product(*domains):
        yield from_values(names, combination)


def minimal(rule: Rule) -> Inputs:
    """The row's conditions with every other input unknown (no alternative diagnosis)."""
    values: dict[str, Any] = {**UNKNOWN_VALUES, "alternative_diagnosis": False}
    for name, accepted in rule.conditions.items():
        values[name] = next(v for v in INPUT_DOMAINS[name] if v in accepted)
    return Inputs(**values)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_row_fires_with_its_certainty(rule: Rule) -> None:
    alone = evaluate(minimal(rule), rules=(rule,))
    assert (alone.certainty, alone.pathway, alone.rows) == (
        rule.certainty,
        rule.pathway,
        (rule.id,),
    )
    assert alone.unverified == (() if rule.verified else (rule.id,))

    result = evaluate(minimal(rule))
    assert rule.id in result.rows
    fired = [RULES_BY_ID[row].certainty for row in result.rows]
    assert result.certainty == strongest(fired)
    assert CERTAINTY_ORDER.index(result.certainty) <= CERTAINTY_ORDER.index(rule.certainty)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_row_fires_whenever_its_conditions_hold(rule: Rule) -> None:
    for inputs in satisfying(rule):
        result = evaluate(inputs)
        assert rule.id in result.rows, inputs
        rank = CERTAINTY_ORDER.index
        assert rank(result.certainty) <= rank(rule.certainty), inputs


def test_h2_decides_a_triad_without_tissue_jcv_as_provisional_probable() -> None:
    """H2 (unverified) alone makes a case probable, and the result says it is provisional."""
    for inputs in satisfying(RULES_BY_ID["AAN2013-H2"]):
        result = evaluate(inputs)
        assert "AAN2013-H2" in result.rows
        assert "AAN2013-H2" in result.unverified
        if result.certainty is Certainty.PROBABLE and result.rows == ("AAN2013-H2",):
            assert "provisional" in result.explanation
    alone = evaluate(
        case(histopathology_triad=TriadInput.PRESENT, tissue_jcv=TissueJcvInput.NOT_DONE)
    )
    assert alone.certainty is Certainty.PROBABLE
    assert alone.rows[0] == "AAN2013-H2"


# --- the clinical pathway as DESIGN.md §3 tabulates it (independent of RULES) ---------------

CLINICAL_TABLE = [
    (P, P, DET, Certainty.DEFINITE, "AAN2013-C1"),
    (A, P, DET, Certainty.PROBABLE, "AAN2013-C2"),
    (P, P, NEG, Certainty.POSSIBLE, "AAN2013-C3"),
    (P, P, NOT_DONE, Certainty.POSSIBLE, "AAN2013-C3"),
    (P, A, NEG, Certainty.NOT_PML, "AAN2013-C4"),
    (P, A, NOT_DONE, Certainty.NOT_PML, "AAN2013-C4"),
    (A, P, NEG, Certainty.NOT_PML, "AAN2013-C5"),
    (A, P, NOT_DONE, Certainty.NOT_PML, "AAN2013-C5"),
    (A, A, DET, Certainty.NOT_PML, "AAN2013-C6"),
]


@pytest.mark.parametrize(("clinical", "imaging", "pcr", "certainty", "row"), CLINICAL_TABLE)
def test_clinical_pathway_table(
    clinical: TriState, imaging: TriState, pcr: PcrInput, certainty: Certainty, row: str
) -> None:
    result = evaluate(case(clinical_features=clinical, imaging_findings=imaging, csf_jcv_pcr=pcr))
    assert result.certainty is certainty
    assert result.pathway is Pathway.CLINICAL
    assert result.rows == (row,)
    assert result.ruleset == RULESET_VERSION


def test_histopathologic_triad_with_jcv_in_tissue_is_definite_whatever_else() -> None:
    result = evaluate(
        case(histopathology_triad=TriadInput.PRESENT, tissue_jcv=TissueJcvInput.DETECTED)
    )
    assert (result.certainty, result.pathway) == (Certainty.DEFINITE, Pathway.HISTOPATHOLOGIC)
    assert result.rows == ("AAN2013-H1",)
    assert result.unverified == ()


def test_incomplete_triad_with_jcv_in_tissue_is_possible_and_flagged_unverified() -> None:
    result = evaluate(
        case(histopathology_triad=TriadInput.INCOMPLETE, tissue_jcv=TissueJcvInput.DETECTED)
    )
    assert (result.certainty, result.pathway) == (Certainty.POSSIBLE, Pathway.HISTOPATHOLOGIC)
    assert result.unverified == ("AAN2013-H3",)
    assert "not yet checked against the paper" in result.explanation
    assert "provisional" in result.explanation


def test_pathways_that_disagree_report_the_stronger_and_say_so() -> None:
    result = evaluate(
        case(
            clinical_features=P,
            imaging_findings=A,
            csf_jcv_pcr=NEG,
            histopathology_triad=TriadInput.PRESENT,
            tissue_jcv=TissueJcvInput.DETECTED,
        )
    )
    assert result.certainty is Certainty.DEFINITE
    assert result.pathway is Pathway.HISTOPATHOLOGIC
    assert result.rows == ("AAN2013-H1", "AAN2013-C4")
    assert "pathways disagree" in result.explanation
    assert "AAN2013-C4" in result.explanation


def test_agreeing_pathways_report_the_histopathologic_row_first() -> None:
    result = evaluate(
        case(
            clinical_features=P,
            imaging_findings=P,
            csf_jcv_pcr=DET,
            histopathology_triad=TriadInput.PRESENT,
            tissue_jcv=TissueJcvInput.DETECTED,
        )
    )
    assert result.certainty is Certainty.DEFINITE
    assert result.pathway is Pathway.HISTOPATHOLOGIC
    assert result.rows == ("AAN2013-H1", "AAN2013-C1")
    assert "Both pathways give definite PML" in result.explanation


# --- not classifiable ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"clinical_features": P, "imaging_findings": N, "csf_jcv_pcr": DET},
            "imaging not assessed: the clinical pathway needs an imaging judgement",
        ),
        (
            {"clinical_features": N, "imaging_findings": P, "csf_jcv_pcr": DET},
            "clinical features not assessed: the clinical pathway needs a clinical judgement",
        ),
        (
            {"clinical_features": P, "imaging_findings": A, "csf_jcv_pcr": DET},
            "no row covers clinical features present, imaging absent, CSF JCV PCR detected",
        ),
        ({}, "nothing recorded"),
        (
            {"histopathology_triad": TriadInput.ABSENT, "tissue_jcv": TissueJcvInput.NOT_DETECTED},
            "no row covers histopathologic triad absent, tissue JCV testing not detected",
        ),
    ],
)
def test_uncovered_combinations_are_not_classifiable_with_the_reason(
    changes: dict[str, Any], reason: str
) -> None:
    result = evaluate(case(**changes))
    assert result.certainty is Certainty.NOT_CLASSIFIABLE
    assert result.pathway is None
    assert result.rows == ()
    assert result.explanation.startswith("Not classifiable: no AAN 2013 row covers these inputs.")
    assert reason in result.explanation


def test_a_table_without_a_matching_row_gives_not_classifiable() -> None:
    only_c1 = (RULES_BY_ID["AAN2013-C1"],)
    result = evaluate(case(clinical_features=P, imaging_findings=P, csf_jcv_pcr=NEG), rules=only_c1)
    assert result.certainty is Certainty.NOT_CLASSIFIABLE
    assert "a positive CSF JCV PCR would make this definite PML (AAN2013-C1)" in (
        result.would_change
    )


def test_the_engine_reads_any_table_it_is_given() -> None:
    custom = Rule(
        id="TEST-1",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.PROBABLE,
        conditions={"clinical_features": {"absent"}, "csf_jcv_pcr": {"not_done", "not_detected"}},
        source="test",
        verified=True,
        note="a made-up row",
    )
    assert custom.conditions["csf_jcv_pcr"] == frozenset({NOT_DONE, NEG})
    result = evaluate(case(clinical_features=A), rules=(custom,), ruleset="TEST/1")
    assert (result.certainty, result.rows, result.ruleset) == (
        Certainty.PROBABLE,
        ("TEST-1",),
        "TEST/1",
    )


# --- the alternative-diagnosis override --------------------------------------------------------


@pytest.mark.parametrize(
    ("clinical", "imaging", "pcr"), [(c, i, p) for c, i, p, _, _ in CLINICAL_TABLE]
)
def test_alternative_diagnosis_makes_the_clinical_pathway_not_pml(
    clinical: TriState, imaging: TriState, pcr: PcrInput
) -> None:
    result = evaluate(
        case(
            clinical_features=clinical,
            imaging_findings=imaging,
            csf_jcv_pcr=pcr,
            alternative_diagnosis=True,
        )
    )
    assert result.certainty is Certainty.NOT_PML
    assert result.rows == ("AAN2013-C0",)
    assert result.pathway is Pathway.CLINICAL
    assert "better explains" in result.explanation


def test_alternative_diagnosis_is_not_pml_even_with_nothing_else_known() -> None:
    assert evaluate(case(alternative_diagnosis=True)).certainty is Certainty.NOT_PML


def test_alternative_diagnosis_does_not_undo_tissue_proof_but_is_flagged() -> None:
    result = evaluate(
        case(
            histopathology_triad=TriadInput.PRESENT,
            tissue_jcv=TissueJcvInput.DETECTED,
            alternative_diagnosis=True,
        )
    )
    assert result.certainty is Certainty.DEFINITE
    assert result.rows == ("AAN2013-H1", "AAN2013-C0")
    assert "pathways disagree" in result.explanation
    assert any("reconcile" in warning for warning in result.warnings)


def test_alternative_diagnosis_blocks_the_unverified_histology_rows() -> None:
    for row in ("AAN2013-H2", "AAN2013-H3"):
        inputs = minimal(RULES_BY_ID[row]).with_value("alternative_diagnosis", True)
        result = evaluate(inputs)
        assert row not in result.rows
        assert result.certainty is Certainty.NOT_PML


# --- what would change it --------------------------------------------------------------------


def test_possible_without_pcr_says_a_positive_pcr_would_make_it_definite() -> None:
    result = evaluate(case(clinical_features=P, imaging_findings=P, csf_jcv_pcr=NOT_DONE))
    assert result.certainty is Certainty.POSSIBLE
    assert "a positive CSF JCV PCR would make this definite PML (AAN2013-C1)" in (
        result.would_change
    )
    assert not any("negative CSF JCV PCR" in change for change in result.would_change)


def test_asymptomatic_mri_case_says_what_would_upgrade_it() -> None:
    result = evaluate(case(clinical_features=A, imaging_findings=P, csf_jcv_pcr=DET))
    assert result.certainty is Certainty.PROBABLE
    assert (
        "clinical features consistent with PML would make this definite PML (AAN2013-C1)"
        in result.would_change
    )


def expected_changes(inputs: Inputs) -> list[tuple[str, Certainty]]:
    """Recompute what would change: every known other value, one input at a time."""
    current = evaluate(inputs).certainty
    found = []
    for name, domain in INPUT_DOMAINS.items():
        for value in domain:
            if value == inputs.value(name) or value == UNKNOWN_VALUES.get(name):
                continue
            changed = evaluate(inputs.with_value(name, value)).certainty
            if changed is not current:
                found.append((name, changed))
    return found


def test_would_change_lists_exactly_the_single_findings_that_change_the_category() -> None:
    unknown_phrases = ("not assessed", "not done")
    for inputs in ALL_CASES:
        result = evaluate(inputs)
        expected = expected_changes(inputs)
        assert len(result.would_change) == len(expected), inputs
        for change, (_, certainty) in zip(result.would_change, expected, strict=True):
            assert certainty is not result.certainty
            assert f"would make this {phrase(certainty)} (" in change, (inputs, change)
            assert not change.startswith(unknown_phrases)


# --- the exhaustive sweep --------------------------------------------------------------------


def test_sweep_every_combination_is_covered_by_a_row_or_not_classifiable_with_a_reason() -> None:
    outcomes: dict[Certainty, int] = {}
    for inputs in ALL_CASES:
        result = evaluate(inputs)
        outcomes[result.certainty] = outcomes.get(result.certainty, 0) + 1
        matching = tuple(rule.id for rule in RULES if rule.matches(inputs))
        if not matching and result.certainty is not Certainty.NOT_CLASSIFIABLE:
            # Every way of making the missing judgements gives this category (see below).
            assert "whatever the missing judgement" in result.explanation, inputs
            matching = result.rows
        assert result.rows == matching, inputs
        assert result.ruleset == RULESET_VERSION
        assert result.explanation
        assert result.unverified == tuple(r for r in matching if not RULES_BY_ID[r].verified)
        if result.certainty is Certainty.NOT_CLASSIFIABLE:
            assert result.pathway is None
            assert result.explanation.startswith("Not classifiable")
            assert "pathway:" in result.explanation
        else:
            fired = [RULES_BY_ID[row] for row in result.rows]
            assert result.certainty == strongest([rule.certainty for rule in fired])
            assert result.pathway in {r.pathway for r in fired if r.certainty is result.certainty}
    assert set(outcomes) == set(Certainty)
    assert sum(outcomes.values()) == len(ALL_CASES) == 648


def test_results_are_immutable() -> None:
    result = evaluate(case())
    assert isinstance(result, Result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.certainty = Certainty.DEFINITE  # type: ignore[misc]


# --- evidence-quality warnings -----------------------------------------------------------------


def negative_pcr(**context: Any) -> Result:
    return evaluate(case(clinical_features=P, imaging_findings=P, csf_jcv_pcr=NEG, **context))


def test_negative_pcr_from_an_insensitive_assay_is_flagged() -> None:
    lod = SENSITIVE_PCR_LOD_COPIES_PER_ML
    weak = negative_pcr(pcr_lod_copies_per_ml=lod * 4)
    assert any("limit of detection of 200 copies/mL" in w for w in weak.warnings)
    sensitive = negative_pcr(pcr_lod_copies_per_ml=lod)
    assert not any("limit of detection" in w for w in sensitive.warnings)


def test_negative_pcr_without_a_recorded_lod_is_flagged() -> None:
    result = negative_pcr()
    assert any("limit of detection is not recorded" in w for w in result.warnings)


def test_negative_pcr_with_small_lesions_or_early_is_flagged() -> None:
    small = negative_pcr(total_lesion_volume_ml=SMALL_LESION_VOLUME_ML - 0.5)
    assert any("small lesions" in w and "4.5 mL" in w for w in small.warnings)
    large = negative_pcr(total_lesion_volume_ml=SMALL_LESION_VOLUME_ML)
    assert not any("lesion volume" in w for w in large.warnings)
    early = negative_pcr(pcr_days_after_onset=EARLY_PCR_DAYS_AFTER_ONSET)
    assert any("early in disease" in w and "after onset" in w for w in early.warnings)
    later = negative_pcr(pcr_days_after_onset=EARLY_PCR_DAYS_AFTER_ONSET + 1)
    assert not any("after onset" in w for w in later.warnings)


def test_positive_pcr_draws_no_negative_pcr_warnings() -> None:
    result = evaluate(
        case(
            clinical_features=P,
            imaging_findings=P,
            csf_jcv_pcr=DET,
            pcr_lod_copies_per_ml=500,
            total_lesion_volume_ml=1,
            pcr_days_after_onset=1,
        )
    )
    assert result.warnings == ()


def test_asymptomatic_mri_detected_pml_asks_for_re_evaluation() -> None:
    for pcr in (DET, NEG, NOT_DONE):
        result = evaluate(case(clinical_features=A, imaging_findings=P, csf_jcv_pcr=pcr))
        assert any("asymptomatic MRI-detected" in w and "re-evaluate" in w for w in result.warnings)


def test_possible_and_probable_are_provisional() -> None:
    result = negative_pcr(pcr_lod_copies_per_ml=10)
    assert result.certainty is Certainty.POSSIBLE
    assert any("provisional" in w for w in result.warnings)


def test_evidence_context_never_changes_the_category() -> None:
    for inputs in ALL_CASES[::7]:
        plain = evaluate(inputs)
        weak = evaluate(
            dataclasses.replace(
                inputs,
                pcr_lod_copies_per_ml=1000.0,
                pcr_days_after_onset=0,
                total_lesion_volume_ml=0.1,
            )
        )
        assert (weak.certainty, weak.rows, weak.would_change) == (
            plain.certainty,
            plain.rows,
            plain.would_change,
        )


# --- validation of the inputs and rows ---------------------------------------------------------


def test_inputs_coerce_strings_to_the_vocabularies() -> None:
    inputs = case(clinical_features="present", csf_jcv_pcr="detected", tissue_jcv="not_detected")
    assert inputs.clinical_features is TriState.PRESENT
    assert inputs.csf_jcv_pcr is PcrInput.DETECTED
    assert inputs.tissue_jcv is TissueJcvInput.NOT_DETECTED
    assert case(pcr_lod_copies_per_ml=50).pcr_lod_copies_per_ml == 50.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"clinical_features": "yes"}, "clinical_features"),
        ({"imaging_findings": 1}, "imaging_findings"),
        ({"csf_jcv_pcr": "positive"}, "csf_jcv_pcr"),
        ({"histopathology_triad": "partial"}, "histopathology_triad"),
        ({"tissue_jcv": None}, "tissue_jcv"),
        ({"alternative_diagnosis": "no"}, "alternative_diagnosis"),
        ({"alternative_diagnosis": 0}, "alternative_diagnosis"),
        ({"pcr_lod_copies_per_ml": 0}, "pcr_lod_copies_per_ml"),
        ({"pcr_lod_copies_per_ml": float("nan")}, "pcr_lod_copies_per_ml"),
        ({"pcr_lod_copies_per_ml": "50"}, "pcr_lod_copies_per_ml"),
        ({"pcr_days_after_onset": 1.5}, "pcr_days_after_onset"),
        ({"pcr_days_after_onset": True}, "pcr_days_after_onset"),
        ({"total_lesion_volume_ml": -1}, "total_lesion_volume_ml"),
        ({"total_lesion_volume_ml": float("inf")}, "total_lesion_volume_ml"),
    ],
)
def test_bad_inputs_raise_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        case(**changes)


def test_unknown_value_lists_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="allowed: detected, not_detected, not_done"):
        case(csf_jcv_pcr="positive")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"conditions": {"csf_pcr": {"detected"}}}, "unknown input 'csf_pcr'"),
        ({"conditions": {"csf_jcv_pcr": {"positive"}}}, "csf_jcv_pcr: unknown value"),
        ({"conditions": {"csf_jcv_pcr": set()}}, "accepts no value"),
        ({"conditions": {}}, "at least one condition"),
        ({"certainty": Certainty.NOT_CLASSIFIABLE}, "cannot give 'not classifiable'"),
        ({"id": ""}, "must not be empty"),
    ],
)
def test_bad_rows_are_refused(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "id": "TEST-1",
        "pathway": Pathway.CLINICAL,
        "certainty": Certainty.DEFINITE,
        "conditions": {"csf_jcv_pcr": {"detected"}},
        "source": "test",
        "verified": True,
        "note": "test",
    }
    fields.update(changes)
    with pytest.raises(ValueError, match=message):
        Rule(**fields)


# --- issue #13: bounds, units, low positives, negative biopsy ---------------------------------


def test_inputs_whose_completions_agree_give_that_category_not_not_classifiable() -> None:
    """Clinical features not assessed, imaging absent, PCR negative: not PML either way."""
    result = evaluate(case(imaging_findings=A, csf_jcv_pcr=NEG))
    assert result.certainty is Certainty.NOT_PML
    assert result.bound is None
    assert result.rows == ("AAN2013-C4", "AAN2013-C7")
    assert result.explanation.startswith(
        "Not PML whatever the missing judgement (clinical features not assessed)"
    )
    assert "provisional" in result.explanation  # C7 is not yet checked against the paper


def test_inputs_whose_completions_disagree_are_not_classifiable_with_a_bound() -> None:
    result = evaluate(case(clinical_features=N, imaging_findings=P, csf_jcv_pcr=DET))
    assert result.certainty is Certainty.NOT_CLASSIFIABLE
    assert result.bound == (Certainty.DEFINITE, Certainty.PROBABLE)
    assert "At best definite PML, at worst probable PML" in result.explanation
    assert evaluate(case()).bound == (Certainty.POSSIBLE, Certainty.NOT_PML)
    # A case the rows decide has no bound.
    assert evaluate(case(clinical_features=P, imaging_findings=P, csf_jcv_pcr=DET)).bound is None


def test_a_negative_pcr_with_an_lod_in_iu_is_judged_not_called_unrecorded() -> None:
    weak = negative_pcr(pcr_lod_iu_per_ml=500)
    assert any("limit of detection of 500 IU/mL" in w for w in weak.warnings)
    assert not any("not recorded" in w for w in weak.warnings)
    sensitive = negative_pcr(pcr_lod_iu_per_ml=20)
    assert not any("limit of detection" in w for w in sensitive.warnings)
    missing = negative_pcr()
    assert any("not recorded" in w for w in missing.warnings)


def test_low_positive_pcrs_are_flagged_and_still_count_as_detected() -> None:
    base = {"clinical_features": P, "imaging_findings": P, "csf_jcv_pcr": DET}
    below_loq = evaluate(case(**base, pcr_below_loq=True))
    assert below_loq.certainty is Certainty.DEFINITE
    assert any("low positive" in w and "limit of quantification" in w for w in below_loq.warnings)
    low = evaluate(case(**base, pcr_copies_per_ml=40))
    assert any("low positive" in w and "40 copies/mL" in w for w in low.warnings)
    high = evaluate(case(**base, pcr_copies_per_ml=40_000))
    assert not any("low positive" in w for w in high.warnings)
    stricter = evaluate(case(**base, pcr_copies_per_ml=400), low_positive_copies_per_ml=1000)
    assert any("low positive" in w for w in stricter.warnings)
    with pytest.raises(ValueError, match="pcr_below_loq"):
        case(csf_jcv_pcr=NEG, pcr_below_loq=True)


def test_a_negative_biopsy_beside_a_clinical_definite_is_warned_about() -> None:
    biopsy = {"histopathology_triad": TriadInput.ABSENT, "tissue_jcv": TissueJcvInput.NOT_DETECTED}
    result = evaluate(case(clinical_features=P, imaging_findings=P, csf_jcv_pcr=DET, **biopsy))
    assert result.certainty is Certainty.DEFINITE
    assert any("negative biopsy" in w and "AAN2013-C1" in w for w in result.warnings)
    possible = evaluate(case(clinical_features=P, imaging_findings=P, csf_jcv_pcr=NEG, **biopsy))
    assert not any("negative biopsy" in w for w in possible.warnings)
    no_biopsy = evaluate(case(clinical_features=P, imaging_findings=P, csf_jcv_pcr=DET))
    assert not any("negative biopsy" in w for w in no_biopsy.warnings)
