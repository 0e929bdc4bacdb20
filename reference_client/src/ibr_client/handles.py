"""Waiting for asynchronous answers: a handle per request, resolved when its callback arrives.

The receiver stores every callback, then calls :meth:`CallbackHub.publish`, which wakes waiting
handles in this process and runs user hooks. A handle always reads the answer from the store, so
it also works when the receiver runs in another process that shares the store file (it then
notices by polling).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ibr_client.errors import CallbackTimeoutError, IbrRejectedError
from ibr_client.store import ClientStore, StoredCallback

__all__ = ["CallbackHandle", "CallbackHook", "CallbackHub"]

log = logging.getLogger(__name__)

CallbackHook = Callable[[StoredCallback], None]
T = TypeVar("T")
_POLL_SECONDS = 0.2


class CallbackHub:
    """Wakes handles and runs hooks when the receiver has stored a callback."""

    def __init__(self, store: ClientStore) -> None:
        self.store = store
        self._changed = threading.Condition()
        self._hooks: list[CallbackHook] = []

    def add_hook(self, hook: CallbackHook) -> None:
        """Call ``hook`` for every callback stored from now on (after it is stored)."""
        self._hooks.append(hook)

    def publish(self, callback: StoredCallback) -> None:
        with self._changed:
            self._changed.notify_all()
        for hook in list(self._hooks):
            try:
                hook(callback)
            except Exception:  # a user's hook must not turn a stored callback into an ERR
                log.exception("callback hook %r failed for callback %s", hook, callback.id)

    def wait_changed(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)


class CallbackHandle(Generic[T]):
    """The pending answer to one asynchronous request (``transaction_id``).

    ``parse`` turns the callback's message into the typed result (a protocol model).
    """

    def __init__(
        self,
        hub: CallbackHub,
        transaction_id: str,
        action: str,
        parse: Callable[[dict[str, Any]], T],
    ) -> None:
        self.hub = hub
        self.transaction_id = transaction_id
        self.action = action
        self._parse = parse

    def __repr__(self) -> str:
        return f"CallbackHandle(transaction_id={self.transaction_id!r}, action={self.action!r})"

    def poll(self) -> StoredCallback | None:
        """The callback if it has arrived, else None (never blocks)."""
        return self.hub.store.find_callback(self.transaction_id, self.action)

    def result(self, timeout: float = 30.0) -> T:
        """Block until the callback arrives; return its message (rejections raise)."""
        deadline = time.monotonic() + timeout
        while (stored := self.poll()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CallbackTimeoutError(self.transaction_id, self.action, timeout)
            self.hub.wait_changed(min(remaining, _POLL_SECONDS))
        return self._parse(_accepted_message(stored))

    async def wait(self, timeout: float = 30.0) -> T:
        """Await the callback without blocking the event loop; return its message."""
        deadline = time.monotonic() + timeout
        while (stored := self.poll()) is None:
            if time.monotonic() >= deadline:
                raise CallbackTimeoutError(self.transaction_id, self.action, timeout)
            await asyncio.sleep(0.05)
        return self._parse(_accepted_message(stored))


def _accepted_message(stored: StoredCallback) -> dict[str, Any]:
    if stored.header.get("status") == "rjct":
        raise IbrRejectedError(
            str(stored.header.get("status_reason_code") or "rjct"),
            str(stored.header.get("status_reason_message") or "rejected"),
            correlation_id=stored.correlation_id,
        )
    return stored.message
