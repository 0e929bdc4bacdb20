"""POST /oauth2/client/token: OAuth2 client-credentials grant (RFC 6749 section 4.4).

Form-encoded (DCI) or JSON body; credentials in the body or as HTTP Basic. The wire format is
``ibr_protocol.tokens``'s, shared with the reference SP-MIS's token endpoint.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ibr_protocol.input_limits import InputValueError, check_text
from ibr_protocol.tokens import (
    NO_STORE_HEADERS,
    OAuthError,
    TokenRequest,
    read_token_request,
    token_response,
)
from ibr_service.api.dependencies import (
    ClockDep,
    CoreDep,
    SettingsDep,
    StoreDep,
    ThrottlesDep,
    TokensDep,
)
from ibr_service.api.inbound import read_body_limited
from ibr_service.api.throttling import source_address
from ibr_service.security.clients import authenticate_client
from ibr_service.security.errors import AuthenticationError

router = APIRouter()


@router.post("/oauth2/client/token", operation_id="post_oauth2_client_token")
async def issue_token(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    tokens: TokensDep,
    core: CoreDep,
    clock: ClockDep,
    throttles: ThrottlesDep,
) -> JSONResponse:
    """Exchange client credentials for a bearer JWT carrying the granted scopes.

    Each attempt costs a scrypt hash, so attempts per source address are limited, and so are
    failed attempts (password guessing); both answer 429 with Retry-After.
    """
    address = f"addr:{source_address(request)}"
    throttles.token_per_address.hit(address)
    if throttles.token_failures.would_refuse(address):
        throttles.token_failures.hit(address)  # raises with the Retry-After of that bucket
    asked = read_token_request(
        content_type=request.headers.get("content-type"),
        body=await read_body_limited(request, settings.max_body_bytes),
        authorization=request.headers.get("authorization"),
        max_depth=settings.max_json_depth,
    )
    _check_credentials_text(asked)
    try:
        client = await run_in_threadpool(
            authenticate_client, store, asked.client_id, asked.client_secret
        )
    except AuthenticationError as exc:
        throttles.token_failures.record(address)
        raise OAuthError("invalid_client", exc.message, status_code=401) from exc
    requested = asked.scopes if asked.scopes is not None else client.scopes
    if not requested <= client.scopes:
        raise OAuthError(
            "invalid_scope",
            f"scope(s) {sorted(requested - client.scopes)[:6]} are not granted to this client",
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
        token_response(token, lifetime_seconds=tokens.lifetime_seconds, scopes=requested),
        headers=NO_STORE_HEADERS,
    )


def _check_credentials_text(asked: TokenRequest) -> None:
    # A NUL or lone surrogate in a credential would reach the database or the hash function.
    try:
        check_text(asked.client_id, "client_id")
        check_text(asked.client_secret, "client_secret")
        for scope in asked.scopes or ():
            check_text(scope, "scope")
    except InputValueError as exc:
        raise OAuthError("invalid_request", f"{exc.field}: {exc.message}") from exc
