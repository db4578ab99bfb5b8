"""The panel's page on a real SQLite registry: blinding, reads side by side, proposing, signing.

One demo-like case (natalizumab PML, CSF JCV detected by an ultrasensitive assay) with a
phantom FLAIR written as DICOM and imported through the real import; two readers and two
panel members (with passwords). Reads are submitted through the data layer
(:func:`workbench.reading_flow.submit`), as every screen submits them; the panel works
through the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from adjudication.consensus import Proposal
from adjudication.criteria import Result
from adjudication.lesions import Hemisphere, Location
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway, Role, TriState
from viewers.image import LabelMode
from workbench.cases import NewCase, NewExposure, NewFeature, create_case, update_case
from workbench.demo import phantom
from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, SequenceClass, Sex
from workbench.importer import ParserSandbox, import_path
from workbench.labs import LabEntry, add_lab_result
from workbench.panel import EngineRecord, propose_decision
from workbench.reading_flow import assign, submit
from workbench.reads import LesionDetails, LesionDraft, save_draft, start_or_resume_draft
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, Decision, Signature
from workbench.services.panel import DecisionState
from workbench.ui.main_window import MainWindow
from workbench.ui.panel_view import DecisionForm, SignatureDialog, engine_html
from workbench.ui.theme import READER_COLOURS, apply_theme
from workbench.users import Actor, add_user, resolve_actor

CASE = "PML-P-0001"
PASSWORDS = {"panel.dubois": "claire-signs", "panel.eriksen": "nils-signs"}
LEFT = Qt.MouseButton.LeftButton
RATIONALE = (
    "Typical subcortical frontal lesion with U-fibre involvement and milky-way satellites; "
    "CSF JCV detected by an ultrasensitive assay. Reader 2's equivocal read and offset mask "
    "reflect the lesion's ill-defined medial edge."
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    box = ParserSandbox()
    yield box
    box.close()


@dataclass
class PanelCase:
    """The registry, its people, the imported series and the lesion drawn on it."""

    registry: Registry
    cache_root: Path
    coordinator: Actor
    readers: tuple[Actor, Actor]
    panel: tuple[Actor, Actor]
    series_id: int
    lesion: np.ndarray
    """The phantom lesion on the series grid (i, j, k), boolean."""


@pytest.fixture
def case(tmp_path: Path, sandbox: ParserSandbox) -> Iterator[PanelCase]:
    """The demo-like case, imported, with readers and panel assigned; no read yet."""
    registry = Registry.open(f"sqlite:///{tmp_path / 'panel.sqlite3'}")
    cache_root = tmp_path / "cache"
    anatomy = phantom.make_anatomy(seed=101)
    spot = phantom.place_lesion(anatomy, "left", "frontal", 13.5, seed=0, satellites=5)
    maps = phantom.render_lesions(anatomy, [spot])
    volume = phantom.synthesize(anatomy, maps, SequenceClass.FLAIR, seed=1)
    spacing_zyx = anatomy.spacing_mm
    write_series(
        volume,
        tmp_path / "dicom",
        spacing_mm=(spacing_zyx[1], spacing_zyx[2], spacing_zyx[0]),
        origin_lps=anatomy.origin_lps,
        study_instance_uid=new_uid(CASE, "study"),
        series_instance_uid=new_uid(CASE, "flair"),
        frame_of_reference_uid=new_uid(CASE, "frame"),
        series_number=1,
        sequence=SequenceClass.FLAIR,
        patient_pseudonym=CASE,
        study_description="MRI brain, day 35",
    )
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        for name, printed in (("rad.ahmed", "Dr Sara Ahmed"), ("rad.berg", "Dr Lars Berg")):
            add_user(session, name, printed, {Role.READER}, by=coordinator)
        for name, printed in (
            ("panel.dubois", "Prof. Claire Dubois"),
            ("panel.eriksen", "Dr Nils Eriksen"),
        ):
            add_user(session, name, printed, {Role.PANEL}, by=coordinator, password=PASSWORDS[name])
        create_case(
            session,
            coordinator,
            NewCase(
                registry_id=CASE,
                site_code="NL-AMS",
                sex=Sex.FEMALE,
                age_band="40-49",
                condition=Condition.MS_NATALIZUMAB,
                condition_detail="relapsing-remitting MS, natalizumab every 4 weeks",
                clinical_summary=(
                    "Subacute right hemiparesis and word-finding difficulty over three weeks."
                ),
                clinical_consistent=TriState.PRESENT,
                exposures=(NewExposure("natalizumab", -1450, -7, 52),),
                clinical_features=(
                    NewFeature("hemiparesis", TriState.PRESENT, -21),
                    NewFeature("aphasia", TriState.PRESENT, -14),
                    NewFeature("seizures", TriState.ABSENT),
                ),
            ),
        )
        add_lab_result(
            session,
            coordinator,
            LabEntry(
                CASE, LabTest.SERUM_JCV_ANTIBODY_INDEX, -180, LabQualitative.POSITIVE, 3.1,
                "index", "STRATIFY JCV DxSelect",
            ),
        )  # fmt: skip
        add_lab_result(
            session,
            coordinator,
            LabEntry(
                CASE, LabTest.CSF_JCV_PCR, 4, LabQualitative.DETECTED, 450, "copies/mL",
                "ultrasensitive CSF JCV qPCR (reference lab)", 10, 50,
            ),
        )  # fmt: skip
    result = import_path(
        registry, coordinator, tmp_path / "dicom", CASE, day=35, cache_root=cache_root,
        sandbox=sandbox,
    )  # fmt: skip
    (series_id,) = result.series_ids
    with registry.write() as session:
        version = session.scalars(select(Case.version).where(Case.registry_id == CASE)).one()
        update_case(session, coordinator, CASE, version, {"status": CaseStatus.READY})
    with registry.write() as session:
        assign(session, coordinator, CASE, ["rad.ahmed", "rad.berg"], Role.READER)
        assign(session, coordinator, CASE, ["panel.dubois", "panel.eriksen"], Role.PANEL)
        people = [
            resolve_actor(session, n)
            for n in ("rad.ahmed", "rad.berg", "panel.dubois", "panel.eriksen")
        ]
    lesion = np.ascontiguousarray(maps.labels.T > 0)
    yield PanelCase(
        registry,
        cache_root,
        coordinator,
        (people[0], people[1]),
        (people[2], people[3]),
        int(series_id),
        lesion,
    )
    registry.close()


def submit_read(
    c: PanelCase,
    reader: Actor,
    labels: np.ndarray,
    judgement: ImagingJudgement,
    confidence: int,
    comment: str,
    details: dict[int, LesionDetails] | None = None,
) -> None:
    """Draw, describe and submit one read through the data layer."""
    with c.registry.write() as session:
        read = start_or_resume_draft(session, reader, CASE)
        read = save_draft(
            session,
            reader,
            read.id,
            read.version,
            lesions=[LesionDraft(c.series_id, labels, details or {})],
            judgement=judgement,
            confidence=confidence,
            comment=comment,
        )
        submit(session, reader, read.id, read.version)


def discordant_reads(c: PanelCase) -> None:
    """Reader 1 outlines the lesion (yes); reader 2 an offset outline and a small second
    lesion (equivocal): the judgement, detection and Dice rules fire."""
    first = c.lesion.astype(np.uint8)
    submit_read(
        c,
        c.readers[0],
        first,
        ImagingJudgement.YES,
        5,
        "Left frontal subcortical lesion, scalloped U-fibre border, punctate satellites.",
        {
            1: LesionDetails(
                Hemisphere.LEFT,
                Location.FRONTAL,
                {"u_fibres": "present", "milky_way": "present", "dwi_pattern": "rim"},
            )
        },
    )
    second = np.zeros_like(first)
    second[np.roll(c.lesion, 9, axis=0)] = 1
    i, j, k = (int(v) for v in np.argwhere(c.lesion).mean(axis=0))
    second[i - 30 : i - 26, j : j + 4, k : k + 1] = 2
    submit_read(
        c,
        c.readers[1],
        second,
        ImagingJudgement.EQUIVOCAL,
        3,
        "Frontal white-matter lesion; could be PML or tumefactive MS. Small second focus.",
        {1: LesionDetails(location=Location.FRONTAL, features={"mass_effect": "absent"})},
    )


def make_window(qtbot: QtBot, c: PanelCase, actor: Actor) -> MainWindow:
    window = MainWindow(c.registry, actor, quiet=True, cache_root=c.cache_root)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def count(c: PanelCase, model: type) -> int:
    with c.registry.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def sign_through_dialog(qtbot: QtBot, window: MainWindow, password: str) -> SignatureDialog:
    """Open the pending decision's signature dialog, type the password, press Sign."""
    page = window.panel_page
    (card,) = [c for c in page.decision_cards if c.decision.state is DecisionState.PENDING]
    assert card.sign_button is not None
    assert card.sign_button.isEnabled(), card.sign_button.toolTip()
    qtbot.mouseClick(card.sign_button, LEFT)
    dialog = page.last_signature_dialog
    assert dialog is not None
    assert dialog.isVisible()
    dialog.password_edit.setText(password)
    assert dialog.sign_button is not None
    qtbot.mouseClick(dialog.sign_button, LEFT)
    return dialog


