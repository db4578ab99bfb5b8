"""The analytics page with a registry built through the real services (pytest-qt).

It shows every section with its plot and its numbers, greys out the import for someone who may
not import, imports denominators (and shows every problem of a bad file in the page), exports
HTML, and asks the window to refresh when the certainty rule changes. A screenshot of the page
filled with realistic data is saved to /tmp/shots/analytics.png.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PyQt6.QtWidgets import QTableWidget
from pytestqt.qtbot import QtBot

from adjudication.vocabulary import Certainty
from tests.analytics_world import CASES, Spec, World, add_case, build, people
from workbench.cases import NewExposure
from workbench.clinical import ClinicalRecord, DrugClass, YesNoUnknown
from workbench.domain import Condition, Outcome
from workbench.registry.db import Registry
from workbench.services import analytics as service
from workbench.services.clinical import CaseOutcome
from workbench.ui.analytics import AnalyticsPage
from workbench.users import Actor, resolve_actor

SHOTS = Path("/tmp/shots")


@pytest.fixture
def coordinator_sqlite(sqlite_registry: Registry) -> Actor:
    with sqlite_registry.write() as session:
        return resolve_actor(session, "coordinator")


def _more_cases(count: int) -> list[Spec]:
    """Deterministic, varied cases for a realistic page."""
    rng = random.Random(2012)
    conditions = [Condition.MS_NATALIZUMAB] * 4 + [Condition.HIV, Condition.TRANSPLANT]
    specs = []
    for n in range(count):
        condition = rng.choice(conditions)
        exposures: tuple[NewExposure, ...] = ()
        if condition is Condition.MS_NATALIZUMAB:
            exposures = (
                NewExposure(
                    "natalizumab",
                    start_day=-rng.randint(200, 3000),
                    drug_class=DrugClass.ANTI_INTEGRIN,
                ),
            )
            if rng.random() < 0.3:
                exposures += (
                    NewExposure("azathioprine", start_day=-4000, stop_day=-3500, prior=True),
                )
        onset = -rng.randint(5, 90)
        diagnosis = rng.randint(0, 20)
        iris = rng.choice(list(YesNoUnknown))
        record = ClinicalRecord(
            diagnosis_year=rng.choice((2021, 2022, 2023, 2024, 2025)),
            onset_day=onset,
            diagnosis_day=diagnosis,
            anti_jcv_index=round(rng.uniform(0.1, 3.5), 2) if rng.random() < 0.8 else None,
            iris=iris,
            iris_onset_day=diagnosis + rng.randint(10, 90) if iris is YesNoUnknown.YES else None,
        )
        died = rng.random() < 0.35
        outcome = CaseOutcome(
            Outcome.DIED if died else Outcome.ALIVE, diagnosis + rng.randint(20, 900)
        )
        certainty = rng.choice(
            (Certainty.DEFINITE, Certainty.PROBABLE, Certainty.PROBABLE, Certainty.POSSIBLE)
        )
        specs.append(
            Spec(
                f"PML-1{n:03d}",
                rng.choice(("NL-AMS", "DE-BER", "FR-PAR")),
                condition,
                exposures,
                record,
                outcome,
                certainty,
            )
        )
    return specs


def test_the_page_shows_every_section_imports_and_exports(
    qtbot: QtBot, sqlite_registry: Registry, coordinator_sqlite: Actor, tmp_path: Path
) -> None:
    world = build(sqlite_registry, coordinator_sqlite)
    for spec in _more_cases(18):
        add_case(world, spec)
    page = AnalyticsPage()
    qtbot.addWidget(page)
    page.bind(world.registry, world.coordinator)
    page.resize(1200, 900)
    assert page.import_button.isEnabled()
    assert not page.export_button.isEnabled()

    good = tmp_path / "denominators.csv"
    good.write_text(
        "stratum,year,patients,person_years,source\n"
        "exposure:natalizumab,,5000,14000,exposure report\n"
        "condition:hiv,,800,3100,HIV cohort\n"
        "exposure:natalizumab|anti_jcv:>1.5|prior_is:no|months:25-48,,900,,risk cohort\n",
        encoding="utf-8",
    )
    with qtbot.waitSignal(page.refresh_requested):
        summary = page.import_denominators_from(good)
    assert summary is not None
    assert len(summary.added) == 3
    assert "added 3" in page.message_label.text()

    page.set_analytics(service.analytics(world.registry, world.coordinator, page.certainty()))
    assert page.analytics is not None
    assert page.analytics.pml_cases > 10
    titles = [view.section.title for view in page.section_views]
    assert titles[0] == "Cases by final certainty"
    assert "Survival" in titles
    by_title = {view.section.title: view for view in page.section_views}
    survival = by_title["Survival"]
    assert survival.figure_view is not None
    assert survival.figure_view.figure is not None
    incidence = by_title["Incidence"]
    table: QTableWidget = incidence.tables[0]
    assert table.rowCount() == 3
    strata = {table.item(r, 0).text() for r in range(3)}  # type: ignore[union-attr]
    assert "exposure:natalizumab" in strata
    assert page.export_button.isEnabled()

    page.show()
    qtbot.waitExposed(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.grab().save(str(SHOTS / "analytics.png"))
    page.sections_widget.grab().save(str(SHOTS / "analytics_all_sections.png"))

    html = page.export_html_to(tmp_path / "analytics.html")
    assert html is not None
    assert "<svg" in html.read_text(encoding="utf-8")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "stratum,year,patients,person_years,source\nall,,-3,,x\ndrug:x,,1,,y\n", encoding="utf-8"
    )
    assert page.import_denominators_from(bad) is None
    assert "nothing was imported" in page.message_label.text()
    problems = page.problems_view.toPlainText().splitlines()
    assert problems == [
        f"{bad}:2: patients: '-3' is negative",
        f"{bad}:3: stratum: unknown key 'drug' (keys: condition, exposure, site, anti_jcv, "
        "prior_is, months)",
    ]
    assert len(service.list_denominators(world.registry, world.coordinator)) == 3

    with qtbot.waitSignal(page.refresh_requested):
        page.certainty_combo.setCurrentIndex(page.certainty_combo.findData("definite"))
    assert page.certainty() == "definite"


def test_a_reader_cannot_import_and_is_told_why(
    qtbot: QtBot, sqlite_registry: Registry, coordinator_sqlite: Actor
) -> None:
    world: World = people(sqlite_registry, coordinator_sqlite)
    for spec in CASES[:2]:
        add_case(world, spec)
    page = AnalyticsPage()
    qtbot.addWidget(page)
    page.bind(world.registry, world["outsider"])
    assert not page.import_button.isEnabled()
    assert "may not import incidence denominators" in page.import_button.toolTip()
    page.bind(world.registry, world["panel1"])
    assert not page.import_button.isEnabled()
    page.set_analytics(service.analytics(world.registry, world["panel1"]))
    assert page.section_views
    page.set_analytics(None)
    assert page.section_views == []
    assert not page.export_button.isEnabled()


def test_the_window_opens_analytics_and_tells_a_reader_why_not(
    qtbot: QtBot, sqlite_registry: Registry, coordinator_sqlite: Actor
) -> None:
    """View → Analytics: computed when opened with the page's certainty rule, recomputed when
    the rule changes, back to the cases; greyed for a reader and refused by the service too."""
    from workbench.ui.main_window import MainWindow

    world: World = people(sqlite_registry, coordinator_sqlite)
    for spec in CASES[:3]:
        add_case(world, spec)
    window = MainWindow(sqlite_registry, world.coordinator, quiet=True)
    qtbot.addWidget(window)
    assert window.analytics_action in window.view_menu.actions()
    window.analytics_action.trigger()
    page = window.analytics_page
    assert window.central.currentWidget() is page
    assert page.analytics is not None
    assert page.analytics.certainty is Certainty.PROBABLE
    assert page.section_views
    page.certainty_combo.setCurrentIndex(page.certainty_combo.findData("possible"))
    recomputed = page.analytics
    assert recomputed is not None
    assert recomputed.certainty is Certainty.POSSIBLE  # the window recomputed it
    page.back_button.click()
    assert window.central.currentWidget() is not page
    assert window.errors == []

    reader = MainWindow(sqlite_registry, world["outsider"], quiet=True)
    qtbot.addWidget(reader)
    assert not reader.analytics_action.isEnabled()
    assert "analytics" in reader.analytics_action.toolTip()
    assert reader.open_analytics() is False
    assert "analytics" in reader.errors[-1]
    assert reader.central.currentWidget() is not reader.analytics_page
