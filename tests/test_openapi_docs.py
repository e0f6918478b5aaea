"""The OpenAPI document declares how keys travel."""

from __future__ import annotations

from tests.reliability.test_role_matrix import MATRIX


def test_openapi_declares_the_api_key_scheme_on_every_operation_that_takes_a_key(client):
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": doc["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    seen = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            anonymous = MATRIX[(method.upper(), path)][0]
            if anonymous == 401:  # a key is required
                assert op.get("security") == [{"ApiKey": []}], (method, path)
                seen += 1
            elif path.startswith("/v1/profiles"):  # anyone; a key adds to what is shown
                assert op.get("security") == [{"ApiKey": []}, {}], (method, path)
            else:  # no key involved at all
                assert "security" not in op, (method, path)
    assert seen >= 9
