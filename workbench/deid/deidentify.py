"""Make a de-identified copy of a DICOM/NIfTI file or folder tree that passes the gate.

:func:`deidentify` applies PS3.15 Table E.1-1's Basic Profile (the generated
:mod:`workbench.deid.annex_e`) to every DICOM file, with the options the registry policy
accepts, and writes the result under ``outdir`` with the input's folder tree mirrored:

- PatientName and PatientID become the case id (a registry pseudonym).
- UIDs (action U, and any UI attribute of the table) are replaced consistently: the same
  original UID always gives the same new UID, derived from a per-case secret
  (``generate_uid(entropy_srcs=[secret, uid])``), so a series keeps one SeriesInstanceUID,
  a study one StudyInstanceUID, and references inside sequences follow.
- With Retain Longitudinal Temporal Information Modified Dates (113107) accepted, every date
  of the table is shifted by one number of days per case (times of day are kept),
  LongitudinalTemporalInformationModified is ``MODIFIED``; without it dates are removed.
- With Clean Descriptors (113105) accepted, descriptions are kept with dates, names and long
  numbers cut out; with Retain Patient Characteristics (113108), sex, age, size and weight
  are kept. Everything else of the table is removed (X) or emptied (Z, D and choices).
- Private elements, curves and overlays, and group lengths are removed; PatientIdentityRemoved
  is ``YES``; DeidentificationMethod and DeidentificationMethodCodeSequence say what was done.
- NIfTI images are copied with their header text fields cleared and extensions dropped (the
  voxel bytes are copied unchanged); a JSON sidecar loses its Annex E fields.
- Other files (and DICOMDIRs, whose offsets a rewrite breaks) are not copied; they are
  listed in the result.
- File and folder names that look identifying (UIDs, which embed serial numbers and dates;
  dates; ``Surname^Given``) are replaced by neutral ones (``IM00001.dcm``, ``folder001``).
- A file whose BurnedInAnnotation is ``YES`` stops the run: text burned into the pixels is
  not cleaned here.

The originals are only read. The copy is written into a temporary folder beside ``outdir``
and moved into place only when every file was written, so a failure leaves nothing behind.
Finally the gate checks the copy (:attr:`DeidentifyResult.report`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import json
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from workbench.deid.files import (
    FileKind,
    classify,
    error_reason,
    iter_files,
    nifti_stem,
    quiet_pydicom,
    read_dicom,
    sidecar_of,
)
from workbench.deid.gate import NIFTI_TEXT_FIELDS, DeidReport, Note, check
from workbench.deid.policy import Policy
from workbench.deid.rules import (
    ANNEX_E_KEYWORDS,
    BIRTH_KEYWORDS,
    DATE_VRS,
    EMBEDDED_ORIGINAL_KEYWORDS,
    OPTION_KEEPS,
    AnnexEAttribute,
    DeidOption,
    annex_e_attribute,
    clean_text,
    suspicious_text,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset, FileDataset

DEIDENTIFICATION_METHOD: Final = "PML registry workbench, DICOM PS3.15 Basic Profile"
"""First value of DeidentificationMethod; the meanings of the options applied follow."""

DICOMDIR: Final = "1.2.840.10008.1.3.10"
"""Media Storage Directory Storage: its offsets would not survive a rewrite."""

SHIFT_RANGE_DAYS: Final = (365, 3652)
"""A derived date shift moves dates back by 1 to 10 years (inclusive bounds, in days)."""

_KEEP_DESCRIPTORS = OPTION_KEEPS[DeidOption.CLEAN_DESCRIPTORS]
_KEEP_PATIENT = OPTION_KEEPS[DeidOption.RETAIN_PATIENT_CHARACTERISTICS]


class DeidentifyError(ValueError):
    """``deidentify`` cannot write anything: bad arguments, or an input file is unreadable."""


@dataclass(frozen=True, slots=True)
class DeidentifyResult:
    """What :func:`deidentify` wrote, what it left out, and the gate's verdict on the copy."""

    input: Path
    outdir: Path
    case_id: str
    written: tuple[Path, ...]
    """Files written under :attr:`outdir`, in input order."""
    skipped: tuple[Note, ...]
    """Input files not copied (not DICOM or NIfTI), with why."""
    renamed: int
    """How many file and folder names were replaced because they looked identifying."""
    date_shift_days: int | None
    """Days added to every date (negative: earlier), or None when dates were removed.
    Together with the output it reveals the real dates: keep it with the case secret."""
    report: DeidReport
    """:func:`~workbench.deid.gate.check` of :attr:`outdir` with the same policy."""


