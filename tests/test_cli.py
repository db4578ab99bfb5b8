"""The command line end to end, on a real SQLite file (and PostgreSQL where it runs)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.signin import TEST_PASSWORD, login, sign_in_for
from tests.tamper import out_of_band
from workbench.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line as the registry's coordinator, signing them in first (as the
    registry's first user) when nobody is signed in to that registry yet."""
    url = argv[argv.index("--db") + 1] if "--db" in argv else None
    if url not in _UNUSABLE and "corrupt" not in str(url):
        sign_in_for(argv)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


_UNUSABLE = {"nonsense://", "not a url", "postgresql+psycopg://postgres@127.0.0.1:1/test"}


ADD = (
    *("case", "add", "--id", "PML-0042", "--site", "NL-AMS", "--sex", "female"),
    *("--age-band", "40-49", "--condition", "ms_natalizumab"),
    *("--exposure", "natalizumab:-1100:-20:37", "--feature", "hemiparesis=present@-14"),
)


def test_case_add_then_list(capsys: pytest.CaptureFixture[str], registry_url: str) -> None:
    code, out, _ = run(capsys, "--db", registry_url, "cases")
    assert code == 0
    assert "No cases" in out
    code, out, err = run(capsys, "--db", registry_url, *ADD)
    assert (code, err) == (0, "")
    assert "created case PML-0042" in out
    code, out, _ = run(capsys, "--db", registry_url, "cases", "--json")
    assert json.loads(out) == [
        {
            "registry_id": "PML-0042",
            "site": "NL-AMS",
            "condition": "ms_natalizumab",
            "timepoints": 0,
            "series": 0,
            "lab_results": 0,
            "status": "incomplete",
            "criteria_flag": None,
        }
    ]
    code, out, _ = run(capsys, "--db", registry_url, "case", "show", "PML-0042", "--json")
    shown = json.loads(out)
    assert shown["exposures"] == [["natalizumab", -1100, -20, 37]]
    assert shown["clinical_features"] == [["hemiparesis", "present", -14]]


def test_default_registry_lives_in_the_data_dir(capsys: pytest.CaptureFixture[str]) -> None:
    import os

    assert run(capsys, *ADD)[0] == 0
    data = Path(os.environ["PML_WORKBENCH_DATA"])
    assert (data / "registry.sqlite3").is_file()
    assert "PML-0042" in run(capsys, "cases")[1]


def test_bad_case_input_is_one_clear_line(capsys: pytest.CaptureFixture[str], sqlite_url: str):
    code, _, err = run(capsys, "--db", sqlite_url, *ADD[:-4], "--age-band", "forty")
    assert code == 1
    assert err.startswith("error: age band: 'forty'")
    assert err.count("\n") == 1
    assert run(capsys, "--db", sqlite_url, "cases", "--json")[1].strip() == "[]"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense://", "unsupported database"),
        ("not a url", "not a database URL"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "cannot open the registry"),
    ],
)
def test_unusable_registries_exit_nonzero(capsys, url: str, message: str) -> None:
    code, _, err = run(capsys, "--db", url, "cases")
    assert code == 1
    assert message in err
    assert err.startswith("error: ")


def test_corrupt_registry_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    corrupt = tmp_path / "registry.sqlite3"
    corrupt.write_bytes(b"\x00garbage" * 512)
    code, _, err = run(capsys, "--db", f"sqlite:///{corrupt}", "cases")
    assert code == 1
    assert "is not a usable registry database" in err


def test_labs_import_all_or_nothing(capsys, sqlite_url: str, tmp_path: Path) -> None:
    assert run(capsys, "--db", sqlite_url, *ADD)[0] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "case,test,day,result,value,unit,assay,lod\n"
        "PML-0042,csf_jcv_pcr,0,detected,5000,copies/mL,Quest,10\n"
        "PML-0042,csf_jcv_pcr,7,detected,20000,copies/mL,Quest,oops\n",
        encoding="utf-8",
    )
    code, _, err = run(capsys, "--db", sqlite_url, "labs", "import", str(bad))
    assert code == 1
    assert "line 3, column lod: 'oops' is not a number" in err
    assert json.loads(run(capsys, "--db", sqlite_url, "cases", "--json")[1])[0]["lab_results"] == 0
    good = tmp_path / "good.csv"
    good.write_text(bad.read_text(encoding="utf-8").replace("oops", "10"), encoding="utf-8")
    code, out, _ = run(capsys, "--db", sqlite_url, "labs", "import", str(good))
    assert (code, out.strip()) == (0, f"imported 2 lab result(s) from {good}")
    assert json.loads(run(capsys, "--db", sqlite_url, "cases", "--json")[1])[0]["lab_results"] == 2


