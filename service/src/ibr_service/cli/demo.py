"""``ibr demo``: the standard processes end to end, over real HTTP, on a fresh embedded database.

Steps: migrate a new SQLite file, register a demo SP-MIS with an Ed25519 key, start the IBR and a
callback receiver on free loopback ports, publish mock beneficiaries, then run PRS.IBR.01
(enrolled check), PRS.IBR.02 (benefit publication + search), PRS.IBR.03 (a death: status change
+ subscriber notification), an async search answered by callback, and a transaction-status query.
Each step prints what was sent, what came back and whether it is what the standard expects.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from ibr_service.api.loopback import CallbackRecorder
from ibr_service.cli.sandbox import sandbox
from ibr_service.cli.spmis import (
    ScriptedSpMis,
    enrolled_message,
    enrollment_message,
    search_message,
    subscribe_message,
    txn_status_message,
)
from ibr_service.core.identity import IdentifierTypes
from ibr_service.settings import Settings

if TYPE_CHECKING:
    from ibr_service.analytics.frames import RegistryFrames

__all__ = ["DemoStep", "builtin_beneficiaries", "run_demo"]

DEMO_SENDER = "demo.spmis"
DECEASED = "2"


@dataclass
class DemoStep:
    """One step: its name, a one-line account of what happened and whether it was right."""

    name: str
    summary: str
    ok: bool


def builtin_beneficiaries() -> list[dict[str, Any]]:
    """Three canonical beneficiaries (used when ibr_mock_data is not installed)."""

    def person(nid: str, given: str, surname: str, sex: str, birth: str) -> dict[str, Any]:
        return {
            "assistance_unit": "1",
            "member": {
                "member_identifier": [{"identifier_type": "NID", "identifier_value": nid}],
                "demographic_info": {
                    "identifier": [{"identifier_type": "NID", "identifier_value": nid}],
                    "name": {"given_name": given, "surname": surname},
                    "sex": sex,
                    "birth_date": birth,
                },
            },
            "programme_identifier": [
                {
                    "programme": {
                        "programme_identifier": "DEMO-CT",
                        "programme_name": "Demo Cash Transfer",
                    },
                    "enrolment_date": "2024-04-12",
                    "enrolment_status": "1",
                    "benefits": [
                        {
                            "benefit_id": f"DEMO-{nid}-2025-01",
                            "benefit_type": "1",
                            "benefit_date": "2025-01-31",
                            "benefit_value": {"amount": "50.00", "currency": "USD"},
                            "period_start": "2025-01-01",
                            "period_end": "2025-01-31",
                        }
                    ],
                }
            ],
        }

    return [
        person("1000000001", "Amina", "Otieno", "female", "1958-03-02"),
        person("1000000002", "Joseph", "Mwangi", "male", "1949-11-20"),
        person("1000000003", "Grace", "Achieng", "female", "1990-06-15"),
    ]


DEMO_POPULATION: dict[str, Any] = {
    "seed": 7,
    "people": 400,
    "truth": {
        "cross_programme_overlap": 0.05,
        "duplicate_in_programme": 0.03,
        "fuzzy_duplicate": 0.08,
    },
}
"""Enough people, with overlaps, double enrolments and second registrations (some with a
mistyped national ID) planted, for the closing answers to show."""


@dataclass
class DemoData:
    """The demo's records, where they come from, the planted truth (empty: none known) and the
    identifier types that fit them (None: the defaults, which check no national ID)."""

    beneficiaries: list[dict[str, Any]]
    source: str
    truth: list[dict[str, Any]]
    identifier_types_file: str | None


def _demo_data() -> DemoData:
    try:
        from ibr_mock_data import identifier_types_file, small_population
    except ImportError:
        return DemoData(builtin_beneficiaries(), "built-in set", [], None)
    population = small_population(**DEMO_POPULATION)
    source = f"ibr_mock_data.small_population(seed=7, people={DEMO_POPULATION['people']})"
    types = str(identifier_types_file())
    return DemoData(list(population.beneficiaries), source, list(population.truth), types)


def _first_person(beneficiaries: list[dict[str, Any]], types: IdentifierTypes) -> dict[str, Any]:
    """The first individual actively enrolled whose identifier links (a mistyped national ID
    does not): the one the steps enrol, find, and report dead."""
    for record in beneficiaries:
        identifiers = record.get("member", {}).get("member_identifier")
        active = record["programme_identifier"][0].get("enrolment_status") == "1"
        if record.get("assistance_unit") == "1" and identifiers and active:
            first = identifiers[0]
            if types.normalise([(first["identifier_type"], first["identifier_value"])]).linkable:
                return record
    raise RuntimeError("the demo data holds no individual beneficiary")


def _batches(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_demo(console: Console, *, folder: Path | None = None) -> bool:
    """Run every step; True when each did what the standard says it should."""
    with ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ibr-demo-")))
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / "ibr-demo.db"
        if database.exists():
            database.unlink()
        data = _demo_data()
        settings = Settings(
            database_url=f"sqlite:///{database}",
            outbox_poll_seconds=0.1,
            outbox_backoff_base_seconds=0.2,
            identifier_types_file=data.identifier_types_file,
        )
        steps: list[DemoStep] = []
        _run(console, stack, settings, data, steps)
    table = Table("step", "what happened", "verdict", title="IBR demo")
    for step in steps:
        table.add_row(
            step.name, step.summary, "[green]ok[/green]" if step.ok else "[red]FAILED[/red]"
        )
    console.print(table)
    ok = bool(steps) and all(step.ok for step in steps)
    console.print(
        "[bold green]all steps passed[/bold green]" if ok else "[bold red]demo failed[/bold red]"
    )
    return ok


def _run(
    console: Console, stack: ExitStack, settings: Settings, data: DemoData, steps: list[DemoStep]
) -> None:
    def record(name: str, summary: str, ok: bool) -> None:
        steps.append(DemoStep(name, summary, ok))
        mark = "[green]ok[/green]" if ok else "[red]FAILED[/red]"
        console.print(f"{mark} [bold]{name}[/bold]: {summary}")

    box = stack.enter_context(sandbox(settings, sender_id=DEMO_SENDER))
    spmis, receiver, receiver_url = box.spmis, box.receiver, box.receiver_url
    record(
        "setup",
        f"migrated {settings.database_url}; IBR at {box.url}; SP-MIS {DEMO_SENDER} registered "
        f"with key {spmis.private_jwk['kid']}",
        True,
    )

    beneficiaries, source = data.beneficiaries, data.source
    answers: list[dict[str, Any]] = []
    for batch in _batches(beneficiaries, 100):
        reply = spmis.send("/registry/sync/enrollment/updates", "notify", enrollment_message(batch))
        answers.extend(reply.json().get("message", {}).get("enrolled_response", []))
    accepted = [item for item in answers if item.get("status") == "succ"]
    rejected = [item for item in answers if item.get("status") == "rjct"]
    for item in rejected:
        console.print(
            f"  rejected item {item.get('reference_id')}: {item.get('status_reason_code')} "
            f"{item.get('status_reason_message')}"
        )
    # Right when every record got an answer and every rejection says why (per-item status).
    record(
        "load mock data",
        f"{len(beneficiaries)} beneficiaries from {source}: {len(accepted)} accepted, "
        f"{len(rejected)} rejected with a reason",
        len(answers) == len(beneficiaries)
        and len(accepted) + len(rejected) == len(answers)
        and all(item.get("status_reason_code") for item in rejected)
        and len(accepted) > 0,
    )

    types = box.host.core.settings.identifier_types
    target = _first_person(beneficiaries, types)
    identifier = target["member"]["member_identifier"][0]
    nid_type, nid = identifier["identifier_type"], identifier["identifier_value"]
    programme = target["programme_identifier"][0]["programme"]["programme_identifier"]

    _step_enrolled(spmis, nid, record, console)
    _step_benefits_and_search(spmis, target, nid_type, nid, record, console)
    _step_death_notification(spmis, receiver, receiver_url, target, programme, record, console)
    _step_async_search(spmis, receiver, receiver_url, nid_type, nid, record, console)
    _step_what_the_ibr_answers(box.host.store, types, data.truth, record, console)


Record = Callable[[str, str, bool], None]


def _step_enrolled(spmis: ScriptedSpMis, nid: str, record: Record, console: Console) -> None:
    known = spmis.send("/registry/sync/enrolled", "search", enrolled_message(nid)).json()
    unknown = spmis.send("/registry/sync/enrolled", "search", enrolled_message("0000000000")).json()
    yes, no = _enrolled_status(known), _enrolled_status(unknown)
    _show(console, "PRS.IBR.01 enrolled check: response", known)
    record(
        "PRS.IBR.01 enrolled", f"{nid} -> {yes}; 0000000000 -> {no}", yes == "yes" and no == "no"
    )


def _step_benefits_and_search(
    spmis: ScriptedSpMis,
    target: dict[str, Any],
    nid_type: str,
    nid: str,
    record: Record,
    console: Console,
) -> None:
    updated = copy.deepcopy(target)
    enrolment = updated["programme_identifier"][0]
    benefit = {
        "benefit_id": f"DEMO-BENEFIT-{nid}",
        "benefit_type": "1",
        "benefit_date": "2025-02-28",
        "benefit_value": {"amount": "75.00", "currency": "USD"},
        "period_start": "2025-02-01",
        "period_end": "2025-02-28",
    }
    enrolment["benefits"] = [*enrolment.get("benefits", []), benefit]
    published = spmis.send(
        "/registry/sync/enrollment/updates", "notify", enrollment_message([updated])
    ).json()
    found = spmis.send("/registry/sync/search", "search", search_message(nid_type, nid)).json()
    _show(console, "PRS.IBR.02 search: response", found)
    benefit_ids = {
        b.get("benefit_id")
        for r in _records(found)
        for e in r.get("programme_identifier", [])
        for b in e.get("benefits", [])
    }
    record(
        "PRS.IBR.02 benefit + search",
        f"published benefit {benefit['benefit_id']}; search found {len(_records(found))} record(s)",
        _count_status(published, "succ") == 1 and benefit["benefit_id"] in benefit_ids,
    )


def _step_death_notification(
    spmis: ScriptedSpMis,
    receiver: CallbackRecorder,
    receiver_url: str,
    target: dict[str, Any],
    programme: str,
    record: Record,
    console: Console,
) -> None:
    ack = spmis.send(
        "/registry/subscribe",
        "subscribe",
        subscribe_message(programme),
        sender_uri=f"{receiver_url}/registry/on-subscribe",
    ).json()
    subscribed = receiver.wait_for(1)
    deceased = copy.deepcopy(target)
    enrolment = deceased["programme_identifier"][0]
    enrolment["enrolment_status"] = DECEASED
    enrolment["status_change_date"] = "2025-03-10"
    enrolment["status_reason"] = "death registered by CRVS"
    deceased["member"]["demographic_info"]["death_date"] = "2025-03-08"
    spmis.send("/registry/sync/enrollment/updates", "notify", enrollment_message([deceased]))
    arrived = receiver.wait_for(2)
    notify = [body for path, body in arrived if body.get("header", {}).get("action") == "notify"]
    if notify:
        _show(console, "PRS.IBR.03 notification received by the subscriber", notify[0])
    record(
        "PRS.IBR.03 death + notify",
        f"subscribe -> {ack.get('message', {}).get('ack_status')}, "
        f"{len(subscribed)} on-subscribe; status -> Deceased; {len(notify)} notify callback(s)",
        ack.get("message", {}).get("ack_status") == "ACK" and len(notify) == 1,
    )


def _step_async_search(
    spmis: ScriptedSpMis,
    receiver: CallbackRecorder,
    receiver_url: str,
    nid_type: str,
    nid: str,
    record: Record,
    console: Console,
) -> None:
    before = len(receiver.received)
    message = search_message(nid_type, nid)
    ack = spmis.send(
        "/registry/search", "search", message, sender_uri=f"{receiver_url}/registry/on-search"
    ).json()
    arrived = receiver.wait_for(before + 1)
    on_search = [b for _, b in arrived[before:] if b.get("header", {}).get("action") == "on-search"]
    record(
        "async search",
        f"ACK {ack.get('message', {}).get('correlation_id')}; "
        f"{len(on_search)} on-search callback(s)",
        ack.get("message", {}).get("ack_status") == "ACK" and len(on_search) == 1,
    )
    status = spmis.send(
        "/registry/sync/txn/status", "txn-status", txn_status_message(message["transaction_id"])
    ).json()
    _show(console, "txn status: response", status)
    text = json.dumps(status.get("message", {}))
    record(
        "txn status",
        f"transaction {message['transaction_id']} reported",
        message["transaction_id"] in text and '"succ"' in text,
    )


def _step_what_the_ibr_answers(
    store: Any,
    types: IdentifierTypes,
    truth: list[dict[str, Any]],
    record: Record,
    console: Console,
) -> None:
    """What a ministry asks an IBR: overlaps, double enrolments, coverage, feed quality (ibr
    report ...)."""
    from ibr_service.analytics.duplicates import exact_duplicates
    from ibr_service.analytics.report_html import render
    from ibr_service.analytics.reports import coverage_report, overlaps_report
    from ibr_service.analytics.rules import load_rules
    from ibr_service.analytics.sql_source import frames_from_engine

    frames = frames_from_engine(store.engine)
    overlaps = overlaps_report(frames, load_rules()).tables["overlaps"]
    duplicates = exact_duplicates(frames)
    coverage = coverage_report(frames, k=5)
    planted = {
        kind: sum(1 for case in truth if case["kind"] == kind)
        for kind in ("cross_programme_overlap", "duplicate_in_programme")
    }
    console.print(Panel(overlaps.head(10).to_string(index=False), title="overlaps found"))
    console.print(
        Panel(coverage.tables["multiplicity"].to_string(index=False),
              title="people by number of programmes (cells under 5 hidden)")
    )  # fmt: skip
    report = Path("data") / "ibr-demo-report.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render(coverage), encoding="utf-8")
    record(
        "what the IBR answers",
        f"{len(overlaps)} incompatible overlap(s) (planted {planted['cross_programme_overlap']}); "
        f"{len(duplicates)} double enrolment(s) (planted {planted['duplicate_in_programme']}); "
        f"coverage report {report.resolve()}",
        not truth
        or (
            len(overlaps) >= planted["cross_programme_overlap"] > 0
            and len(duplicates) >= planted["duplicate_in_programme"] > 0
        ),
    )
    _step_feed_quality(frames, types, truth, record, console)


def _step_feed_quality(
    frames: RegistryFrames,
    types: IdentifierTypes,
    truth: list[dict[str, Any]],
    record: Record,
    console: Console,
) -> None:
    """Per feed, the records that sent a national ID and the share that passed its check digit
    (ibr report quality): the planted keying errors are the ones that fail."""
    from ibr_service.analytics.reports import quality_report

    feeds = quality_report(frames, identifier_types=types).tables["feeds"]
    if "NID_sent" not in feeds:  # the built-in set, under the default types: no NID check
        return
    nid = feeds[["sender_id", "programme", "records", "NID_sent", "NID_valid"]]
    console.print(Panel(nid.to_string(index=False), title="feed quality: national IDs"))
    failed = int((nid["NID_sent"] * (1 - nid["NID_valid"].fillna(1))).round().sum())
    typos = sum(1 for case in truth if "id_typo" in case.get("perturbations", ()))
    record(
        "feed quality",
        f"{nid['NID_sent'].sum()} record(s) sent a national ID, {failed} failed its check digit "
        f"(planted {typos} keying error(s))",
        failed == typos,
    )


def _records(response: dict[str, Any]) -> list[dict[str, Any]]:
    items = response.get("message", {}).get("search_response", [])
    return [r for item in items for r in item.get("data", {}).get("reg_records", [])]


def _enrolled_status(response: dict[str, Any]) -> str:
    items = response.get("message", {}).get("enrolled_response", [])
    first = items[0] if isinstance(items, list) and items else items
    return str(first.get("enrolled_status", "?")) if isinstance(first, dict) else "?"


def _count_status(response: dict[str, Any], status: str) -> int:
    items = response.get("message", {}).get("enrolled_response", [])
    return sum(1 for item in items if isinstance(item, dict) and item.get("status") == status)


def _show(console: Console, title: str, body: dict[str, Any]) -> None:
    text = json.dumps(body, indent=2, ensure_ascii=False)
    if len(text) > 1500:
        text = text[:1500] + "\n..."
    console.print(Panel(text, title=title, expand=False))
