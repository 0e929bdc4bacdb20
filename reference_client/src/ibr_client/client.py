"""The SDK: one method per standard process, sync (:class:`IbrClient`) and async
(:class:`AsyncIbrClient`).

Both share :class:`_ClientCore` (envelopes, tokens, message builders, matching) and differ only
in how they do HTTP. Retries cover transport failures only (the request may or may not have
arrived); every retry is a fresh envelope (new ``message_id``, so a replay guard does not reject
it) carrying the same ``transaction_id`` and the same records, whose keys (programme, beneficiary
programme id, benefit id) make the IBR's upsert count them once.

Example::

    with IbrClient.from_config(load_config(Path("ibr-client.toml"))) as ibr:
        answer = ibr.enrolled("NID", "0205202401")
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Self, TypeVar

import httpx

import ibr_protocol as proto
from ibr_client.config import ClientConfig, load_jwk
from ibr_client.envelopes import EnvelopeCodec, new_transaction_id, read_ack
from ibr_client.errors import AuthError, ConfigError, ResponseInvalidError, TransportError
from ibr_client.handles import CallbackHandle, CallbackHub
from ibr_client.keys import IbrKeys, ibr_keys_from_config
from ibr_client.messages import (
    Query,
    enrolled_request,
    enrollment_updates_request,
    idtype_query,
    search_request,
    subscribe_request,
    txn_status_request,
    unsubscribe_request,
)
from ibr_client.operations import OPERATIONS, Operation
from ibr_client.store import ClientStore
from ibr_protocol.tokens import TokenCache, TokenEndpointError

__all__ = ["AsyncIbrClient", "IbrClient", "batched"]

T = TypeVar("T")
_ENROLLED_BULK_LIMIT = 100
Record = Mapping[str, Any]


def batched(records: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _ClientCore:
    def __init__(
        self,
        config: ClientConfig,
        *,
        hub: CallbackHub | None = None,
        ibr_keys: IbrKeys | None = None,
    ) -> None:
        self.config = config
        self.hub = hub or CallbackHub(ClientStore(config.store_path))
        self.tokens = TokenCache(
            config.effective_token_url,
            config.client_id,
            config.client_secret.get_secret_value(),
        )
        if config.verify_callbacks and ibr_keys is None:
            ibr_keys = ibr_keys_from_config(config)
        self.codec = EnvelopeCodec(
            sender_id=config.sender_id,
            receiver_id=config.receiver_id,
            callback_url=config.callback_url,
            signing_key=config.signing_key(),
            ibr_keys=ibr_keys if config.verify_callbacks else None,
            encryption_key=_encryption_key(config),
            decryption_key=(
                load_jwk(config.decryption_key_file, "decryption_key_file")
                if config.decryption_key_file
                else None
            ),
            signature_profile=config.signature_profile,
            callbacks_unsigned_ok=config.callback_signature == "optional",
        )

    def _url(self, op: Operation) -> str:
        return self.config.ibr_url + op.path

    def _delays(self) -> Iterator[float]:
        delay = self.config.backoff
        for _ in range(self.config.retries):
            yield delay
            delay *= 2

    def _handle(
        self, op: Operation, transaction_id: str, parse: Callable[[dict[str, Any]], T]
    ) -> CallbackHandle[T]:
        assert op.callback_action is not None
        return CallbackHandle(self.hub, transaction_id, op.callback_action, parse)

    def _check_async(self, op: Operation) -> None:
        if self.config.callback_url is None:
            raise ConfigError(
                "callback_url",
                f"{op.name} is asynchronous: set callback_url to the public URL of the receiver",
            )


def accept_token(tokens: TokenCache, response: httpx.Response) -> str:
    """The IBR token endpoint's answer read by the shared cache, errors in our terms."""
    try:
        return tokens.accept(response)
    except TokenEndpointError as exc:
        status = response.status_code
        if status in (400, 401, 403):
            raise AuthError(
                f"the IBR token endpoint {tokens.token_url} refused client_id "
                f"{tokens.client_id!r} (HTTP {status}); check client_id and client_secret, and "
                "that the client is registered at the IBR"
            ) from None
        if status == 404:
            raise AuthError(
                f"no token endpoint at {tokens.token_url} (HTTP 404); set token_url to the "
                "IBR's OAuth2 client-credentials endpoint"
            ) from None
        if status >= 400:
            raise AuthError(
                f"the IBR token endpoint {tokens.token_url} failed with HTTP {status}"
            ) from None
        raise ResponseInvalidError("token response", str(exc)) from None


