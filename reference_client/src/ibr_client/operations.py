"""The standard processes as data: which path, header action and schemas each one uses.

The SDK, the receiver and the tests all read this table, so that a path or schema name is
written once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CALLBACKS", "OPERATIONS", "Callback", "Operation"]


@dataclass(frozen=True)
class Operation:
    """One request the SP-MIS sends to the IBR."""

    name: str
    path: str
    action: str
    request_schema: str
    response_schema: str | None
    """The message schema of a synchronous answer; None when the IBR answers with an ACK."""
    callback_action: str | None = None
    """The action of the callback that completes an asynchronous request."""

    @property
    def is_async(self) -> bool:
        return self.callback_action is not None


@dataclass(frozen=True)
class Callback:
    """One request the IBR sends to the SP-MIS receiver."""

    action: str
    path: str
    message_schema: str
    scope: str
    """The access token scope the IBR needs for it (``x-oauth2-scope`` in spec/openapi.yaml)."""

    @property
    def paths(self) -> tuple[str, str]:
        """Where the receiver serves it: the spec's ``/registry/...`` path, and the same under
        ``/ibr/...``, where DCI's IBR compliance scenarios post callbacks."""
        return (self.path, "/ibr" + self.path.removeprefix("/registry"))


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "publish",
            "/registry/sync/enrollment/updates",
            "notify",
            "messages/enrollment_updates_request",
            "messages/enrollment_updates_response",
        ),
        Operation(
            "enrolled",
            "/registry/sync/enrolled",
            "search",
            "messages/enrolled_request",
            "messages/enrolled_response",
        ),
        Operation(
            "sync_search",
            "/registry/sync/search",
            "search",
            "messages/search_request",
            "messages/search_response",
        ),
        Operation(
            "sync_txn_status",
            "/registry/sync/txn/status",
            "txn-status",
            "messages/txn_status_request",
            "messages/txn_status_response",
        ),
        Operation(
            "search", "/registry/search", "search", "messages/search_request", None, "on-search"
        ),
        Operation(
            "subscribe",
            "/registry/subscribe",
            "subscribe",
            "messages/subscribe_request",
            None,
            "on-subscribe",
        ),
        Operation(
            "unsubscribe",
            "/registry/unsubscribe",
            "unsubscribe",
            "messages/unsubscribe_request",
            None,
            "on-unsubscribe",
        ),
        Operation(
            "txn_status",
            "/registry/txn/status",
            "txn-status",
            "messages/txn_status_request",
            None,
            "txn-on-status",
        ),
    )
}

CALLBACKS: dict[str, Callback] = {
    cb.action: cb
    for cb in (
        Callback(
            "on-search", "/registry/on-search", "messages/search_response", "registry.on-search"
        ),
        Callback(
            "on-subscribe",
            "/registry/on-subscribe",
            "messages/subscribe_response",
            "registry.on-subscribe",
        ),
        Callback(
            "on-unsubscribe",
            "/registry/on-unsubscribe",
            "messages/unsubscribe_response",
            "registry.on-unsubscribe",
        ),
        Callback(
            "txn-on-status",
            "/registry/txn/on-status",
            "messages/txn_status_response",
            "registry.txn.on-status",
        ),
        Callback("notify", "/registry/notify", "messages/notify_event_request", "registry.notify"),
    )
}
