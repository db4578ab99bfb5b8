"""Submitting and correcting a read from the window, on a real SQLite registry.

Readers ``rad1`` and ``rad2`` are assigned to one case with a phantom FLAIR. They draw through
the label editor, submit through :class:`SubmitReadDialog` (whose OK saves the draft and
submits it in one transaction), and correct a submitted read through
:class:`CorrectReadDialog`. The registry is checked after every step.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from adjudication.discordance import Discordance, DiscordanceRules, RuleFinding
from adjudication.vocabulary import ImagingJudgement, ReadStatus
from tests.ui.annotation import (
    REVIEW_CASE,
    ReviewSetup,
    annotate_case,
    centre,
    paint_cube,
    review_setup,
    review_window,
    submit_directly,
)
from workbench.domain import CaseStatus
from workbench.reads import list_lesions
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, Read, User
from workbench.ui.app import application
from workbench.ui.dialogs import FormDialog
from workbench.ui.main_window import MainWindow
from workbench.ui.read_form import (
    CorrectReadDialog,
    ReadChoices,
    SubmitReadDialog,
    SubmitSummary,
    outcome_text,
)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[ReviewSetup]:
    """The case, with readers rad1 and rad2 assigned."""
    made = review_setup(tmp_path)
    yield made
    made.registry.close()


def reads_of(registry: Registry, username: str) -> list[tuple[int, ReadStatus, str | None]]:
    """``(revision, status, judgement)`` of every read of ``username``, by revision."""
    with registry.read() as session:
        rows = session.scalars(
            select(Read).join(User, User.id == Read.reader_id).where(User.username == username)
        )
        return sorted(
            (r.revision, r.status, r.imaging_judgement.value if r.imaging_judgement else None)
            for r in rows
        )


def case_status(registry: Registry) -> CaseStatus:
    with registry.read() as session:
        return session.scalars(select(Case.status).where(Case.registry_id == REVIEW_CASE)).one()


def click_ok(qtbot: QtBot, dialog: FormDialog) -> None:
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok is not None
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    QApplication.processEvents()


def open_submit(window: MainWindow) -> SubmitReadDialog:
    window.annotator.submit_action.trigger()
    dialog = window.annotator.last_dialog
    assert isinstance(dialog, SubmitReadDialog), window.annotator.last_error
    assert dialog.isVisible()
    return dialog


def draw_and_submit(
    qtbot: QtBot, window: MainWindow, judgement: ImagingJudgement, lo: tuple[int, int, int]
) -> str:
    """Annotate the case, paint a 6³ cube at ``lo``, submit with ``judgement``; the outcome."""
    annotate_case(window)
    paint_cube(window, lo, 6)
    dialog = open_submit(window)
    dialog.set_judgement(judgement)
    click_ok(qtbot, dialog)
    assert not dialog.isVisible(), dialog.error_text
    assert dialog.outcome is not None
    return dialog.outcome


# --- submitting --------------------------------------------------------------------------------


def test_submit_needs_a_judgement_then_the_read_is_submitted_and_read_only(
    qtbot: QtBot, setup: ReviewSetup
) -> None:
    window = review_window(qtbot, setup, setup.users["rad1"])
    assert window.annotator.submit_action in window.review_menu.actions()
    assert window.annotator.correct_action in window.review_menu.actions()
    assert not window.annotator.submit_action.isEnabled()  # no draft open yet
    annotate_case(window)
    annotator = window.annotator
    assert annotator.panel.submit_button.isVisible()
    assert not annotator.panel.correct_button.isVisible()
    paint_cube(window, centre(setup), 6)
    editor = annotator.editor
    assert editor is not None
    volume_ml = 216 * editor.voxel_volume_mm3 / 1000.0

    dialog = open_submit(window)
    summary = dialog.summary_label.text()
    assert "1 lesion" in summary
    assert f"{volume_ml:.3f} mL" in summary
    assert "FLAIR · day 0 (AX FLAIR)".replace(" ", "\u00a0") in summary
    assert "cannot be changed" in dialog.warning_label.text()
    assert dialog.judgement() is None  # no default
    assert not dialog.correction_label.isVisibleTo(dialog)

    click_ok(qtbot, dialog)  # no judgement
    assert dialog.isVisible()
    assert dialog.error_text.startswith("judgement:")
    assert dialog.judgement_box.property("invalid") == "true"
    assert reads_of(setup.registry, "rad1") == [(1, ReadStatus.DRAFT, None)]

    dialog.set_judgement(ImagingJudgement.YES)
    dialog.set_confidence(4)
    dialog.comment_edit.setPlainText("Juxtacortical U-fibre lesion, no enhancement.")
    click_ok(qtbot, dialog)
    assert not dialog.isVisible(), dialog.error_text
    assert reads_of(setup.registry, "rad1") == [(1, ReadStatus.SUBMITTED, "yes")]
    with setup.registry.read() as session:
        read = session.scalars(select(Read)).one()
        assert read.confidence == 4
        assert read.comment == "Juxtacortical U-fibre lesion, no enhancement."
        assert read.submitted_at is not None
        submitted_at = read.submitted_at
        (lesion,) = list_lesions(session, setup.users["rad1"], read.id)
        assert lesion.volume_ml == pytest.approx(volume_ml)

    # Read-only now: no tools, nothing saved, a clear status, correct instead of submit.
    assert annotator.read_only
    assert annotator.active
    assert annotator.toolbar is None
    assert not annotator.submit_action.isEnabled()
    assert annotator.correct_action.isEnabled()
    assert not annotator.panel.submit_button.isVisible()
    assert annotator.panel.correct_button.isVisible()
    assert not annotator.panel.details_form.isEnabled()
    annotator.panel.table.selectRow(0)  # a lesion's details are shown, not editable
    assert annotator.panel.details_form.label == 1
    assert not annotator.panel.details_form.isEnabled()
    assert not annotator.panel.carry_button.isEnabled()
    status = annotator.panel.status_label.text()
    assert status.startswith(f"Submitted {submitted_at:%Y-%m-%d %H:%M} UTC")
    assert "waiting for 1 more read" in status
    bar = window.statusBar()
    assert bar is not None
    assert "waiting for 1 more read" in bar.currentMessage()
    assert annotator.panel.table.rowCount() == 1  # the lesions are still listed
    assert not annotator.save()
    assert case_status(setup.registry) is CaseStatus.IN_READING

    # Off and on again: the submitted read comes back read-only.
    assert not annotator.set_active(False)
    assert annotator.set_active(True)
    assert annotator.read_only
    assert annotator.toolbar is None
    assert annotator.panel.status_label.text().startswith("Submitted")
    assert annotator.panel.table.rowCount() == 1


def test_the_second_readers_submit_makes_the_case_discordant(
    qtbot: QtBot, setup: ReviewSetup, tmp_path: Path
) -> None:
    lo = centre(setup)
    first = review_window(qtbot, setup, setup.users["rad1"])
    assert "waiting for 1 more read" in draw_and_submit(qtbot, first, ImagingJudgement.YES, lo)

    second = review_window(qtbot, setup, setup.users["rad2"])
    shifted = (lo[0] + 4, lo[1], lo[2])  # overlaps a third of the first cube: Dice 1/3
    outcome = draw_and_submit(qtbot, second, ImagingJudgement.NO, shifted)
    assert outcome == "All reads are in: discordant (judgement, dice) — the case goes to the panel"
    assert outcome in second.annotator.panel.status_label.text()
    assert second.grab().save(str(tmp_path / "submitted.png"))  # the read-only panel
    assert case_status(setup.registry) is CaseStatus.DISCORDANT
    # The window reloaded the case: its page says so too.
    page = second.case_page
    assert page.status_badge.text() == "discordant"
    assert "judgement, dice" in page.discordance_label.text()


def test_draft_choices_are_kept_and_restored_into_the_dialog(
    qtbot: QtBot, setup: ReviewSetup
) -> None:
    window = review_window(qtbot, setup, setup.users["rad1"])
    annotate_case(window)
    paint_cube(window, centre(setup), 4)
    dialog = open_submit(window)
    dialog.set_judgement(ImagingJudgement.EQUIVOCAL)
    dialog.set_confidence(2)
    dialog.comment_edit.setPlainText("Could be HIV encephalopathy.")
    dialog.reject()  # kept, and saved at once
    assert not window.annotator.dirty
    assert reads_of(setup.registry, "rad1") == [(1, ReadStatus.DRAFT, "equivocal")]
    again = open_submit(window)
    assert again.judgement() is ImagingJudgement.EQUIVOCAL
    assert again.confidence() == 2
    assert again.comment() == "Could be HIV encephalopathy."
    again.reject()

    # Drawing more (autosave) does not wipe them, and a new window restores them.
    paint_cube(window, (centre(setup)[0] + 10, *centre(setup)[1:]), 2)
    assert window.annotator.save()
    window.close()
    later = review_window(qtbot, setup, setup.users["rad1"])
    annotate_case(later)
    restored = open_submit(later)
    assert restored.judgement() is ImagingJudgement.EQUIVOCAL
    assert restored.confidence() == 2
    assert restored.comment() == "Could be HIV encephalopathy."
    assert "<b>1 lesion</b>" in restored.summary_label.text()  # the same label, grown


def test_a_conflict_is_shown_in_the_dialog_and_nothing_is_lost(
    qtbot: QtBot, setup: ReviewSetup
) -> None:
    window = review_window(qtbot, setup, setup.users["rad1"])
    annotate_case(window)
    paint_cube(window, centre(setup), 5)
    editor = window.annotator.editor
    assert editor is not None
    before = editor.array.copy()
    with setup.registry.write() as session:  # another window saves the same draft meanwhile
        session.scalars(select(Read)).one().comment = "saved elsewhere"
    dialog = open_submit(window)
    dialog.set_judgement(ImagingJudgement.NO)
    click_ok(qtbot, dialog)
    assert dialog.isVisible()
    assert "saved elsewhere since you opened it" in dialog.error_text
    assert dialog.judgement() is ImagingJudgement.NO  # what the reader entered stays
    assert any("saved elsewhere" in e for e in window.errors)
    assert reads_of(setup.registry, "rad1") == [(1, ReadStatus.DRAFT, None)]
    assert (editor.array == before).all()
    assert not window.annotator.read_only
    assert window.annotator.conflict is not None
    with setup.registry.read() as session:
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "read.submitted")
        ).first()


# --- correcting --------------------------------------------------------------------------------


def test_correction_through_the_window_needs_a_reason(qtbot: QtBot, setup: ReviewSetup) -> None:
    submit_directly(setup, "rad2", ImagingJudgement.NO, centre(setup))
    window = review_window(qtbot, setup, setup.users["rad1"])
    draw_and_submit(qtbot, window, ImagingJudgement.YES, centre(setup))
    assert case_status(setup.registry) is CaseStatus.DISCORDANT
    annotator = window.annotator

    annotator.panel.correct_button.click()
    dialog = annotator.last_dialog
    assert isinstance(dialog, CorrectReadDialog)
    assert dialog.isVisible()
    dialog.reason_edit.setPlainText("typo")
    click_ok(qtbot, dialog)
    assert dialog.isVisible()
    assert dialog.error_text.startswith("reason:")
    assert reads_of(setup.registry, "rad1") == [(1, ReadStatus.SUBMITTED, "yes")]

    reason = "Misread the DWI: the lesion is equivocal."
    dialog.reason_edit.setPlainText(reason)
    click_ok(qtbot, dialog)
    assert not dialog.isVisible(), dialog.error_text
    assert reads_of(setup.registry, "rad1") == [
        (1, ReadStatus.SUBMITTED, "yes"),
        (2, ReadStatus.DRAFT, "yes"),  # a copy of the submitted read
    ]
    # Annotation resumed on the correction draft, tools and all.
    assert annotator.active
    assert not annotator.read_only
    assert annotator.toolbar is not None
    assert annotator.corrects_revision == 1
    assert annotator.panel.table.rowCount() == 1
    assert "correction of revision 1" in annotator.panel.title_label.text()
    assert annotator.panel.submit_button.text() == "Submit correction…"

    dialog = open_submit(window)
    assert dialog.correction_label.text() == f"Correction of revision 1: {reason}"
    assert dialog.judgement() is ImagingJudgement.YES  # restored from the submitted read
    dialog.set_judgement(ImagingJudgement.NO)
    click_ok(qtbot, dialog)
    assert not dialog.isVisible(), dialog.error_text
    assert reads_of(setup.registry, "rad1") == [
        (1, ReadStatus.SUPERSEDED, "yes"),
        (2, ReadStatus.SUBMITTED, "no"),
    ]
    assert dialog.outcome is not None
    assert dialog.outcome.startswith("All reads are in:")
    assert case_status(setup.registry) is CaseStatus.IN_ADJUDICATION  # both say no now
    assert annotator.read_only


def test_a_correction_refused_by_the_registry_is_shown_in_the_dialog(
    qtbot: QtBot, setup: ReviewSetup
) -> None:
    window = review_window(qtbot, setup, setup.users["rad1"])
    draw_and_submit(qtbot, window, ImagingJudgement.YES, centre(setup))
    dialog = window.annotator.open_correction_dialog()
    assert dialog is not None
    with setup.registry.write() as session:  # the panel decided meanwhile
        case = session.scalars(select(Case)).one()
        case.status = CaseStatus.FINAL
        session.flush()
        audit.record(  # the registry refuses a changed case without its audit event
            session,
            actor=setup.coordinator.username,
            role="coordinator",
            action="case.status",
            entity_type="case",
            entity_id=case.registry_id,
            after={"status": CaseStatus.FINAL.value},
        )
    dialog.reason_edit.setPlainText("Missed a second lesion in the pons.")
    click_ok(qtbot, dialog)
    assert dialog.isVisible()
    assert "final panel decision" in dialog.error_text
    assert any("final panel decision" in e for e in window.errors)
    assert window.annotator.read_only
    assert reads_of(setup.registry, "rad1") == [(1, ReadStatus.SUBMITTED, "yes")]


# --- plain parts -------------------------------------------------------------------------------


def test_outcome_text() -> None:
    rules = DiscordanceRules()
    finding = RuleFinding("judgement", ("a", "b"), "differ", {})
    assert outcome_text(None, 1) == "Read submitted; waiting for 1 more read"
    assert (
        outcome_text(None, 2, correction=True) == "Correction submitted; waiting for 2 more reads"
    )
    concordant = Discordance((), rules, True)
    assert outcome_text(concordant, 0).startswith("All reads are in: concordant")
    discordant = Discordance((finding,), rules, True)
    assert outcome_text(discordant, 0) == (
        "All reads are in: discordant (judgement) — the case goes to the panel"
    )


def test_read_choices_are_checked() -> None:
    with pytest.raises(Exception, match="judgement"):
        ReadChoices("perhaps")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="confidence"):
        ReadChoices(ImagingJudgement.YES, 9)
    assert ReadChoices("yes").judgement is ImagingJudgement.YES  # type: ignore[arg-type]


def test_submit_dialog_screenshot(qtbot: QtBot, tmp_path: Path) -> None:
    """The dialog of a correction with everything filled in, themed: ``submit.png``."""
    application()  # the themed application the window runs in
    summary = SubmitSummary(
        REVIEW_CASE, 2, 3, 4.125, ("FLAIR · day 0 (AX FLAIR)",), 1, "Missed a lesion in the pons."
    )
    dialog = SubmitReadDialog(
        summary,
        lambda _choices: "",
        judgement=ImagingJudgement.YES,
        confidence=4,
        comment="Two juxtacortical lesions, one infratentorial.",
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.show_error("judgement: an example of a refusal shown in place")
    QApplication.processEvents()
    png = tmp_path / "submit.png"
    assert dialog.grab().save(str(png))
    image = QImage(str(png))
    assert image.width() >= 520
    assert image.height() >= 400


def test_annotate_stays_off_for_a_user_without_the_reader_role(
    qtbot: QtBot, setup: ReviewSetup
) -> None:
    window = review_window(qtbot, setup, setup.coordinator)
    assert window.open_review(REVIEW_CASE)
    action = window.review.annotate_action
    assert not action.isEnabled()  # opening the workspace must not switch it back on
    assert "needs the reader role" in action.toolTip()  # the policy's reason
    reader = review_window(qtbot, setup, setup.users["rad1"])
    assert reader.open_review(REVIEW_CASE)
    assert reader.review.annotate_action.isEnabled()
