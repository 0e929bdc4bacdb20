"""A server killed (SIGKILL) after it ACKed an async request, before any callback, still delivers
that callback exactly once after a restart: the accepted request is durable."""

from __future__ import annotations

import time

from ibr_protocol.clock import utc_now
from ibr_service.api.loopback import CallbackRecorder, serve_in_thread
from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import migrate
from ibr_service.cli.spmis import ScriptedSpMis, enrollment_message, search_message
from ibr_service.security.clients import register_client, set_callback_targets
from ibr_service.store_sql import SqlStore

from .conftest import ServerProcess


def test_acknowledged_search_survives_kill_and_is_delivered_once(
    server_env: dict[str, str], servers: list[ServerProcess]
) -> None:
    """If this fails, a crash loses an acknowledged request, or a restart sends it twice."""
    url = server_env["IBR_DATABASE_URL"]
    migrate(url)
    store = SqlStore.from_url(url)
    spmis = ScriptedSpMis(base_url="", sender_id="restart.spmis", client_secret="")
    _, spmis.client_secret = register_client(
        store,
        sender_id="restart.spmis",
        now=utc_now(),
        public_keys=[spmis.public_jwk],
        allowed_callback_hosts=[],  # the receiver's host:port, set once it listens
        allow_private_callbacks=True,
    )
    receiver = CallbackRecorder()
    with serve_in_thread(receiver.app) as receiver_url:
        set_callback_targets(
            store, "restart.spmis", [receiver_url.removeprefix("http://")], now=utc_now()
        )
        # First life: the outbox worker is off, so the callback cannot leave before the kill.
        first = ServerProcess({**server_env, "IBR_RUN_OUTBOX": "false"})
        servers.append(first)
        spmis.base_url = first.url
        spmis.send(
            "/registry/sync/enrollment/updates",
            "notify",
            enrollment_message(builtin_beneficiaries()),
        )
        ack = spmis.send(
            "/registry/search",
            "search",
            search_message("NID", "1000000003"),
            sender_uri=f"{receiver_url}/registry/on-search",
        ).json()["message"]
        assert ack["ack_status"] == "ACK"
        first.kill()
        assert receiver.received == []

        # Second life: same database, worker on.
        second = ServerProcess(server_env)
        servers.append(second)
        arrived = receiver.wait_for(1, timeout=20)
        assert len(arrived) == 1, arrived
        _, callback = arrived[0]
        assert callback["message"]["correlation_id"] == ack["correlation_id"]
        time.sleep(1.0)  # a duplicate would arrive within a few polls
        assert len(receiver.received) == 1
        second.kill()
    spmis.http.close()
    store.engine.dispose()