# --- tests -----------------------------------------------------------------------------------


def test_before_every_read_is_in_the_panel_page_says_why_it_is_empty(
    qtbot: QtBot, case: PanelCase
) -> None:
    window = make_window(qtbot, case, case.panel[0])
    assert not window.panel_action.isEnabled()  # no case open yet
    assert window.open_case(CASE)
    assert window.panel_action.isEnabled()
    assert window.panel_action.shortcut().toString() == "Ctrl+Shift+D"
    assert window.open_panel()
    page = window.panel_page
    assert window.on_panel
    assert "may not see the reads" in page.refusal
    assert page.reader_columns == []
    assert not page.form.isEnabled()
    assert not page.images_button.isEnabled()

    submit_read(case, case.readers[0], case.lesion.astype(np.uint8), ImagingJudgement.YES, 4, "")
    assert window.open_panel()
    assert "may not see the reads of this case" in page.refusal  # the policy's refusal
    assert "its panel once every read is in" in page.refusal
    assert page.reader_columns == []
    assert window.errors == []  # a refusal shown in place, not a failure

    window.back_to_case()
    assert window.central.currentWidget() is window.splitter


def test_after_two_discordant_reads_the_panel_sees_both_and_the_rules_that_fired(
    qtbot: QtBot, case: PanelCase
) -> None:
    discordant_reads(case)
    window = make_window(qtbot, case, case.panel[0])
    assert window.open_panel(CASE)
    page = window.panel_page
    assert page.refusal == ""
    columns = page.reader_columns
    assert [c.reader for c in columns] == ["rad.ahmed", "rad.berg"]
    assert [c.colour for c in columns] == list(READER_COLOURS[:2])
    assert "yes" in columns[0].judgement_label.text()
    assert "equivocal" in columns[1].judgement_label.text()
    assert "5 of 5" in columns[0].judgement_label.text()
    assert columns[0].lesion_table.rowCount() == 1
    assert columns[1].lesion_table.rowCount() == 2
    assert "Dr Sara Ahmed (rad.ahmed)" in columns[0].header_label.text()
    assert "on FLAIR · day 35" in columns[0].total_label.text()  # the series of every lesion
    assert columns[0].cell(0, "Side") == "left"
    assert columns[0].cell(0, "Location") == "frontal"
    assert "U-fibres" in columns[0].cell(0, "PML features")
    assert "Milky-way" in columns[0].cell(0, "PML features")
    assert float(columns[0].cell(0, "mL")) > 1.0

    discordance = page.discordance_label.text()
    assert "Discordant" in discordance
    for rule in ("judgement", "detection", "dice"):
        assert f"<b>{rule}</b>" in discordance
    assert "rad.ahmed yes, rad.berg equivocal" in discordance

    labs = page.labs_table
    assert labs.rowCount() == 2
    cells = [[labs.item(r, c) for c in range(labs.columnCount())] for r in range(2)]
    text = [[item.text() if item is not None else "" for item in row] for row in cells]
    assert [row[0] for row in text] == ["anti-JCV antibody index", "CSF JCV PCR"]  # by day
    assert text[1][2:6] == ["detected", "450", "copies/mL", "10"]  # with its LOD
    assert text[1][7].startswith("ultrasensitive")
    assert "hemiparesis" in page.clinical_label.text()
    assert page.engine_summary.text() == "Engine now: not classifiable"
    engine = page.engine_label.text()
    data = page.data
    assert data is not None
    assert data.engine is not None
    assert data.engine.discordant
    assert "not classifiable" in engine
    assert "MRI/CT findings consistent with PML would make this definite PML" in engine
    assert "imaging: reads equivocal or disagreeing (yes, equivocal)" in engine
    assert page.form.isEnabled()
    assert page.no_decision_label.isVisibleTo(page)


