"""The SDK against a fake IBR: tokens, signing, typed results, typed errors, retries."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import ibr_protocol as proto
from ibr_client import (
    AsyncIbrClient,
    IbrClient,
    IbrRejectedError,
    RequestInvalidError,
    ResponseInvalidError,
    TransportError,
)
from ibr_client.messages import idtype_query
from ibr_protocol.dci_signature import verify_dci_signature

from .conftest import SP_ID


def _client(make_config: Any, fake_ibr: Any, **overrides: Any) -> IbrClient:
    slept: list[float] = []
    client = IbrClient(
        make_config(**overrides),
        ibr_keys=fake_ibr.keys(),
        http=httpx.Client(transport=fake_ibr.transport()),
        sleep=slept.append,
    )
    client.slept = slept  # type: ignore[attr-defined]
    return client


def test_publish_sends_signed_spec_valid_batches_and_returns_typed_answers(
    make_config: Any, fake_ibr: Any, sample_beneficiary: Any
) -> None:
    """If this fails, the SDK sends unsigned, spec-invalid or wrongly batched enrolments."""
    records = [sample_beneficiary(nid=str(i), benefit_id=f"b-{i}") for i in range(5)]
    with _client(make_config, fake_ibr) as client:
        answers = client.publish(records, batch_size=2)
    assert [len(a.enrolled_response) for a in answers] == [2, 2, 1]
    assert isinstance(answers[0], proto.EnrollmentUpdatesResponse)
    paths = [path for path, _ in fake_ibr.requests]
    assert paths == ["/registry/sync/enrollment/updates"] * 3
    # The fake verified every signature with our public key and ran openapi-core on each body.
    assert all("signature" in envelope for _, envelope in fake_ibr.requests)
    assert fake_ibr.tokens == ["tok-1"], "one token must serve every request until it expires"


def test_enrolled_single_and_bulk(make_config: Any, fake_ibr: Any) -> None:
    """If this fails, enrolled checks are not sent as the spec's single or list criteria."""
    with _client(make_config, fake_ibr) as client:
        single = client.enrolled("NID", "1")
        bulk = client.enrolled_bulk([("NID", "1"), ("NID", "2"), ("NID", "3")])
    assert single.enrolled_response[0].enrolled_status == "yes"
    statuses = [item.enrolled_status for item in bulk[0].enrolled_response]
    assert statuses == ["yes", "no", "no"]
    _, bulk_envelope = fake_ibr.requests[-1]
    assert isinstance(bulk_envelope["message"]["enrolled_criteria"], list)
    assert bulk_envelope["header"]["total_count"] == 3


def test_expired_token_is_refreshed_once(make_config: Any, fake_ibr: Any) -> None:
    """If this fails, a revoked or expired token makes every later call fail."""
    with _client(make_config, fake_ibr) as client:
        client.search([idtype_query("NID", "1")])
        fake_ibr.revoked.add("tok-1")
        client.search([idtype_query("NID", "1")])
    assert fake_ibr.tokens == ["tok-1", "tok-2"]


def test_transport_failures_are_retried_with_backoff(make_config: Any, fake_ibr: Any) -> None:
    """If this fails, a brief network outage loses a batch (or retries never back off)."""
    fake_ibr.transport_failures = 2
    with _client(make_config, fake_ibr, retries=3, backoff=0.5) as client:
        client.search([idtype_query("NID", "1")])
        assert client.slept == [0.5, 1.0]  # type: ignore[attr-defined]


def test_unreachable_ibr_raises_transport_error_naming_the_url(
    make_config: Any, fake_ibr: Any
) -> None:
    """If this fails, an unreachable IBR surfaces as a raw httpx traceback."""
    fake_ibr.transport_failures = 10
    with (
        _client(make_config, fake_ibr, retries=2) as client,
        pytest.raises(
            TransportError, match=r"cannot reach the IBR at https://ibr\.test.*3 attempt"
        ),
    ):
        client.search([idtype_query("NID", "1")])


def test_http_errors_are_not_retried(make_config: Any, fake_ibr: Any) -> None:
    """If this fails, a rejected request is resent (and could be double-counted)."""
    calls: list[str] = []

    def reject(path: str, envelope: dict[str, Any]) -> httpx.Response:
        calls.append(path)
        return httpx.Response(403, json=proto.err("err.request.forbidden", "not your programme"))

    fake_ibr.answer_override = reject
    with (
        _client(make_config, fake_ibr) as client,
        pytest.raises(IbrRejectedError) as caught,
    ):
        client.search([idtype_query("NID", "1")])
    assert caught.value.code == "err.request.forbidden"
    assert calls == ["/registry/sync/search"]


def test_invalid_outgoing_message_is_not_sent(
    make_config: Any, fake_ibr: Any, sample_beneficiary: Any
) -> None:
    """If this fails, the SDK lets spec-invalid data reach the IBR."""
    record = sample_beneficiary()
    record["programme_identifier"][0]["enrolment_date"] = "12.04.2024"
    with (
        _client(make_config, fake_ibr) as client,
        pytest.raises(RequestInvalidError, match="enrolment_date"),
    ):
        client.publish([record])
    assert fake_ibr.requests == []


