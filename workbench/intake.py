"""Site packages: a whole case in one folder, read and validated into a frozen plan.

A site sends a case as a folder: ``manifest.toml`` (the case, its clinical record, exposures,
clinical features, the name of its lab CSV and its imaging timepoints) next to the lab CSV and
one image folder per imaging entry. :func:`read_package` reads it **without touching the
registry** and returns an :class:`IntakePlan`, or raises :class:`PackageError` listing every
problem of the package at once, each as ``FILE:LINE: FIELD: PROBLEM`` (:class:`Problem`), so a
site fixes its package in one round rather than one error at a time.

The manifest format (``format = "pml-site-package"``, ``version = 1``) is documented in the
README ("Site packages") and by the example :func:`write_template` writes. Its version policy:
a change that an older workbench would misread (a new required key, a changed meaning) raises
``version``; the workbench reads every version it lists in :data:`SUPPORTED_VERSIONS` and
refuses a newer one by name, never guessing.

What needs the registry or the image parser is the service's
(:mod:`workbench.services.intake`): the de-identification gate over every image file (run in
the parser sandbox through :func:`gate_worker`), loading the series, the conflicts with cases
already on record, and the all-or-nothing write.

TOML does not keep line numbers, so :class:`_Lines` finds them in the text: the line of each
``[table]`` / ``[[array]]`` header and of each ``key =`` under it. A problem names the key's
line, or its table's when the key is absent.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from adjudication.text import describe_forbidden
from adjudication.vocabulary import TriState
from workbench.cases import (
    AGE_BAND_PATTERN,
    MAX_READERS,
    REGISTRY_ID_PATTERN,
    SITE_CODE_PATTERN,
    NewCase,
    NewExposure,
    NewFeature,
    validate_age_band,
)
from workbench.clinical import ClinicalRecord, Histology, Score, Treatment
from workbench.domain import Condition, Sex, coerce_enum
from workbench.errors import ValidationError
from workbench.labs import LabEntry, LabFileError, same_result_key
from workbench.labs import _parse_lab_file as parse_lab_file

FORMAT = "pml-site-package"
"""The manifest's ``format`` value."""
MANIFEST = "manifest.toml"
"""The manifest's file name, at the top of the package folder."""
VERSION = 1
"""The manifest version this workbench writes."""
SUPPORTED_VERSIONS = frozenset({1})
"""Manifest versions this workbench reads."""

__all__ = [
    "FORMAT",
    "MANIFEST",
    "SUPPORTED_VERSIONS",
    "VERSION",
    "ImagingEntry",
    "IntakePlan",
    "PackageError",
    "PackageParts",
    "Problem",
    "gate_worker",
    "package_checksum",
    "read_package",
    "write_template",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a package: where (file relative to the package, line) and what."""

    file: str
    line: int | None
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.problem}"

    def as_json(self) -> dict[str, Any]:
        """The problem as ``--json`` prints it."""
        return {"file": self.file, "line": self.line, "field": self.field, "problem": self.problem}


class PackageError(ValidationError):
    """A package was refused; :attr:`problems` lists every problem. Nothing was written."""

    def __init__(self, root: Path | str, problems: Sequence[Problem]) -> None:
        self.root = str(root)
        self.problems = tuple(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:100])
        more = f"\n  ... and {len(self.problems) - 100} more" if len(self.problems) > 100 else ""
        super().__init__(
            f"{self.root}: {len(self.problems)} problem(s), nothing was written:\n{shown}{more}"
        )


@dataclass(frozen=True, slots=True)
class ImagingEntry:
    """One ``[[imaging]]`` entry: a timepoint's folder of DICOM or NIfTI files."""

    day: int
    folder: Path
    """The folder, resolved (inside the package)."""
    relative: str
    """The folder as the manifest names it, relative to the package."""
    description: str | None = None
    line: int | None = None
    """The entry's line in the manifest."""


@dataclass(frozen=True, slots=True)
class IntakePlan:
    """A package read and validated: everything :func:`workbench.services.intake.intake`
    writes, except the images' contents (loaded by the service)."""

    root: Path
    version: int
    checksum: str
    """SHA-256 over every file of the package (relative path and bytes), in path order."""
    case: NewCase
    """The case with its exposures and clinical features."""
    clinical: ClinicalRecord | None
    labs: tuple[LabEntry, ...]
    lab_file: str | None
    imaging: tuple[ImagingEntry, ...]


# --- finding lines in TOML text ----------------------------------------------------------------

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


class _Lines:
    """Where each table and key of a TOML text is (1-based lines)."""

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple[str, int | None], int] = {}
        self.keys: dict[tuple[str, int | None, str], int] = {}
        counts: dict[str, int] = {}
        table, index = "", None
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            if match := _ARRAY_HEADER.match(line):
                table = match.group(1).replace(" ", "")
                index = counts.get(table, 0)
                counts[table] = index + 1
                self.tables[(table, index)] = number
                continue
            if match := _TABLE_HEADER.match(line):
                table, index = match.group(1).replace(" ", ""), None
                self.tables[(table, None)] = number
                continue
            if match := _KEY.match(line):
                key = match.group(1) or match.group(2) or match.group(3)
                self.keys.setdefault((table, index, key), number)
                for quote in ('"""', "'''"):
                    if line.count(quote) % 2 == 1:
                        in_string = quote

    def of(self, table: str, index: int | None = None, key: str | None = None) -> int | None:
        """The line of ``key`` in that table (else the table's header line, else ``None``).

        ``index`` counts the tables of an array of tables (``[[exposures]]``) from 0; an array
        of tables nested in another (``[[clinical.histopathology]]``) is counted on its own.
        """
        if key is not None and (table, index, key) in self.keys:
            return self.keys[(table, index, key)]
        return self.tables.get((table, index))


