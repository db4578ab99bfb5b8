"""Incidence denominators: the source population of a stratum, imported from a CSV file.

The registry counts its PML cases; it cannot count the patients they came from. A
coordinator imports those numbers (from a drug's exposure figures, a national MS register,
a cohort's follow-up) as a CSV file with the columns ``stratum,year,patients,person_years,
source``; :mod:`workbench.analytics` divides the cases of each stratum by them.

**The stratum grammar.** A stratum names what the cases are counted by::

    stratum := "all" | facet ( "|" facet )*
    facet   := key ":" value

=============  ==========================================================================
key            value
=============  ==========================================================================
``condition``  a :class:`~workbench.domain.Condition` value (``multiple_sclerosis`` is not
               one: the registry says ``ms_natalizumab``); the case's main condition
``exposure``   a drug name as entered on exposures (free text, compared case-insensitively);
               cases with a (non-prior) exposure to that drug
``site``       a site code (capital letters, digits, ``-``)
``anti_jcv``   ``<0.9``, ``0.9-1.5``, ``>1.5`` or ``unknown`` (the clinical record's index)
``prior_is``   ``yes``, ``no`` or ``unknown`` (a prior immunosuppressant)
``months``     ``1-24``, ``25-48``, ``49-72``, ``>72`` or ``unknown`` (months of the main
               exposure before the index event)
=============  ==========================================================================

Keys and fixed values are case-insensitive; each key appears at most once; the stored text is
canonical (keys in the order of the table, values lower case except site codes), so
``Exposure:Natalizumab|anti_jcv:>1.5`` and ``anti_jcv:>1.5|exposure:natalizumab`` are one
stratum. The last three keys are the cells of the Bloomgren et al. (NEJM 2012) risk table,
e.g. ``exposure:natalizumab|anti_jcv:>1.5|prior_is:yes|months:25-48``.

**The file.** ``year`` is a whole calendar year of diagnosis or empty for all years;
``patients`` a whole number ≥ 1 and ``person_years`` a number > 0, at least one of the two
given; ``source`` says where the numbers come from. The import is all or nothing: every bad
row is reported as ``FILE:LINE: COLUMN: PROBLEM`` and nothing is written while any row is
bad. A stratum and year imported again replaces the stored row; the audit event
``registry.denominators`` keeps the values it replaced.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.actor import Actor
from workbench.clinical import EARLIEST_DIAGNOSIS_YEAR
from workbench.domain import Condition
from workbench.errors import ValidationError
from workbench.policy import Action, require
from workbench.registry import audit
from workbench.registry.models import DenominatorRow, utcnow

__all__ = [
    "ANTI_JCV_BANDS",
    "AUDIT_ACTION",
    "COLUMNS",
    "MONTHS_BANDS",
    "PRIOR_IS",
    "STRATUM_KEYS",
    "Denominator",
    "DenominatorFileError",
    "ImportSummary",
    "Problem",
    "StoredDenominator",
    "Stratum",
    "import_denominators",
    "list_denominators",
    "read_denominators",
]

AUDIT_ACTION = "registry.denominators"
"""The audit event of an import (before: the rows replaced; after: the rows imported)."""

COLUMNS = ("stratum", "year", "patients", "person_years", "source")
"""The columns of a denominators file (``patients`` or ``person_years`` may be left out)."""

ANTI_JCV_BANDS = ("<0.9", "0.9-1.5", ">1.5", "unknown")
"""Anti-JCV antibody index bands (Bloomgren et al. 2012; Plavina et al. 2014)."""
PRIOR_IS = ("yes", "no", "unknown")
"""Prior immunosuppressant use."""
MONTHS_BANDS = ("1-24", "25-48", "49-72", ">72", "unknown")
"""Months of the main exposure before the index event (Bloomgren et al. 2012)."""

STRATUM_KEYS = ("condition", "exposure", "site", "anti_jcv", "prior_is", "months")
"""The facets a stratum may name, in their canonical order."""

_FIXED: dict[str, tuple[str, ...]] = {
    "condition": tuple(c.value for c in Condition),
    "anti_jcv": ANTI_JCV_BANDS,
    "prior_is": PRIOR_IS,
    "months": MONTHS_BANDS,
}
_SITE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
MAX_STRATUM = 200
"""The longest stratum text stored."""


@dataclass(frozen=True, slots=True)
class Stratum:
    """A parsed stratum: its facets ``(key, value)`` in canonical order (none for ``all``)."""

    facets: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Stratum:
        """The stratum ``text`` names; :class:`ValueError` saying what is wrong otherwise."""
        text = text.strip()
        if not text:
            raise ValueError("empty stratum (write 'all' for the whole registry)")
        if text.lower() == "all":
            return cls()
        found: dict[str, str] = {}
        for part in text.split("|"):
            key, colon, value = part.partition(":")
            key, value = key.strip().lower(), value.strip()
            if not colon or not key:
                raise ValueError(
                    f"{part.strip()!r} is not KEY:VALUE (keys: {', '.join(STRATUM_KEYS)}; "
                    "facets joined by '|')"
                )
            if key not in STRATUM_KEYS:
                raise ValueError(f"unknown key {key!r} (keys: {', '.join(STRATUM_KEYS)})")
            if key in found:
                raise ValueError(f"key {key!r} is named twice")
            if not value:
                raise ValueError(f"{key}: empty value")
            found[key] = _value(key, value)
        stratum = cls(tuple((k, found[k]) for k in STRATUM_KEYS if k in found))
        if len(str(stratum)) > MAX_STRATUM:
            raise ValueError(f"longer than {MAX_STRATUM} characters")
        return stratum

    def get(self, key: str) -> str | None:
        """The value of facet ``key``, or ``None`` when the stratum does not restrict it."""
        return dict(self.facets).get(key)

    @property
    def keys(self) -> frozenset[str]:
        """The keys this stratum restricts."""
        return frozenset(k for k, _ in self.facets)

    def __str__(self) -> str:
        if not self.facets:
            return "all"
        return "|".join(f"{key}:{value}" for key, value in self.facets)


def _value(key: str, value: str) -> str:
    if key == "site":
        code = value.upper()
        if not _SITE.match(code):
            raise ValueError(f"site: {value!r} is not a site code (capital letters, digits, '-')")
        return code
    if key == "exposure":
        if "|" in value:
            raise ValueError("exposure: a drug name cannot contain '|'")
        return " ".join(value.lower().split())
    allowed = _FIXED[key]
    lowered = value.lower().replace("–", "-").replace(" ", "")
    if lowered not in allowed:
        raise ValueError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return lowered


@dataclass(frozen=True, slots=True)
class Denominator:
    """One row of a denominators file, validated: a stratum's population in a year (or all)."""

    stratum: str
    """Canonical stratum text (:class:`Stratum`)."""
    year: int | None
    patients: int | None
    person_years: float | None
    source: str
    line: int = 0
    """The line of the file it was read from (0 when not read from a file)."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "stratum": self.stratum,
            "year": self.year,
            "patients": self.patients,
            "person_years": self.person_years,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class StoredDenominator:
    """A denominator row in the registry, with who imported it and when."""

    stratum: str
    year: int | None
    patients: int | None
    person_years: float | None
    source: str
    imported_by: str
    imported_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        moment = self.imported_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return {
            "stratum": self.stratum,
            "year": self.year,
            "patients": self.patients,
            "person_years": self.person_years,
            "source": self.source,
            "imported_by": self.imported_by,
            "imported_at": moment.astimezone(dt.UTC)
            .replace(tzinfo=None)
            .isoformat(timespec="seconds")
            + "Z",
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a denominators file: where, which column, what."""

    file: str
    line: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.problem}"


