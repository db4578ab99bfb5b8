"""The de-identification gate: is this file or folder de-identified per PS3.15 Annex E?

:func:`check` scans a file or a folder tree and returns a frozen :class:`DeidReport`: the
:class:`Finding` list (what still identifies someone, where, and by which :class:`Rule`),
the files it could not read, and notes (files not checked, options noticed). A finding names
the attribute and the rule, **never the value**: the report is shown to coordinators and may
be logged, so it must not itself leak what it found.

DICOM files are read with ``stop_before_pixels`` and only the attributes the rules need are
converted from their raw bytes (Annex E attributes, person names, sequences), so the cost is
one pass over the header. The rules, after PS3.15 Annex E (see :class:`Rule`):

- PatientIdentityRemoved must be ``YES`` and DeidentificationMethodCodeSequence must hold
  113100 (DCM).
- Attributes of Table E.1-1 whose Basic Profile action is X, Z or D (or a choice of these)
  must be absent or empty, except where an option the file declares, and the policy
  accepts, keeps them (:data:`~.rules.OPTION_KEEPS`; dates with 113106/113107 or
  LongitudinalTemporalInformationModified ``MODIFIED``). UIDs (action U) are accepted.
- Person names anywhere, and PatientID, must be empty or a registry pseudonym.
- PatientBirthDate is refused whenever it holds a value.
- Private elements are refused unless 113111 is declared and accepted.
- BurnedInAnnotation ``YES`` is refused; its absence is a note (or refused, by policy).
- OriginalAttributesSequence and ModifiedAttributesSequence are refused.

NIfTI images are checked for text in ``descrip``, ``aux_file``, ``db_name``, ``data_type``
and ``intent_name`` that looks like a date, a ``Surname^Given`` name or a long number, for
header extensions with content, and their JSON sidecar for Annex E keywords with values.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.deid.files import (
    FileKind,
    classify,
    error_reason,
    iter_files,
    quiet_pydicom,
    read_dicom,
    sidecar_of,
)
from workbench.deid.policy import Policy
from workbench.deid.rules import (
    ANNEX_E_KEYWORDS,
    BIRTH_KEYWORDS,
    DATE_OPTIONS,
    DATE_VRS,
    EMBEDDED_ORIGINAL_KEYWORDS,
    OPTION_KEEPS,
    AnnexEAttribute,
    DeidOption,
    Rule,
    annex_e_attribute,
    option_keeping,
    suspicious_text,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

NIFTI_TEXT_FIELDS = ("descrip", "aux_file", "db_name", "data_type", "intent_name")
"""NIfTI-1/2 header fields that hold free text."""

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that still identifies someone. Never carries the value itself."""

    file: Path
    keyword: str
    """The attribute's keyword with its path through sequences, e.g.
    ``RequestAttributesSequence[0].AccessionNumber``; for NIfTI the header field or JSON key."""
    tag: str
    """The tag with the same path, e.g. ``(0040,0275)[0].(0008,0050)``; for NIfTI
    ``(header)``, ``(extension 0, code 2)`` or ``(sidecar)``."""
    rule: Rule
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", Rule(self.rule))

    def line(self) -> str:
        """``FILE: KEYWORD (gggg,eeee) [rule]: message``."""
        return f"{self.file}: {self.keyword} {self.tag} [{self.rule}]: {self.message}"


@dataclass(frozen=True, slots=True)
class Note:
    """Something worth knowing that does not refuse the file (e.g. "not checked")."""

    file: Path
    message: str

    def line(self) -> str:
        """``FILE: note: message``."""
        return f"{self.file}: note: {self.message}"


@dataclass(frozen=True, slots=True)
class UnreadableFile:
    """A file that looked like DICOM or NIfTI but could not be read."""

    file: Path
    reason: str

    def line(self) -> str:
        """``FILE: unreadable: reason``."""
        return f"{self.file}: unreadable: {self.reason}"