def test_labs_import_skips_results_on_record(capsys, registry_url: str, tmp_path: Path):
    """Importing a lab file again stores nothing and says which lines were on record."""
    assert run(capsys, "--db", registry_url, *ADD)[0] == 0
    rows = [
        "PML-0042,csf_jcv_pcr,0,detected,5000,copies/mL,Quest,10",
        "PML-0042,cd4_count,-3,quantitative,120,cells/uL,,",
        "PML-0042,csf_jcv_pcr,7,detected,20000,copies/mL,Quest,10",
    ]
    header = "case,test,day,result,value,unit,assay,lod\n"
    first = tmp_path / "first.csv"
    first.write_text(header + "\n".join(rows[:1] + rows[2:]) + "\n", encoding="utf-8")
    assert run(capsys, "--db", registry_url, "labs", "import", str(first))[0] == 0
    later = tmp_path / "later.csv"
    later.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "--db", registry_url, "labs", "import", str(later))
    assert (code, out.strip()) == (
        0,
        f"imported 1 lab result(s) from {later}; 2 already on record were skipped (lines 2, 4)",
    )
    code, out, _ = run(capsys, "--db", registry_url, "labs", "import", str(later))
    assert out.strip().endswith("3 already on record were skipped (lines 2, 3, 4)")
    assert out.startswith("imported 0 lab result(s)")
    shown = json.loads(run(capsys, "--db", registry_url, "cases", "--json")[1])
    assert shown[0]["lab_results"] == 3
    twice = tmp_path / "twice.csv"
    twice.write_text(header + rows[1] + "\n" + rows[1] + "\n", encoding="utf-8")
    code, _, err = run(capsys, "--db", registry_url, "labs", "import", str(twice))
    assert code == 1
    assert "line 3, column row: the same result as line 2 (case PML-0042, cd4_count, day -3)" in err


def test_cases_pages_sorts_and_searches_in_the_database(
    capsys: pytest.CaptureFixture[str], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.services import cases as case_service

    monkeypatch.setattr(case_service, "MAX_PAGE", 2)  # several pages for a few cases
    ids = ["PML-0007", "PML-0003", "PML-0011", "PML-0005", "PML-0001"]
    for registry_id in ids:
        add = [registry_id if part == "PML-0042" else part for part in ADD]
        assert run(capsys, "--db", sqlite_url, *add)[0] == 0

    def listed(*options: str) -> list[str]:
        code, out, err = run(capsys, "--db", sqlite_url, "cases", "--json", *options)
        assert (code, err) == (0, "")
        return [row["registry_id"] for row in json.loads(out)]

    assert listed() == sorted(ids)
    assert listed("--desc") == sorted(ids, reverse=True)
    assert listed("--limit", "3", "--offset", "1") == sorted(ids)[1:4]
    assert listed("--search", "001") == ["PML-0001", "PML-0011"]
    assert listed("--sort", "labs", "--limit", "0") == []
    code, _, err = run(capsys, "--db", sqlite_url, "cases", "--sort", "surname")
    assert code != 0
    assert "--sort" in err
    code, _, err = run(capsys, "--db", sqlite_url, "cases", "--offset", "-1")
    assert code != 0
    assert "must not be negative" in err


def test_db_upgrade_reports_revision(capsys: pytest.CaptureFixture[str], sqlite_url: str) -> None:
    code, out, _ = run(capsys, "--db", sqlite_url, "db", "upgrade")
    assert code == 0
    assert "upgraded to schema revision" in out
    code, out, _ = run(capsys, "--db", sqlite_url, "db", "upgrade")
    assert "already at schema revision" in out


def test_audit_verify_detects_an_edited_row(capsys, sqlite_url: str, tmp_path: Path) -> None:
    assert run(capsys, "--db", sqlite_url, *ADD)[0] == 0
    code, out, _ = run(capsys, "--db", sqlite_url, "audit", "verify")
    assert code == 0
    assert re.search(r"audit chain intact: \d+ event\(s\)", out)
    with out_of_band(sqlite_url) as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 2"))
    code, _, err = run(capsys, "--db", sqlite_url, "audit", "verify")
    assert code == 1
    assert "audit event 2: its content does not match its hash" in err


def test_unknown_user_is_refused_once_the_registry_has_users(capsys, sqlite_url: str) -> None:
    assert run(capsys, "--db", sqlite_url, *ADD)[0] == 0
    with pytest.raises(AssertionError, match="sign-in refused: unknown user or wrong password"):
        login(sqlite_url, "stranger")


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for command in ("gui", "demo", "cases", "case", "labs", "db"):
        assert command in done.stdout


def test_demo_command_builds_the_demo_registry_and_renders_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, qapp: object
) -> None:
    """What 'make demo' runs, with --screenshot instead of a window left open."""
    import os

    png = tmp_path / "demo.png"
    code, out, err = run(capsys, "demo", "--screenshot", str(png))
    assert code == 0, err
    assert "Built the demo registry: 10 cases with synthetic MRI" in out
    assert png.stat().st_size > 10_000
    demo_db = Path(os.environ["PML_WORKBENCH_DATA"]) / "demo" / "registry.sqlite3"
    assert demo_db.is_file()
    assert not (Path(os.environ["PML_WORKBENCH_DATA"]) / "registry.sqlite3").exists()
    listed = json.loads(run(capsys, "--db", "demo", "cases", "--json")[1])
    assert len(listed) == 10
    assert {row["status"] for row in listed} >= {"final", "in_reading", "incomplete"}
    code, out, _ = run(capsys, "demo", "--no-gui")
    assert (code, "up to date" in out) == (0, True)


