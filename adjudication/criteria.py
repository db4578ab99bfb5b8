"""The AAN 2013 PML diagnostic criteria as a versioned rule table and a generic engine.

Source: Berger JR, Aksamit AJ, Clifford DB, et al. *PML diagnostic criteria: consensus statement
from the AAN Neuroinfectious Disease Section.* Neurology 2013;80:1430–1438 (PMC3662270).

The criteria are **data**: :data:`RULES` is a table of :class:`Rule` rows, each naming the
values of the inputs it accepts, the certainty it gives, the pathway it belongs to and where in
the paper it comes from. :func:`evaluate` knows nothing of any particular row: a row *fires*
when every one of its conditions accepts the case's value, the strongest certainty among the
fired rows wins (definite > probable > possible > not PML), and a case that no row covers is
*not classifiable*, with the reason, never a guess.

What would change the category is computed the same way: each input is set, one at a time, to
each of its other *known* values and the case is re-evaluated. Setting an input back to "not
assessed" / "not done" retracts a finding rather than adding one, so it is not listed.

Rows that have not yet been checked against the paper carry ``verified=False``; a result that
rests on one lists it in :attr:`Result.unverified` and says so in its explanation. A change of
any row is a change of :data:`RULESET_VERSION`, which the registry stores with every result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias

from adjudication.vocabulary import Certainty, Pathway, TriState

RULESET_VERSION = "AAN2013/2"
"""Version of :data:`RULES` and of how they are applied; bump it whenever a row is added,
removed or changed, or evaluation changes (2: incomplete inputs are completed and bounded)."""

PAPER = (
    "Berger JR et al. PML diagnostic criteria: consensus statement from the AAN "
    "Neuroinfectious Disease Section. Neurology 2013;80:1430–1438 (PMC3662270)"
)
"""The citation every row's :attr:`Rule.source` starts with."""

SENSITIVE_PCR_LOD_COPIES_PER_ML = 50.0
"""A "not detected" CSF JCV PCR from an assay whose LOD is above this is weak evidence."""

SENSITIVE_PCR_LOD_IU_PER_ML = 50.0
"""The same bound for an assay calibrated in IU/mL (WHO standard).

No conversion between IU and copies is assumed (it differs by assay): an LOD in IU/mL is compared
with this registry-chosen bound in its own unit, to be reviewed when the assays in use are known.
"""

LOW_POSITIVE_PCR_COPIES_PER_ML = 100.0
"""A "detected" CSF JCV PCR below this load (copies/mL) is a low positive, flagged for review."""

SMALL_LESION_VOLUME_ML = 5.0
"""Below this total lesion volume a negative CSF JCV PCR is weak evidence."""

EARLY_PCR_DAYS_AFTER_ONSET = 7
"""A CSF JCV PCR taken this many days after onset, or fewer, may be negative early in disease."""


class PcrInput(StrEnum):
    """CSF JC virus DNA PCR as the criteria see it."""

    DETECTED = "detected"
    """JCV DNA detected in CSF (a result "detected, below the LOQ" counts as detected)."""
    NOT_DETECTED = "not_detected"
    """JCV DNA not detected; how much that weighs depends on the assay's limit of detection."""
    NOT_DONE = "not_done"
    """No CSF JCV PCR result is available."""


class TriadInput(StrEnum):
    """The classic histopathologic triad of PML in a biopsy or autopsy specimen.

    The triad is demyelination, bizarre astrocytes and enlarged oligodendroglial nuclei.
    """

    PRESENT = "present"
    """All three features of the triad are seen."""
    INCOMPLETE = "incomplete"
    """Some but not all of the triad (e.g. demyelination without bizarre astrocytes)."""
    ABSENT = "absent"
    """Tissue was examined and shows none of the triad."""
    NOT_DONE = "not_done"
    """No histopathology (no biopsy or autopsy) is available."""


class TissueJcvInput(StrEnum):
    """JC virus shown in brain tissue by IHC, in situ hybridisation, electron microscopy or PCR."""

    DETECTED = "detected"
    """JCV (protein, DNA or virions) demonstrated in the tissue by at least one technique."""
    NOT_DETECTED = "not_detected"
    """The tissue was tested for JCV and none was shown."""
    NOT_DONE = "not_done"
    """The tissue was not tested for JCV, or there is no tissue."""


InputValue: TypeAlias = TriState | PcrInput | TriadInput | TissueJcvInput | bool
"""A value of one of the categorical inputs of :class:`Inputs`."""

INPUT_DOMAINS: Mapping[str, tuple[InputValue, ...]] = MappingProxyType(
    {
        "clinical_features": tuple(TriState),
        "imaging_findings": tuple(TriState),
        "csf_jcv_pcr": tuple(PcrInput),
        "histopathology_triad": tuple(TriadInput),
        "tissue_jcv": tuple(TissueJcvInput),
        "alternative_diagnosis": (False, True),
    }
)
"""Every categorical input of :class:`Inputs` with all its values: what rows may test."""

