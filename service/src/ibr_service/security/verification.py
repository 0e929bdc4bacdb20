"""Inbound message security: signature, timestamp window and replay, per the security profile.

The signature is verified over the envelope **as received** (security profile §3: header and
message exactly as sent, before any normalisation by the receiver); the time window and replay
checks then read the normalised header. Either signature profile verifies: our detached JWS
(§3) or DCI's signature string (§3b), both against the client's registered keys.

Whether a request may come unsigned is the client's signature policy (§3c, IBR-SIG-016):
``required`` (the default) refuses it with ``err.signature.missing``; ``optional`` (a peer that
cannot sign yet) lets it through, logged at WARNING. Values that sign nothing (DCI's example
string, ``unsigned``, ``unsigned-stub``) count as no signature (IBR-SIG-010). A request that
carries a real signature is verified in full under either policy, so a wrong signature is
always refused. The deployment-wide ``strict`` switch, when off, treats every client as
``optional`` (development only). Time window and replay protect a signature from being
reused, so they apply to signed requests only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ibr_protocol import check_message_ts, verify_envelope
from ibr_protocol.dci_signature import is_placeholder_signature
from ibr_protocol.replay import check_not_replayed
from ibr_service.core import StoreReplayGuard
from ibr_service.core.records import ClientRecord
from ibr_service.core.store import Store
from ibr_service.security.clients import client_jwks

__all__ = ["SIGNATURE_POLICIES", "SignatureCheck", "check_message_security", "signature_optional"]

SIGNATURE_POLICIES = ("required", "optional")
"""A client's signature policy (``ClientRecord.signature_policy``), default first."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of the message security checks."""

    signed: bool
    kid: str | None


def signature_optional(client: ClientRecord, *, strict: bool) -> bool:
    """True when ``client`` may send unsigned requests: its policy, or strict mode off."""
    return not strict or client.signature_policy == "optional"


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

    ``received`` is the envelope as parsed from the wire, ``header`` its normalised header.
    ``signed`` (whether the normalised envelope kept a signature) is accepted for callers; the
    signature as received decides, so that a value that signs nothing is never verified.
    The replay memory is written last, and only for a verified signature, so a forger cannot
    burn another sender's message ids.
    """
    del signed
    if is_placeholder_signature(received.get("signature")) and signature_optional(
        client, strict=strict
    ):
        _log.warning(
            "accepted an UNSIGNED request from %s (signature policy %s%s)",
            client.sender_id,
            client.signature_policy,
            "" if strict else ", strict signatures off",
        )
        return SignatureCheck(signed=False, kid=None)
    verified = verify_envelope(
        received, client_jwks(client).get, now=now, window_seconds=window_seconds
    )
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
