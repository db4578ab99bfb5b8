"""Sequence classification from headers, with the evidence kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from workbench.domain import SequenceClass
from workbench.imaging import classify, load_dicom


def _ds(**values: Any) -> Dataset:
    ds = Dataset()
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            _ds(
                SeriesDescription="AX T2 FLAIR",
                ScanningSequence="SE\\IR",
                RepetitionTime=9000,
                EchoTime=120,
                InversionTime=2500,
            ),
            SequenceClass.FLAIR,
            id="flair-description",
        ),
        pytest.param(
            _ds(
                SeriesDescription="axial",
                ScanningSequence="SE\\IR",
                RepetitionTime=9000,
                EchoTime=90,
                InversionTime=2400,
            ),
            SequenceClass.FLAIR,
            id="flair-physics",
        ),
        pytest.param(
            _ds(SeriesDescription="t2_tse_tra", RepetitionTime=5000, EchoTime=100),
            SequenceClass.T2,
            id="t2-description",
        ),
        pytest.param(
            _ds(SeriesDescription="ax", ScanningSequence="SE", RepetitionTime=4000, EchoTime=95),
            SequenceClass.T2,
            id="t2-physics",
        ),
        pytest.param(
            _ds(
                SeriesDescription="t1_mprage_sag",
                RepetitionTime=2300,
                EchoTime=2.3,
                InversionTime=900,
            ),
            SequenceClass.T1,
            id="t1-mprage",
        ),
        pytest.param(
            _ds(SeriesDescription="ax", ScanningSequence="SE", RepetitionTime=500, EchoTime=12),
            SequenceClass.T1,
            id="t1-physics",
        ),
        pytest.param(_ds(SeriesDescription="T1 SE AX +C"), SequenceClass.T1_GD, id="t1-gd-word"),
        pytest.param(
            _ds(SeriesDescription="t1_se_tra", ContrastBolusAgent="Gadovist"),
            SequenceClass.T1_GD,
            id="t1-gd-agent",
        ),
        pytest.param(_ds(SeriesDescription="Ax T1+C"), SequenceClass.T1_GD, id="t1-plus-c"),
        pytest.param(_ds(SeriesDescription="Sag T1 FLAIR"), SequenceClass.T1, id="t1-flair"),
        pytest.param(
            _ds(
                SeriesDescription="Mag_Images",
                SequenceName="*swi3d1r",
                RepetitionTime=27,
                EchoTime=20,
            ),
            SequenceClass.SWI,
            id="swi-seqname",
        ),
        pytest.param(
            _ds(SeriesDescription="ep2d", SequenceName="*ep_b1000t"),
            SequenceClass.DWI,
            id="dwi-seqname",
        ),
        pytest.param(_ds(SeriesDescription="MPRAGE post gd"), SequenceClass.T1_GD, id="t1-gd-post"),
        pytest.param(
            _ds(ImageType=["ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW"]),
            SequenceClass.DWI,
            id="dwi-tracew",
        ),
        pytest.param(
            _ds(SeriesDescription="ep2d", DiffusionBValue=1000), SequenceClass.DWI, id="dwi-bvalue"
        ),
        pytest.param(
            _ds(ImageType=["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]),
            SequenceClass.ADC,
            id="adc-imagetype",
        ),
        pytest.param(
            _ds(SeriesDescription="Apparent Diffusion Coefficient (mm2/s)"),
            SequenceClass.ADC,
            id="adc-description",
        ),
        pytest.param(
            _ds(SeriesDescription="SWI_Images", ImageType=["DERIVED", "PRIMARY", "SWI"]),
            SequenceClass.SWI,
            id="swi",
        ),
        pytest.param(_ds(SeriesDescription="Ax SWAN"), SequenceClass.SWI, id="swi-ge-swan"),
        pytest.param(
            _ds(ImageType=["DERIVED", "PRIMARY", "DIFFUSION", "FA"]),
            SequenceClass.OTHER,
            id="fa-is-other",
        ),
        pytest.param(_ds(SeriesDescription="research 7"), SequenceClass.OTHER, id="unknown"),
    ],
)
def test_synthetic_headers(headers: Dataset, expected: SequenceClass) -> None:
    kind, evidence = classify(headers)
    assert kind is expected, evidence
    assert evidence["rule"]


def test_evidence_holds_the_values_used() -> None:
    kind, evidence = classify(_ds(SeriesDescription="AX FLAIR", RepetitionTime=9000))
    assert kind is SequenceClass.FLAIR
    assert evidence["SeriesDescription"] == "AX FLAIR"
    assert evidence["RepetitionTime"] == 9000
    assert "flair" in evidence["rule"]


def test_mapping_from_a_file_name() -> None:
    kind, _ = classify({"SeriesDescription": "study1_T2W"})
    assert kind is SequenceClass.T2
    kind, _ = classify({"SeriesDescription": "T1_N4_noneck_reduced"})
    assert kind is SequenceClass.T1


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("dcm_qa_xa30/In/11_DWI_dir80_PA", SequenceClass.ADC),
        ("dcm_qa_xa30/In/12_DWI_dir80_PA", SequenceClass.DWI),
        ("dcm_qa_xa30/In/5_anat-T1w_acq-tfl", SequenceClass.T1),
        ("dcm_qa_ge/In/01_Ax_DWI_TENSOR_R2", SequenceClass.DWI),
        ("dcm_qa_nih/In/20180918GE/mr_0004", SequenceClass.OTHER),
    ],
)
def test_real_series(shared_data: Path, folder: str, expected: SequenceClass) -> None:
    (volume,) = load_dicom(shared_data / folder)
    assert volume.sequence_class is expected, volume.sequence_evidence
    assert volume.sequence_evidence["rule"]
