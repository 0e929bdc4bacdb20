"""Broken IBRs that only schema-driven fuzzing catches, made by the mutating proxy of mutants.py.

Each breaks one operation in a way the hand-written checks do not exercise (an odd status, media
type or field on answers to generated bodies), so a run of the fuzzing check filtered to that
operation (`fuzz_operations`) must report the named requirement as failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .mutants import Call, Json, Mutant, ProxyState, always_ack, build_proxy, drop, on_ack
from .servers import free_port, serve

Asgi = Callable[..., Any]


@dataclass(frozen=True)
class FuzzMutant:
    mutant: Mutant
    operation: str
    """The one operation fuzzed, e.g. `txn/status` (a path under the registry prefix)."""
    error_media_type: str | None = None
    """Answers with a 4xx/5xx on the operation carry this Content-Type instead of JSON."""

    @property
    def path(self) -> str:
        return f"/registry/{self.operation}"


def _on_path(
    path: str, mutate: Callable[[Call, int, Json], tuple[int, Json]]
) -> Callable[[Call, int, Json], tuple[int, Json]]:
    def apply(call: Call, code: int, body: Json) -> tuple[int, Json]:
        return mutate(call, code, body) if call.path == path else (code, body)

    return apply


def _status_instead(was: int, now: int, body: Json = None) -> Callable[..., tuple[int, Json]]:
    def apply(call: Call, code: int, out: Json) -> tuple[int, Json]:
        return (now, out if body is None else body) if code == was else (code, out)

    return apply


def _error_media_type(app: Asgi, path: str, media_type: str) -> Asgi:
    """`app` with the Content-Type of every error answer on `path` replaced."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != path:
            await app(scope, receive, send)
            return

        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                kept = [(k, v) for k, v in message["headers"] if k.lower() != b"content-type"]
                message = {**message, "headers": [*kept, (b"content-type", media_type.encode())]}
            await send(message)

        await app(scope, receive, rewrite)

    return wrapped


FUZZ_CATALOGUE: list[FuzzMutant] = [
    FuzzMutant(
        Mutant(
            "unsubscribe_crashes_on_bad_body",
            "IBR-ERR-001",
            response=_on_path(
                "/registry/unsubscribe", _status_instead(400, 500, {"detail": "internal error"})
            ),
        ),
        "unsubscribe",
    ),
    FuzzMutant(
        Mutant(
            "sync_txn_status_undocumented_status",
            "IBR-ERR-001",
            response=_on_path("/registry/sync/txn/status", _status_instead(400, 422)),
        ),
        "sync/txn/status",
    ),
    FuzzMutant(
        Mutant("txn_status_error_as_text", "IBR-ENV-005"),
        "txn/status",
        error_media_type="text/plain",
    ),
    FuzzMutant(
        Mutant(
            "txn_status_ack_without_timestamp",
            "IBR-ACK-001",
            response=_on_path("/registry/txn/status", on_ack(drop(["timestamp"]))),
        ),
        "txn/status",
    ),
    FuzzMutant(
        Mutant(
            "subscribe_accepts_invalid_body",
            "IBR-ENV-004",
            response=_on_path("/registry/subscribe", always_ack),
        ),
        "subscribe",
    ),
]


@contextmanager
def proxied(upstream: str, suite_key: dict[str, Any], fuzz_mutant: FuzzMutant) -> Iterator[str]:
    """The mutating proxy of mutants.py in front of `upstream`, with this mutant; its URL."""
    port = free_port()
    state = ProxyState(upstream=upstream, suite_key=suite_key)
    app: Asgi = build_proxy(state, fuzz_mutant.mutant, lambda: f"http://127.0.0.1:{port}")
    if fuzz_mutant.error_media_type:
        app = _error_media_type(app, fuzz_mutant.path, fuzz_mutant.error_media_type)
    with serve(app, port=port) as url:
        yield url
