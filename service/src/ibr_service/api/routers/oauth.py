"""POST /oauth2/client/token: OAuth2 client-credentials grant (RFC 6749 section 4.4).

Form-encoded (DCI) or JSON body; credentials in the body or as HTTP Basic.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ibr_service.api.dependencies import ClockDep, CoreDep, SettingsDep, StoreDep, TokensDep
from ibr_service.api.errors import OAuthError
from ibr_service.api.inbound import read_body_limited
from ibr_service.security.clients import authenticate_client
from ibr_service.security.errors import AuthenticationError, RequestRejectedError
from ibr_service.security.limits import parse_json_limited

router = APIRouter()


@router.post("/oauth2/client/token", operation_id="post_oauth2_client_token")
async def issue_token(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    tokens: TokensDep,
    core: CoreDep,
    clock: ClockDep,
) -> JSONResponse:
    """Exchange client credentials for a bearer JWT carrying the granted scopes."""
    fields = await _token_request(request, settings.max_json_depth, settings.max_body_bytes)
    if fields.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "grant_type must be 'client_credentials'")
    client_id, client_secret = _credentials(request, fields)
    try:
        client = await run_in_threadpool(authenticate_client, store, client_id, client_secret)
    except AuthenticationError as exc:
        raise OAuthError("invalid_client", exc.message, status_code=401) from exc
    scope = fields.get("scope")
    requested = set(str(scope).split()) if scope else set(client.scopes)
    if not requested <= client.scopes:
        raise OAuthError(
            "invalid_scope",
            f"scope(s) {sorted(requested - client.scopes)} are not granted to {client_id!r}",
        )
    token = tokens.issue(client_id=client.sender_id, scopes=requested, now=clock())
    await run_in_threadpool(
        core.record_event,
        actor=client.sender_id,
        action="token.issued",
        subject=client.sender_id,
        detail={"scope": " ".join(sorted(requested))},
    )
    return JSONResponse(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": tokens.lifetime_seconds,
            "scope": " ".join(sorted(requested)),
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def _token_request(request: Request, max_depth: int, max_bytes: int) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = await read_body_limited(request, max_bytes)
        try:
            data = parse_json_limited(body, max_depth=max_depth)
        except RequestRejectedError as exc:
            raise OAuthError("invalid_request", exc.message) from exc
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "the JSON body must be an object")
        return data
    if content_type == "application/x-www-form-urlencoded":
        async with request.form(max_files=0, max_fields=8) as form:
            return {key: value for key, value in form.items() if isinstance(value, str)}
    raise OAuthError(
        "invalid_request",
        "send application/x-www-form-urlencoded (or application/json) with grant_type, "
        "client_id and client_secret",
    )


def _credentials(request: Request, fields: dict[str, Any]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError(
                "invalid_client", "malformed HTTP Basic credentials", status_code=401
            ) from exc
        basic_id, _, basic_secret = decoded.partition(":")
        return basic_id, basic_secret
    client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        raise OAuthError(
            "invalid_request", "client_id and client_secret are required (body or HTTP Basic)"
        )
    return client_id, client_secret