def test_a_proposal_without_a_rationale_is_refused_in_the_form_and_nothing_is_written(
    qtbot: QtBot, case: PanelCase
) -> None:
    discordant_reads(case)
    window = make_window(qtbot, case, case.panel[0])
    assert window.open_panel(CASE)
    page = window.panel_page
    form = page.form
    assert "Rationale required: the reads were discordant" in form.hint_text
    form.set_values(Certainty.DEFINITE, Pathway.CLINICAL)
    assert form.pathway_box.isEnabled()
    assert not form.alternative_edit.isEnabled()  # only with "not PML"
    assert form.hint_text == (
        "Rationale required: the decision (definite PML) differs from the criteria engine "
        "(not classifiable) and the reads were discordant (0 of at least 10 characters written)."
    )

    qtbot.mouseClick(form.propose_button, LEFT)
    assert "rationale: required because" in form.error_text
    assert form.rationale_edit.property("invalid") == "true"
    assert any("rationale: required" in e for e in window.errors)
    assert count(case, Decision) == 0
    assert form.certainty() is Certainty.DEFINITE  # nothing lost
    assert form.pathway() is Pathway.CLINICAL

    form.rationale_edit.setPlainText(RATIONALE)
    reloads: list[bool] = []
    original = page.reload

    def counted() -> bool:
        reloads.append(True)
        return original()

    page.reload = counted  # type: ignore[method-assign]
    qtbot.mouseClick(form.propose_button, LEFT)
    assert form.error_text == ""
    assert count(case, Decision) == 1
    assert len(reloads) == 1  # the page reloads once; the window does not reload it again
    (card,) = page.decision_cards
    assert card.decision.state is DecisionState.PENDING
    assert card.decision.certainty is Certainty.DEFINITE
    assert "pending signatures" in card.text_label.text()
    assert "Signatures (0 of 2): none yet" in card.text_label.text()
    assert form.certainty() is None  # the form is empty again
    assert "replaces decision" in form.propose_button.text()
    assert page.final_label.text() == (
        f"Decision {card.decision.id}: definite PML (clinical pathway) — collecting signatures, "
        "0 of 2"
    )

    # Not PML: no pathway, and the alternative diagnosis is offered.
    form.set_values(Certainty.NOT_PML)
    assert not form.pathway_box.isEnabled()
    assert form.alternative_edit.isEnabled()