class _Problems:
    """Problems as they are found, against one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[Problem] = []

    def add(self, line: int | None, field: str, problem: str) -> None:
        self.found.append(Problem(self.file, line, field, problem))


# --- typed reading of TOML values --------------------------------------------------------------


class _BadValueError(Exception):
    """A value of the wrong type or form; the message is the problem."""


def _kind(value: object) -> str:
    return {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _as_text(value: object) -> str:
    if not isinstance(value, str):
        raise _BadValueError(f"expected text in quotes, got {_kind(value)} ({value!r})")
    return value


def _as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadValueError(f"expected a whole number, got {_kind(value)} ({value!r})")
    return value


def _as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _BadValueError(f"expected true or false, got {_kind(value)} ({value!r})")
    return value


def _as_day(value: object) -> int:
    day = _as_int(value)
    if abs(day) > 36_500:
        raise _BadValueError(f"{day} days is more than a century from the index date")
    return day


def _plain_text(what: str, *, multiline: bool = False) -> Callable[[object], str]:
    def read(value: object) -> str:
        text = _as_text(value).strip()
        refused = describe_forbidden(what, text, multiline=multiline)
        if refused is not None:
            raise _BadValueError(refused.removeprefix(f"{what}: "))
        return text

    return read


def _pattern(pattern: re.Pattern[str], example: str) -> Callable[[object], str]:
    def read(value: object) -> str:
        text = _as_text(value)
        if not pattern.match(text):
            raise _BadValueError(f"{text!r} is not {example}")
        return text

    return read


def _enum_of(kind: Any) -> Callable[[object], Any]:
    def read(value: object) -> Any:
        text = _as_text(value).strip().lower()
        try:
            return coerce_enum(kind, text, "value")
        except ValidationError as error:
            raise _BadValueError(str(error).removeprefix("value: ")) from None

    return read


def _age_band(value: object) -> str:
    text = _as_text(value)
    if not AGE_BAND_PATTERN.match(text.strip()):
        raise _BadValueError(f"{text!r} is not a band like '40-49' or '80+' (ages are banded)")
    try:
        return validate_age_band(text)
    except ValidationError as error:
        raise _BadValueError(str(error).removeprefix("age band: ")) from None


def _readers(value: object) -> int:
    number = _as_int(value)
    if not 1 <= number <= MAX_READERS:
        raise _BadValueError(f"{number} is not between 1 and {MAX_READERS}")
    return number


@dataclass(frozen=True, slots=True)
class _Key:
    read: Callable[[object], Any]
    required: bool = False


_TOP_KEYS = {"format", "version", "case", "clinical", "exposures", "features", "labs", "imaging"}

_CASE_KEYS: dict[str, _Key] = {
    "registry_id": _Key(_pattern(REGISTRY_ID_PATTERN, "a pseudonymous id like 'PML-0042'"), True),
    "site": _Key(_pattern(SITE_CODE_PATTERN, "a site code (capital letters, digits, '-')"), True),
    "sex": _Key(_enum_of(Sex), True),
    "age_band": _Key(_age_band, True),
    "condition": _Key(_enum_of(Condition), True),
    "condition_detail": _Key(_plain_text("condition detail")),
    "clinical_summary": _Key(_plain_text("clinical summary", multiline=True)),
    "clinical_consistent": _Key(_enum_of(TriState)),
    "index_event": _Key(_plain_text("index event")),
    "readers_required": _Key(_readers),
}
"""``[case]``: what ``case add`` takes."""

_EXPOSURE_KEYS: dict[str, _Key] = {
    "drug": _Key(_plain_text("drug"), True),
    "drug_class": _Key(_as_text),
    "dosing_schedule": _Key(_as_text),
    "start_day": _Key(_as_day),
    "stop_day": _Key(_as_day),
    "last_dose_day": _Key(_as_day),
    "infusion_count": _Key(_as_int),
    "prior": _Key(_as_bool),
}
"""``[[exposures]]``: the fields of :class:`~workbench.cases.NewExposure`."""

_FEATURE_KEYS: dict[str, _Key] = {
    "feature": _Key(_plain_text("feature"), True),
    "status": _Key(_enum_of(TriState), True),
    "onset_day": _Key(_as_day),
    "note": _Key(_plain_text("note")),
}
"""``[[features]]``: the fields of :class:`~workbench.cases.NewFeature`."""

_IMAGING_KEYS: dict[str, _Key] = {
    "day": _Key(_as_day, True),
    "folder": _Key(_as_text, True),
    "description": _Key(_plain_text("description")),
}

_CLINICAL_LISTS = {
    "histopathology": Histology,
    "treatments": Treatment,
    "scores": Score,
}
"""``[[clinical.X]]`` arrays of tables and the value each entry becomes."""


def _read_table(
    data: Mapping[str, Any],
    spec: Mapping[str, _Key],
    where: str,
    line_of: Callable[[str | None], int | None],
    problems: _Problems,
) -> dict[str, Any] | None:
    """Check one table's keys against ``spec``: unknown keys, missing required keys and each
    value's type and form; the values read, or ``None`` when any was refused."""
    values: dict[str, Any] = {}
    ok = True
    for key in data:
        if key not in spec:
            problems.add(line_of(key), f"{where}.{key}", f"unknown key (known: {', '.join(spec)})")
            ok = False
    for key, rule in spec.items():
        if key not in data:
            if rule.required:
                problems.add(line_of(None), f"{where}.{key}", "required key is missing")
                ok = False
            continue
        try:
            values[key] = rule.read(data[key])
        except _BadValueError as bad:
            problems.add(line_of(key), f"{where}.{key}", str(bad))
            ok = False
    return values if ok else None


