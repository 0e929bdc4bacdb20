"""A complete IBR on loopback: migrated database, running server, a registered SP-MIS, a receiver.

``ibr demo`` runs its steps in one; the host's end-to-end tests use it as their fixture, so the
demo and the tests exercise exactly the same wiring as ``ibr serve``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ibr_protocol.clock import format_timestamp, utc_now
from ibr_protocol.spec import read_json, spec_dir
from ibr_service.api import Host, build_host, create_app
from ibr_service.api.loopback import CallbackRecorder, serve_in_thread
from ibr_service.cli.spmis import ScriptedSpMis
from ibr_service.security.client_interop import set_client_interop
from ibr_service.security.clients import register_client
from ibr_service.settings import Settings

__all__ = [
    "DCI_SANDBOX_RELAXATIONS",
    "DCI_SANDBOX_WARNING",
    "Sandbox",
    "dci_sandbox",
    "dci_sandbox_app",
    "migrate",
    "sandbox",
]


@dataclass
class Sandbox:
    """What a running sandbox offers."""

    host: Host
    url: str
    spmis: ScriptedSpMis
    receiver: CallbackRecorder
    receiver_url: str


def migrate(database_url: str) -> None:
    """Bring the database schema to the newest version (alembic, via store_sql)."""
    from ibr_service.store_sql import upgrade

    upgrade(database_url)


@contextmanager
def sandbox(
    settings: Settings,
    *,
    sender_id: str = "test.spmis",
    allowed_callback_hosts: tuple[str, ...] | None = None,
    allow_private_callbacks: bool = True,
    receiver: CallbackRecorder | None = None,
    signature_policy: str = "required",
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
) -> Iterator[Sandbox]:
    """Migrate ``settings.database_url``, start the IBR and a receiver, register one SP-MIS
    (with ``signature_policy`` ``required`` or ``optional``, security profile §3c). Its callback
    targets are ``allowed_callback_hosts`` (each ``host:port`` or a base URL), by default the
    receiver's ``127.0.0.1:PORT`` only. ``wrap`` wraps the IBR's app (the DCI sandbox does)."""
    migrate(settings.database_url)
    host = build_host(settings)
    recorder = receiver or CallbackRecorder()
    with ExitStack() as stack:
        engine = getattr(host.store, "engine", None)
        if engine is not None:  # closed last, after both servers stopped
            stack.callback(engine.dispose)
        receiver_url = stack.enter_context(serve_in_thread(recorder.app))
        api: ASGIApp = create_app(host)
        url = stack.enter_context(serve_in_thread(wrap(api) if wrap else api))
        spmis = ScriptedSpMis(
            base_url=f"{url}{settings.base_path}",
            sender_id=sender_id,
            client_secret="",
            receiver_id=settings.receiver_id,
        )
        stack.callback(spmis.http.close)
        _, secret = register_client(
            host.store,
            sender_id=sender_id,
            now=utc_now(),
            public_keys=[spmis.public_jwk],
            allowed_callback_hosts=(
                (receiver_url.removeprefix("http://"),)
                if allowed_callback_hosts is None
                else allowed_callback_hosts
            ),
            allow_private_callbacks=allow_private_callbacks,
        )
        spmis.client_secret = secret
        if signature_policy != "required":
            set_client_interop(host.store, sender_id, signature_policy=signature_policy)
        yield Sandbox(host=host, url=url, spmis=spmis, receiver=recorder, receiver_url=receiver_url)


# --------------------------------------------------------------------------- DCI sandbox

DCI_SANDBOX_WARNING = (
    "DCI SANDBOX MODE: /ibr/<operation> answers DCI's IBR compliance scenarios with fixed demo "
    "bodies, without token, signature or schema checks. Demo data only: never expose it or "
    "point it at a real database."
)

DCI_SANDBOX_RELAXATIONS: tuple[str, ...] = (
    "POST /ibr/<operation> (the paths of DCI's IBR scenarios, e.g. /ibr/search, /ibr/sync/search, "
    "/ibr/txn/on-status) is answered 200 whatever the body: empty, absent Content-Type, no "
    "Authorization, no signature",
    "those answers are fixed demo bodies in the scenarios' shapes, not the standard's: an integer "
    "transaction_id at the top level of search and sync/txn/status, a flat search-response item "
    "for sync/search, an ACK body for the other operations",
    "the response header is written with the literal spelling Content-Type",
    "the IBR runs on a fresh, empty temporary SQLite file (IBR_DATABASE_URL is ignored); the demo "
    "bodies come from the spec's synthetic examples, so no real person is ever served",
)
"""Exactly what `ibr serve --dci-sandbox` relaxes (docs/dci-compatibility.md repeats it)."""

_DEMO_CORRELATION_ID = "sandbox-correlation-1"
_DEMO_TRANSACTION_ID = 1


def _demo_ack() -> dict[str, Any]:
    return {
        "message": {
            "ack_status": "ACK",
            "timestamp": format_timestamp(),
            "correlation_id": _DEMO_CORRELATION_ID,
        }
    }


def _demo_search_item() -> dict[str, Any]:
    example = spec_dir() / "examples/valid/post_reg_sync_search/envelope_search_response.json"
    item: dict[str, Any] = read_json(example)["message"]["search_response"][0]
    return {**item, "timestamp": format_timestamp()}


def _demo_body(operation: str) -> dict[str, Any]:
    if operation == "search":
        return {
            "transaction_id": _DEMO_TRANSACTION_ID,
            "correlation_id": _DEMO_CORRELATION_ID,
            "search_response": {"status": "rcvd", "message": "demo search accepted"},
        }
    if operation == "sync/search":
        return _demo_search_item()
    if operation == "sync/txn/status":
        return {
            "transaction_id": _DEMO_TRANSACTION_ID,
            "correlation_id": _DEMO_CORRELATION_ID,
            "txnstatus_response": {
                "transaction_id": _DEMO_TRANSACTION_ID,
                "correlation_id": _DEMO_CORRELATION_ID,
            },
        }
    return _demo_ack()


DCI_SANDBOX_OPERATIONS = (
    "search",
    "on-search",
    "subscribe",
    "on-subscribe",
    "unsubscribe",
    "on-unsubscribe",
    "notify",
    "txn/status",
    "txn/on-status",
    "sync/search",
    "sync/txn/status",
    "sync/enrolled",
    "sync/enrollment/updates",
)


def dci_sandbox_app(production: ASGIApp) -> ASGIApp:
    """`production` with DCI's scenario paths `/ibr/<operation>` answered by demo bodies; every
    other path (the standard's `/registry/...` and `/ibr/registry/...`) is `production`."""
    paths = {f"/ibr/{operation}": operation for operation in DCI_SANDBOX_OPERATIONS}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        operation = paths.get(scope.get("path", "")) if scope["type"] == "http" else None
        if operation is None or scope.get("method") != "POST":
            await production(scope, receive, send)
            return
        more = True
        while more:  # drain whatever body came; it is not read
            event = await receive()
            more = event.get("more_body", False) and event["type"] == "http.request"
        body = json.dumps(_demo_body(operation)).encode()
        # Raw ASGI so that the header name keeps the spelling two scenarios look for.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"Content-Type", b"application/json"),
                    (b"Content-Length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


@contextmanager
def dci_sandbox(settings: Settings | None = None) -> Iterator[tuple[str, Sandbox]]:
    """A DCI sandbox on loopback over a temporary demo database; yields (URL, the sandbox)."""
    with tempfile.TemporaryDirectory(prefix="ibr-dci-sandbox-") as folder:
        demo = (settings or Settings()).model_copy(
            update={"database_url": f"sqlite:///{folder}/demo.db"}
        )
        with sandbox(demo, wrap=dci_sandbox_app) as box:
            yield box.url, box


def dci_sandbox_settings(settings: Settings) -> Settings:
    """`settings` on a fresh, migrated temporary SQLite file (never the configured database)."""
    folder = tempfile.mkdtemp(prefix="ibr-dci-sandbox-")
    demo = settings.model_copy(update={"database_url": f"sqlite:///{folder}/demo.db"})
    migrate(demo.database_url)
    return demo


def serve_dci_sandbox_banner(say: Callable[[str], None]) -> None:
    """The warning `ibr serve --dci-sandbox` prints at start, with every relaxation."""
    say(f"[bold red]WARNING[/bold red] {DCI_SANDBOX_WARNING}")
    for relaxation in DCI_SANDBOX_RELAXATIONS:
        say(f"  - relaxed: {relaxation}")
