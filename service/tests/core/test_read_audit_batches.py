"""Read audits in group commits: every read recorded before it answers, one chain, any writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from ibr_service.core import IbrCore, audit_verify
from ibr_service.core.audit_batch import AuditBatcher, AuditRecord
from ibr_service.core.samples import enrollment_message, person_beneficiary, search_message
from ibr_service.core.settings import CoreSettings
from ibr_service.core.store import StoreTransaction
from ibr_service.store_sql import SqlStore
from ibr_service.store_sql.tables import audit_log

from .conftest import SP, StepClock

READERS = 24


def _enrolled(value: str) -> dict[str, Any]:
    return {
        "transaction_id": "T",
        "enrolled_criteria": {
            "query_type": "idtype-value",
            "query": {"type": "NID", "value": value},
        },
    }


def _audited(store: SqlStore, subject: str) -> list[str]:
    """The actions recorded for `subject`, read on a connection of its own."""
    with store.engine.connect() as conn:
        query = select(audit_log.c.action).where(audit_log.c.subject == subject)
        return [str(a) for a in conn.execute(query).scalars()]


def test_concurrent_reads_of_two_processes_are_all_recorded_and_the_chain_verifies(
    sql_store: SqlStore, clock: StepClock
) -> None:
    """If this fails, a read can answer without its audit entry, or batches fork the chain."""
    first = IbrCore(sql_store, clock=clock, settings=CoreSettings(), batch_read_audits=True)
    first.enrollment_updates(
        enrollment_message([person_beneficiary(str(i)) for i in range(4)]), caller=SP
    )
    # A second engine and batcher on the same database stands for a second worker process.
    other_store = SqlStore.from_url(sql_store.engine.url.render_as_string(hide_password=False))
    second = IbrCore(other_store, clock=clock, settings=CoreSettings(), batch_read_audits=True)
    start = threading.Barrier(READERS)
    recorded_when_answered: dict[str, list[str]] = {}
    failures: list[BaseException] = []

    def read(i: int) -> None:
        core = first if i % 2 else second
        start.wait()
        try:
            if i % 3:
                answer = core.enrolled(_enrolled(str(i % 6)), caller=SP)
            else:
                answer = core.sync_search(
                    search_message("idtype-value", {"type": "NID", "value": str(i % 6)}),
                    caller=SP,
                )
            subject = str(answer["correlation_id"])
            recorded_when_answered[subject] = _audited(sql_store, subject)
        except BaseException as exc:  # surfaced below, on the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other_store.engine.dispose()

    assert failures == []
    assert len(recorded_when_answered) == READERS
    for actions in recorded_when_answered.values():
        assert len(actions) == 1
        assert actions[0] in {"enrolled.check", "search.read"}
    result = audit_verify(sql_store)
    assert result.ok, result.problem
    assert result.entries == 1 + READERS  # the enrolment write, then every read


class _GatedStore:
    """A store whose first unit of work waits until the test opens the gate."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.units = 0

    @contextmanager
    def _unit(self) -> Iterator[StoreTransaction]:
        self.units += 1
        if self.units == 1:
            self.entered.set()
            self.gate.wait()
        with self.store.transaction() as tx:
            yield tx

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        return self._unit()


def _record(i: int) -> AuditRecord:
    return AuditRecord(
        at=StepClock()(), actor="SP", action="enrolled.check", subject=f"c-{i}", detail={"i": i}
    )


def test_reads_that_arrive_during_an_append_share_the_next_one(sql_store: SqlStore) -> None:
    """If this fails, every read still pays for an append of its own (no group commit)."""
    gated = _GatedStore(sql_store)
    batcher = AuditBatcher(gated)  # type: ignore[arg-type]
    seqs: dict[int, int] = {}

    def record(i: int) -> None:
        seqs[i] = batcher.record(_record(i)).seq

    leader = threading.Thread(target=record, args=(0,))
    leader.start()
    gated.entered.wait()
    followers = [threading.Thread(target=record, args=(i,)) for i in range(1, 9)]
    for t in followers:
        t.start()
    try:
        for _ in range(6000):  # until every follower waits behind the held append
            if len(batcher._queue) == 8:
                break
            threading.Event().wait(0.01)
        assert len(batcher._queue) == 8, "the followers did not queue behind the leader's append"
    finally:
        gated.gate.set()
    for t in [leader, *followers]:
        t.join()

    assert gated.units == 2  # the leader's append, then one for the eight that waited
    assert sorted(seqs.values()) == list(range(1, 10))
    assert audit_verify(sql_store).entries == 9


class _FailingStore:
    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        raise ConnectionError("the database went away")


def test_a_read_whose_audit_append_fails_gets_no_answer(
    sql_store: SqlStore, clock: StepClock
) -> None:
    """If this fails, a read can answer although its audit entry was never written."""
    core = IbrCore(sql_store, clock=clock, settings=CoreSettings(), batch_read_audits=True)
    core.read_audits = AuditBatcher(_FailingStore())  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        core.enrolled(_enrolled("1"), caller=SP)
    # The batcher is not left stuck: the next read leads its own append (and fails again).
    with pytest.raises(ConnectionError):
        core.sync_search(search_message("idtype-value", {"type": "NID", "value": "1"}), caller=SP)