def _key_of(message: str, keys: Iterable[str]) -> str | None:
    """The key a value type's refusal is about: the one its message names first."""
    text = message.lower().replace("-", " ")
    found: list[tuple[int, int, str]] = []
    for key in keys:
        words = key.replace("_", " ")
        at = text.find(words)
        if at < 0 and key.endswith("_count"):
            at = text.find(key.split("_")[0])
        if at >= 0:
            found.append((at, -len(words), key))
    return min(found)[2] if found else None


def _array(
    data: Mapping[str, Any], key: str, problems: _Problems, lines: _Lines
) -> list[Mapping[str, Any]]:
    """``data[key]`` as an array of tables (``[[key]]``), or a problem."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.add(lines.of("", None, key), key, f"expected [[{key}]] tables")
        return []
    return value


# --- the package -------------------------------------------------------------------------------


def package_checksum(root: Path) -> str:
    """SHA-256 over every file under ``root``: its path relative to ``root`` (POSIX), a NUL,
    its bytes, in sorted path order. The same package gives the same checksum anywhere."""
    digest = hashlib.sha256()
    files = sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.as_posix())
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def read_package(path: Path) -> IntakePlan:
    """Read and validate the package in folder ``path`` (nothing of the registry is read).

    Raises :class:`PackageError` listing every problem found: the manifest's syntax, its
    format and version, unknown keys, missing required keys, bad values, paths outside the
    package or missing, the lab CSV's rows.
    """
    parts = read_package_parts(path)
    if parts.plan is None:
        raise PackageError(path, parts.problems)
    return parts.plan


@dataclass(frozen=True, slots=True)
class PackageParts:
    """A package as far as it could be read: the plan (``None`` when any problem was found),
    the problems, and what is valid on its own even then (so the service can gate the images
    and check the registry even when something else of the package is wrong, and report
    everything together)."""

    plan: IntakePlan | None
    problems: tuple[Problem, ...]
    imaging: tuple[ImagingEntry, ...] = ()
    """The ``[[imaging]]`` entries that are valid."""
    registry_id: str | None = None
    """The case's registry id, when it is a valid one."""
    registry_id_line: int | None = None
    """Its line in the manifest."""


