"""The research extract: the registry's de-identified tables for analysts, one CSV per table.

What an analyst receives (``pml-workbench export DIR``) is declared here **once per table**:
a :class:`TableSpec` names the file, says what one row is, and lists its :class:`Column` s
with type, unit, allowed values and meaning. The same declaration writes the CSV header and
cells (:func:`render_csv`) and the data dictionary (:func:`dictionary_rows`,
:func:`dictionary_json`), so the two cannot drift; :func:`gather` builds the rows as plain
dicts whose keys must be exactly the declared columns (checked for every row).

What is left out, and why (the dictionary repeats it per table):

- **identity of images**: source paths and URIs, DICOM UIDs, checksums of the source files,
  the header values the sequence class was inferred from, study and series descriptions
  (a site's description can carry a name or an accession number), the cache path, the affine;
- **identity of people**: no username anywhere. Readers appear as ``R01``, ``R02``... and
  panel members as ``P01``... numbered by sorted username *within this extract* (the same
  person has another code in another extract), never printed names or signature meanings;
- **free text** that can hold identifying text (clinical summary, condition detail, what
  day 0 is, clinical feature and lab notes, IRIS treatment, death cause detail, treatment
  detail, the old histology method): left out unless ``with_free_text`` is asked
  (:data:`workbench.policy.Action.EXPORT_RESEARCH` holders only, like the extract itself).
  Readers' comments and correction reasons, and the panel's rationale, alternative
  diagnosis and change reason, are never exported;
- **blinded work of cases whose reads are not all in**: reads, lesions and panel decisions
  only of cases whose every assigned reader has submitted (the policy's
  :attr:`~workbench.policy.Facts.all_reads_in`, the facts :func:`workbench.reads.case_facts`
  gives, read for every case at once by :class:`~workbench.blinding.CaseFacts`,
  and each read and decision still asked of the policy as the actor). The others are
  counted (:attr:`Extract.withheld_cases`) and marked in ``cases.csv`` (``reads_exported``).
  There is deliberately no option to include them: an analyst's extract is not a way around
  blinding.

Cells (:func:`cell`): UTF-8, RFC 4180 quoting by the :mod:`csv` module, an empty cell for
null, ISO 8601 UTC (``2026-11-24T09:14:03Z``) for date-times, ``.`` as decimal separator,
``true``/``false`` for booleans. A text cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return is prefixed with ``'`` so a spreadsheet does not run it as a formula
(OWASP "CSV injection"); numbers are written as numbers and never prefixed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from adjudication.criteria import RULESET_VERSION, TriadInput
from adjudication.lesions import ContrastEnhancement, DwiPattern, Hemisphere, LesionFeatures
from adjudication.lesions import Location as LesionLocation
from adjudication.vocabulary import (
    Certainty,
    ImagingJudgement,
    Pathway,
    ReadStatus,
    TriState,
)
from workbench import __version__
from workbench.actor import Actor
from workbench.blinding import CaseFacts, all_case_facts
from workbench.clinical import (
    DeathCause,
    DetectionMode,
    DosingSchedule,
    DrugClass,
    Finding,
    Scale,
    ScoreTime,
    SpecimenKind,
    TissueJcv,
    TissueTechnique,
    TreatmentKind,
    YesNoUnknown,
)
from workbench.domain import (
    CaseStatus,
    Condition,
    LabQualitative,
    LabTest,
    Outcome,
    SequenceClass,
    Sex,
    SourceKind,
)
from workbench.errors import ValidationError
from workbench.lesions.longitudinal import TRACK_KEY
from workbench.panel import DecisionState, decisions_of_case
from workbench.policy import Action, can, require
from workbench.registry import audit
from workbench.registry.models import (
    Case,
    CaseCondition,
    ClinicalFeature,
    ClinicalRecordRow,
    Decision,
    Exposure,
    Histopathology,
    ImagingStudy,
    LabResult,
    Lesion,
    OutcomeScore,
    Read,
    Series,
    Site,
    TreatmentRow,
    User,
)

DAYS = "days relative to the case's index event (day 0)"
"""The unit of every ``*_day`` column: the registry stores no calendar date of a person."""

EXPORT_ACTION = "registry.export"
"""The audit action recorded when an extract was written."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is prefixed with ``'`` (spreadsheet formulas)."""

_CODE = re.compile(r"^[A-Za-z0-9_.+-]{1,32}$")
"""A read feature's string value kept in ``features_json``: a short code, not free text."""


class ColumnType(StrEnum):
    """What a column holds, as the data dictionary names it."""

    INTEGER = "integer"
    NUMBER = "number"
    TEXT = "text"
    BOOLEAN = "boolean"
    DATETIME = "date-time"
    CATEGORY = "category"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of one file: its name, type, unit, allowed values and meaning."""

    name: str
    type: ColumnType
    description: str
    unit: str | None = None
    allowed: tuple[str, ...] = ()
    """Every value a category column may hold (empty for other types)."""
    free_text: bool = False
    """Written only when the extract is asked for with free text."""

    def __post_init__(self) -> None:
        if (self.type is ColumnType.CATEGORY) != bool(self.allowed):
            raise ValueError(f"column {self.name}: allowed values go with category columns")

    def as_json(self) -> dict[str, Any]:
        """The column's entry in ``data_dictionary.json``."""
        return {
            "name": self.name,
            "type": self.type.value,
            "unit": self.unit,
            "allowed_values": list(self.allowed),
            "description": self.description,
        }


