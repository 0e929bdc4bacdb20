"""An IBR on loopback with several SP-MIS, each writing its own programmes, on SQLite and
PostgreSQL: the registry model's findings are reproduced as a ministry would meet them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from ibr_protocol.clock import utc_now
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import ScriptedSpMis, enrolled_message, enrollment_message
from ibr_service.core.records import JsonDict, ReadProgrammes
from ibr_service.core.samples import programme_check, programme_expression
from ibr_service.security.clients import register_client

from ..api.conftest import fast_settings, pg_database


@dataclass
class Registry:
    """The running IBR and a factory of SP-MIS clients."""

    box: Sandbox

    def spmis(
        self,
        name: str,
        programmes: tuple[str, ...] | None,
        *,
        read: ReadProgrammes = "own",
        read_areas: frozenset[str] | None = None,
        purposes: frozenset[str] | None = None,
    ) -> ScriptedSpMis:
        """A registered SP-MIS that may write `programmes` (None: any) and reads `read`."""
        settings = self.box.host.settings
        client = ScriptedSpMis(
            base_url=f"{self.box.url}{settings.base_path}",
            sender_id=f"{name}-{uuid.uuid4().hex[:6]}",
            client_secret="",
            receiver_id=settings.receiver_id,
        )
        record, secret = register_client(
            self.box.host.store,
            sender_id=client.sender_id,
            now=utc_now(),
            public_keys=[client.public_jwk],
            allowed_callback_hosts=(self.box.receiver_url.removeprefix("http://"),),
            allow_private_callbacks=True,
            allowed_programmes=programmes,
        )
        with self.box.host.store.transaction() as tx:
            tx.put_client(
                replace(record, read_programmes=read, read_areas=read_areas, purposes=purposes)
            )
        client.client_secret = secret
        return client


def push(client: ScriptedSpMis, *beneficiaries: JsonDict) -> list[JsonDict]:
    """Send one enrolment-updates batch; the per-item results."""
    response = client.send(
        "/registry/sync/enrollment/updates", "notify", enrollment_message(list(beneficiaries))
    )
    assert response.status_code == 200, response.text
    items: list[JsonDict] = response.json()["message"]["enrolled_response"]
    return items


def search(client: ScriptedSpMis, query_type: str, query: Any, **criteria: Any) -> JsonDict:
    """One sync search item's answer."""
    message = {
        "transaction_id": f"t-{uuid.uuid4().hex[:8]}",
        "search_request": [
            {
                "reference_id": "r1",
                "timestamp": "2024-05-02T10:00:00Z",
                "search_criteria": {"query_type": query_type, "query": query, **criteria},
            }
        ],
    }
    response = client.send("/registry/sync/search", "search", message)
    assert response.status_code == 200, response.text
    item: JsonDict = response.json()["message"]["search_response"][0]
    return item


def enrolled(client: ScriptedSpMis, nid: str, programme: str | None = None) -> str:
    """`yes` or `no`: is the person with national ID `nid` enrolled (in `programme`)?"""
    if programme is None:
        message = enrolled_message(nid)
    else:
        check = programme_check("e1", nid, programme_expression("eq", programme))
        message = {"transaction_id": f"t-{uuid.uuid4().hex[:8]}", "enrolled_criteria": [check]}
    response = client.send("/registry/sync/enrolled", "search", message)
    assert response.status_code == 200, response.text
    answers = response.json()["message"]["enrolled_response"]
    answer = answers[0] if isinstance(answers, list) else answers
    assert answer["status"] == "succ", answer
    return str(answer["enrolled_status"])


def where(*conditions: tuple[str, str, Any], condition: str = "and") -> list[JsonDict]:
    """A DCI predicate query: each (attribute, operator, value), joined by `condition`."""
    out: list[JsonDict] = []
    for i in range(0, len(conditions), 2):
        first = conditions[i]
        item: JsonDict = {
            "seq_num": i // 2 + 1,
            "expression1": {
                "attribute_name": first[0],
                "operator": first[1],
                "attribute_value": first[2],
            },
        }
        if i + 1 < len(conditions):
            second = conditions[i + 1]
            item["condition"] = condition
            item["expression2"] = {
                "attribute_name": second[0],
                "operator": second[1],
                "attribute_value": second[2],
            }
        out.append(item)
    return out


def records(item: JsonDict) -> list[JsonDict]:
    assert item["status"] == "succ", item
    found: list[JsonDict] = item["data"]["reg_records"]
    return found


def nid(n: int) -> str:
    """A national ID unique to this test run (the module's database is shared by its tests)."""
    return f"{uuid.uuid4().int % 10**8:08d}{n:02d}"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('ibr')}/ibr.db"
        else:
            url = stack.enter_context(pg_database("ibr_test_registry"))
        with sandbox(fast_settings(url)) as box:
            yield Registry(box)


def http_ok(response: httpx.Response) -> JsonDict:
    assert response.status_code == 200, response.text
    body: JsonDict = response.json()
    return body
