"""The fast classic-header reader: pydicom's values, the careful path's volumes and messages.

:func:`read_classic_header` converts the values discovery needs itself instead of building
a pydicom ``Dataset``; discovery reads a file with pydicom wherever it declines. These tests
pin both halves: every value it keeps equals pydicom's on the real files it accepts, whole
series load to the same :class:`Volume` either way, broken or unusual files are reported in
the same words, and files outside its scope are declined.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue

import workbench.imaging.dicom as dicom_module
from workbench.imaging import discover, load_dicom
from workbench.imaging.dicom_header import _KEPT, _PRIVATE, read_classic_header

CLASSIC_SERIES = {
    "philips-3d": "dcm_qa_cs_dl/In/Philips/501_T1W_FFE_Sno_CS4",
    "philips-4d": "dcm_qa_philips/In/Magdeburg_2014/fmri",
    "ge-dwi-4d": "dcm_qa_ge/In/01_Ax_DWI_TENSOR_R2",
    "ge-fmri-4d": "dcm_qa_nih/In/20180918GE/mr_0004",
}
"""Real classic series (explicit VR, vendor private diffusion tags among them)."""

OTHER_SERIES = {
    "siemens-mosaic": "dcm_qa/In/Orientation/sag/sagasc35",
    "uih-grid": "dcm_qa_uih/In/DTI_134434/dti_tra_dir16_AP_SaveBySlc__140028",
    "philips-enhanced": "dcm_qa_enh/In/Philips",
}
"""Real series the fast reader must leave to pydicom (all their images)."""


@contextmanager
def careful_path() -> Iterator[None]:
    """Discovery with the fast reader switched off: every header read by pydicom."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dicom_module, "read_classic_header", lambda path: None)
        yield


def _tagged(value: Any) -> Any:
    """A value with its kind, so ``1`` (IS) and ``1.0`` (DS) do not compare equal."""
    if isinstance(value, list | tuple | MultiValue):
        return tuple(_tagged(v) for v in value)
    if isinstance(value, float):
        return ("float", float(value))
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, str):
        return ("str", str(value))
    return value


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _assert_same_volumes(folder: Path) -> int:
    """Load ``folder`` both ways; the volumes must be identical. Returns the files read fast."""
    accepted = [p for p in _files(folder) if dicom_module._scan_classic(p) is not None]
    fast = load_dicom(folder)
    with careful_path():
        careful = load_dicom(folder)
    assert len(fast) == len(careful)
    for ours, theirs in zip(fast, careful, strict=True):
        assert ours.array.dtype == theirs.array.dtype
        assert ours.array.shape == theirs.array.shape
        assert np.array_equal(ours.array, theirs.array)
        assert np.array_equal(ours.affine, theirs.affine)  # exactly, not approximately
        assert ours.identity == theirs.identity
        assert ours.sequence_class == theirs.sequence_class
        assert ours.sequence_evidence == theirs.sequence_evidence
        assert ours.meta == theirs.meta
    return len(accepted)


def _tiny(path: Path, *, implicit: bool = False, **values: Any) -> Path:
    """A 4x4 int16 classic MR image; ``values`` set (or, as ``None``, delete) attributes."""
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = (
        pydicom.uid.ImplicitVRLittleEndian if implicit else pydicom.uid.ExplicitVRLittleEndian
    )
    ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.SOPClassUID = pydicom.uid.MRImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.Modality = "MR"
    ds.Manufacturer = "ACME"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.5, 0.5]
    ds.Rows, ds.Columns = 4, 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = np.arange(16, dtype=np.int16).tobytes()
    for keyword, value in values.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True, implicit_vr=implicit)
    return path


# --------------------------------------------------------------------------- values


@pytest.mark.shared_data
@pytest.mark.parametrize("folder", CLASSIC_SERIES.values(), ids=CLASSIC_SERIES.keys())
def test_kept_values_equal_pydicoms(shared_data: Path, folder: str) -> None:
    files = _files(shared_data / folder)
    accepted = 0
    for path in files:
        found = read_classic_header(path)
        if found is None:
            continue
        accepted += 1
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert found.transfer_syntax == ds.file_meta.TransferSyntaxUID
        for tag, (keyword, _) in _KEPT.items():
            assert _tagged(found.header.get(keyword)) == _tagged(ds.get(keyword)), (path, tag)
        for tag in _PRIVATE:
            theirs = ds[tag].value if tag in ds else None
            ours = found.header.private(tag >> 16, tag & 0xFFFF)
            assert _tagged(ours) == _tagged(theirs), (path, hex(tag))
        raw = pydicom.dcmread(path, defer_size=64)._dict[pydicom.tag.Tag(0x7FE00010)]
        assert isinstance(raw, RawDataElement)  # deferred: offset and length, no value
        assert (found.pixel_offset, found.pixel_length) == (raw.value_tell, raw.length)
    assert accepted >= len(files) - 1  # every image (mr_0004 also holds a README)


