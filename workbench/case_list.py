"""The case list at scale: one page of cases, filtered and sorted by the database.

A registry of 100,000 cases is not loaded whole: :func:`list_page` returns one page of
:class:`~workbench.cases.CaseSummary` rows for a :class:`CaseListQuery` (a filter, a sort
column and direction) together with how many cases the filter matches and, when asked, how
many cases stand at each status. :func:`position_of` tells at which row of that order a case
stands, so a window can select a case that is not on a page it has loaded.

The count columns come from ``case_list_rows`` (kept current by
:mod:`workbench.registry.case_list_rows`), so sorting by them is a plain column sort. Every
sort breaks ties by registry id in the same direction, so a descending list is exactly the
ascending one reversed. Status sorts in the order of the review flow, condition by its label,
as the window shows them.

Blinding: an assigned reader who has not submitted does not learn from the list that a case
is discordant, in adjudication or final. The rule is :func:`workbench.policy.status_mask`;
here it is applied in SQL to the actor's own blinded cases, and filters, sorts and status
counts all see the masked status, so no filter or sort order tells the true one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adjudication.vocabulary import ReadStatus, Role
from workbench.actor import Actor
from workbench.cases import CaseFilter, CaseSummary
from workbench.domain import CaseStatus, Condition
from workbench.errors import ValidationError
from workbench.policy import Action, can, status_mask
from workbench.registry.models import Case, CaseAssignment, CaseListRow, Read, Site, User

MAX_PAGE = 1000
"""Most rows one page may hold."""

_INLINE_MASKED = 1000
"""Up to this many masked cases are named in the query; beyond, a subquery finds them."""


class SortKey(StrEnum):
    """A column the case list sorts by."""

    REGISTRY_ID = "registry_id"
    SITE = "site"
    CONDITION = "condition"
    STATUS = "status"
    TIMEPOINTS = "timepoints"
    SERIES = "series"
    LABS = "labs"


STATUS_ORDER: Mapping[CaseStatus, int] = {status: n for n, status in enumerate(CaseStatus)}
"""Status sorts in the order of the review flow (the enum's order), not alphabetically."""
CONDITION_ORDER: Mapping[Condition, int] = {
    condition: n
    for n, condition in enumerate(sorted(Condition, key=lambda c: (c.label.casefold(), c.value)))
}
"""Condition sorts by the label users read, ignoring case."""


@dataclass(frozen=True, slots=True)
class CaseListQuery:
    """Which cases the list shows, in which order."""

    where: CaseFilter = field(default_factory=CaseFilter)
    sort: SortKey = SortKey.REGISTRY_ID
    descending: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "sort", SortKey(self.sort))
        except ValueError:
            known = ", ".join(k.value for k in SortKey)
            raise ValidationError(
                f"sort: {self.sort!r} is not a column of the case list ({known})", field="sort"
            ) from None


@dataclass(frozen=True, slots=True)
class CasePage:
    """One page of the case list and the counts around it."""

    rows: tuple[CaseSummary, ...]
    offset: int
    """Position of the first row in the whole ordered list."""
    matching: int
    """Cases the filter matches (all pages)."""
    total: int | None = None
    """All cases of the registry, filter or not (``None`` when counts were not asked)."""
    by_status: Mapping[CaseStatus, int] | None = None
    """All cases by status as the actor sees it, filter or not (``None`` when not asked)."""


def _check_window(offset: int, limit: int | None) -> None:
    if offset < 0:
        raise ValidationError(f"offset: {offset} is negative", field="offset")
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit: {limit} is not between 1 and {MAX_PAGE}", field="limit")


