"""spec/bundled/openapi.yaml: equal to a fresh generation, self-contained, and loadable by the
Python OpenAPI tools (openapi-spec-validator, openapi-core, schemathesis) with its schemas in force.
The JavaScript tools are checked by test_bundle_js_tools.py."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from openapi_core.validation.request.exceptions import InvalidRequestBody
from openapi_spec_validator import validate as validate_openapi

from ibr_protocol.bundle import BUNDLE_PATH, bundle_yaml, component_name

SPEC = Path(__file__).resolve().parents[1]
BUNDLE = SPEC / BUNDLE_PATH
EXAMPLES = SPEC / "examples" / "valid"


def _bundle() -> dict[str, Any]:
    document = yaml.safe_load(BUNDLE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}/{index}")


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_committed_bundle_equals_a_fresh_generation() -> None:
    assert BUNDLE.is_file(), "spec/bundled/openapi.yaml is missing: run `ibr-spec bundle`"
    assert BUNDLE.read_text(encoding="utf-8") == bundle_yaml(SPEC), (
        "spec/bundled/openapi.yaml is stale: run `ibr-spec bundle` and commit it"
    )


def test_every_ref_is_internal_and_resolves() -> None:
    document = _bundle()
    refs = [value for _, key, value in _walk(document) if key == "$ref"]
    assert refs, "the bundle has no $ref at all"
    for ref in refs:
        assert ref.startswith("#/"), f"external $ref {ref!r}"
        _resolve(document, ref)  # KeyError names a dangling pointer


def test_each_schema_file_is_one_component_without_id_or_dialect() -> None:
    document = _bundle()
    schemas = document["components"]["schemas"]
    sources = [s["x-ibr-source"] for s in schemas.values() if "x-ibr-source" in s]
    assert len(sources) == len(set(sources)), "a schema file was bundled twice"
    for source in sources:
        assert component_name(SPEC / source, SPEC) in schemas
    assert not [p for p, key, _ in _walk(schemas) if key in ("$id", "$schema")]
    assert document["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    ids = [json.loads((SPEC / s).read_text())["$id"] for s in sources]
    assert len(ids) == len(set(ids)), "two bundled schema files share one $id"


def test_no_yaml_aliases_in_the_file() -> None:
    text = BUNDLE.read_text(encoding="utf-8")
    assert "&id0" not in text
    assert "*id0" not in text


def test_openapi_spec_validator_accepts_the_bundle() -> None:
    validate_openapi(_bundle())


def _example(operation: str, name: str) -> dict[str, Any]:
    loaded = json.loads((EXAMPLES / operation / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _post(path: str, body: dict[str, Any]) -> MockRequest:
    return MockRequest(
        "https://ibr.example.go.ke",
        "post",
        path,
        data=json.dumps(body),
        headers={"Authorization": "Bearer x"},
        content_type="application/json",
    )


def test_openapi_core_validates_requests_with_the_bundled_schemas() -> None:
    api = OpenAPI.from_dict(_bundle())
    body = _example("post_reg_sync_search", "envelope_search_request.json")
    api.validate_request(_post("/registry/sync/search", body))

    broken = copy.deepcopy(body)
    del broken["header"]["sender_id"]  # required by api/request_header, two $refs deep
    with pytest.raises(InvalidRequestBody, match="sender_id"):
        api.validate_request(_post("/registry/sync/search", broken))


def test_schemathesis_loads_every_operation_and_generates_valid_bodies() -> None:
    import hypothesis
    import schemathesis
    from jsonschema import Draft202012Validator

    document = _bundle()
    schema = schemathesis.openapi.from_dict(document)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert "POST /registry/sync/enrolled" in labels
    assert len(labels) == sum(len(item) for item in document["paths"].values())

    operation = schema["/registry/sync/txn/status"]["POST"]
    body_schema = {
        **document["paths"]["/registry/sync/txn/status"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"],
        "components": document["components"],
    }
    validator = Draft202012Validator(body_schema)
    seen: list[Any] = []

    @hypothesis.settings(max_examples=5, deadline=None, database=None)
    @hypothesis.given(case=operation.as_strategy())
    def generated_bodies_meet_the_schema(case: Any) -> None:
        validator.validate(case.body)
        seen.append(case.body)

    generated_bodies_meet_the_schema()
    assert seen


def _bundled_validator(document: dict[str, Any], schema: str) -> Any:
    from jsonschema import Draft202012Validator

    name = schema.replace("/", "_")
    wrapper = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(wrapper, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_bundled_schemas_give_the_spec_s_verdict_on_every_example() -> None:
    """Every valid example is valid, every invalid one invalid, under the bundled copy too."""
    from ibr_protocol.validation import schema_errors

    document = _bundle()
    checked = 0
    for path in sorted(EXAMPLES.rglob("*.json")):
        schema = "api/" + path.name.split(".")[0]
        instance = json.loads(path.read_text(encoding="utf-8"))
        assert _bundled_validator(document, schema).is_valid(instance), path.name
        checked += 1
    for path in sorted((SPEC / "examples" / "invalid").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        assert schema_errors(case["instance"], case["schema"]), path.name
        assert not _bundled_validator(document, case["schema"]).is_valid(case["instance"]), (
            path.name
        )
        checked += 1
    assert checked > 50


def test_local_refs_are_rewritten_and_recursion_is_cut(tmp_path: Path) -> None:
    """A recursive schema (as api/common#/$defs/json_value) would make dereferencing tools loop:
    the bundler cuts the ref where it recurses and keeps every other ref."""
    from ibr_protocol.bundle import bundle_openapi

    (tmp_path / "schemas" / "api").mkdir(parents=True)
    value = {
        "$id": "https://spec.ibr.invalid/1.0/schemas/api/value.schema.json",
        "$defs": {
            "json": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"$ref": "#/$defs/json"}}]
            },
            "text": {"type": "string"},
        },
        "properties": {
            "v": {"$ref": "#/$defs/json"},
            "t": {"$ref": "value.schema.json#/$defs/text"},
        },
    }
    (tmp_path / "schemas" / "api" / "value.schema.json").write_text(json.dumps(value))
    body = {
        "content": {"application/json": {"schema": {"$ref": "./schemas/api/value.schema.json"}}}
    }
    openapi = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {"post": {"requestBody": body, "responses": {"200": {"description": "ok"}}}}
        },
    }
    (tmp_path / "openapi.yaml").write_text(yaml.safe_dump(openapi))
    document = bundle_openapi(tmp_path)
    component = document["components"]["schemas"]["api_value"]
    assert component["properties"]["v"] == {"$ref": "#/components/schemas/api_value/$defs/json"}
    assert component["properties"]["t"] == {"$ref": "#/components/schemas/api_value/$defs/text"}
    items = component["$defs"]["json"]["anyOf"][1]["items"]
    assert items == {"x-ibr-recursion-cut": "#/components/schemas/api_value/$defs/json"}
    validate_openapi(document)
