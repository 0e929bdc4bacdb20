"""The spec files hold together: OpenAPI, JSON Schemas, examples, requirements, workflows.

These tests read only files under spec/ (and, for the DCI cross-check, the DCI reference
files beside the repository). They need no running service.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource

from ibr_protocol import normalise_envelope

SPEC = Path(__file__).resolve().parents[1]
SCHEMAS = SPEC / "schemas"
EXAMPLES = SPEC / "examples"
DCI = SPEC.parent.parent / "shared" / "reference" / "dci"
DCI_IBR_OPENAPI = DCI / "openspp-spdci-compliance" / "spec" / "ibr_api_v1.0.0.yaml"
ID_BASE = "https://spec.ibr.invalid/1.0/schemas/"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


# --------------------------------------------------------------------------------- helpers


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


@cache
def openapi() -> dict[str, Any]:
    doc = _load(SPEC / "openapi.yaml")
    assert isinstance(doc, dict)
    return doc


def schema_files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (SCHEMAS / f).glob("*.schema.json"))


def schema_name(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.schema.json')}"


@cache
def registry() -> Registry:
    """Every schema under spec/schemas, registered by its `$id` (relative refs resolve)."""
    resources = []
    for path in sorted(SCHEMAS.glob("*/*.schema.json")):
        contents = _load(path)
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


def validator(name: str) -> Draft202012Validator:
    schema = _load(SCHEMAS / f"{name}.schema.json")
    return Draft202012Validator(
        schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def all_errors(errors: Iterator[ValidationError]) -> Iterator[ValidationError]:
    """Errors with the sub-errors of oneOf/anyOf flattened in."""
    for error in errors:
        yield error
        yield from all_errors(iter(error.context or []))


def pointer(error: ValidationError) -> str:
    return "".join(f"/{part}" for part in error.absolute_path)


def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (path, method, operation) of every path operation in openapi.yaml."""
    ops = {}
    for path, item in openapi()["paths"].items():
        for method in METHODS:
            if method in item:
                ops[item[method]["operationId"]] = (path, method, item[method])
    return ops