class DenominatorFileError(ValidationError):
    """A denominators file refused: :attr:`problems` lists every bad cell (nothing written)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the denominators file; nothing "
            f"was imported:\n{lines}",
            field=self.problems[0].column if self.problems else None,
        )


def _whole(text: str, *, minimum: int) -> int | str:
    """``text`` as a whole number ≥ ``minimum``, else the problem."""
    try:
        value = float(text)
    except ValueError:
        return f"{text!r} is not a number"
    if not math.isfinite(value) or value != int(value):
        return f"{text!r} is not a whole number"
    if value < minimum:
        return f"{text!r} is less than {minimum}" if value >= 0 else f"{text!r} is negative"
    return int(value)


def read_denominators(path: Path, *, shown_as: str | None = None) -> tuple[Denominator, ...]:
    """Read and check a denominators file; every problem at once in a
    :class:`DenominatorFileError`. ``shown_as`` is the file's name in the messages (default:
    the path as given)."""
    path = Path(path)
    name = shown_as or str(path)
    problems: list[Problem] = []

    def bad(line: int, column: str, problem: str) -> None:
        problems.append(Problem(name, line, column, problem))

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            records = [(line, record) for line, record in _records(handle)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DenominatorFileError(
            [Problem(name, 1, "file", f"cannot be read as a CSV table: {exc}")]
        ) from exc
    if not records:
        raise DenominatorFileError([Problem(name, 1, "header", "empty file")])
    header_line, header = records[0]
    columns = [cell.strip().lower() for cell in header]
    for column in columns:
        if column not in COLUMNS:
            bad(header_line, column or "header", f"unknown column (columns: {', '.join(COLUMNS)})")
    for column in ("stratum", "year", "source"):
        if column not in columns:
            bad(header_line, column, "missing column")
    if "patients" not in columns and "person_years" not in columns:
        bad(header_line, "patients", "missing column: give 'patients' and/or 'person_years'")
    if len(set(columns)) != len(columns):
        bad(header_line, "header", "a column is named twice")
    if problems:
        raise DenominatorFileError(problems)
    if len(records) == 1:
        raise DenominatorFileError([Problem(name, header_line, "stratum", "no data rows")])

    rows: list[Denominator] = []
    seen: dict[tuple[str, int | None], int] = {}
    this_year = dt.datetime.now(dt.UTC).year
    for line, record in records[1:]:
        if len(record) != len(columns):
            bad(line, "row", f"has {len(record)} cells, the header has {len(columns)}")
            continue
        cells = {c: v.strip() for c, v in zip(columns, record, strict=True)}
        ok = True
        stratum: Stratum | None = None
        try:
            stratum = Stratum.parse(cells["stratum"])
        except ValueError as exc:
            bad(line, "stratum", str(exc))
            ok = False
        year: int | None = None
        year_ok = True
        if cells["year"]:
            parsed = _whole(cells["year"], minimum=0)
            if isinstance(parsed, str):
                bad(line, "year", parsed)
                ok = year_ok = False
            elif not EARLIEST_DIAGNOSIS_YEAR <= parsed <= this_year:
                span = f"between {EARLIEST_DIAGNOSIS_YEAR} and {this_year}"
                bad(line, "year", f"{parsed} is not a year {span}")
                ok = year_ok = False
            else:
                year = parsed
        patients: int | None = None
        if cells.get("patients"):
            counted = _whole(cells["patients"], minimum=1)
            if isinstance(counted, str):
                bad(line, "patients", counted)
                ok = False
            else:
                patients = counted
        person_years: float | None = None
        if cells.get("person_years"):
            text = cells["person_years"]
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                bad(line, "person_years", f"{text!r} is not a number")
                ok = False
            elif value <= 0:
                bad(line, "person_years", f"{text!r} is {'negative' if value < 0 else 'zero'}")
                ok = False
            else:
                person_years = value
        if ok and patients is None and person_years is None:
            bad(line, "patients", "neither patients nor person_years given (at least one)")
            ok = False
        source = cells["source"]
        if not source:
            bad(line, "source", "empty: say where the numbers come from")
            ok = False
        elif len(source) > 500:
            bad(line, "source", "longer than 500 characters")
            ok = False
        if stratum is not None and year_ok:
            key = (str(stratum), year)
            if key in seen:
                when = f"year {year}" if year is not None else "all years"
                bad(line, "stratum", f"{stratum} for {when} is given twice (line {seen[key]})")
                ok = False
            else:
                seen[key] = line
        if ok and stratum is not None:
            rows.append(Denominator(str(stratum), year, patients, person_years, source, line))
    if problems:
        raise DenominatorFileError(problems)
    return tuple(rows)


def _records(handle: Iterable[str]) -> Iterable[tuple[int, list[str]]]:
    """The file's non-blank CSV records with the line each starts on."""
    reader = csv.reader(handle)
    start = 1
    for record in reader:
        if any(cell.strip() for cell in record):
            yield start, record
        start = reader.line_num + 1


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did (or, with ``dry_run``, would do)."""

    file: str
    dry_run: bool
    added: tuple[Denominator, ...]
    replaced: tuple[Denominator, ...]
    """The new values of rows that replaced stored ones."""
    previous: tuple[StoredDenominator, ...]
    """The stored values they replace."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "file": self.file,
            "dry_run": self.dry_run,
            "added": [row.as_json() for row in self.added],
            "replaced": [row.as_json() for row in self.replaced],
            "previous": [row.as_json() for row in self.previous],
        }