def read_package_parts(path: Path) -> PackageParts:
    """The package read as far as it can be (see :class:`PackageParts`)."""
    plan, problems, imaging, data = _read_parts(path)
    case = data.get("case") if isinstance(data, dict) else None
    registry_id = case.get("registry_id") if isinstance(case, dict) else None
    if not isinstance(registry_id, str) or not REGISTRY_ID_PATTERN.match(registry_id):
        return PackageParts(plan, tuple(problems), imaging)
    text = (Path(path).expanduser() / MANIFEST).read_text(encoding="utf-8")
    line = _Lines(text).of("case", None, "registry_id")
    return PackageParts(plan, tuple(problems), imaging, registry_id, line)


def _read_parts(
    path: Path,
) -> tuple[IntakePlan | None, list[Problem], tuple[ImagingEntry, ...], dict[str, Any]]:
    root = Path(path).expanduser()
    manifest = root / MANIFEST
    problems = _Problems(MANIFEST)
    if not root.is_dir():
        problems.add(None, "package", f"{root} is not a folder")
        return None, problems.found, (), {}
    if not manifest.is_file():
        problems.add(
            None,
            "manifest",
            f"the package has no {MANIFEST} (write an example with "
            "'pml-workbench intake --template DIR')",
        )
        return None, problems.found, (), {}
    try:
        text = manifest.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        problems.add(None, "manifest", f"not UTF-8 text (byte {error.start})")
        return None, problems.found, (), {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _TOML_POSITION.search(str(error))
        line = int(found.group(1)) if found else None
        problems.add(line, "syntax", str(error))
        return None, problems.found, (), {}
    lines = _Lines(text)

    fmt = data.get("format")
    if fmt is None:
        problems.add(
            lines.of("", None, "format"), "format", f'required key is missing ("{FORMAT}")'
        )
    elif fmt != FORMAT:
        problems.add(
            lines.of("", None, "format"), "format", f"{fmt!r} is not a site package ({FORMAT!r})"
        )
    version = data.get("version")
    if version is None:
        problems.add(lines.of("", None, "version"), "version", "required key is missing")
        return None, problems.found, (), data
    if isinstance(version, bool) or not isinstance(version, int):
        problems.add(lines.of("", None, "version"), "version", f"{version!r} is not a number")
        return None, problems.found, (), data
    if version not in SUPPORTED_VERSIONS:
        readable = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        problems.add(
            lines.of("", None, "version"),
            "version",
            f"version {version} is not supported: this workbench reads version {readable}"
            + ("; a newer workbench is needed" if version > max(SUPPORTED_VERSIONS) else ""),
        )
        return None, problems.found, (), data
    for key in data:
        if key not in _TOP_KEYS:
            problems.add(
                lines.of("", None, key) or lines.of(key),
                key,
                f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})",
            )

    new_case = _read_case(data, lines, problems)
    clinical = _read_clinical(data, lines, problems)
    imaging = _read_imaging(root, data, lines, problems)
    registry_id = new_case.registry_id if new_case else None
    labs, lab_file, lab_problems = _read_labs(root, data, lines, problems, registry_id)
    every = problems.found + lab_problems
    if every or new_case is None:
        return None, every, imaging, data
    plan = IntakePlan(
        root=root.resolve(),
        version=version,
        checksum=package_checksum(root),
        case=new_case,
        clinical=clinical,
        labs=labs,
        lab_file=lab_file,
        imaging=imaging,
    )
    return plan, [], imaging, data


