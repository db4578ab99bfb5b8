"""Guards at import (issue #12, point 5): a series goes into one case only, once, and a lab
result is on record once.

Images: a DICOM series whose PatientID is another case's registry id, or whose series is
held by another case (or already by this one), is refused before anything is stored, for
the whole folder. Labs: a result identical to one on record is refused (single entry) or
skipped and reported (file import); a file holding the same result twice is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from workbench.cases import NewCase, create_case
from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import Condition, LabQualitative, LabTest, SequenceClass, Sex
from workbench.errors import ValidationError
from workbench.importer import ImportRefusedError, ImportResult, ParserSandbox, import_path
from workbench.labs import LabEntry, LabFileError, add_lab_result, import_lab_file
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, ImagingStudy, LabResult, Series
from workbench.users import Actor

THIS = "PML-A003"
OTHER = "PML-DEMO-005"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    box = ParserSandbox()
    yield box
    box.close()


@pytest.fixture
def two_cases(registry: Registry, coordinator: Actor) -> Registry:
    with registry.write() as session:
        for rid in (THIS, OTHER):
            create_case(
                session, coordinator, NewCase(rid, "NL-AMS", Sex.FEMALE, "40-49", Condition.HIV)
            )
    return registry


def _write_series(folder: Path, patient: str, *, series_number: int = 1) -> str:
    """A small DICOM series with ``patient`` as its PatientID; returns its series UID."""
    uid = new_uid("guards", str(folder))
    volume = (np.arange(4 * 12 * 10, dtype=np.int16) % 700).reshape(4, 12, 10)
    write_series(
        volume,
        folder,
        spacing_mm=(1.0, 1.0, 4.0),
        origin_lps=(0.0, 0.0, 0.0),
        study_instance_uid=new_uid("guards", "study", str(folder.parent)),
        series_instance_uid=uid,
        frame_of_reference_uid=new_uid("guards", "frame"),
        series_number=series_number,
        sequence=SequenceClass.FLAIR,
        patient_pseudonym=patient,
    )
    return uid


def _write_nifti(path: Path) -> Path:
    import nibabel as nib

    volume = (np.arange(10 * 12 * 4, dtype=np.int16) % 300).reshape(10, 12, 4)
    nib.save(nib.Nifti1Image(volume, np.diag([1.0, 1.0, 4.0, 1.0])), path)
    return path


def _import(
    registry: Registry,
    actor: Actor,
    sandbox: ParserSandbox,
    path: Path,
    registry_id: str,
    cache: Path,
    *,
    day: int | None = 0,
) -> ImportResult:
    return import_path(
        registry, actor, path, registry_id, day=day, cache_root=cache, sandbox=sandbox
    )


def _counts(registry: Registry) -> tuple[int, ...]:
    """Studies, series, lab results and audit events in the registry."""
    with registry.read() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (ImagingStudy, Series, LabResult, AuditEvent)
        )


def _cached(root: Path) -> list[Path]:
    return sorted(root.rglob("*.npy")) if root.exists() else []


# --- images -----------------------------------------------------------------------------------


def test_a_series_of_another_cases_patient_is_refused(
    two_cases: Registry, coordinator: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    _write_series(tmp_path / "dicom", OTHER)
    cache = tmp_path / "cache"
    before = _counts(two_cases)
    with pytest.raises(ImportRefusedError) as caught:
        _import(two_cases, coordinator, sandbox, tmp_path / "dicom", THIS, cache)
    assert str(caught.value) == (
        f"{tmp_path / 'dicom' / 'IM0001.dcm'}: PatientID {OTHER} is another case's registry id; "
        f"this import is into {THIS} (nothing was imported)"
    )
    assert _counts(two_cases) == before
    assert _cached(cache) == []


def test_a_patient_id_that_names_no_case_is_not_a_clash(
    two_cases: Registry, coordinator: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    """Only another case's id is refused: the guard is about mixing cases up."""
    _write_series(tmp_path / "dicom", "PML-NOBODY")
    result = _import(two_cases, coordinator, sandbox, tmp_path / "dicom", THIS, tmp_path / "c")
    assert len(result.series_ids) == 1


