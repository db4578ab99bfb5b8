"""The paged case list on SQLite and PostgreSQL: order, filters, counts, upkeep, blinding.

A few hundred generated cases (bulk-loaded as the benchmark loads 100,000) are paged through
for every sort column in both directions and compared with the same cases sorted in Python,
counted from the tables themselves, not from ``case_list_rows``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, func, select, text

from adjudication.vocabulary import ReadStatus, Role
from workbench.bench import build_case_registry
from workbench.case_list import (
    CONDITION_ORDER,
    MAX_PAGE,
    STATUS_ORDER,
    CaseListQuery,
    SortKey,
    list_page,
    position_of,
)
from workbench.cases import CaseFilter, CaseSummary, NewCase, create_case, list_cases, update_case
from workbench.domain import (
    CaseStatus,
    Condition,
    LabQualitative,
    LabTest,
    SequenceClass,
    Sex,
)
from workbench.errors import ValidationError
from workbench.labs import LabEntry, add_lab_result
from workbench.policy import Facts, status_mask, visible_status
from workbench.reading_flow import assign
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import (
    Case,
    CaseListRow,
    ImagingStudy,
    LabResult,
    Read,
    Series,
    User,
)
from workbench.services import cases as case_service
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.users import Actor, add_user, resolve_actor

CONDITIONS = [
    Condition.HIV,
    Condition.MS_NATALIZUMAB,
    Condition.OTHER_IMMUNOMODULATOR,
    Condition.TRANSPLANT,
    Condition.HAEMATOLOGICAL_MALIGNANCY,
    Condition.OTHER,
]
CASES = 300

SORT_KEYS: dict[SortKey, Callable[[CaseSummary], Any]] = {
    SortKey.REGISTRY_ID: lambda r: r.registry_id,
    SortKey.SITE: lambda r: r.site,
    SortKey.CONDITION: lambda r: CONDITION_ORDER[r.condition],
    SortKey.STATUS: lambda r: STATUS_ORDER[r.status],
    SortKey.TIMEPOINTS: lambda r: r.timepoints,
    SortKey.SERIES: lambda r: r.series,
    SortKey.LABS: lambda r: r.lab_results,
}


@pytest.fixture
def loaded(registry: Registry, coordinator: Actor) -> Registry:
    """The registry with :data:`CASES` generated cases (and the coordinator as its user)."""
    build_case_registry(registry, CASES, conditions=CONDITIONS)
    return registry


def reference(registry: Registry) -> list[CaseSummary]:
    """Every case with counts taken from the tables (not from ``case_list_rows``)."""
    with registry.read() as session:
        studies = Counter(session.scalars(select(ImagingStudy.case_id)))
        series = Counter(
            session.scalars(
                select(ImagingStudy.case_id).join(Series, Series.study_id == ImagingStudy.id)
            )
        )
        labs = Counter(session.scalars(select(LabResult.case_id)))
        return [
            CaseSummary(
                case.id,
                case.registry_id,
                case.site.code,
                case.condition,
                case.status,
                studies[case.id],
                series[case.id],
                labs[case.id],
                case.version,
            )
            for case in session.scalars(select(Case))
        ]


def ordered(rows: list[CaseSummary], query: CaseListQuery) -> list[CaseSummary]:
    key = SORT_KEYS[query.sort]
    return sorted(rows, key=lambda r: (key(r), r.registry_id), reverse=query.descending)


def paged(registry: Registry, actor: Actor | None, query: CaseListQuery, size: int) -> list:
    rows: list[CaseSummary] = []
    with registry.read() as session:
        while True:
            page = list_page(session, actor, query, offset=len(rows), limit=size, counts=False)
            assert page.offset == len(rows)
            rows.extend(page.rows)
            if len(page.rows) < size:
                return rows


@pytest.mark.parametrize("descending", [False, True])
def test_pages_follow_every_sort_column_as_python_sorts(
    loaded: Registry, coordinator: Actor, descending: bool
) -> None:
    everything = reference(loaded)
    assert len(everything) == CASES
    assert len({r.series for r in everything}) > 3, "the counts vary, so the sort is tested"
    for sort in SortKey:
        query = CaseListQuery(sort=sort, descending=descending)
        got = paged(loaded, coordinator, query, 37)  # pages end mid-group of equal keys
        assert got == ordered(everything, query), f"sorted by {sort}, descending={descending}"


def test_filters_total_and_status_counts(loaded: Registry, coordinator: Actor) -> None:
    everything = reference(loaded)
    site = Counter(r.site for r in everything).most_common(1)[0][0]
    filters = [
        CaseFilter(status=CaseStatus.FINAL),
        CaseFilter(site=site),
        CaseFilter(condition=Condition.HIV),
        CaseFilter(status=CaseStatus.READY, site=site),
        CaseFilter(text="0004"),
        CaseFilter(text="pml-00001"),  # any case
        CaseFilter(text="PML_0"),  # '_' is no wildcard
        CaseFilter(text="%"),
        CaseFilter(status=CaseStatus.DISCORDANT, condition=Condition.OTHER, text="1"),
    ]
    by_status = Counter(r.status for r in everything)

    def passes(row: CaseSummary, where: CaseFilter) -> bool:
        return (
            where.status in (None, row.status)
            and where.site in (None, row.site)
            and where.condition in (None, row.condition)
            and (not where.text or where.text.casefold() in row.registry_id.casefold())
        )

    for where in filters:
        query = CaseListQuery(where, SortKey.LABS, descending=True)
        expected = ordered([r for r in everything if passes(r, where)], query)
        with loaded.read() as session:
            page = list_page(session, coordinator, query, offset=0, limit=25)
        assert page.rows == tuple(expected[:25]), where
        assert page.matching == len(expected), where
        assert page.total == CASES
        assert page.by_status == {s: by_status[s] for s in CaseStatus}
        assert paged(loaded, coordinator, query, 50) == expected, where
    assert not [r for r in everything if passes(r, CaseFilter(text="PML_0"))]


def test_the_row_of_a_case_in_any_order(loaded: Registry, coordinator: Actor) -> None:
    everything = reference(loaded)
    for sort in (SortKey.SERIES, SortKey.STATUS, SortKey.SITE, SortKey.CONDITION):
        for descending in (False, True):
            query = CaseListQuery(CaseFilter(text="PML-0001"), sort, descending)
            expected = ordered([r for r in everything if "PML-0001" in r.registry_id], query)
            with loaded.read() as session:
                for row in (0, len(expected) // 2, len(expected) - 1):
                    registry_id = expected[row].registry_id
                    assert position_of(session, coordinator, query, registry_id) == row
                assert position_of(session, coordinator, query, "PML-000200") is None
                assert position_of(session, coordinator, query, "PML-NONE") is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"offset": -1}, "offset"),
        ({"limit": 0}, "limit"),
        ({"limit": MAX_PAGE + 1}, "limit"),
    ],
)
def test_a_bad_page_is_refused_naming_the_field(
    registry: Registry, coordinator: Actor, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError, match=field) as raised:
        case_service.list_page(registry, coordinator, CaseListQuery(), **kwargs)
    assert raised.value.field == field


def test_an_unknown_sort_column_is_refused() -> None:
    with pytest.raises(ValidationError, match="'age' is not a column") as raised:
        CaseListQuery(sort="age")  # type: ignore[arg-type]
    assert raised.value.field == "sort"
    assert CaseListQuery(sort="labs").sort is SortKey.LABS  # type: ignore[arg-type]


# --- the counts kept in case_list_rows -----------------------------------------------------


def _series(session: Any, actor: Actor, study: ImagingStudy, n: int) -> Series:
    return add_series(
        session,
        actor,
        study,
        SeriesRecord(
            source_kind="dicom",  # type: ignore[arg-type]
            source_uri=f"/x/{study.id}/{n}",
            content_sha256=hashlib.sha256(f"{study.id}/{n}".encode()).hexdigest(),
            sequence_class=SequenceClass.FLAIR,
            shape=(64, 64, 20),
            affine=np.eye(4),
            dtype="int16",
            series_instance_uid=f"1.2.{study.id}.{n}",
        ),
    )


def _kept(registry: Registry, registry_id: str) -> tuple[int, int, int] | None:
    with registry.read() as session:
        row = session.execute(
            select(CaseListRow.timepoints, CaseListRow.series, CaseListRow.labs)
            .join(Case, Case.id == CaseListRow.case_id)
            .where(Case.registry_id == registry_id)
        ).first()
    return None if row is None else tuple(row)  # type: ignore[return-value]


def test_counts_follow_studies_series_and_labs_added_and_removed(
    registry: Registry, coordinator: Actor
) -> None:
    with registry.write() as session:
        create_case(
            session, coordinator, NewCase("PML-0001", "NL-AMS", Sex.MALE, "40-49", Condition.HIV)
        )
    assert _kept(registry, "PML-0001") == (0, 0, 0), "a new case has its row at once"
    with registry.write() as session:
        first = add_study(session, coordinator, "PML-0001", 0, study_instance_uid="1.2.3")
        second = add_study(session, coordinator, "PML-0001", 90, study_instance_uid="1.2.4")
        for n in range(3):
            _series(session, coordinator, first, n)
        _series(session, coordinator, second, 0)
        add_lab_result(
            session,
            coordinator,
            LabEntry("PML-0001", LabTest.CSF_JCV_PCR, 3, LabQualitative.DETECTED, 340, "copies/mL"),
        )
    assert _kept(registry, "PML-0001") == (2, 4, 1)
    with registry.write() as session:  # a series, then a whole study with its series, go
        session.delete(session.scalars(select(Series).where(Series.study_id == first.id)).first())
        session.flush()
        session.delete(session.get(ImagingStudy, second.id))
    assert _kept(registry, "PML-0001") == (1, 2, 1)
    with registry.read() as session:
        (row,) = list_cases(session)
    assert (row.timepoints, row.series, row.lab_results) == (1, 2, 1)


def test_a_refused_import_leaves_the_counts_alone(registry: Registry, coordinator: Actor) -> None:
    with registry.write() as session:
        create_case(
            session, coordinator, NewCase("PML-0001", "NL-AMS", Sex.MALE, "40-49", Condition.HIV)
        )
    entry = LabEntry("PML-0001", LabTest.CSF_JCV_PCR, 3, LabQualitative.DETECTED, 340, "copies/mL")
    with registry.write() as session:
        add_lab_result(session, coordinator, entry)
    with pytest.raises(ValidationError, match="already on record"), registry.write() as session:
        add_lab_result(session, coordinator, entry)
    assert _kept(registry, "PML-0001") == (0, 0, 1)


def test_the_migration_backfills_the_counts(registry_url: str) -> None:
    """A registry at revision 0008 with cases, studies, series and labs gains correct rows."""
    from alembic import command

    from workbench.registry.db import _alembic_config, create_registry_engine

    engine = create_registry_engine(registry_url)
    with engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0008")
        conn.commit()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, version) VALUES (1, 'S', 'S', 1)"))
        for case_id in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO cases (id, registry_id, site_id, sex, age_band, condition, "
                    "index_event, clinical_consistent, outcome, status, readers_required, "
                    "created_at, updated_at, version) VALUES (:id, :rid, 1, 'male', '20-29', "
                    "'hiv', 'x', 'present', 'unknown', 'ready', 2, :now, :now, 1)"
                ),
                {"id": case_id, "rid": f"PML-{case_id}", "now": "2026-01-01 00:00:00"},
            )
        for study_id, case_id in ((1, 1), (2, 1), (3, 2)):
            conn.execute(
                text(
                    "INSERT INTO imaging_studies (id, case_id, day, version) VALUES (:s, :c, 0, 1)"
                ),
                {"s": study_id, "c": case_id},
            )
        for series_id, study_id in ((1, 1), (2, 1), (3, 2), (4, 3)):
            conn.execute(
                text(
                    "INSERT INTO series (id, study_id, source_kind, source_uri, content_sha256, "
                    "sequence_class, sequence_evidence, shape, spacing, affine, dtype, n_files, "
                    "volume_index, created_at, version) VALUES (:id, :study, 'dicom', '/x', :sha, "
                    "'FLAIR', '{}', '[1,1,1]', '[1,1,1]', '[]', 'int16', 1, 0, :now, 1)"
                ),
                {"id": series_id, "study": study_id, "sha": "0" * 64, "now": "2026-01-01"},
            )
        for lab_id, case_id in ((1, 3), (2, 3), (3, 3), (4, 1)):
            conn.execute(
                text(
                    "INSERT INTO lab_results (id, case_id, test, day, qualitative, created_at, "
                    "version) VALUES (:id, :c, 'cd4_count', 0, 'quantitative', :now, 1)"
                ),
                {"id": lab_id, "c": case_id, "now": "2026-01-01"},
            )
    engine.dispose()
    registry = Registry.open(registry_url)
    try:
        assert _kept(registry, "PML-1") == (2, 3, 1)
        assert _kept(registry, "PML-2") == (1, 1, 0)
        assert _kept(registry, "PML-3") == (0, 0, 3)
        with registry.read() as session:
            assert session.scalar(select(func.count()).select_from(CaseListRow)) == 3
    finally:
        registry.close()


def test_a_lost_row_is_rewritten_when_its_case_next_changes(
    loaded: Registry, coordinator: Actor
) -> None:
    expected = {r.registry_id: r for r in reference(loaded)}["PML-000001"]
    with loaded.engine.begin() as conn:
        conn.execute(delete(CaseListRow).where(CaseListRow.case_id == expected.id))
    assert _kept(loaded, "PML-000001") is None
    with loaded.write() as session:
        add_lab_result(
            session,
            coordinator,
            LabEntry("PML-000001", LabTest.CSF_JCV_PCR, 9, LabQualitative.NOT_DETECTED),
        )
    assert _kept(loaded, "PML-000001") == (
        expected.timepoints,
        expected.series,
        expected.lab_results + 1,
    )


# --- blinding ----------------------------------------------------------------------------------


def _blinded_setup(registry: Registry, coordinator: Actor) -> Actor:
    """Cases 1-6 at every status; ``reader1`` assigned to 4 (discordant), 5 (in adjudication)
    and 6 (final) without a read, and to 3 (in reading) with a submitted read; ``reader2``
    assigned to nothing."""
    with registry.write() as session:
        add_user(session, "reader1", "Reader One", {Role.READER}, by=coordinator)
        add_user(session, "reader2", "Reader Two", {Role.READER}, by=coordinator)
        for n, status in enumerate(CaseStatus, start=1):
            registry_id = f"PML-000{n}"
            create_case(
                session, coordinator, NewCase(registry_id, "S", Sex.MALE, "40-49", Condition.HIV)
            )
            if status is not CaseStatus.INCOMPLETE:
                update_case(session, coordinator, registry_id, 1, {"status": CaseStatus.READY})
            if n >= 3:
                assign(session, coordinator, registry_id, ["reader1"], Role.READER)
            case = session.scalars(select(Case).where(Case.registry_id == registry_id)).one()
            update_case(session, coordinator, registry_id, case.version, {"status": status})
        reader_id = session.scalar(select(User.id).where(User.username == "reader1"))
        case3 = session.scalar(select(Case.id).where(Case.registry_id == "PML-0003"))
        session.add(Read(case_id=case3, reader_id=reader_id, status=ReadStatus.SUBMITTED))
        session.flush()
        audit.record(
            session,
            actor="reader1",
            role="reader",
            action="read.submit",
            entity_type="read",
            entity_id="PML-0003",
        )
        return resolve_actor(session, "reader1")


def _statuses(page_rows: tuple[CaseSummary, ...]) -> dict[str, CaseStatus]:
    return {r.registry_id: r.status for r in page_rows}


def test_a_blinded_reader_sees_in_reading_everywhere_in_the_list(
    registry: Registry, coordinator: Actor
) -> None:
    reader = _blinded_setup(registry, coordinator)
    true = {f"PML-000{n}": s for n, s in enumerate(CaseStatus, start=1)}
    mask = status_mask(reader)
    assert mask.hidden == {CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION, CaseStatus.FINAL}
    seen = {rid: (mask.shown_as if rid in {"PML-0004", "PML-0005", "PML-0006"} else s)
            for rid, s in true.items()}  # fmt: skip
    for rid, status in true.items():  # the per-case rule says the same
        facts = Facts(case_status=status, reader_of_case=rid >= "PML-0003",
                      own_read_submitted=rid == "PML-0003")  # fmt: skip
        assert visible_status(reader, facts) == seen[rid]

    with registry.read() as session:
        page = list_page(session, reader, CaseListQuery())
        assert _statuses(page.rows) == seen
        counted = Counter(seen.values())
        assert page.by_status == {s: counted[s] for s in CaseStatus}
        for hidden in mask.hidden:  # filtering by a hidden status finds none of them
            found = list_page(session, reader, CaseListQuery(CaseFilter(status=hidden)))
            assert found.rows == ()
            assert found.matching == 0
        in_reading = list_page(
            session, reader, CaseListQuery(CaseFilter(status=CaseStatus.IN_READING))
        )
        assert {r.registry_id for r in in_reading.rows} == {
            "PML-0003", "PML-0004", "PML-0005", "PML-0006",
        }  # fmt: skip
        by_status = list_page(session, reader, CaseListQuery(sort=SortKey.STATUS, descending=True))
        assert [r.registry_id for r in by_status.rows] == [
            "PML-0006", "PML-0005", "PML-0004", "PML-0003", "PML-0002", "PML-0001",
        ], "masked cases sort as in reading, by registry id, not by their true status"  # fmt: skip
        query = CaseListQuery(CaseFilter(status=CaseStatus.IN_READING), SortKey.STATUS)
        assert position_of(session, reader, query, "PML-0006") == 3
        final = CaseListQuery(CaseFilter(status=CaseStatus.FINAL))
        assert position_of(session, reader, final, "PML-0006") is None
        assert _statuses(tuple(list_cases(session, actor=reader))) == seen
    assert _statuses(tuple(case_service.list_cases(registry, reader))) == seen

    others = [coordinator, resolve_actor_in(registry, "reader2")]
    for other in others:  # the coordinator and an unassigned reader see the true statuses
        with registry.read() as session:
            page = list_page(session, other, CaseListQuery())
        assert _statuses(page.rows) == true
        assert page.by_status == dict.fromkeys(CaseStatus, 1)


def resolve_actor_in(registry: Registry, username: str) -> Actor:
    with registry.read() as session:
        return resolve_actor(session, username)