def _read_case(data: Mapping[str, Any], lines: _Lines, problems: _Problems) -> NewCase | None:
    table = data.get("case")
    if not isinstance(table, dict):
        problems.add(
            lines.of("", None, "case") or lines.of("case"),
            "case",
            "required table [case] is missing" if table is None else "expected a [case] table",
        )
        case_values = None
    else:
        case_values = _read_table(
            table, _CASE_KEYS, "case", lambda key: lines.of("case", None, key), problems
        )
    exposures = _read_records(
        data, "exposures", _EXPOSURE_KEYS, NewExposure, lines, problems,
    )  # fmt: skip
    features = _read_records(data, "features", _FEATURE_KEYS, NewFeature, lines, problems)
    if case_values is None or exposures is None or features is None:
        return None
    try:
        return NewCase(
            registry_id=case_values["registry_id"],
            site_code=case_values["site"],
            sex=case_values["sex"],
            age_band=case_values["age_band"],
            condition=case_values["condition"],
            condition_detail=case_values.get("condition_detail"),
            clinical_summary=case_values.get("clinical_summary"),
            clinical_consistent=case_values.get("clinical_consistent", TriState.NOT_ASSESSED),
            index_event=case_values.get("index_event", "first MRI suggestive of PML"),
            exposures=tuple(exposures),
            clinical_features=tuple(features),
            readers_required=case_values.get("readers_required", 2),
        )
    except ValidationError as error:  # the checks above should have caught it
        problems.add(lines.of("case"), f"case.{error.field or 'case'}", str(error))
        return None


def _read_records(
    data: Mapping[str, Any],
    key: str,
    spec: Mapping[str, _Key],
    build: Callable[..., Any],
    lines: _Lines,
    problems: _Problems,
) -> list[Any] | None:
    """Each ``[[key]]`` table checked against ``spec`` and built with ``build(**values)``;
    ``None`` when any was refused."""
    out: list[Any] = []
    ok = True
    for number, item in enumerate(_array(data, key, problems, lines)):
        where = f"{key}[{number + 1}]"

        def line_of(name: str | None, number: int = number) -> int | None:
            return lines.of(key, number, name)

        values = _read_table(item, spec, where, line_of, problems)
        if values is None:
            ok = False
            continue
        try:
            out.append(build(**values))
        except ValidationError as error:
            field = _key_of(str(error).split(":", 1)[-1], values)
            problems.add(
                line_of(field),
                f"{where}.{field}" if field else where,
                str(error).split(": ", 1)[-1],
            )
            ok = False
    return out if ok else None


def _read_clinical(
    data: Mapping[str, Any], lines: _Lines, problems: _Problems
) -> ClinicalRecord | None:
    table = data.get("clinical")
    if table is None:
        return None
    if not isinstance(table, dict):
        problems.add(lines.of("", None, "clinical"), "clinical", "expected a [clinical] table")
        return None
    known = {f.name for f in fields(ClinicalRecord)}
    ok = True
    for key in table:
        if key not in known:
            problems.add(
                lines.of("clinical", None, key) or lines.of(f"clinical.{key}", 0),
                f"clinical.{key}",
                f"unknown key (known: {', '.join(sorted(known))})",
            )
            ok = False
    for key, kind in _CLINICAL_LISTS.items():
        items = table.get(key, [])
        array = f"clinical.{key}"
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            problems.add(lines.of("clinical", None, key), array, f"expected [[{array}]] tables")
            ok = False
            continue
        names = {f.name for f in fields(kind)}
        for number, item in enumerate(items):
            where = f"{array}[{number + 1}]"
            for name in item:
                if name not in names:
                    problems.add(
                        lines.of(array, number, name),
                        f"{where}.{name}",
                        f"unknown key (known: {', '.join(sorted(names))})",
                    )
                    ok = False
            if any(name not in names for name in item):
                continue
            try:
                kind.from_json(item, where)  # type: ignore[attr-defined]
            except ValidationError as error:
                key_name = _clinical_key(error, names)
                problems.add(
                    lines.of(array, number, key_name),
                    f"{where}.{key_name}" if key_name else where,
                    str(error).removeprefix(f"{where}: "),
                )
                ok = False
    top = {k: v for k, v in table.items() if k in known and k not in _CLINICAL_LISTS}
    try:
        ClinicalRecord.from_json(top, "clinical")
    except ValidationError as error:
        key_name = _clinical_key(error, known)
        problems.add(
            lines.of("clinical", None, key_name),
            f"clinical.{key_name}" if key_name else "clinical",
            str(error).removeprefix("clinical: "),
        )
        ok = False
    if not ok:
        return None
    try:
        return ClinicalRecord.from_json(table, "clinical")
    except ValidationError as error:
        problems.add(lines.of("clinical"), "clinical", str(error).removeprefix("clinical: "))
        return None


