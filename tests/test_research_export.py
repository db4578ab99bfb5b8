"""The research extract on both databases and on the demo registry.

A small registry whose content is known: readers ``reader_zulu``, ``reader_alpha`` and
``reader_mike``, panel members ``panel_one`` and ``panel_two``. Case ``PML-0001`` has both
reads in and a signed panel decision; case ``PML-0002`` has one read in and one outstanding,
so its read is withheld. Free text, image paths and UIDs carry sentinels that must appear in
no file of the extract.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from adjudication.consensus import Proposal
from adjudication.vocabulary import Certainty, ImagingJudgement, Role
from tests.signin import TEST_PASSWORD
from tests.test_cli import run
from workbench import research_export as data_layer
from workbench.blinding import all_case_facts
from workbench.cases import NewCase, NewExposure, create_case, get_case, update_case
from workbench.domain import CaseStatus, Condition, SequenceClass, Sex, SourceKind
from workbench.errors import PermissionDeniedError, ValidationError
from workbench.panel import propose_decision, sign_decision
from workbench.reading_flow import submit
from workbench.reads import (
    assigned_reader_ids,
    case_facts,
    read_facts,
    save_draft,
    start_or_resume_draft,
)
from workbench.registry.db import Registry
from workbench.registry.models import (
    AuditEvent,
    Case,
    ClinicalFeature,
    Decision,
    ImagingStudy,
    LabResult,
    Read,
    Series,
    User,
)
from workbench.research_export import TABLES, ColumnType, cell, safe_text
from workbench.services import cases
from workbench.services import research_export as service
from workbench.users import Actor, add_user, resolve_actor

SUMMARY = "Sentinel summary Quokka-7781 seen at the clinic"
COMMENT = "Sentinel comment Wombat-5512 about the scan"
RATIONALE = "Sentinel rationale Platypus-3390 for the panel"
SOURCE = "/sentinel/site-archive/Echidna-2207/series"
STUDY_UID = "1.2.826.0.1.3680043.99.424242.1"
SERIES_UID = "1.2.826.0.1.3680043.99.424242.2"
FRAME_UID = "1.2.826.0.1.3680043.99.424242.3"
DESCRIPTION = "Sentinel description Numbat-6604"
FORMULA_DRUG = "=HYPERLINK(evil)"

READERS = ("reader_zulu", "reader_alpha", "reader_mike")
PANEL = ("panel_one", "panel_two")


@dataclass(frozen=True)
class World:
    registry: Registry
    coordinator: Actor
    people: dict[str, Actor]

    def __getitem__(self, name: str) -> Actor:
        return self.people[name]


def _new_case(w: World, registry_id: str) -> None:
    with w.registry.write() as session:
        create_case(
            session,
            w.coordinator,
            NewCase(
                registry_id,
                "NL-AMS",
                Sex.FEMALE,
                "40-49",
                Condition.MS_NATALIZUMAB,
                condition_detail="Sentinel detail Bilby-1203",
                clinical_summary=SUMMARY,
                exposures=(NewExposure(FORMULA_DRUG, -900, -20, 30),),
            ),
        )
    with w.registry.write() as session:
        version = get_case(session, registry_id).version
        update_case(session, w.coordinator, registry_id, version, {"status": CaseStatus.READY})
    with w.registry.write() as session:
        case_id = get_case(session, registry_id).id
        study = ImagingStudy(
            case_id=case_id, day=0, study_instance_uid=STUDY_UID, description=DESCRIPTION
        )
        study.series.append(
            Series(
                source_kind=SourceKind.DICOM,
                source_uri=f"{SOURCE}/{registry_id}",
                series_instance_uid=f"{SERIES_UID}{registry_id[-1]}",
                frame_of_reference_uid=FRAME_UID,
                content_sha256="ab" * 32,
                sequence_class=SequenceClass.FLAIR,
                sequence_evidence={"SeriesDescription": DESCRIPTION},
                description=DESCRIPTION,
                shape=[4, 5, 6],
                spacing=[1.0, 1.0, 3.0],
                affine=[1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 3.0, 0, 0, 0, 0, 1.0],
                dtype="int16",
                n_files=6,
                cache_path="/sentinel/cache/Quoll-8812",
            )
        )
        session.add(study)
        session.add(
            ClinicalFeature(
                case_id=case_id,
                feature="hemiparesis",
                status="present",
                onset_day=-10,
                note="Sentinel note Dunnart-4471",
            )
        )


def _submit(w: World, reader: str, registry_id: str) -> None:
    with w.registry.write() as session:
        read = start_or_resume_draft(session, w[reader], registry_id)
        read = save_draft(
            session,
            w[reader],
            read.id,
            read.version,
            lesions=(),
            judgement=ImagingJudgement.YES,
            confidence=4,
            comment=COMMENT,
            features={"pattern": "typical", "note": "free words here", "count": 2},
        )
    with w.registry.write() as session:
        submit(session, w[reader], read.id, read.version)


@pytest.fixture
def world(registry: Registry, coordinator: Actor) -> World:
    people = {}
    with registry.write() as session:
        for name in READERS:
            add_user(
                session, name, f"Dr {name}", {Role.READER}, by=coordinator, password=TEST_PASSWORD
            )
        for name in PANEL:
            add_user(
                session, name, f"Dr {name}", {Role.PANEL}, by=coordinator, password=TEST_PASSWORD
            )
        for name in (*READERS, *PANEL):
            people[name] = resolve_actor(session, name)
    w = World(registry, coordinator, people)
    _new_case(w, "PML-0001")
    _new_case(w, "PML-0002")
    cases.assign(registry, coordinator, "PML-0001", readers=["reader_zulu", "reader_alpha"])
    cases.assign(registry, coordinator, "PML-0001", panel=list(PANEL))
    cases.assign(registry, coordinator, "PML-0002", readers=["reader_mike", "reader_alpha"])
    _submit(w, "reader_zulu", "PML-0001")
    _submit(w, "reader_alpha", "PML-0001")
    _submit(w, "reader_mike", "PML-0002")  # reader_alpha's read of PML-0002 is outstanding
    with registry.write() as session:
        decision = propose_decision(
            session, w["panel_one"], "PML-0001", Proposal(Certainty.NOT_PML, None, RATIONALE)
        )
        decision_id = decision.id
    for member in PANEL:
        with registry.write() as session:
            sign_decision(session, w[member], decision_id, TEST_PASSWORD)
    return w


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty folder for extracts, apart from the SQLite registry's files."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def _csv(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()))


def _check_against_dictionary(folder: Path) -> None:
    """Every CSV header equals its dictionary entries (CSV and JSON), every cell parses as
    its column's type and every category value is one of the allowed values."""
    dictionary = json.loads((folder / "data_dictionary.json").read_text(encoding="utf-8"))
    by_file = {entry["file"]: entry for entry in dictionary["files"]}
    dict_rows = _csv(folder, "data_dictionary.csv")
    assert set(by_file) == {spec.file for spec in TABLES}
    for name, entry in by_file.items():
        with open(folder / name, encoding="utf-8", newline="") as file:
            reader = csv.reader(file)
            header = next(reader)
            rows = list(reader)
        declared = [c["name"] for c in entry["columns"]]
        assert header == declared, name
        assert [r["column"] for r in dict_rows if r["file"] == name and r["column"]] == header
        for column in entry["columns"]:
            assert column["description"], (name, column["name"])
            assert column["type"] in {t.value for t in ColumnType}
            assert bool(column["allowed_values"]) == (column["type"] == "category")
        for row in rows:
            assert len(row) == len(header), name
            for value, column in zip(row, entry["columns"], strict=True):
                if value == "":
                    continue
                kind = column["type"]
                where = (name, column["name"], value)
                if kind == "integer":
                    int(value)
                elif kind == "number":
                    float(value)
                elif kind == "boolean":
                    assert value in {"true", "false"}, where
                elif kind == "date-time":
                    assert value.endswith("Z"), where
                    dt.datetime.fromisoformat(value.removesuffix("Z"))
                elif kind == "category":
                    assert value in column["allowed_values"], where


