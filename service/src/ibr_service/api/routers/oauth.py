"""POST /oauth2/client/token: OAuth2 client-credentials grant (RFC 6749 section 4.4).

Form-encoded (DCI) or JSON body; credentials in the body or as HTTP Basic. The wire format is
``ibr_protocol.tokens``'s, shared with the reference SP-MIS's token endpoint.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ibr_protocol.tokens import NO_STORE_HEADERS, OAuthError, read_token_request, token_response
from ibr_service.api.dependencies import ClockDep, CoreDep, SettingsDep, StoreDep, TokensDep
from ibr_service.api.inbound import read_body_limited
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
) -> JSONResponse:
    """Exchange client credentials for a bearer JWT carrying the granted scopes."""
    asked = read_token_request(
        content_type=request.headers.get("content-type"),
        body=await read_body_limited(request, settings.max_body_bytes),
        authorization=request.headers.get("authorization"),
        max_depth=settings.max_json_depth,
    )
    try:
        client = await run_in_threadpool(
            authenticate_client, store, asked.client_id, asked.client_secret
        )
    except AuthenticationError as exc:
        raise OAuthError("invalid_client", exc.message, status_code=401) from exc
    requested = asked.scopes if asked.scopes is not None else client.scopes
    if not requested <= client.scopes:
        raise OAuthError(
            "invalid_scope",
            f"scope(s) {sorted(requested - client.scopes)} are not granted to {asked.client_id!r}",
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
