"""sync/enrollment/updates: SP-MIS publish enrolments and benefits (JSON body or file upload)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ibr_service.api.dependencies import ClockDep, CoreDep, KeysDep, SettingsDep
from ibr_service.api.inbound import InboundRequest, inbound_for
from ibr_service.api.operations import ENROLLMENT_UPDATES
from ibr_service.api.responses import signed_response
from ibr_service.metrics import INGEST_ITEMS

router = APIRouter()

Inbound = Annotated[InboundRequest, Depends(inbound_for(ENROLLMENT_UPDATES))]


@router.post(ENROLLMENT_UPDATES.path, operation_id="post_reg_enrollments_updates")
def enrollment_updates(
    inbound: Inbound, core: CoreDep, keys: KeysDep, settings: SettingsDep, clock: ClockDep
) -> JSONResponse:
    """Idempotent upsert of the batch; one `enrolled_response` item per beneficiary."""
    message = core.enrollment_updates(inbound.message, caller=inbound.caller, header=inbound.header)
    for item in message.get("enrolled_response") or ():
        status = item.get("status") if isinstance(item, dict) else None
        INGEST_ITEMS.labels(status=status if status in ("succ", "rjct") else "other").inc()
    return signed_response(
        inbound, message, keys=keys, receiver_id=settings.receiver_id, now=clock()
    )
