"""Shared expectations: how a refusal must look (status, DCI code, reason) and the ACK rules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ibr_conformance.checks import probes
from ibr_conformance.context import CheckContext
from ibr_conformance.results import Exchange, Failure
from ibr_protocol import DCI_ERROR_CODES

__all__ = ["ack_problems", "expect_refused", "expect_succ"]

_ACK_KEYS = frozenset({"ack_status", "timestamp", "correlation_id", "error"})
WIRE_CODES = frozenset(c.value for c in DCI_ERROR_CODES)


def expect_refused(
    ctx: CheckContext,
    ex: Exchange,
    what: str,
    *,
    status: int | Iterable[int] | None = None,
    code: str | None = None,
    reason: str | None = None,
    requirements: Iterable[str] | None = None,
) -> Iterator[Failure]:
    """Failures unless `ex` is a refusal with the given HTTP status, DCI code and reason.

    The reason (a finer `err.*` code, IBR-ERR-002) is looked for in error.message.
    """
    ids = list(requirements) if requirements is not None else None
    if ex.status is not None and ex.status >= 500:
        yield ctx.failure(
            f"{what}: server error",
            f"HTTP {ex.status} instead of a refusal",
            evidence=[ex],
            requirements=ids,
        )
        return
    if not probes.is_rejected(ex):
        yield ctx.failure(
            f"{what}: accepted",
            f"HTTP {ex.status}; the request must be refused",
            evidence=[ex],
            requirements=ids,
        )
        return
    allowed = {status} if isinstance(status, int) else set(status or ())
    if allowed and ex.status not in allowed:
        yield ctx.failure(
            f"{what}: wrong HTTP status",
            f"HTTP {ex.status}, expected {' or '.join(map(str, sorted(allowed)))}",
            evidence=[ex],
            requirements=ids,
        )
    got = probes.error_code(ex)
    if code is not None and got != code:
        yield ctx.failure(
            f"{what}: wrong error code",
            f"error code {got!r}, expected {code!r}",
            evidence=[ex],
            requirements=ids,
        )
    if reason is not None:
        msg = probes.ack_message(ex) or {}
        error = msg.get("error") if isinstance(msg.get("error"), Mapping) else {}
        text = str((error or {}).get("message", ""))
        header = probes.body_of(ex).get("header")
        if isinstance(header, Mapping):
            text += " " + str(header.get("status_reason_code", ""))
        if reason not in text:
            yield ctx.failure(
                f"{what}: reason not given",
                f"expected reason {reason!r} in the error, got {text.strip()[:200]!r}",
                evidence=[ex],
                requirements=ids,
            )


def expect_succ(ctx: CheckContext, ex: Exchange, what: str, **kw: object) -> Iterator[Failure]:
    """Failures unless `ex` is an HTTP 200 envelope with header.status succ."""
    header = probes.body_of(ex).get("header")
    status = header.get("status") if isinstance(header, Mapping) else None
    if ex.status != 200 or status != "succ":
        yield ctx.failure(
            f"{what}: not processed",
            f"HTTP {ex.status}, header.status {status!r}; expected 200 and succ "
            f"({str(ex.response_body)[:200]})",
            evidence=[ex],
            **kw,  # type: ignore[arg-type]
        )


def ack_problems(exchange: Exchange) -> list[tuple[str, str]]:
    """(requirement id, problem) for every way an ACK body breaks schemas/api/ack and the rules.

    IBR-ACK-001: the ACK's shape; IBR-ACK-002: error present exactly when ERR, with a DCI code.
    """
    msg = probes.ack_message(exchange)
    if msg is None:
        body = repr(exchange.response_body)[:200]
        return [
            ("IBR-ACK-001", f"body is not an ACK ({{'message': {{'ack_status': ...}}}}): {body}")
        ]
    out: list[tuple[str, str]] = []
    for problem in probes.schema_problems(exchange.response_body, "api/ack") or []:
        rid = "IBR-ACK-002" if "error" in problem.split(":")[0] else "IBR-ACK-001"
        out.append((rid, problem))
    extra = set(msg) - _ACK_KEYS
    if extra:
        out.append(("IBR-ACK-001", f"message has members the ACK does not allow: {sorted(extra)}"))
    if msg.get("ack_status") not in ("ACK", "NACK", "ERR"):
        out.append(("IBR-ACK-001", f"ack_status {msg.get('ack_status')!r} is not ACK/NACK/ERR"))
    if not isinstance(msg.get("correlation_id"), str) or not msg.get("correlation_id"):
        out.append(("IBR-ACK-001", "correlation_id is missing or empty"))
    if not probes.ZONED_TS.match(str(msg.get("timestamp", ""))):
        out.append(("IBR-ACK-001", f"timestamp {msg.get('timestamp')!r} is not RFC 3339 with zone"))
    if "error" in msg and msg["error"] is None:
        out.append(("IBR-ACK-002", "error is null; it must be omitted unless ack_status is ERR"))
    if msg.get("ack_status") == "ERR":
        error = msg.get("error")
        if not isinstance(error, Mapping):
            out.append(("IBR-ACK-002", "ack_status is ERR but there is no error object"))
        elif error.get("code") not in WIRE_CODES:
            out.append(("IBR-ACK-002", f"error.code {error.get('code')!r} is not a DCI code"))
        elif len(str(error.get("message", ""))) > 999:
            out.append(("IBR-ACK-002", "error.message is longer than 999 characters"))
    if msg.get("ack_status") in ("ACK", "NACK") and msg.get("error") is not None:
        out.append(("IBR-ACK-002", f"ack_status is {msg['ack_status']} but an error is present"))
    return list(dict.fromkeys(out))
