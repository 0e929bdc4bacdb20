"""Two outbox dispatchers on one store at once (SQLite and PostgreSQL): the accepted requests
are processed once and each callback is sent once, whichever dispatcher claims it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from datetime import UTC, datetime

import httpx

from ibr_protocol.clock import utc_now
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.samples import enrollment_message, person_beneficiary, search_message
from ibr_service.outbox import OutboxDispatcher
from ibr_service.security.clients import register_client
from ibr_service.security.keys import load_or_create_keys
from ibr_service.settings import Settings
from ibr_service.store_sql import SqlStore

SENDER = "sp"
CALLBACK = "https://spmis.example.org/registry/on-search"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _accepted_searches(core: IbrCore, count: int) -> list[str]:
    caller = Caller(SENDER)
    core.enrollment_updates(enrollment_message([person_beneficiary("1")]), caller=caller)
    message = search_message("idtype-value", {"type": "NID", "value": "1"})
    ids = []
    for i in range(count):
        header = {"message_id": f"m-{i}", "action": "search", "sender_uri": CALLBACK}
        envelope = {"header": header, "message": message}
        ids.append(core.accept_async("search", envelope, caller=caller))
    return ids


def test_two_dispatchers_send_each_callback_once(store: SqlStore) -> None:
    """If this fails, two dispatchers (one per worker) on the same database both process an
    accepted request or both send its callback: the claim of transactions or of outbox jobs
    is not exclusive."""
    register_client(
        store, sender_id=SENDER, now=START, allowed_callback_hosts=["spmis.example.org:443"]
    )
    core = IbrCore(store, clock=utc_now, settings=CoreSettings())
    ids = _accepted_searches(core, 40)
    received: Counter[str] = Counter()
    lock = threading.Lock()

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)  # let the other dispatcher run meanwhile
        with lock:
            received[json.loads(request.content)["message"]["correlation_id"]] += 1
        return httpx.Response(200)

    settings = Settings(database_url="sqlite://", outbox_batch_size=7, outbox_concurrency=3)
    keys = load_or_create_keys(store, now=START)

    def drain() -> None:
        dispatcher = OutboxDispatcher(
            store,
            core,
            keys=keys,
            settings=settings,
            clock=utc_now,
            http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
            resolver=lambda host: ["93.184.216.34"],
        )
        while not asyncio.run(dispatcher.run_once()).idle:
            pass

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert received == Counter(dict.fromkeys(ids, 1))
    with store.transaction() as tx:
        jobs = [job for cid in ids for job in tx.outbox_jobs_for(cid)]
    assert len(jobs) == len(ids)
    assert {job.status for job in jobs} == {"delivered"}
