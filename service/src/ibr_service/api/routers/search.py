"""search: sync/search answers at once; search (async) ACKs and answers by on-search callback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ibr_service.api.dependencies import ClockDep, CoreDep, KeysDep, SettingsDep
from ibr_service.api.inbound import InboundRequest, inbound_for
from ibr_service.api.operations import ASYNC_SEARCH, SYNC_SEARCH
from ibr_service.api.responses import acknowledge, signed_response

router = APIRouter()

SyncInbound = Annotated[InboundRequest, Depends(inbound_for(SYNC_SEARCH))]
AsyncInbound = Annotated[InboundRequest, Depends(inbound_for(ASYNC_SEARCH))]


@router.post(SYNC_SEARCH.path, operation_id="post_reg_sync_search")
def sync_search(
    inbound: SyncInbound, core: CoreDep, keys: KeysDep, settings: SettingsDep, clock: ClockDep
) -> JSONResponse:
    """Beneficiary records matching each search criterion, paged."""
    message = core.sync_search(inbound.message, caller=inbound.caller, header=inbound.header)
    return signed_response(
        inbound, message, keys=keys, receiver_id=settings.receiver_id, now=clock()
    )


@router.post(ASYNC_SEARCH.path, operation_id="post_reg_search")
def search(inbound: AsyncInbound, core: CoreDep, clock: ClockDep) -> JSONResponse:
    """ACK once the request is stored; the on-search callback goes to header.sender_uri."""
    correlation_id = core.accept_async(ASYNC_SEARCH.action, inbound.envelope, caller=inbound.caller)
    return acknowledge(correlation_id, now=clock())
