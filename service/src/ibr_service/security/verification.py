"""Inbound message security: signature, timestamp window and replay, per the security profile.

The signature is verified over the envelope **as received** (security profile §3: header and
message exactly as sent, before any normalisation by the receiver); the time window and replay
checks then read the normalised header.

Strict mode (the default) requires every request to be signed (the DCI placeholder string is then
`err.signature.malformed`). With strict mode off, a request with *no* signature (or the DCI
placeholder string) is let through unsigned, logged at WARNING;
a request that carries a real signature is still verified in full. Time window and replay
protect a signature from being reused, so they apply to signed requests only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ibr_protocol import check_message_ts, verify_envelope
from ibr_protocol.replay import check_not_replayed
from ibr_service.core import StoreReplayGuard
from ibr_service.core.records import ClientRecord
from ibr_service.core.store import Store
from ibr_service.security.clients import client_jwks

__all__ = ["SignatureCheck", "check_message_security"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of the message security checks."""

    signed: bool
    kid: str | None


def check_message_security(
    received: dict[str, Any],
    header: dict[str, Any],
    *,
    signed: bool,
    client: ClientRecord,
    store: Store,
    strict: bool,
    window_seconds: int,
    now: datetime,
) -> SignatureCheck:
    """Verify the signature of ``received``, then ``header.message_ts``, then replay.

    ``received`` is the envelope as parsed from the wire, ``header`` its normalised header;
    ``signed`` says whether the normalised envelope still carries a signature (the normaliser
    drops DCI's placeholder string, which signs nothing).
    The replay memory is written last, and only for a verified signature, so a forger cannot
    burn another sender's message ids.
    """
    if not strict and not signed:
        _log.warning(
            "accepted an UNSIGNED request from %s (strict signatures are off)", client.sender_id
        )
        return SignatureCheck(signed=False, kid=None)
    verified = verify_envelope(received, client_jwks(client).get)
    sent = check_message_ts(
        str(header.get("message_ts", "")), now=now, window_seconds=window_seconds
    )
    check_not_replayed(
        StoreReplayGuard(store),
        client.sender_id,
        str(header.get("message_id", "")),
        # Remembered for twice the window (security profile §5).
        max(sent, now) + timedelta(seconds=2 * window_seconds),
    )
    return SignatureCheck(signed=True, kid=verified.kid)