def _clinical_key(error: ValidationError, names: Iterable[str]) -> str | None:
    """The manifest key a clinical value's refusal names (its ``field``, else its words)."""
    wanted = sorted(names)
    if error.field:
        key = error.field.lower().replace(" ", "_").replace("-", "_")
        if key in wanted:
            return key
        aliases = {"tissue_jcv_technique": "techniques", "treatment": "kind", "score": "value"}
        key = "value" if key.endswith("_score") else aliases.get(key, key)
        if key in wanted:
            return key
    text = str(error).rsplit(": ", 2)
    return _key_of(text[-2] if len(text) > 1 else text[0], wanted)


def _read_imaging(
    root: Path, data: Mapping[str, Any], lines: _Lines, problems: _Problems
) -> tuple[ImagingEntry, ...]:
    """The valid ``[[imaging]]`` entries (problems for the others)."""
    entries: list[ImagingEntry] = []
    seen: dict[Path, str] = {}
    base = root.resolve()
    for number, item in enumerate(_array(data, "imaging", problems, lines)):
        where = f"imaging[{number + 1}]"

        def line_of(key: str | None, number: int = number) -> int | None:
            return lines.of("imaging", number, key)

        values = _read_table(item, _IMAGING_KEYS, where, line_of, problems)
        if values is None:
            continue
        relative = values["folder"].strip()
        folder = (root / relative).resolve()
        problem = None
        if not relative or Path(relative).is_absolute():
            problem = f"{relative!r}: give a folder relative to the package"
        elif not folder.is_relative_to(base):
            problem = f"{relative!r} is outside the package"
        elif not folder.exists():
            problem = f"{relative!r}: no such folder in the package"
        elif not folder.is_dir():
            problem = f"{relative!r} is not a folder"
        elif not any(p.is_file() for p in folder.rglob("*")):
            problem = f"{relative!r} holds no files"
        else:
            for other, other_name in seen.items():
                if folder == other or folder.is_relative_to(other) or other.is_relative_to(folder):
                    problem = f"{relative!r} overlaps {other_name!r} of another imaging entry"
        if problem is not None:
            problems.add(line_of("folder"), f"{where}.folder", problem)
            continue
        seen[folder] = relative
        entries.append(
            ImagingEntry(
                day=values["day"],
                folder=folder,
                relative=relative,
                description=values.get("description") or None,
                line=line_of(None),
            )
        )
    return tuple(entries)


def _read_labs(
    root: Path,
    data: Mapping[str, Any],
    lines: _Lines,
    problems: _Problems,
    registry_id: str | None,
) -> tuple[tuple[LabEntry, ...], str | None, list[Problem]]:
    """The lab CSV named by ``labs``: its entries, its name, and the problems of its rows."""
    if "labs" not in data:
        return (), None, []
    line = lines.of("", None, "labs")
    name = data["labs"]
    if not isinstance(name, str) or not name.strip():
        problems.add(line, "labs", f"expected the lab CSV's file name in quotes, got {name!r}")
        return (), None, []
    path = (root / name).resolve()
    if Path(name).is_absolute() or not path.is_relative_to(root.resolve()):
        problems.add(line, "labs", f"{name!r} is outside the package")
        return (), None, []
    if not path.is_file():
        problems.add(line, "labs", f"{name!r}: no such file in the package")
        return (), None, []
    rows = _Problems(name)
    try:
        # The labs module's own reader: the good rows and every bad one, in one pass.
        entries, bad_rows = parse_lab_file(path)
    except LabFileError as error:  # the header is wrong: no row can be read
        for bad in error.errors:
            rows.add(bad.line, bad.column, bad.reason)
        return (), name, rows.found
    except ValidationError as error:
        rows.add(None, "file", str(error).removeprefix(f"{path}: "))
        return (), name, rows.found
    for bad in bad_rows:
        rows.add(bad.line, bad.column, bad.reason)
    first: dict[Any, int] = {}
    for row, entry in entries:
        if registry_id is not None and entry.registry_id != registry_id:
            rows.add(
                row,
                "case",
                f"{entry.registry_id!r} is not this package's case ({registry_id}); a package "
                "holds one case",
            )
        key = same_result_key(
            entry.test, entry.test_name, entry.day, entry.qualitative, entry.value, entry.unit,
            entry.assay, entry.lod, entry.loq,
        )  # fmt: skip
        seen = first.setdefault((entry.registry_id, key), row)
        if seen != row:
            rows.add(
                row, "row", f"the same result as line {seen} (the file holds each result once)"
            )
    rows.found.sort(key=lambda p: p.line or 0)
    return tuple(entry for _, entry in entries), name, rows.found