class _Mask:
    """The actor's masked cases: blinded on them, and their true status is one hidden."""

    def __init__(self, session: Session, actor: Actor | None) -> None:
        self.masked: dict[int, CaseStatus] = {}
        self.shown_as = CaseStatus.IN_READING
        self._subquery: Any = None
        self.flags_shown = actor is None or can(actor, Action.RECLASSIFY) is None
        if actor is None:
            return
        rule = status_mask(actor)
        self.shown_as = rule.shown_as
        user_id = session.scalar(sa.select(User.id).where(User.username == actor.username))
        if user_id is None:
            return
        # The facts StatusMask.applies decides on, for every case at once: assigned as a
        # reader (Facts.reader_of_case) and no submitted read (Facts.own_read_submitted).
        submitted = (
            sa.select(Read.id)
            .where(
                Read.case_id == CaseAssignment.case_id,
                Read.reader_id == user_id,
                Read.status.in_((ReadStatus.SUBMITTED, ReadStatus.SUPERSEDED)),
            )
            .exists()
        )
        blinded = sa.select(CaseAssignment.case_id).where(
            CaseAssignment.user_id == user_id, CaseAssignment.role == Role.READER, ~submitted
        )
        hidden = sorted(rule.hidden)
        rows = session.execute(
            sa.select(Case.id, Case.status).where(Case.id.in_(blinded), Case.status.in_(hidden))
        )
        self.masked = {case_id: CaseStatus(status) for case_id, status in rows}
        self._subquery = blinded.where(
            CaseAssignment.case_id.in_(
                sa.select(Case.id).where(Case.status.in_(hidden)).scalar_subquery()
            )
        )

    def status(self) -> Any:
        """The status column as the actor sees it."""
        if not self.masked:
            return Case.status
        which = (
            Case.id.in_(sorted(self.masked))
            if len(self.masked) <= _INLINE_MASKED
            else Case.id.in_(self._subquery)
        )
        return sa.case((which, sa.literal(self.shown_as.value)), else_=Case.status)

    def counts(self, by_status: Mapping[CaseStatus, int]) -> dict[CaseStatus, int]:
        """Counts by true status moved to the statuses the actor sees."""
        seen = {status: by_status.get(status, 0) for status in CaseStatus}
        for status in self.masked.values():
            seen[status] -= 1
            seen[self.shown_as] += 1
        return seen


_COUNT_COLUMNS = {
    SortKey.TIMEPOINTS: CaseListRow.timepoints,
    SortKey.SERIES: CaseListRow.series,
    SortKey.LABS: CaseListRow.labs,
}


def _sort_column(query: CaseListQuery, mask: _Mask) -> Any:
    if query.sort is SortKey.REGISTRY_ID:
        return Case.registry_id
    if query.sort is SortKey.SITE:
        return Site.code
    if query.sort is SortKey.CONDITION:
        return sa.case(
            {c.value: n for c, n in CONDITION_ORDER.items()},
            value=sa.cast(Case.condition, sa.String),
        )
    if query.sort is SortKey.STATUS:
        return sa.case(
            {s.value: n for s, n in STATUS_ORDER.items()},
            value=sa.cast(mask.status(), sa.String),
        )
    return _COUNT_COLUMNS[query.sort]


def _tie_breaker(query: CaseListQuery) -> Any:
    # A count sort breaks ties on the summary's copy of the id: one index holds both keys.
    return CaseListRow.registry_id if query.sort in _COUNT_COLUMNS else Case.registry_id


def _filtered(select: sa.Select[Any], where: CaseFilter, mask: _Mask) -> sa.Select[Any]:
    if where.status is not None:
        status = CaseStatus(where.status)
        if mask.masked:
            select = select.where(sa.cast(mask.status(), sa.String) == status.value)
        else:
            select = select.where(Case.status == status)
    if where.site is not None:
        select = select.where(Site.code == where.site)
    if where.condition is not None:
        select = select.where(Case.condition == Condition(where.condition))
    if where.text:
        literal = where.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        select = select.where(Case.registry_id.ilike(f"%{literal}%", escape="\\"))
    return select