def test_a_conflicting_proposal_is_shown_in_the_form_and_keeps_what_was_typed(
    qtbot: QtBot, case: PanelCase
) -> None:
    discordant_reads(case)
    window = make_window(qtbot, case, case.panel[0])
    assert window.open_panel(CASE)
    form = window.panel_page.form
    form.set_values(Certainty.PROBABLE, Pathway.CLINICAL, rationale=RATIONALE)
    with case.registry.write() as session:  # the other member proposes meanwhile
        propose_decision(
            session,
            case.panel[1],
            CASE,
            Proposal(Certainty.POSSIBLE, Pathway.CLINICAL, "Reads disagree; wait for repeat MRI."),
        )
    assert not window.panel_page.propose()
    assert "another panel member proposed" in form.error_text
    assert any("another panel member proposed" in e for e in window.errors)
    assert form.rationale_edit.toPlainText() == RATIONALE
    assert form.certainty() is Certainty.PROBABLE
    assert count(case, Decision) == 1

    assert window.panel_page.reload()  # now the page shows their proposal; the form keeps ours
    assert len(window.panel_page.decision_cards) == 1
    assert form.rationale_edit.toPlainText() == RATIONALE
    assert window.panel_page.propose()  # replaces the pending one this page now shows
    states = [c.decision.state for c in window.panel_page.decision_cards]
    assert states == [DecisionState.REPLACED, DecisionState.PENDING]
    assert window.panel_page.decision_cards[0].greyed


