"""Migration 0006 hash-partitions the registry tables by subject_key on PostgreSQL, keeping rows.

The database (a unique name, dropped afterwards) is filled through the store at head (the store
writes head's columns), downgraded to revision 0005, upgraded to head again, and compared row for
row on the columns 0005 has. On SQLite the migration changes nothing (the schema comparison of
test_migrations.py covers both backends).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from ibr_service.core.samples import group_beneficiary, person_beneficiary
from ibr_service.core.store_contract import T0, apply
from ibr_service.store_sql import SqlStore, upgrade
from ibr_service.store_sql.migrate import alembic_config
from ibr_service.store_sql.partitioning import PARTITIONED_TABLES, PARTITIONS
from ibr_service.store_sql.tables import metadata

from .conftest import PG_ADMIN, _postgres_available

pytestmark = pytest.mark.postgres

PEOPLE = 80


@pytest.fixture
def url() -> Iterator[str]:
    if not _postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"ibr_test_part_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fill(url: str) -> None:
    """At head: people and households, then a second report of the people that changes their
    status, their benefit amount and their region: a row in every partitioned table."""
    upgrade(url)
    store = SqlStore.from_url(url)
    nids = [f"{n:09d}" for n in range(PEOPLE)]
    with store.transaction() as tx:
        apply(tx, *(person_beneficiary(nid, region="KE-01") for nid in nids))
        apply(tx, *(group_beneficiary(f"HH{n}", nids[n * 4 : n * 4 + 4]) for n in range(5)))
    later = T0 + timedelta(days=30)
    with store.transaction() as tx:
        apply(
            tx,
            *(
                person_beneficiary(
                    nid,
                    status="4",
                    status_change_date="2024-06-01",
                    benefits=(("2024-05-02", "60.00"),),
                    region="KE-02",
                )
                for nid in nids
            ),
            now=later,
        )
    store.engine.dispose()


def _fill_at_0005(url: str) -> None:
    _fill(url)
    command.downgrade(alembic_config(url), "0005")


Snapshot = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]


def _snapshot(url: str, like: Snapshot | None = None) -> Snapshot:
    """Every row of every partitioned table, in primary-key order, on the columns the database
    has now (or only those of ``like``: a later revision may have added some)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows: Snapshot = {}
        for name in PARTITIONED_TABLES:
            table = sa.Table(name, sa.MetaData(), autoload_with=connection)
            keep = like[name][0] if like else tuple(c.name for c in table.columns)
            key = metadata.tables[name].primary_key.columns
            query = sa.select(*(table.c[c] for c in keep)).order_by(*(table.c[c.name] for c in key))
            rows[name] = (keep, [tuple(r) for r in connection.execute(query)])
    engine.dispose()
    return rows


def _layout(url: str) -> dict[str, tuple[str, int, int]]:
    """Per registry table: its partition strategy ('' when plain), how many partitions it has
    and how many of them hold rows."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        layout = {}
        for table in PARTITIONED_TABLES:
            strategy = connection.execute(
                sa.text(
                    "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)"
                ),
                {"t": table},
            ).scalar()
            partitions = (
                connection.execute(
                    sa.text(
                        "SELECT inhrelid::regclass::text FROM pg_inherits "
                        "WHERE inhparent = to_regclass(:t)"
                    ),
                    {"t": table},
                )
                .scalars()
                .all()
            )
            used = sum(
                connection.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {p})")).scalar_one()  # noqa: S608
                for p in partitions
            )
            layout[table] = (strategy or "", len(partitions), used)
    engine.dispose()
    return layout


def test_upgrade_partitions_the_registry_tables_and_keeps_every_row(url: str) -> None:
    """If this fails, migration 0006 loses or changes rows, or leaves a table unpartitioned."""
    _fill_at_0005(url)
    before = _snapshot(url)
    assert all(before[t][1] for t in PARTITIONED_TABLES), "every table holds rows to move"
    assert {s for s, _, _ in _layout(url).values()} == {""}
    upgrade(url)
    assert _snapshot(url, like=before) == before
    layout = _layout(url)
    assert {(s, n) for s, n, _ in layout.values()} == {("h", PARTITIONS)}, layout
    assert layout["subjects"][2] > PARTITIONS // 2, "the subjects are spread over the partitions"


def test_partitioned_store_reads_and_writes_as_before(url: str) -> None:
    """If this fails, the store does not work on the partitioned tables (keys, upserts, moves)."""
    _fill(url)
    store = SqlStore.from_url(url)
    keys = [f"p:NID:{n:09d}" for n in range(PEOPLE)] + [f"g:HOUSEHOLD_ID:HH{n}" for n in range(5)]
    with store.transaction() as tx:
        before = tx.load_beneficiaries(keys)
    store.engine.dispose()
    command.downgrade(alembic_config(url), "0005")
    upgrade(url)
    store = SqlStore.from_url(url)
    source, target = _keys_in_two_partitions(store)
    with store.transaction() as tx:
        assert tx.load_beneficiaries(keys) == before
        apply(tx, person_beneficiary("999999999", region="KE-03"))
        tx.move_subject(source, target)
    with store.transaction() as tx:
        assert [b.subject.subject_key for b in tx.load_beneficiaries(["p:NID:999999999"])] == [
            "p:NID:999999999"
        ]
        assert tx.load_subject_states([source]) == {}
        moved = tx.load_subject_states([target])[target].subject
        assert {i.identifier_value for i in moved.identifiers} == {
            source.removeprefix("p:NID:"),
            target.removeprefix("p:NID:"),
        }, "the identifier row moved to the target's partition"
    store.engine.dispose()


def _keys_in_two_partitions(store: SqlStore) -> tuple[str, str]:
    """Two people's subject keys whose rows live in different partitions."""
    with store.engine.connect() as connection:
        where = dict(
            connection.execute(
                sa.text(
                    "SELECT tableoid::regclass::text, min(subject_key) FROM subjects "
                    "WHERE subject_key LIKE 'p:NID:%' GROUP BY 1 ORDER BY 1 LIMIT 2"
                )
            ).all()
        )
    first, second = where.values()
    return str(first), str(second)


def test_downgrade_makes_plain_tables_with_the_same_rows(url: str) -> None:
    """If this fails, 0006 cannot be rolled back, or rolling back loses rows."""
    _fill_at_0005(url)
    before = _snapshot(url)
    upgrade(url)
    command.downgrade(alembic_config(url), "0005")
    assert _snapshot(url, like=before) == before
    assert {layout for layout in _layout(url).values()} == {("", 0, 0)}
    upgrade(url)
    assert _snapshot(url, like=before) == before
    assert {s for s, _, _ in _layout(url).values()} == {"h"}