def _joined(select: sa.Select[Any]) -> sa.Select[Any]:
    """``select`` over a case, its site and its counts (every case has a counts row)."""
    return (
        select.select_from(Case)
        .join(Site, Case.site_id == Site.id)
        .join(CaseListRow, CaseListRow.case_id == Case.id)
    )


def _columns(mask: _Mask) -> list[Any]:
    return [
        Case.id,
        Case.registry_id,
        Site.code,
        Case.condition,
        mask.status().label("status"),
        CaseListRow.timepoints,
        CaseListRow.series,
        CaseListRow.labs,
        Case.version,
        CaseListRow.criteria_flag,
    ]


def _rows_select(query: CaseListQuery, mask: _Mask, *, reverse: bool = False) -> sa.Select[Any]:
    descending = query.descending != reverse
    key, tie = _sort_column(query, mask), _tie_breaker(query)
    order = (key.desc(), tie.desc()) if descending else (key.asc(), tie.asc())
    return _filtered(_joined(sa.select(*_columns(mask))), query.where, mask).order_by(*order)


def _by_value_select(
    query: CaseListQuery,
    mask: _Mask,
    column: Any,
    ranks: Mapping[Any, int],
    offset: int,
    limit: int,
    *,
    reverse: bool = False,
) -> sa.Select[Any]:
    """The page of a sort by a column of few values (status, condition, site) as one index
    range per value, each cut at ``offset + limit`` rows, merged by the values' ``ranks``: a
    sort of 100,000 rows becomes a few short walks of ``(value, registry_id)`` indexes."""
    descending = query.descending != reverse
    parts = []
    for value, rank in ranks.items():
        part = (
            _filtered(_joined(sa.select(*_columns(mask), sa.literal(rank).label("rank"))),
                      query.where, mask)
            .where(column == value)
            .order_by(Case.registry_id.desc() if descending else Case.registry_id.asc())
            .limit(offset + limit)
        )  # fmt: skip
        parts.append(sa.select(part.subquery()))
    merged = sa.union_all(*parts).subquery()
    order = (
        (merged.c.rank.desc(), merged.c.registry_id.desc())
        if descending
        else (merged.c.rank.asc(), merged.c.registry_id.asc())
    )
    names = ("id", "registry_id", "code", "condition", "status", "timepoints", "series", "labs",
             "version", "criteria_flag")  # fmt: skip
    return (
        sa.select(*(merged.c[name] for name in names)).order_by(*order).offset(offset).limit(limit)
    )


_MAX_SITES_BY_VALUE = 200
"""Up to this many sites, a sort by site walks one index range per site."""


def _summary(row: sa.Row[Any], mask: _Mask) -> CaseSummary:
    case_id, registry_id, site, condition, status, timepoints, series, labs, version, flag = tuple(
        row
    )
    # The flag tells a final decision: only for those who may re-classify, never on a case
    # whose status is masked for the actor.
    shown = flag if mask.flags_shown and case_id not in mask.masked else None
    return CaseSummary(
        case_id,
        registry_id,
        site,
        Condition(condition),
        CaseStatus(status),
        int(timepoints),
        int(series),
        int(labs),
        version,
        shown,
    )


def _page_rows(
    session: Session,
    query: CaseListQuery,
    mask: _Mask,
    offset: int,
    limit: int | None,
    *,
    reverse: bool = False,
) -> list[CaseSummary]:
    ranks: Mapping[Any, int] | None = None
    column: Any = None
    if limit is not None and query.sort is SortKey.CONDITION:
        column, ranks = Case.condition, CONDITION_ORDER
    elif limit is not None and query.sort is SortKey.STATUS and not mask.masked:
        column, ranks = Case.status, STATUS_ORDER
    elif limit is not None and query.sort is SortKey.SITE:
        sites = session.scalars(sa.select(Site.id).order_by(Site.code)).all()
        if len(sites) <= _MAX_SITES_BY_VALUE:
            column, ranks = Case.site_id, {site: n for n, site in enumerate(sites)}
    if ranks is not None and limit is not None:
        select = _by_value_select(query, mask, column, ranks, offset, limit, reverse=reverse)
    else:
        select = _rows_select(query, mask, reverse=reverse).offset(offset)
        if limit is not None:
            select = select.limit(limit)
    return [_summary(row, mask) for row in session.execute(select)]


