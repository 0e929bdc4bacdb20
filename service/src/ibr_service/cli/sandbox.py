"""A complete IBR on loopback: migrated database, running server, a registered SP-MIS, a receiver.

``ibr demo`` runs its steps in one; the host's end-to-end tests use it as their fixture, so the
demo and the tests exercise exactly the same wiring as ``ibr serve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from ibr_protocol.clock import utc_now
from ibr_service.api import Host, build_host, create_app
from ibr_service.api.loopback import CallbackRecorder, serve_in_thread
from ibr_service.cli.spmis import ScriptedSpMis
from ibr_service.security.client_interop import set_client_interop
from ibr_service.security.clients import register_client
from ibr_service.settings import Settings

__all__ = ["Sandbox", "migrate", "sandbox"]


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
    allowed_callback_hosts: tuple[str, ...] = ("127.0.0.1",),
    allow_private_callbacks: bool = True,
    receiver: CallbackRecorder | None = None,
    signature_policy: str = "required",
) -> Iterator[Sandbox]:
    """Migrate ``settings.database_url``, start the IBR and a receiver, register one SP-MIS
    (with ``signature_policy`` ``required`` or ``optional``, security profile §3c)."""
    migrate(settings.database_url)
    host = build_host(settings)
    recorder = receiver or CallbackRecorder()
    with ExitStack() as stack:
        engine = getattr(host.store, "engine", None)
        if engine is not None:  # closed last, after both servers stopped
            stack.callback(engine.dispose)
        receiver_url = stack.enter_context(serve_in_thread(recorder.app))
        url = stack.enter_context(serve_in_thread(create_app(host)))
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
            allowed_callback_hosts=allowed_callback_hosts,
            allow_private_callbacks=allow_private_callbacks,
        )
        spmis.client_secret = secret
        if signature_policy != "required":
            set_client_interop(host.store, sender_id, signature_policy=signature_policy)
        yield Sandbox(host=host, url=url, spmis=spmis, receiver=recorder, receiver_url=receiver_url)
