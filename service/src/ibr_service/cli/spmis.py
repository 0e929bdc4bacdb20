"""A scripted SP-MIS: gets a token, builds and signs requests, POSTs them to an IBR.

Used by ``ibr demo`` and by the host's end-to-end tests; vendors should use ``ibr_client``.
Message builders return canonical messages (spec/CONVENTIONS.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ibr_protocol import (
    build_request,
    format_timestamp,
    generate_signing_key,
    public_jwk,
    sign_envelope,
)

__all__ = [
    "ScriptedSpMis",
    "enrolled_message",
    "enrollment_message",
    "expression_search_message",
    "search_message",
    "subscribe_message",
    "txn_status_message",
]


@dataclass
class ScriptedSpMis:
    """One SP-MIS talking to one IBR over HTTP."""

    base_url: str
    sender_id: str
    client_secret: str
    receiver_id: str = "IBR"
    private_jwk: dict[str, Any] = field(default_factory=lambda: generate_signing_key("spmis-1"))
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))
    _token: str | None = None

    @property
    def public_jwk(self) -> dict[str, Any]:
        return public_jwk(self.private_jwk)

    def token(self) -> str:
        """A bearer token from the IBR's token endpoint (fetched once)."""
        if self._token is None:
            response = self.http.post(
                f"{self.base_url}/oauth2/client/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.sender_id,
                    "client_secret": self.client_secret,
                },
            )
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    def envelope(
        self,
        action: str,
        message: dict[str, Any],
        *,
        sender_uri: str | None = None,
        sign: bool = True,
    ) -> dict[str, Any]:
        """A request envelope from this SP-MIS, signed with its key unless ``sign=False``."""
        envelope = build_request(
            action=action,
            message=message,
            sender_id=self.sender_id,
            receiver_id=self.receiver_id,
            sender_uri=sender_uri,
        )
        return sign_envelope(envelope, self.private_jwk) if sign else envelope

    def post(self, path: str, envelope: dict[str, Any]) -> httpx.Response:
        """POST ``envelope`` to ``path`` (e.g. ``/registry/sync/search``) with the bearer token."""
        return self.http.post(
            f"{self.base_url}{path}",
            json=envelope,
            headers={"Authorization": f"Bearer {self.token()}"},
        )

    def send(
        self, path: str, action: str, message: dict[str, Any], *, sender_uri: str | None = None
    ) -> httpx.Response:
        """Build, sign and POST in one call."""
        return self.post(path, self.envelope(action, message, sender_uri=sender_uri))


def _transaction_id() -> str:
    return f"txn-{uuid.uuid4().hex[:12]}"


def enrollment_message(
    beneficiaries: Sequence[dict[str, Any]], *, transaction_id: str | None = None
) -> dict[str, Any]:
    """sync/enrollment/updates message for canonical Beneficiary records."""
    return {
        "transaction_id": transaction_id or _transaction_id(),
        "enrolled_updates": {"receipt_type": "enrollment", "beneficiaries": list(beneficiaries)},
    }


def enrolled_message(
    identifier_value: str, *, attribute: str = "member_identifier"
) -> dict[str, Any]:
    """sync/enrolled message: is the subject with this identifier enrolled?"""
    return {
        "transaction_id": _transaction_id(),
        "enrolled_criteria": {
            "query_type": "expression",
            "response_entity": "Beneficiary",
            "query": {
                "attribute_name": attribute,
                "operator": "eq",
                "attribute_value": identifier_value,
            },
        },
    }


def search_message(
    identifier_type: str, identifier_value: str, *, reference_id: str = "s1"
) -> dict[str, Any]:
    """sync/search or search message with one idtype-value criterion."""
    return {
        "transaction_id": _transaction_id(),
        "search_request": [
            {
                "reference_id": reference_id,
                "timestamp": _now_text(),
                "search_criteria": {
                    "version": "1.0.0",
                    "reg_type": "IBR",
                    "reg_record_type": "Beneficiary",
                    "query_type": "idtype-value",
                    "query": {"type": identifier_type, "value": identifier_value},
                },
            }
        ],
    }


def expression_search_message(attribute: str, operator: str, value: Any) -> dict[str, Any]:
    """sync/search message with one expression criterion (used to probe the SQL whitelist)."""
    return {
        "transaction_id": _transaction_id(),
        "search_request": [
            {
                "reference_id": "e1",
                "timestamp": _now_text(),
                "search_criteria": {
                    "version": "1.0.0",
                    "reg_type": "IBR",
                    "reg_record_type": "Beneficiary",
                    "query_type": "expression",
                    "query": {
                        "attribute_name": attribute,
                        "operator": operator,
                        "attribute_value": value,
                    },
                },
            }
        ],
    }


def subscribe_message(programme_identifier: str) -> dict[str, Any]:
    """subscribe message: status changes of enrolments in one programme."""
    return {
        "transaction_id": _transaction_id(),
        "subscribe_request": [
            {
                "reference_id": "sub1",
                "timestamp": _now_text(),
                "subscribe_criteria": {
                    "version": "1.0.0",
                    "reg_type": "IBR",
                    "reg_event_type": "enrollement_status_change",
                    "filter_type": "predicate",
                    "filter": [
                        {
                            "seq_num": 1,
                            "expression1": {
                                "attribute_name": "programme_identifier",
                                "operator": "eq",
                                "attribute_value": programme_identifier,
                            },
                        }
                    ],
                    "notify_record_type": "Beneficiary",
                },
            }
        ],
    }


def txn_status_message(transaction_id: str, *, txn_type: str = "search") -> dict[str, Any]:
    """txn/status message for one of our earlier transactions (``receipt`` = enrolment updates)."""
    return {
        "transaction_id": _transaction_id(),
        "txnstatus_request": {
            "reference_id": "q1",
            "txn_type": txn_type,
            "attribute_type": "transaction_id",
            "attribute_value": transaction_id,
        },
    }


def _now_text() -> str:
    return format_timestamp()