def test_convert_writes_nifti_and_sidecars(capsys, tmp_path: Path) -> None:
    import nibabel as nib
    import numpy as np

    from workbench.demo.dicom_series import new_uid, write_series
    from workbench.domain import SequenceClass

    volume = (np.arange(6 * 8 * 10, dtype=np.int16) % 300).reshape(6, 8, 10)
    write_series(
        volume,
        tmp_path / "in",
        spacing_mm=(0.9, 0.8, 3.0),
        origin_lps=(-20.0, -30.0, 10.0),
        study_instance_uid=new_uid("s"),
        series_instance_uid=new_uid("x"),
        frame_of_reference_uid=new_uid("f"),
        series_number=3,
        sequence=SequenceClass.FLAIR,
        patient_pseudonym="PML-T",
    )
    code, out, err = run(capsys, "convert", str(tmp_path / "in"), str(tmp_path / "out"))
    assert (code, err) == (0, "")
    (written,) = [Path(line) for line in out.splitlines()]
    assert written.name.endswith(".nii.gz")
    assert written.with_name(written.name.replace(".nii.gz", ".json")).is_file()
    image = nib.load(written)
    assert isinstance(image, nib.Nifti1Image)
    assert image.shape == (10, 8, 6)
    # RAS affine: LPS x and y flipped; the first voxel sits at LPS (-20, -30, 10).
    assert np.allclose(image.affine @ [0, 0, 0, 1], [20.0, 30.0, 10.0, 1.0])
    assert np.allclose(np.abs(np.diag(image.affine))[:3], [0.8, 0.9, 3.0])
    assert np.array_equal(np.asarray(image.dataobj)[:, :, 2], volume[2].T)