def _export(w: World, folder: Path, *, with_free_text: bool = False) -> service.ExportSummary:
    return service.export_extract(w.registry, w.coordinator, folder, with_free_text=with_free_text)


def test_the_extract_on_both_databases(world: World, out: Path) -> None:
    folder = out / "extract"
    summary = _export(world, folder)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [spec.file for spec in TABLES]
        + ["data_dictionary.csv", "data_dictionary.json", "versions.json"]
    )
    assert sorted(p.name for p in out.iterdir()) == ["extract"]  # no temporary left
    _check_against_dictionary(folder)

    case_rows = {r["registry_id"]: r for r in _csv(folder, "cases.csv")}
    assert case_rows["PML-0001"]["reads_exported"] == "true"
    assert case_rows["PML-0002"]["reads_exported"] == "false"
    assert "clinical_summary" not in case_rows["PML-0001"]

    reads = _csv(folder, "reads.csv")
    assert [r["registry_id"] for r in reads] == ["PML-0001", "PML-0001"]  # PML-0002 withheld
    # codes by sorted username: reader_alpha R01, reader_zulu R02 (whatever the read order)
    with world.registry.read() as session:
        by_reader = dict(
            session.execute(
                select(Read.id, User.username).join(User, User.id == Read.reader_id)
            ).all()
        )
    assert {by_reader[int(r["read_id"])]: r["reader"] for r in reads} == {
        "reader_alpha": "R01",
        "reader_zulu": "R02",
    }
    assert {r["judgement"] for r in reads} == {"yes"}
    assert json.loads(reads[0]["features_json"]) == {"count": 2, "pattern": "typical"}
    assert reads[0]["submitted_at"].endswith("Z")

    (decision,) = _csv(folder, "decisions.csv")
    assert decision["registry_id"] == "PML-0001"
    assert (decision["certainty"], decision["state"], decision["signed"]) == (
        "not_pml",
        "final",
        "true",
    )
    assert decision["proposed_by"] == "P01"
    assert decision["signed_by"] == "P01;P02"

    (exposure, _other) = _csv(folder, "exposures.csv")
    assert exposure["drug"] == "'" + FORMULA_DRUG  # not a formula in a spreadsheet
    assert exposure["start_day"] == "-900"  # a number is never prefixed

    (timepoint, _second) = _csv(folder, "imaging_timepoints.csv")
    assert (timepoint["shape_k"], timepoint["spacing_k"], timepoint["sequence_class"]) == (
        "6",
        "3.0",
        "FLAIR",
    )

    versions = json.loads((folder / "versions.json").read_text(encoding="utf-8"))
    assert versions["withheld_cases"] == 1 == summary.withheld_cases
    assert versions["row_counts"]["reads.csv"] == 2
    assert versions["row_counts"]["cases.csv"] == 2
    assert versions["software_version"] == summary.software_version
    assert versions["ruleset_version"] == "AAN2013/2"
    assert versions["schema_revision"]
    assert versions["with_free_text"] is False

    text = _all_text(folder)
    forbidden = [*READERS, *PANEL, world.coordinator.username, "Dr reader"]
    forbidden += [SUMMARY, COMMENT, RATIONALE, SOURCE, "Echidna", STUDY_UID, SERIES_UID]
    forbidden += [FRAME_UID, DESCRIPTION, "Numbat", "Bilby", "Dunnart", "Quoll", "ab" * 32]
    forbidden += ["free words", "first MRI suggestive"]
    for needle in forbidden:
        assert needle not in text, needle

    # audited, in its own transaction, with the hash of every file as written
    with world.registry.read() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "registry.export")
        ).one()
        actor, after = event.actor, event.after
    assert actor == world.coordinator.username
    assert after is not None
    for f in summary.files:
        digest = hashlib.sha256((folder / f.name).read_bytes()).hexdigest()
        assert after["files"][f.name]["sha256"] == digest == f.sha256
    assert after["files"]["reads.csv"]["rows"] == 2
    assert after["withheld_cases"] == 1
    assert str(out) not in json.dumps(after)