def list_page(
    session: Session,
    actor: Actor | None,
    query: CaseListQuery,
    *,
    offset: int = 0,
    limit: int | None = 100,
    counts: bool = True,
) -> CasePage:
    """Rows ``offset`` to ``offset + limit`` of the list ``query`` describes, as ``actor``
    sees it (``limit`` ``None``: all of them), with the number of matching cases and, with
    ``counts``, the registry's cases in all and by status.

    A page in the second half of the list is read from its end in the opposite order (and
    turned round), so the last page costs what the first does. ``actor`` ``None`` lists true
    statuses (for the registry's own reports, never for a person).
    """
    _check_window(offset, limit)
    mask = _Mask(session, actor)
    by_status: dict[CaseStatus, int] | None = None
    if counts:
        true_counts = {
            CaseStatus(status): int(n)
            for status, n in session.execute(
                sa.select(Case.status, sa.func.count()).group_by(Case.status)
            )
        }
        by_status = mask.counts(true_counts)
    if by_status is not None and query.where == CaseFilter():
        matching = sum(by_status.values())  # no filter: every case
        rows = _window(session, query, mask, offset, limit, matching)
    elif offset > 0 and limit is not None:
        matching = _count(session, query, mask)
        rows = _window(session, query, mask, offset, limit, matching)
    else:
        rows = _page_rows(session, query, mask, offset, limit)
        if limit is None or len(rows) < limit:
            matching = offset + len(rows)  # the page reached the end: no count needed
        else:
            matching = _count(session, query, mask)
    if by_status is None:
        return CasePage(tuple(rows), offset, matching)
    return CasePage(tuple(rows), offset, matching, sum(by_status.values()), by_status)


def _window(
    session: Session,
    query: CaseListQuery,
    mask: _Mask,
    offset: int,
    limit: int | None,
    matching: int,
) -> list[CaseSummary]:
    """Rows ``offset`` on of a list of ``matching`` rows; read from the far end when nearer."""
    if limit is None or offset <= matching // 2:
        return _page_rows(session, query, mask, offset, limit)
    if offset >= matching:
        return []
    end = min(matching, offset + limit)
    rows = _page_rows(session, query, mask, matching - end, end - offset, reverse=True)
    rows.reverse()
    return rows


def _count(session: Session, query: CaseListQuery, mask: _Mask) -> int:
    """Cases the filter matches: over ``cases`` alone (and sites when filtered by one)."""
    select = sa.select(sa.func.count()).select_from(Case)
    if query.where.site is not None:
        select = select.join(Site, Case.site_id == Site.id)
    return int(session.scalar(_filtered(select, query.where, mask)) or 0)


def position_of(
    session: Session, actor: Actor | None, query: CaseListQuery, registry_id: str
) -> int | None:
    """The row (from 0) of ``registry_id`` in the list ``query`` describes, as ``actor``
    sees it; ``None`` when the filter does not show it."""
    mask = _Mask(session, actor)
    key, tie = _sort_column(query, mask), _tie_breaker(query)
    found = session.execute(
        _filtered(_joined(sa.select(key)), query.where, mask).where(tie == registry_id)
    ).first()
    if found is None:
        return None
    (value,) = found
    if query.descending:
        before = sa.or_(key > value, sa.and_(key == value, tie > registry_id))
    else:
        before = sa.or_(key < value, sa.and_(key == value, tie < registry_id))
    counted = _filtered(_joined(sa.select(sa.func.count())), query.where, mask).where(before)
    return int(session.scalar(counted) or 0)
