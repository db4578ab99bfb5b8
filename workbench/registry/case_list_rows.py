"""Keeping ``case_list_rows`` (the case list's counts) current, in the writer's transaction.

The case list sorts 100,000 cases by their number of timepoints, series or lab results; a
count computed per case at query time does not sort that fast, so each case's counts are kept
in :class:`~workbench.registry.models.CaseListRow`. Rather than each writer remembering to
update them (studies and series are added in :mod:`workbench.studies` through the importer,
lab results in :mod:`workbench.labs`, whole cases removed by the demo builder), one
``after_flush`` listener on every ``Session`` sees every study, series, lab result and case
the unit of work inserted or deleted and **recounts** those cases from the tables: a missed
update cannot drift, and the next change of the case repairs any row written by hand.

On PostgreSQL two imports into one case may run at once: each recount first locks the case's
row (``SELECT ... FOR UPDATE``), so the second recounts only after the first commits and sees
its rows (READ COMMITTED takes a new snapshot per statement). SQLite has one writer at a time.

Rows inserted with Core statements (bulk loads, migrations) bypass the ORM: their writer calls
:func:`recount` (or :func:`recount_all`) itself.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workbench.registry.models import Case, CaseListRow, ImagingStudy, LabResult, Series

_ROWS: sa.Table = CaseListRow.__table__  # type: ignore[assignment]
_CASES: sa.Table = Case.__table__  # type: ignore[assignment]
_STUDIES: sa.Table = ImagingStudy.__table__  # type: ignore[assignment]
_SERIES: sa.Table = Series.__table__  # type: ignore[assignment]
_LABS: sa.Table = LabResult.__table__  # type: ignore[assignment]


def _counts(case_id: Any) -> dict[str, Any]:
    """The three counts of ``case_id`` (a column or a value) as scalar subqueries."""
    return {
        "timepoints": sa.select(sa.func.count())
        .select_from(_STUDIES)
        .where(_STUDIES.c.case_id == case_id)
        .scalar_subquery(),
        "series": sa.select(sa.func.count())
        .select_from(_SERIES.join(_STUDIES, _SERIES.c.study_id == _STUDIES.c.id))
        .where(_STUDIES.c.case_id == case_id)
        .scalar_subquery(),
        "labs": sa.select(sa.func.count())
        .select_from(_LABS)
        .where(_LABS.c.case_id == case_id)
        .scalar_subquery(),
    }


def recount(connection: sa.Connection, case_ids: Collection[int]) -> None:
    """Rewrite the rows of ``case_ids`` from the tables (cases that no longer exist are skipped).

    Runs in the connection's transaction; safe to repeat.
    """
    ids = sorted(set(case_ids))
    if not ids:
        return
    dialect = connection.dialect.name
    insert_module: Any = postgresql if dialect == "postgresql" else sqlite
    missing = (
        insert_module.insert(_ROWS)
        .from_select(
            ["case_id", "registry_id"],
            sa.select(_CASES.c.id, _CASES.c.registry_id).where(_CASES.c.id.in_(ids)),
        )
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
    connection.execute(missing)
    if dialect == "postgresql":
        connection.execute(
            sa.select(_ROWS.c.case_id)
            .where(_ROWS.c.case_id.in_(ids))
            .order_by(_ROWS.c.case_id)
            .with_for_update()
        )
    connection.execute(
        _ROWS.update().where(_ROWS.c.case_id.in_(ids)).values(**_counts(_ROWS.c.case_id))
    )


def recount_all(connection: sa.Connection) -> None:
    """Rebuild every row from the tables (after a bulk load), with one grouped count per
    table rather than three subqueries per case, so 100,000 cases take seconds."""
    connection.execute(_ROWS.delete())
    connection.execute(
        _ROWS.insert().from_select(
            ["case_id", "registry_id", "timepoints", "series", "labs"], all_counts()
        )
    )


def all_counts() -> sa.Select[Any]:
    """``(case_id, registry_id, timepoints, series, labs)`` of every case, by grouped counts."""
    studies = (
        sa.select(_STUDIES.c.case_id, sa.func.count().label("n"))
        .group_by(_STUDIES.c.case_id)
        .subquery()
    )
    series = (
        sa.select(_STUDIES.c.case_id, sa.func.count().label("n"))
        .select_from(_SERIES.join(_STUDIES, _SERIES.c.study_id == _STUDIES.c.id))
        .group_by(_STUDIES.c.case_id)
        .subquery()
    )
    labs = sa.select(_LABS.c.case_id, sa.func.count().label("n")).group_by(_LABS.c.case_id)
    labs_counted = labs.subquery()
    return sa.select(
        _CASES.c.id,
        _CASES.c.registry_id,
        sa.func.coalesce(studies.c.n, 0),
        sa.func.coalesce(series.c.n, 0),
        sa.func.coalesce(labs_counted.c.n, 0),
    ).select_from(
        _CASES.outerjoin(studies, studies.c.case_id == _CASES.c.id)
        .outerjoin(series, series.c.case_id == _CASES.c.id)
        .outerjoin(labs_counted, labs_counted.c.case_id == _CASES.c.id)
    )


def _touched_cases(session: Session) -> set[int]:
    """The cases whose counts the flush that just ran may have changed."""
    cases: set[int | None] = set()
    studies: set[int | None] = set()
    for obj in (*session.new, *session.deleted):
        # Values as loaded, never loaded now: a deleted row cannot be read back.
        loaded = sa.inspect(obj).dict
        if isinstance(obj, ImagingStudy | LabResult):
            cases.add(loaded.get("case_id"))
        elif isinstance(obj, Series):
            studies.add(loaded.get("study_id"))
        elif isinstance(obj, Case):
            cases.add(loaded.get("id"))
    for obj in session.deleted:  # a series removed with its study: the study knows the case
        loaded = sa.inspect(obj).dict
        if isinstance(obj, ImagingStudy) and loaded.get("id") in studies:
            cases.add(loaded.get("case_id"))
    studies.discard(None)
    cases.discard(None)
    if studies:
        found = session.connection().execute(
            sa.select(_STUDIES.c.case_id).where(_STUDIES.c.id.in_(sorted(studies)))
        )
        cases.update(case_id for (case_id,) in found)
    return {case_id for case_id in cases if case_id is not None}


def _after_flush(session: Session, _context: object) -> None:
    if not any(
        isinstance(obj, _COUNTED) for objects in (session.new, session.deleted) for obj in objects
    ):
        return
    recount(session.connection(), _touched_cases(session))


_COUNTED = (Case, ImagingStudy, Series, LabResult)


def install() -> None:
    """Register the listener on every ``Session``. Idempotent."""
    if not sa_event.contains(Session, "after_flush", _after_flush):
        sa_event.listen(Session, "after_flush", _after_flush)


install()