def _encryption_key(config: ClientConfig) -> dict[str, Any] | None:
    if not config.encrypt_requests:
        return None
    if config.ibr_encryption_key_file is None:
        raise ConfigError("ibr_encryption_key_file", "required when encrypt_requests is on")
    return load_jwk(config.ibr_encryption_key_file, "ibr_encryption_key_file")


def _parse(model_name: str) -> Callable[[dict[str, Any]], Any]:
    """Parse a message into the protocol library's model of that name."""

    def parse(message: dict[str, Any]) -> Any:
        model = getattr(proto, model_name)
        try:
            return model.model_validate(message)
        except ValueError as exc:
            raise ResponseInvalidError(model_name, str(exc).splitlines()[0]) from None

    return parse


class IbrClient(_ClientCore):
    """Synchronous SDK. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        hub: CallbackHub | None = None,
        ibr_keys: IbrKeys | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(config, hub=hub, ibr_keys=ibr_keys)
        self._http = http or httpx.Client(timeout=config.timeout)
        self._sleep = sleep

    @classmethod
    def from_config(cls, config: ClientConfig, **kwargs: Any) -> Self:
        return cls(config, **kwargs)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def _post(self, url: str, **kwargs: Any) -> httpx.Response:
        attempts = 0
        delays = self._delays()
        while True:
            attempts += 1
            try:
                return self._http.post(url, **kwargs)
            except httpx.TransportError as exc:
                delay = next(delays, None)
                if delay is None:
                    raise TransportError(
                        url, str(exc) or type(exc).__name__, attempts=attempts
                    ) from None
                self._sleep(delay)

    def _token(self) -> str:
        token = self.tokens.current()
        if token is None:
            response = self._post(self.tokens.token_url, data=self.tokens.request_form())
            token = accept_token(self.tokens, response)
        return token

    def _send(self, op: Operation, message: dict[str, Any], total_count: int) -> Any:
        for attempt in (1, 2):
            envelope = self.codec.build(op, message, total_count=total_count)
            response = self._post(
                self._url(op),
                json=envelope,
                headers={"Authorization": f"Bearer {self._token()}"},
            )
            if _token_refused(response) and attempt == 1:
                self.tokens.invalidate()  # expired or revoked: get a new one, try once more
                continue
            if _token_refused(response):
                raise AuthError(f"the IBR refused our token for {op.path} (HTTP 401)")
            if op.is_async:
                self.hub.store.record_sent(
                    message["transaction_id"], op.name, envelope["header"]["message_id"]
                )
            return _body(response)
        raise AssertionError("unreachable")

    def _call_sync(self, op: Operation, message: dict[str, Any], total_count: int) -> Any:
        return self.codec.open_response(op, self._send(op, message, total_count)).message

    def _call_async(self, op: Operation, message: dict[str, Any], total_count: int) -> None:
        self._check_async(op)
        read_ack(self._send(op, message, total_count))

    # -- the standard processes ---------------------------------------------------------------

    def publish_batch(
        self,
        beneficiaries: Sequence[Record],
        *,
        transaction_id: str | None = None,
        receipt_type: str = "enrollment",
    ) -> Any:
        """Send one batch of enrolments, benefits or status changes; the IBR's answer."""
        message = enrollment_updates_request(
            transaction_id or new_transaction_id(), beneficiaries, receipt_type=receipt_type
        )
        op = OPERATIONS["publish"]
        return _parse("EnrollmentUpdatesResponse")(self._call_sync(op, message, len(beneficiaries)))

    def publish(
        self, beneficiaries: Iterable[Record], *, batch_size: int | None = None
    ) -> list[Any]:
        """Send enrolments and benefits in batches of ``batch_size``; one answer per batch."""
        size = batch_size or self.config.batch_size
        return [self.publish_batch(batch) for batch in batched(beneficiaries, size)]

    def report_status_changes(
        self, beneficiaries: Iterable[Record], *, batch_size: int | None = None
    ) -> list[Any]:
        """Report changed records (suspension, exit, death: status, date, ``death_date``)."""
        size = batch_size or self.config.batch_size
        return [
            self.publish_batch(batch, receipt_type="update")
            for batch in batched(beneficiaries, size)
        ]

    def enrolled(
        self, identifier_type: str, identifier_value: str, *, response_entity: str = "Member"
    ) -> Any:
        """Is this person enrolled, and where? One ``sync/enrolled`` request."""
        message = enrolled_request(
            new_transaction_id(),
            [idtype_query(identifier_type, identifier_value)],
            response_entity=response_entity,
        )
        return _parse("EnrolledResponse")(self._call_sync(OPERATIONS["enrolled"], message, 1))

    def enrolled_bulk(
        self, identifiers: Iterable[tuple[str, str]], *, response_entity: str = "Member"
    ) -> list[Any]:
        """Enrolled check for many people: one request per 100 (the spec's limit per message)."""
        answers = []
        for chunk in batched(identifiers, _ENROLLED_BULK_LIMIT):
            message = enrolled_request(
                new_transaction_id(),
                [idtype_query(t, v) for t, v in chunk],
                response_entity=response_entity,
            )
            answer = self._call_sync(OPERATIONS["enrolled"], message, len(chunk))
            answers.append(_parse("EnrolledResponse")(answer))
        return answers

    def search(
        self,
        queries: Sequence[Query],
        *,
        query_type: str = "idtype-value",
        page_size: int | None = None,
    ) -> Any:
        """Synchronous search (``sync/search``); one result item per query. A query is an
        object (``idtype_query``, ``expression_query``) or, with ``query_type="predicate"``, a
        list (``predicate_query``)."""
        message = search_request(
            new_transaction_id(), queries, query_type=query_type, page_size=page_size
        )
        return _parse("SearchResponse")(
            self._call_sync(OPERATIONS["sync_search"], message, len(queries))
        )

    def search_async(
        self,
        queries: Sequence[Query],
        *,
        query_type: str = "idtype-value",
        page_size: int | None = None,
    ) -> CallbackHandle[Any]:
        """Asynchronous search: returns at once; the handle resolves on ``on-search``."""
        op = OPERATIONS["search"]
        message = search_request(
            new_transaction_id(), queries, query_type=query_type, page_size=page_size
        )
        self._call_async(op, message, len(queries))
        return self._handle(op, message["transaction_id"], _parse("SearchResponse"))

    def subscribe(
        self,
        *,
        reg_event_type: str,
        filter_: Record | Sequence[Record],
        filter_type: str = "expression",
        notify_record_type: str = "Beneficiary",
        frequency: Record | None = None,
    ) -> CallbackHandle[Any]:
        """Subscribe to an event; the handle resolves on ``on-subscribe`` (with the codes).

        ``frequency`` (``start_time``, ``end_time``, ``frequency``) limits notifications to the
        events the IBR records in that window.
        """
        op = OPERATIONS["subscribe"]
        message = subscribe_request(
            new_transaction_id(),
            reg_event_type=reg_event_type,
            filter_=filter_,
            filter_type=filter_type,
            notify_record_type=notify_record_type,
            frequency=frequency,
        )
        self._call_async(op, message, 1)
        return self._handle(op, message["transaction_id"], _parse("SubscribeResponse"))

    def unsubscribe(self, subscription_codes: Sequence[str]) -> CallbackHandle[Any]:
        """End subscriptions; the handle resolves on ``on-unsubscribe``."""
        op = OPERATIONS["unsubscribe"]
        message = unsubscribe_request(new_transaction_id(), subscription_codes)
        self._call_async(op, message, len(subscription_codes))
        return self._handle(op, message["transaction_id"], _parse("UnsubscribeResponse"))

    def txn_status(self, of_transaction_id: str, *, txn_type: str = "search") -> Any:
        """Synchronous status of an earlier transaction (``sync/txn/status``)."""
        message = txn_status_request(new_transaction_id(), of_transaction_id, txn_type=txn_type)
        return _parse("TxnStatusResponse")(
            self._call_sync(OPERATIONS["sync_txn_status"], message, 1)
        )

    def txn_status_async(
        self, of_transaction_id: str, *, txn_type: str = "search"
    ) -> CallbackHandle[Any]:
        """Asynchronous status; the handle resolves on ``txn/on-status``."""
        op = OPERATIONS["txn_status"]
        message = txn_status_request(new_transaction_id(), of_transaction_id, txn_type=txn_type)
        self._call_async(op, message, 1)
        return self._handle(op, message["transaction_id"], _parse("TxnStatusResponse"))