def test_the_withheld_read_comes_once_the_last_reader_submits(world: World, out: Path) -> None:
    _submit(world, "reader_alpha", "PML-0002")
    summary = _export(world, out / "out")
    assert summary.withheld_cases == 0
    reads = _csv(out / "out", "reads.csv")
    assert sorted(r["registry_id"] for r in reads) == ["PML-0001"] * 2 + ["PML-0002"] * 2
    # codes are numbered within this extract: a third reader is R02 between alpha and zulu
    assert sorted({r["reader"] for r in reads}) == ["R01", "R02", "R03"]


def test_a_coordinator_blinded_as_reader_gets_no_reads_of_that_case(
    world: World, out: Path
) -> None:
    """An assigned reader who has not submitted is blinded whatever else they are."""
    with world.registry.write() as session:
        add_user(
            session,
            "coord_two",
            "Dr Two",
            {Role.COORDINATOR, Role.READER},
            by=world.coordinator,
            password=TEST_PASSWORD,
        )
        second = resolve_actor(session, "coord_two")
    _new_case(world, "PML-0003")
    cases.assign(
        world.registry, world.coordinator, "PML-0003", readers=["reader_zulu", "coord_two"]
    )
    _submit(world, "reader_zulu", "PML-0003")
    summary = service.export_extract(world.registry, second, out / "out")
    assert summary.withheld_cases == 2  # PML-0002 and PML-0003, where coord_two is blinded
    reads = _csv(out / "out", "reads.csv")
    assert {r["registry_id"] for r in reads} == {"PML-0001"}
    cases_csv = {r["registry_id"]: r["reads_exported"] for r in _csv(out / "out", "cases.csv")}
    assert cases_csv == {"PML-0001": "true", "PML-0002": "false", "PML-0003": "false"}