COMPLETED_INPUTS: tuple[str, ...] = ("clinical_features", "imaging_findings")
"""Inputs whose "not assessed" no row rules on: a result blocked by them is bounded by trying
their known values (:attr:`Result.bound`). A PCR "not done" and absent histopathology are not
completed: the table rules on them (not done counts as not positive; no tissue leaves the
histopathologic pathway silent), and a biopsy is never a missing judgement."""

UNKNOWN_VALUES: Mapping[str, InputValue] = MappingProxyType(
    {
        "clinical_features": TriState.NOT_ASSESSED,
        "imaging_findings": TriState.NOT_ASSESSED,
        "csf_jcv_pcr": PcrInput.NOT_DONE,
        "histopathology_triad": TriadInput.NOT_DONE,
        "tissue_jcv": TissueJcvInput.NOT_DONE,
    }
)
"""The value of each input that means "no finding yet" (not a finding, never a target)."""

PATHWAY_INPUTS: Mapping[Pathway, tuple[str, ...]] = MappingProxyType(
    {
        Pathway.CLINICAL: ("clinical_features", "imaging_findings", "csf_jcv_pcr"),
        Pathway.HISTOPATHOLOGIC: ("histopathology_triad", "tissue_jcv"),
    }
)
"""The evidence each pathway rests on (used to say why a pathway gives no category)."""

CERTAINTY_ORDER: tuple[Certainty, ...] = (
    Certainty.DEFINITE,
    Certainty.PROBABLE,
    Certainty.POSSIBLE,
    Certainty.NOT_PML,
)
"""The certainties a row can give, strongest first."""

_RANK = {certainty: len(CERTAINTY_ORDER) - i for i, certainty in enumerate(CERTAINTY_ORDER)}

_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "clinical_features": "clinical features",
        "imaging_findings": "imaging",
        "csf_jcv_pcr": "CSF JCV PCR",
        "histopathology_triad": "histopathologic triad",
        "tissue_jcv": "tissue JCV testing",
        "alternative_diagnosis": "alternative diagnosis",
    }
)

_NEEDS: Mapping[str, str] = MappingProxyType(
    {
        "clinical_features": "a clinical judgement",
        "imaging_findings": "an imaging judgement",
        "csf_jcv_pcr": "a CSF JCV PCR result",
        "histopathology_triad": "a histopathology report",
        "tissue_jcv": "JCV testing of the tissue (IHC, ISH, EM or PCR)",
    }
)

_FINDINGS: Mapping[tuple[str, InputValue], str] = MappingProxyType(
    {
        ("clinical_features", TriState.PRESENT): "clinical features consistent with PML",
        ("clinical_features", TriState.ABSENT): "no clinical features of PML",
        ("imaging_findings", TriState.PRESENT): "MRI/CT findings consistent with PML",
        ("imaging_findings", TriState.ABSENT): "MRI/CT findings not consistent with PML",
        ("csf_jcv_pcr", PcrInput.DETECTED): "a positive CSF JCV PCR",
        ("csf_jcv_pcr", PcrInput.NOT_DETECTED): "a negative CSF JCV PCR",
        ("histopathology_triad", TriadInput.PRESENT): "the complete histopathologic triad",
        ("histopathology_triad", TriadInput.INCOMPLETE): "an incomplete histopathologic triad",
        ("histopathology_triad", TriadInput.ABSENT): "histopathology without the triad",
        ("tissue_jcv", TissueJcvInput.DETECTED): "JCV shown in brain tissue",
        ("tissue_jcv", TissueJcvInput.NOT_DETECTED): "tissue tested negative for JCV",
        (
            "alternative_diagnosis",
            True,
        ): "an alternative diagnosis that better explains the findings",
        ("alternative_diagnosis", False): "excluding the alternative diagnosis",
    }
)


def _certainty_text(certainty: Certainty) -> str:
    if certainty is Certainty.NOT_PML:
        return "not PML"
    if certainty is Certainty.NOT_CLASSIFIABLE:
        return "not classifiable"
    return f"{certainty.value} PML"


def _value_text(value: InputValue) -> str:
    if isinstance(value, bool):
        return "recorded" if value else "none recorded"
    return value.value.replace("_", " ")


def coerce_input(name: str, value: object) -> InputValue:
    """Return ``value`` as the vocabulary of input ``name``, or raise ``ValueError`` naming both.

    Strings are coerced to the input's enum (``"present"`` → ``TriState.PRESENT``);
    ``alternative_diagnosis`` must be a real ``bool``.
    """
    domain = INPUT_DOMAINS.get(name)
    if domain is None:
        raise ValueError(f"unknown input {name!r}; inputs are: {', '.join(INPUT_DOMAINS)}")
    if name == "alternative_diagnosis":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name}: must be True or False, got {value!r}")
    kind = type(domain[0])
    if isinstance(value, kind):
        return value
    allowed = ", ".join(str(v) for v in domain)
    if isinstance(value, str):
        for member in domain:
            if member == value:
                return member
        raise ValueError(f"{name}: unknown value {value!r}; allowed: {allowed}")
    raise ValueError(f"{name}: expected one of {allowed}, got {type(value).__name__} {value!r}")