def test_convert_refuses_what_it_cannot_read(capsys, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not an image", encoding="utf-8")
    code, _, err = run(capsys, "convert", str(tmp_path / "in"), str(tmp_path / "out"))
    assert code == 1
    assert "no DICOM image found" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    code, _, err = run(capsys, "convert", str(tmp_path / "missing"), str(tmp_path / "out"))
    assert (code, "no such file or folder" in err) == (1, True)


def _write_small_series(folder: Path, real_name: str | None = None) -> None:
    import numpy as np
    import pydicom

    from workbench.demo.dicom_series import new_uid, write_series
    from workbench.domain import SequenceClass

    volume = (np.arange(5 * 12 * 10, dtype=np.int16) % 500).reshape(5, 12, 10)
    write_series(
        volume,
        folder,
        spacing_mm=(1.0, 1.0, 5.0),
        origin_lps=(0.0, 0.0, 0.0),
        study_instance_uid=new_uid("cli", "study"),
        series_instance_uid=new_uid("cli", str(folder)),
        frame_of_reference_uid=new_uid("cli", "frame"),
        series_number=4,
        sequence=SequenceClass.DWI,
        patient_pseudonym="PML-0042",
    )
    if real_name:
        for path in folder.glob("*.dcm"):
            ds = pydicom.dcmread(path)
            ds.PatientName = real_name
            ds.save_as(path)


def test_import_deid_check_and_deidentify(capsys, sqlite_url: str, tmp_path: Path) -> None:
    assert run(capsys, "--db", sqlite_url, *ADD)[0] == 0
    clean, named = tmp_path / "clean", tmp_path / "named"
    _write_small_series(clean)
    _write_small_series(named, real_name="Doe^Jane")

    code, out, _ = run(capsys, "deid-check", str(clean))
    assert code == 0
    code, out, _ = run(capsys, "deid-check", str(named))
    assert code == 1
    assert "PatientName (0010,0010)" in out
    assert "Doe^Jane" not in out
    assert run(capsys, "deid-check", str(tmp_path / "missing"))[0] == 2

    code, _, err = run(
        capsys, "--db", sqlite_url, "import", str(named), "--case", "PML-0042", "--day", "0"
    )
    assert code == 1
    assert "refused by the de-identification gate" in err
    assert "Doe^Jane" not in err

    fixed = tmp_path / "fixed"
    code, out, _ = run(capsys, "deidentify", str(named), str(fixed), "--case-id", "PML-0042")
    assert code == 0
    assert run(capsys, "deid-check", str(fixed))[0] == 0
    again = tmp_path / "again"
    assert run(capsys, "deidentify", str(named), str(again), "--case-id", "PML-0042")[0] == 0
    import pydicom

    first = pydicom.dcmread(next(fixed.rglob("*.dcm")), stop_before_pixels=True)
    second = pydicom.dcmread(next(again.rglob("*.dcm")), stop_before_pixels=True)
    assert first.SeriesInstanceUID == second.SeriesInstanceUID  # one secret per case

    code, out, err = run(
        capsys, "--db", sqlite_url, "import", str(fixed), "--case", "PML-0042", "--day", "7"
    )
    assert code == 0, err
    assert "imported 1 series into PML-0042" in out
    shown = json.loads(run(capsys, "--db", sqlite_url, "case", "show", "PML-0042", "--json")[1])
    assert shown["timepoints"][0]["day"] == 7
    assert shown["timepoints"][0]["series"][0]["sequence_class"] == "DWI"


def test_bench_prints_ratio_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bench", "--json", "--slices", "16")
    assert code == 0
    rows = json.loads(out)
    assert {"name", "value", "unit", "peer", "ratio"} <= set(rows[0])
    names = " ".join(row["name"] for row in rows)
    assert "first import" in names
    assert "reopen" in names
    assert all(row["value"] > 0 for row in rows)


def test_criteria_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = [
        {
            "id": "a",
            "clinical_features": "present",
            "imaging_findings": "present",
            "csf_jcv_pcr": "not_done",
            "histopathology_triad": "not_done",
            "tissue_jcv": "not_done",
            "alternative_diagnosis": False,
        }
    ]
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases), encoding="utf-8")
    code, out, _ = run(capsys, "criteria", str(path))
    assert code == 0
    (result,) = json.loads(out)
    assert result["certainty"] == "possible"
    assert any("definite" in change for change in result["would_change"])
    cases[0]["csf_jcv_pcr"] = "positive"
    path.write_text(json.dumps(cases), encoding="utf-8")
    code, _, err = run(capsys, "criteria", str(path))
    assert code == 1
    assert "csf_jcv_pcr" in err


def test_series_class_can_be_corrected_with_a_reason(
    capsys: pytest.CaptureFixture[str], sqlite_url: str, tmp_path: Path
) -> None:
    assert run(capsys, "--db", sqlite_url, *ADD)[0] == 0
    _write_small_series(tmp_path / "dwi")
    args = ("import", str(tmp_path / "dwi"), "--case", "PML-0042", "--day", "0")
    assert run(capsys, "--db", sqlite_url, *args)[0] == 0
    code, _, err = run(
        capsys, "--db", sqlite_url, "series", "set-class", "1", "XYZ", "--reason", "r"
    )
    assert code == 1
    assert "CLASS: 'XYZ' is not one of" in err
    code, out, _ = run(
        capsys, "--db", sqlite_url, "series", "set-class", "1", "ADC", "--reason", "map, not DWI"
    )
    assert (code, out.strip()) == (0, "series #1 is now ADC")
    shown = json.loads(run(capsys, "--db", sqlite_url, "case", "show", "PML-0042", "--json")[1])
    assert shown["timepoints"][0]["series"][0]["sequence_class"] == "ADC"
    from workbench.registry.db import Registry
    from workbench.registry.models import Series

    registry = Registry.open(sqlite_url)
    with registry.read() as session:
        series = session.get(Series, 1)
        assert series is not None
        assert series.sequence_evidence["inferred"] == "DWI"
        assert series.sequence_evidence["corrected"]["reason"] == "map, not DWI"
    registry.close()
    assert run(capsys, "--db", sqlite_url, "audit", "verify")[0] == 0