def test_the_panels_own_imaging_judgement_is_proposed_and_shown(
    qtbot: QtBot, case: PanelCase
) -> None:
    """The form records the panel's imaging judgement with the proposal (the criteria then
    use it instead of the reads'); its card says it; "not recorded" stays None."""
    discordant_reads(case)
    window = make_window(qtbot, case, case.panel[0])
    assert window.open_panel(CASE)
    form = window.panel_page.form
    assert form.imaging() is None
    form.set_values(
        Certainty.NOT_PML, rationale=RATIONALE, alternative="CNS lymphoma",
        imaging=ImagingJudgement.NO,
    )  # fmt: skip
    assert form.proposal().imaging is ImagingJudgement.NO
    assert window.panel_page.propose()
    with case.registry.read() as session:
        (decision,) = session.scalars(select(Decision)).all()
        assert decision.panel_imaging is ImagingJudgement.NO
    (card,) = window.panel_page.decision_cards
    assert "imaging judgement: not consistent with PML" in card.text_label.text()
    assert form.imaging() is None  # the form is emptied after the proposal


def test_two_members_sign_through_the_dialog_and_the_decision_is_final(
    qtbot: QtBot, case: PanelCase
) -> None:
    discordant_reads(case)
    first = make_window(qtbot, case, case.panel[0])
    assert first.open_panel(CASE)
    first.panel_page.form.set_values(Certainty.DEFINITE, Pathway.CLINICAL, rationale=RATIONALE)
    assert first.panel_page.propose()

    dialog = sign_through_dialog(qtbot, first, "not-my-password")
    assert dialog.isVisible()
    assert "does not match" in dialog.error_text
    assert dialog.password_edit.text() == ""  # never kept
    assert dialog.password_edit.echoMode() is QLineEdit.EchoMode.Password
    assert dialog.meaning_edit.text() == "approved as the registry's final decision"
    assert "Prof. Claire Dubois" in dialog.signer_label.text()
    assert "definite PML" in dialog.summary_label.text()
    assert "ultrasensitive assay" in dialog.summary_label.text()
    assert count(case, Signature) == 0
    with case.registry.read() as session:
        refused = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "adjudication.signature_refused")
        ).all()
    assert list(refused) == ["panel.dubois"]  # the attempt is on record

    dialog.password_edit.setText(PASSWORDS["panel.dubois"])
    assert dialog.sign_button is not None
    qtbot.mouseClick(dialog.sign_button, LEFT)
    assert not dialog.isVisible()
    assert count(case, Signature) == 1
    (card,) = first.panel_page.decision_cards
    assert "Signatures (1 of 2)" in card.text_label.text()
    assert card.sign_button is not None
    assert not card.sign_button.isEnabled()
    assert "signed this decision" in card.sign_button.toolTip()

    second = make_window(qtbot, case, case.panel[1])
    assert second.open_panel(CASE)
    dialog = sign_through_dialog(qtbot, second, PASSWORDS["panel.eriksen"])
    assert not dialog.isVisible()
    page = second.panel_page
    (card,) = page.decision_cards
    assert card.decision.state is DecisionState.FINAL
    text = card.text_label.text()
    assert text.count("✓ ") == 2
    assert "Prof. Claire Dubois — " in text
    assert "Dr Nils Eriksen — " in text
    assert "UTC — approved as the registry&#x27;s final decision" in text
    final = page.final_label.text()
    assert final.startswith("Final: definite PML (clinical pathway), signed by")
    assert final.endswith("Prof. Claire Dubois, Dr Nils Eriksen (2 of 2)")
    assert page.status_badge.text() == "final"
    assert page.form.reason_edit.isVisibleTo(page)  # a change now needs a reason
    assert page.form.propose_button.text() == "Propose a change"
    with case.registry.read() as session:
        status = session.scalars(select(Case.status).where(Case.registry_id == CASE)).one()
    assert status is CaseStatus.FINAL

    # A change without a reason is refused in place; the final decision stays.
    page.form.set_values(Certainty.PROBABLE, Pathway.CLINICAL, rationale=RATIONALE)
    assert not page.propose()
    assert ": reason: changing a final decision needs a reason" in page.form.error_text
    assert page.form.reason_edit.property("invalid") == "true"
    assert count(case, Decision) == 1


