"""Replay protection: each `(sender_id, message_id)` is accepted once within its window."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from ibr_protocol.clock import utc_now
from ibr_protocol.errors import ReplayError


@runtime_checkable
class ReplayGuard(Protocol):
    """Remembers message ids; the service implements it over its store, tests in memory."""

    def remember(self, sender_id: str, message_id: str, expires_at: datetime) -> bool:
        """Record the id; True when it is new, False when it was already seen (a replay)."""
        ...


class InMemoryReplayGuard:
    """A thread-safe ReplayGuard for one process; forgets ids once they expire.

    `clock` must be the clock the receiver checks `message_ts` with (tests that pin `now`
    pass the same pinned clock), otherwise ids could be forgotten while still replayable.
    """

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], datetime] = {}
        self._expiries: list[tuple[datetime, tuple[str, str]]] = []
        self._lock = threading.Lock()

    def remember(self, sender_id: str, message_id: str, expires_at: datetime) -> bool:
        key = (sender_id, message_id)
        with self._lock:
            self._forget_expired(self._clock())
            if key in self._seen:
                return False
            self._seen[key] = expires_at
            heapq.heappush(self._expiries, (expires_at, key))
            return True

    def _forget_expired(self, now: datetime) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            _, key = heapq.heappop(self._expiries)
            self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)


def check_not_replayed(
    guard: ReplayGuard, sender_id: str, message_id: str, expires_at: datetime
) -> None:
    """Raise ReplayError naming `header.message_id` when the guard has seen this id before."""
    if not guard.remember(sender_id, message_id, expires_at):
        raise ReplayError(f"message_id {message_id!r} from {sender_id!r} was already received")
