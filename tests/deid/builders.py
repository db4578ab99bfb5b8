"""Builders for the de-identification tests: a clean MR data set and planted identifiers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR = "1.2.840.10008.5.1.4.1.1.4"
CASE = "PML-0042"

PLANTED = {
    "patient_name": "Zyxwvut^Qponmlk",
    "nested_name": "Brrtzek^Ekfjwq",
    "requesting": "Vlmqrst^Hgfdxy",
    "patient_id": "ZQX998877",
    "birth_date": "19431122",
    "accession": "ACC99887766",
    "nested_accession": "NESTQ44332",
    "institution": "Quuxville General Hospital",
    "serial": "SNQ7Z3X9WV",
    "station": "STATNQWZ01",
    "private": "PRIVATE-SECRET-Q7",
    "original": "Oldnamez^Quvwxyz",
    "study_date": "20190317",
    "referring": "Refqzx^Docwvu",
}
"""Distinctive identifying values; none may ever appear in a report."""


def codes(*values: str) -> Sequence:
    """A DeidentificationMethodCodeSequence with these DCM code values."""
    items = []
    for value in values:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = f"code {value}"
        items.append(item)
    return Sequence(items)


def clean_dataset(index: int = 0, *, series_uid: str | None = None) -> Dataset:
    """An MR slice that satisfies every rule of the strict policy.

    It keeps what the strict policy's options allow: shifted dates (113107), a cleaned
    description (113105) and the patient's sex and age (113108).
    """
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = MR
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = "1.2.3.4.5.6.7"
    ds.SeriesInstanceUID = series_uid or "1.2.3.4.5.6.8"
    ds.FrameOfReferenceUID = "1.2.3.4.5.6.9"
    ds.Modality = "MR"
    ds.PatientName = CASE
    ds.PatientID = CASE
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.PatientAge = "045Y"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "test"
    ds.DeidentificationMethodCodeSequence = codes("113100", "113105", "113107", "113108")
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    ds.StudyDate = "20100101"
    ds.StudyTime = "101500"
    ds.ContentDate = "20100101"
    ds.AcquisitionDateTime = "20100101101500.000000"
    ds.ReferringPhysicianName = ""
    ds.AccessionNumber = ""
    ds.StudyID = ""
    ds.SeriesDescription = "AX FLAIR"
    ds.ProtocolName = "AX FLAIR"
    ds.SeriesNumber = 3
    ds.InstanceNumber = index + 1
    ds.BurnedInAnnotation = "NO"
    ds.ImagePositionPatient = [0, 0, 3 * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 4
    ds.Columns = 4
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = (np.arange(16, dtype="<i2") + index).tobytes()
    return ds


def identifying_dataset() -> Dataset:
    """A clean slice with every planted identifier added (see :data:`PLANTED`)."""
    ds = clean_dataset()
    ds.PatientName = PLANTED["patient_name"]
    ds.PatientID = PLANTED["patient_id"]
    ds.PatientBirthDate = PLANTED["birth_date"]
    ds.AccessionNumber = PLANTED["accession"]
    ds.InstitutionName = PLANTED["institution"]
    ds.DeviceSerialNumber = PLANTED["serial"]
    ds.StationName = PLANTED["station"]
    ds.ReferringPhysicianName = PLANTED["referring"]
    ds.StudyDate = PLANTED["study_date"]
    ds.BurnedInAnnotation = "YES"
    del ds.PatientIdentityRemoved
    ds.DeidentificationMethodCodeSequence = codes("113100")
    del ds.LongitudinalTemporalInformationModified
    step = Dataset()
    step.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.3"
    step.ReferencedSOPInstanceUID = "1.2.3.4.5.6.10"
    step.PerformingPhysicianName = PLANTED["nested_name"]
    ds.ReferencedPerformedProcedureStepSequence = Sequence([step])
    request = Dataset()
    request.AccessionNumber = PLANTED["nested_accession"]
    request.RequestingPhysician = PLANTED["requesting"]
    ds.RequestAttributesSequence = Sequence([request])
    original = Dataset()
    modified = Dataset()
    modified.PatientName = PLANTED["original"]
    original.ModifiedAttributesSequence = Sequence([modified])
    original.ReasonForTheAttributeModification = "DEIDENT"
    ds.OriginalAttributesSequence = Sequence([original])
    block = ds.private_block(0x0009, "ACME 1.0", create=True)
    block.add_new(0x01, "LO", PLANTED["private"])
    return ds


def write(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM Part 10 file (explicit VR little endian) at ``path``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = FileDataset(str(path), ds, file_meta=meta, preamble=b"\0" * 128)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save_as(path, enforce_file_format=True)
    return path


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def assert_nothing_planted(texts: Iterable[str]) -> None:
    """No planted value (nor a component of a planted name) appears in any of ``texts``."""
    blob = "\n".join(texts).lower()
    needles = set(PLANTED.values())
    needles |= {part for value in PLANTED.values() for part in value.split("^") if len(part) > 4}
    leaked = sorted(n for n in needles if n.lower() in blob)
    assert not leaked, f"identifying values leaked into the report: {leaked}"