class AsyncIbrClient(_ClientCore):
    """Asynchronous SDK (``httpx.AsyncClient``); same processes as :class:`IbrClient`."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        hub: CallbackHub | None = None,
        ibr_keys: IbrKeys | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(config, hub=hub, ibr_keys=ibr_keys)
        self._http = http or httpx.AsyncClient(timeout=config.timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, url: str, **kwargs: Any) -> httpx.Response:
        attempts = 0
        delays = self._delays()
        while True:
            attempts += 1
            try:
                return await self._http.post(url, **kwargs)
            except httpx.TransportError as exc:
                delay = next(delays, None)
                if delay is None:
                    raise TransportError(
                        url, str(exc) or type(exc).__name__, attempts=attempts
                    ) from None
                await asyncio.sleep(delay)

    async def _token(self) -> str:
        token = self.tokens.current()
        if token is None:
            response = await self._post(self.tokens.token_url, data=self.tokens.request_form())
            token = accept_token(self.tokens, response)
        return token

    async def _send(self, op: Operation, message: dict[str, Any], total_count: int) -> Any:
        for attempt in (1, 2):
            envelope = self.codec.build(op, message, total_count=total_count)
            response = await self._post(
                self._url(op),
                json=envelope,
                headers={"Authorization": f"Bearer {await self._token()}"},
            )
            if _token_refused(response) and attempt == 1:
                self.tokens.invalidate()
                continue
            if _token_refused(response):
                raise AuthError(f"the IBR refused our token for {op.path} (HTTP 401)")
            if op.is_async:
                self.hub.store.record_sent(
                    message["transaction_id"], op.name, envelope["header"]["message_id"]
                )
            return _body(response)
        raise AssertionError("unreachable")

    async def _call_sync(self, op: Operation, message: dict[str, Any], total_count: int) -> Any:
        return self.codec.open_response(op, await self._send(op, message, total_count)).message

    async def _call_async(self, op: Operation, message: dict[str, Any], total_count: int) -> None:
        self._check_async(op)
        read_ack(await self._send(op, message, total_count))

    async def publish_batch(
        self,
        beneficiaries: Sequence[Record],
        *,
        transaction_id: str | None = None,
        receipt_type: str = "enrollment",
    ) -> Any:
        message = enrollment_updates_request(
            transaction_id or new_transaction_id(), beneficiaries, receipt_type=receipt_type
        )
        return _parse("EnrollmentUpdatesResponse")(
            await self._call_sync(OPERATIONS["publish"], message, len(beneficiaries))
        )

    async def publish(
        self, beneficiaries: Iterable[Record], *, batch_size: int | None = None
    ) -> list[Any]:
        size = batch_size or self.config.batch_size
        return [await self.publish_batch(batch) for batch in batched(beneficiaries, size)]

    async def report_status_changes(
        self, beneficiaries: Iterable[Record], *, batch_size: int | None = None
    ) -> list[Any]:
        size = batch_size or self.config.batch_size
        return [
            await self.publish_batch(batch, receipt_type="update")
            for batch in batched(beneficiaries, size)
        ]

    async def enrolled(
        self, identifier_type: str, identifier_value: str, *, response_entity: str = "Member"
    ) -> Any:
        message = enrolled_request(
            new_transaction_id(),
            [idtype_query(identifier_type, identifier_value)],
            response_entity=response_entity,
        )
        return _parse("EnrolledResponse")(await self._call_sync(OPERATIONS["enrolled"], message, 1))

    async def enrolled_bulk(
        self, identifiers: Iterable[tuple[str, str]], *, response_entity: str = "Member"
    ) -> list[Any]:
        answers = []
        for chunk in batched(identifiers, _ENROLLED_BULK_LIMIT):
            message = enrolled_request(
                new_transaction_id(),
                [idtype_query(t, v) for t, v in chunk],
                response_entity=response_entity,
            )
            answer = await self._call_sync(OPERATIONS["enrolled"], message, len(chunk))
            answers.append(_parse("EnrolledResponse")(answer))
        return answers

    async def search(
        self,
        queries: Sequence[Query],
        *,
        query_type: str = "idtype-value",
        page_size: int | None = None,
    ) -> Any:
        message = search_request(
            new_transaction_id(), queries, query_type=query_type, page_size=page_size
        )
        return _parse("SearchResponse")(
            await self._call_sync(OPERATIONS["sync_search"], message, len(queries))
        )

    async def search_async(
        self,
        queries: Sequence[Query],
        *,
        query_type: str = "idtype-value",
        page_size: int | None = None,
    ) -> CallbackHandle[Any]:
        op = OPERATIONS["search"]
        message = search_request(
            new_transaction_id(), queries, query_type=query_type, page_size=page_size
        )
        await self._call_async(op, message, len(queries))
        return self._handle(op, message["transaction_id"], _parse("SearchResponse"))

    async def subscribe(
        self,
        *,
        reg_event_type: str,
        filter_: Record | Sequence[Record],
        filter_type: str = "expression",
        notify_record_type: str = "Beneficiary",
        frequency: Record | None = None,
    ) -> CallbackHandle[Any]:
        op = OPERATIONS["subscribe"]
        message = subscribe_request(
            new_transaction_id(),
            reg_event_type=reg_event_type,
            filter_=filter_,
            filter_type=filter_type,
            notify_record_type=notify_record_type,
            frequency=frequency,
        )
        await self._call_async(op, message, 1)
        return self._handle(op, message["transaction_id"], _parse("SubscribeResponse"))

    async def unsubscribe(self, subscription_codes: Sequence[str]) -> CallbackHandle[Any]:
        op = OPERATIONS["unsubscribe"]
        message = unsubscribe_request(new_transaction_id(), subscription_codes)
        await self._call_async(op, message, len(subscription_codes))
        return self._handle(op, message["transaction_id"], _parse("UnsubscribeResponse"))

    async def txn_status(self, of_transaction_id: str, *, txn_type: str = "search") -> Any:
        message = txn_status_request(new_transaction_id(), of_transaction_id, txn_type=txn_type)
        return _parse("TxnStatusResponse")(
            await self._call_sync(OPERATIONS["sync_txn_status"], message, 1)
        )


def _token_refused(response: httpx.Response) -> bool:
    """A 401 about the access token; a 401 about our signature (``err.signature.*``) is an
    ERR like any other, which a new token would not cure."""
    if response.status_code != 401:
        return False
    try:
        error = response.json()["message"]["error"]
    except (ValueError, KeyError, TypeError):
        return True
    return not (isinstance(error, dict) and str(error.get("code", "")).startswith("err.signature"))


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ResponseInvalidError(
            f"HTTP {response.status_code} answer", "the body is not JSON"
        ) from None
