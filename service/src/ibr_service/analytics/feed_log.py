"""What each SP-MIS feed sent that the registry tables do not keep: the per-item answers it got
(accepted or rejected, and why) from the transaction log, and the identity cases its records
opened. Read-only; no personal data (reason codes and counts only)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ibr_service.core.caller import Caller

__all__ = [
    "ANSWER_COLUMNS",
    "CASE_COLUMNS",
    "FeedLog",
    "feed_log_from_database",
    "feed_log_from_engine",
    "feed_log_of_caller",
]

ANSWER_COLUMNS = ("sender_id", "status", "reason", "items")
CASE_COLUMNS = ("sender_id", "programme_identifier", "identity_cases")


@dataclass(frozen=True)
class FeedLog:
    answers: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ANSWER_COLUMNS))
    """Item answers to sync/enrollment/updates per sender, status and reason code."""
    identity_cases: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CASE_COLUMNS))
    """Identity cases opened per sender and programme."""


def feed_log_from_engine(
    engine: Engine, senders: set[str] | None = None, programmes: set[str] | None = None
) -> FeedLog:
    """The log of ``senders`` (None: every sender); identity cases only of ``programmes``."""
    meta = sa.MetaData()
    transactions = sa.Table("transactions", meta, autoload_with=engine)
    cases = sa.Table("identity_cases", meta, autoload_with=engine)
    answered = sa.select(transactions.c.sender_id, transactions.c.response).where(
        transactions.c.action == "enrollment-updates"
    )
    opened = sa.select(
        cases.c.sender_id, cases.c.programme_identifier, sa.func.count().label("identity_cases")
    ).group_by(cases.c.sender_id, cases.c.programme_identifier)
    if senders is not None:
        answered = answered.where(transactions.c.sender_id.in_(sorted(senders)))
        opened = opened.where(cases.c.sender_id.in_(sorted(senders)))
    if programmes is not None:
        opened = opened.where(cases.c.programme_identifier.in_(sorted(programmes)))
    counts: Counter[tuple[str, str, str]] = Counter()
    with engine.connect() as connection:
        for sender, response in connection.execute(answered):
            for item in _items(response):
                counts[
                    (sender, str(item.get("status")), str(item.get("status_reason_code", "")))
                ] += 1
        identity = pd.DataFrame(connection.execute(opened).all(), columns=CASE_COLUMNS)
    answers = pd.DataFrame(
        [(s, status, reason, n) for (s, status, reason), n in sorted(counts.items())],
        columns=ANSWER_COLUMNS,
    )
    return FeedLog(answers, identity)


def _items(response: Any) -> list[dict[str, Any]]:
    if isinstance(response, str):  # a JSON column read back as text by some drivers
        response = json.loads(response)
    items = response.get("enrolled_response") if isinstance(response, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def feed_log_of_caller(engine: Engine, caller: Caller) -> FeedLog:
    """What a client may see of the log: its own answers (other senders' answers are theirs)
    and the identity cases of the programmes it may read."""
    programmes = caller.read.programmes
    scope = set(programmes) if programmes is not None else None
    return feed_log_from_engine(engine, {caller.sender_id}, scope)


def feed_log_from_database(url: str) -> FeedLog:
    """Open ``url`` (``IBR_DATABASE_URL``) and read the log; errors are one line."""
    from ibr_service.analytics.sql_source import read_database

    return read_database(url, feed_log_from_engine)