def derive_date_shift(secret: str, case_id: str) -> int:
    """The case's date shift in days (negative), from its secret: repeatable, not guessable."""
    digest = hashlib.sha256(f"{secret}\0{case_id}\0date-shift".encode()).digest()
    low, high = SHIFT_RANGE_DAYS
    return -(low + int.from_bytes(digest[:8], "big") % (high - low + 1))


def deidentify(
    input: Path,
    outdir: Path,
    case_id: str,
    policy: Policy | None = None,
    date_shift_days: int | None = None,
    *,
    secret: str | None = None,
) -> DeidentifyResult:
    """De-identify the file or folder ``input`` into the new (or empty) folder ``outdir``.

    ``case_id`` must be a registry pseudonym under ``policy`` (strict by default).
    ``secret`` is the case's secret: with the same secret, the same original UIDs map to the
    same new UIDs and the derived date shift is the same, so later examinations of a case
    stay consistent; without one a random secret is used for this run. ``date_shift_days``
    overrides the derived shift (it must not be 0). Raises :class:`DeidentifyError` when
    nothing can be written.
    """
    policy = Policy.strict() if policy is None else policy
    source = Path(input)
    target = Path(outdir)
    _validate(source, target, case_id, policy)
    secret = secrets.token_hex(32) if secret is None else secret
    if not secret:
        raise DeidentifyError("the case secret must not be empty")
    if date_shift_days is not None and int(date_shift_days) == 0:
        raise DeidentifyError("a date shift of 0 days would keep the real dates")
    shift: int | None = None  # dates are removed unless the policy accepts shifted ones
    if policy.accepts(DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES):
        shift = derive_date_shift(secret, case_id) if date_shift_days is None else date_shift_days
    transform = _Transform(case_id, secret, shift, policy)

    source_root = source if source.is_dir() else source.parent
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{secrets.token_hex(6)}.partial"
    staging.mkdir()
    written: list[Path] = []
    skipped: list[Note] = []
    unreadable: list[str] = []
    burned_in: list[str] = []
    names = _Names()
    try:
        with quiet_pydicom():
            for file in iter_files(source):
                relative = file.relative_to(source_root)
                try:
                    kind = classify(file)
                except OSError as exc:
                    unreadable.append(f"{file}: {error_reason(exc)}")
                    continue
                if kind is FileKind.SIDECAR:
                    continue  # written with its image
                if kind is FileKind.OTHER:
                    skipped.append(Note(file, "not copied: neither DICOM nor NIfTI"))
                    continue
                relative = names.output(relative, kind)
                out = staging / relative
                if out.exists():
                    raise DeidentifyError(f"nothing written: two inputs map to {relative}")
                out.parent.mkdir(parents=True, exist_ok=True)
                try:
                    if kind is FileKind.NIFTI:
                        written.extend(relative.parent / p.name for p in transform.nifti(file, out))
                    else:
                        dataset = read_dicom(file, kind, stop_before_pixels=False)
                        if str(dataset.get("BurnedInAnnotation", "")).strip().upper() == "YES":
                            burned_in.append(str(file))
                            continue
                        if dataset.file_meta.get("MediaStorageSOPClassUID", "") == DICOMDIR:
                            skipped.append(Note(file, "not copied: a DICOMDIR (rebuild it)"))
                            continue
                        transform.dicom(dataset, out)
                        written.append(relative)
                except Exception as exc:  # a file that cannot be parsed stops the run
                    unreadable.append(f"{file}: {error_reason(exc)}")
        if unreadable:
            raise DeidentifyError("nothing written: cannot read or de-identify " + _few(unreadable))
        if burned_in:
            raise DeidentifyError(
                "nothing written: BurnedInAnnotation is YES (text burned into the pixels, "
                "which this tool does not clean) in " + _few(burned_in)
            )
        if not written:
            raise DeidentifyError(f"nothing written: no DICOM or NIfTI file under {source}")
        if target.exists():
            target.rmdir()  # empty, checked by _validate
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report = check(target, policy)
    return DeidentifyResult(
        input=source,
        outdir=target,
        case_id=case_id,
        written=tuple(target / p for p in written),
        skipped=tuple(skipped),
        renamed=names.renamed,
        date_shift_days=shift,
        report=report,
    )


