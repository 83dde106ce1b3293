"""``/openapi.json``: the committed description, valid OpenAPI 3.1, naming every route,
and a live registry that keeps to it under generated requests."""

from __future__ import annotations

import json
import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from package_registry.web import router
from package_registry.web.routes.info import OPENAPI
from tests.conftest import ROOT

COMMITTED = ROOT / "docs" / "openapi.json"
DOCUMENT = json.loads(OPENAPI)
#: Answers that must keep to the description: no 5xx, and status, media type, declared
#: headers and body all as described.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_served_description_is_the_committed_one(examples_server):
    r = examples_server.get("/openapi.json")
    assert r.status_code == 200
    assert r.content == OPENAPI == COMMITTED.read_bytes()
    assert r.headers["content-type"] == "application/json"
    assert r.headers.get_list("cache-control") == ["max-age=600", "public"]
    assert r.headers["access-control-allow-origin"] == "*"


def test_description_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)


def _openapi_path(template: str) -> str:
    """A route template as an OpenAPI path: no regexes, the static file named ``file``."""
    plain = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", template)
    return plain.replace("/{name}", "/{file}")


def test_every_route_is_described():
    described = set(DOCUMENT["paths"])
    routes = {_openapi_path(r.template) for r in router.ROUTES}
    assert routes == described


def test_registry_keeps_to_its_description(examples_server):
    """Generated requests to every operation, with parameters within their schemas and
    outside them (no 5xx, nothing undescribed)."""
    loaded = schemathesis.openapi.from_dict(DOCUMENT)
    loaded.config.update(base_url=examples_server.base_url)
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) == len(DOCUMENT["paths"])
    for operation in operations:
        modes = [operation.as_strategy(mode) for mode in schemathesis.GenerationMode]

        @given(case=st.one_of(modes))
        @settings(
            max_examples=20,
            deadline=2000,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        def call(case: schemathesis.Case) -> None:
            # Redirects are answers to check, not to follow.
            case.call_and_validate(checks=CHECKS, timeout=10, allow_redirects=False)

        call()
