"""Client secrets: generated at random, stored only as a salted scrypt hash (stdlib hashlib).

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so that the cost can be raised later
without invalidating existing hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["generate_client_secret", "hash_secret", "verify_secret"]

_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def generate_client_secret() -> str:
    """A new random client secret (256 bits, URL-safe); shown once, never stored in clear."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Hash ``secret`` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return "$".join(
        ["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)],
    )


def verify_secret(secret: str, stored: str) -> bool:
    """True when ``secret`` matches ``stored``; constant-time compare, False on a malformed hash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    salt, expected = _unb64(parts[4]), _unb64(parts[5])
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected))
    return hmac.compare_digest(digest, expected)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