def refs(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every (`$ref` value, location) in a parsed document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value, where
            else:
                yield from refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from refs(value, f"{where}/{index}")


def resolve_pointer(doc: Any, fragment: str) -> Any:
    for raw in fragment.lstrip("/").split("/") if fragment.strip("/") else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


VALID = sorted(EXAMPLES.glob("valid/*/*.json"))
INVALID = sorted(EXAMPLES.glob("invalid/*.json"))
VARIANTS = sorted(EXAMPLES.glob("dci-variants/*.json"))
WORKFLOWS = sorted((SPEC / "workflows").glob("*.arazzo.yaml"))


# ---------------------------------------------------------------------------------- OpenAPI


def test_openapi_is_valid_openapi_3_1() -> None:
    """openapi-spec-validator accepts the document; otherwise tooling (generators,
    schemathesis, the conformance suite) cannot load it."""
    assert openapi()["openapi"].startswith("3.1.")
    validate_openapi(openapi(), base_uri=(SPEC / "openapi.yaml").as_uri())


def test_every_openapi_ref_resolves_on_disk() -> None:
    """Each `$ref` of openapi.yaml points at an existing file and JSON pointer; the validator
    does not follow file refs, so a renamed schema would otherwise go unnoticed."""
    broken = []
    for ref, where in refs(openapi()):
        target, _, fragment = ref.partition("#")
        try:
            doc = openapi() if not target else _load((SPEC / target).resolve())
            resolve_pointer(doc, fragment)
        except (OSError, KeyError, IndexError, ValueError) as exc:
            broken.append(f"{where}: {ref} ({exc!r})")
    assert not broken, "\n".join(broken)


def test_responses_reference_response_objects_not_schemas() -> None:
    """DCI's defect (a `default` response `$ref` to a schema) must not come back: every
    response `$ref` points into #/components/responses."""
    bad = []
    for op_id, (_, _, operation) in operations().items():
        for status, response in operation["responses"].items():
            ref = response.get("$ref")
            if ref is not None and not ref.startswith("#/components/responses/"):
                bad.append(f"{op_id} {status}: {ref}")
    assert not bad, bad


DCI_OPERATION_IDS = {
    "post_reg_search": "IBR",
    "post_reg_on-search": "SP-MIS",
    "post_reg_subscribe": "IBR",
    "post_reg_on-subscribe": "SP-MIS",
    "post_reg_notify": "SP-MIS",
    "post_reg_unsubscribe": "IBR",
    "post_reg_on-unsubscribe": "SP-MIS",
    "post_reg_txnstatus": "IBR",
    "post_reg_on-txnstatus": "SP-MIS",
    "post_reg_sync_search": "IBR",
    "post_reg_enrollments_updates": "IBR",
    "post_reg_enrolled": "IBR",
    "post_reg_sync_txnstatus": "IBR",
}


def test_all_thirteen_dci_operations_with_their_side() -> None:
    """The 13 DCI operations keep their operationIds (tooling sees them) and say which side
    implements them."""
    ops = operations()
    sides = {
        op_id: ops[op_id][2].get("x-implemented-by") for op_id in DCI_OPERATION_IDS if op_id in ops
    }
    assert sides == DCI_OPERATION_IDS


@pytest.mark.dci_reference
def test_paths_and_operation_ids_match_the_dci_file() -> None:
    """Every DCI path exists with the same operationId, so DCI-built clients find them."""
    if not DCI_IBR_OPENAPI.is_file():
        pytest.skip(f"DCI reference file not found at {DCI_IBR_OPENAPI}")
    dci = _load(DCI_IBR_OPENAPI)
    ours = {
        path: item["post"]["operationId"]
        for path, item in openapi()["paths"].items()
        if "post" in item
    }
    theirs = {path: item["post"]["operationId"] for path, item in dci["paths"].items()}
    assert {p: ours.get(p) for p in theirs} == theirs


def test_every_registry_operation_is_secured_and_defines_every_error() -> None:
    """Each /registry operation needs a bearer token (DCI forgot sync/enrolled) and
    documents 200 plus every error status of the profile."""
    expected = {"200", "400", "401", "403", "413", "415", "429", "500", "503"}
    for op_id, (path, _, operation) in operations().items():
        if not path.startswith("/registry/"):
            continue
        assert operation.get("security") == [{"Authorization": []}], op_id
        assert set(operation["responses"]) == expected, op_id


def test_async_ibr_operations_declare_their_callback() -> None:
    """search, subscribe, unsubscribe and txn/status deliver results by a callback to
    header.sender_uri carrying the matching on-* envelope."""
    expected = {
        "post_reg_search": "envelope_search_response",
        "post_reg_subscribe": "envelope_subscribe_response",
        "post_reg_unsubscribe": "envelope_unsubscribe_response",
        "post_reg_txnstatus": "envelope_txn_status_response",
    }
    ops = operations()
    for op_id, envelope in expected.items():
        (callback,) = ops[op_id][2]["callbacks"].values()
        (expression,) = callback
        assert expression == "{$request.body#/header/sender_uri}"
        schema = callback[expression]["post"]["requestBody"]["content"]["application/json"]
        assert schema["schema"]["$ref"].endswith(f"{envelope}.schema.json")
    notify = openapi()["webhooks"]["notify"]["post"]["requestBody"]["content"]
    assert notify["application/json"]["schema"]["$ref"].endswith(
        "envelope_notify_event_request.schema.json"
    )


def test_security_schemes_and_token_and_jwks_operations() -> None:
    """DCI's `securitySchemas` typo is fixed, and the token and JWKS operations exist."""
    components = openapi()["components"]
    assert "securitySchemas" not in components
    assert components["securitySchemes"]["Authorization"]["scheme"] == "bearer"
    ops = operations()
    assert ops["post_oauth2_client_token"][0] == "/oauth2/client/token"
    assert ops["get_jwks_json"][0] == "/.well-known/jwks.json"


def test_versions_agree() -> None:
    """info.version is spec/VERSION and x-dci-version names the DCI release."""
    version = (SPEC / "VERSION").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"1\.0\.0-ibr\.[0-9]+", version)
    assert openapi()["info"]["version"] == version
    assert openapi()["info"]["x-dci-version"] == "1.0.0"


