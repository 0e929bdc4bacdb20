"""subscribe / unsubscribe: standing interest in enrolment and status-change events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ibr_service.api.dependencies import ClockDep, CoreDep
from ibr_service.api.inbound import InboundRequest, inbound_for
from ibr_service.api.operations import SUBSCRIBE, UNSUBSCRIBE
from ibr_service.api.responses import acknowledge

router = APIRouter()

SubscribeInbound = Annotated[InboundRequest, Depends(inbound_for(SUBSCRIBE))]
UnsubscribeInbound = Annotated[InboundRequest, Depends(inbound_for(UNSUBSCRIBE))]


@router.post(SUBSCRIBE.path, operation_id="post_reg_subscribe")
def subscribe(inbound: SubscribeInbound, core: CoreDep, clock: ClockDep) -> JSONResponse:
    """ACK; on-subscribe (with the subscription codes) follows by callback."""
    correlation_id = core.accept_async(SUBSCRIBE.action, inbound.envelope, caller=inbound.caller)
    return acknowledge(correlation_id, now=clock())


@router.post(UNSUBSCRIBE.path, operation_id="post_reg_unsubscribe")
def unsubscribe(inbound: UnsubscribeInbound, core: CoreDep, clock: ClockDep) -> JSONResponse:
    """ACK; on-unsubscribe follows by callback."""
    correlation_id = core.accept_async(UNSUBSCRIBE.action, inbound.envelope, caller=inbound.caller)
    return acknowledge(correlation_id, now=clock())
