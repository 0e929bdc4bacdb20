"""The receiver's MUSTs over real HTTP on loopback: transport limits, bearer tokens issued by its
own token endpoint, sender binding, header rules, replay memory, and the JWKS it serves."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import ibr_protocol as proto
from ibr_client import ReferenceSpMis
from ibr_client.callback_auth import token_service
from ibr_protocol.tokens import TokenService

from .conftest import CALLBACK_SECRET, IBR_ID, SP_ID

ON_SEARCH = "/registry/on-search"
TOKEN = "/oauth2/client/token"


def _start(config: Any, fake_ibr: Any) -> ReferenceSpMis:
    return ReferenceSpMis(
        config, ibr_keys=fake_ibr.keys(), http=httpx.Client(transport=fake_ibr.transport())
    ).start_receiver()


def _url(system: ReferenceSpMis) -> str:
    assert system.server is not None
    return system.server.url


@pytest.fixture
def sp_mis(make_config: Any, fake_ibr: Any) -> Any:
    system = _start(make_config(listen_port=0, max_body_bytes=4096), fake_ibr)
    yield system
    system.close()


def _on_search(fake_ibr: Any, transaction_id: str = "txn-s", **header: Any) -> dict[str, Any]:
    """A signed on-search from the fake IBR; ``header`` overrides fields before signing."""
    envelope = proto.build_callback(
        action="on-search",
        message=fake_ibr.search_response(transaction_id, records=[]),
        status="succ",
        sender_id=IBR_ID,
        receiver_id=SP_ID,
    )
    envelope["header"].update(header)
    return proto.sign_envelope(envelope, fake_ibr.ibr_key)


def _error(response: httpx.Response) -> dict[str, Any]:
    message = response.json()["message"]
    assert message["ack_status"] == "ERR", message
    error: dict[str, Any] = message["error"]
    return error


def _assert_refused(response: httpx.Response, status: int, code: str, reason: str = "") -> None:
    assert response.status_code == status, response.text
    error = _error(response)
    assert error["code"] == code
    assert reason in error["message"]


def _token_request(url: str, **fields: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": IBR_ID}
    form["client_secret"] = CALLBACK_SECRET
    return httpx.post(url + TOKEN, data={**form, **fields}, timeout=10)


# -- transport limits -----------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_callback_that_is_not_json_media_gets_415(
    sp_mis: Any, fake_ibr: Any, content_type: str
) -> None:
    """If this fails, the receiver parses bodies sent under any media type (IBR-ENV-005)."""
    response = httpx.post(
        sp_mis.server.url + ON_SEARCH,
        content=json.dumps(_on_search(fake_ibr)).encode(),
        headers={"content-type": content_type, **fake_ibr.bearer(sp_mis.server.url)},
    )
    _assert_refused(response, 415, "err.request.bad", "err.request.media_type")
    assert sp_mis.store.callbacks() == []


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.dci+json"]
)
def test_json_media_types_with_parameters_or_suffix_are_accepted(
    sp_mis: Any, fake_ibr: Any, content_type: str
) -> None:
    """If this fails, an IBR that labels its JSON with a charset or +json is refused."""
    response = httpx.post(
        sp_mis.server.url + ON_SEARCH,
        content=json.dumps(_on_search(fake_ibr)).encode(),
        headers={"content-type": content_type, **fake_ibr.bearer(sp_mis.server.url)},
    )
    assert response.status_code == 200, response.text


def test_a_body_over_the_limit_gets_413(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, anyone can make the receiver buffer and parse arbitrarily large bodies."""
    body = _on_search(fake_ibr)
    body["padding"] = "x" * 5000
    response = fake_ibr.post(sp_mis.server.url, ON_SEARCH, body)
    _assert_refused(response, 413, "err.request.bad", "err.request.too_large")