def _int(name: str, description: str, unit: str | None = None) -> Column:
    return Column(name, ColumnType.INTEGER, description, unit)


def _day(name: str, description: str) -> Column:
    return Column(name, ColumnType.INTEGER, description, DAYS)


def _num(name: str, description: str, unit: str | None = None) -> Column:
    return Column(name, ColumnType.NUMBER, description, unit)


def _text(name: str, description: str, *, free_text: bool = False) -> Column:
    return Column(name, ColumnType.TEXT, description, free_text=free_text)


def _bool(name: str, description: str) -> Column:
    return Column(name, ColumnType.BOOLEAN, description)


def _time(name: str, description: str) -> Column:
    return Column(name, ColumnType.DATETIME, description, "UTC")


def _cat(name: str, kind: type[StrEnum], description: str) -> Column:
    return Column(name, ColumnType.CATEGORY, description, allowed=tuple(m.value for m in kind))


def _registry_id() -> Column:
    return _text("registry_id", "The case's pseudonymous registry id (key to cases.csv).")


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One file of the extract: its name, what a row is, what is left out, its columns."""

    file: str
    description: str
    columns: tuple[Column, ...]
    blinded: bool = False
    """Rows only of cases whose every assigned reader has submitted."""

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.file}: a column is declared twice")

    def written(self, with_free_text: bool) -> tuple[Column, ...]:
        """The columns written when free text is (not) asked for."""
        return tuple(c for c in self.columns if with_free_text or not c.free_text)

    def header(self, with_free_text: bool) -> list[str]:
        """The CSV header row."""
        return [c.name for c in self.written(with_free_text)]


_FREE_TEXT_NOTE = (
    " Free-text columns ({names}) can hold identifying text: written only in an extract "
    "made with --with-free-text."
)


def _described(spec: TableSpec) -> str:
    free = [c.name for c in spec.columns if c.free_text]
    if not free:
        return spec.description
    return spec.description + _FREE_TEXT_NOTE.format(names=", ".join(free))


_BLINDED_NOTE = (
    " Only cases whose every assigned reader has submitted (cases.csv reads_exported = true);"
    " the others are withheld and counted in versions.json (withheld_cases)."
)

_LESION_FEATURE_KINDS: dict[str, type[StrEnum]] = {
    "u_fibres": TriState,
    "cortical_grey_matter": TriState,
    "t1_hypointensity": TriState,
    "dwi_pattern": DwiPattern,
    "contrast_enhancement": ContrastEnhancement,
    "mass_effect": TriState,
    "milky_way": TriState,
    "swi_rim": TriState,
}
"""The PML features of a lesion (:class:`adjudication.lesions.LesionFeatures`), each a
category column of ``lesions.csv``."""
assert set(_LESION_FEATURE_KINDS) == set(LesionFeatures.__dataclass_fields__), (
    "every lesion feature is a column"
)

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "cases.csv",
        "One row per registry case. Ages are bands and every clinical day is relative to "
        "the case's index event; no calendar date of a person is stored.",
        (
            _registry_id(),
            _text("site", "Code of the contributing site."),
            _cat("sex", Sex, "Sex as recorded by the site."),
            _text("age_band", "Age band at the index event (e.g. 40-49)."),
            _cat("condition", Condition, "The main predisposing condition."),
            _cat(
                "clinical_consistent",
                TriState,
                "Clinical features consistent with PML (the criteria engine's clinical input).",
            ),
            _cat("outcome", Outcome, "Outcome as last known."),
            _day("outcome_day", "Day the outcome was last known (or of death)."),
            _cat("status", CaseStatus, "Where the case stands in the review queue."),
            _int("readers_required", "Independent reads the case needs.", "reads"),
            _bool(
                "reads_exported",
                "Whether every assigned reader has submitted, so that the case's reads, "
                "lesions and panel decisions are in this extract.",
            ),
            _text("index_event", "What day 0 is for this case.", free_text=True),
            _text("clinical_summary", "The site's clinical summary.", free_text=True),
            _text("condition_detail", "Detail of the main condition.", free_text=True),
        ),
    ),
    TableSpec(
        "clinical_record.csv",
        "One row per case that has a research clinical record: its single values.",
        (
            _registry_id(),
            _int(
                "diagnosis_year", "Calendar year of the PML diagnosis (never a full date).", "year"
            ),
            _day("onset_day", "Onset of PML symptoms."),
            _day("diagnosis_day", "Diagnosis of PML."),
            _cat("detection_mode", DetectionMode, "How PML came to attention."),
            _num("anti_jcv_index", "Serum anti-JCV antibody index.", "index (unitless)"),
            _day("anti_jcv_index_day", "Day of the anti-JCV antibody index."),
            _num("lymphocytes", "Absolute lymphocyte count.", "10^9 cells/L"),
            _day("lymphocytes_day", "Day of the lymphocyte count."),
            _int("cd4_nadir", "CD4 nadir.", "cells/µL"),
            _day("cd4_nadir_day", "Day of the CD4 nadir."),
            _cat("iris", YesNoUnknown, "PML immune reconstitution inflammatory syndrome."),
            _day("iris_onset_day", "Onset of PML-IRIS."),
            _cat("death_cause", DeathCause, "Cause of death (empty when alive or not known)."),
            _text("iris_treatment", "How IRIS was treated.", free_text=True),
            _text("death_cause_detail", "Detail of the cause of death.", free_text=True),
        ),
    ),
    TableSpec(
        "conditions.csv",
        "Predisposing conditions of a case besides its main condition (cases.csv), in the "
        "order entered.",
        (
            _registry_id(),
            _int("position", "Order within the case (0 first)."),
            _cat("condition", Condition, "The other condition."),
        ),
    ),
    TableSpec(
        "clinical_features.csv",
        "Clinical features (hemiparesis, aphasia, ...) of a case and whether each is present.",
        (
            _int("feature_id", "Row id."),
            _registry_id(),
            _text("feature", "The feature's name."),
            _cat("status", TriState, "Whether the feature is present."),
            _day("onset_day", "Onset of the feature."),
            _text("note", "Note on the feature.", free_text=True),
        ),
    ),
    TableSpec(
        "treatments.csv",
        "Treatments of PML and steps to restore immunity, with their days.",
        (
            _int("treatment_id", "Row id."),
            _registry_id(),
            _int("position", "Order within the case (0 first)."),
            _cat("kind", TreatmentKind, "The treatment."),
            _day("start_day", "Start."),
            _day("stop_day", "Stop."),
            _text("detail", "Detail of the treatment.", free_text=True),
        ),
    ),
    TableSpec(
        "outcome_scores.csv",
        "Outcome scores (KPS, mRS, EDSS) at the registry's time points.",
        (
            _registry_id(),
            _cat("scale", Scale, "The scale."),
            _cat("time", ScoreTime, "The time point."),
            _int("position", "Order within the case (0 first)."),
            _num("value", "The score.", "points of the scale"),
        ),
    ),
    TableSpec(
        "exposures.csv",
        "Drug exposures of a case (the drug the case is about and earlier ones).",
        (
            _int("exposure_id", "Row id."),
            _registry_id(),
            _text("drug", "The drug's name."),
            _cat("drug_class", DrugClass, "The drug's class."),
            _cat("dosing_schedule", DosingSchedule, "Dosing schedule."),
            _day("start_day", "First dose."),
            _day("stop_day", "Stop."),
            _day("last_dose_day", "Last dose before PML."),
            _int("infusion_count", "Infusions received.", "infusions"),
            _bool("prior", "An earlier immunosuppressant, before the drug the case is about."),
        ),
    ),
    TableSpec(
        "labs.csv",
        "Laboratory results. The unit, assay and limits of each value are on its row: a "
        "'not detected' from an insensitive assay is not the same fact as one from an "
        "ultrasensitive assay.",
        (
            _int("lab_id", "Row id."),
            _registry_id(),
            _cat("test", LabTest, "The test."),
            _text("test_name", "Name of the test when test is 'other'."),
            _day("day", "Day of the sample."),
            _cat("qualitative", LabQualitative, "Qualitative result."),
            _num("value", "Measured value, in the row's unit (e.g. copies/mL, cells/µL)."),
            _text("unit", "Unit of value, lod and loq (e.g. copies/mL, IU/mL, cells/µL)."),
            _text("assay", "The assay."),
            _num("lod", "The assay's limit of detection, in the row's unit."),
            _num("loq", "The assay's limit of quantification, in the row's unit."),
            _text("note", "Note on the result.", free_text=True),
        ),
    ),
    TableSpec(
        "histopathology.csv",
        "Brain biopsy or autopsy findings (the AAN 2013 histopathologic pathway), each "
        "component of the triad on its own with the criteria engine's inputs beside them.",
        (
            _int("histopathology_id", "Row id."),
            _registry_id(),
            _int("position", "Order within the case (0 first)."),
            _day("day", "Day of the specimen."),
            _cat("kind", SpecimenKind, "Biopsy or autopsy."),
            _cat("demyelination", Finding, "Demyelination."),
            _cat("bizarre_astrocytes", Finding, "Bizarre astrocytes."),
            _cat("enlarged_oligodendroglial_nuclei", Finding, "Enlarged oligodendroglial nuclei."),
            _cat("triad", TriadInput, "The triad as the criteria engine reads it."),
            _cat("tissue_jcv", TissueJcv, "JC virus shown in the tissue."),
            _text(
                "techniques",
                "How JC virus was looked for, semicolon-separated, in the order entered: "
                + ", ".join(t.value for t in TissueTechnique)
                + ".",
            ),
            _text(
                "method", "Method as free text (records before techniques existed).", free_text=True
            ),
        ),
    ),
    TableSpec(
        "imaging_timepoints.csv",
        "One row per image series, with its MRI timepoint (a timepoint without series has "
        "one row with empty series columns). Left out on purpose: source paths and URIs, "
        "study/series/frame-of-reference UIDs, checksums of the source files, the header "
        "values the sequence class was inferred from, study and series descriptions (a site's "
        "description can carry identifying text), the cache path and the affine.",
        (
            _int("study_id", "Row id of the timepoint."),
            _registry_id(),
            _day("day", "Day of the MRI."),
            _int("series_id", "Row id of the series (key of lesions.csv series_id)."),
            _cat("sequence_class", SequenceClass, "Sequence class."),
            _cat("source_kind", SourceKind, "What the series was imported from."),
            _int("volume_index", "Which volume of its source (0 first)."),
            _int("shape_i", "Voxels along the first grid axis.", "voxels"),
            _int("shape_j", "Voxels along the second grid axis.", "voxels"),
            _int("shape_k", "Voxels along the third grid axis (slices).", "voxels"),
            _num("spacing_i", "Voxel spacing along the first grid axis.", "mm"),
            _num("spacing_j", "Voxel spacing along the second grid axis.", "mm"),
            _num("spacing_k", "Voxel spacing along the third grid axis.", "mm"),
            _text("dtype", "Stored voxel type (e.g. int16)."),
            _int("n_files", "Source files of the series.", "files"),
        ),
    ),
    TableSpec(
        "reads.csv",
        "Submitted reads (the version in force of each reader's read; a corrected read's "
        "earlier versions are not shown, as the policy shows them to nobody but their "
        "reader). The reader is a code R01, R02, ... numbered by sorted username within this "
        "extract. The reader's comment and correction reason are free text and never exported."
        + _BLINDED_NOTE,
        (
            _int("read_id", "Row id (key of lesions.csv read_id)."),
            _registry_id(),
            _text("reader", "The reader's code within this extract (R01, R02, ...)."),
            _int("revision", "Version of the reader's read (1 first; a correction adds one)."),
            _cat("status", ReadStatus, "Status of the read (always submitted here)."),
            _cat("judgement", ImagingJudgement, "Imaging consistent with PML."),
            _int("confidence", "The reader's confidence in the judgement, 1 to 5.", "1-5"),
            _text(
                "features_json",
                "Read-level features as a JSON object; string values that are not short "
                "codes are left out (they could be free text).",
            ),
            _time("submitted_at", "When the read was submitted."),
            _int("lesions", "Lesions marked in the read.", "lesions"),
        ),
        blinded=True,
    ),
    TableSpec(
        "lesions.csv",
        "Lesions of the exported reads, measured from their masks (the masks are not "
        "exported). Feature values outside the vocabulary are left empty; other feature "
        "keys than those listed are not exported." + _BLINDED_NOTE,
        (
            _int("lesion_id", "Row id."),
            _int("read_id", "The read (key to reads.csv)."),
            _registry_id(),
            _int("series_id", "The series whose grid the mask is on (imaging_timepoints.csv)."),
            _int("label", "The lesion's label within the read."),
            _int("track", "The lesion's track across timepoints (same lesion, same track)."),
            _num("volume_ml", "Lesion volume.", "mL"),
            _num("centroid_x", "Centroid, DICOM patient x (towards the patient's left).", "mm"),
            _num("centroid_y", "Centroid, DICOM patient y (towards posterior).", "mm"),
            _num("centroid_z", "Centroid, DICOM patient z (towards the head).", "mm"),
            _cat("hemisphere", Hemisphere, "Side, in the patient's frame."),
            _cat("location", LesionLocation, "Where the lesion lies."),
            *(
                _cat(name, kind, f"PML feature: {name.replace('_', ' ')}.")
                for name, kind in _LESION_FEATURE_KINDS.items()
            ),
        ),
        blinded=True,
    ),
    TableSpec(
        "decisions.csv",
        "Panel decisions, oldest first, with the criteria engine's result they were made "
        "against. Panel members are codes P01, P02, ... numbered by sorted username within "
        "this extract; signatures' printed names and meanings are not exported. The "
        "rationale, alternative diagnosis and change reason are free text and never "
        "exported." + _BLINDED_NOTE,
        (
            _int("decision_id", "Row id."),
            _registry_id(),
            _cat("state", DecisionState, "Where the decision stands."),
            _bool("is_final", "Signed by enough panel members (now or before it was changed)."),
            _cat("certainty", Certainty, "The panel's certainty."),
            _cat("pathway", Pathway, "The criteria pathway the panel decided on."),
            _cat("panel_imaging", ImagingJudgement, "The panel's own imaging judgement."),
            _text("engine_version", "Version of the criteria rules the engine ran."),
            _cat("engine_certainty", Certainty, "The engine's certainty at the time."),
            _bool("differs_from_engine", "The panel decided otherwise than the engine."),
            _int("supersedes_id", "The decision this one replaced or changed."),
            _text("proposed_by", "Panel code of the member who proposed it."),
            _time("proposed_at", "When it was proposed."),
            _int("signatures", "Signatures given.", "signatures"),
            _int("signatures_required", "Signatures a decision needs.", "signatures"),
            _text("signed_by", "Panel codes of the signers, semicolon-separated, in order."),
            _bool("signed", "Whether it has the signatures it needs."),
        ),
        blinded=True,
    ),
)
"""Every CSV file of the extract, in the order written."""

TABLE_BY_FILE: Mapping[str, TableSpec] = {spec.file: spec for spec in TABLES}


# --- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extract:
    """What :func:`gather` read: the rows of every table and the facts of the extract."""

    tables: Mapping[str, tuple[Mapping[str, Any], ...]]
    """File name -> rows (dicts keyed by every declared column)."""
    withheld_cases: int
    """Cases with reads outstanding, whose reads, lesions and decisions are left out."""
    schema_revision: str | None
    exported_at: dt.datetime
    with_free_text: bool
    software_version: str = __version__
    ruleset_version: str = RULESET_VERSION
    row_counts: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "row_counts", {name: len(rows) for name, rows in self.tables.items()}
        )

    def versions(self) -> dict[str, Any]:
        """The content of ``versions.json``."""
        return {
            "software_version": self.software_version,
            "ruleset_version": self.ruleset_version,
            "schema_revision": self.schema_revision,
            "exported_at": iso_utc(self.exported_at),
            "with_free_text": self.with_free_text,
            "row_counts": dict(self.row_counts),
            "withheld_cases": self.withheld_cases,
            "withheld_reason": "reads outstanding: not every assigned reader has submitted, so "
            "the case's reads, lesions and panel decisions are not in the extract",
        }


class _Codes:
    """Pseudonymous codes for people, numbered by sorted username within one extract."""

    def __init__(self, prefix: str, usernames: Iterable[str]) -> None:
        ordered = sorted(set(usernames))
        width = max(2, len(str(len(ordered))))
        self._codes = {name: f"{prefix}{n:0{width}d}" for n, name in enumerate(ordered, 1)}

    def __call__(self, username: str) -> str:
        return self._codes[username]


def _schema_revision(session: Session) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(session.connection()).get_current_revision()


def _value(value: Any) -> Any:
    """A stored enum as its value; anything else as it is."""
    return value.value if isinstance(value, StrEnum) else value


def _grid(values: Sequence[Any] | None, n: int) -> Any:
    return values[n] if values is not None and len(values) > n else None


def _in_vocabulary(kind: type[StrEnum], value: Any) -> str | None:
    text = _value(value)
    return text if isinstance(text, str) and text in {m.value for m in kind} else None


def _read_features(features: Mapping[str, Any] | None) -> str:
    """Read-level features as JSON, without strings that could be free text."""
    kept: dict[str, Any] = {}
    for key, value in sorted((features or {}).items()):
        if not _CODE.match(str(key)):
            continue
        plain = value is None or isinstance(value, bool | int)
        plain = plain or (isinstance(value, float) and math.isfinite(value))
        if plain or (isinstance(value, str) and _CODE.match(value)):
            kept[str(key)] = value
    return json.dumps(kept, sort_keys=True, separators=(",", ":"))


def gather(
    session: Session,
    actor: Actor,
    *,
    with_free_text: bool = False,
    now: dt.datetime | None = None,
) -> Extract:
    """Read every table of the extract in ``session`` for ``actor``.

    Refused (:class:`~workbench.errors.PermissionDeniedError`) unless the policy lets
    ``actor`` :data:`~workbench.policy.Action.EXPORT_RESEARCH`. Reads, lesions and decisions
    come only from cases whose every assigned reader has submitted, and each read and
    decision is asked of the policy again as ``actor``.
    """
    require(actor, Action.EXPORT_RESEARCH)
    exported_at = now or dt.datetime.now(dt.UTC)
    cases = list(
        session.execute(
            select(Case.id, Case.registry_id, Site.code, Case)
            .join(Site, Site.id == Case.site_id)
            .order_by(Case.registry_id)
        )
    )
    rid = {case_id: registry_id for case_id, registry_id, _code, _case in cases}
    facts_of = all_case_facts(session, actor)
    readable: list[int] = []
    withheld = 0
    for case_id, _rid, _code, _case in cases:
        facts = facts_of[case_id]
        if facts.all_reads_in and can(actor, Action.SEE_PANEL_WORK, facts) is None:
            readable.append(case_id)
        elif facts_of.has_readers(case_id):
            withheld += 1  # readers are assigned and not every one has submitted
    readable_set = set(readable)
    tables: dict[str, tuple[Mapping[str, Any], ...]] = {
        "cases.csv": tuple(
            {
                "registry_id": registry_id,
                "site": code,
                "sex": _value(case.sex),
                "age_band": case.age_band,
                "condition": _value(case.condition),
                "clinical_consistent": _value(case.clinical_consistent),
                "outcome": _value(case.outcome),
                "outcome_day": case.outcome_day,
                "status": _value(case.status),
                "readers_required": case.readers_required,
                "reads_exported": case_id in readable_set,
                "index_event": case.index_event,
                "clinical_summary": case.clinical_summary,
                "condition_detail": case.condition_detail,
            }
            for case_id, registry_id, code, case in cases
        ),
        "clinical_record.csv": _clinical_records(session, rid),
        "conditions.csv": tuple(
            {"registry_id": rid[row.case_id], "position": row.position, "condition": row.condition}
            for row in session.scalars(
                select(CaseCondition).order_by(CaseCondition.case_id, CaseCondition.position)
            )
        ),
        "clinical_features.csv": tuple(
            {
                "feature_id": row.id,
                "registry_id": rid[row.case_id],
                "feature": row.feature,
                "status": row.status,
                "onset_day": row.onset_day,
                "note": row.note,
            }
            for row in session.scalars(select(ClinicalFeature).order_by(ClinicalFeature.id))
        ),
        "treatments.csv": tuple(
            {
                "treatment_id": row.id,
                "registry_id": rid[row.case_id],
                "position": row.position,
                "kind": row.kind,
                "start_day": row.start_day,
                "stop_day": row.stop_day,
                "detail": row.detail,
            }
            for row in session.scalars(
                select(TreatmentRow).order_by(TreatmentRow.case_id, TreatmentRow.position)
            )
        ),
        "outcome_scores.csv": tuple(
            {
                "registry_id": rid[row.case_id],
                "scale": row.scale,
                "time": row.time,
                "position": row.position,
                "value": row.value,
            }
            for row in session.scalars(
                select(OutcomeScore).order_by(OutcomeScore.case_id, OutcomeScore.position)
            )
        ),
        "exposures.csv": tuple(
            {
                "exposure_id": row.id,
                "registry_id": rid[row.case_id],
                "drug": row.drug,
                "drug_class": row.drug_class,
                "dosing_schedule": row.dosing_schedule,
                "start_day": row.start_day,
                "stop_day": row.stop_day,
                "last_dose_day": row.last_dose_day,
                "infusion_count": row.infusion_count,
                "prior": row.prior,
            }
            for row in session.scalars(select(Exposure).order_by(Exposure.id))
        ),
        "labs.csv": tuple(
            {
                "lab_id": row.id,
                "registry_id": rid[row.case_id],
                "test": row.test,
                "test_name": row.test_name,
                "day": row.day,
                "qualitative": row.qualitative,
                "value": row.value,
                "unit": row.unit,
                "assay": row.assay,
                "lod": row.lod,
                "loq": row.loq,
                "note": row.note,
            }
            for row in session.scalars(select(LabResult).order_by(LabResult.id))
        ),
        "histopathology.csv": tuple(
            {
                "histopathology_id": row.id,
                "registry_id": rid[row.case_id],
                "position": row.position,
                "day": row.day,
                "kind": row.kind,
                "demyelination": row.demyelination,
                "bizarre_astrocytes": row.bizarre_astrocytes,
                "enlarged_oligodendroglial_nuclei": row.enlarged_oligodendroglial_nuclei,
                "triad": row.triad,
                "tissue_jcv": row.tissue_jcv,
                "techniques": ";".join(str(t) for t in row.techniques or ()),
                "method": row.method,
            }
            for row in session.scalars(
                select(Histopathology).order_by(Histopathology.case_id, Histopathology.position)
            )
        ),
        "imaging_timepoints.csv": _timepoints(session, rid),
    }
    reads, lesions = _reads_and_lesions(session, actor, readable, rid, facts_of)
    tables["reads.csv"] = reads
    tables["lesions.csv"] = lesions
    decided = set(session.scalars(select(Decision.case_id).distinct()))
    tables["decisions.csv"] = _decisions(session, actor, [rid[c] for c in readable if c in decided])
    for spec in TABLES:
        declared = {c.name for c in spec.columns}
        for row in tables[spec.file]:
            if set(row) != declared:
                raise AssertionError(
                    f"{spec.file}: row keys differ from the declaration: "
                    f"{sorted(set(row) ^ declared)}"
                )
    return Extract(
        tables=tables,
        withheld_cases=withheld,
        schema_revision=_schema_revision(session),
        exported_at=exported_at,
        with_free_text=with_free_text,
    )


def _clinical_records(session: Session, rid: Mapping[int, str]) -> tuple[dict[str, Any], ...]:
    rows = session.scalars(select(ClinicalRecordRow)).all()
    return tuple(
        {
            "registry_id": rid[row.case_id],
            "diagnosis_year": row.diagnosis_year,
            "onset_day": row.onset_day,
            "diagnosis_day": row.diagnosis_day,
            "detection_mode": row.detection_mode,
            "anti_jcv_index": row.anti_jcv_index,
            "anti_jcv_index_day": row.anti_jcv_index_day,
            "lymphocytes": row.lymphocytes,
            "lymphocytes_day": row.lymphocytes_day,
            "cd4_nadir": row.cd4_nadir,
            "cd4_nadir_day": row.cd4_nadir_day,
            "iris": row.iris,
            "iris_onset_day": row.iris_onset_day,
            "death_cause": row.death_cause,
            "iris_treatment": row.iris_treatment,
            "death_cause_detail": row.death_cause_detail,
        }
        for row in sorted(rows, key=lambda r: rid[r.case_id])
    )


def _timepoints(session: Session, rid: Mapping[int, str]) -> tuple[dict[str, Any], ...]:
    """One row per series (and per timepoint without series): no UID, path or description."""
    rows = session.execute(
        select(
            ImagingStudy.id,
            ImagingStudy.case_id,
            ImagingStudy.day,
            Series.id,
            Series.sequence_class,
            Series.source_kind,
            Series.volume_index,
            Series.shape,
            Series.spacing,
            Series.dtype,
            Series.n_files,
        )
        .outerjoin(Series, Series.study_id == ImagingStudy.id)
        .order_by(ImagingStudy.case_id, ImagingStudy.day, ImagingStudy.id, Series.id)
    )
    out = []
    for study_id, case_id, day, series_id, seq, kind, index, shape, spacing, dtype, n in rows:
        out.append(
            {
                "study_id": study_id,
                "registry_id": rid[case_id],
                "day": day,
                "series_id": series_id,
                "sequence_class": seq,
                "source_kind": kind,
                "volume_index": index,
                "shape_i": _grid(shape, 0),
                "shape_j": _grid(shape, 1),
                "shape_k": _grid(shape, 2),
                "spacing_i": _grid(spacing, 0),
                "spacing_j": _grid(spacing, 1),
                "spacing_k": _grid(spacing, 2),
                "dtype": dtype,
                "n_files": n,
            }
        )
    out.sort(key=lambda r: (r["registry_id"], r["day"], r["study_id"], r["series_id"] or 0))
    return tuple(out)


def _reads_and_lesions(
    session: Session,
    actor: Actor,
    readable: Sequence[int],
    rid: Mapping[int, str],
    facts_of: CaseFacts,
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """The submitted reads of ``readable`` cases the policy shows ``actor``, and their lesions
    (without masks), readers as codes."""
    reads: list[tuple[Read, str]] = []
    wanted = set(readable)
    rows = session.execute(
        select(Read, User.username)
        .join(User, User.id == Read.reader_id)
        .where(Read.status == ReadStatus.SUBMITTED)
        .order_by(Read.id)
    ).all()
    for read, username in rows:
        if read.case_id in wanted and can(actor, Action.SEE_READ, facts_of.of_read(read)) is None:
            reads.append((read, username))
    code = _Codes("R", (username for _read, username in reads))
    lesion_rows: dict[int, list[Lesion]] = {}
    ids = [read.id for read, _username in reads]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for lesion in session.scalars(
            select(Lesion)
            .where(Lesion.read_id.in_(chunk))
            .options(defer(Lesion.mask))
            .order_by(Lesion.read_id, Lesion.label)
        ):
            lesion_rows.setdefault(lesion.read_id, []).append(lesion)
    read_out = []
    lesion_out = []
    for read, username in sorted(reads, key=lambda r: (rid[r[0].case_id], r[0].id)):
        mine = lesion_rows.get(read.id, [])
        read_out.append(
            {
                "read_id": read.id,
                "registry_id": rid[read.case_id],
                "reader": code(username),
                "revision": read.revision,
                "status": read.status,
                "judgement": read.imaging_judgement,
                "confidence": read.confidence,
                "features_json": _read_features(read.features),
                "submitted_at": read.submitted_at,
                "lesions": len(mine),
            }
        )
        for lesion in mine:
            features = dict(lesion.features or {})
            track = features.get(TRACK_KEY)
            centroid = list(lesion.centroid_lps or ())
            lesion_out.append(
                {
                    "lesion_id": lesion.id,
                    "read_id": read.id,
                    "registry_id": rid[read.case_id],
                    "series_id": lesion.series_id,
                    "label": lesion.label,
                    "track": track
                    if isinstance(track, int) and not isinstance(track, bool)
                    else None,
                    "volume_ml": lesion.volume_ml,
                    "centroid_x": _grid(centroid, 0),
                    "centroid_y": _grid(centroid, 1),
                    "centroid_z": _grid(centroid, 2),
                    "hemisphere": _in_vocabulary(Hemisphere, lesion.hemisphere),
                    "location": _in_vocabulary(LesionLocation, lesion.location),
                    **{
                        name: _in_vocabulary(kind, features.get(name))
                        for name, kind in _LESION_FEATURE_KINDS.items()
                    },
                }
            )
    return tuple(read_out), tuple(lesion_out)


def _decisions(
    session: Session, actor: Actor, registry_ids: Sequence[str]
) -> tuple[dict[str, Any], ...]:
    """The panel decisions of ``registry_ids`` as the panel module shows them to ``actor``
    (its access check included), members as codes."""
    records = [
        d for registry_id in registry_ids for d in decisions_of_case(session, actor, registry_id)
    ]
    code = _Codes(
        "P",
        (name for d in records for name in (d.proposed_by, *(s.username for s in d.signatures))),
    )
    return tuple(
        {
            "decision_id": d.id,
            "registry_id": d.registry_id,
            "state": d.state,
            "is_final": d.state in (DecisionState.FINAL, DecisionState.SUPERSEDED),
            "certainty": d.certainty,
            "pathway": d.pathway,
            "panel_imaging": d.panel_imaging,
            "engine_version": d.engine_version,
            "engine_certainty": d.engine_certainty,
            "differs_from_engine": d.differs_from_engine,
            "supersedes_id": d.supersedes_id,
            "proposed_by": code(d.proposed_by),
            "proposed_at": d.created_at,
            "signatures": len(d.signatures),
            "signatures_required": d.signatures_required,
            "signed_by": ";".join(code(s.username) for s in d.signatures),
            "signed": len(d.signatures) >= d.signatures_required,
        }
        for d in records
    )


# --- cells, files, dictionary ----------------------------------------------------------------


def iso_utc(moment: dt.datetime) -> str:
    """``moment`` as ISO 8601 UTC with ``Z`` (a naive stored time is UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def safe_text(text: str) -> str:
    """``text`` with a ``'`` in front when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(column: Column, value: Any, *, where: str = "") -> str:
    """The CSV cell of ``value`` in ``column`` (see the module's notes on cells).

    A value the column's type cannot hold, or a category value outside its vocabulary,
    raises :class:`ValidationError` naming ``where`` and the column: the extract is not
    written rather than written wrong.
    """
    if value is None:
        return ""
    value = _value(value)
    kind = column.type
    problem = f"{where}{column.name}: {value!r} is not a valid {kind.value}"
    if kind is ColumnType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(problem, field=column.name)
        return str(value)
    if kind is ColumnType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(problem, field=column.name)
        if not math.isfinite(value):
            raise ValidationError(f"{problem} (not finite)", field=column.name)
        return repr(float(value)) if isinstance(value, float) else str(value)
    if kind is ColumnType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValidationError(problem, field=column.name)
        return "true" if value else "false"
    if kind is ColumnType.DATETIME:
        if not isinstance(value, dt.datetime):
            raise ValidationError(problem, field=column.name)
        return iso_utc(value)
    if kind is ColumnType.CATEGORY:
        if value not in column.allowed:
            raise ValidationError(
                f"{where}{column.name}: {value!r} is not one of {', '.join(column.allowed)}",
                field=column.name,
            )
        return str(value)
    return safe_text(str(value))


def render_csv(spec: TableSpec, rows: Iterable[Mapping[str, Any]], with_free_text: bool) -> str:
    """The whole CSV file of ``spec`` (header and ``rows``) as text, CRLF line endings."""
    columns = spec.written(with_free_text)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    for n, row in enumerate(rows, 2):
        writer.writerow([cell(c, row[c.name], where=f"{spec.file} line {n}: ") for c in columns])
    return out.getvalue()


DICTIONARY_COLUMNS = ("file", "column", "type", "unit", "allowed_values", "description")
"""Header of ``data_dictionary.csv``: one row per file (``column`` empty) and per column."""


def dictionary_rows(with_free_text: bool) -> list[tuple[str, str, str, str, str, str]]:
    """The rows of ``data_dictionary.csv``: each file, then each of its written columns."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    for spec in TABLES:
        rows.append((spec.file, "", "", "", "", _table_description(spec, with_free_text)))
        for c in spec.written(with_free_text):
            rows.append(
                (spec.file, c.name, c.type.value, c.unit or "", ";".join(c.allowed), c.description)
            )
    return rows


def _table_description(spec: TableSpec, with_free_text: bool) -> str:
    text = _described(spec)
    if with_free_text and any(c.free_text for c in spec.columns):
        text += " (This extract was made with --with-free-text: they are included.)"
    return text


def render_dictionary_csv(with_free_text: bool) -> str:
    """``data_dictionary.csv`` as text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DICTIONARY_COLUMNS)
    for row in dictionary_rows(with_free_text):
        writer.writerow([safe_text(value) for value in row])
    return out.getvalue()


def dictionary_json(with_free_text: bool) -> dict[str, Any]:
    """``data_dictionary.json``: every file with its description and columns."""
    return {
        "files": [
            {
                "file": spec.file,
                "description": _table_description(spec, with_free_text),
                "blinded": spec.blinded,
                "columns": [c.as_json() for c in spec.written(with_free_text)],
            }
            for spec in TABLES
        ],
        "cells": "UTF-8, RFC 4180 quoting, header row; empty cell = null; date-times ISO 8601 "
        "UTC; '.' decimal; booleans true/false; a text cell starting with = + - @ tab or "
        "carriage return is prefixed with ' against spreadsheet formula injection.",
        "days": DAYS,
    }


def record_export(
    session: Session,
    actor: Actor,
    files: Mapping[str, Mapping[str, Any]],
    *,
    withheld_cases: int,
    with_free_text: bool,
    exported_at: dt.datetime,
) -> None:
    """Record the audit event :data:`EXPORT_ACTION`: who exported, when, and every file's
    row count and SHA-256 (the folder's path is not recorded: it is the exporter's machine)."""
    require(actor, Action.EXPORT_RESEARCH)
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action=EXPORT_ACTION,
        entity_type="registry",
        after={
            "exported_at": iso_utc(exported_at),
            "files": {name: dict(entry) for name, entry in files.items()},
            "withheld_cases": withheld_cases,
            "with_free_text": with_free_text,
            "software_version": __version__,
            "ruleset_version": RULESET_VERSION,
        },
    )
