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