def test_json_nested_too_deep_is_refused(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, a hostile [[[[...]]]] body reaches the recursive JSON parser."""
    response = httpx.post(
        sp_mis.server.url + ON_SEARCH,
        content=b"[" * 100 + b"]" * 100,
        headers={"content-type": "application/json", **fake_ibr.bearer(sp_mis.server.url)},
    )
    _assert_refused(response, 400, "err.request.bad", "nests deeper")


# -- the token endpoint ---------------------------------------------------------------------------


def test_token_endpoint_issues_a_working_token_to_form_and_json_requests(
    sp_mis: Any, fake_ibr: Any
) -> None:
    """If this fails, the IBR cannot authenticate its callbacks, so none is ever accepted."""
    url = sp_mis.server.url
    by_form = _token_request(url)
    by_json = httpx.post(
        url + TOKEN,
        json={
            "grant_type": "client_credentials",
            "client_id": IBR_ID,
            "client_secret": CALLBACK_SECRET,
        },
    )
    for answer in (by_form, by_json):
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        body = answer.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 900
        assert set(body["scope"].split()) == {
            "registry.on-search",
            "registry.on-subscribe",
            "registry.on-unsubscribe",
            "registry.txn.on-status",
            "registry.notify",
        }
        callback = httpx.post(
            url + ON_SEARCH,
            json=_on_search(fake_ibr, f"txn-{len(body)}-{id(answer)}"),
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
        assert callback.status_code == 200, callback.text


@pytest.mark.parametrize(
    "fields",
    [{"client_secret": "wrong"}, {"client_id": "someone-else"}],
    ids=["wrong-secret", "unknown-client"],
)
def test_token_endpoint_refuses_wrong_credentials(sp_mis: Any, fields: dict[str, str]) -> None:
    """If this fails, anyone can get a token and post callbacks as the IBR."""
    answer = _token_request(sp_mis.server.url, **fields)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["cache-control"] == "no-store"
    assert "access_token" not in answer.json()


def test_token_endpoint_refuses_a_scope_it_does_not_offer(sp_mis: Any) -> None:
    """If this fails, the receiver grants scopes that mean nothing here (RFC 6749 §5.2)."""
    answer = _token_request(sp_mis.server.url, scope="registry.search")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"


def test_without_ibr_client_secret_nobody_gets_a_token_and_callbacks_are_refused(
    make_config: Any, fake_ibr: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """If this fails, an SP-MIS without the IBR's secret accepts callbacks from anyone, or an
    operator is not told why every callback is refused (IBR-SEC-006)."""
    with caplog.at_level("ERROR", logger="ibr_client.receiver"):
        system = _start(make_config(listen_port=0, ibr_client_secret=None), fake_ibr)
    try:
        assert any("ibr_client_secret" in r.getMessage() for r in caplog.records)
        answer = _token_request(_url(system))
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"
        response = httpx.post(_url(system) + ON_SEARCH, json=_on_search(fake_ibr))
        _assert_refused(response, 401, "err.request.unauthorized")
    finally:
        system.close()


def test_the_token_signing_key_is_private_to_the_owner(sp_mis: Any) -> None:
    """If this fails, other local users can read the key and mint tokens for callbacks."""
    mode = stat.S_IMODE(sp_mis.config.token_key_path.stat().st_mode)
    assert mode == 0o600


# -- bearer tokens on callbacks -------------------------------------------------------------------


def test_a_callback_without_a_token_gets_401(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, anyone who can reach the receiver injects callbacks (IBR-SEC-004)."""
    response = httpx.post(sp_mis.server.url + ON_SEARCH, json=_on_search(fake_ibr))
    _assert_refused(response, 401, "err.request.unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert sp_mis.store.callbacks() == []


def test_the_token_is_checked_before_the_signature(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, the order of IBR-SEC-009 is broken: an unauthenticated caller makes the
    receiver verify signatures."""
    body = _on_search(fake_ibr)
    del body["signature"]
    response = httpx.post(sp_mis.server.url + ON_SEARCH, json=body)
    _assert_refused(response, 401, "err.request.unauthorized")


def _post_with(url: str, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url + ON_SEARCH, json=body, headers={"Authorization": f"Bearer {token}"})


def test_forged_and_expired_tokens_are_refused(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, a token signed by another key, or one past its lifetime, still works."""
    forger = TokenService(
        private_jwk=proto.generate_signing_key("forged"), issuer=SP_ID, lifetime_seconds=900
    )
    forged = forger.issue(client_id=IBR_ID, scopes=["registry.on-search"], now=datetime.now(UTC))
    ours = token_service(sp_mis.config)
    expired = ours.issue(
        client_id=IBR_ID,
        scopes=["registry.on-search"],
        now=datetime.now(UTC) - timedelta(seconds=1000),
    )
    for token in (forged, expired, "not-a-jwt"):
        response = _post_with(sp_mis.server.url, token, _on_search(fake_ibr))
        _assert_refused(response, 401, "err.request.unauthorized", "err.token.invalid")
    assert sp_mis.store.callbacks() == []


def test_a_token_without_the_operations_scope_gets_403(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, a token granted for notify also admits on-search (x-oauth2-scope)."""
    token = _token_request(sp_mis.server.url, scope="registry.notify").json()["access_token"]
    response = _post_with(sp_mis.server.url, token, _on_search(fake_ibr))
    _assert_refused(response, 403, "err.request.forbidden", "err.token.scope")


def test_a_token_for_another_client_is_refused(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, a token our key signed for anyone but the IBR admits callbacks."""
    token = token_service(sp_mis.config).issue(
        client_id="crvs-mis", scopes=["registry.on-search"], now=datetime.now(UTC)
    )
    response = _post_with(sp_mis.server.url, token, _on_search(fake_ibr, sender_id="crvs-mis"))
    _assert_refused(response, 401, "err.request.unauthorized")


def test_header_sender_id_must_be_the_token_client(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, the IBR's token admits a message claiming another sender (IBR-SEC-005)."""
    body = _on_search(fake_ibr, sender_id="crvs-mis")
    response = fake_ibr.post(sp_mis.server.url, ON_SEARCH, body)
    _assert_refused(response, 403, "err.sender_id.invalid")


# -- header rules, then replay ----------------------------------------------------------------


def test_an_unsupported_version_gets_err_version_not_supported(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, a message of a version we do not speak is read as ours (IBR-HDR-004)."""
    response = fake_ibr.post(sp_mis.server.url, ON_SEARCH, _on_search(fake_ibr, version="9.0.0"))
    _assert_refused(response, 400, "err.version.not_supported")


def test_a_callback_for_another_receiver_gets_err_receiver_id_invalid(
    sp_mis: Any, fake_ibr: Any
) -> None:
    """If this fails, a callback meant for another SP-MIS is stored here (IBR-HDR-005)."""
    body = _on_search(fake_ibr, receiver_id="crvs-mis")
    response = fake_ibr.post(sp_mis.server.url, ON_SEARCH, body)
    _assert_refused(response, 400, "err.receiver_id.invalid")


def test_a_replayed_message_id_is_refused_even_after_a_restart(
    make_config: Any, fake_ibr: Any
) -> None:
    """If this fails, a captured callback can be posted again within the time window and is
    ACKed, or a receiver restart forgets which message ids it has seen (IBR-REPLAY-002)."""
    config = make_config(listen_port=0)
    body = _on_search(fake_ibr, "txn-replay")
    first = _start(config, fake_ibr)
    first_url = _url(first)
    try:
        assert fake_ibr.post(first_url, ON_SEARCH, body).status_code == 200
        again = fake_ibr.post(first_url, ON_SEARCH, body)
        _assert_refused(again, 400, "err.request.bad", "err.message_id.duplicate")
    finally:
        first.close()
    second = _start(config, fake_ibr)
    try:
        # The token from before the restart still works: the token key is kept in state_dir.
        token = fake_ibr.receiver_tokens[first_url]
        after_restart = _post_with(_url(second), token, body)
        _assert_refused(after_restart, 400, "err.request.bad", "err.message_id.duplicate")
        assert len(second.store.callbacks(action="on-search")) == 1
    finally:
        second.close()


def test_an_err_never_echoes_an_over_long_correlation_id(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, the ERR breaks the ACK schema's correlation_id length (IBR-ACK-001)."""
    body = _on_search(fake_ibr)
    body["message"]["correlation_id"] = "c" * 150
    response = httpx.post(sp_mis.server.url + ON_SEARCH, json=body)
    assert response.status_code == 401
    proto.validate(response.json(), "api/ack")
    assert len(response.json()["message"]["correlation_id"]) <= 99


def test_an_err_about_a_persons_record_never_repeats_its_values(
    sp_mis: Any, fake_ibr: Any, sample_beneficiary: Any
) -> None:
    """If this fails, a refused callback puts a person's birth date or identifier into the ERR
    (and into whatever logs the IBR keeps of answers) (IBR-ERR-003)."""
    person = sample_beneficiary(nid="7301551922")
    person["member"]["demographic_info"]["birth_date"] = "14/03/1977"
    message = fake_ibr.search_response("txn-pii", records=[person])
    response = fake_ibr.deliver("on-search", message, to=sp_mis.server.url)
    _assert_refused(response, 400, "err.request.bad", "birth_date")
    assert "14/03/1977" not in response.text
    assert "7301551922" not in response.text


def test_a_body_of_a_shape_no_dci_variant_has_gets_err_not_a_crash(
    sp_mis: Any, fake_ibr: Any
) -> None:
    """If this fails, a malformed callback makes the receiver answer 500 instead of an ERR."""
    envelope = proto.build_callback(
        action="on-search",
        message={"transaction_id": "t", "search_response": [{"data": {"reg_records": True}}]},
        status="succ",
        sender_id=IBR_ID,
        receiver_id=SP_ID,
    )
    body = proto.sign_envelope(envelope, fake_ibr.ibr_key)
    response = fake_ibr.post(sp_mis.server.url, ON_SEARCH, body)
    assert response.status_code == 400, response.text
    assert _error(response)["code"] == "err.request.bad"


# -- keys -----------------------------------------------------------------------------------------


def test_jwks_serves_the_public_signing_and_encryption_keys(
    make_config: Any, fake_ibr: Any, sp_key: dict[str, Any], tmp_path: Any
) -> None:
    """If this fails, the IBR cannot fetch the keys to verify our requests or encrypt to us."""
    encryption = proto.generate_encryption_key(f"{SP_ID}-enc")
    key_file = tmp_path / "enc.jwk.json"
    key_file.write_text(json.dumps(encryption))
    system = _start(make_config(listen_port=0, decryption_key_file=str(key_file)), fake_ibr)
    try:
        answer = httpx.get(_url(system) + "/.well-known/jwks.json")
    finally:
        system.close()
    assert answer.status_code == 200
    keys = {key["kid"]: key for key in answer.json()["keys"]}
    assert set(keys) == {sp_key["kid"], encryption["kid"]}
    assert all("d" not in key for key in keys.values()), "a private key part was published"
    assert keys[sp_key["kid"]]["x"] == sp_key["x"]
