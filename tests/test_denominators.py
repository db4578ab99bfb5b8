"""Incidence denominators on both databases: the stratum grammar, the all-or-nothing import,
re-imports that replace (audited), who may import and list, the command line, the migration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from adjudication.vocabulary import Role
from tests.signin import TEST_PASSWORD
from tests.test_cli import run
from workbench.denominators import AUDIT_ACTION, DenominatorFileError, Stratum, read_denominators
from workbench.errors import PermissionDeniedError
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent
from workbench.services import analytics as service
from workbench.users import Actor, add_user, resolve_actor

GOOD = """stratum,year,patients,person_years,source
exposure:Natalizumab,,1000,2500.5,manufacturer exposure report 2024
condition:hiv,2023,10,,national HIV cohort
all,2024,,12000,registry catchment
"""


def _write(tmp_path: Path, text: str, name: str = "denominators.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _person(registry: Registry, coordinator: Actor, name: str, role: Role) -> Actor:
    with registry.write() as session:
        add_user(session, name, f"Dr {name}", {role}, by=coordinator, password=TEST_PASSWORD)
        return resolve_actor(session, name)


# --- the grammar ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("all", "all"),
        (" ALL ", "all"),
        ("exposure:Natalizumab", "exposure:natalizumab"),
        ("Condition:MS_Natalizumab", "condition:ms_natalizumab"),
        ("site:nl-ams", "site:NL-AMS"),
        (
            "months:25-48|prior_is:YES|anti_jcv:>1.5|exposure:natalizumab",
            "exposure:natalizumab|anti_jcv:>1.5|prior_is:yes|months:25-48",
        ),
        ("anti_jcv:0.9–1.5", "anti_jcv:0.9-1.5"),
    ],
)
def test_a_stratum_is_read_in_its_canonical_form(text: str, canonical: str) -> None:
    assert str(Stratum.parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty stratum"),
        ("drug:natalizumab", "unknown key 'drug'"),
        ("condition:multiple_sclerosis", "condition: 'multiple_sclerosis' is not one of"),
        ("natalizumab", "is not KEY:VALUE"),
        ("exposure:a|exposure:b", "key 'exposure' is named twice"),
        ("anti_jcv:high", "anti_jcv: 'high' is not one of <0.9, 0.9-1.5, >1.5, unknown"),
        ("months:0-12", "months: '0-12' is not one of"),
        ("exposure:", "exposure: empty value"),
        ("site:not a code", "is not a site code"),
    ],
)
def test_a_bad_stratum_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Stratum.parse(text)


# --- reading a file ------------------------------------------------------------------------


def test_a_good_file_is_read_with_canonical_strata(tmp_path: Path) -> None:
    rows = read_denominators(_write(tmp_path, GOOD))
    assert [(r.stratum, r.year, r.patients, r.person_years, r.line) for r in rows] == [
        ("exposure:natalizumab", None, 1000, 2500.5, 2),
        ("condition:hiv", 2023, 10, None, 3),
        ("all", 2024, None, 12000.0, 4),
    ]


def test_every_bad_row_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    text = """stratum,year,patients,person_years,source
exposure:natalizumab,,-5,100,a
condition:hiv,2023,ten,,b
drug:x,2023,10,,c
exposure:NATALIZUMAB,,20,,d
all,20x4,10,,e
all,2020,,abc,f
all,2021,,,g
all,2022,10,0,