@dataclass(frozen=True, slots=True)
class DeidReport:
    """What :func:`check` found under :attr:`root`."""

    root: Path
    files_checked: int
    """DICOM and NIfTI files read (sidecars are counted with their image)."""
    findings: tuple[Finding, ...] = ()
    unreadable: tuple[UnreadableFile, ...] = ()
    notes: tuple[Note, ...] = ()
    policy: Policy = field(default_factory=Policy.strict, compare=False)

    @property
    def clean(self) -> bool:
        """Every file could be read and nothing identifying was found."""
        return not self.findings and not self.unreadable

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings, 2 when some file could not be read (it was not vouched for)."""
        if self.unreadable:
            return EXIT_UNREADABLE
        return EXIT_FINDINGS if self.findings else EXIT_CLEAN

    @property
    def files_with_findings(self) -> int:
        """How many files have at least one finding."""
        return len({finding.file for finding in self.findings})

    @property
    def not_checked(self) -> tuple[Path, ...]:
        """Files that are neither DICOM nor NIfTI (nor a NIfTI's sidecar)."""
        return tuple(n.file for n in self.notes if n.message.startswith(NOT_CHECKED))

    def summary(self) -> str:
        """One line: counts and the verdict."""
        if self.unreadable:
            verdict = "NOT VERIFIED (unreadable files)"
        elif self.findings:
            verdict = "NOT DE-IDENTIFIED"
        elif self.files_checked == 0:
            verdict = "nothing to check"
        else:
            verdict = "de-identified"
        return (
            f"{self.root}: {self.files_checked} file(s) checked, {len(self.findings)} "
            f"finding(s) in {self.files_with_findings} file(s), {len(self.unreadable)} "
            f"unreadable, {len(self.not_checked)} not checked: {verdict}"
        )

    def grouped_notes(self) -> list[str]:
        """Notes with the same message merged: ``note: message (N files, e.g. FILE)``."""
        counts = Counter(note.message for note in self.notes)
        first: dict[str, Path] = {}
        for note in self.notes:
            first.setdefault(note.message, note.file)
        lines = []
        for message, count in counts.items():
            where = str(first[message]) if count == 1 else f"{count} files, e.g. {first[message]}"
            lines.append(f"note: {message} ({where})")
        return lines

    def lines(self) -> list[str]:
        """The report as ``deid-check`` prints it: findings, unreadable files, notes, summary."""
        return [
            *(finding.line() for finding in self.findings),
            *(bad.line() for bad in self.unreadable),
            *self.grouped_notes(),
            self.summary(),
        ]

    def to_text(self) -> str:
        """:meth:`lines` joined, with a final newline."""
        return "\n".join(self.lines()) + "\n"


NOT_CHECKED = "not checked"
NAME_NOTE = "the gate checks contents, not names; a file or folder name here contains"


def _name_reason(relative: Path) -> str | None:
    """What in a file's relative path looks identifying (a UID-like number, a date, ...)."""
    for part in relative.parts:
        reason = suspicious_text(part)
        if reason is not None:
            return reason
    return None


def check(path: Path, policy: Policy | None = None) -> DeidReport:
    """Check the file or folder tree ``path`` against ``policy`` (strict by default).

    Raises ``FileNotFoundError`` if ``path`` does not exist; a file that cannot be read is
    reported in :attr:`DeidReport.unreadable`, never raised.
    """
    policy = Policy.strict() if policy is None else policy
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    findings: list[Finding] = []
    notes: list[Note] = []
    unreadable: list[UnreadableFile] = []
    checked = 0
    root = path if path.is_dir() else path.parent
    with quiet_pydicom():
        for file in iter_files(path):
            try:
                kind = classify(file)
            except OSError as exc:
                unreadable.append(UnreadableFile(file, error_reason(exc)))
                continue
            if kind is FileKind.SIDECAR:
                continue
            if kind is FileKind.OTHER:
                notes.append(Note(file, f"{NOT_CHECKED}: neither DICOM nor NIfTI"))
                continue
            checked += 1
            name_reason = _name_reason(file.relative_to(root))
            if name_reason is not None:
                notes.append(Note(file, f"{NAME_NOTE} {name_reason}"))
            try:
                if kind is FileKind.NIFTI:
                    result = _check_nifti(file, policy)
                else:
                    dataset = read_dicom(file, kind, stop_before_pixels=True)
                    result = _DicomCheck(file, policy).run(dataset)
            except Exception as exc:  # any failure to parse makes the file unreadable
                unreadable.append(UnreadableFile(file, error_reason(exc)))
                continue
            findings.extend(result[0])
            notes.extend(result[1])
    return DeidReport(
        root=path,
        files_checked=checked,
        findings=tuple(findings),
        unreadable=tuple(unreadable),
        notes=tuple(notes),
        policy=policy,
    )


def check_dataset(
    dataset: Dataset, policy: Policy | None = None, *, file: Path = Path("<dataset>")
) -> DeidReport:
    """Check one DICOM data set already in memory (e.g. during an import)."""
    policy = Policy.strict() if policy is None else policy
    with quiet_pydicom():
        findings, notes = _DicomCheck(file, policy).run(dataset)
    return DeidReport(
        root=file, files_checked=1, findings=tuple(findings), notes=tuple(notes), policy=policy
    )


def tag_text(tag: int) -> str:
    """``(gggg,eeee)``."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _is_empty(value: Any) -> bool:
    """No value, or only blanks, NULs, and (for person names) component separators."""
    if value is None:
        return True
    if isinstance(value, bytes | bytearray):
        return not bytes(value).strip(b"\x00 ")
    if isinstance(value, str):
        return not value.strip(" \x00")
    if type(value).__name__ == "PersonName":
        return not str(value).strip(" \x00^=")
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Iterable):
        return all(_is_empty(item) for item in value)
    return not str(value).strip(" \x00")


_TEXT_VRS = frozenset(
    {
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    }
)


def _raw_is_empty(data: bytes | None, vr: str) -> bool:
    """Whether undecoded value bytes hold no value (padding, separators only)."""
    if not data:
        return True
    if vr not in _TEXT_VRS:
        return False
    return not bytes(data).strip(b"\x00 \\^=" if vr == "PN" else b"\x00 \\")


def _values(value: Any) -> list[str]:
    """The non-empty values of a (possibly multi-valued) element, as text."""
    multiple = isinstance(value, list | tuple) or type(value).__name__ == "MultiValue"
    return [str(item) for item in (value if multiple else [value]) if not _is_empty(item)]


_OPTION_CODES = frozenset(option.value for option in DeidOption)


class _DicomCheck:
    """The rules applied to one data set (and, recursively, its sequences)."""

    __slots__ = ("dates_allowed", "effective", "file", "findings", "notes", "policy", "private")

    def __init__(self, file: Path, policy: Policy) -> None:
        self.file = file
        self.policy = policy
        self.findings: list[Finding] = []
        self.notes: list[Note] = []
        self.effective: frozenset[DeidOption] = frozenset()
        self.dates_allowed = False
        self.private = 0

    def _find(self, keyword: str, tag: str, rule: Rule, message: str) -> None:
        self.findings.append(Finding(self.file, keyword, tag, rule, message))

    def run(self, ds: Dataset) -> tuple[list[Finding], list[Note]]:
        """Apply every rule; return (findings, notes)."""
        declared = self._declared_options(ds)
        self.effective = frozenset(o for o in declared if self.policy.accepts(o))
        for option in sorted(declared - self.effective - {DeidOption.BASIC_PROFILE}):
            self.notes.append(
                Note(
                    self.file,
                    f"declares {option.value} ({option.meaning}), which the registry policy "
                    "does not accept: what it would keep is refused",
                )
            )
        modified = str(ds.get("LongitudinalTemporalInformationModified", "") or "").strip()
        self.dates_allowed = bool(self.effective & DATE_OPTIONS) or (
            modified.upper() == "MODIFIED"
            and self.policy.accepts(DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES)
        )
        self._check_identity_removed(ds)
        self._check_burned_in(ds)
        self._walk(ds, "", "")
        if self.private:
            self.notes.append(
                Note(
                    self.file,
                    f"{self.private} private element(s) kept under 113111 (Retain Safe "
                    "Private Option): their content is not checked",
                )
            )
        return self.findings, self.notes

    def _declared_options(self, ds: Dataset) -> frozenset[DeidOption]:
        codes: set[DeidOption] = set()
        for item in ds.get("DeidentificationMethodCodeSequence", None) or []:
            scheme = str(item.get("CodingSchemeDesignator", "") or "").strip()
            value = str(item.get("CodeValue", "") or "").strip()
            if scheme == "DCM" and value in _OPTION_CODES:
                codes.add(DeidOption(value))
        if "DeidentificationMethodCodeSequence" not in ds:
            self._find(
                "DeidentificationMethodCodeSequence",
                "(0012,0064)",
                Rule.METHOD_CODE,
                "missing: it must list 113100 (DCM, Basic Application Confidentiality Profile)",
            )
        elif DeidOption.BASIC_PROFILE not in codes:
            self._find(
                "DeidentificationMethodCodeSequence",
                "(0012,0064)",
                Rule.METHOD_CODE,
                "does not list 113100 (DCM, Basic Application Confidentiality Profile)",
            )
        return frozenset(codes)

    def _check_identity_removed(self, ds: Dataset) -> None:
        value = ds.get("PatientIdentityRemoved", None)
        if value is None:
            message = "missing: it must be YES"
        elif str(value).strip().upper() != "YES":
            message = "must be YES"
        else:
            return
        self._find("PatientIdentityRemoved", "(0012,0062)", Rule.IDENTITY_REMOVED, message)

    def _check_burned_in(self, ds: Dataset) -> None:
        value = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
        if value == "YES":
            self._find(
                "BurnedInAnnotation",
                "(0028,0301)",
                Rule.BURNED_IN,
                "is YES: the pixels carry burned-in text that may identify the patient",
            )
        elif not value:
            message = "BurnedInAnnotation (0028,0301) is absent: burned-in text not excluded"
            if self.policy.refuse_missing_burned_in_annotation:
                self._find("BurnedInAnnotation", "(0028,0301)", Rule.BURNED_IN, message)
            else:
                self.notes.append(Note(self.file, message))

    def _walk(self, ds: Dataset, keyword_path: str, tag_path: str) -> None:
        from pydicom.datadict import dictionary_VR, keyword_for_tag
        from pydicom.dataelem import RawDataElement

        private_groups: Counter[int] = Counter()
        for raw in ds.values():  # unconverted, in file (tag) order
            tag = int(raw.tag)
            group = tag >> 16
            if tag & 0xFFFF == 0:
                continue  # group length
            if group & 1:
                private_groups[group] += 1
                continue
            attribute = annex_e_attribute(tag)
            vr = raw.VR
            if vr is None or vr == "UN":
                try:
                    vr = dictionary_VR(tag)
                except KeyError:
                    vr = "UN"
            if attribute is None and vr not in ("PN", "SQ"):
                continue
            # Decide from the raw bytes where possible: converting costs more than everything
            # else the gate does, and most such attributes are empty or UIDs.
            if (
                vr != "SQ"
                and isinstance(raw, RawDataElement)
                and ((attribute is not None and attribute.is_uid) or _raw_is_empty(raw.value, vr))
            ):
                continue
            element = ds[tag]
            keyword = attribute.keyword if attribute else (keyword_for_tag(tag) or tag_text(tag))
            here_kw = keyword_path + keyword
            here_tag = tag_path + tag_text(tag)
            if element.VR == "SQ":
                self._sequence(element.value, attribute, here_kw, here_tag)
            else:
                self._element(element.VR, element.value, attribute, here_kw, here_tag)
        if private_groups and DeidOption.RETAIN_SAFE_PRIVATE in self.effective:
            self.private += sum(private_groups.values())
        else:
            for group, count in sorted(private_groups.items()):
                self._find(
                    keyword_path + "Private",
                    f"{tag_path}({group:04X},xxxx)",
                    Rule.PRIVATE,
                    f"{count} private element(s) in group {group:04X}: private elements may "
                    "hold identity and are refused without 113111 (Retain Safe Private Option)",
                )

    def _sequence(
        self, items: Any, attribute: AnnexEAttribute | None, keyword: str, tag: str
    ) -> None:
        count = len(items) if items is not None else 0
        if attribute is not None and count:
            if attribute.keyword in EMBEDDED_ORIGINAL_KEYWORDS:
                self._find(
                    keyword,
                    tag,
                    Rule.EMBEDDED_ORIGINAL,
                    f"{attribute.name} embeds the values that de-identification replaced",
                )
                return
            if attribute.action == "X" and not self._kept_by_option(attribute.keyword):
                self._find(
                    keyword,
                    tag,
                    Rule.ANNEX_E,
                    f"{attribute.name} must be removed (Basic Profile action X)"
                    + self._option_hint(attribute.keyword),
                )
        for index, item in enumerate(items or ()):
            self._walk(item, f"{keyword}[{index}].", f"{tag}[{index}].")

    def _element(
        self, vr: str, value: Any, attribute: AnnexEAttribute | None, keyword: str, tag: str
    ) -> None:
        if _is_empty(value):
            return
        leaf = keyword.rsplit(".", 1)[-1]
        if vr == "PN":
            if not all(self.policy.is_pseudonym(v) for v in _values(value)):
                self._find(
                    keyword, tag, Rule.PERSON_NAME, "a person name that is not a registry pseudonym"
                )
            return
        if attribute is None or attribute.is_uid:
            return
        if leaf == "PatientID":
            if not all(self.policy.is_pseudonym(v) for v in _values(value)):
                self._find(keyword, tag, Rule.PATIENT_ID, "PatientID is not a registry pseudonym")
            return
        if leaf in BIRTH_KEYWORDS:
            self._find(keyword, tag, Rule.BIRTH_DATE, f"{attribute.name} must be empty")
            return
        if vr in DATE_VRS:
            if not self.dates_allowed:
                self._find(
                    keyword,
                    tag,
                    Rule.DATE,
                    f"{attribute.name} holds a date/time without an accepted longitudinal "
                    "option (113106/113107) or LongitudinalTemporalInformationModified MODIFIED",
                )
            return
        if self._kept_by_option(leaf):
            if (
                leaf in OPTION_KEEPS[DeidOption.CLEAN_DESCRIPTORS]
                and self.policy.check_descriptor_text
            ):
                reason = next(filter(None, map(suspicious_text, _values(value))), None)
                if reason is not None:
                    self._find(
                        keyword,
                        tag,
                        Rule.DESCRIPTOR,
                        f"{attribute.name} is kept as a cleaned descriptor (113105) but "
                        f"contains {reason}",
                    )
            return
        self._find(
            keyword,
            tag,
            Rule.ANNEX_E,
            f"{attribute.name} must be removed or empty (Basic Profile action "
            f"{attribute.action})" + self._option_hint(leaf),
        )

    def _kept_by_option(self, keyword: str) -> bool:
        option = option_keeping(keyword)
        return option is not None and option in self.effective

    def _option_hint(self, keyword: str) -> str:
        option = option_keeping(keyword)
        if option is None:
            return ""
        if self.policy.accepts(option):
            return f"; {option.value} ({option.meaning}) would keep it if the file declared it"
        return f"; the registry does not accept {option.value} ({option.meaning}), which keeps it"


def _check_nifti(path: Path, policy: Policy) -> tuple[list[Finding], list[Note]]:
    """Header text fields, extensions, file size, and the JSON sidecar of one NIfTI image."""
    import nibabel as nib
    import numpy as np

    findings: list[Finding] = []
    notes: list[Note] = []
    image = nib.load(path)
    if not isinstance(image, nib.Nifti1Image):  # Nifti2Image is a subclass
        raise ValueError(f"not a NIfTI-1/2 image ({type(image).__name__})")
    header = image.header
    if path.name.lower().endswith(".nii"):
        offset = getattr(image.dataobj, "offset", 0)  # the header's vox_offset is reset on load
        expected = int(offset) + int(np.prod(header.get_data_shape(), dtype=np.int64)) * int(
            header.get_data_dtype().itemsize
        )
        if path.stat().st_size < expected:
            raise ValueError(f"truncated: {path.stat().st_size} bytes, the header needs {expected}")
    for name in NIFTI_TEXT_FIELDS:
        if name not in header:
            continue
        text = _header_text(header[name])
        reason = suspicious_text(text) if text else None
        if reason is not None:
            findings.append(
                Finding(path, name, "(header)", Rule.NIFTI_TEXT, f"{name} contains {reason}")
            )
    for index, extension in enumerate(header.extensions):
        code = int(extension.get_code())
        content = _extension_bytes(extension)
        label = f"(extension {index}, code {code})"
        if content.strip(b"\x00 "):
            findings.append(
                Finding(
                    path,
                    f"extension[{index}]",
                    label,
                    Rule.NIFTI_EXTENSION,
                    f"a header extension (code {code}) with {len(content)} bytes of content: "
                    "extensions may carry a whole DICOM header",
                )
            )
        else:
            notes.append(Note(path, f"empty header extension (code {code})"))
    sidecar = sidecar_of(path)
    if sidecar.is_file():
        findings.extend(_check_sidecar(sidecar, policy))
    return findings, notes


def _extension_bytes(extension: Any) -> bytes:
    """The raw content of a NIfTI header extension."""
    content = getattr(extension, "content", None)  # nibabel >= 5.2
    if isinstance(content, bytes):
        return content
    raw = extension.get_content()
    return raw if isinstance(raw, bytes) else str(raw).encode()


def _header_text(value: Any) -> str:
    raw = value.item() if hasattr(value, "item") else value
    if isinstance(raw, bytes):
        return raw.split(b"\x00", 1)[0].decode("latin-1").strip()
    return str(raw).strip()


def _check_sidecar(path: Path, policy: Policy) -> list[Finding]:
    """Annex E keywords with values in a NIfTI's JSON sidecar."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"sidecar {path.name}: {error_reason(exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"sidecar {path.name}: not a JSON object")
    findings: list[Finding] = []
    _walk_json(data, "", path, policy, findings)
    return findings


def _walk_json(value: Any, prefix: str, path: Path, policy: Policy, out: list[Finding]) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _walk_json(item, f"{prefix}[{index}]", path, policy, out)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        here = f"{prefix}.{key}" if prefix else str(key)
        attribute = ANNEX_E_KEYWORDS.get(str(key))
        if attribute is None or _is_empty(item):
            _walk_json(item, here, path, policy, out)
            continue
        message = _sidecar_problem(str(key), attribute, item, policy)
        if message is not None:
            out.append(Finding(path, here, "(sidecar)", Rule.SIDECAR, message))


def _sidecar_problem(
    key: str, attribute: AnnexEAttribute, value: Any, policy: Policy
) -> str | None:
    """Why a sidecar field may not keep its value, or None.

    A sidecar declares no de-identification method, so dates are always refused and an
    option's relaxation applies when the policy accepts it (descriptors are still checked).
    """
    texts = [str(v) for v in (value if isinstance(value, list) else [value])]
    if key in ("PatientName", "PatientID"):
        if all(policy.is_pseudonym(t) for t in texts):
            return None
        return f"{attribute.name} is not a registry pseudonym"
    if attribute.is_uid:
        return None
    option = option_keeping(key)
    if option is not None and policy.accepts(option):
        if option is DeidOption.CLEAN_DESCRIPTORS and policy.check_descriptor_text:
            reason = next(filter(None, map(suspicious_text, texts)), None)
            return None if reason is None else f"{attribute.name} contains {reason}"
        return None
    return f"{attribute.name} must be absent or empty (Basic Profile action {attribute.action})"
