"""SP-MIS mutants for the receiver, key and encryption checks (checks/spmis_receiver.py and
checks/spmis_keys.py).

They ride on the proxies of `sp_mis_mutants.py`. What those cannot do (change an HTTP status,
see the suite's request when rewriting the SP-MIS's answer, answer late) is done by
`rewriting_answers`, an ASGI wrapper around the front proxy.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .sp_mis_mutants import Json, SpMisMutant, header_mutator

Rewrite = Callable[[str, Json, int, Json], tuple[int, Json]]
"""(path, the suite's request body, the SP-MIS's status, its answer) -> (status, answer)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Any]


@dataclass
class ReceiverMutant(SpMisMutant):
    rewrite: Rewrite | None = None
    delay: float = 0.0
    """Seconds to hold every callback answer (a receiver that works before it ACKs)."""


def rewriting_answers(app: Asgi, current: Callable[[], ReceiverMutant | None]) -> Asgi:
    """`app` with the current mutant's `rewrite` and `delay` applied to each answer."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        mutant = current()
        if scope["type"] != "http" or mutant is None or not (mutant.rewrite or mutant.delay):
            await app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        start: Message = {}
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                parts.append(message.get("body", b""))

        await app(scope, replay, capture)
        status, content = int(start["status"]), b"".join(parts)
        path = str(scope["path"])
        if mutant.delay and "/registry/" in path:
            await asyncio.sleep(mutant.delay)
        if mutant.rewrite:
            status, answer = mutant.rewrite(path, _json(raw), status, _json(content))
            content = json.dumps(answer).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return asgi


def _json(raw: bytes) -> Json:
    try:
        return json.loads(raw)
    except ValueError:
        return None


# -- answer rewrites ------------------------------------------------------------------------------


def _ack(answer: Json) -> Json:
    msg = answer.get("message", {}) if isinstance(answer, dict) else {}
    return {
        "message": {
            "ack_status": "ACK",
            "timestamp": msg.get("timestamp", "2025-01-01T00:00:00Z"),
            "correlation_id": msg.get("correlation_id") or "mutant",
        }
    }


def _err(code: str, message: str, answer: Json) -> Json:
    acked = _ack(answer)["message"]
    return {"message": {**acked, "ack_status": "ERR", "error": {"code": code, "message": message}}}


def _error_code(answer: Json) -> str | None:
    msg = answer.get("message") if isinstance(answer, dict) else None
    error = msg.get("error") if isinstance(msg, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _encrypted(request: Json) -> bool:
    header = request.get("header") if isinstance(request, dict) else None
    return isinstance(header, dict) and header.get("is_msg_encrypted") is True


def _accept_when(test: Callable[[Json, int, Json], bool]) -> Rewrite:
    """Answer 200 ACK where `test(request, status, answer)` holds."""

    def apply(path: str, request: Json, status: int, answer: Json) -> tuple[int, Json]:
        return (200, _ack(answer)) if test(request, status, answer) else (status, answer)

    return apply


def _accepts_code(code: str, *, encrypted: bool = False) -> Rewrite:
    return _accept_when(
        lambda req, status, ans: _error_code(ans) == code and (not encrypted or _encrypted(req))
    )


def _accepts_status(wanted: int) -> Rewrite:
    return _accept_when(lambda req, status, ans: status == wanted)


def _refuse_when(test: Callable[[str, Json], bool], code: str = "err.request.bad") -> Rewrite:
    """Answer 400 ERR `code` where `test(path, request)` holds."""

    def apply(path: str, request: Json, status: int, answer: Json) -> tuple[int, Json]:
        if "/registry/" in path and test(path, request):
            return 400, _err(code, "refused by the mutant", answer)
        return status, answer

    return apply


def _leaks_personal_data(path: str, request: Json, status: int, answer: Json) -> tuple[int, Json]:
    person = _find(request, "demographic_info")
    error = _find(answer, "error")
    if status >= 400 and isinstance(person, dict) and isinstance(error, dict):
        name = (person.get("name") or {}).get("given_name")
        error["message"] = f"{error.get('message')} (record of {name}, {person.get('birth_date')})"
    return status, answer


def _find(value: Json, key: str) -> Json:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def _refuses_redelivery(mutant: ReceiverMutant) -> Rewrite:
    """A receiver that treats (transaction_id) seen before as a replay, whatever the message_id."""

    def seen_before(path: str, request: Json) -> bool:
        message = request.get("message") if isinstance(request, dict) else None
        txn = message.get("transaction_id") if isinstance(message, dict) else None
        seen = mutant.seen.setdefault("transactions", set())
        if txn in seen:
            return True
        seen.add(txn)
        return False

    return _refuse_when(seen_before)


def _shows_the_last_delivery(mutant: ReceiverMutant) -> Rewrite:
    """The trigger API shows a new message_id on every later look: each delivery was stored."""

    def apply(path: str, request: Json, status: int, answer: Json) -> tuple[int, Json]:
        if "/trigger/transactions/" in path and status == 200 and isinstance(answer, dict):
            looks = mutant.seen.setdefault("looks", {})
            looks[path] = looks.get(path, 0) + 1
            if looks[path] > 1:
                answer["header"]["message_id"] = f"delivery-{looks[path]}"
        return status, answer

    return apply


def _has_old_item_timestamp(path: str, request: Json) -> bool:
    message = request.get("message") if isinstance(request, dict) else None
    return '"timestamp": "' in json.dumps(message) and _old_stamp(message)


def _old_stamp(value: Json) -> bool:
    from datetime import UTC, datetime, timedelta

    if isinstance(value, dict):
        stamp = value.get("timestamp")
        if isinstance(stamp, str):
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            if when < datetime.now(UTC) - timedelta(days=1):
                return True
        return any(_old_stamp(v) for v in value.values())
    if isinstance(value, list):
        return any(_old_stamp(v) for v in value)
    return False


def _jwks(fn: Callable[[list[dict[str, Any]]], None]) -> Rewrite:
    """Apply `fn` to the keys the SP-MIS publishes."""

    def apply(path: str, request: Json, status: int, answer: Json) -> tuple[int, Json]:
        if path.endswith("/.well-known/jwks.json") and isinstance(answer, dict):
            fn(answer["keys"])
        return status, answer

    return apply


def _jwks_needs_a_token(path: str, request: Json, status: int, answer: Json) -> tuple[int, Json]:
    if path.endswith("/.well-known/jwks.json"):
        return 401, {"error": "invalid_token"}
    return status, answer


def _encryption_refused(path: str, request: Json, status: int, answer: Json) -> tuple[int, Json]:
    if _encrypted(request) and status == 200:
        return 400, _err("err.encryption.invalid", "encryption not supported", answer)
    return status, answer


def _decrypts_before_verifying(
    path: str, request: Json, status: int, answer: Json
) -> tuple[int, Json]:
    if _encrypted(request) and _error_code(answer) == "err.signature.invalid":
        return 400, _err("err.encryption.invalid", "cannot decrypt", answer)
    return status, answer


# -- request rewrites (what the SP-MIS sends to the IBR) -------------------------------------------


def _protected(fn: Callable[[dict[str, Any]], None]) -> Callable[[str, Json], Json]:
    """Rewrite the protected header of the SP-MIS's request signatures."""

    def apply(path: str, body: Json) -> Json:
        signature = body.get("signature") if isinstance(body, dict) else None
        if "/registry/" in path and isinstance(signature, str) and ".." in signature:
            head, _, tail = signature.partition("..")
            header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
            fn(header)
            encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=")
            body["signature"] = f"{encoded.decode()}..{tail}"
        return body

    return apply


