"""Schemathesis against our own OpenAPI schema, with a valid admin key so every path is reached:
no 5xx, and every response conforms to the schema."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import ADMIN_KEY, create_profile

EXAMPLES = int(os.environ.get("MATCHMAKER_SCHEMATHESIS_EXAMPLES", "25"))


def fuzz(operation, tried: dict[str, int]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        tried[operation.label] = tried.get(operation.label, 0) + 1
        case.call_and_validate(headers={"X-API-Key": ADMIN_KEY})

    check()


def test_api_conforms_and_never_fails(client):
    # Some real data so that generated ids sometimes hit existing rows.
    create_profile(client, country="IN")
    create_profile(client, country="KR")
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzz(operation, tried)
    assert len(tried) >= 14, tried
    print(f"schemathesis: {sum(tried.values())} examples over {len(tried)} operations")
