"""Bearer tokens for the IBR's callbacks to an SP-MIS (security profile §1, IBR-SEC-004).

Each SP-MIS runs ``POST /oauth2/client/token`` for the IBR. A client record with
``callback_token_url`` gets one ``TokenCache`` per dispatcher: fetched on first use, shortly
before expiry and after the SP-MIS answered 401. Neither the secret nor the token is ever put
in an error message or a log line.
"""

from __future__ import annotations

import asyncio

import httpx

from ibr_protocol.tokens import TokenCache, TokenEndpointError
from ibr_service.core.records import ClientRecord

__all__ = ["CallbackAuthError", "CallbackTokens"]


class CallbackAuthError(Exception):
    """No token could be had from the client's token endpoint; the attempt counts as failed."""


class CallbackTokens:
    """The current callback token of each client that asks for one."""

    def __init__(self, default_client_id: str) -> None:
        self._default_client_id = default_client_id
        self._caches: dict[str, tuple[tuple[str, str, str], TokenCache]] = {}
        self._locks: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}

    async def token(self, http: httpx.AsyncClient, client: ClientRecord) -> str | None:
        """The bearer token to send to ``client``, or None when it asks for none."""
        cache = self._cache(client)
        if cache is None:
            return None
        # One fetch at a time per client: a pass delivering many jobs asks once, not per job.
        async with self._lock(client.sender_id):
            token = cache.current()
            if token is not None:
                return token
            try:
                response = await http.post(
                    cache.token_url,
                    data=cache.request_form(),
                    headers={"Accept": "application/json"},
                )
                return cache.accept(response)
            except httpx.HTTPError as exc:
                raise CallbackAuthError(
                    f"token endpoint {cache.token_url} unreachable: {type(exc).__name__}: {exc}"
                ) from None
            except TokenEndpointError as exc:
                raise CallbackAuthError(str(exc)) from None

    def invalidate(self, client: ClientRecord) -> None:
        """Forget ``client``'s token (it answered 401): the next attempt fetches a new one."""
        entry = self._caches.get(client.sender_id)
        if entry is not None:
            entry[1].invalidate()

    def _cache(self, client: ClientRecord) -> TokenCache | None:
        if not client.callback_token_url:
            self._caches.pop(client.sender_id, None)
            return None
        config = (
            client.callback_token_url,
            client.callback_client_id or self._default_client_id,
            client.callback_client_secret or "",
        )
        entry = self._caches.get(client.sender_id)
        if entry is None or entry[0] != config:  # new, or re-configured by an operator
            entry = (config, TokenCache(*config))
            self._caches[client.sender_id] = entry
        return entry[1]

    def _lock(self, sender_id: str) -> asyncio.Lock:
        # A lock belongs to one event loop; `ibr outbox run --once` and tests start new ones.
        loop = asyncio.get_running_loop()
        entry = self._locks.get(sender_id)
        if entry is None or entry[0] is not loop:
            entry = (loop, asyncio.Lock())
            self._locks[sender_id] = entry
        return entry[1]