class _Names:
    """Output paths: the input's relative paths, mirrored, except names that look identifying.

    Scanners and PACS exports name files after UIDs (which embed device serial numbers and
    dates), dates, or patients. A file or folder name in which :func:`suspicious_text` finds
    something is replaced: ``IM00001.dcm`` (the extension kept), ``folder001``.
    """

    def __init__(self) -> None:
        self.folders: dict[tuple[str, ...], str] = {}
        self.files = 0
        self.folder_count = 0
        self.renamed = 0

    def output(self, relative: Path, kind: FileKind) -> Path:
        """The output path (relative) of the input file ``relative``."""
        parts = relative.parts
        folders = []
        for depth, part in enumerate(parts[:-1], 1):
            key = parts[:depth]
            if key not in self.folders:
                if suspicious_text(part) is None:
                    self.folders[key] = part
                else:
                    self.folder_count += 1
                    self.renamed += 1
                    self.folders[key] = f"folder{self.folder_count:03d}"
            folders.append(self.folders[key])
        name = parts[-1]
        stem = nifti_stem(Path(name)) if kind is FileKind.NIFTI else None
        if stem is None:
            suffix = Path(name).suffix
            stem = name[: -len(suffix)] if _PLAIN_SUFFIX.fullmatch(suffix) else name
        if suspicious_text(stem) is not None:
            self.files += 1
            self.renamed += 1
            name = f"IM{self.files:05d}{name[len(stem) :]}"
        return Path(*folders, name)


_PLAIN_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}")


