"""PostgreSQL stopped and restarted under a running app: 503 with a clear message while it is
down, then the app recovers by itself (no restart)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import PG_URL, create_profile, profile_payload

pytestmark = pytest.mark.skipif(
    not PG_URL or not shutil.which("pg_ctlcluster") or not os.path.isdir("/etc/postgresql"),
    reason="needs the local PostgreSQL cluster (CI's second run)",
)


def cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    if action == "stop":
        cmd += ["-m", "fast"]
    subprocess.run(cmd, check=True, capture_output=True)


def wait_until_up() -> None:
    for _ in range(60):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError("PostgreSQL did not come back")


def test_database_outage_is_503_then_recovers(client, admin):
    a, _ = create_profile(client)
    cluster("stop")
    try:
        r = client.get(f"/v1/profiles/{a['id']}")
        assert r.status_code == 503
        assert "database" in r.json()["detail"] and r.headers["retry-after"]
        assert client.post("/v1/profiles", json=profile_payload()).status_code == 503
        assert client.get("/readyz").status_code == 503
    finally:
        cluster("start")
        wait_until_up()
    for _ in range(20):
        r = client.get(f"/v1/profiles/{a['id']}")
        if r.status_code == 200:
            break
        time.sleep(0.5)
    assert r.status_code == 200
    assert client.post("/v1/profiles", json=profile_payload()).status_code == 201
    assert client.get("/readyz").status_code == 200