def _optional_number(name: str, value: object, *, positive: bool) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number or None, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    if positive and number <= 0:
        raise ValueError(f"{name}: must be greater than 0, got {value!r}")
    if number < 0:
        raise ValueError(f"{name}: must not be negative, got {value!r}")
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    """The findings of one case, as the criteria engine takes them.

    ``clinical_features`` and ``imaging_findings`` mean *consistent with PML and not better
    explained by another disorder*; ``alternative_diagnosis`` says that another disorder better
    explains the findings. The three optional fields are evidence-quality context used only for
    :attr:`Result.warnings`, never for the category. Strings are coerced to the enums; a bad
    value raises ``ValueError`` naming the field.
    """

    clinical_features: TriState
    imaging_findings: TriState
    csf_jcv_pcr: PcrInput
    histopathology_triad: TriadInput
    tissue_jcv: TissueJcvInput
    alternative_diagnosis: bool
    pcr_lod_copies_per_ml: float | None = None
    """Limit of detection of the assay that gave ``csf_jcv_pcr``, in copies/mL."""
    pcr_days_after_onset: int | None = None
    """Days from symptom (or, if asymptomatic, MRI) onset to the lumbar puncture."""
    total_lesion_volume_ml: float | None = None
    """Total volume of the PML lesions on the MRI judged, in mL."""
    pcr_lod_iu_per_ml: float | None = None
    """Limit of detection of the assay, when it reports in IU/mL (never converted to copies)."""
    pcr_below_loq: bool = False
    """The positive CSF JCV PCR was "detected, below the limit of quantification"."""
    pcr_copies_per_ml: float | None = None
    """The viral load of the positive CSF JCV PCR, in copies/mL, when quantified."""

    def __post_init__(self) -> None:
        for name in INPUT_DOMAINS:
            object.__setattr__(self, name, coerce_input(name, getattr(self, name)))
        lod = _optional_number("pcr_lod_copies_per_ml", self.pcr_lod_copies_per_ml, positive=True)
        object.__setattr__(self, "pcr_lod_copies_per_ml", lod)
        for name in ("pcr_lod_iu_per_ml", "pcr_copies_per_ml"):
            number = _optional_number(
                name, getattr(self, name), positive=name != "pcr_copies_per_ml"
            )
            object.__setattr__(self, name, number)
        if not isinstance(self.pcr_below_loq, bool):
            raise ValueError(f"pcr_below_loq: must be True or False, got {self.pcr_below_loq!r}")
        if self.pcr_below_loq and self.csf_jcv_pcr is not PcrInput.DETECTED:
            raise ValueError("pcr_below_loq: only a detected CSF JCV PCR can be below the LOQ")
        volume = _optional_number(
            "total_lesion_volume_ml", self.total_lesion_volume_ml, positive=False
        )
        object.__setattr__(self, "total_lesion_volume_ml", volume)
        days = self.pcr_days_after_onset
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
            raise ValueError(
                f"pcr_days_after_onset: expected a whole number of days or None, got {days!r}"
            )

    def value(self, name: str) -> InputValue:
        """The value of categorical input ``name`` (one of :data:`INPUT_DOMAINS`)."""
        if name not in INPUT_DOMAINS:
            raise KeyError(name)
        value: InputValue = getattr(self, name)
        return value

    def with_value(self, name: str, value: InputValue | str) -> Inputs:
        """A copy with categorical input ``name`` set to ``value`` (validated as usual)."""
        if name not in INPUT_DOMAINS:
            raise KeyError(name)
        changes: dict[str, Any] = {name: value}
        if name == "csf_jcv_pcr" and value != PcrInput.DETECTED:
            changes.update(pcr_below_loq=False, pcr_copies_per_ml=None)  # facts of a positive
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the criteria table: the values it accepts and the certainty it gives.

    ``conditions`` maps input names (keys of :data:`INPUT_DOMAINS`) to the set of values the row
    accepts; an input the row does not name may take any value. Values given as strings are
    coerced to the input's enum.
    """

    id: str
    pathway: Pathway
    certainty: Certainty
    conditions: Mapping[str, Collection[InputValue | str]] = field(hash=False)
    """Input name → accepted values; stored as a read-only mapping of frozensets."""
    source: str
    """Where in the paper the row comes from."""
    verified: bool
    """Whether the row has been checked against the paper's text."""
    note: str
    """The row in plain English, as the explanation quotes it."""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Rule.id must not be empty")
        object.__setattr__(self, "pathway", Pathway(self.pathway))
        object.__setattr__(self, "certainty", Certainty(self.certainty))
        if self.certainty is Certainty.NOT_CLASSIFIABLE:
            raise ValueError(f"{self.id}: a row cannot give 'not classifiable'")
        if not self.conditions:
            raise ValueError(f"{self.id}: a row needs at least one condition")
        conditions: dict[str, frozenset[InputValue]] = {}
        for name, accepted in self.conditions.items():
            values = frozenset(coerce_input(name, v) for v in accepted)
            if not values:
                raise ValueError(f"{self.id}: condition {name!r} accepts no value")
            conditions[name] = values
        object.__setattr__(self, "conditions", MappingProxyType(conditions))

    def unmatched(self, inputs: Inputs) -> tuple[str, ...]:
        """The names of the conditions that ``inputs`` does not satisfy (empty: the row fires)."""
        return tuple(
            name for name, accepted in self.conditions.items() if inputs.value(name) not in accepted
        )

    def matches(self, inputs: Inputs) -> bool:
        """Whether every condition accepts the value of ``inputs``."""
        return not self.unmatched(inputs)

    def describe_conditions(self) -> str:
        """The conditions in plain words, e.g. ``"csf_jcv_pcr ∈ {detected}"`` joined by ``;``."""
        parts = []
        for name, accepted in self.conditions.items():
            domain = INPUT_DOMAINS[name]
            values = ", ".join(str(v).lower() for v in domain if v in accepted)
            parts.append(f"{name} ∈ {{{values}}}")
        return "; ".join(parts)


