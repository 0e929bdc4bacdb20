"""Claims due outbox jobs from the store, signs each callback with the IBR key and POSTs it.

The dispatcher also turns accepted async transactions into callbacks (``IbrCore.run_pending``),
so one worker drives the whole asynchronous path: ``run_once`` does one pass of each (the Odoo
cron and ``ibr outbox run --once``), ``run_forever`` runs them as two loops side by side, so
that callbacks go out while the next requests are processed. It runs as a background task of
the server and as ``ibr outbox run``; several workers may run at once, because claiming a
transaction or a job locks or leases it (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

Delivery semantics: a job is marked delivered once its pass's sends have all answered (one unit
of work for the pass, at most ``callback_timeout_seconds`` after its 2xx) and never sent again
after that (the store's ``dedupe_key`` keeps a second job for the same correlation id and kind
from existing). A worker that dies between the receiver's 2xx and the mark re-sends the job
once its lease expires; the callback carries the same ``correlation_id``, which receivers use
to drop the duplicate.

Authentication: a client with ``callback_token_url`` gets ``Authorization: Bearer`` on every
callback (``callback_auth``); a 401 answer drops the token and counts as a failed attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from ibr_protocol import IbrProtocolError, format_timestamp, sign_envelope
from ibr_service.core import IbrCore
from ibr_service.core.records import ClientRecord, OutboxJob
from ibr_service.core.store import Store
from ibr_service.metrics import OUTBOX_DELIVERIES, OUTBOX_SECONDS
from ibr_service.outbox.backoff import retry_delay
from ibr_service.outbox.callback_auth import CallbackAuthError, CallbackTokens
from ibr_service.security.callbacks import Resolver, check_callback_url, resolve_host
from ibr_service.security.keys import IbrKeys
from ibr_service.settings import Settings

__all__ = ["DispatchReport", "OutboxDispatcher"]

_log = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one pass of the worker did."""

    processed_transactions: int = 0
    delivered: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not (self.processed_transactions or self.delivered or self.retried or self.dead)


