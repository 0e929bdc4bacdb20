"""Data quality per feed from the feed log: rejection rates and reasons per sender (from the
transaction log) and identity cases per feed, beside the registry's own figures."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from ibr_service.analytics.feed_log import (
    feed_log_from_database,
    feed_log_from_engine,
    feed_log_of_caller,
)
from ibr_service.analytics.quality import feed_quality
from ibr_service.analytics.sql_source import frames_from_engine
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.samples import enrollment_message
from ibr_service.store_sql import SqlStore, upgrade
from ibr_service.store_sql.tables import identity_cases

from .conftest import Population, population

WRITE = frozenset({"ibr.write"})


@pytest.fixture(scope="module")
def pop() -> Population:
    return population(7, 300)


def programme(record: dict) -> str:
    return str(record["programme_identifier"][0]["programme"]["programme_identifier"])


def test_rejections_and_their_reasons_are_counted_per_sender(
    tmp_path: Path, pop: Population
) -> None:
    url = f"sqlite:///{tmp_path / 'ibr.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    core = IbrCore(store, settings=CoreSettings(receiver_id="IBR"))
    first = programme(pop.records[0])
    own = [r for r in pop.records if programme(r) == first]
    others = [r for r in pop.records if programme(r) != first]
    # SP-A may write only `first`: its records of other programmes are refused.
    sp_a = Caller("SP-A", WRITE, allowed_programmes=frozenset({first}))
    core.enrollment_updates(enrollment_message(own + others[:7]), caller=sp_a)
    # SP-B sends three records with an enrolment status no list has: all refused.
    broken = copy.deepcopy(others[:3])
    for record in broken:
        record["programme_identifier"][0]["enrolment_status"] = "99"
    sp_b = Caller("SP-B", WRITE)
    core.enrollment_updates(enrollment_message(broken), caller=sp_b)

    log = feed_log_from_engine(store.engine)
    table = feed_quality(frames_from_engine(store.engine), log=log).set_index("sender_id")
    a = table.loc["SP-A"]
    assert a["programme"] == first
    assert a["records"] == len(own)
    assert (a["items_answered"], a["items_rejected"]) == (len(own) + 7, 7)
    assert a["rejection_rate"] == pytest.approx(7 / (len(own) + 7), abs=1e-4)
    assert a["rejection_reasons"] == "rjct.programme.not_allowed=7"
    b = table.loc["SP-B"]  # no record accepted, still a row
    assert pd.isna(b["programme"])
    assert (b["records"], b["items_answered"], b["items_rejected"]) == (0, 3, 3)
    assert b["rejection_rate"] == 1.0
    assert b["rejection_reasons"].startswith("rjct.")

    with store.engine.connect() as connection:
        opened = connection.execute(select(func.count()).select_from(identity_cases)).scalar()
    assert int(table["identity_cases"].sum()) == opened

    only_b = feed_log_from_engine(store.engine, senders={"SP-B"})
    assert set(only_b.answers["sender_id"]) == {"SP-B"}
    seen_by_b = feed_log_of_caller(store.engine, sp_b)  # what the API shows SP-B
    assert seen_by_b.answers.equals(only_b.answers)
    assert feed_log_from_database(url).answers.equals(log.answers)
