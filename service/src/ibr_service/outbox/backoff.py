"""Retry timing: exponential backoff with full jitter (AWS architecture blog, 2015)."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["retry_delay"]


def retry_delay(
    attempts: int,
    *,
    base_seconds: float,
    cap_seconds: float,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 = the first failure).

    A random point in ``[base/2, min(cap, base * 2**(attempts-1))]``: exponential growth keeps a
    down receiver from being hammered, the jitter keeps many jobs from retrying in lock-step,
    and the floor keeps a retry from being immediate.
    """
    ceiling = min(cap_seconds, base_seconds * 2.0 ** max(attempts - 1, 0))
    floor = min(base_seconds / 2, ceiling)
    return float(floor + (ceiling - floor) * rng())
