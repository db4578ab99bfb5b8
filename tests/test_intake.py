"""Site packages: the template passes, every bad package is refused in full, nothing is written.

Packages are made in ``tmp_path`` from the template writer and then broken. "Nothing written"
is checked on every table of the registry (row counts) and on the voxel cache folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from sqlalchemy import func, select

from adjudication.vocabulary import Role
from workbench.cases import NewCase
from workbench.domain import CaseStatus, Condition, Sex
from workbench.errors import PermissionDeniedError
from workbench.intake import MANIFEST, PackageError, Problem, read_package
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Base
from workbench.services import cases
from workbench.services.intake import (
    ImportCancelledError,
    ParserSandbox,
    check_package,
    intake,
    write_template,
)
from workbench.users import Actor, add_user

TEMPLATE_ID = "PML-EXAMPLE-1"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    box = ParserSandbox()
    yield box
    box.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package, written once per module; tests work on copies."""
    folder = tmp_path_factory.mktemp("template") / "package"
    write_template(folder)
    return folder


@pytest.fixture
def package(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the example package, free to break."""
    return Path(shutil.copytree(pristine, tmp_path / "package"))


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def counts(registry: Registry) -> dict[str, int]:
    """Rows of every table of the registry."""
    with registry.read() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def cache_files(cache: Path) -> list[str]:
    """Everything under the cache folder (files and folders)."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


def edit(package: Path, old: str, new: str, name: str = MANIFEST) -> int:
    """Replace ``old`` by ``new`` in a package file; the 1-based line where it was."""
    path = package / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def line_of(package: Path, text: str, name: str = MANIFEST) -> int:
    lines = (package / name).read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if text in line)


def refused_everywhere(
    registry: Registry, actor: Actor, package: Path, cache: Path, sandbox: ParserSandbox
) -> tuple[Problem, ...]:
    """The package's problems from the dry run; intake refuses it with the same problems;
    neither leaves anything in the registry or the cache."""
    before = counts(registry)
    check = check_package(registry, actor, package, sandbox=sandbox)
    assert not check.ok
    assert check.problems
    with pytest.raises(PackageError) as refused:
        intake(registry, actor, package, cache_root=cache, sandbox=sandbox)
    assert refused.value.problems == check.problems
    assert counts(registry) == before
    assert not cache.exists(), cache_files(cache)
    return check.problems


# --- the template ------------------------------------------------------------------------------


def test_template_passes_dry_run_then_intake_then_reading(
    registry: Registry, coordinator: Actor, package: Path, cache: Path, sandbox: ParserSandbox
) -> None:
    before = counts(registry)
    steps: list[tuple[str, float]] = []
    check = check_package(
        registry, coordinator, package, sandbox=sandbox, progress=lambda t, f: steps.append((t, f))
    )
    assert check.ok, check.problems
    preview = check.preview
    assert preview is not None
    assert (preview.registry_id, preview.version, preview.labs) == (TEMPLATE_ID, 1, 3)
    assert [t.day for t in preview.timepoints] == [0, 60]
    assert [s.sequence_class.value for t in preview.timepoints for s in t.series] == [
        "FLAIR", "T1", "FLAIR", "T1",
    ]  # fmt: skip
    assert (preview.exposures, preview.features, preview.clinical) == (2, 2, True)
    fractions = [f for _, f in steps]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert counts(registry) == before, "the dry run wrote to the registry"
    assert cache_files(cache) == []

    result = intake(registry, coordinator, package, cache_root=cache, sandbox=sandbox)
    assert result.registry_id == TEMPLATE_ID
    assert result.status is CaseStatus.READY
    assert result.missing_for_reading == ()
    assert len(result.series_ids) == 4
    assert len(list(cache.rglob("*.npy"))) == 4
    record = cases.case_record(registry, coordinator, TEMPLATE_ID)
    assert record["status"] == "ready"
    assert [t["day"] for t in record["timepoints"]] == [0, 60]
    assert len(record["lab_results"]) == 3
    assert any(r["test"] == "csf_jcv_pcr" for r in record["lab_results"])
    assert sorted(e[0] for e in record["exposures"]) == ["mitoxantrone", "natalizumab"]
    with registry.read() as session:
        events = {
            e.action: e.after
            for e in session.scalars(select(AuditEvent).where(AuditEvent.entity_id == TEMPLATE_ID))
        }
    assert {"case.create", "case.intake", "case.ready"} <= set(events)
    assert "case.clinical_record" in events, "the clinical record was not stored"
    intake_event = events["case.intake"]
    assert intake_event is not None
    assert intake_event["manifest_version"] == 1
    assert intake_event["checksum"] == preview.checksum
    assert len(intake_event["checksum"]) == 64
    after = counts(registry)
    assert after["clinical_records"] == before["clinical_records"] + 1
    assert after["histopathology"] == before["histopathology"] + 1

    # The coordinator assigns readers: the case goes to "in reading".
    with registry.write() as session:
        for name in ("reader1", "reader2"):
            add_user(session, name, name, {Role.READER}, by=coordinator)
    status = cases.assign(registry, coordinator, TEMPLATE_ID, readers=["reader1", "reader2"])
    assert status is CaseStatus.IN_READING


