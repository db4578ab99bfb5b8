"""Registry analytics on both databases, on a registry whose numbers are counted by hand.

The registry is :data:`tests.analytics_world.CASES`, built through the real services. These
tests check that the registry's counts reach the statistics (which tests/test_stats.py checks
against published values) correctly: what counts as a PML case, which cases are left out
and why, and the numbers each section is built from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adjudication.vocabulary import Certainty, Role
from tests.analytics_world import World, build
from tests.test_cli import run
from workbench.analysis import stats
from workbench.analytics import (
    exposure_months,
    jcv_band,
    months_band,
    prior_immunosuppressant,
)
from workbench.clinical import DrugClass
from workbench.errors import PermissionDeniedError, ValidationError
from workbench.registry.db import Registry
from workbench.registry.models import Exposure
from workbench.services import analytics as service
from workbench.users import Actor


@pytest.fixture
def world(registry: Registry, coordinator: Actor) -> World:
    return build(registry, coordinator)


def _rows(rows: tuple[object, ...]) -> list[tuple[str, int, int]]:
    return [(r.label, r.pml_cases, r.cases) for r in rows]  # type: ignore[attr-defined]


def test_cases_are_counted_by_condition_exposure_site_year_and_certainty(world: World) -> None:
    a = service.analytics(world.registry, world.coordinator)
    assert a.certainty is Certainty.PROBABLE
    assert a.counted == (Certainty.DEFINITE, Certainty.PROBABLE)
    assert "definite + probable" in a.rule
    assert (a.total_cases, a.pml_cases) == (7, 3)
    # 0006 has one read of two in, 0007 no reader: their decisions are not used
    assert a.reads_outstanding == 2
    assert _rows(a.by_certainty) == [
        ("definite", 2, 2),
        ("probable", 1, 1),
        ("possible", 0, 1),
        ("not_pml", 0, 1),
        ("no final decision", 0, 2),
    ]
    assert _rows(a.by_condition) == [
        ("hiv", 1, 2),
        ("ms_natalizumab", 2, 4),
        ("transplant", 0, 1),
    ]
    # "Natalizumab" and "natalizumab" are one drug; the first spelling met is shown
    assert _rows(a.by_exposure) == [("Natalizumab", 2, 4), ("none recorded", 1, 3)]
    assert _rows(a.by_prior_exposure) == [("mitoxantrone", 1, 1)]
    assert _rows(a.by_site) == [("NL-AMS", 2, 4), ("DE-BER", 1, 3)]
    assert _rows(a.by_year) == [("2023", 1, 1), ("2024", 2, 2), ("unknown", 0, 4)]


@pytest.mark.parametrize(
    ("floor", "pml"),
    [("definite", 2), ("probable", 3), ("possible", 4)],
)
def test_the_certainty_rule_decides_who_is_a_pml_case(world: World, floor: str, pml: int) -> None:
    a = service.analytics(world.registry, world.coordinator, floor)
    assert a.pml_cases == pml
    assert a.as_json()["certainty"] == floor


def test_a_certainty_that_cannot_count_as_pml_is_refused(world: World) -> None:
    with pytest.raises(ValidationError, match=r"certainty: .* cannot count as PML"):
        service.analytics(world.registry, world.coordinator, "not_pml")


def test_incidence_divides_the_stratum_cases_by_the_imported_denominators(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "denominators.csv"
    path.write_text(
        "stratum,year,patients,person_years,source\n"
        "exposure:natalizumab,,1000,2500,exposure report\n"
        "condition:hiv,2023,10,,cohort\n"
        "all,2024,1,,too small on purpose\n"
        "exposure:natalizumab|anti_jcv:>1.5|prior_is:yes|months:25-48,,100,,risk cohort\n",
        encoding="utf-8",
    )
    service.import_denominators(world.registry, world.coordinator, path)
    a = service.analytics(world.registry, world.coordinator)
    by = {(r.stratum, r.year): r for r in a.incidence}
    natalizumab = by[("exposure:natalizumab", None)]
    assert natalizumab.events == 2  # 0001 and 0002 (0004 is only possible, 0006 undecided)
    expected = stats.incidence(
        stats.IncidenceTable("patients", (stats.StratumCount("exposure:natalizumab", 2, 1000),))
    ).strata[0]
    assert natalizumab.per_patients == expected
    assert natalizumab.per_patients is not None
    assert natalizumab.per_patients.rate == pytest.approx(2.0)
    per_py = stats.incidence(
        stats.IncidenceTable("person_years", (stats.StratumCount("exposure:natalizumab", 2, 2500),))
    ).strata[0]
    assert natalizumab.per_person_years == per_py
    assert by[("condition:hiv", 2023)].events == 1
    # more cases than patients: a warning at analytics time, no rate per patients
    small = by[("all", 2024)]
    assert (small.events, small.per_patients) == (2, None)
    assert small.warning is not None
    assert "2 PML cases but only 1 patients" in small.warning
    assert small.warning in a.warnings
    # the risk-table cell: 0001 only
    (risk,) = a.risk_rates
    assert risk.stratum == "exposure:natalizumab|anti_jcv:>1.5|prior_is:yes|months:25-48"
    assert risk.events == 1
    assert risk.per_patients is not None
    assert risk.per_patients.rate == pytest.approx(10.0)


def test_the_risk_table_counts_cases_by_index_prior_immunosuppressant_and_months(
    world: World,
) -> None:
    a = service.analytics(world.registry, world.coordinator)
    assert [(c.anti_jcv, c.prior_is, c.months, c.cases) for c in a.risk_cells] == [
        ("<0.9", "no", "1-24", 1),  # 0002: index 0.5, 500 days
        (">1.5", "yes", "25-48", 1),  # 0001: index 2.0, prior mitoxantrone, 1000 days
        ("unknown", "unknown", "unknown", 1),  # 0003: no exposure recorded
    ]
    a = service.analytics(world.registry, world.coordinator, "possible")
    assert ("0.9-1.5", "no", ">72", 1) in [
        (c.anti_jcv, c.prior_is, c.months, c.cases) for c in a.risk_cells
    ]  # 0004: index 1.2, 3000 days


def test_the_bands_of_the_risk_table() -> None:
    assert [jcv_band(v) for v in (None, 0.0, 0.89, 0.9, 1.5, 1.51)] == [
        "unknown",
        "<0.9",
        "<0.9",
        "0.9-1.5",
        "0.9-1.5",
        ">1.5",
    ]
    assert [months_band(m) for m in (None, 0, 1, 24, 25, 48, 49, 72, 73)] == [
        "unknown",
        "unknown",
        "1-24",
        "1-24",
        "25-48",
        "25-48",
        "49-72",
        "49-72",
        ">72",
    ]
    natalizumab = Exposure(drug="natalizumab", start_day=-731, stop_day=-366, prior=False)
    assert exposure_months(natalizumab) == 12  # 365 days, stopped before the index event
    assert exposure_months(Exposure(drug="x", start_day=10, prior=False)) is None
    assert exposure_months(Exposure(drug="x", start_day=None, prior=False)) is None
    main = Exposure(id=1, drug="natalizumab", start_day=-700, prior=False)
    earlier = Exposure(
        id=2,
        drug="azathioprine",
        start_day=-2000,
        drug_class=DrugClass.ANTIMETABOLITE,
        prior=False,
    )
    later = Exposure(
        id=3,
        drug="methotrexate",
        start_day=-100,
        drug_class=DrugClass.ANTIMETABOLITE,
        prior=False,
    )
    steroid = Exposure(
        id=4,
        drug="prednisone",
        start_day=-3000,
        drug_class=DrugClass.CORTICOSTEROID,
        prior=False,
    )
    undated = Exposure(
        id=5, drug="rituximab", start_day=None, drug_class=DrugClass.ANTI_CD20, prior=False
    )
    assert prior_immunosuppressant([]) == "unknown"
    assert prior_immunosuppressant([main, earlier]) == "yes"
    assert prior_immunosuppressant([main, later, steroid]) == "no"
    assert prior_immunosuppressant([main, undated]) == "unknown"


def test_survival_from_diagnosis_by_condition_reaches_the_kaplan_meier(world: World) -> None:
    a = service.analytics(world.registry, world.coordinator)
    s = a.survival
    assert (s.n, s.left_out) == (3, ())
    # 0001 died day 100 (diagnosed day 0), 0002 alive day 400 (diagnosed day 5), 0003 died 50
    expected = stats.survival(
        stats.SurvivalData(
            (100.0, 395.0, 50.0), (1, 0, 1), ("ms_natalizumab", "ms_natalizumab", "hiv")
        )
    )
    assert s.result is not None
    assert s.result.as_json() == expected.as_json()
    assert s.result is not None
    assert s.result.logrank is not None
    a = service.analytics(world.registry, world.coordinator, "possible")
    assert (a.survival.n, a.survival.left_out) == (3, (("outcome unknown", 1),))  # 0004


def test_onset_to_diagnosis_and_iris(world: World) -> None:
    a = service.analytics(world.registry, world.coordinator)
    d = a.onset_to_diagnosis
    assert d.values == (10, 20, 35)
    assert (d.n, d.median, d.q1, d.q3, d.minimum, d.maximum) == (3, 20.0, 15.0, 27.5, 10, 35)
    assert dict(a.iris.overall) == {"yes": 1, "no": 1, "unknown": 1}
    assert {c: dict(n) for c, n in a.iris.by_condition} == {
        "hiv": {"yes": 0, "no": 0, "unknown": 1},
        "ms_natalizumab": {"yes": 1, "no": 1, "unknown": 0},
    }
    assert (a.iris.timing.n, a.iris.timing.median) == (1, 30.0)
    a = service.analytics(world.registry, world.coordinator, "possible")
    assert dict(a.onset_to_diagnosis.left_out) == {"onset day not known": 1}  # 0004


def test_the_first_final_certainty_is_set_against_the_latest(world: World) -> None:
    a = service.analytics(world.registry, world.coordinator)
    assert [(c.first, c.latest, c.cases, c.changed) for c in a.certainty_changes] == [
        ("definite", "definite", 1, False),
        ("probable", "definite", 1, True),  # 0003, changed with a reason
        ("probable", "probable", 1, False),
        ("possible", "possible", 1, False),
        ("not_pml", "not_pml", 1, False),
    ]


def test_readers_are_refused_and_the_panel_may_see_the_analytics(world: World) -> None:
    with pytest.raises(PermissionDeniedError, match="may not see the registry's analytics"):
        service.analytics(world.registry, world["outsider"])
    assert Role.PANEL in world["panel1"].roles
    assert service.analytics(world.registry, world["panel1"]).pml_cases == 3


def test_every_section_says_its_n_and_the_html_report_is_written(
    world: World, tmp_path: Path
) -> None:
    a = service.analytics(world.registry, world.coordinator)
    sections = a.sections()
    titles = [s.title for s in sections]
    assert titles[:6] == [
        "Cases by final certainty",
        "PML cases by condition",
        "PML cases by exposure",
        "PML cases by prior exposure",
        "PML cases by site",
        "PML cases by year of diagnosis",
    ]
    assert "Incidence" in titles
    assert "Survival" in titles
    assert "PML-IRIS" in titles
    for section in sections:
        assert section.text, section.title
    first = sections[0]
    assert "2 case(s) left out" in first.text
    assert first.figure is not None
    incidence = sections[titles.index("Incidence")]
    assert incidence.figure is None
    assert "No denominators" in incidence.text
    onset = sections[titles.index("Time from symptom onset to diagnosis")]
    assert onset.figure is not None
    assert "n = 3" in onset.text
    out = service.write_html(a, tmp_path / "analytics.html", world.coordinator)
    text = out.read_text(encoding="utf-8")
    assert text.count("<svg") >= 6
    assert "definite + probable" in text


def test_an_empty_registry_gives_sentences_not_plots(
    registry: Registry, coordinator: Actor
) -> None:
    a = service.analytics(registry, coordinator)
    assert (a.total_cases, a.pml_cases, a.survival.result) == (0, 0, None)
    sections = a.sections()
    assert all(s.figure is None for s in sections)
    survival = next(s for s in sections if s.title == "Survival")
    assert "Too few cases" in survival.text


def test_the_command_line_prints_text_json_and_html(
    capsys: pytest.CaptureFixture[str], registry_url: str, tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--db", registry_url, "analytics")
    assert code == 0, err
    assert "PML case = final panel decision definite + probable" in out
    assert "Cases by final certainty" in out
    html = tmp_path / "report.html"
    code, out, err = run(
        capsys,
        "--db",
        registry_url,
        "analytics",
        "--json",
        "--certainty",
        "definite",
        "--html",
        str(html),
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["certainty"] == "definite"
    assert data["counted_certainties"] == ["definite"]
    assert data["total_cases"] == 0
    assert {"counts", "incidence", "risk", "survival", "iris", "certainty_changes"} <= set(data)
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "HTML report written" in err
    with pytest.raises(SystemExit) as exit_:
        run(capsys, "--db", registry_url, "analytics", "--certainty", "not_pml")
    assert exit_.value.code == 2
    capsys.readouterr()  # the usage error above
    # a report that cannot be written is refused before any work, with the file named
    for bad, problem in ((tmp_path / "gone" / "r.html", "does not exist"), (tmp_path, "folder")):
        code, out, err = run(capsys, "--db", registry_url, "analytics", "--html", str(bad))
        assert code == 1
        assert err.startswith(f"error: {bad}: ")
        assert problem in err
        assert "Traceback" not in err
        assert out == ""
    assert not (tmp_path / "gone").exists()


def test_a_final_case_whose_reads_are_no_longer_all_in_is_left_out(world: World) -> None:
    """Blinding where the data are read: a reader added to 0001 after its final decision
    (written here as the database allows it, with its audit event) takes 0001's decision
    out of every registry-wide figure until their read is in."""
    from sqlalchemy import select

    from workbench.registry import audit
    from workbench.registry.models import Case, CaseAssignment, User

    with world.registry.write() as session:
        case_id = session.scalars(select(Case.id).where(Case.registry_id == "PML-0001")).one()
        user_id = session.scalars(select(User.id).where(User.username == "outsider")).one()
        session.add(CaseAssignment(case_id=case_id, user_id=user_id, role=Role.READER))
        audit.record(
            session,
            actor=world.coordinator.username,
            role=world.coordinator.main_role,
            action="case.assign",
            entity_type="case",
            entity_id="PML-0001",
            after={"user": "outsider", "role": "reader"},
        )
    a = service.analytics(world.registry, world.coordinator)
    assert (a.pml_cases, a.reads_outstanding) == (2, 3)
    assert ("no final decision", 0, 3) in _rows(a.by_certainty)
    assert [(c.first, c.latest) for c in a.certainty_changes if c.first == "definite"] == []
    assert a.survival.n == 2


def test_the_demo_registry_gives_analytics(demo_registry: tuple[Registry, Path]) -> None:
    from workbench.users import resolve_actor

    registry, _ = demo_registry
    with registry.read() as session:
        coordinator = resolve_actor(session, "tester")
    a = service.analytics(registry, coordinator, "possible")
    assert a.total_cases > 0
    assert sum(r.cases for r in a.by_certainty) == a.total_cases
    assert sum(r.pml_cases for r in a.by_certainty) == a.pml_cases
    assert a.sections()