def test_tiny_files_are_read_both_encodings(tmp_path: Path) -> None:
    for implicit in (False, True):
        path = _tiny(tmp_path / f"tiny-{implicit}.dcm", implicit=implicit)
        found = read_classic_header(path)
        assert found is not None
        assert found.header.get("ImagePositionPatient") == (0.0, 0.0, 0.0)
        assert found.header.get("ImageType") == ("ORIGINAL", "PRIMARY")
        assert found.header.get("InstanceNumber") == 1
        assert found.header.get("Rows") == 4
        assert found.pixel_length == 32
        assert found.pixel_offset + found.pixel_length == path.stat().st_size


ODD_BUT_VALID: dict[str, tuple[dict[str, Any], bytes, bytes]] = {
    "CS padded with a NUL": ({}, b"MONOCHROME2 ", b"MONOCHROME2\0"),
    "UI padded with a space": ({"SeriesInstanceUID": "1.2.3.456"}, b"1.2.3.456\0", b"1.2.3.456 "),
    "DS with spaces and an exponent": (
        {"PixelSpacing": ["0.5", "0.5"]},
        b"0.5\\0.5 ",
        b" 5E-1\\.5",
    ),
    # Six digits, so the bytes cannot also turn up inside a random UID of the file.
    "signed IS": ({"InstanceNumber": 864209}, b"864209", b"+86420"),
    "blank DS": ({"RescaleSlope": "1.5"}, b"1.5 ", b"    "),
    "trailing spaces in LO": ({"Manufacturer": "GE MEDICAL"}, b"GE MEDICAL", b"GE        "),
}
"""Encodings pydicom reads without complaint, and what to write instead of which bytes."""


