"""Schemathesis over /api/schema/ (issue 10, item 6a): every operation, called
in-process through the WSGI app with an owner's token, with data generated
from the schema — valid, and (where anything can be made invalid) invalid —
answers without a 5xx and as its schema says: a documented status code, the
documented content type and a body matching the documented schema.

Bounded: `EXAMPLES` cases per operation and mode, derandomized so that every
run sends the same requests. The path carries real ids of the owner's objects
(so generated bodies reach the services, not a 404), Stripe is the local fake.
"""

from __future__ import annotations

import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from deelrx.tests.hardening.conftest import REAL_ID_NAMES
from deelrx.tests.hardening.corpus import api_schema, operations

pytestmark = pytest.mark.django_db

EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _can_be_made_invalid(path: str, method: str) -> bool:
    """Negative cases need a generated part: a body, or a parameter the test does not fix."""
    operation = api_schema()["paths"][path][method]
    parameters = [p for p in operation.get("parameters", []) if not (p["in"] == "path" and p["name"] in REAL_ID_NAMES)]
    return bool(parameters) or "requestBody" in operation


def _checks(path: str, method: str) -> list:
    """A file download answers in the file's own type, which its schema can only call
    application/octet-stream: its content type is not checked."""
    ok = api_schema()["paths"][path][method]["responses"].get("200", {})
    if list(ok.get("content", {})) == ["application/octet-stream"]:
        return [check for check in CHECKS if check is not content_type_conformance]
    return CHECKS


CASES = [
    pytest.param(path, method, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, method in operations(api_schema())
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _can_be_made_invalid(path, method)
]


@pytest.fixture(scope="module")
def schema():
    return schemathesis.openapi.from_dict(copy.deepcopy(api_schema()))  # the corpus reads the same dict


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_schemathesis_finds_no_5xx_and_no_undocumented_answer(
    schema, wsgi_app, owner_token, real_ids, stripe_fake, path, method, mode
):
    operation = schema[path][method]
    fixed = {name: value for name, value in real_ids.items() if f"{{{name}}}" in path}
    headers = {"Authorization": f"Token {owner_token}"}
    checks = _checks(path, method)

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(app=wsgi_app, headers=headers)
        case.validate_response(response, checks=checks, headers=headers)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip("no part of this request can be made invalid (every generated value fits its schema)")
