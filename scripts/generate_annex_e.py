"""Generate ``workbench/deid/annex_e.py`` from the dicom-anonymizer package's Annex E table.

The de-identification gate needs DICOM PS3.15 Table E.1-1 ("Application Level
Confidentiality Profile Attributes") with the Basic Profile action of every attribute. We do
not type it by hand: the ``dicom-anonymizer`` package (KitwareMedical, BSD-3-Clause) ships it
as ``dicomanonymizer/dicom_anonymization_databases/dicomfields_<edition>.py``, which that
project generates by scraping the "Basic Prof." column of Table E.1-1 from the standard's
HTML (its ``scripts/scrap_DICOM_fields.py``). This script reads that module (the tag lists
and the attribute names in its comments), adds pydicom's keyword where pydicom knows the tag,
and writes a plain-data module that the workbench commits, so the application does not
depend on dicom-anonymizer at run time.

Regenerate (after upgrading dicom-anonymizer or choosing a newer edition)::

    .venv/bin/pip install 'dicom-anonymizer>=2.0'
    .venv/bin/python scripts/generate_annex_e.py            # writes workbench/deid/annex_e.py
    .venv/bin/python scripts/generate_annex_e.py --check    # exit 1 if the file is stale

``tests/deid/test_annex_e.py`` runs the ``--check`` comparison where dicom-anonymizer is
installed.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import re
import sys
from pathlib import Path

EDITION = "2026c"
"""The newest edition of the standard that dicom-anonymizer (2.0 and later) ships a table for."""

OUTPUT = Path(__file__).resolve().parents[1] / "workbench" / "deid" / "annex_e.py"

# The variables of the source module, in its order, with the Basic Profile action each holds.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("D_TAGS", "D"),
    ("Z_TAGS", "Z"),
    ("X_TAGS", "X"),
    ("U_TAGS", "U"),
    ("Z_D_TAGS", "Z/D"),
    ("X_Z_TAGS", "X/Z"),
    ("X_D_TAGS", "X/D"),
    ("X_Z_D_TAGS", "X/Z/D"),
    ("X_Z_U_STAR_TAGS", "X/Z/U*"),
)

_ASSIGNMENT = re.compile(r"^([A-Z_]+)\s*=\s*\[", re.MULTILINE)
# One tuple and its comment; the source is formatted, so a long tuple may span lines.
_ENTRY = re.compile(
    r"\(\s*(0x[0-9A-Fa-f]{4}),\s*(0x[0-9A-Fa-f]{4})"
    r"(?:,\s*(0x[0-9A-Fa-f]{4}),\s*(0x[0-9A-Fa-f]{4}))?,?\s*\),[ \t]*#[ \t]*([^\n]+)"
)
_LINE_LENGTH = 100


def _keyword(tag: int, name: str) -> str:
    """pydicom's keyword for ``tag``, else one made from the standard's attribute name."""
    from pydicom.datadict import keyword_for_tag

    keyword = str(keyword_for_tag(tag) or "")
    if keyword:
        return keyword
    words = re.sub(r"[^A-Za-z0-9 ]", " ", name).split()
    return "".join(word[:1].upper() + word[1:] for word in words)


def read_source() -> tuple[str, list[tuple[int, str, str, str]], list[tuple[int, int, str, str]]]:
    """(package version, exact-tag rows, masked-tag rows) read from dicom-anonymizer.

    A row is (tag, keyword, attribute name, action); a masked row is (tag, mask, attribute
    name, action) for the repeating groups (Curve Data 50xx, Overlay 60xx).
    """
    module_name = f"dicomanonymizer.dicom_anonymization_databases.dicomfields_{EDITION}"
    module = importlib.import_module(module_name)
    version = importlib.metadata.version("dicom-anonymizer")
    source_path = Path(str(module.__file__))
    actions = dict(CATEGORIES)
    rows: list[tuple[int, str, str, str]] = []
    masked: list[tuple[int, int, str, str]] = []
    text = source_path.read_text(encoding="utf-8")
    starts = [(match.start(), match.group(1)) for match in _ASSIGNMENT.finditer(text)]
    for entry in _ENTRY.finditer(text):
        variable = [name for start, name in starts if start < entry.start()][-1]
        if variable not in actions:
            continue
        group, element, group_mask, element_mask, name = entry.groups()
        name = name.replace("\u200b", "").strip()
        tag = (int(group, 16) << 16) | int(element, 16)
        if group_mask is None:
            rows.append((tag, _keyword(tag, name), name, actions[variable]))
        else:
            mask = (int(group_mask, 16) << 16) | int(element_mask, 16)
            masked.append((tag, mask, name, actions[variable]))
    # The comments were parsed as text: prove that they cover exactly the module's lists.
    expected = {
        tuple(int(part) for part in item)
        for variable, _ in CATEGORIES
        for item in getattr(module, variable)
    }
    parsed = {(tag >> 16, tag & 0xFFFF) for tag, *_ in rows} | {
        (tag >> 16, tag & 0xFFFF, mask >> 16, mask & 0xFFFF) for tag, mask, *_ in masked
    }
    if parsed != expected:
        missing = sorted(expected ^ parsed)
        raise SystemExit(f"{source_path}: the comments and the lists differ at {missing}")
    tags = [tag for tag, *_ in rows]
    if len(tags) != len(set(tags)):
        raise SystemExit(f"{source_path} lists a tag under two actions")
    return version, sorted(rows), sorted(masked)


def _entry_lines(key: str, values: tuple[str, ...]) -> list[str]:
    """One dict entry, wrapped the way ``ruff format`` wraps it."""
    quoted = [f'"{value}"' for value in values]
    one_line = f"    {key}: ({', '.join(quoted)}),"
    if len(one_line) <= _LINE_LENGTH:
        return [one_line]
    return [f"    {key}: (", *(f"        {value}," for value in quoted), "    ),"]


def render() -> str:
    """The text of ``workbench/deid/annex_e.py``."""
    version, rows, masked = read_source()
    lines = [
        '"""DICOM PS3.15 Annex E, Table E.1-1: the Basic Profile action of every attribute.',
        "",
        "GENERATED by ``scripts/generate_annex_e.py``; do not edit by hand. Source: the",
        f"``dicom-anonymizer`` package {version} (KitwareMedical, BSD-3-Clause), module",
        f"``dicomanonymizer/dicom_anonymization_databases/dicomfields_{EDITION}.py``, which that",
        'project generates by scraping the "Basic Prof." column of Table E.1-1 of DICOM PS3.15',
        f"edition {EDITION} (https://dicom.nema.org/medical/dicom/current/output/chtml/part15/",
        "chapter_e.html). Keywords are pydicom's; for attributes newer than pydicom's dictionary",
        "they are made from the standard's attribute name. Private attributes (their own row",
        "in the table) are handled by the gate's private-element rule, not listed here.",
        "",
        "Regenerate::",
        "",
        "    .venv/bin/pip install 'dicom-anonymizer>=2.0'",
        "    .venv/bin/python scripts/generate_annex_e.py",
        "",
        "Actions (PS3.15 E.1.1): D replace with a non-zero length dummy value, Z replace with a",
        "zero length (or dummy) value, X remove, K keep, C clean, U replace with a consistent",
        "non-zero length UID; ``A/B`` means A or B depending on the IOD's type for the attribute,",
        "``U*`` that U applies to the UIDs inside the sequence.",
        '"""',
        "",
        "from typing import Final",
        "",
        f'SOURCE_PACKAGE: Final = "dicom-anonymizer {version}"',
        '"""The package and version the table was generated from."""',
        f'STANDARD_EDITION: Final = "{EDITION}"',
        '"""The edition of DICOM PS3.15 that the source table was scraped from."""',
        "",
        "BASIC_PROFILE: Final[dict[int, tuple[str, str, str]]] = {",
        "    # tag: (keyword, attribute name, Basic Profile action)",
    ]
    for tag, keyword, name, action in rows:
        lines.extend(_entry_lines(f"0x{tag:08X}", (keyword, name, action)))
    lines += [
        "}",
        '"""Every attribute of Table E.1-1 with an exact tag, by tag."""',
        "",
        "REPEATING_GROUPS: Final[tuple[tuple[int, int, str, str], ...]] = (",
        "    # (tag, mask, attribute name, action): a tag t matches when t & mask == tag",
    ]
    for tag, mask, name, action in masked:
        lines.append(f'    (0x{tag:08X}, 0x{mask:08X}, "{name}", "{action}"),')
    lines += [
        ")",
        '"""Attributes of repeating groups (Curve Data 50xx, Overlay 60xx)."""',
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) ``workbench/deid/annex_e.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run scripts/generate_annex_e.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