@pytest.mark.parametrize("case", ODD_BUT_VALID.values(), ids=ODD_BUT_VALID.keys())
def test_odd_but_valid_values_read_as_pydicom_reads_them(
    tmp_path: Path, case: tuple[dict[str, Any], bytes, bytes]
) -> None:
    values, old, new = case
    path = _tiny(tmp_path / "odd.dcm", **values)
    _replace(old, new)(path)
    found = read_classic_header(path)
    assert found is not None
    ds = pydicom.dcmread(path)
    for keyword, _ in _KEPT.values():
        assert _tagged(found.header.get(keyword)) == _tagged(ds.get(keyword)), keyword


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def _append(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\0\0")


def _no_preamble(path: Path) -> None:
    path.write_bytes(path.read_bytes()[132:])


def _replace(old: bytes, new: bytes) -> Callable[[Path], None]:
    """Replace the bytes ``old`` (found once) by as many bytes ``new``."""

    def apply(path: Path) -> None:
        raw = path.read_bytes()
        assert raw.count(old) == 1
        assert len(old) == len(new)
        path.write_bytes(raw.replace(old, new))

    return apply


def _jpeg_syntax(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.1.2.4.50"))


DECLINED: dict[str, tuple[dict[str, Any], Callable[[Path], None] | None]] = {
    "truncated": ({}, _truncate),
    "bytes after the pixel data": ({}, _append),
    "no preamble": ({}, _no_preamble),
    "compressed transfer syntax": ({}, _jpeg_syntax),
    "non-ASCII manufacturer": (
        {"SpecificCharacterSet": "ISO_IR 100", "Manufacturer": "Sieméns"},
        None,
    ),
    "Japanese character set": ({"SpecificCharacterSet": "ISO_IR 13"}, None),
    "multi-valued series UID": ({"SeriesInstanceUID": ["1.2.3", "1.2.4"]}, None),
    "IS written as a float": ({"InstanceNumber": 7}, _replace(b"7 ", b"7.")),
    "DS padded with a NUL": ({}, _replace(b"0.5\\0.5 ", b"0.5\\0.5\0")),
    "two values for a position": ({"ImagePositionPatient": [0, 0]}, None),
    "MOSAIC": ({"ImageType": ["ORIGINAL", "PRIMARY", "MOSAIC"]}, None),
    "two frames": ({"NumberOfFrames": 2, "PixelData": bytes(64)}, None),
    "no position (UIH grid)": ({"ImagePositionPatient": None}, None),
    "enhanced": ({"SharedFunctionalGroupsSequence": [pydicom.Dataset()]}, None),
}
"""Files the fast reader (or discovery's use of it) must leave to pydicom."""


@pytest.mark.parametrize("case", DECLINED.values(), ids=DECLINED.keys())
def test_declines_outside_its_scope(
    tmp_path: Path, case: tuple[dict[str, Any], Callable[[Path], None] | None]
) -> None:
    values, damage = case
    path = _tiny(tmp_path / "odd.dcm", **values)
    if damage is not None:
        damage(path)
    assert dicom_module._scan_classic(path) is None


def test_declines_private_tags_in_implicit_vr(tmp_path: Path) -> None:
    path = tmp_path / "ge.dcm"
    _tiny(path, implicit=True, Manufacturer="GE MEDICAL SYSTEMS")
    ds = pydicom.dcmread(path)
    ds.add_new(0x00430010, "LO", "GEMS_PARM_01")
    ds.add_new(0x00431039, "IS", [1000, 8, 0, 0])
    ds.save_as(path, enforce_file_format=True, implicit_vr=True)
    assert read_classic_header(path) is None  # pydicom finds its VR through the creator


# --------------------------------------------------------------------------- volumes


@pytest.mark.shared_data
@pytest.mark.parametrize("folder", CLASSIC_SERIES.values(), ids=CLASSIC_SERIES.keys())
def test_fast_path_gives_the_careful_paths_volumes(shared_data: Path, folder: str) -> None:
    assert _assert_same_volumes(shared_data / folder) > 0


@pytest.mark.shared_data
@pytest.mark.parametrize("folder", OTHER_SERIES.values(), ids=OTHER_SERIES.keys())
def test_other_storage_is_left_to_pydicom(shared_data: Path, folder: str) -> None:
    for path in _files(shared_data / folder):
        assert dicom_module._scan_classic(path) is None
    _assert_same_volumes(shared_data / folder)


def test_tiny_implicit_series_loads_alike(tmp_path: Path) -> None:
    for k in range(4):
        _tiny(
            tmp_path / f"{k}.dcm",
            implicit=k % 2 == 1,
            InstanceNumber=k + 1,
            SOPInstanceUID=f"1.2.826.0.1.3680043.8.498.2.{k}",
            ImagePositionPatient=[0, 0, 2.5 * k],
            RescaleIntercept=-3,
        )
    assert _assert_same_volumes(tmp_path) == 4


@pytest.mark.shared_data
def test_content_digest_is_the_file_hash(shared_data: Path) -> None:
    """The registry's content SHA-256: of the sorted per-file digests, one per line."""
    folder = shared_data / CLASSIC_SERIES["philips-3d"]
    (volume,) = load_dicom(folder)
    digests = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in _files(folder))
    expected = hashlib.sha256("\n".join(digests).encode()).hexdigest()
    assert volume.identity.content_sha256 == expected
    first = _files(folder)[0]
    (single,) = load_dicom(first)
    assert single.identity.content_sha256 == hashlib.sha256(first.read_bytes()).hexdigest()


def test_content_digest_covers_bytes_after_the_pixels(tmp_path: Path) -> None:
    path = _tiny(tmp_path / "padded.dcm")
    _append(path)  # left to pydicom; its pixels are still read straight into the volume
    (volume,) = load_dicom(path)
    assert volume.identity.content_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert volume.array[1, 0, 0] == 1


# --------------------------------------------------------------------------- messages


def _edit(**values: Any) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        ds = pydicom.dcmread(path)
        for keyword, value in values.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        ds.save_as(path)

    return apply


def _empty_position(path: Path) -> None:
    ds = pydicom.dcmread(path)
    ds["ImagePositionPatient"].value = None
    ds.save_as(path)


def _blank_slope(path: Path) -> None:
    ds = pydicom.dcmread(path)
    ds[0x00281053] = pydicom.DataElement(0x00281053, "DS", b"  ")
    ds.save_as(path)


def _cut_pixels(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _cut_header(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:900])


def _empty_file(path: Path) -> None:
    path.write_bytes(b"")


BROKEN: dict[str, Callable[[Path], None]] = {
    "empty position": _empty_position,
    "no position": _edit(ImagePositionPatient=None),
    "two-value position": _edit(ImagePositionPatient=[1.0, 2.0]),
    "no pixel spacing": _edit(PixelSpacing=None),
    "blank slope": _blank_slope,
    "moved slice": _edit(ImagePositionPatient=[0.0, 0.0, 1000.0]),
    "tilted slice": _edit(ImageOrientationPatient=[1, 0, 0, 0, 0.8, 0.6]),
    "pixel data cut short": _cut_pixels,
    "header cut short": _cut_header,
    "file emptied": _empty_file,
    "other series": _edit(SeriesInstanceUID="1.2.826.0.1.3680043.8.498.3"),
}
"""Damage to one file of a real classic series."""


@pytest.mark.shared_data
@pytest.mark.parametrize("damage", BROKEN.values(), ids=BROKEN.keys())
def test_damaged_series_are_reported_alike(
    shared_data: Path, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    folder = tmp_path / "series"
    shutil.copytree(shared_data / CLASSIC_SERIES["philips-3d"], folder)
    damage(folder / "0007.dcm")

    def report() -> tuple[Any, ...]:
        found = discover(folder)
        loaded: list[Any]
        try:
            loaded = [(v.shape, v.identity) for v in load_dicom(folder)]
        except Exception as exc:
            loaded = [(type(exc).__name__, str(exc))]
        return (
            found.notes,
            [(type(e).__name__, str(e)) for e in found.errors],
            [(s.series_instance_uid, [p.shape for p in s.volumes]) for s in found.series],
            loaded,
        )

    fast = report()
    with careful_path():
        careful = report()
    assert fast == careful
