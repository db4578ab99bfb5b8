"""The whole review of one case through the window, on a real SQLite registry.

Two readers draw and submit discordant reads through the submit dialog; the panel's page is
refused until both are in; a panel member proposes through the form (refused without a
rationale, accepted with one); both members sign through the signature dialog; the registry
then holds the final decision with the engine it was made against, the case's History tab
shows it, ``audit verify`` passes, and fails once an audit row is edited out of band.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select, text

from adjudication.criteria import RULESET_VERSION
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway
from tests.tamper import out_of_band
from tests.ui.annotation import (
    PASSWORDS,
    REVIEW_CASE,
    ReviewSetup,
    centre,
    review_setup,
    review_window,
)
from tests.ui.test_panel_view import sign_through_dialog
from tests.ui.test_read_form import draw_and_submit
from workbench.cli import main
from workbench.domain import CaseStatus
from workbench.registry.models import AuditEvent, Case, Decision, Signature
from workbench.services.panel import DecisionState

RATIONALE = (
    "Reader 2 outlined the lesion's medial extension as a separate focus and called it "
    "equivocal; on review both mark the same subcortical lesion with U-fibre involvement."
)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[ReviewSetup]:
    made = review_setup(tmp_path)
    yield made
    made.registry.close()


def _count(setup: ReviewSetup, model: type) -> int:
    with setup.registry.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _status(setup: ReviewSetup) -> CaseStatus:
    with setup.registry.read() as session:
        return session.scalars(select(Case.status).where(Case.registry_id == REVIEW_CASE)).one()


def test_a_case_goes_from_two_blinded_reads_to_a_signed_final_decision(
    qtbot: QtBot, setup: ReviewSetup, capsys: pytest.CaptureFixture[str]
) -> None:
    users = setup.users
    i, j, k = centre(setup)

    # 1. The first reader submits; the panel still sees nothing.
    reader1 = review_window(qtbot, setup, users["rad1"])
    outcome = draw_and_submit(qtbot, reader1, ImagingJudgement.YES, (i, j, k))
    assert "waiting for 1 more read" in outcome
    panel1 = review_window(qtbot, setup, users["panel1"])
    assert panel1.open_case(REVIEW_CASE)
    assert panel1.open_panel()
    assert "may not" in panel1.panel_page.refusal
    assert panel1.panel_page.reader_columns == []
    assert not panel1.panel_page.form.isEnabled()

    # 2. The second reader disagrees, and draws elsewhere: the case is discordant.
    reader2 = review_window(qtbot, setup, users["rad2"])
    outcome = draw_and_submit(qtbot, reader2, ImagingJudgement.EQUIVOCAL, (i - 12, j - 12, k))
    assert "discordant (judgement" in outcome
    assert _status(setup) is CaseStatus.DISCORDANT

    # 3. Now the panel sees both reads and the rules that fired.
    assert panel1.open_panel()
    page = panel1.panel_page
    assert page.refusal == ""
    assert len(page.reader_columns) == 2
    assert page.form.isEnabled()

    # 4. A decision without a rationale is refused in the form; with one it is proposed.
    page.form.set_values(Certainty.PROBABLE, Pathway.CLINICAL, rationale="")
    assert not page.propose()
    assert "rationale: required because" in page.form.error_text
    assert _count(setup, Decision) == 0
    page.form.set_values(Certainty.PROBABLE, Pathway.CLINICAL, rationale=RATIONALE)
    assert page.propose(), page.form.error_text
    assert _count(setup, Decision) == 1

    # 5. Both panel members sign with their passwords: the decision and the case are final.
    dialog = sign_through_dialog(qtbot, panel1, PASSWORDS["panel1"])
    assert not dialog.isVisible(), dialog.error_text
    assert _status(setup) is CaseStatus.DISCORDANT  # one of two signatures
    panel2 = review_window(qtbot, setup, users["panel2"])
    assert panel2.open_case(REVIEW_CASE)
    assert panel2.open_panel()
    dialog = sign_through_dialog(qtbot, panel2, PASSWORDS["panel2"])
    assert not dialog.isVisible(), dialog.error_text
    (card,) = panel2.panel_page.decision_cards
    assert card.decision.state is DecisionState.FINAL

    with setup.registry.read() as session:
        decision = session.scalars(select(Decision)).one()
        assert decision.is_final
        assert decision.certainty is Certainty.PROBABLE
        assert decision.rationale == RATIONALE
        assert decision.engine_version == RULESET_VERSION
        assert decision.engine_result["discordant"] is True
        assert sorted(s.printed_name for s in decision.signatures) == [
            "Dr Panel One",
            "Dr Panel Two",
        ]
    assert _status(setup) is CaseStatus.FINAL
    assert _count(setup, Signature) == 2

    # 6. The coordinator's History tab shows the decision; the chain verifies.
    coordinator = review_window(qtbot, setup, setup.coordinator)
    assert coordinator.open_case(REVIEW_CASE)
    actions = [event.action for event in coordinator.case_page.history_view.events]
    for action in (
        "read.submitted",
        "case.discordance",
        "adjudication.proposed",
        "adjudication.signed",
        "adjudication.final",
    ):
        assert action in actions
    url = setup.registry.url
    capsys.readouterr()
    assert main(["--db", url, "audit", "verify"]) == 0
    assert "audit chain intact" in capsys.readouterr().out

    # 7. An edited audit row breaks the chain, and verify names it.
    with setup.registry.read() as session:
        signed = session.scalars(
            select(AuditEvent.id).where(AuditEvent.action == "adjudication.signed")
        ).first()
    with out_of_band(url) as conn:
        conn.execute(
            text("UPDATE audit_events SET actor = 'mallory' WHERE id = :id"), {"id": signed}
        )
    assert main(["--db", url, "audit", "verify"]) == 1
    assert f"audit event {signed}: its content does not match its hash" in capsys.readouterr().err
