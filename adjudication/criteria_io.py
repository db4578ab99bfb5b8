"""The JSON file format of ``pml-workbench criteria FILE.json``: cases in, results out.

The file holds a JSON list of objects, one per case::

    [
      {
        "id": "PML-0042",
        "clinical_features": "present",          # present / absent / not_assessed
        "imaging_findings": "present",           # present / absent / not_assessed
        "csf_jcv_pcr": "not_detected",           # detected / detected_below_loq /
                                                 # not_detected / not_done
        "histopathology_triad": "not_done",      # present / incomplete / absent / not_done
        "tissue_jcv": "not_done",                # detected / not_detected / not_done
        "alternative_diagnosis": false,
        "pcr_lod_copies_per_ml": 200,            # optional, number or null
        "pcr_days_after_onset": 5,               # optional, whole number or null
        "total_lesion_volume_ml": 3.2,           # optional, number or null
        "pcr_lod_iu_per_ml": null,               # optional: the LOD of an IU/mL assay
        "pcr_copies_per_ml": null                # optional: load of a positive PCR
      }
    ]

``"detected_below_loq"`` counts as detected and is flagged as a low positive in the warnings,
as is a positive whose ``pcr_copies_per_ml`` is below
:data:`~adjudication.criteria.LOW_POSITIVE_PCR_COPIES_PER_ML`. A not-classifiable result carries
``"bound": ["probable", "not_pml"]`` (best, worst) when the missing judgements decide it.

Every problem is reported, not just the first, each naming the object (by index and id), the
field and what is wrong; nothing is evaluated from a file that has one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from adjudication.criteria import INPUT_DOMAINS, Inputs, PcrInput, Result, evaluate

DETECTED_BELOW_LOQ = "detected_below_loq"
"""The ``csf_jcv_pcr`` value for a positive below the limit of quantification."""

REQUIRED_FIELDS: tuple[str, ...] = ("id", *INPUT_DOMAINS)
"""Fields every case object must have."""

OPTIONAL_FIELDS: tuple[str, ...] = (
    "pcr_lod_copies_per_ml",
    "pcr_days_after_onset",
    "total_lesion_volume_ml",
    "pcr_lod_iu_per_ml",
    "pcr_copies_per_ml",
)
"""Evidence-quality fields a case object may have (``null`` is the same as leaving them out)."""

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_UNREADABLE = 2


class CriteriaInputError(ValueError):
    """A criteria file that cannot be evaluated; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str] | tuple[str, ...], source: str | None = None) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = where + self.problems[0]
        else:
            message = f"{where}{len(self.problems)} problems:\n" + "\n".join(
                f"  - {problem}" for problem in self.problems
            )
        super().__init__(message)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _parse_number(name: str, value: object, *, whole: bool) -> tuple[Any, str | None]:
    """The value of an optional number field, or the problem with it."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a whole number" if whole else "a number"
        return None, f"field {name!r} must be {kind} or null, got {_json_type(value)} {value!r}"
    if whole:
        if isinstance(value, float):
            if not value.is_integer():
                return None, f"field {name!r} must be a whole number of days, got {value!r}"
            value = int(value)
        return value, None
    if not math.isfinite(value):
        return None, f"field {name!r} must be finite, got {value!r}"
    return float(value), None


def _parse_case(
    index: int, obj: object, seen: dict[str, int]
) -> tuple[str, Inputs | None, list[str]]:
    """One case object: its id, its inputs (None on error) and its problems, each labelled."""
    if not isinstance(obj, dict):
        return "", None, [f"object at index {index}: expected a JSON object, got {_json_type(obj)}"]
    raw_id = obj.get("id")
    case_id = raw_id if isinstance(raw_id, str) else ""
    label = (
        f"object at index {index} (id {raw_id!r})" if "id" in obj else f"object at index {index}"
    )
    problems: list[str] = []
    if "id" not in obj:
        problems.append("missing field 'id'")
    elif not isinstance(raw_id, str) or not raw_id.strip():
        problems.append(
            f"field 'id' must be a non-empty string, got {_json_type(raw_id)} {raw_id!r}"
        )
    elif raw_id in seen:
        problems.append(
            f"duplicate id {raw_id!r} (first used by the object at index {seen[raw_id]})"
        )
    else:
        seen[raw_id] = index
    known = REQUIRED_FIELDS + OPTIONAL_FIELDS
    for name in obj:
        if name not in known:
            problems.append(f"unknown field {name!r}; allowed fields: {', '.join(known)}")
    values: dict[str, Any] = {}
    for name, domain in INPUT_DOMAINS.items():
        if name not in obj:
            problems.append(f"missing field {name!r}")
            continue
        value = obj[name]
        if name == "alternative_diagnosis":
            if isinstance(value, bool):
                values[name] = value
            else:
                problems.append(
                    f"field {name!r} must be true or false, got {_json_type(value)} {value!r}"
                )
            continue
        allowed = ", ".join(str(v) for v in domain)
        if name == "csf_jcv_pcr":
            allowed = allowed.replace("detected,", f"detected, {DETECTED_BELOW_LOQ},", 1)
            if value == DETECTED_BELOW_LOQ:
                values[name], values["pcr_below_loq"] = PcrInput.DETECTED, True
                continue
        if not isinstance(value, str):
            problems.append(
                f"field {name!r} must be a string, one of {allowed}; "
                f"got {_json_type(value)} {value!r}"
            )
        elif value not in {str(v) for v in domain}:
            problems.append(f"field {name!r}: unknown value {value!r}; allowed: {allowed}")
        else:
            values[name] = value
    for name in OPTIONAL_FIELDS:
        number, problem = _parse_number(name, obj.get(name), whole=name == "pcr_days_after_onset")
        if problem:
            problems.append(problem)
        else:
            values[name] = number
    inputs: Inputs | None = None
    if not problems:
        try:
            inputs = Inputs(**values)
        except ValueError as exc:
            # Inputs names the field first ("pcr_lod_copies_per_ml: must be ...").
            problems.append(f"field {exc}")
    return case_id, inputs, [f"{label}: {problem}" for problem in problems]


def load_cases(text_or_path: str | Path) -> list[tuple[str, Inputs]]:
    """Parse a criteria file into ``(id, inputs)`` pairs, in file order.

    A :class:`~pathlib.Path` is read as UTF-8 (``OSError`` and ``UnicodeDecodeError``
    propagate); a ``str`` is the JSON text itself. Raises :class:`CriteriaInputError` naming
    every bad object (by index and id), field and problem.
    """
    source: str | None = None
    if isinstance(text_or_path, Path):
        source = str(text_or_path)
        text = text_or_path.read_text(encoding="utf-8")
    else:
        text = text_or_path
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CriteriaInputError(
            [f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"], source
        ) from exc
    if not isinstance(data, list):
        raise CriteriaInputError(
            [f"expected a JSON list of case objects, got {_json_type(data)}"], source
        )
    seen: dict[str, int] = {}
    cases: list[tuple[str, Inputs]] = []
    problems: list[str] = []
    for index, obj in enumerate(data):
        case_id, inputs, case_problems = _parse_case(index, obj, seen)
        problems.extend(case_problems)
        if inputs is not None:
            cases.append((case_id, inputs))
    if problems:
        raise CriteriaInputError(problems, source)
    return cases


def result_json(case_id: str, result: Result) -> dict[str, Any]:
    """A result as a JSON-ready dict: ``certainty`` is ``definite`` … ``not_classifiable``."""
    return {
        "id": case_id,
        "certainty": result.certainty.value,
        "pathway": result.pathway.value if result.pathway is not None else None,
        "rows": list(result.rows),
        "explanation": result.explanation,
        "would_change": list(result.would_change),
        "unverified": list(result.unverified),
        "warnings": list(result.warnings),
        "ruleset": result.ruleset,
        "bound": [c.value for c in result.bound] if result.bound is not None else None,
    }


def evaluate_cases(cases: list[tuple[str, Inputs]]) -> list[Mapping[str, Any]]:
    """Evaluate parsed cases and return their results as JSON-ready dicts, in order."""
    return [result_json(case_id, evaluate(inputs)) for case_id, inputs in cases]


def criteria_main(path: Path, out: TextIO, err: TextIO) -> int:
    """Run ``pml-workbench criteria FILE.json``: print the results as a JSON list on ``out``.

    Returns 0 on success, 1 when the file's content is invalid (every problem printed on
    ``err``), 2 when the file cannot be read.
    """
    try:
        cases = load_cases(path)
    except CriteriaInputError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_INVALID_INPUT
    except UnicodeDecodeError as exc:
        err.write(f"error: {path}: not UTF-8 text (byte {exc.start}): not a criteria JSON file\n")
        return EXIT_INVALID_INPUT
    except OSError as exc:
        err.write(f"error: cannot read {path}: {exc.strerror or exc}\n")
        return EXIT_UNREADABLE
    json.dump(evaluate_cases(cases), out, indent=2, ensure_ascii=False)
    out.write("\n")
    return EXIT_OK
