"""Blinding facts of every case at once, for registry-wide reports and the extract.

The policy (:mod:`workbench.policy`) decides from :class:`~workbench.policy.Facts`, which
:func:`workbench.reads.case_facts` reads for one case in five statements. A registry-wide report
asks about every case, so :class:`CaseFacts` reads the same facts for all cases in four
set-based statements; the rule itself is still asked of :func:`workbench.policy.can`. The facts
must stay exactly what ``case_facts`` and :func:`workbench.reads.read_facts` give:
``tests/test_research_export.py`` compares them case by case and read by read.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from adjudication.vocabulary import ReadStatus, Role
from workbench.actor import Actor
from workbench.domain import CaseStatus
from workbench.policy import Facts
from workbench.registry.models import Case, CaseAssignment, Read, User

__all__ = ["CaseFacts", "all_case_facts"]


class CaseFacts:
    """:func:`workbench.reads.case_facts` of every case at once, for one actor.

    The export asks the policy about every case of the registry; one ``case_facts`` per
    case costs five statements, so these are the same facts read in four set-based ones.
    They must stay exactly what ``case_facts`` and :func:`workbench.reads.read_facts` give
    (the rule itself is still asked of :func:`workbench.policy.can`):
    ``tests/test_research_export.py`` compares them case by case and read by read.
    """

    def __init__(self, session: Session, actor: Actor) -> None:
        self._user_id = session.scalar(select(User.id).where(User.username == actor.username))
        self._readers: dict[int, set[int]] = defaultdict(set)
        self._panel: dict[int, set[int]] = defaultdict(set)
        for case_id, user_id, role in session.execute(
            select(CaseAssignment.case_id, CaseAssignment.user_id, CaseAssignment.role)
        ):
            if role is Role.READER:
                self._readers[case_id].add(user_id)
            elif role is Role.PANEL:
                self._panel[case_id].add(user_id)
        self._submitted: dict[int, set[int]] = defaultdict(set)
        for case_id, reader_id in session.execute(
            select(Read.case_id, Read.reader_id).where(Read.status == ReadStatus.SUBMITTED)
        ):
            self._submitted[case_id].add(reader_id)
        self._own_submitted: set[int] = set()
        if self._user_id is not None:
            self._own_submitted = set(
                session.scalars(
                    select(Read.case_id)
                    .where(
                        Read.reader_id == self._user_id,
                        Read.status.in_((ReadStatus.SUBMITTED, ReadStatus.SUPERSEDED)),
                    )
                    .distinct()
                )
            )
        self._status: dict[int, CaseStatus] = {}
        for case_id, status in session.execute(select(Case.id, Case.status)):
            self._status[case_id] = status

    def __getitem__(self, case_id: int) -> Facts:
        """The facts of case ``case_id`` (as ``case_facts`` gives them)."""
        readers = self._readers.get(case_id, set())
        return Facts(
            case_status=self._status.get(case_id),
            reader_of_case=self._user_id in readers,
            panel_of_case=self._user_id in self._panel.get(case_id, set()),
            own_read_submitted=self._user_id is not None and case_id in self._own_submitted,
            all_reads_in=bool(readers) and readers <= self._submitted.get(case_id, set()),
        )

    def has_readers(self, case_id: int) -> bool:
        """Whether readers are assigned to case ``case_id``."""
        return bool(self._readers.get(case_id))

    def of_read(self, read: Read) -> Facts:
        """The facts of ``read`` (as ``read_facts`` gives them)."""
        return dataclasses.replace(
            self[read.case_id], read_is_own=read.reader_id == self._user_id, read_status=read.status
        )


def all_case_facts(session: Session, actor: Actor) -> CaseFacts:
    """:class:`CaseFacts` of every case for ``actor``, read in ``session``."""
    return CaseFacts(session, actor)
