"""Replay memory over the store: `ibr_protocol.ReplayGuard` for the host."""

from __future__ import annotations

from datetime import datetime

from ibr_service.core.store import Store

__all__ = ["StoreReplayGuard"]


class StoreReplayGuard:
    """Remembers (sender_id, message_id) in the store, so replay is caught across restarts."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def remember(self, sender_id: str, message_id: str, expires_at: datetime) -> bool:
        """True the first time this pair is seen (committed at once)."""
        with self._store.transaction() as tx:
            return tx.remember_message(sender_id, message_id, expires_at)
