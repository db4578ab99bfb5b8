"""The case timeline: its values (blinded per person), its figure and ``timeline`` on the CLI.

Case PML-0001 of :func:`tests.test_panel.panel` (one FLAIR series at day 0, readers 1 and 2,
panel members 1 and 2) on SQLite and PostgreSQL, given CSF JCV PCR results from two assays
(not detected, detected below LOQ, quantified), an antibody index, a CD4 count, an exposure
and a clinical record with treatments, IRIS and death.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from adjudication.vocabulary import ImagingJudgement, ReadStatus
from tests.signin import TEST_PASSWORD, login
from tests.test_cli import run
from tests.test_panel import CONFIG, Panel, _box, _read
from tests.test_panel import panel as panel
from tests.test_review_flow import sandbox  # noqa: F401 - the module-scoped parser fixture
from workbench.analysis.timeline_plot import NOTHING_TO_PLOT, jcv_positions, timeline_figure
from workbench.cases import NewCase, NewExposure, create_case
from workbench.clinical import ClinicalRecord
from workbench.domain import Condition, LabQualitative, LabTest, Outcome, Sex
from workbench.errors import NotFoundError
from workbench.labs import LabEntry, add_lab_result
from workbench.reading_flow import submit
from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
from workbench.registry.db import Registry
from workbench.services import timeline as service
from workbench.services.clinical import CaseOutcome, set_clinical_record
from workbench.timeline import CaseTimeline
from workbench.users import Actor, set_password

CASE = "PML-0001"
BOX_ML = 4 * 4 * 3 * 0.9 * 0.8 * 3.0 / 1000
"""The lesion of :func:`tests.test_panel._read`: 4 × 4 × 3 voxels of 0.9 × 0.8 × 3.0 mm."""
SMALL_ML = 2 * 2 * 2 * 0.9 * 0.8 * 3.0 / 1000
"""The draft lesion of :func:`_draft`."""

RECORD = ClinicalRecord.from_json(
    {
        "onset_day": -21,
        "diagnosis_day": 5,
        "anti_jcv_index": 3.2,
        "anti_jcv_index_day": -200,
        "lymphocytes": 1.1,
        "lymphocytes_day": 0,
        "cd4_nadir": 90,
        "cd4_nadir_day": 2,
        "iris": "yes",
        "iris_onset_day": 40,
        "death_cause": "pml",
        "treatments": [
            {"kind": "plasma_exchange", "detail": "5 sessions", "start_day": 6, "stop_day": 14},
            {"kind": "mirtazapine", "start_day": 7},
        ],
    }
)


def _labs(registry: Registry, actor: Actor) -> None:
    entries = [
        LabEntry(CASE, LabTest.CSF_JCV_PCR, 3, LabQualitative.NOT_DETECTED, None, "copies/mL",
                 "hospital JCV PCR", 200, 500),
        LabEntry(CASE, LabTest.CSF_JCV_PCR, 10, LabQualitative.DETECTED_BELOW_LOQ, None,
                 "copies/mL", "ultrasensitive JCV qPCR", 10, 50),
        LabEntry(CASE, LabTest.CSF_JCV_PCR, 30, LabQualitative.DETECTED, 450, "copies/mL",
                 "ultrasensitive JCV qPCR", 10, 50),
        LabEntry(CASE, LabTest.SERUM_JCV_ANTIBODY_INDEX, -100, LabQualitative.POSITIVE, 1.2,
                 "index"),
        LabEntry(CASE, LabTest.CD4_COUNT, -2, LabQualitative.QUANTITATIVE, 150, "cells/µL"),
        LabEntry(CASE, LabTest.CD4_COUNT, -1, LabQualitative.QUANTITATIVE, 0.12, "10^9/L"),
        LabEntry(CASE, LabTest.CD4_COUNT, -1, LabQualitative.QUANTITATIVE, 11, "%"),
        LabEntry(CASE, LabTest.CSF_JCV_PCR, 45, LabQualitative.DETECTED, 3.5,
                 "log10 copies/mL", "ultrasensitive JCV qPCR", 1, 1.69897),
    ]  # fmt: skip
    with registry.write() as session:
        for entry in entries:
            add_lab_result(session, actor, entry)


@pytest.fixture
def course(panel: Panel) -> Panel:
    """The panel's case with labs, a clinical record (the patient died on day 60) and the
    second case PML-0002 as it was created (nothing dated)."""
    p = panel
    _labs(p.registry, p.s.coordinator)
    set_clinical_record(
        p.registry,
        p.s.coordinator,
        CASE,
        RECORD,
        reason=None,
        version=None,
        outcome=CaseOutcome(Outcome.DIED, 60),
    )
    with p.registry.write() as session:
        create_case(
            session,
            p.s.coordinator,
            NewCase(
                "PML-0003", "NL-AMS", Sex.FEMALE, "30-39", Condition.MS_NATALIZUMAB,
                exposures=(NewExposure("natalizumab", -1500, None, 40),),
            ),
        )  # fmt: skip
    return p


def _draft(p: Panel, actor: Actor) -> None:
    """``actor`` saves a draft with one small lesion (not submitted)."""
    with p.registry.write() as session:
        read = start_or_resume_draft(session, actor, CASE)
        save_draft(
            session,
            actor,
            read.id,
            read.version,
            lesions=[LesionDraft(p.s.series_id, _box((1, 1, 1), (3, 3, 3)))],
            judgement=ImagingJudgement.NO,
        )


def _submit_draft(p: Panel, actor: Actor) -> None:
    with p.registry.write() as session:
        read = start_or_resume_draft(session, actor, CASE)
        submit(session, actor, read.id, read.version, config=CONFIG)


def _sign_in(p: Panel, actor: Actor, url: str) -> None:
    """``actor`` chooses their password (they have none yet) and signs in on the CLI."""
    with p.registry.write() as session:
        set_password(session, actor, actor.username, TEST_PASSWORD)
    login(url, actor.username)


def _readers(timeline: CaseTimeline) -> dict[str, tuple[ReadStatus, float]]:
    """``reader -> (status, volume in mL to 5 decimals)`` of the volumes shown."""
    return {v.reader: (v.status, round(v.volume_ml, 5)) for v in timeline.volumes}


# --- the values ------------------------------------------------------------------------------


def test_the_timeline_gathers_the_course_of_the_case(course: Panel) -> None:
    p = course
    found = service.case_timeline(p.registry, p.s.coordinator, CASE)
    assert [point.day for point in found.imaging] == [0]
    assert [(j.day, j.kind, j.value) for j in found.jcv] == [
        (3, "not_detected", None),
        (10, "below_loq", None),
        (30, "quantified", 450),
        (45, "quantified", pytest.approx(3162.28)),  # entered as 3.5 log10 copies/mL
    ]
    assert found.jcv[-1].from_log10
    assert found.jcv[-1].unit == "copies/mL"
    # the log10 result's limits (1 and 1.69897 log10) are the same assay's 10 and 50
    assert {(a.assay, a.lod, a.loq, a.first_day, a.last_day) for a in found.assays} == {
        ("hospital JCV PCR", 200, 500, 3, 3),
        ("ultrasensitive JCV qPCR", 10, 50, 10, 45),
    }
    assert [(m.day, m.value, m.source) for m in found.antibody] == [
        (-200, 3.2, "clinical record"),
        (-100, 1.2, "lab"),
    ]
    # 0.12 × 10^9/L is 120 cells/µL; a CD4 percentage is no count and is not drawn
    assert [(m.day, m.value) for m in found.cd4] == [(-2, 150), (-1, 120), (2, 90)]
    assert len(found.not_drawn) == 1
    assert "11 %" in found.not_drawn[0]
    assert [(m.day, m.value) for m in found.lymphocytes] == [(0, 1.1)]
    assert [(b.kind, b.label, b.start_day, b.stop_day) for b in found.bars] == [
        ("treatment", "plasma exchange", 6, 14),
        ("treatment", "mirtazapine", 7, None),
    ]
    assert [(e.kind, e.day, e.label) for e in found.events] == [
        ("onset", -21, "symptom onset"),
        ("diagnosis", 5, "diagnosis"),
        ("iris", 40, "IRIS onset"),
        ("outcome", 60, "death"),
    ]
    assert not found.is_empty
    data = json.loads(json.dumps(found.as_json()))
    assert data["csf_jcv_pcr"][1]["drawn_as"] == "below_loq"
    assert data["bars"][1]["open_end"] is True
    # every plotted number has its row in the table under the plot
    panels = [row.panel for row in found.rows()]
    assert panels.count("CSF JCV PCR") == 4
    assert panels.count("events") == 4


def test_a_case_without_anything_dated_is_empty_and_says_so(course: Panel) -> None:
    found = service.case_timeline(course.registry, course.s.coordinator, "PML-0002")
    assert found.is_empty
    figure = service.timeline_figure(found)
    assert not figure.axes
    assert any(NOTHING_TO_PLOT in text.get_text() for text in figure.texts)


def test_an_unknown_case_is_refused(course: Panel) -> None:
    with pytest.raises(NotFoundError, match="PML-9999"):
        service.case_timeline(course.registry, course.s.coordinator, "PML-9999")


def test_a_reader_sees_only_their_own_read_before_submitting(course: Panel) -> None:
    p = course
    _read(p, p.s.reader, ImagingJudgement.YES)  # reader 1 submits (one box lesion at day 0)
    _draft(p, p.s.other_reader)  # reader 2 has a draft

    blinded = service.case_timeline(p.registry, p.s.other_reader, CASE)
    assert _readers(blinded) == {"reader2": (ReadStatus.DRAFT, round(SMALL_ML, 5))}
    assert blinded.reads_note is not None
    assert "1 of 2" in blinded.reads_note
    assert "reader1" not in json.dumps(blinded.as_json())

    own = service.case_timeline(p.registry, p.s.reader, CASE)
    assert _readers(own) == {"reader1": (ReadStatus.SUBMITTED, round(BOX_ML, 5))}

    for outsider in (p.s.coordinator, p.panel1):  # not every read is in
        early = service.case_timeline(p.registry, outsider, CASE)
        assert early.volumes == ()
        assert early.reads_note
        assert early.jcv == service.case_timeline(p.registry, p.s.reader, CASE).jcv

    _submit_draft(p, p.s.other_reader)
    for everyone in (p.s.coordinator, p.panel1, p.s.reader, p.s.other_reader):
        late = service.case_timeline(p.registry, everyone, CASE)
        assert _readers(late) == {
            "reader1": (ReadStatus.SUBMITTED, round(BOX_ML, 5)),
            "reader2": (ReadStatus.SUBMITTED, round(SMALL_ML, 5)),
        }
        assert late.reads_note is None


# --- the figure -------------------------------------------------------------------------------


def _ylabels(figure: Figure) -> list[str]:
    return [ax.get_ylabel().split("\n")[0] for ax in figure.axes if ax.get_ylabel()]


def test_the_figure_stacks_one_panel_per_kind_on_one_day_axis(course: Panel) -> None:
    found = service.case_timeline(course.registry, course.s.coordinator, CASE)
    figure = timeline_figure(found)
    labels = _ylabels(figure)
    assert labels == ["lesions (mL)", "CSF JCV", "anti-JCV", "CD4", "lymphocytes"]
    jcv = next(ax for ax in figure.axes if ax.get_ylabel().startswith("CSF JCV"))
    assert jcv.get_yscale() == "log"
    legend = jcv.get_legend()
    assert legend is not None
    assert {t.get_text() for t in legend.get_texts()} == {
        "detected",
        "detected below LOQ",
        "not detected",
    }
    limits = [t.get_text() for t in jcv.texts]
    assert any("LOD 200" in t and "hospital" in t for t in limits)
    assert any("LOQ 50" in t and "ultrasensitive" in t for t in limits)
    shared = {ax.get_xlim() for ax in figure.axes}
    assert len(shared) == 1  # one axis for all panels
    low, high = shared.pop()
    assert low < -200
    assert high > 60


def test_a_case_without_labs_shows_no_lab_panels(course: Panel) -> None:
    found = service.case_timeline(course.registry, course.s.coordinator, "PML-0003")
    assert (found.jcv, found.antibody, found.cd4) == ((), (), ())
    figure = timeline_figure(found)
    assert len(figure.axes) == 1  # the exposure bars only
    (bars,) = figure.axes
    assert [t.get_text() for t in bars.get_yticklabels()] == ["natalizumab"]
    notes = " ".join(t.get_text() for t in bars.texts)
    assert "start unknown" not in notes
    assert "no stop day" in notes  # an open-ended exposure is marked


def test_non_detects_sit_at_the_lod_and_below_loq_between_the_limits(course: Panel) -> None:
    found = service.case_timeline(course.registry, course.s.coordinator, CASE)
    positions, floor = jcv_positions(found.jcv)
    assert positions[0] == 200  # not detected, at the hospital assay's LOD
    assert 10 < positions[1] < 50  # detected below LOQ, between LOD and LOQ
    assert positions[2] == 450
    assert positions[3] == pytest.approx(3162.28)
    assert floor < 10


# --- the command line ------------------------------------------------------------------------


def test_timeline_command_writes_png_and_svg_and_prints_numbers(
    capsys: pytest.CaptureFixture[str], course: Panel, registry_url: str, tmp_path: Path
) -> None:
    _sign_in(course, course.s.coordinator, registry_url)
    png, svg = tmp_path / "t.png", tmp_path / "t.svg"
    code, out, err = run(capsys, "--db", registry_url, "timeline", CASE, "--out", str(png))
    assert code == 0, err
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "CSF JCV PCR" in out
    assert "detected below LOQ" in out
    assert f"wrote {png}" in out
    code, out, err = run(
        capsys, "--db", registry_url, "timeline", CASE, "--out", str(svg), "--json"
    )
    assert code == 0, err
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    data = json.loads(out)
    assert data["registry_id"] == CASE
    assert [p["drawn_as"] for p in data["csf_jcv_pcr"]] == [
        "not_detected",
        "below_loq",
        "quantified",
        "quantified",
    ]
    assert data["written_to"] == str(svg)


def test_timeline_command_refuses_a_bad_out_and_a_bad_case(
    capsys: pytest.CaptureFixture[str], course: Panel, registry_url: str, tmp_path: Path
) -> None:
    _sign_in(course, course.s.coordinator, registry_url)
    pdf = tmp_path / "t.pdf"
    code, out, err = run(capsys, "--db", registry_url, "timeline", CASE, "--out", str(pdf))
    assert code == 1
    assert out == ""
    assert err.startswith("error:")
    assert ".png or .svg" in err
    assert "t.pdf" in err
    assert not pdf.exists()
    assert not list(tmp_path.glob("*t.pdf*"))
    gone = tmp_path / "missing" / "t.png"
    code, _, err = run(capsys, "--db", registry_url, "timeline", CASE, "--out", str(gone))
    assert code == 1
    assert "does not exist" in err
    code, _, err = run(
        capsys, "--db", registry_url, "timeline", "PML-9999", "--out", str(tmp_path / "x.png")
    )
    assert code == 1
    assert "PML-9999" in err
    assert not (tmp_path / "x.png").exists()


def test_timeline_command_blinds_like_the_window(
    capsys: pytest.CaptureFixture[str], course: Panel, registry_url: str
) -> None:
    p = course
    _read(p, p.s.reader, ImagingJudgement.YES)
    _draft(p, p.s.other_reader)
    _sign_in(p, p.s.other_reader, registry_url)
    code, out, err = run(capsys, "--db", registry_url, "--user", "reader2", "timeline", CASE,
                         "--json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert {v["reader"] for v in data["lesion_volumes"]} == {"reader2"}
