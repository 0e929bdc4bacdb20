"""The IBR's own key material, kept in the store so every process of a deployment shares it.

Three private JWKs: the Ed25519 envelope-signing key (kid ``ibr-sig-*``) and the X25519
message-encryption key (kid ``ibr-enc-*``), whose public halves are served at
``/.well-known/jwks.json``, and the Ed25519 access-token key (kid ``ibr-tok-*``, never published:
only the IBR validates its own tokens). Each is created on first use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ibr_protocol import Jwks, generate_encryption_key, generate_signing_key, public_jwk
from ibr_service.core.records import SigningKeyRecord
from ibr_service.core.store import Store

__all__ = [
    "ENCRYPTION_PREFIX",
    "SIGNING_PREFIX",
    "TOKEN_PREFIX",
    "IbrKeys",
    "load_or_create_keys",
]

SIGNING_PREFIX = "ibr-sig-"
TOKEN_PREFIX = "ibr-tok-"  # noqa: S105 - a key-id prefix, not a secret
ENCRYPTION_PREFIX = "ibr-enc-"


@dataclass(frozen=True)
class IbrKeys:
    """Private keys of this IBR: the current ones plus retired signing keys (still published)."""

    signing_key: dict[str, Any]
    token_key: dict[str, Any]
    encryption_key: dict[str, Any]
    retired_signing_keys: tuple[dict[str, Any], ...] = ()

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set other parties verify our signatures with."""
        keys = Jwks([public_jwk(self.signing_key), public_jwk(self.encryption_key)])
        for key in self.retired_signing_keys:
            keys.add(public_jwk(key))
        return keys.as_dict()

    @classmethod
    def generate(cls) -> IbrKeys:
        """Fresh keys with random kids (tests, first start)."""
        suffix = secrets.token_hex(4)
        return cls(
            signing_key=generate_signing_key(f"{SIGNING_PREFIX}{suffix}"),
            token_key=generate_signing_key(f"{TOKEN_PREFIX}{suffix}"),
            encryption_key=generate_encryption_key(f"{ENCRYPTION_PREFIX}{suffix}"),
        )


def load_or_create_keys(store: Store, *, now: datetime) -> IbrKeys:
    """The newest active keys of each kind in the store, creating any that is missing.

    All three live in the store's key table (``signing_keys``), told apart by kid prefix.
    """
    fresh = IbrKeys.generate()
    wanted = {
        SIGNING_PREFIX: fresh.signing_key,
        TOKEN_PREFIX: fresh.token_key,
        ENCRYPTION_PREFIX: fresh.encryption_key,
    }
    by_prefix: dict[str, list[SigningKeyRecord]] = {}
    with store.transaction() as tx:
        records = tx.signing_keys()
        for prefix, new_key in wanted.items():
            mine = [r for r in records if r.kid.startswith(prefix)]
            if not any(r.retired_at is None for r in mine):
                record = SigningKeyRecord(kid=new_key["kid"], private_jwk=new_key, created_at=now)
                tx.put_signing_key(record)
                mine.insert(0, record)
            by_prefix[prefix] = mine
    signing = by_prefix[SIGNING_PREFIX]

    def current(prefix: str) -> dict[str, Any]:
        return dict(next(r for r in by_prefix[prefix] if r.retired_at is None).private_jwk)

    return IbrKeys(
        signing_key=current(SIGNING_PREFIX),
        token_key=current(TOKEN_PREFIX),
        encryption_key=current(ENCRYPTION_PREFIX),
        retired_signing_keys=tuple(
            dict(r.private_jwk) for r in signing if r.retired_at is not None
        ),
    )