# --------------------------------------------------------------------------------- schemas

OWN_SCHEMAS = schema_files("api", "messages")


@pytest.mark.parametrize("path", OWN_SCHEMAS, ids=schema_name)
def test_schema_passes_the_2020_12_meta_schema(path: Path) -> None:
    """A schema that breaks the meta-schema validates nothing reliably."""
    Draft202012Validator.check_schema(_load(path))


@pytest.mark.parametrize("path", OWN_SCHEMAS, ids=schema_name)
def test_schema_follows_the_conventions(path: Path) -> None:
    """$id, title and description as CONVENTIONS.md requires, and every `$ref` resolves
    (a dangling ref only fails when an instance reaches it)."""
    schema = _load(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{ID_BASE}{schema_name(path)}.schema.json"
    assert schema["title"]
    assert schema["description"]
    resolver = registry().resolver(base_uri=schema["$id"])
    for ref, where in refs(schema):
        target = resolver.lookup(ref) if not ref.startswith("#") else None
        assert target is None or target.contents is not None, f"{where}: {ref}"


def test_enrolment_update_item_mirrors_beneficiary() -> None:
    """messages/enrolment_update_item copies data/beneficiary's properties and rules by
    reference (beneficiary is closed); a property added there must appear here too."""
    item = _load(SCHEMAS / "messages" / "enrolment_update_item.schema.json")
    beneficiary = _load(SCHEMAS / "data" / "beneficiary.schema.json")
    assert set(item["properties"]) == set(beneficiary["properties"]) | {"reference_id"}
    assert item["required"] == beneficiary["required"]
    assert item["allOf"] == beneficiary.get("allOf", [])


# -------------------------------------------------------------------------------- examples


def test_every_operation_has_valid_examples() -> None:
    """Each operation of openapi.yaml has a folder of canonical examples."""
    folders = {p.name for p in (EXAMPLES / "valid").iterdir() if p.is_dir()}
    assert set(operations()) <= folders


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_valid_example_validates(path: Path) -> None:
    """The canonical examples are what implementers copy; each must pass its schema
    (api/<file stem before the first dot>)."""
    name = "api/" + path.name.split(".")[0]
    errors = [f"{pointer(e)}: {e.message}" for e in validator(name).iter_errors(_load(path))]
    assert not errors, "\n".join(errors)


def test_there_are_at_least_twenty_invalid_examples() -> None:
    """The brief asks for a broad set of refusals."""
    assert len(INVALID) >= 20


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example_is_rejected_for_its_reason(path: Path) -> None:
    """Each invalid case fails with the stated keyword at the stated place, so it proves the
    rule it names and not some other accident."""
    case = _load(path)
    assert set(case) == {"schema", "reason", "expect", "instance"}
    errors = list(all_errors(validator(case["schema"]).iter_errors(case["instance"])))
    assert errors, f"{path.name} is accepted by {case['schema']}"
    found = {(pointer(e), str(e.validator)) for e in errors}
    expected = (case["expect"]["path"], case["expect"]["keyword"])
    assert expected in found, f"{path.name}: expected {expected}, got {sorted(found)}"


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.stem)
def test_dci_variant_is_not_canonical(path: Path) -> None:
    """A DCI-variant example fails the canonical schema; otherwise it shows no variant and
    the normaliser tests built on it prove nothing."""
    case = _load(path)
    assert case["variants"], path.name
    assert not validator(case["schema"]).is_valid(case["instance"])


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.stem)
def test_dci_variant_normalises_to_canonical(path: Path) -> None:
    """After ibr_protocol.normalise_envelope the variant validates (the compatibility
    profile of CONVENTIONS.md)."""
    case = _load(path)
    normalised = normalise_envelope(case["instance"])
    normalised.pop("signature", None)  # the DCI example string means "no signature"
    errors = [
        f"{pointer(e)}: {e.message}" for e in validator(case["schema"]).iter_errors(normalised)
    ]
    assert not errors, "\n".join(errors)