def test_answer_with_bad_signature_is_refused(make_config: Any, fake_ibr: Any) -> None:
    """If this fails, a forged IBR answer would be trusted."""
    forger = proto.generate_signing_key("ibr-test")  # same kid, different key

    def forged(path: str, envelope: dict[str, Any]) -> httpx.Response:
        answer = fake_ibr.search_response(envelope["message"]["transaction_id"], records=[])
        body = proto.build_callback(
            action="on-search",
            message=answer,
            status="succ",
            sender_id="ibr",
            receiver_id="pension-mis",
        )
        return httpx.Response(200, json=proto.sign_envelope(body, forger))

    fake_ibr.answer_override = forged
    with (
        _client(make_config, fake_ibr) as client,
        pytest.raises(ResponseInvalidError, match="signature"),
    ):
        client.search([idtype_query("NID", "1")])


def test_async_client_runs_the_same_processes(
    make_config: Any, fake_ibr: Any, sample_beneficiary: Any
) -> None:
    """If this fails, the async SDK drifts from the sync one."""

    async def run() -> tuple[Any, Any]:
        async with AsyncIbrClient(
            make_config(),
            ibr_keys=fake_ibr.keys(),
            http=httpx.AsyncClient(transport=fake_ibr.transport()),
        ) as client:
            published = await client.publish([sample_beneficiary()])
            enrolled = await client.enrolled("NID", "1")
            return published, enrolled

    published, enrolled = asyncio.run(run())
    assert published[0].enrolled_response[0].status == "succ"
    assert enrolled.enrolled_response[0].enrolled_status == "yes"


def test_predicate_and_expression_searches_are_sent_in_the_spec_form(
    make_config: Any, fake_ibr: Any
) -> None:
    """If this fails, the SDK can only search by identifier: a predicate query (a list) breaks
    on dict(query) (sync and async SDK), or the query is not sent as given."""
    predicate = [
        {
            "seq_num": 1,
            "expression1": {
                "attribute_name": "programme_identifier",
                "operator": "eq",
                "attribute_value": "OAP",
            },
        },
        {
            "seq_num": 2,
            "expression1": {"attribute_name": "sex", "operator": "eq", "attribute_value": "female"},
        },
    ]
    expression = {
        "type": "expression",
        "value": {"expression": {"query": {"programme_identifier": {"eq": "OAP"}}}},
    }
    with _client(make_config, fake_ibr) as client:
        client.search([predicate], query_type="predicate")
        client.search([expression], query_type="expression")

    async def run_async() -> None:
        async with AsyncIbrClient(
            make_config(),
            ibr_keys=fake_ibr.keys(),
            http=httpx.AsyncClient(transport=fake_ibr.transport()),
        ) as client:
            await client.search([predicate], query_type="predicate")

    asyncio.run(run_async())
    sent = [
        envelope["message"]["search_request"][0]["search_criteria"]
        for _, envelope in fake_ibr.requests
    ]
    assert sent[0] == {"query_type": "predicate", "query": predicate}
    assert sent[1] == {"query_type": "expression", "query": expression}
    assert sent[2] == sent[0]


def test_dci_signature_profile_on_request(make_config: Any, fake_ibr: Any, sp_key: Any) -> None:
    """If this fails, `signature_profile = "dci"` does not make the SP-MIS sign as DCI-era
    peers do (security profile 3b), or the default stops being the detached JWS."""
    with _client(make_config, fake_ibr, signature_profile="dci") as client:
        client.enrolled("NID", "1")
    with _client(make_config, fake_ibr) as client:
        client.enrolled("NID", "1")
    (_, dci_envelope), (_, jws_envelope) = fake_ibr.requests
    signature = dci_envelope["signature"]
    assert signature.startswith(f'namespace="dci", kidId="{SP_ID}|{sp_key["kid"]}|ed25519", ')
    parsed = verify_dci_signature(dci_envelope, {sp_key["kid"]: proto.public_jwk(sp_key)}.get)
    assert parsed.expires - parsed.created == 300
    assert ".." in jws_envelope["signature"], "the default profile must stay the detached JWS"


def test_a_refused_signature_is_reported_as_such_not_as_a_token_problem(
    make_config: Any, fake_ibr: Any
) -> None:
    """If this fails, an IBR's 401 `err.signature.invalid` (wrong key, wrong profile) makes the
    SDK fetch a new token, resend, and then blame the token."""

    def refuse_signature(path: str, envelope: dict[str, Any]) -> httpx.Response:
        return httpx.Response(401, json=proto.err("err.signature.invalid", "no key for kid"))

    fake_ibr.answer_override = refuse_signature
    with (
        _client(make_config, fake_ibr) as client,
        pytest.raises(IbrRejectedError) as caught,
    ):
        client.enrolled("NID", "1")
    assert caught.value.code == "err.signature.invalid"
    assert len(fake_ibr.requests) == 1
    assert fake_ibr.tokens == ["tok-1"]
