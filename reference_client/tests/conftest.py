"""Fixtures: a fake IBR (an httpx.MockTransport handler that behaves like the spec says, signs
its answers with the production signer and checks every request with openapi-core against
spec/openapi.yaml) and configurations pointing at it; and the real standalone IBR started
through its command line, shared by the end-to-end and command-line tests.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from starlette.concurrency import run_in_threadpool

import ibr_protocol as proto
from ibr_client.config import ClientConfig, load_config
from ibr_client.keys import IbrKeys
from ibr_client.operations import CALLBACKS
from ibr_client.server import EmbeddedServer
from ibr_protocol.envelope import CallbackStatus

IBR_URL = "https://ibr.test"
SP_ID = "pension-mis"
IBR_ID = "IBR"
"""The fake IBR's header.sender_id: the configs' default receiver_id (and ibr_client_id)."""
CALLBACK_SECRET = "ibr-callback-s3cret"
"""The IBR's client secret at the SP-MIS receiver's token endpoint (ibr_client_secret)."""


def _now() -> str:
    return proto.format_timestamp(None)


@dataclass
class FakeIbr:
    """A minimal IBR over httpx.MockTransport: tokens, JWKS, the sync processes and ACKs."""

    ibr_key: dict[str, Any]
    sp_keys: proto.Jwks
    openapi: OpenAPI
    client_secret: str = "s3cret"
    transport_failures: int = 0
    """Raise httpx.ConnectError for this many requests before answering."""
    tokens: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    upserts: dict[str, int] = field(default_factory=dict)
    """benefit_id (or reference id) -> how many times it was written."""
    items_received: int = 0
    async_requests: list[dict[str, Any]] = field(default_factory=list)
    answer_override: Callable[[str, dict[str, Any]], httpx.Response | None] | None = None
    receiver_tokens: dict[str, str] = field(default_factory=dict)
    """receiver base URL -> the token its token endpoint gave us (the IBR)."""

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [proto.public_jwk(self.ibr_key)]}

    def keys(self) -> IbrKeys:
        return IbrKeys(lambda: self.jwks)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the handler --------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.transport_failures > 0:
            self.transport_failures -= 1
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/oauth2/client/token":
            return self._token(request)
        if path == "/.well-known/jwks.json":
            return httpx.Response(200, json=self.jwks)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens or token in self.revoked:
            return httpx.Response(401, json=proto.err("err.request.unauthorized", "bad token"))
        self.check_openapi(request)
        envelope = json.loads(request.content)
        proto.verify_envelope(envelope, self.sp_keys)
        self.requests.append((path, envelope))
        if self.answer_override is not None:
            overridden = self.answer_override(path, envelope)
            if overridden is not None:
                return overridden
        message = envelope["message"]
        if path == "/registry/sync/enrollment/updates":
            return self._enrollment_updates(message)
        if path == "/registry/sync/search":
            return self._sign(
                "on-search", self.search_response(message["transaction_id"], records=[])
            )
        if path == "/registry/sync/enrolled":
            criteria = message["enrolled_criteria"]
            items = criteria if isinstance(criteria, list) else [criteria]
            answer = {
                "transaction_id": message["transaction_id"],
                "correlation_id": str(uuid.uuid4()),
                "enrolled_response": [
                    {
                        "reference_id": item.get("reference_id", "r"),
                        "timestamp": _now(),
                        "status": "succ",
                        "enrolled_status": "yes" if item["query"]["value"] == "1" else "no",
                    }
                    for item in items
                ],
            }
            return self._sign("on-search", answer)
        self.async_requests.append(envelope)
        return httpx.Response(202, json=proto.ack(str(uuid.uuid4())))

    def check_openapi(self, request: httpx.Request) -> None:
        """openapi-core validation of the request against spec/openapi.yaml (raises)."""
        mock = MockRequest(
            "https://ibr.test",
            request.method.lower(),
            request.url.path,
            headers=dict(request.headers),
            data=request.content,
            content_type=request.headers.get("content-type", "application/json"),
        )
        self.openapi.validate_request(mock)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        if form.get("client_id") != SP_ID or form.get("client_secret") != self.client_secret:
            return httpx.Response(401, json={"error": "invalid_client"})
        token = f"tok-{len(self.tokens) + 1}"
        self.tokens.append(token)
        return httpx.Response(
            200, json={"access_token": token, "token_type": "bearer", "expires_in": 3600}
        )

    def _enrollment_updates(self, message: dict[str, Any]) -> httpx.Response:
        items = []
        for beneficiary in message["enrolled_updates"]["beneficiaries"]:
            self.items_received += 1
            for enrolment in beneficiary["programme_identifier"]:
                for benefit in enrolment.get("benefits", []):
                    key = benefit.get("benefit_id", "?")
                    self.upserts[key] = self.upserts.get(key, 0) + 1
            items.append(
                {"reference_id": beneficiary["reference_id"], "timestamp": _now(), "status": "succ"}
            )
        answer = {
            "transaction_id": message["transaction_id"],
            "correlation_id": str(uuid.uuid4()),
            "enrolled_response": items,
        }
        return self._sign("notify", answer)

    # -- building signed IBR messages ---------------------------------------------------------

    def search_response(self, transaction_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "transaction_id": transaction_id,
            "correlation_id": str(uuid.uuid4()),
            "search_response": [
                {
                    "reference_id": str(uuid.uuid4()),
                    "timestamp": _now(),
                    "status": "succ",
                    "data": {"reg_record_type": "Beneficiary", "reg_records": records},
                }
            ],
        }

    def signed_callback(
        self, action: str, message: dict[str, Any], *, status: CallbackStatus = "succ"
    ) -> dict[str, Any]:
        envelope = proto.build_callback(
            action=action, message=message, status=status, sender_id=IBR_ID, receiver_id=SP_ID
        )
        return proto.sign_envelope(envelope, self.ibr_key)

    def _sign(self, action: str, message: dict[str, Any]) -> httpx.Response:
        return httpx.Response(200, json=self.signed_callback(action, message))

    def bearer(self, receiver_url: str) -> dict[str, str]:
        """``Authorization`` for callbacks to the receiver at ``receiver_url``, as the real IBR
        gets it: from the receiver's token endpoint (real HTTP), cached per receiver."""
        if receiver_url not in self.receiver_tokens:
            answer = httpx.post(
                receiver_url + "/oauth2/client/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": IBR_ID,
                    "client_secret": CALLBACK_SECRET,
                },
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            self.receiver_tokens[receiver_url] = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self.receiver_tokens[receiver_url]}"}

    def post(self, to: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST ``body`` with our bearer token to the receiver at base URL ``to``."""
        return httpx.post(to + path, json=body, headers=self.bearer(to), timeout=10)

    def deliver(self, action: str, message: dict[str, Any], *, to: str) -> httpx.Response:
        """POST a signed callback to a receiver at base URL ``to`` (real HTTP)."""
        return self.post(to, CALLBACKS[action].path, self.signed_callback(action, message))


def fake_ibr_app(fake: FakeIbr) -> FastAPI:
    """The fake IBR over real HTTP (for the command line, which builds its own HTTP client).
    Its handler runs in a worker thread, so an ``answer_override`` may block."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def any_path(request: Request) -> Response:
        forwarded = httpx.Request(
            request.method,
            str(request.url),
            headers=request.headers.raw,
            content=await request.body(),
        )
        answer = await run_in_threadpool(fake.handle, forwarded)
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    return app


@pytest.fixture
def fake_ibr_url(fake_ibr: FakeIbr) -> Iterator[str]:
    """Base URL of ``fake_ibr`` served on a free loopback port."""
    server = EmbeddedServer(port=0).start(fake_ibr_app(fake_ibr))
    yield server.url
    server.stop()


def cli_env(
    tmp_path: Path, sp_key: dict[str, Any], ibr_url: str, **settings: str
) -> dict[str, str]:
    """``IBR_CLIENT_*`` variables for a command run as ``pension-mis`` against ``ibr_url``."""
    key_file = tmp_path / "sp.jwk.json"
    key_file.write_text(json.dumps(sp_key))
    env = {
        "IBR_CLIENT_IBR_URL": ibr_url,
        "IBR_CLIENT_CLIENT_ID": SP_ID,
        "IBR_CLIENT_CLIENT_SECRET": "s3cret",
        "IBR_CLIENT_SENDER_ID": SP_ID,
        "IBR_CLIENT_SIGNING_KEY_FILE": str(key_file),
        "IBR_CLIENT_STATE_DIR": str(tmp_path / "state"),
        "IBR_CLIENT_IBR_CLIENT_SECRET": CALLBACK_SECRET,
        "IBR_CLIENT_RETRIES": "0",
        "IBR_CLIENT_BACKOFF": "0",
    }
    env.update({f"IBR_CLIENT_{name.upper()}": value for name, value in settings.items()})
    return env


IBR_BIN = str(Path(sys.executable).with_name("ibr"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StandaloneIbr:
    url: str
    env: dict[str, str]
    secrets: dict[str, str]
    keys: dict[str, dict[str, Any]]
    receiver_ports: dict[str, int]
    """sender -> the port its receiver must listen on: the IBR gets callback tokens there."""
    ports_used: set[str] = field(default_factory=set)
    target_ports: dict[str, list[int]] = field(default_factory=dict)
    """sender -> every receiver port registered as its callback target."""

    def receiver_port(self, sender: str) -> int:
        """The port for ``sender``'s next receiver: first the one given to ``ibr clients add``,
        then a fresh one registered with ``ibr clients callback-auth`` (each receiver has its
        own token key; a new token URL makes the IBR drop the token it cached)."""
        if sender not in self.ports_used:
            self.ports_used.add(sender)
            return self.receiver_ports[sender]
        port = free_port()
        _ibr(
            self.env,
            "clients",
            "callback-auth",
            sender,
            "--token-url",
            f"http://127.0.0.1:{port}/oauth2/client/token",
            "--client-secret",
            CALLBACK_SECRET,
        )
        # Callback targets are host:port: allow the new receiver (and the earlier ones, whose
        # callbacks may still be queued).
        self.target_ports.setdefault(sender, [self.receiver_ports[sender]]).append(port)
        targets = [f"127.0.0.1:{used}" for used in self.target_ports[sender]]
        _ibr(
            self.env,
            "clients",
            "callback-targets",
            sender,
            *(arg for target in targets for arg in ("--callback-host", target)),
        )
        self.receiver_ports[sender] = port
        return port


def _ibr(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [IBR_BIN, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"ibr {' '.join(args)} failed: {done.stdout}{done.stderr}"
    return done.stdout


def standalone_env(
    ibr: StandaloneIbr, tmp_path: Path, sender: str = "pension-mis"
) -> dict[str, str]:
    """``IBR_CLIENT_*`` variables for ``sender`` at the standalone IBR, with a fresh receiver
    port the IBR fetches callback tokens from."""
    key_file = tmp_path / f"{sender}.jwk.json"
    key_file.write_text(json.dumps(ibr.keys[sender]))
    return {
        "IBR_CLIENT_IBR_URL": ibr.url,
        "IBR_CLIENT_CLIENT_ID": sender,
        "IBR_CLIENT_CLIENT_SECRET": ibr.secrets[sender],
        "IBR_CLIENT_SENDER_ID": sender,
        "IBR_CLIENT_SIGNING_KEY_FILE": str(key_file),
        "IBR_CLIENT_STATE_DIR": str(tmp_path / "state"),
        "IBR_CLIENT_LISTEN_PORT": str(ibr.receiver_port(sender)),
        "IBR_CLIENT_IBR_CLIENT_SECRET": CALLBACK_SECRET,
    }


@pytest.fixture(scope="session")
def standalone_ibr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneIbr]:
    """The real IBR, started as an operator would (``ibr db upgrade``, ``ibr clients add``,
    ``ibr serve``) on loopback with a SQLite database; two SP-MIS clients are registered:
    ``pension-mis`` and ``crvs-mis``, each with the token endpoint of its receiver (at
    ``receiver_ports``; see ``receiver_port``) for the IBR's callback tokens. Fails (never
    skips) when the ``ibr`` command is missing."""
    root = tmp_path_factory.mktemp("ibr")
    env = {
        **os.environ,
        "IBR_DATABASE_URL": f"sqlite:///{root / 'ibr.db'}",
        "IBR_OUTBOX_POLL_SECONDS": "0.2",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    _ibr(env, "db", "upgrade")
    secrets: dict[str, str] = {}
    keys: dict[str, dict[str, Any]] = {}
    ports: dict[str, int] = {}
    for sender in ("pension-mis", "crvs-mis"):
        ports[sender] = free_port()
        keys[sender] = proto.generate_signing_key(f"{sender}-1")
        public = root / f"{sender}.public.json"
        public.write_text(json.dumps(proto.public_jwk(keys[sender])))
        out = _ibr(
            env,
            "clients",
            "add",
            sender,
            "--public-key",
            str(public),
            "--callback-host",
            f"127.0.0.1:{ports[sender]}",
            "--allow-private-callbacks",
            "--callback-token-url",
            f"http://127.0.0.1:{ports[sender]}/oauth2/client/token",
            "--callback-client-secret",
            CALLBACK_SECRET,
        )
        found = re.search(r"client_secret:\s*(\S+)", out)
        assert found, out
        secrets[sender] = found.group(1)
    port = free_port()
    server = subprocess.Popen(
        [IBR_BIN, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/.well-known/jwks.json", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"ibr serve did not start: {server.stdout.read() if server.stdout else ''}")
        time.sleep(0.2)
    yield StandaloneIbr(url, env, secrets, keys, ports)
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(proto.spec_dir() / "openapi.yaml"))


@pytest.fixture
def sp_key() -> dict[str, Any]:
    return proto.generate_signing_key(f"{SP_ID}-test")


@pytest.fixture
def fake_ibr(sp_key: dict[str, Any], openapi: OpenAPI) -> FakeIbr:
    return FakeIbr(
        ibr_key=proto.generate_signing_key("ibr-test"),
        sp_keys=proto.Jwks([proto.public_jwk(sp_key)]),
        openapi=openapi,
    )


@pytest.fixture
def make_config(tmp_path: Path, sp_key: dict[str, Any]) -> Callable[..., ClientConfig]:
    key_file = tmp_path / "sp.private.jwk.json"
    key_file.write_text(json.dumps(sp_key))

    def make(**overrides: Any) -> ClientConfig:
        values: dict[str, Any] = {
            "ibr_url": IBR_URL,
            "client_id": SP_ID,
            "client_secret": "s3cret",
            "sender_id": SP_ID,
            "signing_key_file": str(key_file),
            "state_dir": str(tmp_path / "state"),
            "backoff": 0,
            "ibr_client_secret": CALLBACK_SECRET,
        }
        values.update(overrides)
        return load_config(env={}, overrides=values)

    return make


@pytest.fixture
def sample_beneficiary() -> Callable[..., dict[str, Any]]:
    def make(nid: str = "1", benefit_id: str = "b-1", **enrolment: Any) -> dict[str, Any]:
        identifier = {"identifier_type": "NID", "identifier_value": nid}
        return {
            "assistance_unit": "1",
            "member": {
                "member_identifier": [identifier],
                "demographic_info": {
                    "identifier": [identifier],
                    "name": {"given_name": "Ama", "surname": "Mensah"},
                    "sex": "female",
                    "birth_date": "1980-04-12",
                },
            },
            "programme_identifier": [
                {
                    "programme": {"programme_identifier": "P1", "programme_name": "Pension"},
                    "enrolment_date": "2024-04-12",
                    "enrolment_status": "1",
                    "benefits": [
                        {
                            "benefit_id": benefit_id,
                            "benefit_type": "1",
                            "benefit_date": "2024-05-02",
                            "benefit_value": {"amount": "50.00", "currency": "USD"},
                        }
                    ],
                    **enrolment,
                }
            ],
        }

    return make
