"""txn/status: progress of an earlier request, answered at once or by txn-on-status callback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ibr_service.api.dependencies import ClockDep, CoreDep, KeysDep, SettingsDep
from ibr_service.api.inbound import InboundRequest, inbound_for
from ibr_service.api.operations import ASYNC_TXN_STATUS, SYNC_TXN_STATUS
from ibr_service.api.responses import acknowledge, signed_response
from ibr_service.core import TxnNotFoundError

router = APIRouter()

SyncInbound = Annotated[InboundRequest, Depends(inbound_for(SYNC_TXN_STATUS))]
AsyncInbound = Annotated[InboundRequest, Depends(inbound_for(ASYNC_TXN_STATUS))]


@router.post(SYNC_TXN_STATUS.path, operation_id="post_reg_sync_txnstatus")
def sync_txn_status(
    inbound: SyncInbound, core: CoreDep, keys: KeysDep, settings: SettingsDep, clock: ClockDep
) -> JSONResponse:
    """Status of the sender's transactions by transaction_id or reference_id.

    An unknown transaction is answered, not refused: header status ``rjct`` (no header reason
    code: DCI's list has none for it) and a ``txn_status`` whose one item is ``rjct`` with
    ``rjct.reference_id.invalid`` (IBR-TXN-003).
    """
    try:
        message = core.txn_status(inbound.message, caller=inbound.caller, header=inbound.header)
    except TxnNotFoundError as exc:
        return signed_response(
            inbound,
            exc.response,
            keys=keys,
            receiver_id=settings.receiver_id,
            now=clock(),
            status="rjct",
            status_reason_message=f"{exc.field}: {exc.message}",
        )
    return signed_response(
        inbound, message, keys=keys, receiver_id=settings.receiver_id, now=clock()
    )


@router.post(ASYNC_TXN_STATUS.path, operation_id="post_reg_txnstatus")
def txn_status(inbound: AsyncInbound, core: CoreDep, clock: ClockDep) -> JSONResponse:
    """ACK; the txn-on-status callback goes to header.sender_uri."""
    correlation_id = core.accept_async(
        ASYNC_TXN_STATUS.action, inbound.envelope, caller=inbound.caller
    )
    return acknowledge(correlation_id, now=clock())
