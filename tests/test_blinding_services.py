"""Blinding leaks found by trying, each closed and proven through the services (the one door).

- ``reclassify`` showed a coordinator a submitted read's lesion volume while another read was
  still open;
- a person who is both coordinator and reader could assign themselves and then see the pending
  decision and the discordance;
- a reader added to a discordant case saw "discordant" before reading, and their read never
  entered the discordance assessment.
"""

from __future__ import annotations

import numpy as np
import pytest

from adjudication.consensus import Proposal
from adjudication.vocabulary import Certainty, ImagingJudgement, Role
from tests.actors import AUDITOR, actor_of
from tests.test_panel import CONFIG, Panel, _box, _discordant_case, _propose, _read, _status
from tests.test_panel import panel as panel
from tests.test_review_flow import sandbox  # noqa: F401 - the module-scoped parser fixture
from workbench.domain import CaseStatus
from workbench.errors import PermissionDeniedError
from workbench.panel import latest_discordance
from workbench.reading_flow import submit
from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
from workbench.services import admin, cases
from workbench.services import panel as panel_service
from workbench.users import Actor


def _draft(p: Panel, actor: Actor) -> None:
    with p.registry.write() as session:
        read = start_or_resume_draft(session, actor, "PML-0001")
        save_draft(
            session,
            actor,
            read.id,
            read.version,
            lesions=[LesionDraft(p.s.series_id, _box((1, 1, 1), (3, 3, 2)))],
            judgement=ImagingJudgement.NO,
        )


def _row(p: Panel, actor: Actor) -> panel_service.Reclassification:
    (row,) = [r for r in panel_service.reclassify(p.registry, actor) if r.registry_id == "PML-0001"]
    return row


def test_reclassify_keeps_lesion_volumes_blinded_until_every_read_is_in(panel: Panel) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)  # with a lesion of 48 voxels
    _draft(p, p.s.other_reader)
    early = _row(p, p.s.coordinator)
    assert not any("lesion volume" in line for line in early.derivation)
    assert "waiting for the reads" in " ".join(early.derivation)

    with p.registry.write() as session:
        read = start_or_resume_draft(session, p.s.other_reader, "PML-0001")
        submit(session, p.s.other_reader, read.id, read.version, config=CONFIG)
    late = _row(p, p.s.coordinator)
    assert any("lesion volume" in line for line in late.derivation)


def test_a_coordinator_does_not_assign_themselves(panel: Panel) -> None:
    p = panel
    both = admin.add_user(
        p.registry, p.s.coordinator, "coord.reader", "Coordinator Reader",
        {Role.COORDINATOR, Role.READER},
    )  # fmt: skip
    me = actor_of(p.registry, both.username)
    _discordant_case(p)
    with pytest.raises(PermissionDeniedError, match="assign themselves"):
        cases.assign(p.registry, me, "PML-0001", readers=[me.username])
    choices = cases.assign_choices(p.registry, me, "PML-0001")
    (offered,) = [c for c in choices.readers if c.username == me.username]
    assert offered.refusal is not None
    assert "assign themselves" in offered.refusal


def test_a_coordinator_assigned_as_reader_is_blinded_like_any_reader(panel: Panel) -> None:
    p = panel
    admin.add_user(
        p.registry, p.s.coordinator, "coord.reader", "Coordinator Reader",
        {Role.COORDINATOR, Role.READER},
    )  # fmt: skip
    me = actor_of(p.registry, "coord.reader")
    _discordant_case(p)
    _propose(p, p.panel1, Proposal(Certainty.NOT_CLASSIFIABLE, None, "Readers disagree here."))
    before, _ = cases.load_case(p.registry, me, "PML-0001")
    assert before.review is not None
    assert before.review.sees_panel_work

    cases.assign(p.registry, p.s.coordinator, "PML-0001", readers=[me.username])
    detail, _ = cases.load_case(p.registry, me, "PML-0001")
    assert detail.status is CaseStatus.IN_READING
    assert detail.review is not None
    assert not detail.review.sees_panel_work
    assert detail.review.discordance is None
    assert detail.review.decision is None
    assert all(not row.reads for row in detail.review.readers if row.username != me.username)
    assert not [e for e in detail.history if e.entity.startswith("adjudication")]
    assert not [e for e in detail.history if e.action == "case.discordance"]
    with pytest.raises(PermissionDeniedError, match="before submitting their own read"):
        panel_service.decisions(p.registry, me, "PML-0001")


def test_a_reader_added_after_discordance_reads_anew_and_counts(panel: Panel) -> None:
    p = panel
    _discordant_case(p)
    cases.assign(p.registry, p.s.coordinator, "PML-0001", readers=["reader3"])
    # The case is read again: the late reader is not told what the others found.
    assert _status(p.registry) is CaseStatus.IN_READING
    detail, _ = cases.load_case(p.registry, p.outsider, "PML-0001")
    assert detail.status is CaseStatus.IN_READING
    assert detail.review is not None
    assert detail.review.discordance is None
    assert not [e for e in detail.history if (e.after or {}).get("status") == "discordant"]

    third = _read(p, p.outsider, ImagingJudgement.YES)
    with p.registry.read() as session:
        assessed = latest_discordance(session, AUDITOR, "PML-0001")
    assert assessed is not None
    assert third in assessed["reads"]
    assert len(assessed["reads"]) == 3
    assert _status(p.registry) in (CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION)


def test_the_policy_refuses_with_a_reason_not_a_silent_empty_answer(panel: Panel) -> None:
    p = panel
    _read(p, p.s.reader, ImagingJudgement.YES)
    detail, _ = cases.load_case(p.registry, p.outsider, "PML-0001")
    assert detail.review is not None
    assert detail.review.reads_note is not None
    assert "not assigned" in detail.review.reads_note
    assert np.all([not row.reads for row in detail.review.readers])


def test_no_data_layer_read_of_panel_work_goes_without_an_actor(panel: Panel) -> None:
    """``latest_discordance`` and ``case_inputs`` ask the policy too, and ``reclassify``
    leaves out a case its coordinator is still reading."""
    from workbench.case_criteria import case_inputs
    from workbench.cases import get_case

    p = panel
    admin.add_user(
        p.registry, p.s.coordinator, "coord.reader", "Coordinator Reader",
        {Role.COORDINATOR, Role.READER},
    )  # fmt: skip
    me = actor_of(p.registry, "coord.reader")
    _discordant_case(p)
    assert "PML-0001" in {r.registry_id for r in panel_service.reclassify(p.registry, me)}
    cases.assign(p.registry, p.s.coordinator, "PML-0001", readers=[me.username])
    with p.registry.read() as session:
        with pytest.raises(PermissionDeniedError):
            latest_discordance(session, me, "PML-0001")
        with pytest.raises(PermissionDeniedError):
            case_inputs(session, me, get_case(session, "PML-0001"))
        assert latest_discordance(session, p.s.coordinator, "PML-0001") is not None
    assert "PML-0001" not in {r.registry_id for r in panel_service.reclassify(p.registry, me)}