def _assign_reader(session, username: str) -> None:
    """Make ``username`` an assigned reader of PML-0042 (blinding needs the assignment)."""
    from adjudication.vocabulary import Role
    from workbench.cases import get_case, update_case
    from workbench.reading_flow import assign
    from workbench.users import resolve_actor

    coordinator = resolve_actor(session, "coordinator")
    case = get_case(session, "PML-0042")
    if case.status.value == "incomplete":
        update_case(session, coordinator, "PML-0042", case.version, {"status": "ready"})
    assign(session, coordinator, "PML-0042", [username], Role.READER)


def test_export_seg_command(capsys: pytest.CaptureFixture[str], sqlite_url: str, tmp_path: Path):
    import numpy as np
    import pydicom

    from adjudication.vocabulary import ImagingJudgement, Role
    from workbench.reads import LesionDraft, save_draft, start_or_resume_draft, submit_read
    from workbench.registry.db import Registry
    from workbench.users import add_user, resolve_actor

    assert run(capsys, "--db", sqlite_url, *ADD)[0] == 0
    code, out, _ = run(
        capsys, "--db", sqlite_url, "export-seg", str(tmp_path / "o"), "--case", "PML-0042"
    )
    assert code == 1
    _write_small_series(tmp_path / "dwi")
    args = ("import", str(tmp_path / "dwi"), "--case", "PML-0042", "--day", "0")
    assert run(capsys, "--db", sqlite_url, *args)[0] == 0
    registry = Registry.open(sqlite_url)
    with registry.write() as session:
        add_user(
            session,
            *("rad1", "Dr Reader", {Role.READER}),
            by=resolve_actor(session, "coordinator"),
            password=TEST_PASSWORD,
        )
        _assign_reader(session, "rad1")
    with registry.write() as session:
        reader = resolve_actor(session, "rad1")
        read = start_or_resume_draft(session, reader, "PML-0042")
        labels = np.zeros((10, 12, 5), dtype=np.uint8)
        labels[2:5, 3:6, 1:3] = 1
        labels[6:8, 7:9, 3] = 2
        read = save_draft(
            session,
            reader,
            read.id,
            read.version,
            lesions=[LesionDraft(1, labels)],
            judgement=ImagingJudgement.YES,
        )
        submit_read(session, reader, read.id, read.version)
    registry.close()
    outdir = tmp_path / "seg"
    code, out, err = run(
        capsys, "--db", sqlite_url, "export-seg", str(outdir), "--case", "PML-0042"
    )
    assert code == 0, err
    (path,) = [Path(line) for line in out.splitlines()]
    assert path.is_file()
    seg = pydicom.dcmread(path)
    assert seg.Modality == "SEG"
    assert len(seg.SegmentSequence) == 2


