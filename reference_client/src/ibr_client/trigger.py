"""The trigger API: lets an external test harness ask this SP-MIS to start a process.

DCI-style compliance kits test a client by asking it to act ("search for this person now") and
then watching what it sends to the IBR. Off by default; ``ibr-client listen --trigger`` mounts it
under ``/trigger`` on the receiver. It has no authentication of its own, so only enable it on a
loopback or test network. Each POST takes our shape or the one OpenSPP's DCI compliance kit
(``spmis-client`` profile) sends:

    POST /trigger/search       {"queries": [{"type": "NID", "value": "1"}], "query_type"?}
                               kit: {"query_type": "idtype-value", "query": {"type", "value"}}
    POST /trigger/subscribe    {"reg_event_type": "...", "filter": {...}, "filter_type"?}
                               kit: {"event_type": "REGISTER"} (filter optional)
    POST /trigger/unsubscribe  {"subscription_codes": ["..."]}
    GET  /trigger/transactions/{transaction_id}   the callback once it has arrived (else 404)

Each POST answers 202 ``{"ack_status": "ACK", "transaction_id": ...}`` once the IBR has ACKed;
502 ``{"ack_status": "ERR", "error": {"code", "message"}}`` when the IBR rejected the request or
could not be reached; 422 with ``ack_status`` ERR for a body of neither shape.
"""

from __future__ import annotations

from typing import Any, Self

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ibr_client.client import IbrClient
from ibr_client.errors import IbrClientError, IbrRejectedError

__all__ = ["KIT_EVENT_TYPES", "create_trigger_app"]

KIT_EVENT_TYPES = {
    "register": "enrollement",
    "enrol": "enrollement",
    "enroll": "enrollement",
    "enrolment": "enrollement",
    "enrollment": "enrollement",
    "enrollement": "enrollement",
    "update": "enrollement_status_change",
    "status_change": "enrollement_status_change",
    "enrolment_status_change": "enrollement_status_change",
    "enrollment_status_change": "enrollement_status_change",
    "enrollement_status_change": "enrollement_status_change",
    "deregister": "deregister",
}
"""Event types a kit may name (any case, ``ns:...:`` prefix allowed) -> our reg_event_type."""

ALL_ENROLMENTS = {
    "type": "expression",
    "value": {"expression": {"query": {"enrolment_date": {"ge": "1900-01-01"}}}},
}
"""The filter of a kit subscribe without one: every enrolment the IBR lets this client see."""


class SearchTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queries: list[dict[str, Any] | list[dict[str, Any]]] | None = Field(default=None, min_length=1)
    query: dict[str, Any] | list[dict[str, Any]] | None = None
    query_type: str = "idtype-value"

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if (self.queries is None) == (self.query is None):
            raise ValueError("give either queries (a list) or query (one), not both")
        return self

    @property
    def all_queries(self) -> list[Any]:
        return self.queries if self.queries is not None else [self.query]


class SubscribeTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reg_event_type: str | None = None
    event_type: str | None = None
    filter: dict[str, Any] | list[dict[str, Any]] | None = None
    filter_type: str | None = None
    notify_record_type: str = "Beneficiary"

    @model_validator(mode="after")
    def _one_event(self) -> Self:
        if (self.reg_event_type is None) == (self.event_type is None):
            raise ValueError("give either reg_event_type (ours) or event_type (the kit's)")
        if self.reg_event_type is not None and self.filter is None:
            raise ValueError("reg_event_type needs a filter")
        if self.event_type is not None and self.our_event_type is None:
            known = ", ".join(sorted(KIT_EVENT_TYPES))
            raise ValueError(f"event_type {self.event_type[:40]!r} is not one of {known}")
        return self

    @property
    def our_event_type(self) -> str | None:
        if self.reg_event_type is not None:
            return self.reg_event_type
        assert self.event_type is not None
        return KIT_EVENT_TYPES.get(self.event_type.rsplit(":", 1)[-1].strip().lower())


class UnsubscribeTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscription_codes: list[str] = Field(min_length=1)


def create_trigger_app(client: IbrClient) -> FastAPI:
    app = FastAPI(title="IBR reference SP-MIS trigger API", docs_url=None, redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def bad_trigger(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'][1:]) or 'body'}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        return _answer("ERR", 422, error={"code": "err.request.bad", "message": problems})

    @app.post("/search")
    def trigger_search(body: SearchTrigger) -> JSONResponse:
        return _run(lambda: client.search_async(body.all_queries, query_type=body.query_type))

    @app.post("/subscribe")
    def trigger_subscribe(body: SubscribeTrigger) -> JSONResponse:
        filter_ = ALL_ENROLMENTS if body.filter is None else body.filter
        return _run(
            lambda: client.subscribe(
                reg_event_type=str(body.our_event_type),
                filter_=filter_,
                filter_type=body.filter_type or "expression",
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


def _answer(ack_status: str, status_code: int, **fields: Any) -> JSONResponse:
    return JSONResponse({"ack_status": ack_status, **fields}, status_code)


def _run(start: Any) -> JSONResponse:
    try:
        handle = start()
    except IbrRejectedError as exc:
        return _answer("ERR", 502, error={"code": exc.code, "message": exc.message})
    except IbrClientError as exc:
        return _answer("ERR", 502, error={"code": type(exc).__name__, "message": str(exc)})
    return _answer("ACK", 202, transaction_id=handle.transaction_id)
