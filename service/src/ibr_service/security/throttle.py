"""Rate limits: token buckets per client and per source address, answered with 429 + Retry-After.

State is kept **in memory, per worker process**: with N workers a caller gets up to N times the
configured rate, and a restart forgets every bucket. That is the documented trade-off for a
limiter that costs no database round trip per request; a deployment that needs one global limit
puts it in its reverse proxy as well.

A bucket holds ``burst`` requests and refills at ``rate`` per second; a request that finds it
empty is refused with the seconds until one request's worth has refilled. Buckets of idle keys
are dropped once they would be full again, so an attacker cycling addresses or client ids
cannot grow the table without bound (it is also capped at ``max_keys``).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ibr_protocol.errors import ErrorCode
from ibr_service.security.errors import HostSecurityError

__all__ = ["RateLimit", "Throttle", "ThrottleSettings", "Throttles", "TooManyRequestsError"]


class TooManyRequestsError(HostSecurityError):
    """429: the caller sent more than its rate; ``headers`` carries ``Retry-After``."""

    default_code = ErrorCode.REQUEST_TOO_MANY_REQUESTS
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, reason="err.request.rate_limited", field=field)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class RateLimit:
    """``rate`` requests per second on average, ``burst`` at once; ``rate <= 0`` is no limit."""

    rate: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0


class Throttle:
    """Token buckets keyed by any string (``client:<id>``, ``addr:<ip>``), thread-safe."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        what: str,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.what = what
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        """key -> (tokens left, time of the last update)."""
        self._lock = threading.Lock()

    def hit(self, key: str, *, cost: float = 1.0) -> None:
        """Take ``cost`` from ``key``'s bucket, or raise ``TooManyRequestsError``."""
        if not self.limit.enabled:
            return
        now = self._clock()
        with self._lock:
            tokens = self._refilled(key, now)
            if tokens < cost:
                wait = (cost - tokens) / self.limit.rate
                self._buckets[key] = (tokens, now)
                raise TooManyRequestsError(
                    f"too many {self.what}; at most {self.limit.rate:g} per second "
                    f"(bursts of {self.limit.burst}); retry after the Retry-After seconds",
                    retry_after=max(1, math.ceil(wait)),
                )
            self._buckets[key] = (tokens - cost, now)

    def record(self, key: str) -> None:
        """Take one from ``key``'s bucket without refusing (counting failures)."""
        with contextlib.suppress(TooManyRequestsError):
            self.hit(key)

    def would_refuse(self, key: str) -> bool:
        """True when ``key``'s bucket is empty (nothing is taken)."""
        if not self.limit.enabled:
            return False
        with self._lock:
            return self._refilled(key, self._clock()) < 1.0

    def _refilled(self, key: str, now: float) -> float:
        burst = float(self.limit.burst)
        state = self._buckets.get(key)
        if state is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now)
            return burst
        tokens, since = state
        return min(burst, tokens + (now - since) * self.limit.rate)

    def _forget_full(self, now: float) -> None:
        full_after = self.limit.burst / self.limit.rate
        for key, (_, since) in list(self._buckets.items()):
            if now - since >= full_after:
                del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()  # under a flood of new keys, forgetting beats growing


class ThrottleSettings(Protocol):
    """The limits a host configures (``ibr_service.settings.Settings`` has them)."""

    @property
    def rate_per_client(self) -> float: ...
    @property
    def burst_per_client(self) -> int: ...
    @property
    def rate_per_address(self) -> float: ...
    @property
    def burst_per_address(self) -> int: ...
    @property
    def token_rate_per_address(self) -> float: ...
    @property
    def token_burst_per_address(self) -> int: ...
    @property
    def token_failures_per_minute(self) -> float: ...


@dataclass(frozen=True)
class Throttles:
    """Every limiter of one process."""

    per_client: Throttle
    """Operations per authenticated client (checked right after its token)."""
    per_address: Throttle
    """Operations and token requests per source address (before the body is read)."""
    token_per_address: Throttle
    """Token requests per source address: each costs a scrypt hash."""
    token_failures: Throttle
    """Failed client authentications per source address (password guessing)."""

    @classmethod
    def from_settings(cls, settings: ThrottleSettings) -> Throttles:
        failures = settings.token_failures_per_minute
        return cls(
            per_client=Throttle(
                RateLimit(settings.rate_per_client, settings.burst_per_client), what="requests"
            ),
            per_address=Throttle(
                RateLimit(settings.rate_per_address, settings.burst_per_address),
                what="requests from this address",
            ),
            token_per_address=Throttle(
                RateLimit(settings.token_rate_per_address, settings.token_burst_per_address),
                what="token requests from this address",
            ),
            token_failures=Throttle(
                RateLimit(failures / 60.0, max(1, math.ceil(failures))),
                what="failed client authentications from this address",
            ),
        )

    @classmethod
    def unlimited(cls) -> Throttles:
        """No limits (a host that throttles elsewhere, or a test)."""
        off = RateLimit(0, 1)
        return cls(*(Throttle(off, what="requests") for _ in range(4)))
