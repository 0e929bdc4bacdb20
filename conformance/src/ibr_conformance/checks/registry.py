"""The registry rules (IBR-REG-001..008): how an IBR consolidates what many SP-MIS tell it.

Each check publishes with sync/enrollment/updates and reads back with sync/search and
sync/enrolled, as an SP-MIS would. People get fresh identifiers; every date lies after the
probe's birth date (1980-04-12) and before today, unless a date is the point of the check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.data import programme_name, publish
from ibr_conformance.checks.expect import expect_succ
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure
from ibr_conformance.target import Client
from ibr_protocol.check_digits import luhn_valid, verhoeff_check_digit

_IBR, _SCN = Profile.IBR, Phase.SCENARIOS
_INVALID = "rjct.beneficiary.invalid"
_TRANSITION = "rjct.enrolment_status.invalid"


# -- building records ---------------------------------------------------------------------------


def national_id() -> str:
    """A fresh ten-digit number valid under Verhoeff and Luhn, so that a deployment declaring
    either check digit for national IDs still links it."""
    while True:
        payload = f"{uuid.uuid4().int % 10**9:09d}"
        number = payload + verhoeff_check_digit(payload)
        if luhn_valid(number):
            return number


def record(
    ident: str,
    programme: str,
    record_id: str,
    *,
    identifiers: list[tuple[str, str]] | None = None,
    status: str = "1",
    status_change_date: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """The probe beneficiary as record `record_id` of `programme`.

    `changes` sets enrolment fields (`status_reason`, `enrolment_date`, `benefits`) or person
    fields (`birth_date`, `death_date`)."""
    out = probes.beneficiary(ident, programme, status=status)
    enrolment = out["programme_identifier"][0]
    enrolment["beneficiary_programme_id"] = record_id
    enrolment["benefits"][0]["benefit_id"] = f"B-{record_id}"
    if status_change_date:
        enrolment["status_change_date"] = status_change_date
    person = out["member"]["demographic_info"]
    for key, value in changes.items():
        (person if key in ("birth_date", "death_date") else enrolment)[key] = value
    if identifiers is not None:
        docs = [{"identifier_type": t, "identifier_value": v} for t, v in identifiers]
        out["member"]["member_identifier"] = docs
        person["identifier"] = docs[:1]
    return out


def fresh_record_id() -> str:
    return f"R-{uuid.uuid4().hex[:10].upper()}"


def second_programme(ctx: CheckContext) -> str:
    """The second client's programme; skips the check when the run has none."""
    if not ctx.target.has_client(Client.SECOND) or not ctx.config.second_programme:
        ctx.skip(
            "needs a second client and the programme it writes "
            "(second_client_id / second_client_secret, second_programme)"
        )
    return ctx.config.second_programme


# -- reading answers ----------------------------------------------------------------------------


def item_results(ex: Exchange) -> list[tuple[Any, Any]]:
    """(status, status_reason_code) of each item of an enrolment-updates answer."""
    return [
        (r.get("status"), r.get("status_reason_code"))
        for r in probes.items(ex, "enrolled_response")
    ]


def enrolled_status(
    ctx: CheckContext, ident: str, programme: str | None = None, *, who: Client = Client.PRIMARY
) -> tuple[Any, Exchange]:
    """sync/enrolled for the person with national ID `ident` (in `programme` when given)."""
    criteria: dict[str, Any] = {
        "query_type": "idtype-value",
        "query": {"type": "NID", "value": ident},
    }
    if programme is not None:
        criteria = {
            "query_type": "predicate",
            "query": [
                {
                    "seq_num": 1,
                    "expression1": {
                        "attribute_name": "member_identifier",
                        "operator": "eq",
                        "attribute_value": ident,
                    },
                    "condition": "and",
                    "expression2": {
                        "attribute_name": "programme_identifier",
                        "operator": "eq",
                        "attribute_value": programme,
                    },
                }
            ],
        }
    message = {"transaction_id": str(uuid.uuid4()), "enrolled_criteria": criteria}
    ex = ctx.target.send("sync/enrolled", ctx.target.envelope("search", message, who=who), who=who)
    answers = probes.items(ex, "enrolled_response")
    return (answers[0].get("enrolled_status") if answers else None), ex