condition:multiple_sclerosis,2019,5,,h
"""
    path = _write(tmp_path, text)
    with pytest.raises(DenominatorFileError) as caught:
        read_denominators(path)
    problems = [str(p) for p in caught.value.problems]
    assert problems == [
        f"{path}:2: patients: '-5' is negative",
        f"{path}:3: patients: 'ten' is not a number",
        f"{path}:4: stratum: unknown key 'drug' (keys: condition, exposure, site, anti_jcv, "
        "prior_is, months)",
        f"{path}:5: stratum: exposure:natalizumab for all years is given twice (line 2)",
        f"{path}:6: year: '20x4' is not a number",
        f"{path}:7: person_years: 'abc' is not a number",
        f"{path}:8: patients: neither patients nor person_years given (at least one)",
        f"{path}:9: person_years: '0' is zero",
        f"{path}:9: source: empty: say where the numbers come from",
        f"{path}:11: stratum: condition: 'multiple_sclerosis' is not one of "
        "hiv, ms_natalizumab, other_immunomodulator, transplant, haematological_malignancy, "
        "solid_neoplasm, primary_immunodeficiency, non_ms_inflammatory, other",
    ]
    assert "nothing was imported" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", ":1: header: empty file"),
        ("stratum,year,source\nall,,x\n", ":1: patients: missing column"),
        ("stratum,year,patients,person_years,source,extra\n", ":1: extra: unknown column"),
        ("stratum,patients,source\nall,1,x\n", ":1: year: missing column"),
        ("stratum,year,patients,person_years,source\n", ":1: stratum: no data rows"),
        ("stratum,year,patients,source\nall,,1\n", ":2: row: has 3 cells, the header has 4"),
    ],
)
def test_a_bad_header_or_shape_is_named(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(DenominatorFileError, match=problem):
        read_denominators(_write(tmp_path, text))


# --- importing into the registry -----------------------------------------------------------


def test_an_import_stores_lists_and_a_reimport_replaces_with_the_old_values_audited(
    registry: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    summary = service.import_denominators(registry, coordinator, _write(tmp_path, GOOD))
    assert (len(summary.added), len(summary.replaced)) == (3, 0)
    stored = service.list_denominators(registry, coordinator)
    assert [(s.stratum, s.year, s.patients, s.person_years) for s in stored] == [
        ("all", 2024, None, 12000.0),
        ("condition:hiv", 2023, 10, None),
        ("exposure:natalizumab", None, 1000, 2500.5),
    ]
    assert {s.imported_by for s in stored} == {"coordinator"}

    again = "stratum,year,patients,source\nexposure:natalizumab,,1200,revised report\n"
    summary = service.import_denominators(
        registry, coordinator, _write(tmp_path, again, "revised.csv")
    )
    assert (len(summary.added), len(summary.replaced)) == (0, 1)
    assert summary.previous[0].patients == 1000
    stored = service.list_denominators(registry, coordinator)
    assert len(stored) == 3  # replaced, not added
    natalizumab = next(s for s in stored if s.stratum == "exposure:natalizumab")
    assert (natalizumab.patients, natalizumab.person_years, natalizumab.source) == (
        1200,
        None,
        "revised report",
    )
    with registry.read() as session:
        events = [
            (e.entity_id, e.before, e.after)
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION).order_by(AuditEvent.id)
            )
        ]
    assert [entity for entity, _, _ in events] == ["denominators.csv", "revised.csv"]
    assert events[0][1] is None
    assert events[1][1] == {
        "replaced": [
            {
                "stratum": "exposure:natalizumab",
                "year": None,
                "patients": 1000,
                "person_years": 2500.5,
                "source": "manufacturer exposure report 2024",
            }
        ]
    }
    after = events[1][2]
    assert after is not None
    assert after["replaced"][0]["patients"] == 1200


def test_a_bad_file_writes_nothing(registry: Registry, coordinator: Actor, tmp_path: Path) -> None:
    bad = GOOD + "exposure:natalizumab,,5,,duplicate\n"
    with pytest.raises(DenominatorFileError, match=r":5: stratum: .* given twice \(line 2\)"):
        service.import_denominators(registry, coordinator, _write(tmp_path, bad))
    assert service.list_denominators(registry, coordinator) == ()
    with registry.read() as session:
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION)).first()
            is None
        )


def test_a_dry_run_says_what_would_change_and_writes_nothing(
    registry: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    summary = service.import_denominators(
        registry, coordinator, _write(tmp_path, GOOD), dry_run=True
    )
    assert summary.dry_run
    assert len(summary.added) == 3
    assert service.list_denominators(registry, coordinator) == ()


def test_readers_may_neither_import_nor_list_and_the_panel_may_only_list(
    registry: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    reader = _person(registry, coordinator, "reader1", Role.READER)
    panel = _person(registry, coordinator, "panel1", Role.PANEL)
    path = _write(tmp_path, GOOD)
    with pytest.raises(PermissionDeniedError, match="may not import incidence denominators"):
        service.import_denominators(registry, reader, path)
    with pytest.raises(PermissionDeniedError, match="may not import incidence denominators"):
        service.import_denominators(registry, panel, path)
    # the person is refused before the file is read: a bad file does not tell them more
    with pytest.raises(PermissionDeniedError):
        service.import_denominators(registry, reader, _write(tmp_path, "junk", "bad.csv"))
    with pytest.raises(PermissionDeniedError, match="may not see the registry's analytics"):
        service.list_denominators(registry, reader)
    assert service.list_denominators(registry, panel) == ()


# --- the command line -----------------------------------------------------------------------


def test_the_command_line_imports_lists_and_reports_every_problem(
    capsys: pytest.CaptureFixture[str], registry_url: str, tmp_path: Path
) -> None:
    path = _write(tmp_path, GOOD)
    code, out, err = run(
        capsys, "--db", registry_url, "denominators", "import", str(path), "--dry-run"
    )
    assert code == 0, err
    assert "would add 3, would replace 0" in out
    code, out, _ = run(capsys, "--db", registry_url, "denominators", "list", "--json")
    assert json.loads(out) == []
    code, out, err = run(capsys, "--db", registry_url, "denominators", "import", str(path))
    assert code == 0, err
    assert "added 3, replaced 0" in out
    code, out, _ = run(capsys, "--db", registry_url, "denominators", "list", "--json")
    listed = json.loads(out)
    assert [row["stratum"] for row in listed] == [
        "all",
        "condition:hiv",
        "exposure:natalizumab",
    ]
    assert listed[0]["imported_by"] == "coordinator"
    code, out, _ = run(capsys, "--db", registry_url, "denominators", "list")
    assert "exposure:natalizumab  all" in out

    bad = _write(
        tmp_path, "stratum,year,patients,person_years,source\nall,,-1,,x\nfoo,,1,,y\n", "bad.csv"
    )
    code, out, err = run(capsys, "--db", registry_url, "denominators", "import", str(bad))
    assert code == 1
    assert f"{bad}:2: patients: '-1' is negative" in err
    assert f"{bad}:3: stratum: 'foo' is not KEY:VALUE" in err
    assert "nothing was imported" in err


# --- the migration ---------------------------------------------------------------------------


def test_migration_0011_downgrades_and_upgrades(registry: Registry) -> None:
    from alembic import command

    from workbench.registry.db import _alembic_config

    assert "denominators" in inspect(registry.engine).get_table_names()
    with registry.engine.connect() as conn:
        command.downgrade(_alembic_config(conn), "0010")
        conn.commit()
    assert "denominators" not in inspect(registry.engine).get_table_names()
    with registry.engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0011")
        conn.commit()
    columns = {c["name"] for c in inspect(registry.engine).get_columns("denominators")}
    assert columns == {
        "id",
        "stratum",
        "year",
        "patients",
        "person_years",
        "source",
        "imported_by",
        "imported_at",
    }
