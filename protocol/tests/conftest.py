"""Shared fixtures: paths to the spec and to the upstream DCI files, a fixed clock, keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import ibr_protocol

REPO = Path(__file__).resolve().parents[2]
DCI_DIR = REPO.parent / "shared" / "reference" / "dci"
DCI_IBR_SAMPLES = (
    DCI_DIR / "spdci-standards" / "release" / "sample-jsons" / "assets" / "example_files" / "ibr"
)
DCI_PROCESS_FLOWS = ["processflow1req", "processflow1res", "processflow2req", "processflow2res"]
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def dci_sample(name: str) -> dict[str, Any]:
    path = DCI_IBR_SAMPLES / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"DCI reference samples not found at {DCI_IBR_SAMPLES} (read-only checkout)")
    data: dict[str, Any] = load_json(path)
    return data


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def signing_key() -> dict[str, Any]:
    return ibr_protocol.generate_signing_key("spmis-1")


@pytest.fixture(scope="session")
def jwks(signing_key: dict[str, Any]) -> ibr_protocol.Jwks:
    return ibr_protocol.Jwks([ibr_protocol.public_jwk(signing_key)])


def search_message() -> dict[str, Any]:
    return {
        "transaction_id": "txn-1",
        "search_request": [
            {
                "reference_id": "ref-1",
                "timestamp": "2025-03-01T12:00:00Z",
                "search_criteria": {
                    "query_type": "idtype-value",
                    "query": {"type": "NID", "value": "0205202401"},
                },
            }
        ],
    }


@pytest.fixture
def search_envelope() -> dict[str, Any]:
    return ibr_protocol.build_request(
        action="search",
        message=search_message(),
        sender_id="spmis.example.org",
        receiver_id="ibr.example.org",
        sender_uri="https://spmis.example.org/callback",
        now=NOW,
    )
