"""Keys: ours (signing, decryption) and the IBR's public keys (its JWKS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from ibr_client.config import ClientConfig, load_jwk
from ibr_client.errors import ConfigError, TransportError

__all__ = ["IbrKeys", "ibr_keys_from_config"]

_REFETCH_AFTER_SECONDS = 30.0


class IbrKeys:
    """The IBR's public keys by ``kid``; refetched (at most every 30 s) when a kid is unknown."""

    def __init__(self, fetch: Callable[[], dict[str, Any]]) -> None:
        self._fetch = fetch
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def lookup(self, kid: str) -> dict[str, Any] | None:
        """The public JWK with this ``kid``, or None when the IBR does not publish it."""
        with self._lock:
            if kid not in self._keys and self._may_refetch():
                self._load()
            return self._keys.get(kid)

    def __call__(self, kid: str) -> dict[str, Any] | None:
        return self.lookup(kid)

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or (
            time.monotonic() - self._fetched_at > _REFETCH_AFTER_SECONDS
        )

    def _load(self) -> None:
        document = self._fetch()
        self._fetched_at = time.monotonic()
        keys = document.get("keys", [document] if "kty" in document else [])
        self._keys = {key["kid"]: key for key in keys if isinstance(key, dict) and "kid" in key}


def ibr_keys_from_config(config: ClientConfig) -> IbrKeys:
    """The IBR's keys from ``ibr_jwks_file`` when set, else from ``jwks_url``."""
    if config.ibr_jwks_file is not None:
        path = config.ibr_jwks_file
        return IbrKeys(lambda: load_jwk(path, "ibr_jwks_file"))
    url = config.effective_jwks_url

    def fetch() -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=config.timeout)
        except httpx.TransportError as exc:
            raise TransportError(url, str(exc) or type(exc).__name__, attempts=1) from None
        if response.status_code != 200:
            raise ConfigError(
                "jwks_url", f"{url} answered HTTP {response.status_code}, not the IBR's JWKS"
            )
        document = response.json()
        if not isinstance(document, dict):
            raise ConfigError("jwks_url", f"{url} did not return a JWKS object")
        return document

    return IbrKeys(fetch)
