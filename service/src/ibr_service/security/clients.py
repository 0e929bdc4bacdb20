"""The client registry: who may call the IBR, with which keys, scopes and callback hosts.

A client is an SP-MIS. Its ``sender_id`` is both the OAuth2 ``client_id`` and the
``header.sender_id`` it signs with; its secret is kept only as a scrypt hash
(``client_secrets``); its public keys (JWK, Ed25519) verify its envelope signatures. Clients are
kept by the store (``ClientRecord``), so that every process of a deployment sees the same ones.

Callback authentication goes the other way: the SP-MIS runs a token endpoint for the IBR
(IBR-SEC-004), and the client record holds where it is and the IBR's credentials there
(``set_callback_auth``). That secret is kept in clear, because the IBR must present it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from ibr_protocol import Jwks
from ibr_service.core.audit import append_audit
from ibr_service.core.records import ClientRecord
from ibr_service.core.store import Store
from ibr_service.security.callbacks import parse_target
from ibr_service.security.client_secrets import (
    generate_client_secret,
    hash_secret,
    verify_secret,
)
from ibr_service.security.errors import AuthenticationError

__all__ = [
    "ALL_SCOPES",
    "SCOPE_ENROLLED",
    "SCOPE_ENROLLMENT",
    "SCOPE_SEARCH",
    "SCOPE_SUBSCRIBE",
    "SCOPE_TXN",
    "SCOPE_UNSUBSCRIBE",
    "authenticate_client",
    "client_jwks",
    "register_client",
    "rotate_client",
    "set_callback_auth",
    "set_callback_targets",
    "set_client_state",
]

# The scopes of spec/openapi.yaml (`x-oauth2-scope` of each IBR-side operation).
SCOPE_ENROLLMENT = "registry.enrollment.updates"
SCOPE_ENROLLED = "registry.enrolled"
SCOPE_SEARCH = "registry.search"
SCOPE_SUBSCRIBE = "registry.subscribe"
SCOPE_UNSUBSCRIBE = "registry.unsubscribe"
SCOPE_TXN = "registry.txn.status"
ALL_SCOPES: tuple[str, ...] = (
    SCOPE_ENROLLMENT,
    SCOPE_ENROLLED,
    SCOPE_SEARCH,
    SCOPE_SUBSCRIBE,
    SCOPE_UNSUBSCRIBE,
    SCOPE_TXN,
)
"""Scopes a token can carry; each IBR-side operation requires exactly one of them."""


def client_jwks(client: ClientRecord) -> Jwks:
    """The client's registered public keys, for signature verification."""
    return Jwks.from_dict(client.public_jwks)


def _check_public_keys(keys: Sequence[Mapping[str, Any]]) -> None:
    for key in keys:
        if "d" in key:
            raise ValueError(f"key {key.get('kid')!r} is a private key; register its public JWK")
        if not key.get("kid"):
            raise ValueError("every public key needs a 'kid'")


def register_client(
    store: Store,
    *,
    sender_id: str,
    now: datetime,
    public_keys: Sequence[Mapping[str, Any]] = (),
    scopes: Iterable[str] = ALL_SCOPES,
    allowed_callback_hosts: Iterable[str] = (),
    allow_private_callbacks: bool = False,
    allowed_programmes: Iterable[str] | None = None,
    secret: str | None = None,
    callback_token_url: str | None = None,
    callback_client_id: str | None = None,
    callback_client_secret: str | None = None,
) -> tuple[ClientRecord, str]:
    """Create a client; returns it with its clear-text secret (shown once, never stored).

    ``allowed_programmes=None`` lets the client write enrolments for every programme.
    ``callback_token_url`` (with ``callback_client_secret``) makes the outbox authenticate
    its callbacks to this client; see ``set_callback_auth``.
    """
    if callback_token_url is not None:
        _check_callback_auth(callback_token_url, callback_client_secret)
    scope_set = frozenset(scopes)
    unknown = scope_set - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s) {sorted(unknown)}; valid: {', '.join(ALL_SCOPES)}")
    _check_public_keys(public_keys)
    targets = tuple(allowed_callback_hosts)
    for target in targets:
        parse_target(target)  # ValueError names the entry
    clear = secret or generate_client_secret()
    client = ClientRecord(
        sender_id=sender_id,
        secret_hash=hash_secret(clear),
        public_jwks={"keys": [dict(key) for key in public_keys]},
        scopes=scope_set,
        allowed_callback_hosts=frozenset(targets),
        allowed_programmes=None if allowed_programmes is None else frozenset(allowed_programmes),
        allow_private_callbacks=allow_private_callbacks,
        active=True,
        created_at=now,
        callback_token_url=callback_token_url,
        callback_client_id=callback_client_id if callback_token_url else None,
        callback_client_secret=callback_client_secret if callback_token_url else None,
    )
    with store.transaction() as tx:
        if tx.get_client(sender_id) is not None:
            raise ValueError(f"client {sender_id!r} is already registered; use rotate instead")
        tx.put_client(client)
    return client, clear


