"""What the IBR does with the data: publication, enrolled checks, search, pages, txn status."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_succ
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure
from ibr_conformance.target import Client

_IBR, _SCN = Profile.IBR, Phase.SCENARIOS


def publish(
    ctx: CheckContext,
    beneficiaries: list[dict[str, Any]],
    *,
    who: Client = Client.PRIMARY,
    receipt_type: str = "enrollment",
    message: dict[str, Any] | None = None,
) -> Exchange:
    body = message or probes.enrollment_updates_request(beneficiaries, receipt_type=receipt_type)
    env = ctx.target.envelope("notify", body, who=who)
    return ctx.target.send("sync/enrollment/updates", env, who=who)


def enrolled(ctx: CheckContext, criteria: Any) -> Exchange:
    message = {"transaction_id": str(uuid.uuid4()), "enrolled_criteria": criteria}
    return ctx.target.send("sync/enrolled", ctx.target.envelope("search", message))


def _idq(identifier: str, reference_id: str | None = None) -> dict[str, Any]:
    return {
        **({"reference_id": reference_id} if reference_id else {}),
        "query_type": "idtype-value",
        "query": {"type": "NID", "value": identifier},
    }


def programme_name(ctx: CheckContext) -> str:
    return ctx.config.programme or "CONF-PROG"


@REGISTRY.check(
    phase=_SCN,
    profile=_IBR,
    requirements=("IBR-UPDATES-001", "IBR-ENROLLED-001", "IBR-SEARCH-001"),
)
def published_enrolment_is_found_by_enrolled_and_search(ctx: CheckContext) -> Iterator[Failure]:
    """A published beneficiary is enrolled=yes, found by idtype-value and by predicate search."""
    ident = probes.fresh_id()
    pub = publish(ctx, [probes.beneficiary(ident, programme_name(ctx))])
    yield from expect_succ(ctx, pub, "enrolment update", requirements=["IBR-UPDATES-001"])
    yes = enrolled(ctx, _idq(ident))
    statuses = [r.get("enrolled_status") for r in probes.items(yes, "enrolled_response")]
    if statuses != ["yes"]:
        yield ctx.failure(
            "published person not enrolled",
            f"enrolled_status {statuses}, expected ['yes']",
            evidence=[pub, yes],
            requirements=["IBR-ENROLLED-001"],
        )
    no = enrolled(ctx, _idq(probes.fresh_id()))
    if [r.get("enrolled_status") for r in probes.items(no, "enrolled_response")] != ["no"]:
        yield ctx.failure(
            "unknown person reported enrolled",
            "expected enrolled_status ['no']",
            evidence=[no],
            requirements=["IBR-ENROLLED-001"],
        )
    for label, message in (
        ("idtype-value", probes.search_request(ident)),
        ("predicate", probes.predicate_search_request("identifier_value", ident)),
    ):
        ex = ctx.target.send("sync/search", ctx.target.envelope("search", message))
        if len(probes.records(ex)) != 1:
            yield ctx.failure(
                f"published person not found by {label} search",
                f"{len(probes.records(ex))} records, expected 1",
                evidence=[pub, ex],
                requirements=["IBR-SEARCH-001"],
            )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-ENROLLED-002", "IBR-ENROLLED-003"))
def enrolled_batch_is_answered_in_request_order(ctx: CheckContext) -> Iterator[Failure]:
    """An enrolled batch gets one result per check, in order, with reference_id or position."""
    ident = probes.fresh_id()
    pub = publish(ctx, [probes.beneficiary(ident, programme_name(ctx))])
    ex = enrolled(ctx, [_idq(ident, "c-known"), _idq(probes.fresh_id()), _idq(ident)])
    got = [
        (r.get("reference_id"), r.get("enrolled_status"))
        for r in probes.items(ex, "enrolled_response")
    ]
    want = [("c-known", "yes"), ("2", "no"), ("3", "yes")]
    if ex.status != 200 or len(got) != 3:
        yield ctx.failure(
            "enrolled batch not answered per check",
            f"HTTP {ex.status}, {len(got)} results for 3 checks",
            evidence=[pub, ex],
            requirements=["IBR-ENROLLED-002"],
        )
    elif got != want:
        yield ctx.failure(
            "enrolled results out of order or misnamed",
            f"got {got}, expected {want}",
            evidence=[pub, ex],
            requirements=["IBR-ENROLLED-003"],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-ENROLLED-005", "IBR-ERR-005"))
def enrolled_filter_on_an_unknown_programme_is_rejected_per_check(
    ctx: CheckContext,
) -> Iterator[Failure]:
    """A programme filter naming an unknown programme is rjct.programme.unknown for that check."""
    query = [
        {
            "seq_num": 1,
            "expression1": {
                "attribute_name": "member_identifier",
                "operator": "eq",
                "attribute_value": probes.fresh_id(),
            },
            "condition": "and",
            "expression2": {
                "attribute_name": "programme_identifier",
                "operator": "eq",
                "attribute_value": f"NO-SUCH-PROGRAMME-{uuid.uuid4().hex[:8]}",
            },
        }
    ]
    ex = enrolled(ctx, [{"reference_id": "c1", "query_type": "predicate", "query": query}])
    found = probes.items(ex, "enrolled_response")
    if ex.status != 200 or not found:
        yield ctx.failure(
            "unknown programme is an HTTP error",
            f"HTTP {ex.status}; expected a per-check rjct",
            evidence=[ex],
            requirements=["IBR-ERR-005"],
        )
    elif (found[0].get("status"), found[0].get("status_reason_code")) != (
        "rjct",
        "rjct.programme.unknown",
    ):
        yield ctx.failure(
            "unknown programme not rejected",
            f"status {found[0].get('status')!r}, reason {found[0].get('status_reason_code')!r}",
            evidence=[ex],
            requirements=["IBR-ENROLLED-005"],
        )


@REGISTRY.check(
    phase=_SCN,
    profile=_IBR,
    requirements=("IBR-UPDATES-002", "IBR-UPDATES-003", "IBR-UPDATES-004", "IBR-ERR-005"),
)
def update_batch_reports_each_item_and_keeps_the_good_ones(ctx: CheckContext) -> Iterator[Failure]:
    """A batch with a foreign-programme item: that item rjct, the others recorded."""
    if not ctx.config.foreign_programme:
        ctx.skip("no foreign_programme configured (a programme the client may not report for)")
    good, bad = probes.fresh_id(), probes.fresh_id()
    ex = publish(
        ctx,
        [
            probes.beneficiary(good, programme_name(ctx), reference_id="b-good"),
            probes.beneficiary(bad, ctx.config.foreign_programme),
        ],
    )
    got = [
        (r.get("reference_id"), r.get("status"), r.get("status_reason_code"))
        for r in probes.items(ex, "enrolled_response")
    ]
    if ex.status != 200 or len(got) != 2:
        yield ctx.failure(
            "batch not answered per item",
            f"HTTP {ex.status}, results {got}",
            evidence=[ex],
            requirements=["IBR-UPDATES-002", "IBR-ERR-005"],
        )
        return
    if [g[0] for g in got] != ["b-good", "2"]:
        yield ctx.failure(
            "results out of order or misnamed",
            f"reference ids {[g[0] for g in got]}, expected ['b-good', '2']",
            evidence=[ex],
            requirements=["IBR-UPDATES-002"],
        )
    if got[0][1] != "succ":
        yield ctx.failure(
            "good item not recorded", f"{got[0]}", evidence=[ex], requirements=["IBR-UPDATES-003"]
        )
    if got[1][1] != "rjct":
        yield ctx.failure(
            "foreign programme accepted",
            f"{got[1]}",
            evidence=[ex],
            requirements=["IBR-UPDATES-004"],
        )
    elif got[1][2] != "rjct.programme.not_allowed":
        yield ctx.failure(
            "wrong reason for a foreign programme",
            f"{got[1][2]!r}, expected rjct.programme.not_allowed",
            evidence=[ex],
            requirements=["IBR-UPDATES-003", "IBR-UPDATES-004"],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-UPDATES-005", "IBR-REPLAY-003"))
def replayed_transaction_does_not_duplicate_enrolments(ctx: CheckContext) -> Iterator[Failure]:
    """The same transaction re-sent with a new message_id gives the same result and no duplicate."""
    ident = probes.fresh_id()
    message = probes.enrollment_updates_request(
        [probes.beneficiary(ident, programme_name(ctx), reference_id="r1")]
    )
    first = publish(ctx, [], message=message)
    second = publish(ctx, [], message=message)
    results = [
        [(r.get("reference_id"), r.get("status")) for r in probes.items(e, "enrolled_response")]
        for e in (first, second)
    ]
    if results[0] != results[1] or second.status != 200:
        yield ctx.failure(
            "retry answered differently",
            f"first {results[0]}, retry HTTP {second.status} {results[1]}",
            evidence=[first, second],
        )
    ex = ctx.target.send("sync/search", ctx.target.envelope("search", probes.search_request(ident)))
    found = probes.records(ex)
    enrolments = [
        p for r in found for p in r.get("programme_identifier", []) or [] if isinstance(p, Mapping)
    ]
    if len(found) != 1 or len(enrolments) != 1:
        yield ctx.failure(
            "retry duplicated data",
            f"{len(found)} record(s), {len(enrolments)} enrolment(s) after a retry; "
            "expected 1 and 1",
            evidence=[first, second, ex],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-SEARCH-005", "IBR-SEARCH-004"))
def search_pages_by_page_size_and_limits_it(ctx: CheckContext) -> Iterator[Failure]:
    """page_size 1 of 3 matches returns 1 record and the total; page_size 5000 is rjct."""
    # A random enrolment date from 1981 to 2019 tells this check's three records from any
    # other's; it lies after the probe's birth date (1980), which IBR-REG-005 requires.
    n = uuid.uuid4().int
    day = f"{1981 + n % 39}-{n // 39 % 12 + 1:02d}-{n // 468 % 28 + 1:02d}"
    people = [probes.beneficiary(probes.fresh_id(), programme_name(ctx)) for _ in range(3)]
    for person in people:
        person["programme_identifier"][0]["enrolment_date"] = day
    pub = publish(ctx, people)
    message = probes.predicate_search_request("enrolment_date", day)
    message["search_request"][0]["search_criteria"]["pagination"] = {
        "page_size": 1,
        "page_number": 2,
    }
    ex = ctx.target.send("sync/search", ctx.target.envelope("search", message))
    found = probes.records(ex)
    page = (probes.items(ex, "search_response") or [{}])[0].get("pagination")
    if len(found) != 1:
        yield ctx.failure(
            "page_size ignored",
            f"{len(found)} records for page_size 1 of 3 matches",
            evidence=[pub, ex],
            requirements=["IBR-SEARCH-005"],
        )
    if not isinstance(page, Mapping) or (page.get("page_number"), page.get("total_count")) != (
        2,
        3,
    ):
        yield ctx.failure(
            "pagination misreported",
            f"pagination {page!r}; expected page_number 2, total_count 3",
            evidence=[ex],
            requirements=["IBR-SEARCH-004"],
        )
    big = probes.search_request(probes.fresh_id(), page_size=5000)
    ex2 = ctx.target.send("sync/search", ctx.target.envelope("search", big))
    item = (probes.items(ex2, "search_response") or [{}])[0]
    if ex2.status == 400 and probes.is_rejected(ex2):
        return  # refused by the schema's maximum: also a rejection of the page size
    if (item.get("status"), item.get("status_reason_code")) != ("rjct", "rjct.pagination.invalid"):
        yield ctx.failure(
            "page_size above 1000 accepted",
            f"item status {item.get('status')!r}, reason {item.get('status_reason_code')!r}",
            evidence=[ex2],
            requirements=["IBR-SEARCH-005"],
        )


@REGISTRY.check(
    phase=_SCN,
    profile=_IBR,
    requirements=("IBR-SEARCH-006", "IBR-SUB-004"),
    capability="programme-isolation",
)
def another_programme_cannot_read_enrolment_details(ctx: CheckContext) -> Iterator[Failure]:
    """A client of another programme never receives this programme's enrolment records.

    Claim `programme-isolation` when the second client's data-sharing agreement does not cover
    the primary client's programme; whether it does is the deployment's policy.
    """
    if not ctx.target.has_client(Client.SECOND):
        ctx.skip("no second client configured (second_client_id / second_client_secret)")
    ident = probes.fresh_id()
    programme = programme_name(ctx)
    pub = publish(ctx, [probes.beneficiary(ident, programme)])
    env = ctx.target.envelope("search", probes.search_request(ident), who=Client.SECOND)
    search = ctx.target.send("sync/search", env, who=Client.SECOND)
    leaked = [
        p
        for r in probes.records(search)
        for p in r.get("programme_identifier", []) or []
        if isinstance(p, Mapping)
        and (p.get("programme") or {}).get("programme_identifier") == programme
    ]
    if leaked:
        yield ctx.failure(
            "another programme's data leaked",
            f"{len(leaked)} {programme} enrolment(s) returned to the second client",
            evidence=[pub, search],
            requirements=["IBR-SEARCH-006"],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-TXN-001", "IBR-TXN-002"))
def txn_status_returns_the_result_of_an_earlier_request(ctx: CheckContext) -> Iterator[Failure]:
    """sync/txn/status of an earlier enrolment batch returns that batch's response."""
    pub = publish(ctx, [probes.beneficiary(probes.fresh_id(), programme_name(ctx))])
    txn = probes.message_of(pub).get("transaction_id")
    asked = probes.txn_status_request(str(txn), txn_type="receipt")
    ex = ctx.target.send("sync/txn/status", ctx.target.envelope("txn-status", asked))
    yield from expect_succ(ctx, ex, "txn status", requirements=["IBR-TXN-001"])
    response = probes.message_of(ex).get("txnstatus_response")
    status = response.get("txn_status") if isinstance(response, Mapping) else None
    if not isinstance(status, Mapping) or status.get("transaction_id") != txn:
        yield ctx.failure(
            "txn_status is not the earlier response",
            f"txn_status {str(status)[:200]!r}; expected the response of transaction {txn!r}",
            evidence=[pub, ex],
            requirements=["IBR-TXN-002"],
        )
    elif status.get("enrolled_response") != probes.message_of(pub).get("enrolled_response"):
        yield ctx.failure(
            "txn_status differs from the original response",
            "enrolled_response differs",
            evidence=[pub, ex],
            requirements=["IBR-TXN-002"],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-TXN-003",))
def unknown_transaction_is_answered_inside_dci_schema(ctx: CheckContext) -> Iterator[Failure]:
    """The status of an unknown transaction is header status rjct without a header reason code
    (DCI's list has none for it), and a txn_status whose one item is rjct with
    rjct.reference_id.invalid for the request's reference_id."""
    asked = probes.txn_status_request(f"no-such-transaction-{uuid.uuid4()}")
    ex = ctx.target.send("sync/txn/status", ctx.target.envelope("txn-status", asked))
    header = probes.body_of(ex).get("header")
    got = (
        (header.get("status"), header.get("status_reason_code"))
        if isinstance(header, Mapping)
        else (None, None)
    )
    answer = probes.message_of(ex).get("txnstatus_response")
    status = answer.get("txn_status") if isinstance(answer, Mapping) else None
    found = status.get("search_response") if isinstance(status, Mapping) else None
    item = found[0] if isinstance(found, list) and len(found) == 1 else None
    item_got = (
        (item.get("reference_id"), item.get("status"), item.get("status_reason_code"))
        if isinstance(item, Mapping)
        else None
    )
    expected = (asked["txnstatus_request"]["reference_id"], "rjct", "rjct.reference_id.invalid")
    if ex.status != 200 or got != ("rjct", None) or item_got != expected:
        yield ctx.failure(
            "unknown transaction not answered inside DCI's schema",
            f"HTTP {ex.status}, header status/reason {got}, txn_status item {item_got}",
            evidence=[ex],
        )


@REGISTRY.check(phase=_SCN, profile=_IBR, requirements=("IBR-ERR-003",))
def error_messages_do_not_echo_personal_data(ctx: CheckContext) -> Iterator[Failure]:
    """An error about a bad record names the field, never the person's name, id or birth date.

    The log half of IBR-ERR-003 needs the system's logs; an assessor reviews it.
    """
    ident = probes.fresh_id()
    record = probes.beneficiary(ident, programme_name(ctx))
    person = record["member"]["demographic_info"]
    person["name"] = {"given_name": "Zyxwvutsrq", "surname": "Qponmlkjih"}
    person["birth_date"] = "1980-02-31"
    person["sex"] = "not-a-sex-code"
    ex = publish(ctx, [record])
    text = str(ex.response_body)
    leaked = [v for v in ("Zyxwvutsrq", "Qponmlkjih", ident, "1980-02-31") if v in text]
    if leaked:
        yield ctx.failure(
            "personal data echoed in the error",
            f"the answer repeats {leaked}",
            evidence=[ex],
        )