def test_a_coordinator_sees_the_panel_page_read_only(qtbot: QtBot, case: PanelCase) -> None:
    discordant_reads(case)
    with case.registry.write() as session:
        decision = propose_decision(
            session,
            case.panel[0],
            CASE,
            Proposal(Certainty.DEFINITE, Pathway.CLINICAL, RATIONALE),
        )
        decision_id = decision.id
    window = make_window(qtbot, case, case.coordinator)
    assert window.open_panel(CASE)
    page = window.panel_page
    assert [c.reader for c in page.reader_columns] == ["rad.ahmed", "rad.berg"]
    why = (
        "user 'coordinator' may not propose or sign the panel's decision on this case: that "
        "needs the panel role"
    )
    assert_greyed_with(page.form, why)
    (card,) = page.decision_cards
    assert card.decision.id == decision_id
    assert card.sign_button is not None
    assert not card.sign_button.isEnabled()
    assert card.sign_button.toolTip() == why
    assert not page.propose()
    assert count(case, Decision) == 1


def assert_greyed_with(form: DecisionForm, why: str) -> None:
    """Every control of the decision form is greyed out, with the policy's refusal as its
    tooltip, and the note under the form says it too."""
    assert not form.isEnabled()
    assert form.toolTip() == why
    for name, widget in (*form.fields.items(), ("propose", form.propose_button)):
        assert not widget.isEnabled(), name
        assert widget.toolTip() == why, name
    assert form.note_label.text() == f"Read-only: {why.rstrip('.')}."


def test_a_panel_member_not_on_the_case_sees_why_in_place_of_the_form(
    qtbot: QtBot, case: PanelCase
) -> None:
    discordant_reads(case)
    with case.registry.write() as session:
        add_user(session, "panel.other", "Dr Other Panel", {Role.PANEL}, by=case.coordinator)
        other = resolve_actor(session, "panel.other")
    window = make_window(qtbot, case, other)
    assert window.open_panel(CASE)
    page = window.panel_page
    why = page.refusal
    assert why.startswith("User 'panel.other' may not see the reads of this case")
    assert page.reader_columns == []
    assert page.decision_cards == []
    greyed = why[:1].lower() + why[1:]  # the service's refusal, as the form's tooltip
    assert_greyed_with(page.form, greyed)
    assert not page.propose()
    assert window.errors == []


