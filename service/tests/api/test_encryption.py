"""Encrypted messages (JWE in `message`, encrypt-then-sign): the IBR decrypts with the key it
publishes, and answers an encrypted request encrypted to the client's registered enc key."""

from __future__ import annotations

from openapi_core import OpenAPI

from ibr_protocol import (
    Jwks,
    build_request,
    decrypt_message,
    encrypt_message,
    generate_encryption_key,
    public_jwk,
    sign_envelope,
)
from ibr_protocol.clock import utc_now
from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import Sandbox
from ibr_service.cli.spmis import ScriptedSpMis, enrolled_message, enrollment_message
from ibr_service.security.clients import register_client

from .conftest import assert_matches_openapi


def test_encrypted_enrolled_check_is_answered_encrypted(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, confidential requests are refused or answered in clear text."""
    ibr.spmis.send(
        "/registry/sync/enrollment/updates", "notify", enrollment_message(builtin_beneficiaries())
    )
    enc_key = generate_encryption_key("secret.spmis#enc-1")
    spmis = ScriptedSpMis(base_url=ibr.url, sender_id="secret.spmis", client_secret="")
    _, spmis.client_secret = register_client(
        ibr.host.store,
        sender_id="secret.spmis",
        now=utc_now(),
        public_keys=[spmis.public_jwk, public_jwk(enc_key)],
    )
    jwks = Jwks.from_dict(spmis.http.get(f"{ibr.url}/.well-known/jwks.json").json())
    ibr_enc = next(key for key in jwks.as_dict()["keys"] if key.get("use") == "enc")
    secret = encrypt_message(enrolled_message("1000000002"), ibr_enc)
    envelope = build_request(
        action="search", message=secret, sender_id="secret.spmis", receiver_id="IBR"
    )
    assert envelope["header"]["is_msg_encrypted"] is True
    reply = spmis.post("/registry/sync/enrolled", sign_envelope(envelope, spmis.private_jwk))
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, "/registry/sync/enrolled", reply)
    body = reply.json()
    assert body["header"]["is_msg_encrypted"] is True
    answer = decrypt_message(body["message"], enc_key)
    assert answer["enrolled_response"][0]["enrolled_status"] == "yes"
    spmis.http.close()


def test_message_encrypted_for_another_key_is_rejected(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, an undecryptable message crashes the server instead of an ERR."""
    stranger = public_jwk(generate_encryption_key("someone-else#enc"))
    envelope = ibr.spmis.envelope("search", encrypt_message(enrolled_message("1"), stranger))
    reply = ibr.spmis.post("/registry/sync/enrolled", envelope)
    assert reply.status_code == 400, reply.text
    assert reply.json()["message"]["error"]["code"] == "err.encryption.invalid"
    assert_matches_openapi(openapi, "/registry/sync/enrolled", reply)