def test_the_template_needs_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(Exception, match="not an empty folder"):
        write_template(tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["x.txt"]


# --- bad manifests: every class, with file, line, field; nothing written ------------------------

BREAKS: dict[str, tuple[str, str, str, str]] = {
    # name: (old text, new text, field, words of the problem)
    "unknown key": ('readers_required = 2', 'readers_required = 2\ncolour = "red"',
                    "case.colour", "unknown key"),
    "bad value": ('age_band = "40-49"', 'age_band = "forty"', "case.age_band",
                  "is not a band"),
    "wrong type": ("diagnosis_year = 2024", 'diagnosis_year = "last year"',
                   "clinical.diagnosis_year", "not a number"),
    "bad enum": ('sex = "female"', 'sex = "F"', "case.sex", "is not one of female"),
    "outside": ('folder = "images/follow-up"', 'folder = "../../elsewhere"',
                "imaging[2].folder", "outside the package"),
    "missing folder": ('folder = "images/follow-up"', 'folder = "images/later"',
                       "imaging[2].folder", "no such folder"),
    "unsupported version": ("version = 1", "version = 7", "version", "not supported"),
    "not a package": ('format = "pml-site-package"', 'format = "something-else"',
                      "format", "is not a site package"),
    "exposure days": ("stop_day = -14\n", "stop_day = -1500\n", "exposures[1].stop_day",
                      "before start day"),
    "score": ("value = 4.5", "value = 4.7", "clinical.scores[1].value", "steps of 0.5"),
    "histopathology": ('techniques = ["ihc", "pcr"]', "techniques = []",
                       "clinical.histopathology[1].techniques", "say by which technique"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_a_bad_manifest_is_refused_with_file_line_and_field(
    name: str,
    sqlite_registry: Registry,
    package: Path,
    cache: Path,
    sandbox: ParserSandbox,
) -> None:
    from tests.actors import actor_of

    actor = actor_of(sqlite_registry, "coordinator")
    old, new, field, words = BREAKS[name]
    line = edit(package, old, new)
    if name == "unknown key":
        line += 1  # the key added below the one replaced
    problems = refused_everywhere(sqlite_registry, actor, package, cache, sandbox)
    assert [(p.file, p.line, p.field) for p in problems] == [(MANIFEST, line, field)], problems
    assert words in problems[0].problem
    assert str(problems[0]).startswith(f"{MANIFEST}:{line}: {field}: ")


def test_a_missing_required_key_names_its_table(package: Path) -> None:
    edit(package, 'sex = "female"                         # female, male, other, unknown\n', "")
    with pytest.raises(PackageError) as refused:
        read_package(package)
    assert [(p.line, p.field, p.problem) for p in refused.value.problems] == [
        (line_of(package, "[case]"), "case.sex", "required key is missing")
    ]


def test_a_toml_syntax_error_carries_its_line(package: Path) -> None:
    line = edit(package, 'site = "NL-AMS"', 'site = "NL-AMS')
    with pytest.raises(PackageError) as refused:
        read_package(package)
    (problem,) = refused.value.problems
    assert (problem.file, problem.line, problem.field) == (MANIFEST, line, "syntax")


def test_no_manifest(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackageError) as refused:
        read_package(tmp_path / "empty")
    assert "has no manifest.toml" in str(refused.value)


def test_bad_lab_rows_are_named_by_line(
    sqlite_registry: Registry, package: Path, cache: Path, sandbox: ParserSandbox
) -> None:
    from tests.actors import actor_of

    actor = actor_of(sqlite_registry, "coordinator")
    labs = package / "labs.csv"
    rows = labs.read_text(encoding="utf-8").splitlines()
    rows += [rows[1], f"{TEMPLATE_ID},cd4_count,soon,quantitative,400,cells/µL,,,,,"]
    rows += [rows[3].replace(TEMPLATE_ID, "PML-0099")]
    labs.write_text("\n".join(rows) + "\n", encoding="utf-8")
    problems = refused_everywhere(sqlite_registry, actor, package, cache, sandbox)
    assert [(p.file, p.line, p.field) for p in problems] == [
        ("labs.csv", 5, "row"),
        ("labs.csv", 6, "day"),
        ("labs.csv", 7, "case"),
    ]
    assert "the same result as line 2" in problems[0].problem


def test_every_problem_of_a_package_is_reported_together(
    sqlite_registry: Registry, package: Path, cache: Path, sandbox: ParserSandbox
) -> None:
    from tests.actors import actor_of

    actor = actor_of(sqlite_registry, "coordinator")
    edit(package, 'sex = "female"', 'sex = "femme"')
    edit(package, "onset_day = -21\n", "onset_day = 21.5\n")
    edit(package, 'folder = "images/follow-up"', 'folder = "/etc"')
    edit(package, "cd4_count,0,", "cd4_count,zero,", "labs.csv")
    _put_a_name_in(package / "images" / "baseline" / "T1" / "IM0002.dcm")
    problems = refused_everywhere(sqlite_registry, actor, package, cache, sandbox)
    fields = {(p.file, p.field) for p in problems}
    assert (MANIFEST, "case.sex") in fields
    assert (MANIFEST, "clinical.onset_day") in fields
    assert (MANIFEST, "imaging[2].folder") in fields
    assert ("labs.csv", "day") in fields
    assert any(p.file == "images/baseline/T1/IM0002.dcm" for p in problems)


# --- the gate and the registry ---------------------------------------------------------------


def _put_a_name_in(path: Path) -> None:
    ds = pydicom.dcmread(path)
    ds.PatientName = "Doe^Jane"
    ds.save_as(path)


def test_phi_in_an_image_is_refused_naming_the_file(
    registry: Registry, coordinator: Actor, package: Path, cache: Path, sandbox: ParserSandbox
) -> None:
    _put_a_name_in(package / "images" / "follow-up" / "FLAIR" / "IM0003.dcm")
    problems = refused_everywhere(registry, coordinator, package, cache, sandbox)
    assert [p.file for p in problems] == ["images/follow-up/FLAIR/IM0003.dcm"]
    assert problems[0].field.startswith("PatientName (0010,0010)")
    assert "Doe" not in str(problems[0]), "the gate's report must not carry the value"


def test_a_registry_id_on_record_is_refused(
    registry: Registry, coordinator: Actor, package: Path, cache: Path, sandbox: ParserSandbox
) -> None:
    cases.create_case(
        registry, coordinator, NewCase(TEMPLATE_ID, "DE-BER", Sex.MALE, "30-39", Condition.HIV)
    )
    problems = refused_everywhere(registry, coordinator, package, cache, sandbox)
    assert [(p.file, p.line, p.field) for p in problems] == [
        (MANIFEST, line_of(package, "registry_id ="), "case.registry_id")
    ]
    assert "exists already" in problems[0].problem


def _renamed(package: Path, registry_id: str) -> None:
    edit(package, f'registry_id = "{TEMPLATE_ID}"', f'registry_id = "{registry_id}"')
    labs = package / "labs.csv"
    labs.write_text(labs.read_text(encoding="utf-8").replace(TEMPLATE_ID, registry_id))


def test_series_of_another_case_and_its_patient_id_are_refused(
    sqlite_registry: Registry, pristine: Path, tmp_path: Path, sandbox: ParserSandbox
) -> None:
    from tests.actors import actor_of

    actor = actor_of(sqlite_registry, "coordinator")
    cache = tmp_path / "cache"
    intake(sqlite_registry, actor, pristine, cache_root=cache, sandbox=sandbox)
    held = cache_files(cache)
    again = Path(shutil.copytree(pristine, tmp_path / "again"))
    _renamed(again, "PML-EXAMPLE-2")
    before = counts(sqlite_registry)
    check = check_package(sqlite_registry, actor, again, sandbox=sandbox)
    texts = [p.problem for p in check.problems]
    assert sum("already belongs to case PML-EXAMPLE-1" in t for t in texts) == 4
    assert sum("PatientID PML-EXAMPLE-1 is another case's registry id" in t for t in texts) == 4
    with pytest.raises(PackageError):
        intake(sqlite_registry, actor, again, cache_root=cache, sandbox=sandbox)
    assert counts(sqlite_registry) == before
    assert cache_files(cache) == held, "the other case's cache files must stay"


def test_a_patient_id_of_another_person_is_refused(
    sqlite_registry: Registry, package: Path, cache: Path, sandbox: ParserSandbox
) -> None:
    from tests.actors import actor_of

    actor = actor_of(sqlite_registry, "coordinator")
    _renamed(package, "PML-EXAMPLE-3")
    problems = refused_everywhere(sqlite_registry, actor, package, cache, sandbox)
    assert {p.field for p in problems} == {"PatientID"}
    assert "PatientID PML-EXAMPLE-1 is not this package's case" in problems[0].problem


def test_a_reader_may_not_take_in_packages(
    sqlite_registry: Registry, package: Path, cache: Path, sandbox: ParserSandbox
) -> None:
    from tests.actors import actor_of

    coordinator = actor_of(sqlite_registry, "coordinator")
    with sqlite_registry.write() as session:
        add_user(session, "reader", "Reader", {Role.READER}, by=coordinator)
    reader = actor_of(sqlite_registry, "reader")
    before = counts(sqlite_registry)
    with pytest.raises(PermissionDeniedError, match="create cases"):
        check_package(sqlite_registry, reader, package, sandbox=sandbox)
    with pytest.raises(PermissionDeniedError):
        intake(sqlite_registry, reader, package, cache_root=cache, sandbox=sandbox)
    assert counts(sqlite_registry) == before
    assert cache_files(cache) == []


# --- cancel ----------------------------------------------------------------------------------


def _cancel_at(stage: str) -> tuple[Callable[[str, float], None], Callable[[], bool]]:
    seen: list[str] = []

    def progress(text: str, _fraction: float) -> None:
        seen.append(text)

    return progress, lambda: any(text.startswith(stage) for text in seen)


@pytest.mark.parametrize(
    "stage",
    [
        "Checking de-identification of images/follow-up",
        "Reading images of images/follow-up",  # the baseline's voxels are cached by then
        "Storing the series of images/follow-up",  # inside the write transaction
    ],
)
def test_cancel_midway_leaves_nothing(
    stage: str,
    registry: Registry,
    coordinator: Actor,
    package: Path,
    cache: Path,
    sandbox: ParserSandbox,
) -> None:
    before = counts(registry)
    progress, cancel = _cancel_at(stage)
    with pytest.raises(ImportCancelledError, match="nothing was written"):
        intake(
            registry, coordinator, package, cache_root=cache, sandbox=sandbox,
            progress=progress, cancel=cancel,
        )  # fmt: skip
    assert counts(registry) == before
    assert not cache.exists(), cache_files(cache)
    # The same package goes in afterwards: the cancel left no half case behind.
    assert intake(registry, coordinator, package, cache_root=cache, sandbox=sandbox).status is (
        CaseStatus.READY
    )


def test_the_readme_shows_the_template_manifest(pristine: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The manifest (version 1)", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert example == (pristine / MANIFEST).read_text(encoding="utf-8")
    assert "## Site packages" in readme
    assert "pml-workbench intake --dry-run site-package" in readme
