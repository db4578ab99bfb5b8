"""Laboratory results: validation, unit normalisation, and CSV import (all or nothing).

Units are normalised in spelling only (``cp/ml`` becomes ``copies/mL``); values are never
converted between units. In particular copies/mL and IU/mL of JCV DNA are different scales
that depend on the assay's calibration, so they are kept apart.

CSV columns (header row required, order free, names case-insensitive):

=========== ========= ==============================================================
column      required  meaning
=========== ========= ==============================================================
case        yes       registry id, e.g. ``PML-0042``
test        yes       ``csf_jcv_pcr``, ``serum_jcv_antibody_index``, ``cd4_count``,
                      ``plasma_hiv_rna`` or ``other``
day         yes       days relative to the case's index date (may be negative)
result      yes       ``detected``, ``detected_below_loq``, ``not_detected``,
                      ``positive``, ``negative``, ``indeterminate``, ``not_done``,
                      ``quantitative``
value       no        the number, where there is one
unit        with value copies/mL, IU/mL, log10 copies/mL, cells/µL, %, index, ...
assay       no        assay name, e.g. ``Quest ultrasensitive JCV PCR``
lod         no        limit of detection, in the value's unit
loq         no        limit of quantification, in the value's unit
test_name   for other name of the test when ``test`` is ``other``
note        no        free text
=========== ========= ==============================================================

A case holds one record of each result. Two results are *identical* when they are on the same
case and agree on the test (and, for ``other``, its ``test_name``), the day, the qualitative
result, the value, the unit, the assay, the LOD and the LOQ (:func:`same_result_key`). Units
compare in their canonical spelling, the test name and the assay without regard to case or
runs of spaces, numbers exactly, and an empty cell matches only an empty cell. The note is
not part of it: it comments on a result, so a result entered again with another note is still
the same result. :func:`add_lab_result` refuses an identical result; :func:`import_lab_file`
skips rows identical to results on record (and says which lines) and refuses a file that
holds the same result twice.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.domain import LabQualitative, LabTest
from workbench.errors import NotFoundError, ValidationError
from workbench.policy import Action, require
from workbench.registry import audit
from workbench.registry.models import Case, LabResult
from workbench.users import Actor

_UNIT_SPELLINGS = {
    "copies/ml": "copies/mL",
    "copies/ml csf": "copies/mL",
    "cp/ml": "copies/mL",
    "c/ml": "copies/mL",
    "copies per ml": "copies/mL",
    "iu/ml": "IU/mL",
    "ui/ml": "IU/mL",
    "log10 copies/ml": "log10 copies/mL",
    "log copies/ml": "log10 copies/mL",
    "log10 iu/ml": "log10 IU/mL",
    "cells/ul": "cells/µL",
    "cells/µl": "cells/µL",
    "cells/μl": "cells/µL",
    "/ul": "cells/µL",
    "/µl": "cells/µL",
    "cells/mm3": "cells/µL",
    "cells/mm^3": "cells/µL",
    "/mm3": "cells/µL",
    "10^9/l": "10^9/L",
    "x10^9/l": "10^9/L",
    "g/l": "g/L",
    "%": "%",
    "index": "index",
    "ai": "index",
}
"""Spellings of one unit mapped to its canonical form. ``cells/mm3`` is the same unit as
``cells/µL`` (1 mm³ = 1 µL), so that mapping is a spelling, not a conversion."""

ALLOWED_UNITS: dict[LabTest, frozenset[str]] = {
    LabTest.CSF_JCV_PCR: frozenset({"copies/mL", "IU/mL", "log10 copies/mL", "log10 IU/mL"}),
    LabTest.SERUM_JCV_ANTIBODY_INDEX: frozenset({"index"}),
    LabTest.CD4_COUNT: frozenset({"cells/µL", "10^9/L", "%"}),
    LabTest.PLASMA_HIV_RNA: frozenset({"copies/mL", "log10 copies/mL"}),
}

ALLOWED_RESULTS: dict[LabTest, frozenset[LabQualitative]] = {
    LabTest.CSF_JCV_PCR: frozenset(
        {
            LabQualitative.DETECTED,
            LabQualitative.DETECTED_BELOW_LOQ,
            LabQualitative.NOT_DETECTED,
            LabQualitative.INDETERMINATE,
            LabQualitative.NOT_DONE,
        }
    ),
    LabTest.SERUM_JCV_ANTIBODY_INDEX: frozenset(
        {
            LabQualitative.POSITIVE,
            LabQualitative.NEGATIVE,
            LabQualitative.INDETERMINATE,
            LabQualitative.QUANTITATIVE,
            LabQualitative.NOT_DONE,
        }
    ),
    LabTest.CD4_COUNT: frozenset({LabQualitative.QUANTITATIVE, LabQualitative.NOT_DONE}),
    LabTest.PLASMA_HIV_RNA: frozenset(
        {
            LabQualitative.DETECTED,
            LabQualitative.DETECTED_BELOW_LOQ,
            LabQualitative.NOT_DETECTED,
            LabQualitative.QUANTITATIVE,
            LabQualitative.NOT_DONE,
        }
    ),
}

_TEST_ALIASES = {
    "csf jcv pcr": LabTest.CSF_JCV_PCR,
    "jcv pcr": LabTest.CSF_JCV_PCR,
    "anti-jcv antibody index": LabTest.SERUM_JCV_ANTIBODY_INDEX,
    "jcv index": LabTest.SERUM_JCV_ANTIBODY_INDEX,
    "cd4": LabTest.CD4_COUNT,
    "cd4 count": LabTest.CD4_COUNT,
    "hiv rna": LabTest.PLASMA_HIV_RNA,
}

_NO_VALUE = frozenset(
    {LabQualitative.NOT_DETECTED, LabQualitative.NOT_DONE, LabQualitative.DETECTED_BELOW_LOQ}
)


def normalise_unit(unit: str) -> str:
    """The canonical spelling of ``unit``; unknown units come back stripped, unchanged."""
    key = " ".join(unit.strip().split()).lower()
    return _UNIT_SPELLINGS.get(key, unit.strip())


def parse_test(text: str) -> LabTest:
    """A lab test from its value or a common name."""
    key = text.strip().lower()
    try:
        return LabTest(key)
    except ValueError:
        if key in _TEST_ALIASES:
            return _TEST_ALIASES[key]
    allowed = ", ".join(t.value for t in LabTest)
    raise ValidationError(f"test {text!r} is not one of {allowed}", field="test")


@dataclass(frozen=True, slots=True)
class LabEntry:
    """One lab result as entered, checked for consistency on construction.

    The unit is normalised in spelling; LOD and LOQ are in the value's unit.
    """

    registry_id: str
    test: LabTest
    day: int
    qualitative: LabQualitative
    value: float | None = None
    unit: str | None = None
    assay: str | None = None
    lod: float | None = None
    loq: float | None = None
    test_name: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        test, result = self.test, self.qualitative
        for name in ("value", "lod", "loq"):
            number = getattr(self, name)
            if number is not None and (not math.isfinite(number) or number < 0):
                raise ValidationError(f"{name}: {number!r} must be a finite number ≥ 0", field=name)
        if self.unit is not None:
            object.__setattr__(self, "unit", normalise_unit(self.unit) or None)
        if test == LabTest.OTHER:
            if not (self.test_name and self.test_name.strip()):
                raise ValidationError(
                    "test_name: required when the test is 'other'", field="test_name"
                )
        else:
            if result not in ALLOWED_RESULTS[test]:
                allowed = ", ".join(sorted(r.value for r in ALLOWED_RESULTS[test]))
                raise ValidationError(
                    f"result: {result.value!r} is not a result of {test.value} (use {allowed})",
                    field="result",
                )
            if self.unit is not None and self.unit not in ALLOWED_UNITS[test]:
                allowed = ", ".join(sorted(ALLOWED_UNITS[test]))
                raise ValidationError(
                    f"unit: {self.unit!r} is not a unit of {test.value} (use {allowed})",
                    field="unit",
                )
        if result in _NO_VALUE and self.value is not None:
            raise ValidationError(
                f"value: a {result.value} result has no value; leave it empty", field="value"
            )
        needs_value = result == LabQualitative.QUANTITATIVE
        if needs_value and self.value is None:
            raise ValidationError(f"value: a {result.value} result needs a value", field="value")
        if self.value is not None and self.unit is None:
            raise ValidationError("unit: a value needs its unit", field="unit")
        if (self.lod is not None or self.loq is not None) and self.unit is None:
            raise ValidationError(
                "unit: LOD and LOQ are in the value's unit, which is missing", field="unit"
            )
        if self.lod is not None and self.loq is not None and self.loq < self.lod:
            raise ValidationError(f"loq: {self.loq} is below the LOD {self.lod}", field="loq")
        if (
            result == LabQualitative.DETECTED
            and self.value is not None
            and self.lod is not None
            and self.value < self.lod
        ):
            raise ValidationError(
                f"value: {self.value} is below the assay's LOD {self.lod} but the result "
                "says detected",
                field="value",
            )


ResultKey: TypeAlias = tuple[
    LabTest,
    str | None,
    int,
    LabQualitative,
    float | None,
    str | None,
    str | None,
    float | None,
    float | None,
]
"""What makes two results of one case the same result (see the module's notes)."""


def _folded(text: str | None) -> str | None:
    """Free text compared without regard to case or runs of spaces; blank is ``None``."""
    words = " ".join((text or "").split())
    return words.casefold() or None


def same_result_key(
    test: LabTest,
    test_name: str | None,
    day: int,
    qualitative: LabQualitative,
    value: float | None,
    unit: str | None,
    assay: str | None,
    lod: float | None,
    loq: float | None,
) -> ResultKey:
    """The identity of a result within its case: equal keys mean identical results.

    The test name counts only for ``other`` tests; the unit counts in its canonical spelling
    (:func:`normalise_unit`), the test name and the assay as :func:`_folded` text; numbers
    compare exactly. The note is left out on purpose: it comments on the result.
    """
    return (
        test,
        _folded(test_name) if test == LabTest.OTHER else None,
        day,
        qualitative,
        value,
        (normalise_unit(unit) or None) if unit else None,
        _folded(assay),
        lod,
        loq,
    )


def _entry_key(entry: LabEntry) -> ResultKey:
    return same_result_key(
        entry.test, entry.test_name, entry.day, entry.qualitative, entry.value, entry.unit,
        entry.assay, entry.lod, entry.loq,
    )  # fmt: skip


def _row_key(row: LabResult) -> ResultKey:
    return same_result_key(
        row.test, row.test_name, row.day, row.qualitative, row.value, row.unit, row.assay,
        row.lod, row.loq,
    )  # fmt: skip


def _describe(entry: LabEntry) -> str:
    """``csf_jcv_pcr`` (or the name of an ``other`` test) for messages."""
    if entry.test == LabTest.OTHER and entry.test_name:
        return f"{entry.test.value} ({entry.test_name.strip()})"
    return entry.test.value


def add_lab_result(session: Session, actor: Actor, entry: LabEntry) -> LabResult:
    """Store one validated lab result on its case, audited.

    A result identical to one the case already has (see the module's notes) is refused with a
    :class:`ValidationError` naming the case, the test and the day; nothing is added.
    """
    require(actor, Action.ENTER_LABS)
    case = session.scalars(select(Case).where(Case.registry_id == entry.registry_id)).first()
    if case is None:
        raise NotFoundError(f"case: no case {entry.registry_id!r} in this registry")
    key = _entry_key(entry)
    same_day = session.scalars(
        select(LabResult).where(
            LabResult.case_id == case.id, LabResult.test == entry.test, LabResult.day == entry.day
        )
    )
    for stored in same_day:
        if _row_key(stored) == key:
            raise ValidationError(
                f"case {entry.registry_id}: an identical {_describe(entry)} result of day "
                f"{entry.day} is already on record (lab result #{stored.id}: same result, value, "
                "unit, assay, LOD and LOQ); nothing was added"
            )
    return _store(session, actor, case, entry)


def _store(session: Session, actor: Actor, case: Case, entry: LabEntry) -> LabResult:
    """Add ``entry`` to ``case`` and record the audit event (no checks beyond the entry's)."""
    result = LabResult(
        case_id=case.id,
        test=entry.test,
        test_name=entry.test_name,
        day=entry.day,
        qualitative=entry.qualitative,
        value=entry.value,
        unit=entry.unit,
        assay=entry.assay,
        lod=entry.lod,
        loq=entry.loq,
        note=entry.note,
    )
    session.add(result)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="lab.create",
        entity_type="lab_result",
        entity_id=result.id,
        after={
            "case": entry.registry_id,
            "test": entry.test.value,
            "day": entry.day,
            "result": entry.qualitative.value,
            "value": entry.value,
            "unit": entry.unit,
            "assay": entry.assay,
            "lod": entry.lod,
            "loq": entry.loq,
        },
    )
    return result


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row of a lab file was refused."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