# --- the de-identification gate, in the parser sandbox ----------------------------------------


def gate_worker(folder: str, policy_path: str | None) -> tuple[int, list[tuple[str, str, str]]]:
    """Run the de-identification gate over ``folder`` (in the sandbox worker): the number of
    files checked and ``(file, field, problem)`` for every finding and unreadable file. A
    finding names the attribute and the rule, never the value."""
    from workbench.deid.gate import check
    from workbench.deid.policy import load_policy

    report = check(Path(folder), load_policy(Path(policy_path) if policy_path else None))
    found = [
        (str(f.file), f"{f.keyword} {f.tag}", f"[{f.rule}] {f.message}") for f in report.findings
    ]
    found += [(str(u.file), "file", f"unreadable: {u.reason}") for u in report.unreadable]
    return report.files_checked, found


# --- the example package -----------------------------------------------------------------------

TEMPLATE_ID = "PML-EXAMPLE-1"
"""The registry id of the example package (change it before sending a real case)."""

_TEMPLATE_MANIFEST = """\
# A PML registry site package: one case, its clinical record, labs and images.
# Days are relative to the case's index date (negative before it); dates of a person are
# never sent. Text values go in quotes. Check with:  pml-workbench intake --dry-run DIR
format = "pml-site-package"
version = 1
labs = "labs.csv"                      # lab results, the CSV format of 'labs import'

[case]
registry_id = "{registry_id}"           # the registry's pseudonym, never a hospital number
site = "NL-AMS"
sex = "female"                         # female, male, other, unknown
age_band = "40-49"                     # a band like 40-49 or 80+
condition = "ms_natalizumab"           # hiv, ms_natalizumab, other_immunomodulator, ...
condition_detail = "relapsing-remitting MS"
clinical_summary = "Subacute right hemiparesis and word-finding difficulty over three weeks."
clinical_consistent = "present"        # present, absent, not_assessed
index_event = "first MRI suggestive of PML"
readers_required = 2

[clinical]
diagnosis_year = 2024                  # calendar year only
onset_day = -21
diagnosis_day = 3
detection_mode = "symptomatic"         # symptomatic, screening_mri, unknown
other_conditions = []
anti_jcv_index = 3.1
anti_jcv_index_day = -180
lymphocytes = 1.4                      # x10^9/L
lymphocytes_day = 0
cd4_nadir = 410                        # cells/uL
cd4_nadir_day = 0
iris = "yes"                           # yes, no, unknown
iris_onset_day = 60
iris_treatment = "methylprednisolone 1 g/day for 5 days"

[[clinical.histopathology]]
kind = "biopsy"                        # biopsy, autopsy
day = 10
demyelination = "present"              # present, absent, not_assessed
bizarre_astrocytes = "present"
enlarged_oligodendroglial_nuclei = "present"
tissue_jcv = "detected"                # detected, not_detected, not_done
techniques = ["ihc", "pcr"]            # ihc, ish, pcr, em

[[clinical.treatments]]
kind = "plasma_exchange"
detail = "5 sessions"
start_day = 4
stop_day = 14

[[clinical.treatments]]
kind = "immunosuppression_reduced"
detail = "natalizumab stopped"
start_day = 0

[[clinical.scores]]
scale = "edss"                         # kps, mrs, edss
time = "diagnosis"                     # before_pml, diagnosis, month_6, month_12, month_24
value = 4.5

[[clinical.scores]]
scale = "mrs"
time = "diagnosis"
value = 3

[[exposures]]
drug = "natalizumab"
drug_class = "anti_integrin"
dosing_schedule = "standard"           # standard, extended_interval, other, unknown
start_day = -1460
stop_day = -14
last_dose_day = -14
infusion_count = 48
prior = false

[[exposures]]
drug = "mitoxantrone"
drug_class = "chemotherapy_other"
start_day = -2600
stop_day = -2400
prior = true                           # an earlier immunosuppressant

[[features]]
feature = "hemiparesis"
status = "present"                     # present, absent, not_assessed
onset_day = -21

[[features]]
feature = "aphasia"
status = "present"
onset_day = -14
note = "word-finding difficulty"

[[imaging]]
day = 0
folder = "images/baseline"             # DICOM or NIfTI files, relative to this file
description = "MRI at diagnosis"

[[imaging]]
day = 60
folder = "images/follow-up"
description = "MRI at two months"
"""

