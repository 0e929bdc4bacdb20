"""The pydantic models and the JSON Schemas give the same verdict, on examples and on
generated data: hypothesis mutates canonical instances (drop, retype, add, empty a field) and
both validators must agree on every mutant.
"""

from __future__ import annotations

import copy
import importlib
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ibr_protocol.models import model_for_schema
from ibr_protocol.spec import spec_dir
from ibr_protocol.validation import load_schema, schema_errors

from .conftest import load_json


def _seeds() -> list[tuple[str, Any]]:
    seeds: list[tuple[str, Any]] = []
    for path in sorted((spec_dir() / "examples" / "valid").rglob("*.json")):
        schema = "api/" + path.name.split(".")[0]
        if model_for_schema(schema) is not None:
            seeds.append((schema, load_json(path)))
    return seeds


SEEDS = _seeds()
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "x", "1", "2024-01-01", "2024-02-30", "USD", "NID", "female", "ERR"]),
    st.just([]),
    st.just({}),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, Any]:
    schema, seed = draw(st.sampled_from(SEEDS))
    instance = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 2))):
        paths = [p for p in _paths(instance) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = instance
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "@type", "meta", "status"]))] = draw(SCALARS)
        else:
            parent[last] = draw(SCALARS)
    return schema, instance


def _model_accepts(schema: str, instance: Any) -> bool:
    model = model_for_schema(schema)
    assert model is not None
    try:
        model.model_validate(instance)
    except ValidationError:
        return False
    return True


@pytest.mark.skipif(not SEEDS, reason="no valid examples with a model yet")
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_models_and_schemas_agree_on_mutated_instances(case: tuple[str, Any]) -> None:
    """A disagreement means one validator accepts what the other rejects: the models drifted."""
    schema, instance = case
    schema_ok = not schema_errors(instance, schema)
    model_ok = _model_accepts(schema, instance)
    assert schema_ok == model_ok, (
        f"{schema}: jsonschema {'accepts' if schema_ok else 'rejects'}, "
        f"pydantic {'accepts' if model_ok else 'rejects'}: {json.dumps(instance)[:600]}"
    )


@pytest.mark.skipif(not SEEDS, reason="no valid examples with a model yet")
@pytest.mark.parametrize(("schema", "instance"), SEEDS, ids=[s for s, _ in SEEDS])
def test_model_dump_is_the_canonical_form(schema: str, instance: Any) -> None:
    """model_dump(by_alias, exclude_none) must give back exactly the canonical JSON."""
    model = model_for_schema(schema)
    assert model is not None
    dumped = model.model_validate(instance).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    assert dumped == instance


def test_seed_examples_exist_for_every_operation() -> None:
    """Without seeds the generated-data test would silently test nothing."""
    assert len({schema for schema, _ in SEEDS}) >= 10, Path(spec_dir()).as_posix()


@pytest.mark.parametrize(
    ("literal", "schema"),
    [
        ("api.HeaderStatusReasonCode", "api/header_status_reason_code"),
        ("messages.SearchStatusReasonCode", "api/search_status_reason_code"),
        ("messages.EnrolledStatusReasonCode", "api/enrolled_status_reason_code"),
        ("messages.EnrolmentUpdateReasonCode", "api/enrolment_update_reason_code"),
        ("messages.SubscribeStatusReasonCode", "api/subscribe_status_reason_code"),
        ("messages.UnsubscribeStatusReasonCode", "api/unsubscribe_status_reason_code"),
    ],
)
def test_reason_code_literals_list_exactly_the_schema_codes(literal: str, schema: str) -> None:
    """A code added to a schema but not to its model makes the reference SP-MIS refuse a valid
    answer (found when succ.overlap.detected was added)."""
    module, name = literal.split(".")
    codes = typing.get_args(getattr(importlib.import_module(f"ibr_protocol.models.{module}"), name))
    assert set(codes) == {option["const"] for option in load_schema(schema)["oneOf"]}