def test_a_reader_and_a_panel_member_are_refused(world: World, out: Path) -> None:
    for who in ("reader_alpha", "panel_one"):
        with pytest.raises(PermissionDeniedError, match="export the research extract"):
            service.export_extract(world.registry, world[who], out / who)
        assert not (out / who).exists()
    assert list(out.iterdir()) == []
    with world.registry.read() as session:
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.action == "registry.export")).all()
            == []
        )


def test_a_folder_with_files_is_refused_and_left_untouched(
    sqlite_registry: Registry, out: Path
) -> None:
    coordinator = _coordinator(sqlite_registry)
    folder = out / "analyst"
    folder.mkdir()
    (folder / "cases.csv").write_text("my own work\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="not empty"):
        service.export_extract(sqlite_registry, coordinator, folder)
    assert [p.name for p in folder.iterdir()] == ["cases.csv"]
    assert (folder / "cases.csv").read_text(encoding="utf-8") == "my own work\n"
    assert sorted(p.name for p in out.iterdir()) == ["analyst"]
    a_file = out / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(ValidationError, match="not a folder"):
        service.export_extract(sqlite_registry, coordinator, a_file)
    with pytest.raises(ValidationError, match="does not exist"):
        service.export_extract(sqlite_registry, coordinator, out / "no" / "such")
    assert a_file.read_text(encoding="utf-8") == "x"


def test_an_empty_folder_is_used(sqlite_registry: Registry, out: Path) -> None:
    coordinator = _coordinator(sqlite_registry)
    folder = out / "empty"
    folder.mkdir()
    summary = service.export_extract(sqlite_registry, coordinator, folder)
    assert (folder / "versions.json").is_file()
    assert summary.withheld_cases == 0
    assert _csv(folder, "cases.csv") == []
    _check_against_dictionary(folder)


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_midway_leaves_no_folder_and_no_temporary(
    world: World, out: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    real = service.render_csv

    def failing(spec: data_layer.TableSpec, *args: object, **kwargs: object) -> str:
        if spec.file == "lesions.csv":  # after several files are written
            raise error
        return real(spec, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "render_csv", failing)
    with pytest.raises(type(error)):
        _export(world, out / "extract")
    assert list(out.iterdir()) == []
    # an empty folder given by the analyst is still there, still empty
    (out / "given").mkdir()
    with pytest.raises(type(error)):
        _export(world, out / "given")
    assert [p.name for p in out.iterdir()] == ["given"]
    assert list((out / "given").iterdir()) == []


def test_no_extract_stays_without_its_audit_event(
    world: World, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(service, "record_export", failing)
    with pytest.raises(RuntimeError, match="audit trail unavailable"):
        _export(world, out / "extract")
    assert list(out.iterdir()) == []


def test_free_text_only_when_asked(world: World, out: Path) -> None:
    _export(world, out / "with", with_free_text=True)
    _check_against_dictionary(out / "with")
    rows = {r["registry_id"]: r for r in _csv(out / "with", "cases.csv")}
    assert rows["PML-0001"]["clinical_summary"] == SUMMARY
    assert "Dunnart" in (out / "with" / "clinical_features.csv").read_text("utf-8")
    versions = json.loads((out / "with" / "versions.json").read_text("utf-8"))
    assert versions["with_free_text"] is True
    # comments, rationales, names and image identity stay out even then
    text = _all_text(out / "with")
    for needle in (COMMENT, RATIONALE, SOURCE, STUDY_UID, DESCRIPTION, *READERS, *PANEL):
        assert needle not in text, needle


def test_cells() -> None:
    (text,) = [c for c in TABLES[0].columns if c.name == "site"]
    (day,) = [c for c in TABLES[0].columns if c.name == "outcome_day"]
    (status,) = [c for c in TABLES[0].columns if c.name == "status"]
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert cell(text, f"{start}1+1") == f"'{start}1+1"
    assert safe_text("plain") == "plain"
    assert cell(day, -14) == "-14"
    assert cell(day, None) == ""
    assert cell(status, CaseStatus.FINAL) == "final"
    with pytest.raises(ValidationError, match="not one of"):
        cell(status, "closed", where="cases.csv line 2: ")
    with pytest.raises(ValidationError, match="not a valid integer"):
        cell(day, True)
    moment = dt.datetime(2026, 11, 24, 10, 14, 3, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    (when,) = [c for c in TABLES[-1].columns if c.name == "proposed_at"]
    assert cell(when, moment) == "2026-11-24T09:14:03Z"
    assert cell(when, moment.replace(tzinfo=None)) == "2026-11-24T10:14:03Z"  # naive is UTC


def test_every_category_lists_its_whole_vocabulary() -> None:
    expected = {
        ("cases.csv", "condition"): Condition,
        ("cases.csv", "status"): CaseStatus,
        ("decisions.csv", "certainty"): Certainty,
        ("reads.csv", "judgement"): ImagingJudgement,
        ("imaging_timepoints.csv", "sequence_class"): SequenceClass,
    }
    for (file, name), kind in expected.items():
        (column,) = [c for c in data_layer.TABLE_BY_FILE[file].columns if c.name == name]
        assert column.allowed == tuple(m.value for m in kind)


def _coordinator(registry: Registry) -> Actor:
    with registry.write() as session:
        return resolve_actor(session, "coordinator")


# --- the demo registry ---------------------------------------------------------------------


@pytest.fixture
def demo_copy(demo_registry: tuple[Registry, Path], tmp_path: Path) -> Iterator[Registry]:
    """A private copy of the demo registry (the shared one must not change: the export
    appends an audit event)."""
    source, _images = demo_registry
    path = source.engine.url.database
    assert path is not None
    target = tmp_path / "copy.sqlite3"
    with sqlite3.connect(path) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    registry = Registry.open(f"sqlite:///{target}")
    yield registry
    registry.close()


def test_the_demo_extract(demo_copy: Registry, tmp_path: Path) -> None:
    with demo_copy.write() as session:
        actor = resolve_actor(session, "tester")
    folder = tmp_path / "demo-extract"
    summary = service.export_extract(demo_copy, actor, folder)
    _check_against_dictionary(folder)
    counts = {f.name: f.rows for f in summary.files}
    assert counts["lesions.csv"]
    assert counts["decisions.csv"]
    assert counts["imaging_timepoints.csv"]

    with demo_copy.read() as session:
        usernames = set(session.scalars(select(User.username)))
        display = set(session.scalars(select(User.display_name)))
        uids = set(session.scalars(select(ImagingStudy.study_instance_uid)))
        uids |= set(session.scalars(select(Series.series_instance_uid)))
        uids |= set(session.scalars(select(Series.frame_of_reference_uid)))
        paths = set(session.scalars(select(Series.source_uri)))
        paths |= set(session.scalars(select(Series.cache_path)))
        hashes = set(session.scalars(select(Series.content_sha256)))
        free = set(session.scalars(select(Case.clinical_summary)))
        free |= set(session.scalars(select(Read.comment)))
        free |= set(session.scalars(select(Decision.rationale)))
        free |= set(session.scalars(select(LabResult.note)))
        free |= set(session.scalars(select(ClinicalFeature.note)))
        withheld = {
            rid
            for rid, status in session.execute(select(Case.registry_id, Case.status))
            if status is CaseStatus.IN_READING
        }
    text = _all_text(folder)
    for name in usernames:
        assert name not in text, name
    for needle in display | uids | paths | hashes:
        assert not needle or needle not in text, needle
    for needle in free:
        assert not needle or len(needle) < 12 or needle not in text, needle
    reads = _csv(folder, "reads.csv")
    assert all(r["reader"].startswith("R") and len(r["reader"]) == 3 for r in reads)
    assert not {r["registry_id"] for r in reads} & withheld
    lesions = _csv(folder, "lesions.csv")
    assert {r["read_id"] for r in lesions} <= {r["read_id"] for r in reads}
    series = {r["series_id"] for r in _csv(folder, "imaging_timepoints.csv")}
    assert {r["series_id"] for r in lesions} <= series
    assert all(float(r["volume_ml"]) > 0 for r in lesions)


# --- the command line ----------------------------------------------------------------------


def test_the_command_line(
    capsys: pytest.CaptureFixture[str], registry_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "cli-extract"
    code, out, err = run(capsys, "--db", registry_url, "export", str(folder), "--json")
    assert (code, err) == (0, "")
    summary = json.loads(out)
    assert summary["withheld_cases"] == 0
    assert {f["name"] for f in summary["files"]} >= {"cases.csv", "versions.json"}
    assert summary["with_free_text"] is False

    code, out, err = run(capsys, "--db", registry_url, "export", str(folder))
    assert code == 1
    assert "not empty" in err

    code, out, err = run(capsys, "--db", registry_url, "export", str(tmp_path / "two"))
    assert code == 0
    assert "reads.csv" in out
    assert "Withheld: 0 case(s)" in out

    registry = Registry.open(registry_url)
    try:
        with registry.write() as session:
            add_user(
                session,
                "reader_cli",
                "Dr Reader",
                {Role.READER},
                by=resolve_actor(session, "coordinator"),
                password=TEST_PASSWORD,
            )
    finally:
        registry.close()
    code, out, err = run(
        capsys, "--db", registry_url, "--user", "reader_cli", "export", str(tmp_path / "three")
    )
    assert code == 1
    assert "export the research extract" in err
    assert not (tmp_path / "three").exists()


def test_the_dictionary_declares_what_it_leaves_out() -> None:
    rows = data_layer.dictionary_rows(with_free_text=False)
    described = {file: text for file, column, *_rest, text in rows if not column}
    assert "clinical_summary" in described["cases.csv"]
    assert "--with-free-text" in described["cases.csv"]
    assert "UIDs" in described["imaging_timepoints.csv"]
    assert "withheld" in described["reads.csv"]
    columns = {(file, column) for file, column, *_ in rows if column}
    assert ("cases.csv", "clinical_summary") not in columns
    assert ("cases.csv", "clinical_summary") in {
        (file, column) for file, column, *_ in data_layer.dictionary_rows(with_free_text=True)
    }


def _assert_bulk_facts_match(registry: Registry, actors: list[Actor]) -> None:
    """The extract's set-based facts are exactly what case_facts and read_facts give."""
    with registry.read() as session:
        case_ids = list(session.scalars(select(Case.id)))
        all_reads = list(session.scalars(select(Read)))
        for actor in actors:
            bulk = all_case_facts(session, actor)
            for case_id in case_ids:
                assert bulk[case_id] == case_facts(session, actor, case_id), (actor, case_id)
                assert bulk.has_readers(case_id) == bool(assigned_reader_ids(session, case_id))
            for read in all_reads:
                assert bulk.of_read(read) == read_facts(session, actor, read), (actor, read.id)


def test_the_bulk_facts_are_case_facts(world: World) -> None:
    with world.registry.write() as session:
        add_user(
            session,
            "coord_two",
            "Dr Two",
            {Role.COORDINATOR, Role.READER},
            by=world.coordinator,
            password=TEST_PASSWORD,
        )
        second = resolve_actor(session, "coord_two")
    _new_case(world, "PML-0003")
    cases.assign(
        world.registry, world.coordinator, "PML-0003", readers=["reader_zulu", "coord_two"]
    )
    _submit(world, "reader_zulu", "PML-0003")
    _assert_bulk_facts_match(world.registry, [world.coordinator, second, *world.people.values()])


def test_the_bulk_facts_are_case_facts_on_the_demo(demo_copy: Registry) -> None:
    with demo_copy.write() as session:
        actors = [resolve_actor(session, name) for name in session.scalars(select(User.username))]
    _assert_bulk_facts_match(demo_copy, actors)
