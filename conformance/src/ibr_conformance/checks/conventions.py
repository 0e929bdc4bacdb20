"""Wire conventions of spec/CONVENTIONS.md the IBR must keep: sender_uri on sync operations,
unique kids, I-JSON values in signed messages and informative item timestamps."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_succ
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Failure

_IBR = Profile.IBR
_OP = "sync/search"
_MAX_SAFE_INTEGER = 2**53 - 1  # RFC 7493 section 2.2
# An unregistered, private host: a receiver that used sender_uri on a sync call would refuse it.
_IGNORED_URI = "http://10.0.0.1/registry/on-search"
_OLD_ITEM_TS = "2001-01-01T00:00:00Z"


@REGISTRY.check(phase=Phase.ENVELOPE, profile=_IBR, requirements=("IBR-HDR-008",))
def sync_operation_ignores_sender_uri(ctx: CheckContext) -> Iterator[Failure]:
    """A sync search carrying sender_uri is answered normally, and the sync response header
    carries no sender_uri (the IBR never emits it on a sync answer)."""
    env = ctx.target.envelope("search", probes.search_request(), sender_uri=_IGNORED_URI)
    ex = ctx.target.send(_OP, env, note=f"sync search with sender_uri {_IGNORED_URI}")
    yield from expect_succ(ctx, ex, "sync search with a sender_uri")
    header = probes.body_of(ex).get("header")
    if isinstance(header, Mapping) and "sender_uri" in header:
        yield ctx.failure(
            "sender_uri on a sync response",
            f"the sync response header carries sender_uri {header['sender_uri']!r}",
            evidence=[ex],
        )


@REGISTRY.check(phase=Phase.SECURITY, profile=_IBR, requirements=("IBR-SIG-012",))
def jwks_kids_are_unique(ctx: CheckContext) -> Iterator[Failure]:
    """Every kid in the published JWKS occurs once (a receiver resolves a signature by kid)."""
    url = ctx.config.target_jwks_url or f"{ctx.config.root_url()}/.well-known/jwks.json"
    document = ctx.target.get_json(url)
    keys = document.get("keys", []) if isinstance(document, Mapping) else []
    kids = Counter(str(k.get("kid")) for k in keys if isinstance(k, Mapping))
    duplicated = sorted(kid for kid, n in kids.items() if n > 1)
    if duplicated:
        yield ctx.failure("kid published more than once", f"{url}: kids {duplicated} repeat")
    missing = sum(1 for k in keys if not isinstance(k, Mapping) or not k.get("kid"))
    if missing:
        yield ctx.failure("key without a kid", f"{url}: {missing} key(s) have no kid")


def _non_i_json(value: Any, path: str = "$") -> Iterator[str]:
    """Paths of values outside I-JSON: unsafe integers, non-finite numbers, lone surrogates."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            yield f"{path}: integer {value} is outside +-(2**53 - 1)"
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield f"{path}: number {value} is not finite"
    elif isinstance(value, str):
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            yield f"{path}: string holds a lone surrogate"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _non_i_json(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_i_json(item, f"{path}[{index}]")


@REGISTRY.check(phase=Phase.SECURITY, profile=_IBR, requirements=("IBR-SIG-013",))
def signed_responses_hold_only_i_json_values(ctx: CheckContext) -> Iterator[Failure]:
    """The header and message of a signed sync response hold only I-JSON values, so that a
    receiver's JCS serialisation equals the IBR's."""
    ex = ctx.target.send(_OP, ctx.target.envelope("search", probes.search_request()))
    body = probes.body_of(ex)
    if ex.status != 200 or not body:
        ctx.skip(f"the sync search was not answered (HTTP {ex.status}); nothing to inspect")
    for part in ("header", "message"):
        for problem in _non_i_json(body.get(part), f"$.{part}"):
            yield ctx.failure("value outside I-JSON", problem, evidence=[ex])


@REGISTRY.check(phase=Phase.SECURITY, profile=_IBR, requirements=("IBR-REPLAY-004",))
def old_item_timestamp_is_not_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A fresh request whose search item has a years-old timestamp is answered, item not rjct:
    only header.message_ts is held to the time window."""
    message = probes.search_request()
    message["search_request"][0]["timestamp"] = _OLD_ITEM_TS
    ex = ctx.target.send(
        _OP, ctx.target.envelope("search", message), note=f"item timestamp {_OLD_ITEM_TS}"
    )
    yield from expect_succ(ctx, ex, "request with an old item timestamp")
    for item in probes.items(ex, "search_response"):
        if item.get("status") == "rjct":
            yield ctx.failure(
                "item refused for its timestamp",
                f"item status rjct ({item.get('status_reason_code')!r}) although only the "
                "item timestamp is old",
                evidence=[ex],
            )