def test_a_coordinator_on_the_panel_of_other_cases_may_not_decide_this_one(
    qtbot: QtBot, case: PanelCase
) -> None:
    """Sees the page (a coordinator), but the form is greyed: not on this case's panel."""
    discordant_reads(case)
    with case.registry.write() as session:
        add_user(
            session,
            "coord.panel",
            "Dr Coordinating Panel",
            {Role.PANEL, Role.COORDINATOR},
            by=case.coordinator,
            password="coord-signs",
        )
        both = resolve_actor(session, "coord.panel")
    window = make_window(qtbot, case, both)
    assert window.open_panel(CASE)
    page = window.panel_page
    assert page.refusal == ""
    assert len(page.reader_columns) == 2
    assert_greyed_with(
        page.form,
        "user 'coord.panel' may not propose or sign the panel's decision on this case: they "
        "are not on its panel (a coordinator assigns the panel)",
    )
    assert not page.propose()
    assert count(case, Decision) == 0


def test_the_form_outlines_the_field_the_refusal_names(qtbot: QtBot, case: PanelCase) -> None:
    """The outline follows :attr:`ValidationError.field`, not the wording of the message."""
    form = DecisionForm()
    qtbot.addWidget(form)
    form.show_error("rationale: the message names one field, the refusal another", "reason")
    assert form.reason_edit.property("invalid") == "true"
    assert form.rationale_edit.property("invalid") != "true"
    assert form.error_text.startswith("Rationale: the message")
    form.show_error("pathway: no field carried, so nothing outlined")
    assert all(w.property("invalid") != "true" for w in form.fields.values())
    form.show_error("a refusal about a field this form has not", "age band")
    assert all(w.property("invalid") != "true" for w in form.fields.values())
    form.clear_error()
    assert form.error_text == ""

    # Through the page: the data layer's refusal names the pathway.
    discordant_reads(case)
    window = make_window(qtbot, case, case.panel[0])
    assert window.open_panel(CASE)
    page = window.panel_page
    page.form.set_values(Certainty.DEFINITE, None, rationale=RATIONALE)
    assert not page.propose()
    assert ": pathway: a definite PML decision names its pathway" in page.form.error_text
    assert page.form.pathway_box.property("invalid") == "true"
    assert page.form.rationale_edit.property("invalid") != "true"
    page.form.set_values(None)
    assert not page.propose()
    assert page.form.error_text == "Certainty: choose the panel's certainty"
    assert page.form.certainty_box.property("invalid") == "true"
    assert count(case, Decision) == 0


def test_show_reads_on_images_outlines_each_reader_in_their_colour(
    qtbot: QtBot, case: PanelCase
) -> None:
    discordant_reads(case)
    window = make_window(qtbot, case, case.panel[0])
    assert window.open_panel(CASE)
    page = window.panel_page
    assert page.images_button.isEnabled()
    qtbot.mouseClick(page.images_button, LEFT)
    assert window.reviewing
    assert not window.panel_action.isEnabled()  # the panel page is left for the images
    overlays = window.review.label_overlays(str(case.series_id))
    assert len(overlays) == 2
    by_reader = {layer.name.split(" ")[0]: layer for layer in overlays}
    assert set(by_reader) == {"rad.ahmed", "rad.berg"}
    for reader, colour in zip(("rad.ahmed", "rad.berg"), READER_COLOURS, strict=False):
        layer = by_reader[reader]
        assert layer.mode is LabelMode.OUTLINE
        rgb = tuple(int(colour[n : n + 2], 16) for n in (1, 3, 5))
        assert {tuple(c[:3]) for c in layer.colors.values()} == {rgb}
    assert np.array_equal(by_reader["rad.ahmed"].array != 0, case.lesion)
    assert set(np.unique(by_reader["rad.berg"].array)) == {0, 1, 2}
    views = window.review.views_showing(str(case.series_id))
    assert views
    assert all(len(view.labels) == 2 for view in views)
    legend = page.legend
    assert legend is not None
    assert legend.isVisibleTo(window)
    assert [(e[0], e[1]) for e in legend.entries] == [
        ("Dr Sara Ahmed (rad.ahmed)", READER_COLOURS[0]),
        ("Dr Lars Berg (rad.berg)", READER_COLOURS[1]),
    ]

    window.back_to_case()  # the workspace's "Back to case" returns to the panel page
    assert window.on_panel
    assert window.review.label_overlays(str(case.series_id)) == ()
    assert page.legend is None
    window.back_to_case()
    assert window.central.currentWidget() is window.splitter