# ---------------------------------------------------------------------------- requirements


@cache
def requirements() -> list[dict[str, Any]]:
    doc = _load(SPEC / "requirements.yaml")
    assert isinstance(doc["requirements"], list)
    return doc["requirements"]


def test_requirement_ids_are_unique_and_well_formed() -> None:
    """Conformance results point at these ids; a duplicate or malformed id breaks them."""
    ids = [r["id"] for r in requirements()]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    for req in requirements():
        assert re.fullmatch(r"IBR-[A-Z]+-[0-9]{3}", req["id"]), req["id"]
        assert req["level"] in {"MUST", "SHOULD", "MAY"}, req["id"]
        assert req["side"] in {"IBR", "SP-MIS", "both"}, req["id"]
        assert req["source"] in {"DCI", "ours"}, req["id"]
        assert req["text"].strip(), req["id"]
    assert 60 <= len(ids) <= 120


def test_requirements_name_real_operations_and_schemas() -> None:
    """Every operation and schema a requirement names exists, and every operation is the
    subject of at least one requirement."""
    ops = set(operations()) | {"webhook:notify"}
    covered: set[str] = set()
    for req in requirements():
        for op_id in req.get("operations", []):
            assert op_id in ops, f"{req['id']}: unknown operation {op_id}"
            covered.add(op_id)
        for name in req.get("schemas", []):
            assert (SCHEMAS / f"{name}.schema.json").is_file(), f"{req['id']}: {name}"
    assert set(operations()) <= covered, set(operations()) - covered


def test_every_security_area_has_requirements() -> None:
    """The security profile's rules are each backed by catalogue entries."""
    areas = {r["id"].split("-")[1] for r in requirements()}
    assert {"SEC", "SIG", "ENC", "REPLAY"} <= areas


# ------------------------------------------------------------------------------- workflows


