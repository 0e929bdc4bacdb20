"""The spec reference pages, rendered from spec/ when the site is built (so they cannot drift).

`pages()` returns {site path: markdown}; `hooks.py` hands them to mkdocs. Every operation of
`spec/openapi.yaml` (request, responses, callbacks, examples), every schema file, every code list,
every requirement with the conformance checks that test it, the workflows, the security profile,
the conventions and the deviations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "spec"
SCHEMA_GROUPS = {
    "api": "Envelopes, headers, acknowledgements, errors, security and query schemas",
    "messages": "The `message` of each request and response",
    "data": "Data elements",
    "codes": "Code lists",
}
DCI_PATH_PREFIX = "/registry/"  # DCI's operations; anything else (token, JWKS, ...) is ours
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def served_by(self) -> str:
        return str(self.spec.get("x-implemented-by", ""))

    @property
    def is_extension(self) -> bool:
        return not self.path.startswith(DCI_PATH_PREFIX)


def load_openapi() -> dict[str, Any]:
    return dict(yaml.safe_load((SPEC / "openapi.yaml").read_text(encoding="utf-8")))


def operations(openapi: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in openapi["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                found.append(Operation(op["operationId"], method.upper(), path, op))
    return found


def schema_key(ref: str, base: str = "") -> str | None:
    """`./schemas/api/ack.schema.json` -> `api/ack`; relative refs resolve against `base`."""
    file = ref.split("#", 1)[0]
    if not file.endswith(".schema.json"):
        return None
    parts = [p for p in file.split("/") if p not in (".", "", "schemas")]
    name = parts[-1].removesuffix(".schema.json")
    group = parts[-2] if len(parts) > 1 and parts[-2] != ".." else base
    return f"{group}/{name}" if group else None


def anchor(key: str) -> str:
    return key.replace("/", "-").replace("_", "-")


def schema_link(key: str, from_depth: int) -> str:
    group, _ = key.split("/", 1)
    up = "../" * from_depth
    return f"[`{key}`]({up}schemas/{group}.md#{anchor(key)})"


def schemas() -> dict[str, dict[str, Any]]:
    """Every schema file, keyed `group/name`."""
    found = {}
    for group in SCHEMA_GROUPS:
        for path in sorted((SPEC / "schemas" / group).glob("*.schema.json")):
            key = f"{group}/{path.name.removesuffix('.schema.json')}"
            found[key] = json.loads(path.read_text(encoding="utf-8"))
    return found


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def _resolve(openapi: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    if ref.startswith("#/"):
        target: Any = openapi
        for part in ref[2:].split("/"):
            target = target[part]
        return dict(target)
    return node


def _json_block(data: Any, title: str) -> list[str]:
    body = json.dumps(data, indent=2, ensure_ascii=False)
    indented = ["    " + line for line in body.splitlines()]
    return [f'??? example "{title}"', "", "    ```json", *indented, "    ```", ""]


def _type_of(node: dict[str, Any], group: str, depth: int) -> str:
    if "$ref" in node:
        key = schema_key(node["$ref"], group)
        fragment = node["$ref"].split("#", 1)[1] if "#" in node["$ref"] else ""
        if key:
            link = schema_link(key, depth)
            return f"{link} `#{fragment}`" if fragment else link
        return f"`{node['$ref']}`"
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return "array of " + _type_of(node["items"], group, depth)
    for combinator in ("oneOf", "anyOf"):
        if combinator in node and all(isinstance(n, dict) for n in node[combinator]):
            if all("const" in n for n in node[combinator]):
                return "one of " + ", ".join(f"`{n['const']}`" for n in node[combinator])
            return " or ".join(_type_of(n, group, depth) for n in node[combinator])
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type", "any")
    return "/".join(kind) if isinstance(kind, list) else str(kind)


def _properties_table(schema: dict[str, Any], group: str, depth: int) -> list[str]:
    required = set(schema.get("required", []))
    lines = ["| field | type | required | meaning |", "| --- | --- | --- | --- |"]
    for name, node in schema.get("properties", {}).items():
        node = node if isinstance(node, dict) else {}
        kind = _type_of(node, group, depth)
        lines.append(
            f"| `{name}` | {kind} | {'yes' if name in required else ''} | "
            f"{_one_line(node.get('description', ''))} |"
        )
    return [*lines, ""]


def _codes_table(schema: dict[str, Any]) -> list[str]:
    lines = ["| code | label | meaning | also accepted |", "| --- | --- | --- | --- |"]
    for entry in schema["oneOf"]:
        aliases = ", ".join(f"`{a}`" for a in entry.get("x-aliases", []))
        lines.append(
            f"| `{entry['const']}` | {_one_line(entry.get('title'))} | "
            f"{_one_line(entry.get('description'))} | {aliases} |"
        )
    return [*lines, ""]


def render_schema(key: str, schema: dict[str, Any]) -> list[str]:
    group = key.split("/", 1)[0]
    lines = [f"## {schema.get('title', key)} {{#{anchor(key)}}}", ""]
    lines += [f"`{key}` (`spec/schemas/{key}.schema.json`)", ""]
    lines += [_one_line(schema.get("description", "")), ""]
    if isinstance(schema.get("oneOf"), list) and all("const" in e for e in schema["oneOf"]):
        lines += _codes_table(schema)
    elif "properties" in schema:
        lines += _properties_table(schema, group, 1)
    elif "$defs" in schema:
        lines += ["| definition | type | meaning |", "| --- | --- | --- |"]
        for name, node in schema["$defs"].items():
            lines.append(
                f"| `#/$defs/{name}` | {_type_of(node, group, 1)} | "
                f"{_one_line(node.get('description', ''))} |"
            )
        lines.append("")
    else:
        lines += [f"Type: {_type_of(schema, group, 1)}", ""]
    return lines + _json_block(schema, f"{key} (JSON Schema)")


def schema_page(group: str, all_schemas: dict[str, dict[str, Any]]) -> str:
    lines = [f"# {SCHEMA_GROUPS[group]}", ""]
    lines += [f"Every schema of `spec/schemas/{group}/` (JSON Schema 2020-12), in file order.", ""]
    for key, schema in all_schemas.items():
        if key.startswith(group + "/"):
            lines += render_schema(key, schema)
    return "\n".join(lines)


def _examples(operation_id: str) -> Iterator[Path]:
    folder = SPEC / "examples" / "valid" / operation_id
    yield from sorted(folder.glob("*.json")) if folder.is_dir() else ()


def _body_lines(openapi: dict[str, Any], body: dict[str, Any], depth: int) -> list[str]:
    lines = []
    for media, content in _resolve(openapi, body).get("content", {}).items():
        ref = content.get("schema", {}).get("$ref", "")
        key = schema_key(ref)
        shown = schema_link(key, depth) if key else f"`{ref or 'no schema'}`"
        lines.append(f"- `{media}`: {shown}")
    return lines


def _responses(openapi: dict[str, Any], responses: dict[str, Any], depth: int) -> list[str]:
    lines = ["| status | meaning | body |", "| --- | --- | --- |"]
    for status, response in responses.items():
        resolved = _resolve(openapi, response)
        bodies = "<br>".join(b.removeprefix("- ") for b in _body_lines(openapi, resolved, depth))
        lines.append(f"| {status} | {_one_line(resolved.get('description'))} | {bodies} |")
    return [*lines, ""]


def operation_page(openapi: dict[str, Any], op: Operation) -> str:
    spec = op.spec
    lines = [f"# {op.operation_id}", "", f"**{_one_line(spec.get('summary'))}**", ""]
    lines += ["| | |", "| --- | --- |"]
    lines += [f"| request | `{op.method} {op.path}` (also under `/ibr`) |"]
    lines += [f"| served by | {op.served_by} |"]
    lines += [f"| OAuth2 scope | `{spec.get('x-oauth2-scope', 'none')}` |"]
    lines += [f"| kind | {'extension (not a DCI operation)' if op.is_extension else 'DCI'} |", ""]
    lines += [str(spec.get("description", "")).strip(), ""]
    if "requestBody" in spec:
        lines += ["## Request", "", *_body_lines(openapi, spec["requestBody"], 1), ""]
    lines += ["## Responses", "", *_responses(openapi, spec.get("responses", {}), 1)]
    for name, callback in spec.get("callbacks", {}).items():
        for expression, item in callback.items():
            for method, cb in item.items():
                lines += [f"## Callback `{name}`", ""]
                lines += [f"`{method.upper()} {expression}` - {_one_line(cb.get('summary'))}", ""]
                lines += [_one_line(cb.get("description")), ""]
                lines += [*_body_lines(openapi, cb.get("requestBody", {}), 1), ""]
                lines += _responses(openapi, cb.get("responses", {}), 1)
    examples = list(_examples(op.operation_id))
    if examples:
        lines += ["## Examples", "", f"From `spec/examples/valid/{op.operation_id}/`.", ""]
        for path in examples:
            lines += _json_block(json.loads(path.read_text(encoding="utf-8")), path.name)
    return "\n".join(lines)


def webhook_page(openapi: dict[str, Any]) -> str:
    lines = ["# Webhooks", ""]
    for name, item in openapi.get("webhooks", {}).items():
        for method, hook in item.items():
            lines += [
                f"## `{name}` ({method.upper()})",
                "",
                f"**{_one_line(hook.get('summary'))}**",
            ]
            lines += ["", _one_line(hook.get("description")), ""]
            lines += [*_body_lines(openapi, hook.get("requestBody", {}), 1), ""]
            lines += _responses(openapi, hook.get("responses", {}), 1)
    return "\n".join(lines)


def _kind(op: Operation) -> str:
    if op.spec.get("callbacks"):
        return "async, callback " + ", ".join(op.spec["callbacks"])
    if "/sync/" in op.path:
        return "sync"
    if op.served_by == "SP-MIS":
        return "callback / event receiver"
    return "extension"


def index_page(openapi: dict[str, Any], ops: list[Operation]) -> str:
    version = (SPEC / "VERSION").read_text(encoding="utf-8").strip()
    dci = [op for op in ops if not op.is_extension]
    lines = [
        "# Spec reference",
        "",
        f"Spec version **{version}** (DCI IBR v1.0.0, our revision). These pages are rendered from",
        "`spec/` each time the site is built; the files in `spec/` are the source.",
        "",
        f"## The {len(dci)} DCI operations",
        "",
        "| operationId | request | served by | kind | scope |",
        "| --- | --- | --- | --- | --- |",
    ]
    for op in dci:
        lines.append(
            f"| [{op.operation_id}](operations/{op.operation_id}.md) | `{op.method} {op.path}` "
            f"| {op.served_by} | {_kind(op)} | `{op.spec.get('x-oauth2-scope', '')}` |"
        )
    lines += ["", "## Extension operations", "", "| operationId | request | served by |"]
    lines += ["| --- | --- | --- |"]
    for op in ops:
        if op.is_extension:
            lines.append(
                f"| [{op.operation_id}](operations/{op.operation_id}.md) | "
                f"`{op.method} {op.path}` | {op.served_by} |"
            )
    lines += [
        "",
        "Also: the [notify webhook](operations/webhooks.md); the [schemas](schemas/api.md), "
        "[messages](schemas/messages.md), [data elements](schemas/data.md) and "
        "[code lists](schemas/codes.md); the [requirements](requirements.md) with the checks "
        "that test them; the [workflows](workflows.md); the "
        "[security profile](security-profile.md); the [conventions](conventions.md); the "
        "[deviations from DCI](deviations.md); the [spec changelog](changelog.md).",
        "",
    ]
    return "\n".join(lines)


def checks_by_requirement() -> dict[str, list[str]]:
    """Requirement id -> the conformance checks that verify it (`profile: check`)."""
    import ibr_conformance.checks  # noqa: F401 - registers the checks
    from ibr_conformance.registry import REGISTRY

    found: dict[str, list[str]] = {}
    for check in REGISTRY:
        for rid in check.requirements:
            found.setdefault(rid, []).append(f"{check.profile.value}: `{check.name}`")
    return found


def requirements_page() -> str:
    from ibr_conformance.manual import NOT_AUTOMATED

    catalogue = yaml.safe_load((SPEC / "requirements.yaml").read_text(encoding="utf-8"))
    checks = checks_by_requirement()
    lines = [
        "# Requirements",
        "",
        _one_line(catalogue.get("description")),
        "",
        "The last column is what the conformance suite (`ibr-conformance`) runs to test each "
        "requirement (`ibr-conformance list-checks` prints the same mapping); **manual** and "
        "**not-testable** are decided by an assessor, for the reason given.",
        "",
        "| id | level | side | requirement | tested by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for req in catalogue["requirements"]:
        rid = req["id"]
        tested = "<br>".join(checks.get(rid, []))
        if rid in NOT_AUTOMATED:
            manual = NOT_AUTOMATED[rid]
            tested = (tested + "<br>" if tested else "") + (
                f"**{manual.classification.value}**: {_one_line(manual.reason)}"
            )
        lines.append(
            f'| <span id="{rid}">{rid}</span> | {req["level"]} | {req.get("side", "")} | '
            f"{_one_line(req['text'])} | {tested or 'no check'} |"
        )
    return "\n".join([*lines, ""])


def workflows_page() -> str:
    lines = ["# Workflows", "", "The standard processes as Arazzo 1.0 (`spec/workflows/`).", ""]
    for path in sorted((SPEC / "workflows").glob("*.arazzo.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        lines += [f"## {doc['info']['title']}", "", f"`spec/workflows/{path.name}`", ""]
        lines += [_one_line(doc["info"].get("summary")), ""]
        for flow in doc.get("workflows", []):
            lines += [f"### `{flow['workflowId']}`: {_one_line(flow.get('summary'))}", ""]
            lines += [_one_line(flow.get("description")), ""]
            lines += ["| step | actor | operation | what |", "| --- | --- | --- | --- |"]
            for step in flow.get("steps", []):
                target = step.get("operationId") or step.get("operationPath", "")
                target = target.split("#", 1)[-1].replace("~1", "/")
                lines.append(
                    f"| `{step['stepId']}` | {step.get('x-actor', '')} | `{target}` | "
                    f"{_one_line(step.get('description'))} |"
                )
            lines.append("")
    return "\n".join(lines)


def copied_page(name: str, title_note: str) -> str:
    text = (SPEC / name).read_text(encoding="utf-8")
    return f"!!! note\n    {title_note} (`spec/{name}`, copied when the site is built).\n\n{text}"


def pages() -> dict[str, str]:
    openapi = load_openapi()
    ops = operations(openapi)
    all_schemas = schemas()
    found = {"reference/index.md": index_page(openapi, ops)}
    for op in ops:
        found[f"reference/operations/{op.operation_id}.md"] = operation_page(openapi, op)
    found["reference/operations/webhooks.md"] = webhook_page(openapi)
    for group in SCHEMA_GROUPS:
        found[f"reference/schemas/{group}.md"] = schema_page(group, all_schemas)
    found["reference/requirements.md"] = requirements_page()
    found["reference/workflows.md"] = workflows_page()
    found["reference/security-profile.md"] = copied_page("security-profile.md", "The profile")
    found["reference/conventions.md"] = copied_page("CONVENTIONS.md", "The conventions")
    found["reference/deviations.md"] = copied_page("DEVIATIONS.md", "The deviation log")
    found["reference/changelog.md"] = copied_page("CHANGELOG.md", "The spec's history")
    return found


def nav() -> list[Any]:
    """The reference's part of the site navigation."""
    ops = operations(load_openapi())
    return [
        {"Overview": "reference/index.md"},
        {
            "Operations": [
                {op.operation_id: f"reference/operations/{op.operation_id}.md"} for op in ops
            ]
            + [{"Webhooks": "reference/operations/webhooks.md"}]
        },
        {
            "Schemas": [
                {title.split(",")[0]: f"reference/schemas/{group}.md"}
                for group, title in SCHEMA_GROUPS.items()
            ]
        },
        {"Requirements": "reference/requirements.md"},
        {"Workflows": "reference/workflows.md"},
        {"Security profile": "reference/security-profile.md"},
        {"Conventions": "reference/conventions.md"},
        {"Deviations from DCI": "reference/deviations.md"},
        {"Spec changelog": "reference/changelog.md"},
    ]