def _few(items: list[str], shown: int = 5) -> str:
    """The first ``shown`` items joined, and how many more."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more


def _validate(source: Path, target: Path, case_id: str, policy: Policy) -> None:
    if not policy.is_pseudonym(case_id):
        # The value is not repeated: a mistyped case id may be a patient's name or number.
        raise DeidentifyError(
            f"the case id is not a registry pseudonym (pattern {policy.pseudonym_pattern})"
        )
    if not source.exists():
        raise DeidentifyError(f"{source}: no such file or folder")
    resolved_source = source.resolve()
    resolved_target = target.resolve()
    if resolved_target == resolved_source or resolved_source in resolved_target.parents:
        raise DeidentifyError(f"{target} is inside the input {source}: choose another folder")
    if resolved_target in resolved_source.parents:
        raise DeidentifyError(f"the input {source} is inside {target}: choose another folder")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DeidentifyError(f"{target} exists and is not an empty folder")


def _shift_date(text: str, days: int) -> str:
    """A DA value moved by ``days``; empty when it is not a full date."""
    digits = text.strip().replace(".", "")  # ACR-NEMA wrote 1993.08.22
    if len(digits) != 8 or not digits.isdigit():
        return ""
    try:
        moved = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])) + dt.timedelta(days)
    except (ValueError, OverflowError):
        return ""
    return f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"


def _shift_datetime(text: str, days: int) -> str:
    """A DT value moved by ``days``, time kept, UTC offset dropped; empty if not a full date."""
    text = text.strip()
    date = _shift_date(text[:8], days)
    if not date:
        return ""
    rest = text[8:]
    for sign in "+-":
        rest = rest.split(sign, 1)[0]
    return date + rest


class _Transform:
    """The Basic Profile with the accepted options, applied to data sets and NIfTI files."""

    def __init__(self, case_id: str, secret: str, shift: int | None, policy: Policy) -> None:
        self.case_id = case_id
        self.secret = secret
        self.shift = shift
        self.keep_descriptors = policy.accepts(DeidOption.CLEAN_DESCRIPTORS)
        self.keep_patient = policy.accepts(DeidOption.RETAIN_PATIENT_CHARACTERISTICS)
        self.uids: dict[str, str] = {}

    def uid(self, original: str) -> str:
        """The new UID for ``original``: the same for the same original within a case."""
        from pydicom.uid import generate_uid

        original = original.strip("\x00 ")
        if not original:
            return ""
        new = self.uids.get(original)
        if new is None:
            new = str(generate_uid(entropy_srcs=[self.secret, original]))
            self.uids[original] = new
        return new

    # DICOM

    def dicom(self, ds: FileDataset, out: Path) -> None:
        """De-identify ``ds`` (in place) and write it to ``out``."""
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

        self._dataset(ds)
        self._mark(ds)
        old_meta = ds.file_meta
        syntax = old_meta.get("TransferSyntaxUID", None)
        if syntax is None:  # a data set without the Part 10 header: keep its encoding
            implicit = ds.original_encoding[0] is not False
            syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        sop_class = ds.get("SOPClassUID", None) or old_meta.get("MediaStorageSOPClassUID", "")
        sop_instance = ds.get("SOPInstanceUID", None) or self.uid(
            str(old_meta.get("MediaStorageSOPInstanceUID", ""))
        )
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(str(sop_class))
        meta.MediaStorageSOPInstanceUID = UID(str(sop_instance))
        meta.TransferSyntaxUID = UID(str(syntax))
        ds.file_meta = meta
        ds.preamble = b"\x00" * 128
        ds.save_as(out, enforce_file_format=True)

    def _mark(self, ds: Dataset) -> None:
        from pydicom.dataset import Dataset as DicomDataset
        from pydicom.sequence import Sequence

        codes = [DeidOption.BASIC_PROFILE]
        if self.shift is not None:
            codes.append(DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES)
        if self.keep_descriptors:
            codes.append(DeidOption.CLEAN_DESCRIPTORS)
        if self.keep_patient:
            codes.append(DeidOption.RETAIN_PATIENT_CHARACTERISTICS)
        items = []
        for code in codes:
            item = DicomDataset()
            item.CodeValue = code.value
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = code.meaning
            items.append(item)
        ds.PatientIdentityRemoved = "YES"
        # LO, multi-valued: one value per step keeps each within 64 characters.
        ds.DeidentificationMethod = [DEIDENTIFICATION_METHOD, *(c.meaning for c in codes[1:])]
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        if self.shift is not None:
            ds.LongitudinalTemporalInformationModified = "MODIFIED"
        elif "LongitudinalTemporalInformationModified" in ds:
            del ds.LongitudinalTemporalInformationModified

    def _dataset(self, ds: Dataset) -> None:
        from pydicom.datadict import dictionary_VR

        for key in list(ds.keys()):
            tag = int(key)
            group, element_number = tag >> 16, tag & 0xFFFF
            if group & 1 or element_number == 0 or (group >> 8) in (0x50, 0x60):
                del ds[tag]  # private, group length, curve, overlay
                continue
            raw = ds.get_item(tag)
            vr = raw.VR
            if vr is None or vr == "UN":
                try:
                    vr = dictionary_VR(tag)
                except KeyError:
                    vr = "UN"
            attribute = annex_e_attribute(tag)
            if attribute is None and vr not in ("PN", "SQ"):
                continue
            element = ds[tag]
            if element.VR == "SQ":
                self._sequence(ds, tag, attribute)
            else:
                self._element(ds, tag, element.VR, attribute)

    def _sequence(self, ds: Dataset, tag: int, attribute: AnnexEAttribute | None) -> None:
        if attribute is not None and not attribute.is_uid and attribute.action != "D":
            if attribute.keyword in EMBEDDED_ORIGINAL_KEYWORDS or "Z" not in attribute.action:
                del ds[tag]
            else:
                ds[tag].value = []
            return
        for item in ds[tag].value or ():
            self._dataset(item)

    def _element(self, ds: Dataset, tag: int, vr: str, attribute: AnnexEAttribute | None) -> None:
        element = ds[tag]
        keyword = attribute.keyword if attribute else ""
        if keyword in ("PatientName", "PatientID"):
            element.value = self.case_id
            return
        if attribute is None:  # a person name the table does not list
            element.value = None
            return
        if vr == "UI" and attribute.action != "X":
            element.value = _map_values(element.value, self.uid)
            return
        if keyword in BIRTH_KEYWORDS or (vr in DATE_VRS and self.shift is None):
            _remove_or_empty(ds, tag, attribute)
            return
        if vr in ("DA", "DT") and self.shift is not None:
            days = self.shift
            shift_one = _shift_date if vr == "DA" else _shift_datetime
            element.value = _map_values(element.value, lambda text: shift_one(text, days))
            return
        if vr == "TM":
            return  # whole-day shifts keep the time of day
        if self.keep_descriptors and keyword in _KEEP_DESCRIPTORS and vr not in ("SQ", "PN"):
            element.value = _map_values(element.value, clean_text)
            return
        if self.keep_patient and keyword in _KEEP_PATIENT:
            return
        _remove_or_empty(ds, tag, attribute)

    # NIfTI

    def nifti(self, source: Path, out: Path) -> list[Path]:
        """Copy a NIfTI image (and its sidecar) cleaned; return the paths written."""
        import nibabel as nib

        # The header of a loaded image has its scaling and offset moved into the data
        # object, so read the file's own header, and copy the voxel bytes unchanged.
        header_class = nib.load(source).header_class
        if not issubclass(header_class, nib.Nifti1Header):  # Nifti2Header is a subclass
            raise ValueError(f"not a NIfTI-1/2 image ({header_class.__name__})")
        with _open_binary(source, "rb") as src, _open_binary(out, "wb") as dst:
            header = header_class.from_fileobj(src, check=False)
            offset = int(header.get_data_offset())
            for name in NIFTI_TEXT_FIELDS:
                if name in header and (name != "intent_name" or _suspicious_field(header[name])):
                    header[name] = b""
            header.extensions.clear()
            header.set_data_offset(header.single_vox_offset)
            header.write_to(dst)
            src.seek(offset)
            shutil.copyfileobj(src, dst, 1 << 20)
        written = [out]
        sidecar = sidecar_of(source)
        if sidecar.is_file():
            data = json.loads(sidecar.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"sidecar {sidecar.name}: not a JSON object")
            target = sidecar_of(out)
            target.write_text(json.dumps(self._json(data), indent=2) + "\n", encoding="utf-8")
            written.append(target)
        return written

    def _json(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._json(item) for item in value]
        if not isinstance(value, dict):
            return value
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            attribute = ANNEX_E_KEYWORDS.get(str(key))
            if attribute is None:
                cleaned[key] = self._json(item)
            elif key in ("PatientName", "PatientID"):
                cleaned[key] = self.case_id
            elif attribute.is_uid and isinstance(item, str):
                cleaned[key] = self.uid(item)
            elif self.keep_descriptors and key in _KEEP_DESCRIPTORS and isinstance(item, str):
                cleaned[key] = clean_text(item)
            elif self.keep_patient and key in _KEEP_PATIENT:
                cleaned[key] = item
        return cleaned


def _open_binary(path: Path, mode: str) -> IO[bytes]:
    """``path`` opened in binary ``mode``, through gzip for ``.gz``."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, mode)  # type: ignore[return-value]
    return path.open(mode)


def _suspicious_field(value: Any) -> bool:
    raw = value.item() if hasattr(value, "item") else value
    text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    return suspicious_text(text.split("\x00", 1)[0]) is not None


def _map_values(value: Any, function: Callable[[str], str]) -> Any:
    """``function`` applied to each value of a (possibly multi-valued) string element."""
    if value is None:
        return None
    if isinstance(value, str):
        return function(value)
    with contextlib.suppress(TypeError):
        return [function(str(item)) for item in value]
    return function(str(value))


def _remove_or_empty(ds: Dataset, tag: int, attribute: AnnexEAttribute) -> None:
    """X: remove; Z, D and choices that allow Z or D: keep the attribute with no value."""
    if attribute.action == "X":
        del ds[tag]
    else:
        ds[tag].value = None
