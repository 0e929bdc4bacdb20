"""Per-item validation of enrolment updates: each item is normalised and held to
messages/enrolment_update_item on its own, through the compiled fast path, with the same verdict
as the reference validator (jsonschema)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.generate import generate_block
from ibr_protocol import normalise_record, spec_dir
from ibr_protocol.validation import is_valid, schema_errors
from ibr_service.core import IbrCore
from ibr_service.core.ingest import ItemRejectedError
from ibr_service.core.item_validation import ITEM_SCHEMA, canonical_item
from ibr_service.core.samples import enrollment_message, group_beneficiary, person_beneficiary

from .conftest import SP, counts

FIELD = "message.enrolled_updates.beneficiaries[0]"


def _mock_items(count: int) -> list[dict[str, Any]]:
    config = GeneratorConfig(people=200, block_people=200)
    block = generate_block(config, 0)
    return list(block.beneficiaries(config))[:count]


def _example_items() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted((spec_dir() / "examples").rglob("*.json")):
        body = json.loads(path.read_text())
        message = body.get("message") if isinstance(body, dict) else None
        updates = message.get("enrolled_updates") if isinstance(message, dict) else None
        if isinstance(updates, dict) and isinstance(updates.get("beneficiaries"), list):
            found.extend(b for b in updates["beneficiaries"] if isinstance(b, dict))
    return found


SEEDS = [
    *_example_items(),
    *_mock_items(12),
    person_beneficiary("1"),
    group_beneficiary("H1", ["A", "B"]),
]


def test_a_canonical_item_is_returned_as_it_is() -> None:
    """If this fails, valid items are rewritten on the fast path (or rejected)."""
    item = person_beneficiary("100")
    assert canonical_item(item, field=FIELD) is item


def test_a_variant_spelling_is_normalised_per_item() -> None:
    """If this fails, a DCI variant spelling in one item (sex "F") is rejected instead of read."""
    item = person_beneficiary("101")
    item["member"]["demographic_info"]["sex"] = "F"
    assert canonical_item(item, field=FIELD)["member"]["demographic_info"]["sex"] == "female"
    assert item["member"]["demographic_info"]["sex"] == "F", "the input must stay untouched"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda b: b["member"]["demographic_info"].update(sex="X"),
            ".member.demographic_info.sex",
            "rule code-list:sex",
        ),
        (
            lambda b: b["member"]["demographic_info"].update(birth_date="2024-02-30"),
            ".member.demographic_info.birth_date",
            "rule format",
        ),
        (lambda b: b.pop("programme_identifier"), "", "rule required"),
        (
            lambda b: b["programme_identifier"][0]["benefits"][0]["benefit_value"].update(
                amount="fifty"
            ),
            ".programme_identifier[0].benefits[0].benefit_value.amount",
            "rule pattern",
        ),
    ],
)
def test_a_rejection_names_the_field_and_the_rule(change: Any, field: str, words: str) -> None:
    """If this fails, an SP-MIS is told an item is bad without being told where or why."""
    item = person_beneficiary("102")
    change(item)
    with pytest.raises(ItemRejectedError) as caught:
        canonical_item(item, field=FIELD)
    assert caught.value.field == FIELD + field
    assert caught.value.reason == "rjct.beneficiary.invalid"
    assert words in caught.value.message


def test_a_non_object_item_is_rejected_alone() -> None:
    """If this fails, a stray string in the list crashes the batch instead of being rejected."""
    with pytest.raises(ItemRejectedError) as caught:
        canonical_item("oops", field=FIELD)
    assert caught.value.field == FIELD


@pytest.mark.parametrize("item", SEEDS, ids=lambda i: str(i.get("reference_id", "")))
def test_a_valid_item_is_already_canonical(item: dict[str, Any]) -> None:
    """If this fails, the fast path (skip normalising a schema-valid item) changes what is
    stored: normalising a valid item must give it back unchanged."""
    assert is_valid(item, ITEM_SCHEMA)
    assert normalise_record("beneficiary", item) == item


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        ["", "x", "1", "2024-01-01", "2024-02-30", "2024-01-01T10:00:00", "USD", "NID", "female"]
    ),
    st.just([]),
    st.just({}),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found.extend(_paths(inner, (*prefix, key)))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.extend(_paths(inner, (*prefix, index)))
    return found


@st.composite
def mutants(draw: st.DrawFn) -> Any:
    instance = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(instance) if p]
        path = draw(st.sampled_from(paths))
        parent = instance
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "@type", "reference_id", "sex"]))] = draw(SCALARS)
        else:
            parent[path[-1]] = draw(SCALARS)
    return instance


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_the_fast_path_gives_the_reference_verdict(instance: Any) -> None:
    """If this fails, the compiled validator (jsonschema_rs) and jsonschema disagree on an item,
    so the fast path would accept what the spec rejects (or the reverse)."""
    assert is_valid(instance, ITEM_SCHEMA) == (schema_errors(instance, ITEM_SCHEMA) == [])


def test_every_invalid_example_is_rejected_by_the_fast_path() -> None:
    """If this fails, an example the spec says MUST be rejected passes the fast path."""
    checked = 0
    for path in sorted((spec_dir() / "examples" / "invalid").glob("*.json")):
        case = json.loads(Path(path).read_text())
        assert not is_valid(case["instance"], case["schema"]), path.name
        checked += 1
    assert checked > 10


def test_only_the_bad_item_of_a_batch_is_rejected(core: IbrCore) -> None:
    """If this fails, the core no longer validates items itself and a schema-invalid one is
    either stored or takes the batch down with it."""
    bad = person_beneficiary("201")
    bad["member"]["demographic_info"]["birth_date"] = "12/31/1999"
    message = enrollment_message([person_beneficiary("200"), bad, person_beneficiary("202")])
    items = core.enrollment_updates(message, caller=SP)["enrolled_response"]
    assert [(i["reference_id"], i["status"]) for i in items] == [
        ("1", "succ"),
        ("2", "rjct"),
        ("3", "succ"),
    ]
    assert items[1]["status_reason_code"] == "rjct.beneficiary.invalid"
    assert (
        "beneficiaries[1].member.demographic_info.birth_date" in items[1]["status_reason_message"]
    )
    assert counts(core)["enrolments"] == 2
