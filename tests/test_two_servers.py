"""Two ``matchmaker serve`` processes, each with its own data folder, on one PostgreSQL: how the
service scales out. Writes acknowledged by one are in the other's next match list; export jobs
are run once by whichever server claims them; neither server's stale-job sweep fails a job the
other is running."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from service.core.middleware import sample_value
from tests.conftest import PG_URL, profile_payload
from tests.test_server import ADMIN, BIN, server_factory  # noqa: F401 - fixture

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not PG_URL,
        reason="two servers need a shared database server: set MATCHMAKER_TEST_DATABASE_URL "
        "to a PostgreSQL (SQLite is one file on one host)",
    ),
]
# A heartbeat older than this is stale. Short, so that a job whose heartbeat waited on the
# export's progress reports (as it once did) is failed by the other server's sweep.
STALE_AFTER_S = 0.25


def _ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [m["profile"]["id"] for m in r.json()["matches"]]


def _exports_run(url: str, outcome: str) -> float:
    text = httpx.get(url + "/metrics").text
    return sample_value(text, "matchmaker_export_jobs_total", outcome=outcome) or 0.0


def test_two_servers_on_one_postgresql_stay_consistent(server_factory, tmp_path, model_cache):  # noqa: F811
    shared_exports = tmp_path / "shared-exports"  # the documented set-up: one export folder
    servers = []
    for name in ("srv1", "srv2"):
        srv = server_factory(name=name)
        srv.env["MATCHMAKER_EXPORT_DIR"] = str(shared_exports)
        srv.env["MATCHMAKER_EXPORT_STALE_AFTER_S"] = str(STALE_AFTER_S)
        servers.append(srv.start())
    one, two = servers
    assert (tmp_path / "srv1") != (tmp_path / "srv2")

    # A profile registered through server 1 is in server 2's very next match list.
    partner = httpx.post(
        one.url + "/v1/profiles",
        json=profile_payload(
            country="IN",
            sectors=["shipbuilding"],
            capabilities="We repair bulk carriers and fabricate steel hull blocks in Ratnagiri.",
            needs="We seek a Korean shipyard that builds ammonia-fuelled container ships.",
        ),
    ).json()
    owner = {"X-API-Key": partner["api_key"]}
    registered = []
    with httpx.Client(timeout=30) as c:
        for i in range(4):
            r = c.post(
                one.url + "/v1/profiles",
                json=profile_payload(
                    country="KR",
                    sectors=["shipbuilding"],
                    capabilities=f"Yard {i}: we build ammonia-fuelled container ships and "
                    "retrofit dual-fuel engines.",
                    needs="We seek Indian ship repair yards and hull block fabricators.",
                ),
            )
            assert r.status_code == 201, r.text
            registered.append(r.json())
            seen = _ids(c.get(f"{two.url}/v1/profiles/{partner['id']}/matches", headers=owner))
            assert r.json()["id"] in seen, (i, seen)

        # A profile deleted through server 2 is gone from server 1's very next match list.
        gone = registered[0]
        r = c.delete(f"{two.url}/v1/profiles/{gone['id']}", headers={"X-API-Key": gone["api_key"]})
        assert r.status_code == 204, r.text
        seen = _ids(c.get(f"{one.url}/v1/profiles/{partner['id']}/matches", headers=owner))
        assert gone["id"] not in seen and registered[1]["id"] in seen

    # Enough profiles for an export that runs several heartbeats' worth of time; loaded by the
    # CLI (a third process with a data folder of its own), so both servers catch up from the log.
    cli_dir = tmp_path / "cli"
    cli_dir.mkdir()
    (cli_dir / "models").symlink_to(model_cache)
    subprocess.run(
        [str(BIN), "seed", "--synthetic", "400", "--random-seed", "7"],
        env={**one.env, "MATCHMAKER_DATA_DIR": str(cli_dir)},
        check=True,
        capture_output=True,
        timeout=300,
    )

    # One long export through server 1 and four short ones through either server. Both servers'
    # runners poll the one queue; each job is run once, and the long one is never failed by a
    # sweep while it runs (its heartbeat does not wait for the export's progress reports).
    with httpx.Client(timeout=30) as c:
        long_job = c.post(
            one.url + "/v1/exports", headers=ADMIN, json={"format": "csv", "top_k": 100}
        ).json()["id"]
        jobs = [long_job]
        for n in range(4):
            via = (one, two)[n % 2]
            r = c.post(via.url + "/v1/exports", headers=ADMIN, json={"format": "jsonl"})
            assert r.status_code == 202, r.text
            jobs.append(r.json()["id"])
        running_since = None
        ran_for = 0.0
        deadline = time.monotonic() + 180
        pending = set(jobs)
        while pending:
            assert time.monotonic() < deadline, pending
            for job in sorted(pending):
                via = (one, two)[int(time.monotonic() * 10) % 2]  # either server answers
                status = c.get(f"{via.url}/v1/exports/{job}", headers=ADMIN).json()
                assert status["status"] != "failed", status
                if job == long_job and status["status"] == "running":
                    running_since = running_since or time.monotonic()
                    ran_for = time.monotonic() - running_since
                if status["status"] == "done":
                    pending.discard(job)
            time.sleep(0.05)
        # The long job was seen running across many sweeps of the other server.
        assert ran_for > 4 * STALE_AFTER_S, f"the export ran only {ran_for:.2f} s: too short"

        # Each job was run once, by one server: one file each, counted once across the two.
        assert sorted(p.name for p in shared_exports.iterdir()) == sorted(
            f"{j}.{'csv' if j == long_job else 'jsonl'}" for j in jobs
        )
        assert _exports_run(one.url, "done") + _exports_run(two.url, "done") == len(jobs)
        assert _exports_run(one.url, "failed") + _exports_run(two.url, "failed") == 0
        # Either server serves any job's file (the folder is shared).
        for job in jobs:
            for via in (one, two):
                f = c.get(f"{via.url}/v1/exports/{job}/file", headers=ADMIN)
                assert f.status_code == 200 and f.content, (job, f.text)
    assert not list(Path(one.log.parent / "exports").glob("*"))  # nothing outside the share