def search_by_nid(ctx: CheckContext, ident: str) -> tuple[list[Mapping[str, Any]], Exchange]:
    """(Beneficiary records, exchange) of a sync/search by national ID."""
    ex = ctx.target.send("sync/search", ctx.target.envelope("search", probes.search_request(ident)))
    return probes.records(ex), ex


def enrolments(found: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        e for r in found for e in r.get("programme_identifier", []) or [] if isinstance(e, Mapping)
    ]


def amount(benefit: Mapping[str, Any]) -> Decimal | None:
    value = benefit.get("benefit_value")
    try:
        return Decimal(str(value.get("amount"))) if isinstance(value, Mapping) else None
    except InvalidOperation:
        return None


def expect_items(ctx: CheckContext, ex: Exchange, want: list[str], what: str) -> Iterator[Failure]:
    """Failures unless the answer is processed and its items have the statuses `want`."""
    yield from expect_succ(ctx, ex, what)
    got = item_results(ex)
    if [g[0] for g in got] != want:
        yield ctx.failure(f"{what}: items not recorded", f"item results {got}", evidence=[ex])


# -- the checks ---------------------------------------------------------------------------------


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-REG-001",))
def one_person_whatever_the_order_spelling_or_alias_of_identifiers(
    ctx: CheckContext,
) -> Iterator[Failure]:
    """Records of one person with identifiers in any order, spacing or type alias are one."""
    nid, uin, programme = national_id(), f"UIN-{uuid.uuid4().hex[:10].upper()}", programme_name(ctx)
    spaced = f"{nid[:4]} {nid[4:8]} {nid[8:]}"
    sent = {
        fresh_record_id(): [("NID", nid), ("UIN", uin)],
        fresh_record_id(): [("UIN", uin), ("NationalID", spaced)],
        fresh_record_id(): [("NationalID", spaced)],
    }
    pubs = [
        publish(ctx, [record(nid, programme, rid, identifiers=ids)]) for rid, ids in sent.items()
    ]
    for pub in pubs:
        yield from expect_items(ctx, pub, ["succ"], "enrolment update")
    found, ex = search_by_nid(ctx, nid)
    got = sorted(str(e.get("beneficiary_programme_id")) for e in enrolments(found))
    if len(found) != 1 or got != sorted(sent):
        yield ctx.failure(
            "one person is not one Beneficiary",
            f"search by NID {nid}: {len(found)} record(s) with enrolments {got}; expected one "
            f"record with {sorted(sent)} (sent as [NID, UIN], [UIN, NationalID '{spaced}'] and "
            f"[NationalID '{spaced}'])",
            evidence=[*pubs, ex],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-REG-002",))
def two_records_in_one_programme_are_two_enrolments(ctx: CheckContext) -> Iterator[Failure]:
    """Two records (beneficiary_programme_id) of one person in one programme stay two enrolments."""
    ident, programme = probes.fresh_id(), programme_name(ctx)
    ids = sorted([fresh_record_id(), fresh_record_id()])
    pub = publish(ctx, [record(ident, programme, rid) for rid in ids])
    yield from expect_items(ctx, pub, ["succ", "succ"], "enrolment update")
    found, ex = search_by_nid(ctx, ident)
    got = sorted(str(e.get("beneficiary_programme_id")) for e in enrolments(found))
    if len(found) != 1 or got != ids:
        yield ctx.failure(
            "double enrolment not kept",
            f"{len(found)} record(s) with enrolments {got}; expected one record with {ids}",
            evidence=[pub, ex],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-REG-003",))
def an_older_update_does_not_replace_a_newer_state(ctx: CheckContext) -> Iterator[Failure]:
    """Exit dated 2025-06-01, then Active dated 2025-01-01: the enrolment stays exited."""
    ident, programme, rid = probes.fresh_id(), programme_name(ctx), fresh_record_id()
    newer = publish(
        ctx, [record(ident, programme, rid, status="5", status_change_date="2025-06-01")]
    )
    yield from expect_items(ctx, newer, ["succ"], "exit")
    older = publish(
        ctx, [record(ident, programme, rid, status="1", status_change_date="2025-01-01")]
    )
    answer, ex = enrolled_status(ctx, ident, programme)
    if answer != "no":
        yield ctx.failure(
            "an older update replaced the newer state",
            f"enrolled_status {answer!r} in {programme} after Exit (2025-06-01) and then Active "
            "dated earlier (2025-01-01); expected 'no'",
            evidence=[newer, older, ex],
        )
    found, search = search_by_nid(ctx, ident)
    statuses = [str(e.get("enrolment_status")) for e in enrolments(found)]
    if statuses != ["5"]:
        yield ctx.failure(
            "an older update replaced the newer status",
            f"enrolment statuses {statuses}; expected ['5'] (Exit, the newer state)",
            evidence=[newer, older, search],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-REG-004",))
def leaving_deceased_needs_a_correction(ctx: CheckContext) -> Iterator[Failure]:
    """Deceased then Active is rjct.enrolment_status.invalid, unless status_reason is correction."""
    ident, programme, rid = probes.fresh_id(), programme_name(ctx), fresh_record_id()
    dead = publish(
        ctx, [record(ident, programme, rid, status="2", status_change_date="2025-01-01")]
    )
    yield from expect_items(ctx, dead, ["succ"], "Deceased")
    back = publish(ctx, [record(ident, programme, rid, status_change_date="2025-02-01")])
    if item_results(back) != [("rjct", _TRANSITION)]:
        yield ctx.failure(
            "left Deceased without a correction",
            f"Active after Deceased answered {item_results(back)}; expected "
            f"[('rjct', '{_TRANSITION}')]",
            evidence=[dead, back],
        )
    withdrawn = record(
        ident, programme, rid, status_change_date="2025-02-02", status_reason="correction"
    )
    fixed = publish(ctx, [withdrawn])
    if [g[0] for g in item_results(fixed)] != ["succ"]:
        yield ctx.failure(
            "a correction of Deceased refused",
            f"Active with status_reason 'correction' answered {item_results(fixed)}; expected succ",
            evidence=[dead, fixed],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-REG-005",))
def impossible_dates_reject_only_their_item(ctx: CheckContext) -> Iterator[Failure]:
    """Death before birth, enrolment before birth, a date next year: rjct; the good item succ."""
    programme = programme_name(ctx)
    next_year = (datetime.now(UTC) + timedelta(days=366)).date().isoformat()

    def one(**changes: Any) -> dict[str, Any]:
        return record(probes.fresh_id(), programme, fresh_record_id(), **changes)

    cases = [
        ("death_date 1979-01-01 before birth 1980-04-12", one(death_date="1979-01-01")),
        ("enrolment_date 1979-06-01 before birth 1980-04-12", one(enrolment_date="1979-06-01")),
        (f"status_change_date {next_year} in the future", one(status_change_date=next_year)),
    ]
    ex = publish(ctx, [*(r for _, r in cases), one()])
    yield from expect_succ(ctx, ex, "batch with impossible dates")
    got = item_results(ex)
    if len(got) != len(cases) + 1:
        yield ctx.failure(
            "batch not answered per item", f"{len(got)} results for 4 items", evidence=[ex]
        )
        return
    for (label, _), result in zip(cases, got, strict=False):
        if result != ("rjct", _INVALID):
            yield ctx.failure(
                "impossible date accepted",
                f"{label}: answered {result}; expected ('rjct', '{_INVALID}')",
                evidence=[ex],
            )
    if got[-1][0] != "succ":
        yield ctx.failure(
            "good item refused with the bad ones",
            f"the valid item answered {got[-1]}; expected succ",
            evidence=[ex],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-REG-006",))
def a_death_ends_enrolled_in_every_programme(ctx: CheckContext) -> Iterator[Failure]:
    """A death_date sent by one programme: enrolled is no in the person's other programme."""
    other = second_programme(ctx)
    ident, programme, rid = probes.fresh_id(), programme_name(ctx), fresh_record_id()
    first = publish(ctx, [record(ident, programme, rid)])
    there = publish(ctx, [record(ident, other, fresh_record_id())], who=Client.SECOND)
    yield from expect_items(ctx, first, ["succ"], "enrolment")
    yield from expect_items(ctx, there, ["succ"], f"enrolment in {other}")
    before, ask = enrolled_status(ctx, ident, other, who=Client.SECOND)
    if before != "yes":
        yield ctx.failure(
            "person not enrolled before the death report",
            f"enrolled_status {before!r} in {other} before any death; expected 'yes'",
            evidence=[there, ask],
        )
        return
    death = publish(ctx, [record(ident, programme, rid, death_date="2025-03-01")])
    yield from expect_items(ctx, death, ["succ"], "death report")
    after, ex = enrolled_status(ctx, ident, other, who=Client.SECOND)
    if after != "no":
        yield ctx.failure(
            "a death did not end enrolment in another programme",
            f"{programme} reported death_date 2025-03-01; enrolled_status in {other} is "
            f"{after!r}, expected 'no'",
            evidence=[death, ex],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-REG-007",))
def another_record_does_not_erase_a_reported_death(ctx: CheckContext) -> Iterator[Failure]:
    """Record 1 reports a death; a later update of record 2 without it leaves enrolled no.

    Record 2 is the second client's (its programme) when the run has one, else the main
    client's in the same programme: either way another source than the one that reported."""
    ident, programme = probes.fresh_id(), programme_name(ctx)
    has_second = ctx.target.has_client(Client.SECOND) and bool(ctx.config.second_programme)
    who, other = (
        (Client.SECOND, ctx.config.second_programme) if has_second else (Client.PRIMARY, programme)
    )
    rid1, rid2 = fresh_record_id(), fresh_record_id()
    enrol = publish(ctx, [record(ident, other, rid2, status_change_date="2025-01-01")], who=who)
    death = publish(ctx, [record(ident, programme, rid1, death_date="2025-03-01")])
    later = publish(ctx, [record(ident, other, rid2, status_change_date="2025-05-01")], who=who)
    for ex, what in ((enrol, "record 2"), (death, "death report"), (later, "record 2 update")):
        yield from expect_items(ctx, ex, ["succ"], what)
    answer, asked = enrolled_status(ctx, ident)
    if answer != "no":
        yield ctx.failure(
            "another source erased a reported death",
            f"{programme} record {rid1} reported death_date 2025-03-01; after a later update "
            f"of {other} record {rid2} without it, enrolled_status is {answer!r}, expected 'no'",
            evidence=[death, later, asked],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-REG-008",))
def a_benefit_resent_with_a_corrected_amount_replaces_it(ctx: CheckContext) -> Iterator[Failure]:
    """A benefit without benefit_id re-sent as 55.00 replaces 50.00; a negative amount is rjct."""
    ident, programme, rid = probes.fresh_id(), programme_name(ctx), fresh_record_id()

    def paid(value: str) -> dict[str, Any]:
        benefit = {
            "benefit_type": "1",
            "benefit_date": "2025-05-02",
            "period_start": "2025-05-01",
            "period_end": "2025-05-31",
            "benefit_value": {"amount": value, "currency": "USD"},
        }
        return record(ident, programme, rid, benefits=[benefit])

    sent = [publish(ctx, [paid(value)]) for value in ("50.00", "55.00")]
    for ex in sent:
        yield from expect_items(ctx, ex, ["succ"], "benefit")
    found, search = search_by_nid(ctx, ident)
    amounts = [amount(b) for e in enrolments(found) for b in e.get("benefits", []) or []]
    if amounts != [Decimal("55.00")]:
        yield ctx.failure(
            "a corrected benefit did not replace the first",
            f"benefit amounts {[str(a) for a in amounts]} after 50.00 then 55.00 for the same "
            "period and type; expected ['55.00']",
            evidence=[*sent, search],
        )
    negative = publish(ctx, [paid("-5.00")])
    if not probes.is_rejected(negative) and [g[0] for g in item_results(negative)] != ["rjct"]:
        yield ctx.failure(
            "a negative amount accepted",
            f"amount -5.00 answered {item_results(negative)}; expected rjct (a reversal is a "
            "payment_status)",
            evidence=[negative],
        )
