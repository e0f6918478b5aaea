"""A client generated from the running service's ``/openapi.json`` runs the README walk-through.

openapi-python-client (pinned in the ``dev`` extra) writes a Python package from the document
into a temporary folder; the test imports it and does through it what the README's curl
walk-through does: register, matches, an official key, pairings, ad-hoc search, an export,
its status, its file. Whatever in the document stops a generator (an untyped body, a file
without a schema, unreadable operation ids) fails here, not in a client's hands.
"""

from __future__ import annotations

import importlib
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from service.exports.schemas import COLUMNS
from tests.test_server import BIN, server_factory  # noqa: F401 - fixture

pytestmark = pytest.mark.slow
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "matchmaker_client"

ME = {
    "name": "Navyuga Cell Technologies",
    "country": "IN",
    "org_type": "startup",
    "sectors": ["clean_energy"],
    "capabilities": "We assemble LFP cells in Gujarat and sell packs to electric bus makers.",
    "needs": "We seek high-nickel cathode material and electrode coating know-how.",
    "partnership_types": ["joint_venture", "technology_licensing"],
    "city": "Ahmedabad",
}
PARTNERS = [
    {
        "name": "Hanbit Cathode Materials",
        "country": "KR",
        "org_type": "company",
        "sectors": ["clean_energy", "steel_materials"],
        "capabilities": "We produce high-nickel NCM cathode material and license our electrode "
        "coating process to cell makers.",
        "needs": "We seek an Indian cell maker to build a joint venture plant for LFP packs.",
        "partnership_types": ["joint_venture"],
        "city": "Pohang",
    },
    {
        "name": "Donghae Offshore Yards",
        "country": "KR",
        "org_type": "company",
        "sectors": ["shipbuilding"],
        "capabilities": "We build ammonia-fuelled container ships and retrofit dual-fuel engines "
        "at our Ulsan yard.",
        "needs": "We seek Indian ship repair yards and steel plate suppliers.",
        "partnership_types": ["joint_venture"],
        "city": "Ulsan",
    },
    {
        "name": "Konkan Marine Works",
        "country": "IN",
        "org_type": "company",
        "sectors": ["shipbuilding"],
        "capabilities": "We repair bulk carriers and fabricate steel hull blocks in Ratnagiri.",
        "needs": "We seek a Korean shipyard partner for green ammonia-fuelled vessels.",
        "partnership_types": ["joint_venture"],
        "city": "Ratnagiri",
    },
]


def generate(spec: Path, out: Path) -> str:
    """Run the generator on ``spec`` into ``out/PACKAGE``; returns what it printed."""
    config = out / "generator.yaml"
    config.write_text("post_hooks: []\n")  # no ruff pass over generated code: not ours to lint
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(out / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    return printed


@pytest.fixture
def generated(tmp_path):
    """Imports the generated package from a temporary folder, and forgets it afterwards."""
    if not GENERATOR.exists():
        pytest.skip(
            "openapi-python-client is not installed (the dev extra pins it: "
            "pip install -e '.[dev]')"
        )
    out = tmp_path / "client"
    out.mkdir()

    def load(spec: Path):
        printed = generate(spec, out)
        # Anything the generator skipped (an unsupported body or response) is a gap a client
        # user would meet: the document must generate cleanly.
        assert "Warning" not in printed and "Error" not in printed, printed
        sys.path.insert(0, str(out))
        importlib.invalidate_caches()
        return importlib.import_module(PACKAGE)

    yield load
    if str(out) in sys.path:
        sys.path.remove(str(out))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    shutil.rmtree(out, ignore_errors=True)


def test_generated_client_runs_the_readme_walk_through(server_factory, generated, tmp_path):  # noqa: F811
    srv = server_factory().start()
    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(srv.url + "/openapi.json").content)
    mm = generated(spec)
    from matchmaker_client import AuthenticatedClient, Client
    from matchmaker_client.api.exports import create_export, export_file, export_status
    from matchmaker_client.api.matching import pairings, profile_matches, search_matches
    from matchmaker_client.api.profiles import create_profile
    from matchmaker_client.models import (
        ExportParams,
        PairingsSector,
        ProfileCreate,
        ProfileCreated,
        SearchRequest,
    )

    assert mm.__name__ == PACKAGE

    def as_key(key: str) -> AuthenticatedClient:
        # The document's ApiKey scheme: the key travels bare in X-API-Key.
        return AuthenticatedClient(
            base_url=srv.url,
            token=key,
            prefix="",
            auth_header_name="X-API-Key",
            raise_on_unexpected_status=True,
            timeout=httpx.Timeout(60),
        )

    anyone = Client(base_url=srv.url, raise_on_unexpected_status=True, timeout=60)

    # Register (open): 201, Location, the owner key shown once.
    for body in PARTNERS:
        r = create_profile.sync_detailed(client=anyone, body=ProfileCreate.from_dict(body))
        assert r.status_code == 201, r.content
    r = create_profile.sync_detailed(client=anyone, body=ProfileCreate.from_dict(ME))
    assert r.status_code == 201 and isinstance(r.parsed, ProfileCreated), r.content
    me, key = r.parsed.id, r.parsed.api_key
    assert r.headers["location"] == f"/v1/profiles/{me}" and key.startswith("mm_")

    # Its matches, with the owner's key: the cathode maker first, quoting the need it answers.
    found = profile_matches.sync(me, client=as_key(key), limit=5)
    assert [m.profile.name for m in found.matches][:1] == ["Hanbit Cathode Materials"]
    assert found.matches[0].evidence and "cathode" in found.matches[0].evidence[0].need

    # An official key from the CLI, as an operator makes one.
    official = subprocess.run(
        [str(BIN), "keys", "create", "--role", "official", "--label", "Trade desk"],
        env=srv.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    off = as_key(official)

    paired = pairings.sync(client=off, sector=PairingsSector.SHIPBUILDING, limit=20, per_org=2)
    assert {(p.in_.name, p.kr.name) for p in paired.pairings} == {
        ("Konkan Marine Works", "Donghae Offshore Yards")
    }

    searched = search_matches.sync(
        client=off,
        body=SearchRequest.from_dict(
            {"needs": "A shipyard partner for ammonia-fuelled container ships", "country": "KR"}
        ),
    )
    assert searched.matches[0].profile.name == "Donghae Offshore Yards"

    # An export: 202 with Location, poll its status, download the Parquet file.
    r = create_export.sync_detailed(
        client=off, body=ExportParams.from_dict({"format": "parquet", "top_k": 10})
    )
    assert r.status_code == 202, r.content
    job = r.parsed.id
    assert r.headers["location"] == f"/v1/exports/{job}"
    deadline = time.monotonic() + 60
    while (status := export_status.sync(job, client=off)).status not in ("done", "failed"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status.status == "done", status.error
    file = export_file.sync(job, client=off)
    table = pq.read_table(io.BytesIO(file.payload.read()))
    assert tuple(table.column_names) == COLUMNS
    assert table.num_rows == status.rows > 0
    assert "Navyuga Cell Technologies" in table.column("in_name").to_pylist()
