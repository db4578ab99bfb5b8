"""The gate and ``deidentify`` on NIfTI images and their JSON sidecars."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.deid.builders import CASE, assert_nothing_planted
from workbench.deid import Rule, check, deidentify
from workbench.deid.commands import deid_check_main


def _nifti(path: Path, *, descrip: str = "", aux_file: str = "", extension: bytes = b"") -> Path:
    data = (np.arange(4 * 5 * 3, dtype=np.int16).reshape(4, 5, 3) * 7).astype(np.int16)
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    image = nib.Nifti1Image(data, affine)
    image.header["descrip"] = descrip.encode()
    image.header["aux_file"] = aux_file.encode()
    image.header.set_slope_inter(2.0, -5.0)
    if extension:
        image.header.extensions.append(nib.nifti1.Nifti1Extension(6, extension))
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, path)
    return path


def _sidecar(nifti: Path, **fields: object) -> Path:
    stem = nifti.name.removesuffix(".gz").removesuffix(".nii")
    path = nifti.with_name(stem + ".json")
    path.write_text(json.dumps(fields))
    return path


def test_identifying_header_and_sidecar_are_found(tmp_path: Path) -> None:
    image = _nifti(tmp_path / "t1.nii", descrip="John Smith 1970-01-01", aux_file="Doe^Jane")
    _sidecar(
        image,
        PatientName="Smith^John",
        PatientBirthDate="19700101",
        InstitutionName="Quuxville General Hospital",
        AcquisitionTime="10:15:00.000000",
        EchoTime=0.09,
        SeriesDescription="T1 MPRAGE",
    )
    report = check(tmp_path)
    found = {(f.file.name, f.keyword, f.tag, f.rule) for f in report.findings}
    assert found == {
        ("t1.nii", "descrip", "(header)", Rule.NIFTI_TEXT),
        ("t1.nii", "aux_file", "(header)", Rule.NIFTI_TEXT),
        ("t1.json", "PatientName", "(sidecar)", Rule.SIDECAR),
        ("t1.json", "PatientBirthDate", "(sidecar)", Rule.SIDECAR),
        ("t1.json", "InstitutionName", "(sidecar)", Rule.SIDECAR),
        ("t1.json", "AcquisitionTime", "(sidecar)", Rule.SIDECAR),
    }
    assert report.exit_code == 1
    text = report.to_text()
    for value in ("John", "Smith", "1970", "Jane", "Quuxville", "10:15"):
        assert value not in text


def test_clean_nifti_passes(tmp_path: Path) -> None:
    image = _nifti(tmp_path / "flair.nii.gz", descrip="FLAIR TE=120")
    _sidecar(image, PatientName=CASE, SeriesDescription="AX FLAIR", EchoTime=0.12)
    out = io.StringIO()
    assert deid_check_main(tmp_path, None, out) == 0, out.getvalue()
    assert "1 file(s) checked, 0 finding(s)" in out.getvalue()


def test_extension_with_content_is_refused(tmp_path: Path) -> None:
    image = _nifti(tmp_path / "a.nii", extension=b"<xml>patient Smith</xml>")
    report = check(image)
    assert [(f.keyword, f.rule) for f in report.findings] == [
        ("extension[0]", Rule.NIFTI_EXTENSION)
    ]
    assert "Smith" not in report.to_text()


@pytest.mark.parametrize(
    "content",
    [b"not a nifti at all, just text\n" * 20, b""],
    ids=["garbage", "empty"],
)
def test_broken_nifti_is_unreadable(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.nii").write_bytes(content)
    out = io.StringIO()
    assert deid_check_main(tmp_path / "broken.nii", None, out) == 2
    assert "broken.nii: unreadable:" in out.getvalue()


def test_truncated_nifti_is_unreadable(tmp_path: Path) -> None:
    image = _nifti(tmp_path / "a.nii")
    image.write_bytes(image.read_bytes()[:-10])
    report = check(image)
    assert report.exit_code == 2
    assert "truncated" in report.unreadable[0].reason


def test_broken_sidecar_is_unreadable(tmp_path: Path) -> None:
    image = _nifti(tmp_path / "a.nii")
    image.with_name("a.json").write_text("{not json")
    assert check(tmp_path).exit_code == 2


def test_deidentify_nifti_clears_text_drops_extensions_keeps_voxels(tmp_path: Path) -> None:
    source = tmp_path / "in"
    image = _nifti(
        source / "t1.nii.gz",
        descrip="John Smith 1970-01-01",
        aux_file="Doe^Jane",
        extension=b"<xml>patient Smith</xml>",
    )
    _sidecar(
        image,
        PatientName="Smith^John",
        PatientID="123456",
        AcquisitionDateTime="2019-03-17T10:15:00",
        StationName="STATNQWZ01",
        SeriesDescription="T1 MPRAGE 17.03.2019",
        PatientSex="F",
        SeriesInstanceUID="1.2.3.4",
        EchoTime=0.003,
    )
    result = deidentify(source, tmp_path / "out", CASE, secret="s")
    assert result.report.clean, result.report.to_text()
    written = tmp_path / "out" / "t1.nii.gz"
    assert result.written == (written, tmp_path / "out" / "t1.json")
    before, after = nib.load(image), nib.load(written)
    assert isinstance(before, nib.Nifti1Image)
    assert isinstance(after, nib.Nifti1Image)
    assert np.array_equal(np.asanyarray(before.dataobj), np.asanyarray(after.dataobj))
    assert np.allclose(before.affine, after.affine)
    assert after.header["descrip"].item() == b""
    assert after.header["aux_file"].item() == b""
    assert len(after.header.extensions) == 0
    with gzip.open(written) as handle:  # voxel bytes copied verbatim after a 352-byte header
        copied = handle.read()
    with gzip.open(image) as handle:
        offset = int(nib.Nifti1Header.from_fileobj(handle).get_data_offset())
        handle.seek(0)
        original = handle.read()
    assert offset > 352  # the source had an extension
    assert copied[352:] == original[offset:]
    sidecar = json.loads((tmp_path / "out" / "t1.json").read_text())
    assert sidecar["PatientName"] == CASE
    assert sidecar["PatientID"] == CASE
    assert sidecar["SeriesDescription"] == "T1 MPRAGE"
    assert sidecar["PatientSex"] == "F"
    assert sidecar["EchoTime"] == 0.003
    assert sidecar["SeriesInstanceUID"] not in ("", "1.2.3.4")
    assert "AcquisitionDateTime" not in sidecar
    assert "StationName" not in sidecar
    assert_nothing_planted([(tmp_path / "out" / "t1.json").read_text()])