class OutboxDispatcher:
    """Delivers outbox jobs; ``run_once`` for one pass, ``run_forever`` for the worker loop."""

    def __init__(
        self,
        store: Store,
        core: IbrCore,
        *,
        keys: IbrKeys,
        settings: Settings,
        clock: Callable[[], datetime],
        http: httpx.AsyncClient | None = None,
        resolver: Resolver | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._core = core
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self._http = http
        self._resolver = resolver or resolve_host
        self._rng = rng
        self._tokens = CallbackTokens(default_client_id=settings.receiver_id)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: two loops side by side, one turning accepted requests
        into callback jobs, one delivering the jobs that are due.

        The delivery loop wakes as soon as the other has committed new jobs, so a callback
        goes out while the next requests are being processed. Each loop pauses only when it
        found nothing to do: briefly at first, doubling up to ``outbox_poll_seconds``.
        """
        produced = asyncio.Event()
        async with self._client() as http:
            await asyncio.gather(
                self._loop(stop, self._process_pending, wake=None, signal=produced),
                self._loop(stop, lambda: self._deliver_due(http), wake=produced, signal=None),
            )

    async def _loop(
        self,
        stop: asyncio.Event,
        step: Callable[[], Awaitable[DispatchReport]],
        *,
        wake: asyncio.Event | None,
        signal: asyncio.Event | None,
    ) -> None:
        pause = _FIRST_PAUSE
        while not stop.is_set():
            if wake is not None:
                wake.clear()  # before looking: work committed from now on wakes the pause
            try:
                report = await step()
            except Exception:  # the worker must outlive one bad pass (a database blip)
                _log.exception("outbox pass failed; retrying after the poll interval")
                report, pause = DispatchReport(), self._settings.outbox_poll_seconds
            if not report.idle:
                pause = _FIRST_PAUSE
                if signal is not None and report.processed_transactions:
                    signal.set()
                continue
            await _first_of(stop, wake, timeout=pause)
            pause = min(pause * 2, self._settings.outbox_poll_seconds)

    async def run_once(self, http: httpx.AsyncClient | None = None) -> DispatchReport:
        """Process pending transactions, then claim and deliver the jobs that are due."""
        report = await self._process_pending()
        delivered = await self._deliver_due(http)
        report.delivered, report.retried, report.dead = (
            delivered.delivered,
            delivered.retried,
            delivered.dead,
        )
        return report

    async def _process_pending(self) -> DispatchReport:
        processed = await asyncio.to_thread(
            self._core.run_pending, self._settings.outbox_batch_size
        )
        return DispatchReport(processed_transactions=processed)

    async def _deliver_due(self, http: httpx.AsyncClient | None) -> DispatchReport:
        """Claim the due jobs and send them concurrently (at most ``outbox_concurrency`` at
        once, over the client's keep-alive connections); their targets are checked once per
        client and URL, and their outcomes recorded together, in one unit of work."""
        report = DispatchReport()
        jobs = await asyncio.to_thread(self._claim)
        if not jobs:
            return report
        checked = await asyncio.to_thread(self._check_targets, jobs)
        async with self._client(http) as client:
            gate = asyncio.Semaphore(self._settings.outbox_concurrency)
            outcomes = await asyncio.gather(
                *(self._attempt(client, gate, job, *checked[job.job_id]) for job in jobs)
            )
        await asyncio.to_thread(self._record, outcomes, report)
        return report

    def _client(
        self, http: httpx.AsyncClient | None = None
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        borrowed = http or self._http
        if borrowed is not None:
            return _Borrowed(borrowed)
        concurrency = self._settings.outbox_concurrency
        return httpx.AsyncClient(
            timeout=self._settings.callback_timeout_seconds,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    def _claim(self) -> list[OutboxJob]:
        now = self._clock()
        lease = now + timedelta(seconds=self._settings.outbox_lease_seconds)
        with self._store.transaction() as tx:
            return tx.claim_outbox_jobs(now=now, limit=self._claim_limit(), lease_until=lease)

    def _claim_limit(self) -> int:
        """At most the jobs this pass can send (each rounds of ``outbox_concurrency`` lasting up
        to ``callback_timeout_seconds``) before their lease runs out and another dispatcher may
        claim them again."""
        settings = self._settings
        rounds = int(settings.outbox_lease_seconds // (2 * settings.callback_timeout_seconds))
        return min(settings.outbox_batch_size, max(1, rounds) * settings.outbox_concurrency)

    async def _attempt(
        self,
        http: httpx.AsyncClient,
        gate: asyncio.Semaphore,
        job: OutboxJob,
        client: ClientRecord | None,
        refusal: str | None,
    ) -> _Outcome:
        if client is None or refusal is not None:
            return _Outcome(job, refusal or "", permanent=True)
        async with gate:
            with OUTBOX_SECONDS.labels(kind=job.kind).time():
                error = await self._send(http, job, client)
        return _Outcome(job, error)

    def _record(self, outcomes: list[_Outcome], report: DispatchReport) -> None:
        """Write every attempt's outcome in one unit of work (delivered, retry or dead)."""
        marks: list[tuple[_Outcome, datetime | None]] = []
        for outcome in outcomes:
            if outcome.error is None:
                marks.append((outcome, None))
            else:
                marks.append((outcome, self._next_attempt(outcome)))
        with self._store.transaction() as tx:
            for outcome, next_attempt in marks:
                job = outcome.job
                if outcome.error is None:
                    tx.mark_outbox_delivered(job.job_id, at=self._clock())
                else:
                    tx.mark_outbox_failed(
                        job.job_id, error=outcome.error[:500], next_attempt_at=next_attempt
                    )
        for outcome, next_attempt in marks:
            job = outcome.job
            if outcome.error is None:
                report.delivered.append(job.job_id)
                label = "delivered"
            elif next_attempt is not None:
                report.retried.append(job.job_id)
                label = "retry"
            else:
                report.dead.append(job.job_id)
                label = "refused_target" if outcome.permanent else "dead"
            OUTBOX_DELIVERIES.labels(kind=job.kind, outcome=label).inc()

    async def _send(
        self, http: httpx.AsyncClient, job: OutboxJob, client: ClientRecord
    ) -> str | None:
        """POST the signed callback; None when delivered, else why the attempt failed."""
        try:
            token = await self._tokens.token(http, client)
        except CallbackAuthError as exc:
            return f"no callback token: {exc}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        envelope = sign_envelope(self._fresh(job.payload), self._keys.signing_key)
        try:
            response = await http.post(job.target_url, json=envelope, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        if response.status_code == 401 and token:
            self._tokens.invalidate(client)
            return f"HTTP 401 from {job.target_url}: bearer token refused, a new one is fetched"
        return f"HTTP {response.status_code} from {job.target_url}"

    def _fresh(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The stored envelope with a new ``message_id`` and ``message_ts`` for this attempt.

        Every attempt is a new message (security profile §5, IBR-CB-003): a late retry must pass
        the receiver's ±300 s window and must not be refused as a replayed ``message_id``.
        The business identity (``transaction_id``, ``correlation_id``, ``reference_id``) stays.
        """
        header = {
            **payload["header"],
            "message_id": str(uuid.uuid4()),
            "message_ts": format_timestamp(self._clock()),
        }
        return {**payload, "header": header}

    def _check_targets(
        self, jobs: list[OutboxJob]
    ) -> dict[str, tuple[ClientRecord | None, str | None]]:
        """Each job's client, and why the job must not be sent (None: it may be).

        Checked again at send time: the client's hosts may have changed, and DNS too. Each
        client is read and each of its URLs checked (resolved) once for the whole batch.
        """
        with self._store.transaction() as tx:
            clients = {sender: tx.get_client(sender) for sender in {j.sender_id for j in jobs}}
        verdicts: dict[tuple[str, str], tuple[ClientRecord | None, str | None]] = {}
        for job in jobs:
            key = (job.sender_id, job.target_url)
            if key not in verdicts:
                verdicts[key] = self._check_target(clients[job.sender_id], job)
        return {job.job_id: verdicts[(job.sender_id, job.target_url)] for job in jobs}

    def _check_target(
        self, client: ClientRecord | None, job: OutboxJob
    ) -> tuple[ClientRecord | None, str | None]:
        if client is None or not client.active:
            return None, f"client {job.sender_id!r} is unknown or disabled"
        urls = [("callback URL", job.target_url)]
        if client.callback_token_url:  # the secret goes there: the same SSRF rules apply
            urls.append(("callback token URL", client.callback_token_url))
        for what, url in urls:
            try:
                check_callback_url(
                    url,
                    allowed_hosts=client.allowed_callback_hosts,
                    allow_private=client.allow_private_callbacks,
                    resolver=self._resolver,
                )
            except IbrProtocolError as exc:
                return client, f"{what}: {exc.message}"
        return client, None

    def _next_attempt(self, outcome: _Outcome) -> datetime | None:
        """When to try again after a failed attempt; None when the job is dead."""
        attempts = outcome.job.attempts + 1
        if outcome.permanent or attempts >= self._settings.outbox_max_attempts:
            _log.warning(
                "callback %s is dead after %d attempt(s): %s",
                outcome.job.job_id,
                attempts,
                outcome.error,
            )
            return None
        delay = retry_delay(
            attempts,
            base_seconds=self._settings.outbox_backoff_base_seconds,
            cap_seconds=self._settings.outbox_backoff_cap_seconds,
            rng=self._rng,
        )
        job_id, error = outcome.job.job_id, outcome.error
        _log.info("callback %s failed (%s); retry in %.1fs", job_id, error, delay)
        return self._clock() + timedelta(seconds=delay)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One delivery attempt: ``error`` None when the receiver answered 2xx."""

    job: OutboxJob
    error: str | None
    permanent: bool = False


_FIRST_PAUSE = 0.02
"""Seconds a loop first pauses after finding nothing (doubling up to outbox_poll_seconds)."""


async def _first_of(stop: asyncio.Event, wake: asyncio.Event | None, *, timeout: float) -> None:
    """Wait until ``stop`` or ``wake`` is set, or ``timeout`` seconds have passed."""
    waiters = [asyncio.ensure_future(event.wait()) for event in (stop, wake) if event is not None]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class _Borrowed:
    """An injected client used as a context manager without closing it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def __aenter__(self) -> httpx.AsyncClient:
        return self._http

    async def __aexit__(self, *exc: object) -> None:
        return None
