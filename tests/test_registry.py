"""The registry database on real backends: migrations, SQLite settings, concurrency."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from tests.actors import AUDITOR
from workbench.cases import NewCase, create_case, get_case, update_case
from workbench.domain import Condition, Sex
from workbench.errors import ConflictError, NotFoundError, RegistryUnavailableError
from workbench.registry.db import Registry, schema_revision, upgrade
from workbench.registry.models import AuditEvent, Base, Case
from workbench.users import Actor, resolve_actor


def _new_case(registry_id: str = "PML-0001") -> NewCase:
    return NewCase(registry_id, "NL-AMS", Sex.FEMALE, "40-49", Condition.MS_NATALIZUMAB)


def test_migrations_build_exactly_the_models(registry: Registry) -> None:
    with registry.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    tables = set(inspect(registry.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    current, head = schema_revision(registry.engine)
    assert current == head


def test_upgrade_is_idempotent(registry: Registry) -> None:
    assert upgrade(registry.engine) is False


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(sqlite_registry: Registry) -> None:
    with sqlite_registry.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert (conn.execute(text("PRAGMA busy_timeout")).scalar() or 0) >= 5000


def test_sqlite_foreign_keys_are_enforced(sqlite_registry: Registry) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"), sqlite_registry.write() as session:
        session.execute(
            text("INSERT INTO exposures (case_id, drug, version) VALUES (999, 'natalizumab', 1)")
        )


def test_sqlite_read_then_write_transactions_wait_instead_of_failing(
    sqlite_url: str, coordinator_sqlite: Actor
) -> None:
    """Two writers that each read before writing: the second waits its turn (BEGIN IMMEDIATE).

    With deferred transactions under WAL the later writer fails at once with "database is
    locked", because its read snapshot is older than the first writer's commit.
    """
    first, second = Registry.open(sqlite_url), Registry.open(sqlite_url)
    holding = threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with first.write() as session:
                case = get_case(session, "PML-0001")
                holding.set()
                time.sleep(0.5)
                case.clinical_summary = "first"
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert holding.wait(5)
    with second.write() as session:
        case = get_case(session, "PML-0001")
        case.age_band = "50-59"
    thread.join()
    assert errors == []
    with second.read() as session:
        case = get_case(session, "PML-0001")
        assert (case.clinical_summary, case.age_band, case.version) == ("first", "50-59", 3)
    first.close()
    second.close()


@pytest.fixture
def coordinator_sqlite(sqlite_registry: Registry) -> Actor:
    from workbench.users import resolve_actor

    with sqlite_registry.write() as session:
        actor = resolve_actor(session, "coordinator")
        create_case(session, actor, _new_case())
    return actor


def test_a_stale_save_is_refused_and_writes_nothing(registry: Registry, coordinator: Actor) -> None:
    with registry.write() as session:
        create_case(session, coordinator, _new_case())
    with registry.read() as session:
        opened_by_a = get_case(session, "PML-0001").version
        opened_by_b = opened_by_a
    with registry.write() as session:
        update_case(session, coordinator, "PML-0001", opened_by_a, {"age_band": "50-59"})
    with registry.read() as session:
        events_before = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(ConflictError, match="changed by someone else"), registry.write() as s:
        update_case(s, coordinator, "PML-0001", opened_by_b, {"clinical_summary": "B's note"})
    with registry.read() as session:
        case = get_case(session, "PML-0001")
        assert case.age_band == "50-59"
        assert case.clinical_summary is None
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


@pytest.mark.postgres
def test_concurrent_orm_saves_on_postgres_conflict(postgres_url: str) -> None:
    """Two sessions that loaded the same row: the later UPDATE matches no row and is refused."""
    from workbench.users import resolve_actor

    registry = Registry.open(postgres_url)
    with registry.write() as session:
        actor = resolve_actor(session, "coordinator")
        create_case(session, actor, _new_case())
    with (  # noqa: PT012 (the stale flush happens at the end of the block)
        pytest.raises(ConflictError, match="changed by someone else"),
        registry.write() as session_b,
    ):
        case_b = session_b.scalars(select(Case)).one()
        with registry.write() as session_a:
            case_a = session_a.scalars(select(Case)).one()
            case_a.clinical_summary = "A"
        case_b.clinical_summary = "B"
    with registry.read() as session:
        assert session.scalars(select(Case)).one().clinical_summary == "A"
    registry.close()


def test_a_registry_from_a_newer_workbench_is_refused_untouched(sqlite_url: str) -> None:
    Registry.open(sqlite_url).close()
    path = sqlite_url.removeprefix("sqlite:///")
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    with pytest.raises(RegistryUnavailableError, match="probably upgraded by a newer workbench"):
        Registry.open(sqlite_url)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "ffff_from_the_future",
        )


def test_open_refuses_a_file_that_is_not_a_database(tmp_path) -> None:
    bad = tmp_path / "registry.sqlite3"
    bad.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(RegistryUnavailableError, match="not a usable registry database"):
        Registry.open(f"sqlite:///{bad}")
    assert bad.read_bytes() == b"this is not SQLite" * 100


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "not a database URL"),
        ("mysql://root@localhost/x", "unsupported database"),
        ("sqlite://", "must be a SQLite file"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "cannot open the registry"),
    ],
)
def test_open_explains_bad_urls(url: str, message: str) -> None:
    with pytest.raises(RegistryUnavailableError, match=message):
        Registry.open(url)


def test_upgrading_an_older_registry_keeps_its_data(sqlite_url: str) -> None:
    """A registry made by the first release gains new columns without losing rows."""
    from alembic import command

    from workbench.registry.db import _alembic_config, create_registry_engine

    engine = create_registry_engine(sqlite_url)
    with engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        conn.commit()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, version) VALUES (1, 'S', 'S', 1)"))
        conn.execute(
            text(
                "INSERT INTO cases (id, registry_id, site_id, sex, age_band, condition, "
                "index_event, clinical_consistent, outcome, status, readers_required, "
                "created_at, updated_at, version) VALUES (1, 'PML-1', 1, 'male', '20-29', "
                "'hiv', 'x', 'present', 'unknown', 'ready', 2, '2026-01-01', '2026-01-01', 1)"
            )
        )
        conn.execute(
            text("INSERT INTO imaging_studies (id, case_id, day, version) VALUES (1, 1, 0, 1)")
        )
        conn.execute(
            text(
                "INSERT INTO series (id, study_id, source_kind, source_uri, content_sha256, "
                "sequence_class, sequence_evidence, shape, spacing, affine, dtype, n_files, "
                "created_at, version) VALUES (1, 1, 'dicom', '/x', :sha, 'FLAIR', '{}', "
                "'[1,1,1]', '[1,1,1]', '[]', 'int16', 1, '2026-01-01', 1)"
            ),
            {"sha": "0" * 64},
        )
    engine.dispose()
    registry = Registry.open(sqlite_url)
    with registry.engine.connect() as conn:
        assert conn.execute(text("SELECT volume_index, source_uri FROM series")).one() == (0, "/x")
        assert conn.execute(text("SELECT registry_id FROM cases")).scalar() == "PML-1"
    registry.close()


_CONCORDANT = {
    "reads": [3, 4],
    "discordant": False,
    "fired": [],
    "spatial": True,
    "rules": {"min_lesion_ml": 0.1, "volume_fraction": 0.5, "min_dice": 0.5},
    "findings": [],
}
_DISCORDANT = {
    "reads": [3, 5],
    "discordant": True,
    "fired": ["judgement", "volume"],
    "spatial": False,
    "rules": {"min_lesion_ml": 0.01, "volume_fraction": 0.25, "min_dice": 0.7},
    "findings": [
        {
            "rule": "judgement",
            "readers": ["reader1", "reader2"],
            "detail": "judgements differ: reader1 yes, reader2 equivocal",
            "values": {"reader1": "yes", "reader2": "equivocal"},
        },
        {
            "rule": "volume",
            "readers": ["reader1", "reader2"],
            "detail": "total volumes differ by 0.600 mL (60% of the larger, limit 25%)",
            "values": {"reader1": 1.0, "reader2": 0.4, "fraction": 0.6},
        },
    ],
}


def _registry_at_0003_with_audited_review(url: str) -> None:
    """A registry at revision 0003 whose assessments and wrong passwords are only events."""
    from alembic import command

    from workbench.registry.db import _alembic_config, create_registry_engine

    engine = create_registry_engine(url)
    with engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0003")
        conn.commit()
    when = {"at": "2026-01-01 00:00:00", "yes": True, "no": False}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, version) VALUES (1, 'S', 'S', 1)"))
        conn.execute(
            text(
                "INSERT INTO cases (id, registry_id, site_id, sex, age_band, condition, "
                "index_event, clinical_consistent, outcome, status, readers_required, "
                "created_at, updated_at, version) VALUES (1, 'PML-1', 1, 'male', '20-29', "
                "'hiv', 'x', 'present', 'unknown', 'discordant', 2, :at, :at, 1)"
            ),
            when,
        )
        for user_id, username in ((1, "reader2"), (2, "panel1")):
            conn.execute(
                text(
                    "INSERT INTO users (id, username, display_name, active, created_at, "
                    "version) VALUES (:id, :name, :name, :yes, :at, 1)"
                ),
                {"id": user_id, "name": username, **when},
            )
        conn.execute(
            text(
                "INSERT INTO adjudications (id, case_id, certainty, engine_version, "
                "engine_result, is_final, created_by_id, created_at, version) "
                "VALUES (7, 1, 'probable', 'aan2013', '{}', :no, 2, :at, 1)"
            ),
            when,
        )
    # The events as revision 0003 wrote them (its columns only), chained by hash.
    from adjudication.audit import GENESIS_HASH, canonical_time, event_hash
    from workbench.registry.models import utcnow

    chain = [GENESIS_HASH]

    def event(actor: str, action: str, entity: str, after: dict | None = None) -> None:
        entity_type = "case" if action == "case.discordance" else "adjudication"
        at = utcnow()
        fields = {
            "occurred_at": canonical_time(at),
            "actor": actor,
            "role": None,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity,
            "before": None,
            "after": after,
            "reason": None,
        }
        digest = event_hash(chain[-1], fields)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_events (occurred_at, actor, role, action, entity_type, "
                    "entity_id, before, after, reason, prev_hash, hash) VALUES (:at, :actor, "
                    "NULL, :action, :type, :entity, NULL, :after, NULL, :prev, :hash)"
                ),
                {
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "type": entity_type,
                    "entity": entity,
                    "after": None if after is None else json.dumps(after),
                    "prev": chain[-1],
                    "hash": digest,
                },
            )
        chain.append(digest)

    event("workbench", "case.discordance", "PML-1", _CONCORDANT)
    event("reader2", "case.discordance", "PML-1", _DISCORDANT)
    event("reader2", "case.discordance", "PML-GONE", _DISCORDANT)  # no such case
    for _ in range(5):
        event("panel1", "adjudication.signature_refused", "7")
    event("panel1", "adjudication.signature_refused", "99")  # no such decision
    event("ghost", "adjudication.signature_refused", "7")  # no such user
    engine.dispose()


def test_upgrading_keeps_discordance_assessments_and_lockouts(registry_url: str) -> None:
    """Revision 0004 fills its tables from the audit events a 0003 registry recorded."""
    from alembic import command

    from workbench.panel import latest_discordance
    from workbench.registry import audit
    from workbench.registry.db import _alembic_config
    from workbench.registry.models import AuthFailure, DiscordanceAssessment

    _registry_at_0003_with_audited_review(registry_url)
    registry = Registry.open(registry_url)

    def check() -> None:
        with registry.read() as session:
            assessments = list(
                session.scalars(select(DiscordanceAssessment).order_by(DiscordanceAssessment.id))
            )
            assert [a.case_id for a in assessments] == [1, 1]
            assert [a.assessed_by_id for a in assessments] == [None, 1]
            assert [a.as_dict() for a in assessments] == [_CONCORDANT, _DISCORDANT]
            assert latest_discordance(session, AUDITOR, "PML-1") == _DISCORDANT
            with pytest.raises(NotFoundError):  # its events were not backfilled
                latest_discordance(session, AUDITOR, "PML-GONE")
            # Revision 0005 carries the signing failures over, per account, source unknown.
            failures = list(session.scalars(select(AuthFailure).order_by(AuthFailure.id)))
            assert [(f.username, f.source, f.purpose) for f in failures] == [
                ("panel1", "unrecorded", "signing")
            ] * 6
            assert audit.verify(session) is None
            events = select(func.count()).where(AuditEvent.action != "audit.baseline")
            assert session.scalar(events) == 10

    check()
    with registry.engine.connect() as conn:
        command.downgrade(_alembic_config(conn), "0003")
        conn.commit()
        tables = set(inspect(conn).get_table_names())
    assert not tables & {
        "discordance_assessments",
        "signing_failures",
        "auth_failures",
        "sign_in_sessions",
    }
    assert upgrade(registry.engine) is True
    check()  # the events are still there, and fill the tables again
    registry.close()


def test_the_sqlite_registry_and_its_wal_are_private_to_their_owner(tmp_path: Path) -> None:
    """The file holds password hashes: mode 0600, and SQLite's WAL and SHM follow it."""
    import os
    import stat

    path = tmp_path / "private" / "registry.sqlite3"
    old = os.umask(0o022)  # a usual umask would leave a new file readable by everyone
    try:
        registry = Registry.open(f"sqlite:///{path}")
        with registry.write() as session:
            resolve_actor(session, "owner")
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        for file in files:
            assert file.exists(), file
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, (file, oct(file.stat().st_mode))
        registry.close()
    finally:
        os.umask(old)
    # A registry file left open to others by an earlier version is tightened on open.
    path.chmod(0o644)
    Registry.open(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