def test_standard_processes_have_workflows() -> None:
    """PRS.IBR.01-03, async search and txn status each have an Arazzo document."""
    assert len(WORKFLOWS) >= 5


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_is_valid_arazzo_1_0(path: Path) -> None:
    """Arazzo tooling rejects documents missing required fields."""
    schema = _load(SPEC / "workflows" / "arazzo-1.0.schema.json")
    errors = [
        f"{pointer(e)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(_load(path))
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_steps_name_real_operations(path: Path) -> None:
    """A step naming a missing operation cannot be run by the conformance suite."""
    doc = _load(path)
    sources = {s["name"] for s in doc["sourceDescriptions"]}
    ops = operations()
    for workflow in doc["workflows"]:
        for step in workflow["steps"]:
            if "operationId" in step:
                op_id = step["operationId"]
                if op_id.startswith("$sourceDescriptions."):
                    source, _, op_id = op_id.removeprefix("$sourceDescriptions.").partition(".")
                    assert source in sources
                assert op_id in ops, f"{step['stepId']}: {op_id}"
            elif "operationPath" in step:
                match = re.fullmatch(
                    r"\{\$sourceDescriptions\.(\w+)\.url\}#(.+)", step["operationPath"]
                )
                assert match, step["operationPath"]
                assert match.group(1) in sources, step["operationPath"]
                resolve_pointer(openapi(), match.group(2))
            else:
                assert "workflowId" in step, step["stepId"]


# ------------------------------------------------------------------- review: readability


API_CODE_LISTS = [
    p
    for p in schema_files("api")
    if (options := _load(p).get("oneOf")) and all("const" in o for o in options)
]


@pytest.mark.parametrize("path", API_CODE_LISTS, ids=schema_name)
def test_api_code_list_entry_has_label_and_description(path: Path) -> None:
    """Actions, error codes, reason codes and the query attributes are code lists too; a
    reviewer (and a UI) needs a label and a meaning for each code, as in schemas/codes/."""
    missing = [
        option["const"]
        for option in _load(path)["oneOf"]
        if not option.get("title") or not option.get("description")
    ]
    assert not missing, f"{schema_name(path)}: no title or description for {missing}"


# --------------------------------------------------- review: markdown <-> requirements.yaml

REQUIREMENT_ID = re.compile(r"\bIBR-[A-Z]+-[0-9]{3}\b")
DEVIATION_ID = re.compile(r"\bDEV-[A-Z]+-[0-9]{2}\b")
SECURITY_AREAS = ("SEC", "SIG", "ENC", "REPLAY")


def bullets(markdown: str, first_heading: str, last_heading: str | None = None) -> list[str]:
    """The top-level bullets between two `## ` headings, each with its indented continuation."""
    items: list[str] = []
    inside = False
    for line in markdown.splitlines():
        if line.startswith("## "):
            if line.startswith(first_heading):
                inside = True
            elif inside and last_heading is not None and line.startswith(last_heading):
                break
            items.append("")  # a heading ends the previous bullet
            continue
        if not inside:
            continue
        if line.startswith("- "):
            items.append(line)
        elif items and items[-1] and (line.startswith("  ") or not line.strip()):
            items[-1] += "\n" + line
        elif line.strip():
            items.append("")  # a paragraph ends the previous bullet
    return [item.strip() for item in items if item.strip()]


def test_every_security_profile_rule_cites_a_requirement() -> None:
    """If this fails, a rule of security-profile.md has no requirement id, so the conformance
    suite cannot test it and a certificate can be issued without it."""
    text = (SPEC / "security-profile.md").read_text(encoding="utf-8")
    rules = bullets(text, "## 1.")
    assert len(rules) >= 25
    uncited = [rule.splitlines()[0] for rule in rules if not REQUIREMENT_ID.search(rule)]
    assert not uncited, uncited


def test_every_security_requirement_is_explained_in_the_profile() -> None:
    """If this fails, requirements.yaml holds a security rule that security-profile.md does not
    explain, so implementers read one rule in the catalogue and another (or none) in the text."""
    cited = set(REQUIREMENT_ID.findall((SPEC / "security-profile.md").read_text(encoding="utf-8")))
    security = {r["id"] for r in requirements() if r["id"].split("-")[1] in SECURITY_AREAS}
    assert security - cited == set()


def test_every_canonical_form_rule_cites_a_requirement() -> None:
    """If this fails, a rule of the canonical wire form (CONVENTIONS.md) has no requirement id
    and no conformance result can point at it."""
    text = (SPEC / "CONVENTIONS.md").read_text(encoding="utf-8")
    rules = bullets(text, "## Canonical form", "## Compatibility profile")
    assert len(rules) >= 10
    uncited = [rule.splitlines()[0] for rule in rules if not REQUIREMENT_ID.search(rule)]
    assert not uncited, uncited


REVIEWED_TEXTS = [*sorted(SPEC.glob("*.md")), SPEC.parent / "docs" / "reviewing-the-spec.md"]


@pytest.mark.parametrize("path", REVIEWED_TEXTS, ids=lambda p: p.name)
def test_cited_requirement_and_deviation_ids_exist(path: Path) -> None:
    """A cited id that the catalogue or the deviation log does not hold leaves a reader
    stranded (e.g. after a typo or a withdrawn row)."""
    if not path.is_file():
        pytest.skip(f"{path} not written yet")
    text = path.read_text(encoding="utf-8")
    known_requirements = {r["id"] for r in requirements()}
    deviations = (SPEC / "DEVIATIONS.md").read_text(encoding="utf-8")
    known_deviations = set(re.findall(r"^\| (DEV-[A-Z]+-[0-9]{2}) \|", deviations, re.MULTILINE))
    assert set(REQUIREMENT_ID.findall(text)) - known_requirements == set()
    assert set(DEVIATION_ID.findall(text)) - known_deviations == set()
