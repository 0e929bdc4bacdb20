"""The trigger API: lets an external test harness ask this SP-MIS to start a process.

DCI-style compliance kits test a client by asking it to act ("search for this person now") and
then watching what it sends to the IBR. Off by default; ``ibr-client listen --trigger`` mounts it
under ``/trigger`` on the receiver. It has no authentication of its own, so only enable it on a
loopback or test network.

    POST /trigger/search       {"queries": [{"type": "NID", "value": "1"}], "query_type"?}
    POST /trigger/subscribe    {"reg_event_type": "...", "filter": {...}, "filter_type"?}
    POST /trigger/unsubscribe  {"subscription_codes": ["..."]}
    GET  /trigger/transactions/{transaction_id}   the callback once it has arrived (else 404)

Each POST answers ``{"transaction_id": ...}`` once the IBR has ACKed, or the error as
``{"error": {"code", "message"}}`` with HTTP 502 when the IBR rejected or could not be reached.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ibr_client.client import IbrClient
from ibr_client.errors import IbrClientError, IbrRejectedError

__all__ = ["create_trigger_app"]


class SearchTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queries: list[dict[str, Any]] = Field(min_length=1)
    query_type: str = "idtype-value"


class SubscribeTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reg_event_type: str
    filter: dict[str, Any] | list[dict[str, Any]]
    filter_type: str = "expression"
    notify_record_type: str = "Beneficiary"


class UnsubscribeTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscription_codes: list[str] = Field(min_length=1)


def create_trigger_app(client: IbrClient) -> FastAPI:
    app = FastAPI(title="IBR reference SP-MIS trigger API", docs_url=None, redoc_url=None)

    @app.post("/search")
    def trigger_search(body: SearchTrigger) -> JSONResponse:
        return _run(lambda: client.search_async(body.queries, query_type=body.query_type))

    @app.post("/subscribe")
    def trigger_subscribe(body: SubscribeTrigger) -> JSONResponse:
        return _run(
            lambda: client.subscribe(
                reg_event_type=body.reg_event_type,
                filter_=body.filter,
                filter_type=body.filter_type,
                notify_record_type=body.notify_record_type,
            )
        )

    @app.post("/unsubscribe")
    def trigger_unsubscribe(body: UnsubscribeTrigger) -> JSONResponse:
        return _run(lambda: client.unsubscribe(body.subscription_codes))

    @app.get("/transactions/{transaction_id}")
    def transaction(transaction_id: str) -> dict[str, Any]:
        operation = client.hub.store.sent_operation(transaction_id)
        if operation is None:
            raise HTTPException(404, f"no transaction {transaction_id} was sent by this SP-MIS")
        for stored in client.hub.store.callbacks():
            if stored.transaction_id == transaction_id:
                return {
                    "transaction_id": transaction_id,
                    "operation": operation,
                    "action": stored.action,
                    "header": stored.header,
                    "message": stored.message,
                }
        raise HTTPException(404, f"no callback for transaction {transaction_id} yet")

    return app


def _run(start: Any) -> JSONResponse:
    try:
        handle = start()
    except IbrRejectedError as exc:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, 502)
    except IbrClientError as exc:
        return JSONResponse({"error": {"code": type(exc).__name__, "message": str(exc)}}, 502)
    return JSONResponse({"transaction_id": handle.transaction_id}, 202)
