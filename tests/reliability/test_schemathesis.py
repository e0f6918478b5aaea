"""Schemathesis against our own OpenAPI schema, with a valid admin key so every path is reached:
no 5xx, and every response conforms to the schema. Runs on the test database of the session:
SQLite, or PostgreSQL with MATCHMAKER_TEST_DATABASE_URL (``make test`` in CI runs both)."""

from __future__ import annotations

import os
import uuid

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.conftest import ADMIN_KEY, create_profile

EXAMPLES = int(os.environ.get("MATCHMAKER_SCHEMATHESIS_EXAMPLES", "25"))


def fuzz(operation, tried: dict[str, int], mode=GenerationMode.POSITIVE, **fixed) -> None:
    @given(case=operation.as_strategy(mode, **fixed))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        tried[operation.label] = tried.get(operation.label, 0) + 1
        if case.headers and "Idempotency-Key" in case.headers:
            # A new key for each generated request, as the header's contract asks: the same key
            # with another body is 422 by design (tests/idempotency covers replay and reuse),
            # and generated keys repeat while the bodies differ.
            case.headers["Idempotency-Key"] = str(uuid.uuid4())
        case.call_and_validate(headers={"X-API-Key": ADMIN_KEY})

    check()


def test_api_conforms_and_never_fails(client):
    # Some real data so that generated ids sometimes hit existing rows.
    create_profile(client, country="IN")
    create_profile(client, country="KR")
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    # Generated strings may hold NUL and any other code point UTF-8 can carry, in paths, query
    # strings and bodies alike (PostgreSQL refuses NUL: it found 500s there).
    schema.config.generation.update(allow_x00=True, codec="utf-8")
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzz(operation, tried)
        # Twenty-five draws rarely put NUL in a path: every id in a path gets one here.
        names = [p.name for p in operation.path_parameters]
        if names:
            fuzz(operation, tried, path_parameters={n: "pr_\x00x\x1b" for n in names})
    assert len(tried) >= 14, tried
    print(f"schemathesis: {sum(tried.values())} examples over {len(tried)} operations")