def _stored(row: DenominatorRow) -> StoredDenominator:
    return StoredDenominator(
        stratum=row.stratum,
        year=row.year,
        patients=row.patients,
        person_years=row.person_years,
        source=row.source,
        imported_by=row.imported_by,
        imported_at=row.imported_at,
    )


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in ("stratum", "year", "patients", "person_years", "source")}


def import_denominators(
    session: Session,
    actor: Actor,
    rows: Sequence[Denominator],
    *,
    file: str,
    dry_run: bool = False,
) -> ImportSummary:
    """Store ``rows`` (coordinators, administrators), replacing stored rows of the same
    stratum and year, with one audit event; with ``dry_run`` only say what would change.

    ``file`` is the file's name as the audit event records it (no folder).
    """
    require(actor, Action.IMPORT_DENOMINATORS)
    existing = {(r.stratum, r.year): r for r in session.scalars(select(DenominatorRow))}
    added: list[Denominator] = []
    replaced: list[Denominator] = []
    previous: list[StoredDenominator] = []
    now = utcnow()
    for row in rows:
        old = existing.get((row.stratum, row.year))
        if old is None:
            added.append(row)
            if not dry_run:
                session.add(
                    DenominatorRow(
                        stratum=row.stratum,
                        year=row.year,
                        patients=row.patients,
                        person_years=row.person_years,
                        source=row.source,
                        imported_by=actor.username,
                        imported_at=now,
                    )
                )
            continue
        replaced.append(row)
        previous.append(_stored(old))
        if not dry_run:
            old.patients = row.patients
            old.person_years = row.person_years
            old.source = row.source
            old.imported_by = actor.username
            old.imported_at = now
    summary = ImportSummary(file, dry_run, tuple(added), tuple(replaced), tuple(previous))
    if not dry_run:
        audit.record(
            session,
            actor=actor.username,
            role=actor.main_role,
            action=AUDIT_ACTION,
            entity_type="denominators",
            entity_id=file,
            before={"replaced": [_plain(p.as_json()) for p in previous]} if previous else None,
            after={
                "file": file,
                "added": [r.as_json() for r in added],
                "replaced": [r.as_json() for r in replaced],
            },
        )
    return summary


def list_denominators(session: Session, actor: Actor) -> tuple[StoredDenominator, ...]:
    """Every stored denominator, by stratum then year (all years first); the analytics'
    readers (coordinators, administrators, panel members) may list them."""
    require(actor, Action.SEE_ANALYTICS)
    rows = session.scalars(select(DenominatorRow)).all()
    stored = [_stored(r) for r in rows]
    stored.sort(key=lambda d: (d.stratum, -1 if d.year is None else d.year))
    return tuple(stored)
