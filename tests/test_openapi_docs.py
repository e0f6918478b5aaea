"""The OpenAPI document declares how keys travel, and /docs works without internet access."""

from __future__ import annotations

import re

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


def _assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""", html)


def test_docs_load_every_asset_from_the_service_itself(client):
    for page, kinds in (("/docs", {"javascript", "css"}), ("/redoc", {"javascript"})):
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert not re.search(r"https?://", r.text), r.text  # no CDN, no web fonts
        assets = _assets(r.text)
        assert "/openapi.json" in assets
        served = set()
        for url in assets:
            assert url.startswith("/"), url
            got = client.get(url)
            assert got.status_code == 200 and got.content, url
            served |= {k for k in kinds if k in got.headers["content-type"]}
        assert served == kinds, (page, assets)


def test_operation_ids_are_the_route_functions_names(client):
    """Generated clients name their methods after operation ids: ``create_profile``, not
    FastAPI's default ``create_profile_v1_profiles_post``."""
    doc = client.get("/openapi.json").json()
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) >= 16
    assert doc["paths"]["/v1/profiles"]["post"]["operationId"] == "create_profile"
    assert doc["paths"]["/v1/exports/{export_id}/file"]["get"]["operationId"] == "export_file"
