"""sync/enrolled: is this person or household enrolled (in this programme)? yes/no only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ibr_service.api.dependencies import ClockDep, CoreDep, KeysDep, SettingsDep
from ibr_service.api.inbound import InboundRequest, inbound_for
from ibr_service.api.operations import ENROLLED
from ibr_service.api.responses import signed_response

router = APIRouter()

Inbound = Annotated[InboundRequest, Depends(inbound_for(ENROLLED))]


@router.post(ENROLLED.path, operation_id="post_reg_enrolled")
def enrolled(
    inbound: Inbound, core: CoreDep, keys: KeysDep, settings: SettingsDep, clock: ClockDep
) -> JSONResponse:
    """Answer each enrolled criterion with `enrolled_status` yes/no (data minimisation)."""
    message = core.enrolled(inbound.message, caller=inbound.caller, header=inbound.header)
    return signed_response(
        inbound, message, keys=keys, receiver_id=settings.receiver_id, now=clock()
    )