def _attached_payload(path: str, body: Json) -> Json:
    if "/registry/" in path and isinstance(body, dict) and "signature" in body:
        body["signature"] = str(body["signature"]).replace("..", ".e30.")
    return body


# -- the catalogue --------------------------------------------------------------------------------


def _catalogue() -> list[ReceiverMutant]:
    keys_check = "sp_mis_jwks_is_public_with_unique_typed_keys"
    sig_check = "sp_mis_requests_carry_a_detached_jws_over_i_json"
    redelivery = ReceiverMutant(
        "refuses_redelivered_callback",
        "IBR-REPLAY-003",
        "redelivered_callback_is_acknowledged_and_handled_once",
    )
    redelivery.rewrite = _refuses_redelivery(redelivery)
    stored_twice = ReceiverMutant("stores_each_redelivery", "IBR-REPLAY-003", redelivery.check)
    stored_twice.rewrite = _shows_the_last_delivery(stored_twice)
    return [
        ReceiverMutant(
            "accepts_oversized_callback",
            "IBR-ENV-007",
            "oversized_callback_is_refused_with_413",
            rewrite=_accepts_status(413),
        ),
        ReceiverMutant(
            "accepts_unsupported_version",
            "IBR-HDR-004",
            "callback_of_an_unsupported_version_is_refused",
            rewrite=_accepts_code("err.version.not_supported"),
        ),
        ReceiverMutant(
            "accepts_foreign_receiver_id",
            "IBR-HDR-005",
            "callback_for_another_receiver_is_refused",
            rewrite=_accepts_code("err.receiver_id.invalid"),
        ),
        ReceiverMutant(
            "accepts_dci_placeholder_signature",
            "IBR-SIG-010",
            "dci_placeholder_signature_on_a_callback_is_refused",
            rewrite=_accept_when(lambda req, st, ans: "namespace=" in json.dumps(req)),
        ),
        ReceiverMutant(
            "works_before_acknowledging",
            "IBR-ACK-004",
            "callback_is_acknowledged_within_five_seconds",
            delay=5.5,
        ),
        ReceiverMutant(
            "echoes_personal_data_in_errors",
            "IBR-ERR-003",
            "error_messages_carry_no_personal_data",
            rewrite=_leaks_personal_data,
        ),
        redelivery,
        stored_twice,
        ReceiverMutant(
            "refuses_old_item_timestamps",
            "IBR-REPLAY-004",
            "item_timestamps_outside_the_window_are_accepted",
            rewrite=_refuse_when(_has_old_item_timestamp),
        ),
        ReceiverMutant(
            "jwks_needs_a_token", "IBR-SEC-008", keys_check, rewrite=_jwks_needs_a_token
        ),
        ReceiverMutant(
            "jwks_publishes_private_key",
            "IBR-SEC-008",
            keys_check,
            rewrite=_jwks(lambda keys: keys[0].update(d="c2VjcmV0")),
        ),
        ReceiverMutant(
            "jwks_without_signing_key",
            "IBR-SIG-006",
            keys_check,
            rewrite=_jwks(lambda keys: keys.clear()),
        ),
        ReceiverMutant(
            "jwks_signing_key_of_another_alg",
            "IBR-SIG-007",
            keys_check,
            rewrite=_jwks(lambda keys: keys[0].update(alg="ES256")),
        ),
        ReceiverMutant(
            "jwks_repeats_a_kid",
            "IBR-SIG-012",
            keys_check,
            rewrite=_jwks(lambda keys: keys.append(dict(keys[0]))),
        ),
        ReceiverMutant(
            "signature_header_with_extra_member",
            "IBR-SIG-002",
            sig_check,
            request=_protected(lambda h: h.update(x5u="https://example.org/key")),
        ),
        ReceiverMutant(
            "signature_with_attached_payload", "IBR-SIG-002", sig_check, request=_attached_payload
        ),
        ReceiverMutant(
            "signs_with_an_unpublished_kid",
            "IBR-SIG-006",
            sig_check,
            request=_protected(lambda h: h.update(kid="not-published")),
        ),
        ReceiverMutant(
            "integer_beyond_double_precision",
            "IBR-SIG-013",
            sig_check,
            request=header_mutator(lambda h: h.update(total_count=2**53 + 1)),
        ),
        ReceiverMutant(
            "refuses_encrypted_callbacks",
            "IBR-ENC-001",
            "encrypted_callback_is_decrypted_and_acknowledged",
            rewrite=_encryption_refused,
        ),
        ReceiverMutant(
            "accepts_encrypted_schema_invalid_message",
            "IBR-ENC-007",
            "encrypted_callback_is_decrypted_and_acknowledged",
            rewrite=_accepts_code("err.request.bad", encrypted=True),
        ),
        ReceiverMutant(
            "accepts_undecryptable_callback",
            "IBR-ENC-006",
            "undecryptable_callback_is_refused",
            rewrite=_accepts_code("err.encryption.invalid"),
        ),
        ReceiverMutant(
            "decrypts_before_verifying",
            "IBR-ENC-007",
            "undecryptable_callback_is_refused",
            rewrite=_decrypts_before_verifying,
        ),
    ]


CATALOGUE: list[ReceiverMutant] = _catalogue()