def test_a_series_held_by_another_case_is_refused(
    two_cases: Registry, coordinator: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    uid = _write_series(tmp_path / "dicom", "PML-NOBODY")
    cache = tmp_path / "cache"
    first = _import(two_cases, coordinator, sandbox, tmp_path / "dicom", OTHER, cache, day=3)
    before, files = _counts(two_cases), _cached(cache)
    with pytest.raises(ImportRefusedError) as caught:
        _import(two_cases, coordinator, sandbox, tmp_path / "dicom", THIS, cache)
    assert str(caught.value) == (
        f"{tmp_path / 'dicom' / 'IM0001.dcm'}: series {uid} already belongs to case {OTHER} "
        f"(series #{first.series_ids[0]}, day 3); this import is into {THIS} "
        "(nothing was imported)"
    )
    assert _counts(two_cases) == before
    assert _cached(cache) == files  # the other case's voxels stay


def test_both_clashes_are_named_together(
    two_cases: Registry, coordinator: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    """The coordinator's report: PML-DEMO-005's files, already in PML-DEMO-005, imported
    into PML-A003 as well."""
    uid = _write_series(tmp_path / "dicom", OTHER)
    cache = tmp_path / "cache"
    _import(two_cases, coordinator, sandbox, tmp_path / "dicom", OTHER, cache)
    before = _counts(two_cases)
    with pytest.raises(ImportRefusedError) as caught:
        _import(two_cases, coordinator, sandbox, tmp_path / "dicom", THIS, cache)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{tmp_path / 'dicom'}: 2 problems, nothing was imported:"
    assert f"PatientID {OTHER} is another case's registry id" in lines[1]
    assert f"series {uid} already belongs to case {OTHER}" in lines[2]
    assert _counts(two_cases) == before


def test_a_series_already_in_this_case_is_refused_whatever_the_day(
    two_cases: Registry, coordinator: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    uid = _write_series(tmp_path / "dicom", THIS)
    cache = tmp_path / "cache"
    first = _import(two_cases, coordinator, sandbox, tmp_path / "dicom", THIS, cache)
    before = _counts(two_cases)
    for day in (None, 0, 30):
        with pytest.raises(ImportRefusedError) as caught:
            _import(two_cases, coordinator, sandbox, tmp_path / "dicom", THIS, cache, day=day)
        assert str(caught.value) == (
            f"{tmp_path / 'dicom' / 'IM0001.dcm'}: series {uid} is already in case {THIS} "
            f"(series #{first.series_ids[0]}, day 0) (nothing was imported)"
        )
    assert _counts(two_cases) == before


def test_one_refused_series_refuses_the_whole_folder(
    two_cases: Registry, coordinator: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "visit"
    _write_series(folder / "s1", THIS, series_number=1)
    _write_series(folder / "s2", OTHER, series_number=2)
    _write_series(folder / "s3", THIS, series_number=3)
    cache = tmp_path / "cache"
    before = _counts(two_cases)
    with pytest.raises(ImportRefusedError) as caught:
        _import(two_cases, coordinator, sandbox, folder, THIS, cache)
    assert str(caught.value) == (
        f"{folder / 's2' / 'IM0001.dcm'}: PatientID {OTHER} is another case's registry id; "
        f"this import is into {THIS} (nothing was imported)"
    )
    assert _counts(two_cases) == before
    assert _cached(cache) == []
    (folder / "s2").rename(tmp_path / "s2-elsewhere")
    assert len(_import(two_cases, coordinator, sandbox, folder, THIS, cache).series_ids) == 2


def test_a_series_of_several_volumes_goes_in_once(
    two_cases: Registry, coordinator: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    """One series UID can make several volumes (here two orientations, like a localizer);
    all of them go in, and the series is then reported once, not once per volume."""
    uid = new_uid("guards", "localizer")
    planes = {"axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), "sagittal": ((0, 1, 0), (0, 0, -1))}
    for n, (plane, (row, column)) in enumerate(planes.items()):
        write_series(
            np.full((3, 12, 10), 100 * (n + 1), dtype=np.int16),
            tmp_path / "localizer" / plane,
            spacing_mm=(1.0, 1.0, 4.0),
            origin_lps=(0.0, 0.0, 0.0),
            row_direction=row,
            column_direction=column,
            study_instance_uid=new_uid("guards", "localizer", "study"),
            series_instance_uid=uid,
            frame_of_reference_uid=new_uid("guards", "frame"),
            series_number=1,
            sequence=SequenceClass.FLAIR,
            patient_pseudonym=THIS,
        )
    cache = tmp_path / "cache"
    first = _import(two_cases, coordinator, sandbox, tmp_path / "localizer", THIS, cache)
    assert len(first.series_ids) == 2
    before = _counts(two_cases)
    with pytest.raises(ImportRefusedError) as caught:
        _import(two_cases, coordinator, sandbox, tmp_path / "localizer", THIS, cache)
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith(
        f"series {uid} is already in case {THIS} (series #{min(first.series_ids)}, day 0) "
        "(nothing was imported)"
    )
    assert _counts(two_cases) == before


def test_nifti_has_no_patient_but_is_one_case_only_once(
    two_cases: Registry, coordinator: Actor, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    """NIfTI carries no PatientID; its checksum stands for the series UID it lacks."""
    path = _write_nifti(tmp_path / "flair.nii.gz")
    cache = tmp_path / "cache"
    first = _import(two_cases, coordinator, sandbox, path, THIS, cache)
    (volume,) = first.volumes
    assert volume.patient_id is None
    before = _counts(two_cases)
    # Another day of the same case once made a second study holding the same image.
    with pytest.raises(ImportRefusedError, match=rf"is already in case {THIS} \(series #"):
        _import(two_cases, coordinator, sandbox, path, THIS, cache, day=9)
    with pytest.raises(ImportRefusedError) as caught:
        _import(two_cases, coordinator, sandbox, path, OTHER, cache)
    assert str(caught.value) == (
        f"{path}: this image (SHA-256 {volume.content_sha256[:12]}…) already belongs to case "
        f"{THIS} (series #{first.series_ids[0]}, day 0); this import is into {OTHER} "
        "(nothing was imported)"
    )
    assert _counts(two_cases) == before


# --- lab results ------------------------------------------------------------------------------

HEADER = "case,test,day,result,value,unit,assay,lod,loq,note\n"
ROWS = (
    f"{THIS},csf_jcv_pcr,0,detected,1200,copies/mL,Quest ultrasensitive,10,,\n"
    f"{THIS},cd4_count,-2,quantitative,85,cells/µL,,,,\n"
    f"{OTHER},csf_jcv_pcr,5,not_detected,,copies/mL,in-house,200,,\n"
)


def _labs_file(path: Path, text: str) -> Path:
    path.write_text(HEADER + text, encoding="utf-8")
    return path


def test_a_lab_file_imported_twice_stores_its_results_once(
    two_cases: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    path = _labs_file(tmp_path / "labs.csv", ROWS)
    with two_cases.write() as session:
        first = import_lab_file(session, coordinator, path)
    assert (len(first), first.skipped_lines) == (3, ())
    before = _counts(two_cases)
    with two_cases.write() as session:
        again = import_lab_file(session, coordinator, path)
    assert (len(again), again.skipped_lines) == (0, (2, 3, 4))
    assert _counts(two_cases) == before


def test_rows_on_record_are_skipped_and_the_new_ones_stored(
    two_cases: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    """The same results spelt differently (unit spelling, assay case, spaces, a note) are
    still the same results; another assay or value is another result."""
    with two_cases.write() as session:
        import_lab_file(session, coordinator, _labs_file(tmp_path / "first.csv", ROWS))
    later = _labs_file(
        tmp_path / "later.csv",
        f"{THIS},csf_jcv_pcr,0,detected,1200,cp/ml,QUEST  ultrasensitive,10,,repeat\n"
        f"{THIS},csf_jcv_pcr,0,detected,1200,copies/mL,Biomed,10,,\n"
        f"{THIS},cd4_count,-2,quantitative,85.0,cells/mm3,,,,\n"
        f"{OTHER},csf_jcv_pcr,5,not_detected,,copies/mL,in-house,200,,\n"
        f"{OTHER},csf_jcv_pcr,5,not_detected,,copies/mL,in-house,100,,\n",
    )
    with two_cases.write() as session:
        outcome = import_lab_file(session, coordinator, later)
        stored = [(r.assay, r.lod) for r in outcome.stored]
    assert outcome.skipped_lines == (2, 4, 5)
    assert stored == [("Biomed", 10.0), ("in-house", 100.0)]
    assert _counts(two_cases)[2] == 5


def test_the_same_result_twice_in_a_file_names_both_lines(
    two_cases: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    path = _labs_file(
        tmp_path / "labs.csv",
        ROWS + f"{THIS},cd4_count,-2,quantitative,85,cells/uL,,,,typed twice\n",
    )
    before = _counts(two_cases)
    with pytest.raises(LabFileError) as caught, two_cases.write() as session:
        import_lab_file(session, coordinator, path)
    assert [str(e) for e in caught.value.errors] == [
        f"line 5, column row: the same result as line 3 (case {THIS}, cd4_count, day -2); "
        "a file holds each result once"
    ]
    assert "nothing imported" in str(caught.value)
    assert _counts(two_cases) == before


def test_the_same_row_for_two_cases_is_two_results(
    two_cases: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    path = _labs_file(
        tmp_path / "labs.csv",
        f"{THIS},cd4_count,0,quantitative,85,cells/µL,,,,\n"
        f"{OTHER},cd4_count,0,quantitative,85,cells/µL,,,,\n",
    )
    with two_cases.write() as session:
        assert len(import_lab_file(session, coordinator, path)) == 2


def test_a_single_identical_result_is_refused(two_cases: Registry, coordinator: Actor) -> None:
    entry = LabEntry(
        THIS, LabTest.CSF_JCV_PCR, 14, LabQualitative.DETECTED, 350.0, "copies/mL",
        assay="Quest", lod=10.0,
    )  # fmt: skip
    with two_cases.write() as session:
        first = add_lab_result(session, coordinator, entry).id
    before = _counts(two_cases)
    again = LabEntry(
        THIS, LabTest.CSF_JCV_PCR, 14, LabQualitative.DETECTED, 350.0, "cp/ml",
        assay="quest", lod=10.0, note="entered again",
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught, two_cases.write() as session:
        add_lab_result(session, coordinator, again)
    assert str(caught.value) == (
        f"case {THIS}: an identical csf_jcv_pcr result of day 14 is already on record "
        f"(lab result #{first}: same result, value, unit, assay, LOD and LOQ); "
        "nothing was added"
    )
    assert _counts(two_cases) == before
    with two_cases.write() as session:  # another value is another result
        add_lab_result(session, coordinator, dataclasses.replace(entry, value=360.0))
    assert _counts(two_cases)[2] == before[2] + 1


def test_other_tests_differ_by_their_name(two_cases: Registry, coordinator: Actor) -> None:
    def other(name: str) -> LabEntry:
        return LabEntry(
            THIS, LabTest.OTHER, 0, LabQualitative.POSITIVE, test_name=name, assay="ELISA"
        )

    with two_cases.write() as session:
        add_lab_result(session, coordinator, other("Anti-AQP4"))
        add_lab_result(session, coordinator, other("Anti-MOG"))
    with (
        pytest.raises(ValidationError, match=r"identical other \(anti-aqp4\) result of day 0"),
        two_cases.write() as session,
    ):
        add_lab_result(session, coordinator, other("anti-aqp4 "))