_TEMPLATE_LABS = """\
case,test,day,result,value,unit,assay,lod,loq,test_name,note
{registry_id},csf_jcv_pcr,3,detected,520,copies/mL,ultrasensitive JCV PCR,10,50,,
{registry_id},serum_jcv_antibody_index,-180,quantitative,3.1,index,STRATIFY JCV DxSelect,,,,
{registry_id},cd4_count,0,quantitative,410,cells/µL,,,,,
"""


def write_template(folder: Path, registry_id: str = TEMPLATE_ID) -> list[Path]:
    """Write a complete example package into ``folder`` (created; it must be empty): the
    manifest with every section, a lab CSV with a CSF JCV PCR, and small synthetic DICOM
    series (FLAIR and T1 at two timepoints, no real person) that pass the gate. It passes
    ``intake --dry-run`` and meets the default readiness rules. Returns the files written."""
    from workbench.demo import phantom
    from workbench.demo.dicom_series import new_uid, write_series
    from workbench.domain import SequenceClass

    if not REGISTRY_ID_PATTERN.match(registry_id):
        raise ValidationError(
            f"registry id: {registry_id!r} is not a pseudonymous id like 'PML-0042'",
            field="registry id",
        )
    folder = Path(folder).expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValidationError(f"{folder}: not an empty folder; the template needs one")
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / MANIFEST, folder / "labs.csv"]
    written[0].write_text(_TEMPLATE_MANIFEST.format(registry_id=registry_id), encoding="utf-8")
    written[1].write_text(_TEMPLATE_LABS.format(registry_id=registry_id), encoding="utf-8")

    anatomy = phantom.make_anatomy((20, 64, 64), (8.0, 3.6, 3.6), seed=7)
    lesion = phantom.place_lesion(anatomy, "left", "frontal", 10.0, seed=1)
    spacing_zyx = anatomy.spacing_mm
    spacing = (spacing_zyx[1], spacing_zyx[2], spacing_zyx[0])
    frame = new_uid(registry_id, "template", "frame")
    for day, name in ((0, "baseline"), (60, "follow-up")):
        maps = phantom.render_lesions(anatomy, [phantom.grown(lesion, day)])
        study = new_uid(registry_id, "template", str(day), "study")
        for number, sequence in enumerate((SequenceClass.FLAIR, SequenceClass.T1), start=1):
            volume = phantom.synthesize(anatomy, maps, sequence, seed=day + 1)
            written += write_series(
                volume,
                folder / "images" / name / sequence.name,
                spacing_mm=spacing,
                origin_lps=anatomy.origin_lps,
                study_instance_uid=study,
                series_instance_uid=new_uid(registry_id, "template", str(day), sequence.value),
                frame_of_reference_uid=frame,
                series_number=number,
                sequence=sequence,
                patient_pseudonym=registry_id,
                study_description=f"MRI brain, day {day}",
                patient_sex="F",
            )
    return written


def describe_problems(problems: Iterable[Problem]) -> str:
    """The problems one per line, as the command line prints them."""
    return "\n".join(str(p) for p in problems)