def test_panel_page_screenshot(qtbot: QtBot, case: PanelCase, tmp_path: Path) -> None:
    """The page at 1280×800 in the workbench's theme, one of two signatures in."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app)
    discordant_reads(case)
    window = make_window(qtbot, case, case.panel[1])
    with case.registry.write() as session:
        propose_decision(
            session,
            case.panel[0],
            CASE,
            Proposal(Certainty.DEFINITE, Pathway.CLINICAL, RATIONALE),
        )
    assert window.open_panel(CASE)
    dialog = sign_through_dialog(qtbot, window, PASSWORDS["panel.eriksen"])
    assert not dialog.isVisible()
    qtbot.wait(100)  # the scroll areas take a few rounds of layout requests
    assert clipped(window.panel_page) == []
    shot = tmp_path / "panel.png"
    assert window.grab().save(str(shot))
    assert shot.stat().st_size > 20_000
    window.resize(1024, 700)  # a laptop: the columns scroll, no text is squeezed
    qtbot.wait(100)
    assert clipped(window.panel_page) == []


def clipped(page: QWidget) -> list[str]:
    """The texts of the page's visible wrapped labels that are shorter than their text."""
    out = []
    for label in page.findChildren(QLabel):
        shown = label.isVisibleTo(page) and label.wordWrap() and label.text()
        if shown and label.height() < label.heightForWidth(label.width()):
            out.append(label.text()[:60])
    return out


def test_rows_not_yet_checked_against_the_paper_are_flagged() -> None:
    """The histopathologic probable row (H2) fires: the page says it is unverified."""
    result = Result(
        certainty=Certainty.PROBABLE,
        pathway=Pathway.HISTOPATHOLOGIC,
        rows=("AAN2013-H2",),
        explanation="Probable PML (AAN2013-H2).",
        would_change=("JCV shown in the tissue would make this definite PML (AAN2013-H1)",),
        unverified=("AAN2013-H2",),
        warnings=("probable on the histopathologic pathway is provisional",),
        ruleset="AAN2013/1",
    )
    text = engine_html(EngineRecord(result, ("histopathology: triad present",), False, None))
    assert "⚠ row H2 not yet checked against the paper" in text
    assert "<b>AAN2013-H2</b> ⚠" in text
    assert "JCV shown in the tissue would make this definite PML" in text
    assert "provisional" in text
    assert "histopathology: triad present" in text


def test_the_panel_action_sits_in_the_case_menu_and_the_toolbar(
    qtbot: QtBot, case: PanelCase
) -> None:
    window = make_window(qtbot, case, case.panel[0])
    menu_bar = window.menuBar()
    assert menu_bar is not None
    (case_menu,) = [a.menu() for a in menu_bar.actions() if a.text() == "&Case"]
    assert case_menu is not None
    assert window.panel_action in case_menu.actions()
    assert window.panel_action in window.toolbar.actions()
    assert not window.open_panel()  # no case open: said so
    assert window.errors == ["Select a case first, then open its panel page."]
    assert window.open_case(CASE)
    window.panel_action.trigger()
    assert window.on_panel
    assert window.panel_page.registry_id == CASE