def _conditions(**accepted: Iterable[InputValue]) -> dict[str, frozenset[InputValue]]:
    return {name: frozenset(values) for name, values in accepted.items()}


_NO_ALTERNATIVE = (False,)
_NEGATIVE_OR_NOT_DONE = (PcrInput.NOT_DETECTED, PcrInput.NOT_DONE)
_CLINICAL_TABLE = f"{PAPER}; clinical pathway criteria (as tabulated in DESIGN.md §3)"
_HISTO_TEXT = f"{PAPER}; histopathologic pathway"

RULES: tuple[Rule, ...] = (
    # The histopathologic rows come first: tissue is the reference standard, so when both
    # pathways give the same certainty the result reports the histopathologic one.
    Rule(
        id="AAN2013-H1",
        pathway=Pathway.HISTOPATHOLOGIC,
        certainty=Certainty.DEFINITE,
        conditions=_conditions(
            histopathology_triad=(TriadInput.PRESENT,),
            tissue_jcv=(TissueJcvInput.DETECTED,),
        ),
        source=f"{_HISTO_TEXT}: classic triad with JCV shown in tissue (abstract, conclusion)",
        verified=True,
        note=(
            "the classic histopathologic triad (demyelination, bizarre astrocytes, enlarged "
            "oligodendroglial nuclei) with JCV shown in the tissue by IHC, ISH, EM or PCR; "
            "an alternative diagnosis does not undo tissue proof"
        ),
    ),
    Rule(
        id="AAN2013-H2",
        pathway=Pathway.HISTOPATHOLOGIC,
        certainty=Certainty.PROBABLE,
        conditions=_conditions(
            histopathology_triad=(TriadInput.PRESENT,),
            tissue_jcv=(TissueJcvInput.NOT_DETECTED, TissueJcvInput.NOT_DONE),
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=f"{_HISTO_TEXT}: probable row (triad, JCV not shown in tissue); not yet checked",
        verified=False,
        note=(
            "the classic histopathologic triad without JCV shown in the tissue (reading not yet "
            "checked against the paper; an earlier reading that also required clinical, imaging "
            "and CSF findings could never decide a case, because the clinical pathway's "
            "definite row then fires too)"
        ),
    ),
    Rule(
        id="AAN2013-H3",
        pathway=Pathway.HISTOPATHOLOGIC,
        certainty=Certainty.POSSIBLE,
        conditions=_conditions(
            histopathology_triad=(TriadInput.INCOMPLETE,),
            tissue_jcv=(TissueJcvInput.DETECTED,),
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=f"{_HISTO_TEXT}: JCV shown in tissue with an incomplete triad; not yet checked",
        verified=False,
        note=(
            "JCV shown in the tissue (IHC, ISH, EM or PCR) with an incomplete histopathologic "
            "triad, e.g. demyelination without bizarre astrocytes (reading not yet checked "
            "against the paper: it may be probable rather than possible)"
        ),
    ),
    Rule(
        id="AAN2013-C0",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.NOT_PML,
        conditions=_conditions(alternative_diagnosis=(True,)),
        source=(
            f"{_CLINICAL_TABLE}: clinical and imaging findings count only when 'not better "
            "explained by another disorder'"
        ),
        verified=True,
        note=(
            "another disorder better explains the findings, so on the clinical pathway they do "
            "not count for PML"
        ),
    ),
    Rule(
        id="AAN2013-C1",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.DEFINITE,
        conditions=_conditions(
            clinical_features=(TriState.PRESENT,),
            imaging_findings=(TriState.PRESENT,),
            csf_jcv_pcr=(PcrInput.DETECTED,),
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=f"{_CLINICAL_TABLE}: row '+ + +'",
        verified=True,
        note="clinical features and imaging consistent with PML and a positive CSF JCV PCR",
    ),
    Rule(
        id="AAN2013-C2",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.PROBABLE,
        conditions=_conditions(
            clinical_features=(TriState.ABSENT,),
            imaging_findings=(TriState.PRESENT,),
            csf_jcv_pcr=(PcrInput.DETECTED,),
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=f"{_CLINICAL_TABLE}: row '− + +'",
        verified=True,
        note="imaging consistent with PML and a positive CSF JCV PCR without clinical features",
    ),
    Rule(
        id="AAN2013-C3",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.POSSIBLE,
        conditions=_conditions(
            clinical_features=(TriState.PRESENT,),
            imaging_findings=(TriState.PRESENT,),
            csf_jcv_pcr=_NEGATIVE_OR_NOT_DONE,
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=f"{_CLINICAL_TABLE}: row '+ + − or not done'",
        verified=True,
        note=(
            "clinical features and imaging consistent with PML, but the CSF JCV PCR is negative "
            "or not done"
        ),
    ),
    Rule(
        id="AAN2013-C4",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.NOT_PML,
        conditions=_conditions(
            clinical_features=(TriState.PRESENT,),
            imaging_findings=(TriState.ABSENT,),
            csf_jcv_pcr=_NEGATIVE_OR_NOT_DONE,
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=f"{_CLINICAL_TABLE}: row 'only one of the three' (clinical features only)",
        verified=True,
        note=(
            "only the clinical features are consistent with PML (imaging is not; the CSF JCV "
            "PCR is negative or not done, which counts as not positive, as in AAN2013-C3)"
        ),
    ),
    Rule(
        id="AAN2013-C5",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.NOT_PML,
        conditions=_conditions(
            clinical_features=(TriState.ABSENT,),
            imaging_findings=(TriState.PRESENT,),
            csf_jcv_pcr=_NEGATIVE_OR_NOT_DONE,
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=f"{_CLINICAL_TABLE}: row 'only one of the three' (imaging only)",
        verified=True,
        note=(
            "only the imaging is consistent with PML (no clinical features; the CSF JCV PCR is "
            "negative or not done, which counts as not positive, as in AAN2013-C3)"
        ),
    ),
    Rule(
        id="AAN2013-C6",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.NOT_PML,
        conditions=_conditions(
            clinical_features=(TriState.ABSENT,),
            imaging_findings=(TriState.ABSENT,),
            csf_jcv_pcr=(PcrInput.DETECTED,),
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=f"{_CLINICAL_TABLE}: row 'only one of the three' (CSF JCV PCR only)",
        verified=True,
        note="only the CSF JCV PCR is positive; neither clinical features nor imaging fit PML",
    ),
    Rule(
        id="AAN2013-C7",
        pathway=Pathway.CLINICAL,
        certainty=Certainty.NOT_PML,
        conditions=_conditions(
            clinical_features=(TriState.ABSENT,),
            imaging_findings=(TriState.ABSENT,),
            csf_jcv_pcr=_NEGATIVE_OR_NOT_DONE,
            alternative_diagnosis=_NO_ALTERNATIVE,
        ),
        source=(
            f"{_CLINICAL_TABLE}: none of the three; not a row of the paper but read a fortiori "
            "from 'only one of the three'; not yet checked"
        ),
        verified=False,
        note=(
            "none of the three clinical-pathway findings is present (read a fortiori from the "
            "paper's 'only one of the three' row)"
        ),
    ),
)
"""The AAN 2013 criteria, version :data:`RULESET_VERSION`."""


def _check_table(rules: Sequence[Rule]) -> Mapping[str, Rule]:
    by_id: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in by_id:
            raise ValueError(f"duplicate rule id {rule.id!r}")
        by_id[rule.id] = rule
    return MappingProxyType(by_id)


RULES_BY_ID: Mapping[str, Rule] = _check_table(RULES)
""":data:`RULES` by id."""


@dataclass(frozen=True, slots=True)
class Result:
    """What the engine decided for one case, why, and what would change it."""

    certainty: Certainty
    pathway: Pathway | None
    """The pathway of the winning row; ``None`` when not classifiable."""
    rows: tuple[str, ...]
    """Ids of every row that fired, in table order."""
    explanation: str
    """Plain English: the rows, any disagreement of the pathways, or why nothing fits."""
    would_change: tuple[str, ...]
    """Each single new finding that would change the certainty, with the row it would fire."""
    unverified: tuple[str, ...]
    """Ids of fired rows that have not yet been checked against the paper."""
    warnings: tuple[str, ...]
    """Evidence-quality flags: weak negative PCR, provisional categories."""
    ruleset: str
    """The :data:`RULESET_VERSION` that produced this result."""
    bound: tuple[Certainty, Certainty] | None = None
    """When not classifiable: the best and the worst category the missing judgements
    (:data:`COMPLETED_INPUTS`) could give, e.g. ``(PROBABLE, NOT_PML)``; else ``None``."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    certainty: Certainty
    pathway: Pathway | None
    fired: tuple[Rule, ...]
    winners: tuple[Rule, ...]


def _classify(inputs: Inputs, rules: Sequence[Rule]) -> _Outcome:
    fired = tuple(rule for rule in rules if rule.matches(inputs))
    if not fired:
        return _Outcome(Certainty.NOT_CLASSIFIABLE, None, (), ())
    best = max(_RANK[rule.certainty] for rule in fired)
    winners = tuple(rule for rule in fired if _RANK[rule.certainty] == best)
    return _Outcome(winners[0].certainty, winners[0].pathway, fired, winners)


def _ids(rules: Iterable[Rule]) -> str:
    return ", ".join(rule.id for rule in rules)


def _describe(inputs: Inputs, names: Iterable[str]) -> str:
    return ", ".join(f"{_LABELS[name]} {_value_text(inputs.value(name))}" for name in names)


def _pathway_gap(inputs: Inputs, pathway: Pathway, rules: Sequence[Rule]) -> str:
    """Why no row of ``pathway`` fires: the missing judgements that block it, else the gap."""
    own = PATHWAY_INPUTS.get(pathway, ())
    unknown = [name for name in own if inputs.value(name) == UNKNOWN_VALUES[name]]
    if own and len(unknown) == len(own):
        return f"nothing recorded ({_describe(inputs, own)})"
    pathway_rules = [rule for rule in rules if rule.pathway is pathway]
    blocking = [
        name
        for name in unknown
        if any(
            _classify(inputs.with_value(name, value), pathway_rules).fired
            for value in INPUT_DOMAINS[name]
            if value != UNKNOWN_VALUES[name]
        )
    ]
    reasons = [
        f"{_LABELS[name]} {_value_text(inputs.value(name))}: the {pathway.value} pathway needs "
        f"{_NEEDS[name]}"
        for name in (blocking or unknown)
    ]
    if reasons:
        return "; ".join(reasons)
    return f"no row covers {_describe(inputs, own)}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _explain(inputs: Inputs, outcome: _Outcome, rules: Sequence[Rule]) -> str:
    pathways = tuple(dict.fromkeys(rule.pathway for rule in rules))
    if not outcome.fired:
        gaps = [
            f"{_sentence(p.value)} pathway: {_pathway_gap(inputs, p, rules)}." for p in pathways
        ]
        return "Not classifiable: no AAN 2013 row covers these inputs. " + " ".join(gaps)
    lead = outcome.winners[0]
    parts = [
        f"{_sentence(_certainty_text(outcome.certainty))} by the {lead.pathway.value} "
        f"pathway ({_ids(outcome.winners)}): {lead.note}."
    ]
    mentioned = set(outcome.winners)
    by_pathway: dict[Pathway, list[Rule]] = {}
    for rule in outcome.fired:
        by_pathway.setdefault(rule.pathway, []).append(rule)
    verdicts = {
        pathway: max((r.certainty for r in fired), key=_RANK.__getitem__)
        for pathway, fired in by_pathway.items()
    }
    if len(set(verdicts.values())) > 1:
        losing = []
        for pathway, certainty in verdicts.items():
            if certainty is outcome.certainty:
                continue
            decisive = [r for r in by_pathway[pathway] if r.certainty is certainty]
            mentioned.update(decisive)
            losing.append(
                f"the {pathway.value} pathway gives {_certainty_text(certainty)} "
                f"({'; '.join(f'{r.id}: {r.note}' for r in decisive)})"
            )
        parts.append(
            f"The pathways disagree: {' and '.join(losing)}; the stronger category, "
            f"{_certainty_text(outcome.certainty)}, is reported."
        )
    elif len(verdicts) > 1:
        parts.append(f"Both pathways give {_certainty_text(outcome.certainty)}.")
    others = [rule for rule in outcome.fired if rule not in mentioned]
    if others:
        parts.append(
            "Also fired: "
            + "; ".join(
                f"{r.id} ({_certainty_text(r.certainty)} by the {r.pathway.value} pathway: "
                f"{r.note})"
                for r in others
            )
            + "."
        )
    for pathway in pathways:
        own = PATHWAY_INPUTS.get(pathway, ())
        has_evidence = any(inputs.value(n) != UNKNOWN_VALUES[n] for n in own)
        if pathway not in by_pathway and has_evidence:
            parts.append(
                f"The {pathway.value} pathway gives no category: "
                f"{_pathway_gap(inputs, pathway, rules)}."
            )
    unverified = [r.id for r in outcome.fired if not r.verified]
    if unverified and all(not r.verified for r in outcome.winners):
        parts.append(
            f"The category rests on rows not yet checked against the paper "
            f"({', '.join(unverified)}): treat it as provisional."
        )
    elif unverified:
        parts.append(
            f"Rows not yet checked against the paper also fired ({', '.join(unverified)}); "
            "the category does not rest on them."
        )
    return " ".join(parts)


def _would_change(inputs: Inputs, outcome: _Outcome, rules: Sequence[Rule]) -> tuple[str, ...]:
    changes: list[str] = []
    for name, domain in INPUT_DOMAINS.items():
        current = inputs.value(name)
        for value in domain:
            if value == current or value == UNKNOWN_VALUES.get(name):
                continue
            other, _, _ = _decide(inputs.with_value(name, value), rules)
            if other.certainty is outcome.certainty:
                continue
            finding = _FINDINGS[(name, value)]
            because = _ids(other.winners) if other.fired else "no row covers that combination"
            changes.append(
                f"{finding} would make this {_certainty_text(other.certainty)} ({because})"
            )
    return tuple(changes)


def _warnings(
    inputs: Inputs, outcome: _Outcome, low_positive: float = LOW_POSITIVE_PCR_COPIES_PER_ML
) -> tuple[str, ...]:
    warnings: list[str] = []
    if inputs.csf_jcv_pcr is PcrInput.NOT_DETECTED:
        lod, unit, sensitive = (
            inputs.pcr_lod_copies_per_ml,
            "copies/mL",
            SENSITIVE_PCR_LOD_COPIES_PER_ML,
        )
        if lod is None and inputs.pcr_lod_iu_per_ml is not None:
            lod, unit, sensitive = inputs.pcr_lod_iu_per_ml, "IU/mL", SENSITIVE_PCR_LOD_IU_PER_ML
        if lod is None:
            warnings.append(
                "the CSF JCV PCR was not detected but the assay's limit of detection is not "
                "recorded (or not in the result's unit, copies/mL or IU/mL), so the weight of "
                "this negative result cannot be judged"
            )
        elif lod > sensitive:
            warnings.append(
                f"the 'not detected' CSF JCV PCR comes from an assay with a limit of detection of "
                f"{lod:g} {unit} (above {sensitive:g}): weak evidence "
                "against PML; an ultrasensitive assay may still detect JCV"
            )
        volume = inputs.total_lesion_volume_ml
        if volume is not None and volume < SMALL_LESION_VOLUME_ML:
            warnings.append(
                "PCR can be negative early in disease and with small lesions: the total lesion "
                f"volume is {volume:g} mL (below {SMALL_LESION_VOLUME_ML:g} mL), so this negative "
                "CSF JCV PCR is weak evidence"
            )
        days = inputs.pcr_days_after_onset
        if days is not None and days <= EARLY_PCR_DAYS_AFTER_ONSET:
            warnings.append(
                "PCR can be negative early in disease and with small lesions: the CSF was taken "
                f"{days} day(s) after onset (≤ {EARLY_PCR_DAYS_AFTER_ONSET}), so this negative "
                "CSF JCV PCR is weak evidence"
            )
    if inputs.csf_jcv_pcr is PcrInput.DETECTED:
        load = inputs.pcr_copies_per_ml
        if inputs.pcr_below_loq:
            warnings.append(
                "low positive: the CSF JCV PCR detected JCV below the limit of quantification; "
                "it counts as detected, but confirm it (repeat or reference laboratory)"
            )
        elif load is not None and load < low_positive:
            warnings.append(
                f"low positive: the CSF JCV PCR found {load:g} copies/mL (below "
                f"{low_positive:g}); it counts as detected, but confirm it (repeat or "
                "reference laboratory)"
            )
    negative_biopsy = (
        inputs.histopathology_triad is TriadInput.ABSENT
        and inputs.tissue_jcv is TissueJcvInput.NOT_DETECTED
    )
    clinical_positive = [
        rule
        for rule in outcome.fired
        if rule.pathway is Pathway.CLINICAL
        and rule.certainty in (Certainty.DEFINITE, Certainty.PROBABLE)
    ]
    if negative_biopsy and clinical_positive:
        warnings.append(
            "a negative biopsy (no histopathologic triad, tissue JCV not detected) stands beside "
            f"a {_certainty_text(clinical_positive[0].certainty)} clinical result "
            f"({_ids(clinical_positive)}): sampling error, or another disease? The panel should "
            "reconcile the two and write why"
        )
    asymptomatic_mri = (
        inputs.clinical_features is TriState.ABSENT and inputs.imaging_findings is TriState.PRESENT
    )
    if asymptomatic_mri and outcome.certainty is not Certainty.DEFINITE:
        warnings.append(
            "asymptomatic MRI-detected PML (e.g. on natalizumab screening) can stay probable or "
            "possible, or below, for a while: re-evaluate when a new CSF JCV PCR or MRI arrives"
        )
    elif outcome.certainty in (Certainty.PROBABLE, Certainty.POSSIBLE):
        warnings.append(
            f"{_certainty_text(outcome.certainty)} is provisional: re-evaluate when a new CSF JCV "
            "PCR, MRI or histopathology result arrives"
        )
    tissue_proof = any(
        rule.pathway is Pathway.HISTOPATHOLOGIC and rule.certainty is Certainty.DEFINITE
        for rule in outcome.fired
    )
    if inputs.alternative_diagnosis and tissue_proof:
        warnings.append(
            "an alternative diagnosis is recorded although the tissue proves PML: the panel "
            "should reconcile the two (coexisting disease?) and write why"
        )
    return tuple(warnings)


def _completions(inputs: Inputs, rules: Sequence[Rule]) -> list[tuple[Inputs, _Outcome]]:
    """Every way of filling in the missing judgements (:data:`COMPLETED_INPUTS`), classified."""
    options: list[Inputs] = [inputs]
    for name in COMPLETED_INPUTS:
        if inputs.value(name) != UNKNOWN_VALUES[name]:
            continue
        known = [v for v in INPUT_DOMAINS[name] if v != UNKNOWN_VALUES[name]]
        options = [option.with_value(name, value) for option in options for value in known]
    if len(options) == 1:
        return []
    return [(option, _classify(option, rules)) for option in options]


def _bounded(
    inputs: Inputs, completions: list[tuple[Inputs, _Outcome]]
) -> tuple[_Outcome | None, tuple[Certainty, Certainty] | None, str]:
    """From the completions of a not-classifiable case: the agreed outcome (if every completion
    gives the same category), else the best/worst bound; and a sentence saying which."""
    if not completions:
        return None, None, ""
    missing = [n for n in COMPLETED_INPUTS if inputs.value(n) == UNKNOWN_VALUES[n]]
    what = " and ".join(f"{_LABELS[n]} not assessed" for n in missing)
    each = "; ".join(
        f"{_describe(option, missing)} gives {_certainty_text(outcome.certainty)}"
        + (f" ({_ids(outcome.winners)})" if outcome.fired else "")
        for option, outcome in completions
    )
    certainties = {outcome.certainty for _, outcome in completions}
    if len(certainties) == 1 and Certainty.NOT_CLASSIFIABLE not in certainties:
        (certainty,) = certainties
        fired = tuple(dict.fromkeys(r for _, o in completions for r in o.fired))
        winners = tuple(dict.fromkeys(r for _, o in completions for r in o.winners))
        agreed = _Outcome(certainty, winners[0].pathway, fired, winners)
        text = (
            f"{_sentence(_certainty_text(certainty))} whatever the missing judgement "
            f"({what}): {each}."
        )
        return agreed, None, text
    classified = [o.certainty for _, o in completions if o.fired]
    if not classified:
        return None, None, f"No judgement of the missing input ({what}) makes it classifiable."
    best = max(classified, key=_RANK.__getitem__)
    worst = min(classified, key=_RANK.__getitem__)
    text = (
        f"At best {_certainty_text(best)}, at worst {_certainty_text(worst)}, depending on the "
        f"missing judgement ({what}): {each}."
    )
    return None, (best, worst), text


def _decide(
    inputs: Inputs, rules: Sequence[Rule]
) -> tuple[_Outcome, tuple[Certainty, Certainty] | None, str]:
    """The outcome of ``inputs``: the rows' own, else the one every completion agrees on; with
    the bound and the sentence of :func:`_bounded` (empty when the rows decided)."""
    outcome = _classify(inputs, rules)
    if outcome.fired:
        return outcome, None, ""
    agreed, bound, text = _bounded(inputs, _completions(inputs, rules))
    return (agreed or outcome), bound, text


def evaluate(
    inputs: Inputs,
    *,
    rules: Sequence[Rule] = RULES,
    ruleset: str = RULESET_VERSION,
    low_positive_copies_per_ml: float = LOW_POSITIVE_PCR_COPIES_PER_ML,
) -> Result:
    """Classify ``inputs`` by the rule table: certainty, pathway, fired rows and explanation.

    Every row whose conditions all match fires; the strongest certainty wins and, if two rows
    tie, the one listed first in the table gives the pathway. When no row fires, the missing
    judgements (:data:`COMPLETED_INPUTS` not assessed) are filled in every way: if every way
    gives the same category, that category is the result (its rows are the completions' rows
    and the explanation says so); otherwise the result is :attr:`Certainty.NOT_CLASSIFIABLE`
    with the reason and :attr:`Result.bound`, the best and worst category reachable.
    ``rules`` and ``ruleset`` exist for testing the engine on other tables;
    ``low_positive_copies_per_ml`` is the viral load below which a positive is flagged.
    """
    outcome, bound, text = _decide(inputs, rules)
    unverified = tuple(rule.id for rule in outcome.fired if not rule.verified)
    if text and outcome.fired:
        explanation = text
        if unverified:
            explanation += (
                " Rows not yet checked against the paper decide some of these "
                f"({', '.join(unverified)}): treat the category as provisional."
            )
    else:
        explanation = _explain(inputs, outcome, rules) + (f" {text}" if text else "")
    return Result(
        certainty=outcome.certainty,
        pathway=outcome.pathway,
        rows=tuple(rule.id for rule in outcome.fired),
        explanation=explanation,
        would_change=_would_change(inputs, outcome, rules),
        unverified=unverified,
        warnings=_warnings(inputs, outcome, low_positive_copies_per_ml),
        ruleset=ruleset,
        bound=bound,
    )
