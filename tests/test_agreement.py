"""Reader agreement: the statistics against published examples, the report on a real registry
(SQLite and PostgreSQL) built through the services, and ``pml-workbench agreement``.

The registry of :func:`build_world` (readers ``r1``, ``r2``, ``r3``; panel ``p1``, ``p2``;
one 8 × 8 × 4 FLAIR grid of 1 mm voxels per case):

- PML-AG01 (r1, r2): yes, yes; r1 a box, r2 the box shifted by half (Dice 0.5); final
  decision, clinical features present (the engine says possible).
- PML-AG02 (r1, r2): yes, no; r1 a box, r2 none (Dice 0); final decision with the panel's
  imaging judgement "yes".
- PML-AG03 (r1, r2): no, no (r2 corrected "yes" to "no" and dropped the lesion of the
  superseded read): neither marked anything.
- PML-AG04 (r1, r2): equivocal, yes; the same box (Dice 1).
- PML-AG05 (r1, r2, r3): yes, yes, no; no lesions.
- PML-AG06 (r1, r2, r3): no, no, no; no lesions.
- PML-AG07 (r1, r2): r1 submitted, r2 only drafted: left out (reads outstanding).

PML-AG01 and PML-AG02 are read in 2025 (first half-year), the others now.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from adjudication.consensus import Proposal
from adjudication.discordance import dice as discordance_dice
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway, Role, TriState
from tests.signin import TEST_PASSWORD, login
from tests.test_cli import run
from workbench import reads as reads_module
from workbench.analysis.agreement import (
    JudgedCase,
    bland_altman,
    dice,
    disagreement_drift,
    disagreement_index,
    half_year,
    reference_judgement,
    spread,
)
from workbench.analysis.stats import CategoryCounts, Ratings, kappa
from workbench.cases import NewCase, create_case, get_case, update_case
from workbench.domain import CaseStatus, Condition, SequenceClass, Sex, SourceKind
from workbench.errors import PermissionDeniedError, ValidationError
from workbench.panel import decisions_of_case, propose_decision, sign_decision
from workbench.reading_flow import start_correction, submit
from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
from workbench.registry.db import Registry
from workbench.registry.models import utcnow
from workbench.services import agreement, cases
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.users import Actor, add_user, resolve_actor

# --- the statistics against published examples -------------------------------------------------

# Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of
# clinical measurement. Lancet 1986;i:307-310, Table 1: peak expiratory flow rate (l/min) of
# 17 subjects, first measurement with the Wright and with the mini Wright peak flow meter.
PEFR_WRIGHT = (494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427)
PEFR_MINI = (512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451)


def test_bland_altman_reproduces_the_lancet_1986_pefr_example() -> None:
    # The paper: mean difference -2.1 l/min, SD 38.8, limits d ± 2s = -79.7 to 75.5.
    paper = bland_altman(PEFR_WRIGHT, PEFR_MINI, limit_factor=2.0)
    assert paper.n == 17
    assert round(paper.mean_difference, 1) == -2.1
    assert round(paper.sd, 1) == 38.8
    # The paper computed its limits from the rounded mean and SD: -2.1 ∓ 2 × 38.8.
    rounded = (round(paper.mean_difference, 1), round(paper.sd, 1))
    assert (round(rounded[0] - 2 * rounded[1], 1), round(rounded[0] + 2 * rounded[1], 1)) == (
        -79.7,
        75.5,
    )
    assert paper.lower == pytest.approx(-79.7, abs=0.1)
    assert paper.upper == pytest.approx(75.5, abs=0.1)
    # The 95 % limits with 1.96 (Bland & Altman 1999) are a little narrower.
    default = bland_altman(PEFR_WRIGHT, PEFR_MINI)
    assert default.limit_factor == 1.96
    assert (round(default.lower, 1), round(default.upper, 1)) == (-78.1, 73.9)
    assert default.differences[0] == 494 - 512
    assert default.means[0] == (494 + 512) / 2
    assert default.as_json()["sd"] == pytest.approx(38.765, abs=1e-3)


def test_bland_altman_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(ValidationError, match="at least 2 pairs"):
        bland_altman([1.0], [2.0])
    with pytest.raises(ValidationError, match="paired"):
        bland_altman([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValidationError, match="finite"):
        bland_altman([1.0, math.nan], [1.0, 2.0])


def test_dice_is_the_1945_coefficient_on_a_hand_checked_example() -> None:
    # Dice LR. Measures of the amount of ecologic association between species. Ecology
    # 1945;26:297-302: index 2a / (2a + b + c), a present in both, b and c in one only.
    # Hand-checked: A = voxels 0-3, B = voxels 2-6: a = 2, b = 2, c = 3 -> 4 / 9.
    first = np.zeros((2, 5, 1), dtype=np.uint8)
    second = np.zeros_like(first)
    first.reshape(-1)[0:4] = 1
    second.reshape(-1)[2:7] = 3  # any non-zero label is "marked"
    assert dice(first, second) == pytest.approx(4 / 9)
    assert dice(first, second) == pytest.approx(discordance_dice(first > 0, second > 0))
    assert dice(first, first) == 1.0
    assert dice(first, np.zeros_like(first)) == 0.0
    disjoint = np.zeros_like(first)
    disjoint.reshape(-1)[8:] = 1
    assert dice(first, disjoint) == 0.0
    with pytest.raises(ValueError, match="both masks are empty"):
        dice(np.zeros_like(first), np.zeros_like(first))
    with pytest.raises(ValueError, match="one grid"):
        dice(first, np.ones((5, 2, 1)))


def test_median_and_quartiles() -> None:
    # numpy's linear percentiles (Hyndman & Fan 1996 type 7): of 0, 0.5, 1 -> 0.25, 0.5, 0.75
    assert spread([0.0, 0.5, 1.0]).as_json() == {"n": 3, "median": 0.5, "q1": 0.25, "q3": 0.75}
    assert spread([2.0]).median == 2.0
    with pytest.raises(ValidationError):
        spread([])


def test_disagreement_index_on_a_hand_checked_example() -> None:
    when = {
        "a": dt.datetime(2025, 3, 1),
        "b": dt.datetime(2025, 8, 1),
        "c": dt.datetime(2025, 8, 1),
    }
    cases_ = [
        JudgedCase("1", {"a": "yes", "b": "no"}, panel="yes", submitted=when),  # panel rules
        JudgedCase("2", {"a": "yes", "b": "no", "c": "no"}, submitted=when),  # a vs no/no
        JudgedCase("3", {"a": "yes", "b": "no", "c": "yes"}, submitted=when),
        JudgedCase("4", {"a": "no"}),  # alone: no reference
    ]
    assert reference_judgement(cases_[1], "a") == "no"
    assert reference_judgement(cases_[2], "c") is None
    assert reference_judgement(cases_[0], "b") == "yes"
    assert reference_judgement(cases_[2], "b") == "yes"
    by_reader = {r.reader: r for r in disagreement_index(cases_)}
    # a: agrees with the panel on 1, differs from no/no on 2, no majority on 3, alone on 4
    a = by_reader["a"]
    assert (a.cases, a.compared, a.disagreements, a.no_reference) == (4, 2, 1, 2)
    assert a.index == 0.5
    # b: differs from the panel on 1, no majority on 2, differs from yes/yes on 3
    assert (by_reader["b"].cases, by_reader["b"].compared, by_reader["b"].disagreements) == (
        3,
        2,
        2,
    )
    # c: the others split on both of its cases
    assert (by_reader["c"].compared, by_reader["c"].index) == (0, None)
    drift = {
        (d.reader, d.period): (d.compared, d.disagreements) for d in disagreement_drift(cases_)
    }
    assert drift == {("a", "2025 H1"): (2, 1), ("b", "2025 H2"): (2, 2)}
    assert half_year(dt.date(2026, 6, 30)) == "2026 H1"
    assert half_year(dt.date(2026, 7, 1)) == "2026 H2"


# --- the report on a real registry -------------------------------------------------------------

SHAPE = (8, 8, 4)
READ_IN_2025 = dt.datetime(2025, 3, 1, 12, 0)


@dataclass(frozen=True)
class World:
    registry: Registry
    coordinator: Actor
    people: dict[str, Actor]
    series: dict[str, int]

    def __getitem__(self, name: str) -> Actor:
        return self.people[name]


def _box(lo: int, hi: int) -> np.ndarray:
    """Voxels [lo, hi) along i, all of j in 0-4 and k in 0-2 (32 voxels for a width of 4)."""
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[lo:hi, 0:4, 0:2] = 1
    return labels


def _case(
    w: World,
    registry_id: str,
    readers: list[str],
    panel: tuple[str, ...] = (),
    clinical: TriState = TriState.NOT_ASSESSED,
) -> None:
    with w.registry.write() as session:
        create_case(
            session,
            w.coordinator,
            NewCase(
                registry_id,
                "NL-AMS",
                Sex.FEMALE,
                "40-49",
                Condition.HIV,
                clinical_consistent=clinical,
            ),
        )
        study = add_study(session, w.coordinator, registry_id, 0, description="baseline")
        series = add_series(
            session,
            w.coordinator,
            study,
            SeriesRecord(
                source_kind=SourceKind.NIFTI,
                source_uri=f"synthetic:{registry_id}",
                content_sha256=f"{len(w.series):064x}",
                sequence_class=SequenceClass.FLAIR,
                shape=SHAPE,
                affine=np.eye(4),
                dtype="int16",
            ),
        )
        w.series[registry_id] = series.id
    with w.registry.write() as session:
        version = get_case(session, registry_id).version
        update_case(session, w.coordinator, registry_id, version, {"status": CaseStatus.READY})
    cases.assign(w.registry, w.coordinator, registry_id, readers=readers, panel=panel)


def _read(
    w: World,
    reader: str,
    registry_id: str,
    judgement: str,
    lesion: np.ndarray | None = None,
    *,
    submit_it: bool = True,
) -> int:
    lesions = [] if lesion is None else [LesionDraft(w.series[registry_id], lesion)]
    with w.registry.write() as session:
        read = start_or_resume_draft(session, w[reader], registry_id)
        read = save_draft(
            session, w[reader], read.id, read.version, lesions=lesions, judgement=judgement
        )
        if submit_it:
            read, _ = submit(session, w[reader], read.id, read.version)
        return read.id


def _decide(w: World, registry_id: str, certainty: Certainty, imaging: str | None) -> None:
    proposal = Proposal(
        certainty,
        Pathway.CLINICAL if certainty is not Certainty.NOT_PML else None,
        rationale="Agreed at the panel meeting.",
        imaging=ImagingJudgement(imaging) if imaging else None,
    )
    with w.registry.write() as session:
        decision_id = propose_decision(session, w["p1"], registry_id, proposal).id
    for member in ("p1", "p2"):
        with w.registry.write() as session:
            sign_decision(session, w[member], decision_id, TEST_PASSWORD)


def build_world(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> World:
    """The registry of the module docstring."""
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        for name in ("r1", "r2", "r3"):
            add_user(
                session, name, f"Dr {name}", {Role.READER}, by=coordinator, password=TEST_PASSWORD
            )
        for name in ("p1", "p2"):
            add_user(
                session, name, f"Dr {name}", {Role.PANEL}, by=coordinator, password=TEST_PASSWORD
            )
        people = {n: resolve_actor(session, n) for n in ("r1", "r2", "r3", "p1", "p2")}
    w = World(registry, coordinator, people, {})
    _case(w, "PML-AG01", ["r1", "r2"], ("p1", "p2"), TriState.PRESENT)
    for registry_id in ("PML-AG02", "PML-AG03", "PML-AG04", "PML-AG07"):
        _case(w, registry_id, ["r1", "r2"], ("p1", "p2"))
    for registry_id in ("PML-AG05", "PML-AG06"):
        _case(w, registry_id, ["r1", "r2", "r3"], ("p1", "p2"))
    with monkeypatch.context() as patch:
        patch.setattr(reads_module, "utcnow", lambda: READ_IN_2025)
        _read(w, "r1", "PML-AG01", "yes", _box(0, 4))
        _read(w, "r2", "PML-AG01", "yes", _box(2, 6))
        _read(w, "r1", "PML-AG02", "yes", _box(0, 4))
        _read(w, "r2", "PML-AG02", "no")
    _read(w, "r1", "PML-AG03", "no")
    first = _read(w, "r2", "PML-AG03", "yes", _box(0, 4))
    with w.registry.write() as session:
        correction = start_correction(session, w["r2"], first, "misread the FLAIR")
        correction = save_draft(
            session, w["r2"], correction.id, correction.version, lesions=[], judgement="no"
        )
        submit(session, w["r2"], correction.id, correction.version)
    _read(w, "r1", "PML-AG04", "equivocal", _box(0, 4))
    _read(w, "r2", "PML-AG04", "yes", _box(0, 4))
    for reader, judgement in (("r1", "yes"), ("r2", "yes"), ("r3", "no")):
        _read(w, reader, "PML-AG05", judgement)
    for reader in ("r1", "r2", "r3"):
        _read(w, reader, "PML-AG06", "no")
    _read(w, "r1", "PML-AG07", "yes", _box(0, 4))
    _read(w, "r2", "PML-AG07", "no", _box(0, 8), submit_it=False)  # a draft: not in
    _decide(w, "PML-AG01", Certainty.POSSIBLE, None)
    _decide(w, "PML-AG02", Certainty.NOT_PML, "yes")
    return w


@pytest.fixture
def world(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(registry, monkeypatch)


def test_the_report_counts_only_cases_whose_every_read_is_in(world: World) -> None:
    report = agreement.agreement_report(world.registry, world.coordinator)
    assert (report.cases_with_readers, report.counted, report.reads_outstanding) == (7, 6, 1)
    assert report.before_since == 0
    assert "6 cases counted of 7" in report.summary()
    assert "1 left out: reads outstanding" in report.summary()
    listed = {p.registry_id for p in report.masks.pairs}
    assert "PML-AG07" not in listed  # r1's lesion there is not compared with r2's draft


def test_judgement_kappa_per_reader_pair_and_per_number_of_readers(world: World) -> None:
    report = agreement.agreement_report(world.registry, world["p1"])
    pairs = {(p.reader_a, p.reader_b): p for p in report.judgement.pairs}
    assert set(pairs) == {("r1", "r2"), ("r1", "r3"), ("r2", "r3")}
    r1r2 = pairs[("r1", "r2")]
    # r1: yes yes no equivocal yes no; r2 (current reads, PML-AG03 corrected): yes no no yes yes no
    assert r1r2.cases == 6
    assert r1r2.agreed == 4
    assert r1r2.table == ((2, 1, 0), (0, 2, 0), (1, 0, 0))  # rows r1, columns r2: yes no eq
    expected = kappa(
        Ratings(
            ("r1", "r2"),
            ("PML-AG01", "PML-AG02", "PML-AG03", "PML-AG04", "PML-AG05", "PML-AG06"),
            (
                ("yes", "yes"),
                ("yes", "no"),
                ("no", "no"),
                ("equivocal", "yes"),
                ("yes", "yes"),
                ("no", "no"),
            ),
        )
    )
    assert r1r2.kappa == expected
    assert r1r2.kappa is not None
    assert r1r2.kappa.se is not None
    assert r1r2.kappa.ci_low is not None
    assert pairs[("r1", "r3")].cases == 2
    groups = {g.readers_per_case: g for g in report.judgement.groups}
    assert (groups[2].cases, groups[3].cases) == (4, 2)
    fleiss3 = kappa(
        CategoryCounts(("yes", "no", "equivocal"), ("PML-AG05", "PML-AG06"), ((2, 1, 0), (0, 3, 0)))
    )
    assert groups[3].kappa == fleiss3
    assert groups[3].observed == pytest.approx(4 / 6)  # pairs agreeing: 1 of 3, then 3 of 3
    assert report.judgement.note is None


def test_panel_certainty_against_the_engine_uses_the_final_decisions(world: World) -> None:
    report = agreement.agreement_report(world.registry, world.coordinator)
    certainty = report.certainty
    assert certainty.cases == 2
    assert certainty.undecided == 4
    assert certainty.no_engine_result == 0
    with world.registry.read() as session:
        engine = {
            rid: decisions_of_case(session, world.coordinator, rid)[-1].engine_certainty
            for rid in ("PML-AG01", "PML-AG02")
        }
    # PML-AG01: clinical features present, imaging yes, no PCR: the engine says possible, as
    # the panel does. PML-AG02: nothing clinical recorded: not classifiable; the panel: not PML.
    assert engine == {"PML-AG01": Certainty.POSSIBLE, "PML-AG02": Certainty.NOT_CLASSIFIABLE}
    assert certainty.categories == ("possible", "not_pml", "not_classifiable")
    assert certainty.table == ((1, 0, 0), (0, 0, 1), (0, 0, 0))  # rows panel, columns engine
    assert certainty.agreed == 1
    assert certainty.observed == 0.5
    # Cohen (1960): p_o = 1/2, p_e = 1/2 · 1/2 (possible) = 1/4, kappa = (1/2 - 1/4) / (3/4)
    assert certainty.kappa is not None
    assert certainty.kappa.kappa == pytest.approx(1 / 3)
    expected = kappa(
        Ratings(
            ("panel", "engine"),
            ("PML-AG01", "PML-AG02"),
            (("possible", "possible"), ("not_pml", "not_classifiable")),
        )
    )
    assert certainty.kappa.as_json() == expected.as_json()


def test_mask_agreement_dice_and_bland_altman(world: World) -> None:
    masks = agreement.agreement_report(world.registry, world.coordinator).masks
    found = {p.registry_id: p for p in masks.pairs}
    assert set(found) == {"PML-AG01", "PML-AG02", "PML-AG04"}
    assert found["PML-AG01"].dice == pytest.approx(0.5)  # 16 shared of 32 + 32 voxels
    assert found["PML-AG02"].dice == 0.0  # r2 marked nothing
    assert found["PML-AG04"].dice == 1.0
    assert found["PML-AG01"].volume_a_ml == pytest.approx(0.032)  # 32 voxels of 1 mm³
    assert found["PML-AG02"].volume_b_ml == 0.0
    assert found["PML-AG01"].series.startswith(f"#{world.series['PML-AG01']} FLAIR")
    # PML-AG03 (r2's lesion was in the superseded read), PML-AG05 and PML-AG06 (3 pairs each)
    assert masks.both_empty == 7
    assert masks.other_series == 0
    assert masks.dice is not None
    assert (masks.dice.median, masks.dice.q1, masks.dice.q3) == pytest.approx((0.5, 0.25, 0.75))
    expected = bland_altman([0.032, 0.032, 0.032], [0.032, 0.0, 0.032])
    assert masks.volume is not None
    assert masks.volume.mean_difference == pytest.approx(expected.mean_difference)
    assert masks.volume.sd == pytest.approx(expected.sd)
    assert masks.volume.upper == pytest.approx(expected.upper)


def test_disagreement_index_by_reader_and_half_year(world: World) -> None:
    report = agreement.agreement_report(world.registry, world.coordinator).disagreement
    by_reader = {r.reader: r for r in report.readers}
    # r1 differs only on PML-AG04; r2 on PML-AG02 (the panel said yes) and PML-AG04; r3 on PML-AG05.
    # PML-AG05 gives r1 and r2 no reference (the others split yes/no).
    assert (by_reader["r1"].cases, by_reader["r1"].compared, by_reader["r1"].disagreements) == (
        6,
        5,
        1,
    )
    assert (by_reader["r2"].compared, by_reader["r2"].disagreements) == (5, 2)
    assert (by_reader["r3"].compared, by_reader["r3"].disagreements) == (2, 1)
    assert report.panel_reference == 1
    now = half_year(utcnow())
    drift = {(d.reader, d.period): (d.compared, d.disagreements) for d in report.drift}
    assert drift[("r2", "2025 H1")] == (2, 1)  # PML-AG01 agrees, PML-AG02 differs from the panel
    assert drift[("r2", now)] == (3, 1)  # PML-AG03, PML-AG04 (differs), PML-AG06
    assert drift[("r1", "2025 H1")] == (2, 0)


def test_since_leaves_out_cases_read_before(world: World) -> None:
    report = agreement.agreement_report(
        world.registry, world.coordinator, since=dt.date(2026, 1, 1)
    )
    assert (report.counted, report.before_since, report.reads_outstanding) == (4, 2, 1)
    assert report.certainty.cases == 0
    assert report.certainty.note is not None
    assert "0 cases qualify" in report.certainty.note
    assert report.as_json()["since"] == "2026-01-01"


def test_a_reader_may_not_see_reader_agreement(world: World) -> None:
    with pytest.raises(PermissionDeniedError, match="may not see reader agreement"):
        agreement.agreement_report(world.registry, world["r1"])


def test_too_few_cases_are_said_plainly(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        for name in ("r1", "r2"):
            add_user(session, name, name, {Role.READER}, by=coordinator, password=TEST_PASSWORD)
        people = {n: resolve_actor(session, n) for n in ("r1", "r2")}
    w = World(registry, coordinator, people, {})
    _case(w, "PML-AG01", ["r1", "r2"])
    _read(w, "r1", "PML-AG01", "yes", _box(0, 4))
    _read(w, "r2", "PML-AG01", "yes", _box(1, 4))
    report = agreement.agreement_report(registry, coordinator)
    assert report.judgement.note == "kappa needs at least 2 cases with 2 readers; 1 case qualifies"
    assert report.masks.volume is None
    assert report.masks.note is not None
    assert "1 pair qualifies" in report.masks.note
    sections = report.sections()
    assert [s.figure for s in sections[1:4]] == [None, None, None]
    assert "1 case qualifies" in sections[1].text


def test_json_and_sections_carry_every_number(world: World) -> None:
    report = agreement.agreement_report(world.registry, world.coordinator)
    data = json.loads(json.dumps(report.as_json()))
    assert set(data) == {
        "as_of", "by", "since", "cases", "judgement", "certainty", "masks", "disagreement"
    }  # fmt: skip
    assert data["cases"] == {
        "with_readers": 7,
        "counted": 6,
        "left_out_reads_outstanding": 1,
        "left_out_before_since": 0,
        "left_out_not_visible": 0,
    }
    assert data["masks"]["both_empty_left_out"] == 7
    assert data["judgement"]["cohen"][0]["readers"] == ["r1", "r2"]
    sections = report.sections()
    assert [s.title for s in sections] == [
        "Cases",
        "Imaging judgement agreement",
        "Panel certainty against the criteria engine",
        "Lesion mask agreement",
        "Disagreement by reader",
    ]
    for section in sections[1:]:
        assert section.figure is not None, section.title
        assert section.tables, section.title
        assert all(t.rows for t in section.tables), section.title
    html = report.html()
    assert html.count("<svg") == 4
    assert "Dr r1" not in html
    assert "r1 × r2" in html


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli_world(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    login(sqlite_url, "coordinator")  # the registry's first user, with a password
    registry = Registry.open(sqlite_url)
    try:
        build_world(registry, monkeypatch)
    finally:
        registry.close()
    return sqlite_url


def test_cli_prints_json_and_writes_html(
    capsys: pytest.CaptureFixture[str], cli_world: str, tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--db", cli_world, "agreement", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["cases"]["counted"] == 6
    assert data["by"] == "coordinator"
    target = tmp_path / "agreement.html"
    code, out, err = run(capsys, "--db", cli_world, "agreement", "--html", str(target))
    assert code == 0, err
    assert "Cohen r1 x r2: 6 case(s), observed 0.667" in out
    assert "Dice median 0.500 (IQR 0.250 to 0.750)" in out
    assert f"wrote {target}" in out
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<svg") == 4
    code, out, err = run(capsys, "--db", cli_world, "agreement", "--since", "2026-01-01", "--json")
    assert code == 0
    assert json.loads(out)["cases"]["left_out_before_since"] == 2


def test_cli_refuses_a_bad_html_path_and_a_bad_day(
    capsys: pytest.CaptureFixture[str], cli_world: str, tmp_path: Path
) -> None:
    missing = tmp_path / "no such folder" / "agreement.html"
    code, out, err = run(capsys, "--db", cli_world, "agreement", "--html", str(missing))
    assert code == 1
    assert out == ""
    assert str(missing) in err
    assert "does not exist" in err
    assert not missing.parent.exists()
    code, _, err = run(capsys, "--db", cli_world, "agreement", "--html", str(tmp_path))
    assert code == 1
    assert "is a folder" in err
    code, _, err = run(capsys, "--db", cli_world, "agreement", "--since", "1 March")
    assert code == 1
    assert "--since: '1 March' is not a day written YYYY-MM-DD" in err


def test_cli_refuses_a_reader(capsys: pytest.CaptureFixture[str], cli_world: str) -> None:
    code, out, err = run(capsys, "--db", cli_world, "--user", "r1", "agreement")
    assert code == 1
    assert out == ""
    assert "may not see reader agreement" in err


def _second_series(w: World, registry_id: str) -> int:
    with w.registry.write() as session:
        study = add_study(session, w.coordinator, registry_id, 0, description="baseline")
        series = add_series(
            session,
            w.coordinator,
            study,
            SeriesRecord(
                source_kind=SourceKind.NIFTI,
                source_uri=f"synthetic:{registry_id}:t2",
                content_sha256=f"{len(w.series) + 100:064x}",
                sequence_class=SequenceClass.T2,
                shape=SHAPE,
                affine=np.eye(4),
                dtype="int16",
            ),
        )
        return series.id


def test_masks_on_different_series_are_not_compared(sqlite_registry: Registry) -> None:
    registry = sqlite_registry
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        for name in ("r1", "r2"):
            add_user(session, name, name, {Role.READER}, by=coordinator, password=TEST_PASSWORD)
        people = {n: resolve_actor(session, n) for n in ("r1", "r2")}
    w = World(registry, coordinator, people, {})
    for registry_id in ("PML-AG11", "PML-AG12"):
        _case(w, registry_id, ["r1", "r2"])
    t2 = {rid: _second_series(w, rid) for rid in ("PML-AG11", "PML-AG12")}

    def read(reader: str, registry_id: str, drafts: list[LesionDraft]) -> None:
        with registry.write() as session:
            draft = start_or_resume_draft(session, w[reader], registry_id)
            draft = save_draft(
                session, w[reader], draft.id, draft.version, lesions=drafts, judgement="yes"
            )
            submit(session, w[reader], draft.id, draft.version)

    # PML-AG11: r1 on FLAIR only, r2 on T2 only: two series, no common grid.
    read("r1", "PML-AG11", [LesionDraft(w.series["PML-AG11"], _box(0, 4))])
    read("r2", "PML-AG11", [LesionDraft(t2["PML-AG11"], _box(0, 4))])
    # PML-AG12: r1 on FLAIR and T2, r2 on FLAIR: FLAIR compared, r1's T2 left out.
    t2_lesion = _box(4, 8) * 2  # labels are unique within a read
    read(
        "r1",
        "PML-AG12",
        [
            LesionDraft(w.series["PML-AG12"], _box(0, 4)),
            LesionDraft(t2["PML-AG12"], t2_lesion),
        ],
    )
    read("r2", "PML-AG12", [LesionDraft(w.series["PML-AG12"], _box(0, 4))])
    masks = agreement.agreement_report(registry, coordinator).masks
    assert [(p.registry_id, p.series_id, p.dice) for p in masks.pairs] == [
        ("PML-AG12", w.series["PML-AG12"], 1.0)
    ]
    assert masks.other_series == 3
    assert masks.both_empty == 0


def test_a_panel_member_counts_only_the_cases_of_their_own_panels(world: World) -> None:
    """The policy decides which cases' reads a viewer may see: a panel member on no panel
    gets none, and is told why."""
    with world.registry.write() as session:
        add_user(session, "p9", "Dr p9", {Role.PANEL}, by=world.coordinator)
        outsider = resolve_actor(session, "p9")
    report = agreement.agreement_report(world.registry, outsider)
    assert report.counted == 0
    assert report.not_visible == 6
    assert report.reads_outstanding == 1
    assert "6 left out: not yours to see" in report.summary()