def test_import_mask_into_a_draft(capsys: pytest.CaptureFixture[str], sqlite_url: str, tmp_path):
    import numpy as np
    from sqlalchemy import select

    from adjudication.vocabulary import ImagingJudgement, Role
    from workbench.lesions.nifti_io import export_label_nifti
    from workbench.reads import (
        LesionDraft,
        list_lesions,
        load_draft_labels,
        save_draft,
        start_or_resume_draft,
        submit_read,
    )
    from workbench.registry.db import Registry
    from workbench.registry.models import Read, Series
    from workbench.studies import series_affine
    from workbench.users import add_user, resolve_actor

    assert run(capsys, "--db", sqlite_url, *ADD)[0] == 0
    _write_small_series(tmp_path / "dwi")
    args = ("import", str(tmp_path / "dwi"), "--case", "PML-0042", "--day", "0")
    assert run(capsys, "--db", sqlite_url, *args)[0] == 0
    registry = Registry.open(sqlite_url)
    with registry.write() as session:
        add_user(
            session,
            *("rad1", "Dr Reader", {Role.READER}),
            by=resolve_actor(session, "coordinator"),
            password=TEST_PASSWORD,
        )
        _assign_reader(session, "rad1")
        series = session.get(Series, 1)
        assert series is not None
        affine, shape = series_affine(series), tuple(series.shape)
    binary = np.zeros(shape, dtype=np.uint8)
    binary[1:4, 2:5, 0:2] = 1  # two separate blobs: split into two lesions
    binary[7:9, 8:10, 3:5] = 1
    export_label_nifti(binary, affine, tmp_path / "mask.nii.gz")
    shifted = affine.copy()
    shifted[:3, 3] += 5.0
    export_label_nifti(binary, shifted, tmp_path / "elsewhere.nii.gz")

    as_reader = ("--db", sqlite_url, "--user", "rad1", "import-mask")
    code, _, err = run(
        capsys,
        *as_reader,
        str(tmp_path / "elsewhere.nii.gz"),
        "--case",
        "PML-0042",
        "--series",
        "1",
    )
    assert code == 1
    assert "elsewhere.nii.gz" in err
    code, out, err = run(
        capsys, *as_reader, str(tmp_path / "mask.nii.gz"), "--case", "PML-0042", "--series", "1"
    )
    assert code == 0, err
    assert "2 lesion(s) on series #1" in out
    code, _, err = run(
        capsys, *as_reader, str(tmp_path / "mask.nii.gz"), "--case", "PML-0042", "--series", "1"
    )
    assert code == 1  # the same lesions again: nothing new to add
    assert "already marked" in err
    with registry.write() as session:
        reader = resolve_actor(session, "rad1")
        read = start_or_resume_draft(session, reader, "PML-0042")
        stored = load_draft_labels(session, reader, read.id, 1)
        assert np.array_equal(stored != 0, binary != 0)
        assert len(list_lesions(session, reader, read.id)) == 2
        read = save_draft(
            session,
            reader,
            read.id,
            read.version,
            lesions=[LesionDraft(1, stored)],
            judgement=ImagingJudgement.YES,
        )
        submit_read(session, reader, read.id, read.version)

    outdir = tmp_path / "seg"
    assert run(capsys, "--db", sqlite_url, "export-seg", str(outdir), "--case", "PML-0042")[0] == 0
    (seg,) = sorted(outdir.glob("*.dcm"))
    with registry.write() as session:
        add_user(
            session,
            *("rad2", "Dr Second", {Role.READER}),
            by=resolve_actor(session, "coordinator"),
            password=TEST_PASSWORD,
        )
        _assign_reader(session, "rad2")
    second = ("--db", sqlite_url, "--user", "rad2", "import-mask", str(seg))
    code, out, err = run(capsys, *second, "--case", "PML-0042", "--series", "1")
    assert code == 0, err
    assert "2 lesion(s) on series #1" in out
    with registry.read() as session:
        other = resolve_actor(session, "rad2")
        (draft,) = [r for r in session.scalars(select(Read)) if r.reader_id != read.reader_id]
        assert np.array_equal(load_draft_labels(session, other, draft.id, 1) != 0, binary != 0)
    registry.close()


def test_case_assign(capsys: pytest.CaptureFixture[str], sqlite_url: str) -> None:
    assert run(capsys, "--db", sqlite_url, *ADD)[0] == 0
    for name, role in (("rad1", "reader"), ("rad2", "reader"), ("neuro1", "panel")):
        assert (
            run(capsys, "--db", sqlite_url, "user", "add", name, "--name", name, "--role", role)[0]
            == 0
        )
    code, _, err = run(capsys, "--db", sqlite_url, "case", "assign", "PML-0042", "--reader", "rad1")
    assert code == 1  # an incomplete case is not ready for reading
    assert "incomplete" in err
    from workbench.cases import get_case, update_case
    from workbench.registry.db import Registry
    from workbench.users import resolve_actor

    registry = Registry.open(sqlite_url)
    with registry.write() as session:
        case = get_case(session, "PML-0042")
        update_case(
            session,
            resolve_actor(session, "coordinator"),
            "PML-0042",
            case.version,
            {"status": "ready"},
        )
    registry.close()
    code, out, err = run(
        capsys, "--db", sqlite_url, "case", "assign", "PML-0042",
        "--reader", "rad1", "--reader", "rad2", "--panel", "neuro1",
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == "PML-0042: assigned; status in_reading"
    code, _, err = run(
        capsys, "--db", sqlite_url, "case", "assign", "PML-0042", "--reader", "neuro1"
    )
    assert code == 1
