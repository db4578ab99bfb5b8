"""The analyst's statistics (``workbench.analysis.stats`` and ``pml-workbench stats``) against
published worked examples, each named where it is used, and the refusal of bad CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.analysis import stats
from workbench.cli import main
from workbench.errors import ValidationError

# Fleiss (1971), Psychol Bull 76:378, Table 1: 30 patients, 6 psychiatrists, 5 diagnoses
# (1 depression, 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other); the published
# kappa is 0.430. (The per-rater layout is the one of R's irr::diagnoses.)
FLEISS_1971 = [
    "444444", "222555", "233335", "555555", "222444", "113333", "333355", "113334", "114444",
    "555555", "144444", "124444", "222333", "144444", "224445", "333335", "111455", "111112",
    "224444", "133555", "555555", "244444", "224555", "114444", "144445", "222224", "111155",
    "224444", "133333", "555555",
]  # fmt: skip

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories,
# P̄ = 0.378, P̄e = 0.213, kappa = 0.210.
WIKIPEDIA_COUNTS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]  # fmt: skip

# SAS/STAT User's Guide, PROC FREQ, "Agreement Study" example: two dermatologists rate 88
# patients' skin condition (Terrible, Poor, Marginal, Clear). Published: simple kappa 0.3449,
# ASE 0.0724, 95 % CI 0.2030 to 0.4868; ASE under H0 0.0612, Z 5.6366.
SAS_DERMATOLOGY = {
    ("Terrible", "Terrible"): 10, ("Terrible", "Poor"): 4, ("Terrible", "Marginal"): 1,
    ("Poor", "Terrible"): 5, ("Poor", "Poor"): 10, ("Poor", "Marginal"): 12, ("Poor", "Clear"): 2,
    ("Marginal", "Terrible"): 2, ("Marginal", "Poor"): 4, ("Marginal", "Marginal"): 12,
    ("Marginal", "Clear"): 5, ("Clear", "Poor"): 2, ("Clear", "Marginal"): 6,
    ("Clear", "Clear"): 13,
}  # fmt: skip

# Freireich et al. (1963) 6-MP leukaemia remission trial, as given by Gehan (1965), Biometrika
# 52:203 (weeks in remission; + censored). Published (e.g. Kleinbaum & Klein, Survival
# Analysis, ch. 2; Klein & Moeschberger, table 4.1A): 6-MP median 23, placebo median 8;
# log-rank chi-square 16.79 (1 df), p < 0.0001; 6-MP Kaplan-Meier with Greenwood SEs
# (time, S, SE): (6, 0.857, 0.076), (7, 0.807, 0.087), (10, 0.753, 0.096), (13, 0.690, 0.107),
# (16, 0.627, 0.114), (22, 0.538, 0.128), (23, 0.448, 0.135).
SIX_MP = "6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+"
PLACEBO = "1 1 2 2 3 4 4 5 5 8 8 8 8 11 11 12 12 15 17 22 23"
GREENWOOD_6MP = [
    (6, 21, 3, 0.857, 0.076), (7, 17, 1, 0.807, 0.087), (10, 15, 1, 0.753, 0.096),
    (13, 12, 1, 0.690, 0.107), (16, 11, 1, 0.627, 0.114), (22, 7, 1, 0.538, 0.128),
    (23, 6, 1, 0.448, 0.135),
]  # fmt: skip


def write(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def ratings_csv(tmp_path: Path, rows: list[list[str]], raters: list[str]) -> Path:
    lines = ["subject," + ",".join(raters)]
    lines += [f"s{i},{','.join(row)}" for i, row in enumerate(rows, start=1)]
    return write(tmp_path, "\n".join(lines) + "\n")


def leukaemia_csv(tmp_path: Path) -> Path:
    lines = ["time,event,group"]
    for group, data in (("6-MP", SIX_MP), ("placebo", PLACEBO)):
        for item in data.split():
            lines.append(f"{item.rstrip('+')},{0 if item.endswith('+') else 1},{group}")
    return write(tmp_path, "\n".join(lines) + "\n")


def dermatology_rows() -> list[list[str]]:
    return [[a, b] for (a, b), count in SAS_DERMATOLOGY.items() for _ in range(count)]


# --- kappa ------------------------------------------------------------------------------------


def test_fleiss_kappa_of_fleiss_1971(tmp_path: Path) -> None:
    path = ratings_csv(tmp_path, [list(row) for row in FLEISS_1971], [f"r{i}" for i in range(6)])
    result = stats.kappa(stats.read_ratings(path))
    assert (result.method, result.subjects, result.raters) == ("fleiss", 30, 6)
    assert result.categories == ("1", "2", "3", "4", "5")
    assert result.kappa == pytest.approx(0.430, abs=5e-4)
    assert result.se is None


def test_fleiss_kappa_of_the_wikipedia_counts(tmp_path: Path) -> None:
    lines = ["a,b,c,d,e"] + [",".join(map(str, row)) for row in WIKIPEDIA_COUNTS]
    result = stats.kappa(stats.read_counts(write(tmp_path, "\n".join(lines))))
    assert (result.method, result.subjects, result.raters) == ("fleiss", 10, 14)
    assert result.kappa == pytest.approx(0.210, abs=5e-4)


def test_cohens_kappa_of_the_sas_agreement_study(tmp_path: Path) -> None:
    path = ratings_csv(tmp_path, dermatology_rows(), ["derm1", "derm2"])
    result = stats.kappa(stats.read_ratings(path))
    assert (result.method, result.subjects, result.raters) == ("cohen", 88, 2)
    assert result.kappa == pytest.approx(0.3449, abs=5e-5)
    assert result.se == pytest.approx(0.0724, abs=5e-5)
    assert result.ci_low == pytest.approx(0.2030, abs=5e-5)
    assert result.ci_high == pytest.approx(0.4868, abs=5e-5)
    assert result.se_null == pytest.approx(0.0612, abs=5e-5)
    assert result.z == pytest.approx(5.6366, abs=5e-4)


def test_cohens_kappa_without_a_subject_column(tmp_path: Path) -> None:
    # Fleiss, Levin & Paik, Statistical Methods for Rates and Proportions (3rd ed.), table 18.1:
    # 100 patients, two raters, 3 diagnoses; kappa = 0.676.
    cells = {("P", "P"): 75, ("P", "N"): 1, ("P", "O"): 4, ("N", "P"): 5, ("N", "N"): 4,
             ("N", "O"): 1, ("O", "O"): 10}  # fmt: skip
    lines = ["A,B"] + [f"{a},{b}" for (a, b), n in cells.items() for _ in range(n)]
    result = stats.kappa(stats.read_ratings(write(tmp_path, "\n".join(lines))))
    assert result.kappa == pytest.approx(0.676, abs=5e-4)


# --- incidence --------------------------------------------------------------------------------


def test_exact_poisson_rate_matches_the_published_limits(tmp_path: Path) -> None:
    # Exact Poisson limits for 10 observed events: 4.795 to 18.390 (Ulm 1990, Am J Epidemiol
    # 131:373, table; the same as Garwood 1936). Over 2000 person-years: 5 per 1,000,
    # 2.398 to 9.195. With 0 events the limits are 0 to 3.689 (the "rule of 3.69").
    path = write(tmp_path, "stratum,events,person_years\nA,10,2000\nB,0,1000\n")
    result = stats.incidence(stats.read_incidence(path))
    first, second = result.strata
    assert first.rate == pytest.approx(5.0)
    assert first.ci_low == pytest.approx(4.795 / 2, abs=5e-4)
    assert first.ci_high == pytest.approx(18.390 / 2, abs=5e-4)
    assert (second.rate, second.ci_low) == (0.0, 0.0)
    assert second.ci_high == pytest.approx(3.689, abs=5e-4)
    assert (result.total.events, result.total.denominator) == (10, 3000)
    assert result.total.rate == pytest.approx(10 / 3)


def test_log_wald_poisson_rate(tmp_path: Path) -> None:
    # Independent computation: 5 · exp(±1.959964/√10) per 1,000 = 2.690 to 9.293.
    path = write(tmp_path, "stratum,events,person_years\nA,10,2000\nB,0,1000\n")
    result = stats.incidence(stats.read_incidence(path), ci="log-wald")
    assert result.strata[0].ci_low == pytest.approx(2.6903, abs=5e-4)
    assert result.strata[0].ci_high == pytest.approx(9.2927, abs=5e-4)
    assert (result.strata[1].ci_low, result.strata[1].ci_high) == (None, None)


def test_clopper_pearson_for_patients(tmp_path: Path) -> None:
    # Clopper-Pearson exact 95 % limits for 1/10: 0.0025 to 0.4450; for 0/10: 0 to 0.3085
    # (Clopper & Pearson 1934; tabulated e.g. in Newcombe 1998, Stat Med 17:857, table II).
    path = write(tmp_path, "stratum,events,patients\nA,1,10\nB,0,10\n")
    result = stats.incidence(stats.read_incidence(path))
    first, second = result.strata
    assert first.rate == pytest.approx(100.0)
    assert first.ci_low == pytest.approx(2.5, abs=0.05)
    assert first.ci_high == pytest.approx(445.0, abs=0.05)
    assert second.ci_high == pytest.approx(308.5, abs=0.05)
    assert result.ci_method == "exact binomial (Clopper-Pearson)"


# --- survival ---------------------------------------------------------------------------------


def test_kaplan_meier_and_log_rank_of_the_6mp_trial(tmp_path: Path) -> None:
    result = stats.survival(stats.read_survival(leukaemia_csv(tmp_path)))
    six_mp, placebo = result.groups
    assert (six_mp.group, six_mp.subjects, six_mp.events) == ("6-MP", 21, 9)
    assert (placebo.group, placebo.subjects, placebo.events) == ("placebo", 21, 21)
    assert six_mp.median == 23
    assert placebo.median == 8
    assert six_mp.median_ci_high is None  # 6-MP never falls far enough
    got = [(r.time, r.at_risk, r.events, r.survival, r.se) for r in six_mp.table]
    assert len(got) == len(GREENWOOD_6MP)
    for (t, n, d, s, se), want in zip(got, GREENWOOD_6MP, strict=True):
        assert (t, n, d) == want[:3]
        assert s == pytest.approx(want[3], abs=5e-4)
        assert se == pytest.approx(want[4], abs=5e-4)
    assert result.logrank is not None
    assert result.logrank.chi2 == pytest.approx(16.79, abs=5e-3)
    assert result.logrank.df == 1
    assert result.logrank.p_value < 1e-4


def test_survival_without_groups_and_without_events(tmp_path: Path) -> None:
    result = stats.survival(stats.read_survival(write(tmp_path, "time,event\n1,0\n2,0\n3,0\n")))
    (only,) = result.groups
    assert (only.group, only.events, only.median, only.table) == (None, 0, None, ())
    assert result.logrank is None


# --- bad files --------------------------------------------------------------------------------

BAD = [
    ("incidence", "stratum,person_years\nA,10\n", "line 1, column 'events': missing column"),
    ("incidence", "stratum,events,person_years\nA,x,10\n", "line 2, column 'events': 'x' is not"),
    ("incidence", "stratum,events,person_years\nA,1,-5\n", "line 2, column 'person_years'"),
    ("incidence", "stratum,events,patients\nA,5,3\n", "line 2, column 'events': 5 events"),
    ("incidence", "stratum,events\nA,1\n", "column 'person_years'"),
    ("survival", "time,event\n1,1\n2,2\n", "line 3, column 'event': '2': event must be"),
    ("survival", "time,event\n1,1\n-2,0\n", "line 3, column 'time'"),
    ("survival", "time,event\n1,1\n", "fewer than 2 subjects"),
    ("survival", "time\n1\n2\n", "line 1, column 'event': missing column"),
    ("kappa", "a,b\nx,y\n", "fewer than 2 subjects"),
    ("kappa", "a,b\nx,x\nx,x\nx,x\n", "line 2, column 'a': every rating is 'x'"),
    ("kappa", "a,b\nx,y\nx,\n", "line 3, column 'b': empty rating"),
    ("kappa", "a\nx\ny\n", "line 1: fewer than 2 rater columns"),
    ("kappa", "a,b\nx,y\nx\n", "line 3: has 1 cells"),
]


@pytest.mark.parametrize(("command", "text", "message"), BAD)
def test_a_bad_file_is_refused_with_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    assert main(["stats", command, str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}, ")
    assert message in captured.err


def test_bad_counts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"line 3: 3 ratings, the first subject has 2"):
        stats.read_counts(write(tmp_path, "a,b\n1,1\n2,1\n"))
    with pytest.raises(ValidationError, match=r"line 2, column 'a': every rating"):
        stats.read_counts(write(tmp_path, "a,b\n2,0\n2,0\n"))
    with pytest.raises(ValidationError, match=r"line 2, column 'b': '1.5' is not a whole"):
        stats.read_counts(write(tmp_path, "a,b\n1,1.5\n2,0\n"))


def test_a_missing_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "survival", str(tmp_path / "nope.csv")]) == 1
    assert "cannot be read" in capsys.readouterr().err


# --- the command line -------------------------------------------------------------------------


def test_cli_kappa_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = ratings_csv(tmp_path, dermatology_rows(), ["derm1", "derm2"])
    assert main(["stats", "kappa", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Cohen's kappa: 88 subjects, 2 raters" in out
    assert "0.3449" in out
    assert "0.2030 to 0.4868" in out
    assert main(["stats", "kappa", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        *("method", "subjects", "raters", "categories", "kappa", "se", "ci_low", "ci_high"),
        *("se_null", "z", "p_value", "confidence"),
    }
    assert data["method"] == "cohen"
    assert data["kappa"] == pytest.approx(0.3449, abs=5e-5)


def test_cli_kappa_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["subject,a,b,c,d,e"] + [
        f"s{i}," + ",".join(map(str, row)) for i, row in enumerate(WIKIPEDIA_COUNTS)
    ]
    path = write(tmp_path, "\n".join(lines))
    assert main(["stats", "kappa", str(path), "--counts", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["method"], data["raters"], data["se"]) == ("fleiss", 14, None)
    assert data["kappa"] == pytest.approx(0.210, abs=5e-4)
    assert main(["stats", "kappa", str(path), "--counts"]) == 0
    assert "Fleiss' kappa: 10 subjects, 14 raters" in capsys.readouterr().out


def test_cli_incidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "stratum,events,person_years\nnatalizumab,10,2000\nHIV,0,1000\n")
    assert main(["stats", "incidence", str(path)]) == 0
    out = capsys.readouterr().out
    assert "exact Poisson (Garwood)" in out
    assert "natalizumab" in out
    assert "2.398 to     9.195" in out
    assert main(["stats", "incidence", str(path), "--ci", "log-wald", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"denominator", "ci_method", "per", "confidence", "strata", "total"}
    assert set(data["total"]) == {"stratum", "events", "denominator", "rate", "ci_low", "ci_high"}
    assert data["strata"][1]["ci_low"] is None
    assert data["ci_method"] == "log-Wald (Poisson)"


def test_cli_survival(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = leukaemia_csv(tmp_path)
    assert main(["stats", "survival", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Kaplan-Meier, group 6-MP: 21 subjects, 9 events" in out
    assert "median survival 23.00" in out
    assert "Log-rank test: chi-square 16.793, df 1" in out
    assert main(["stats", "survival", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"confidence", "groups", "logrank"}
    group = data["groups"][0]
    assert set(group) == {
        *("group", "subjects", "events", "median", "median_ci_low", "median_ci_high", "table"),
    }
    assert set(group["table"][0]) == {"time", "at_risk", "events", "survival", "se"}
    assert set(data["logrank"]) == {"chi2", "df", "p_value"}
