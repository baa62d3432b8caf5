"""The API as its OpenAPI schema describes it, for the generated tests: the
schema (drf-spectacular, as /api/schema/ serves it) and its operations."""

from __future__ import annotations

import functools
import json

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@functools.cache
def api_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


def operations(schema: dict) -> list[tuple[str, str]]:
    """(path, method) of every operation."""
    return [(path, method) for path, item in schema["paths"].items() for method in item if method in HTTP_METHODS]


# --- Walking request schemas ------------------------------------------------------------------
def resolve(schema: dict, node: dict) -> dict:
    """A property's schema with `$ref`, and drf-spectacular's one-item `allOf`/`oneOf` wrappers, followed."""
    while True:
        if "$ref" in node:
            node = {**schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]}
        elif len(node.get("allOf", [])) == 1:
            node = {**{k: v for k, v in node.items() if k != "allOf"}, **resolve(schema, node["allOf"][0])}
        elif "oneOf" in node:
            node = {**{k: v for k, v in node.items() if k != "oneOf"}, **resolve(schema, node["oneOf"][0])}
        else:
            return node


def request_body(schema: dict, operation: dict) -> tuple[str, dict] | None:
    """(media type, body schema) of an operation: JSON when it reads JSON, else its first type."""
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None
    media_type = "application/json" if "application/json" in content else next(iter(content))
    return media_type, resolve(schema, content[media_type]["schema"])


def fields(schema: dict, node: dict, prefix: tuple = ()) -> list[tuple[tuple, dict]]:
    """Every field of a body schema, nested objects and array items (as index 0) included."""
    found = []
    for name, sub in resolve(schema, node).get("properties", {}).items():
        sub = resolve(schema, sub)
        path = (*prefix, name)
        found.append((path, sub))
        if sub.get("type") == "object" or "properties" in sub:
            found += fields(schema, sub, path)
        elif sub.get("type") == "array" and "items" in sub:
            items = resolve(schema, sub["items"])
            found.append(((*path, 0), items))
            if items.get("type") == "object" or "properties" in items:
                found += fields(schema, items, (*path, 0))
    return found


def field_type(node: dict) -> str:
    if "enum" in node:
        return "enum"
    if node.get("type") == "string" and node.get("format") in ("uuid", "date", "date-time", "email", "uri"):
        return node["format"]
    return node.get("type") or ("object" if "properties" in node else "any")