class LabFileError(ValidationError):
    """A lab file was refused; :attr:`errors` lists every bad row. Nothing was imported."""

    def __init__(self, path: Path, errors: Sequence[RowError]) -> None:
        self.path = path
        self.errors = list(errors)
        shown = "\n".join(f"  {e}" for e in self.errors[:50])
        more = f"\n  ... and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{path}: {len(self.errors)} bad row(s), nothing imported:\n{shown}{more}")


REQUIRED_COLUMNS = ("case", "test", "day", "result")
OPTIONAL_COLUMNS = ("value", "unit", "assay", "lod", "loq", "test_name", "note")


def _column_of(message: str) -> str:
    head = message.split(":", 1)[0].strip()
    known = {"value", "unit", "lod", "loq", "result", "test_name", "test", "day", "case"}
    return head if head in known else "row"


def read_lab_file(path: Path) -> list[tuple[int, LabEntry]]:
    """Parse and validate a lab CSV into ``(line, entry)`` pairs.

    Raises :class:`LabFileError` listing every bad row, or :class:`ValidationError` when the
    file cannot be read as CSV at all.
    """
    entries, errors = _parse_lab_file(path)
    if errors:
        raise LabFileError(path, errors)
    return entries


def _parse_lab_file(path: Path) -> tuple[list[tuple[int, LabEntry]], list[RowError]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read it ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None:
        raise ValidationError(f"{path}: the file is empty; expected a header row")
    columns = {name.strip().lower(): name for name in reader.fieldnames if name}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise LabFileError(
            path, [RowError(1, c, "required column is missing from the header") for c in missing]
        )
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise LabFileError(path, [RowError(1, c, "unknown column") for c in unknown])
    entries: list[tuple[int, LabEntry]] = []
    errors: list[RowError] = []
    for row in reader:
        line = reader.line_num
        cell = {key: (row.get(original) or "").strip() for key, original in columns.items()}
        if None in row:
            errors.append(RowError(line, "row", "more cells than header columns"))
            continue
        try:
            entries.append((line, _entry_from_cells(cell)))
        except _CellError as exc:
            errors.append(RowError(line, exc.column, exc.reason))
        except ValidationError as exc:
            column = _column_of(str(exc))
            reason = str(exc).removeprefix(f"{column}:").strip()
            errors.append(RowError(line, column, reason))
    if not entries and not errors:
        raise ValidationError(f"{path}: no rows under the header")
    return entries, errors


class _CellError(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


def _number(cell: dict[str, str], column: str) -> float | None:
    text = cell.get(column, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise _CellError(column, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise _CellError(column, f"{text!r} is not a finite number")
    return value


def _entry_from_cells(cell: dict[str, str]) -> LabEntry:
    for column in REQUIRED_COLUMNS:
        if not cell[column]:
            raise _CellError(column, "empty")
    try:
        test = parse_test(cell["test"])
    except ValidationError as exc:
        raise _CellError("test", str(exc)) from None
    try:
        day = int(cell["day"])
    except ValueError:
        raise _CellError("day", f"{cell['day']!r} is not a whole number of days") from None
    try:
        result = LabQualitative(cell["result"].lower())
    except ValueError:
        allowed = ", ".join(r.value for r in LabQualitative)
        raise _CellError("result", f"{cell['result']!r} is not one of {allowed}") from None
    return LabEntry(
        registry_id=cell["case"],
        test=test,
        day=day,
        qualitative=result,
        value=_number(cell, "value"),
        unit=cell.get("unit") or None,
        assay=cell.get("assay") or None,
        lod=_number(cell, "lod"),
        loq=_number(cell, "loq"),
        test_name=cell.get("test_name") or None,
        note=cell.get("note") or None,
    )


@dataclass(frozen=True, slots=True)
class LabImport:
    """What :func:`import_lab_file` did: the results it stored and the lines it skipped.

    Iterating it, and ``len()``, go over the stored results (as when the import returned a
    list of them); so it is falsy when every row was skipped.
    """

    stored: tuple[LabResult, ...]
    skipped_lines: tuple[int, ...] = ()
    """File lines (the header is line 1) whose result was already on record, ascending."""

    def __iter__(self) -> Iterator[LabResult]:
        return iter(self.stored)

    def __len__(self) -> int:
        return len(self.stored)


def import_lab_file(session: Session, actor: Actor, path: Path) -> LabImport:
    """Validate the whole file, then store its new rows in the caller's transaction.

    A file with any bad row raises :class:`LabFileError` before anything is written: a
    malformed row, a row naming a case the registry does not have, or a row identical to an
    earlier row of the file (naming both lines). A row identical to a result already on
    record for its case is not stored again; its line is in :attr:`LabImport.skipped_lines`.
    The file's cases and their results on record are read in one query each.
    """
    require(actor, Action.ENTER_LABS)
    entries, errors = _parse_lab_file(path)
    wanted = {e.registry_id for _, e in entries}
    cases = {
        c.registry_id: c for c in session.scalars(select(Case).where(Case.registry_id.in_(wanted)))
    }
    errors += [
        RowError(line, "case", f"no case {e.registry_id!r} in this registry")
        for line, e in entries
        if e.registry_id not in cases
    ]
    first_line: dict[tuple[str, ResultKey], int] = {}
    for line, entry in entries:
        seen = first_line.setdefault((entry.registry_id, _entry_key(entry)), line)
        if seen != line:
            errors.append(
                RowError(
                    line,
                    "row",
                    f"the same result as line {seen} (case {entry.registry_id}, "
                    f"{_describe(entry)}, day {entry.day}); a file holds each result once",
                )
            )
    if errors:
        raise LabFileError(path, sorted(errors, key=lambda e: e.line))
    on_record = {
        (registry_id, _row_key(row))
        for row, registry_id in session.execute(
            select(LabResult, Case.registry_id)
            .join(Case, LabResult.case_id == Case.id)
            .where(Case.registry_id.in_(wanted))
        )
    }
    stored: list[LabResult] = []
    skipped: list[int] = []
    for line, entry in entries:
        if (entry.registry_id, _entry_key(entry)) in on_record:
            skipped.append(line)
        else:
            stored.append(_store(session, actor, cases[entry.registry_id], entry))
    return LabImport(tuple(stored), tuple(skipped))
