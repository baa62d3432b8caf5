"""Every list in the OpenAPI schema documents the shape the API returns:
`{results, next, previous}` — never a bare array."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def ok_schema(schema: dict, operation: dict) -> dict | None:
    response = operation.get("responses", {}).get("200", {})
    body = response.get("content", {}).get("application/json", {}).get("schema")
    return resolve(schema, body) if body else None


def test_no_response_is_a_bare_array(schema):
    bare = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema)
        if (body := ok_schema(schema, operation)) and body.get("type") == "array"
    ]
    assert bare == []


def test_every_paginated_list_documents_results_next_and_previous(schema):
    lists = []
    for path, method, operation in operations(schema):
        names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        is_list = operation["operationId"].endswith("_list") or names & {"page_size", "cursor"}
        if method != "get" or not is_list:
            continue
        body = ok_schema(schema, operation)
        lists.append(path)
        variants = [resolve(schema, v) for v in body.get("oneOf", [body])]
        # a list endpoint may answer one object instead (e.g. ?customer_id= on the credit overview)
        paged = [v for v in variants if "results" in v.get("properties", {})]
        assert paged, f"GET {path} does not document results"
        for variant in paged:
            assert {"results", "next", "previous"} <= set(variant["properties"]), path
            assert resolve(schema, variant["properties"]["results"]).get("type") == "array", path
    assert len(lists) >= 10  # the walk found the lists