def rotate_client(
    store: Store,
    sender_id: str,
    *,
    new_secret: bool = True,
    add_public_keys: Sequence[Mapping[str, Any]] = (),
    remove_kids: Iterable[str] = (),
) -> tuple[ClientRecord, str | None]:
    """Replace the secret (the old one stops working at once) and/or add and retire keys."""
    _check_public_keys(add_public_keys)
    dropped = set(remove_kids)
    with store.transaction() as tx:
        client = tx.get_client(sender_id)
        if client is None:
            raise ValueError(f"no client with sender_id {sender_id!r}")
        keys = [key for key in client.public_jwks.get("keys", []) if key.get("kid") not in dropped]
        keys.extend(dict(key) for key in add_public_keys)
        clear = generate_client_secret() if new_secret else None
        updated = replace(
            client,
            secret_hash=hash_secret(clear) if clear else client.secret_hash,
            public_jwks={"keys": keys},
        )
        tx.put_client(updated)
    return updated, clear


def set_callback_auth(
    store: Store,
    sender_id: str,
    *,
    token_url: str | None,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> ClientRecord:
    """Set (or with ``token_url=None`` remove) the token endpoint the IBR's callbacks use.

    ``client_id=None`` means the IBR's own ``receiver_id`` setting, resolved at send time.
    """
    if token_url is not None:
        _check_callback_auth(token_url, client_secret)
    with store.transaction() as tx:
        client = tx.get_client(sender_id)
        if client is None:
            raise ValueError(f"no client with sender_id {sender_id!r}")
        updated = replace(
            client,
            callback_token_url=token_url,
            callback_client_id=client_id if token_url else None,
            callback_client_secret=client_secret if token_url else None,
        )
        tx.put_client(updated)
    return updated


def set_callback_targets(
    store: Store, sender_id: str, targets: Iterable[str], *, now: datetime
) -> ClientRecord:
    """Replace the client's allowed callback targets (each ``host:port`` or a base URL), with
    an audit entry in the same unit; how a bare host stored before ports were required is
    re-registered."""
    checked = tuple(target.strip() for target in targets)
    for target in checked:
        parse_target(target)  # ValueError names the entry and what to write
    with store.transaction() as tx:
        client = tx.get_client(sender_id)
        if client is None:
            raise ValueError(f"no client with sender_id {sender_id!r}")
        updated = replace(client, allowed_callback_hosts=frozenset(checked))
        tx.put_client(updated)
        append_audit(
            tx,
            at=now,
            actor="operator",
            action="client.callback_targets_set",
            subject=sender_id,
            detail={"targets": sorted(checked)},
        )
    return updated


def _check_callback_auth(token_url: str, client_secret: str | None) -> None:
    # The host and its addresses are checked at send time, like callback URLs (DNS may change).
    parts = urlsplit(token_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"callback token URL {token_url!r} is not an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValueError("callback token URL must not carry credentials")
    if not client_secret:
        raise ValueError("a callback token URL needs the client secret the SP-MIS issued")


@cache
def _decoy_hash() -> str:
    return hash_secret(generate_client_secret())


def authenticate_client(store: Store, sender_id: str, secret: str) -> ClientRecord:
    """The active client whose secret matches; ``AuthenticationError`` otherwise.

    The message is the same for an unknown id and a wrong secret, and so is the cost: an
    unknown or disabled client's secret is still hashed (against a decoy hash of the same
    parameters), so that timing does not reveal which client ids exist.
    """
    with store.transaction() as tx:
        client = tx.get_client(sender_id)
    stored = client.secret_hash if client is not None else _decoy_hash()
    matches = verify_secret(secret, stored)
    if client is None or not client.active or not matches:
        raise AuthenticationError(
            "client_id or client_secret is wrong, or the client is disabled",
            reason="err.token.invalid",
        )
    return client


def set_client_state(store: Store, sender_id: str, *, change: str, now: datetime) -> ClientRecord:
    """``disable``, ``enable`` or ``remove`` a client, with an audit entry in the same unit.

    ``remove`` disables the client and erases its secret (replaced by the hash of a random
    secret nobody knows), its public keys and its callback credentials; the record stays
    because the store has no delete, and the sender_id remains named by history and audit.
    """
    if change not in ("disable", "enable", "remove"):
        raise ValueError(f"unknown change {change!r}; use disable, enable or remove")
    with store.transaction() as tx:
        client = tx.get_client(sender_id)
        if client is None:
            raise ValueError(f"no client with sender_id {sender_id!r}")
        if change == "remove":
            updated = replace(
                client,
                active=False,
                secret_hash=hash_secret(generate_client_secret()),
                public_jwks={"keys": []},
                callback_token_url=None,
                callback_client_id=None,
                callback_client_secret=None,
            )
        else:
            updated = replace(client, active=change == "enable")
        tx.put_client(updated)
        append_audit(
            tx,
            at=now,
            actor="operator",
            action=f"client.{change}d" if change != "remove" else "client.removed",
            subject=sender_id,
            detail={},
        )
    return updated
