"""The whole reference SP-MIS in one object: store, SDK client, receiver and (optionally) the
trigger API, wired from one configuration.

    with ReferenceSpMis(config).start_receiver() as sp_mis:
        handle = sp_mis.client.search_async([idtype_query("NID", "1")])
        print(handle.result(timeout=30))
"""

from __future__ import annotations

from typing import Any, Self

from fastapi import FastAPI

from ibr_client.client import IbrClient
from ibr_client.config import ClientConfig
from ibr_client.handles import CallbackHook, CallbackHub
from ibr_client.keys import IbrKeys
from ibr_client.listener import RunningListener, running_listener
from ibr_client.receiver import create_receiver_app
from ibr_client.server import EmbeddedServer
from ibr_client.store import ClientStore
from ibr_client.trigger import create_trigger_app

__all__ = ["ReferenceSpMis"]


class ReferenceSpMis:
    """SDK + receiver sharing one store. When ``callback_url`` is not configured and the
    receiver runs embedded, the receiver's own loopback URL is used as the callback URL.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        ibr_keys: IbrKeys | None = None,
        trigger: bool = False,
        http: Any = None,
    ) -> None:
        self.config = config
        self._ibr_keys = ibr_keys
        self._trigger = trigger
        self._http = http
        self.store = ClientStore(config.store_path)
        self.hub = CallbackHub(self.store)
        self.server: EmbeddedServer | None = None
        self.client = self._make_client(config)

    def _make_client(self, config: ClientConfig) -> IbrClient:
        self.config = config
        return IbrClient(config, hub=self.hub, ibr_keys=self._ibr_keys, http=self._http)

    def on_callback(self, hook: CallbackHook) -> None:
        """Run ``hook`` for every callback stored (notifications included)."""
        self.hub.add_hook(hook)

    def receiver_app(self) -> FastAPI:
        trigger = create_trigger_app(self.client) if self._trigger else None
        return create_receiver_app(self.hub, self.client.codec, self.config, trigger=trigger)

    def start_receiver(self, *, host: str | None = None, port: int | None = None) -> Self:
        """Serve the receiver in a background thread (port 0: any free port)."""
        server = EmbeddedServer(
            host=host or self.config.listen_host,
            port=self.config.listen_port if port is None else port,
        )
        if self.config.callback_url is None:
            self.use_callback_url(server.url)
        self.server = server.start(self.receiver_app())
        return self

    def receive_callbacks(self) -> RunningListener | None:
        """Make callbacks reach this SP-MIS's store: through the running ``ibr-client listen``
        of the same ``state_dir`` when there is one (returned), else an embedded receiver."""
        listener = running_listener(self.config.state_dir)
        if listener is None:
            self.start_receiver()
            return None
        if self.config.callback_url is None:
            self.use_callback_url(listener.url)
        return listener

    def use_callback_url(self, url: str) -> None:
        """Send ``url`` (the receiver's base URL) as the base of every ``sender_uri``."""
        if self._http is None:  # a caller-supplied HTTP client is reused, not closed
            self.client.close()
        self.client = self._make_client(self.config.model_copy(update={"callback_url": url}))

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.client.close()
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
