"""A client's interoperability settings: signature policy and registered callback base URL.

Kept apart from ``clients`` (secrets, keys, scopes) because both are about talking to peers
that follow DCI more loosely than this profile: a peer that cannot sign yet is registered with
signature policy ``optional`` (security profile §3c, IBR-SIG-016), and a peer that sends no
``sender_uri`` is answered at its registered callback base URL (IBR-CB-001, DEV-API-22).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import urlsplit

from ibr_service.core.records import ClientRecord
from ibr_service.core.store import Store
from ibr_service.security.verification import SIGNATURE_POLICIES

__all__ = ["check_callback_base_url", "check_signature_policy", "set_client_interop"]

_log = logging.getLogger(__name__)


def check_signature_policy(policy: str) -> str:
    """The policy if it is one of ``required`` / ``optional``; ValueError otherwise."""
    if policy not in SIGNATURE_POLICIES:
        raise ValueError(
            f"signature policy {policy!r} is not one of {', '.join(SIGNATURE_POLICIES)}"
        )
    return policy


def check_callback_base_url(url: str) -> str:
    """An absolute http(s) URL without credentials, query or fragment; ValueError otherwise.

    Its host and addresses are checked against the client's allowed callback hosts and the
    private-address rule when a callback is sent (DNS may change), like any ``sender_uri``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"callback URL {url!r} is not an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValueError("callback URL must not carry credentials")
    if parts.query or parts.fragment:
        raise ValueError("callback URL is a base: no query or fragment")
    if len(url) > 2000:
        raise ValueError("callback URL is longer than 2000 characters")
    return url.rstrip("/")


def set_client_interop(
    store: Store,
    sender_id: str,
    *,
    signature_policy: str | None = None,
    callback_base_url: str | None = None,
    clear_callback_base_url: bool = False,
) -> ClientRecord:
    """Change a registered client's signature policy and/or callback base URL.

    ``None`` keeps a setting; ``clear_callback_base_url`` removes the URL. The change is
    logged (a policy change is a security decision).
    """
    policy = None if signature_policy is None else check_signature_policy(signature_policy)
    base = None if callback_base_url is None else check_callback_base_url(callback_base_url)
    with store.transaction() as tx:
        client = tx.get_client(sender_id)
        if client is None:
            raise ValueError(f"no client with sender_id {sender_id!r}")
        updated = replace(
            client,
            signature_policy=policy or client.signature_policy,  # type: ignore[arg-type]
            callback_base_url=None
            if clear_callback_base_url
            else (base or client.callback_base_url),
        )
        tx.put_client(updated)
    if updated.signature_policy != client.signature_policy:
        _log.warning(
            "client %s: signature policy %s -> %s",
            sender_id,
            client.signature_policy,
            updated.signature_policy,
        )
    return updated
