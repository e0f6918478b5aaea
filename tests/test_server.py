"""A real ``matchmaker serve`` process: two workers, SIGKILL crashes, restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from service.core.middleware import sample_value
from tests.conftest import ADMIN_KEY, profile_payload

pytestmark = pytest.mark.slow
ADMIN = {"X-API-Key": ADMIN_KEY}
BIN = Path(sys.executable).parent / "matchmaker"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        model_cache: Path | None,
        workers: int = 1,
    ):
        """``model_cache`` None: the data folder gets no ONNX cache (a first start)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        if model_cache is not None and not (data_dir / "models").exists():
            (data_dir / "models").symlink_to(model_cache)
        self.env = {
            **os.environ,
            "MATCHMAKER_DATA_DIR": str(data_dir),
            "MATCHMAKER_DATABASE_URL": database_url,
            "MATCHMAKER_ADMIN_KEY": ADMIN_KEY,
            "MATCHMAKER_RATE_LIMIT_ENABLED": "false",
            "MATCHMAKER_LOG_LEVEL": "WARNING",
            "MATCHMAKER_INDEX_SAVE_INTERVAL_S": "0.3",
            "MATCHMAKER_EXPORT_STALE_AFTER_S": "3",
        }
        self.workers = workers
        self.log = data_dir / "server.log"
        self.proc: subprocess.Popen | None = None

    def launch(self) -> subprocess.Popen:
        """Start ``matchmaker serve`` without waiting for it (its stderr goes to ``log``)."""
        with self.log.open("ab") as log:  # for the reader of a failure
            self.proc = subprocess.Popen(
                [str(BIN), "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        return self.proc

    def start(self) -> Server:
        """Launch and wait until every worker answers ``/readyz``: ``serve`` accepts as soon as
        one worker is ready, and a worker starting a little later (loading its index, compiling
        the keyword kernels) would otherwise get none of a test's first connections."""
        self.launch()
        deadline = time.monotonic() + 120
        seen: set[int] = set()
        while time.monotonic() < deadline:
            try:
                r = httpx.get(self.url + "/readyz", timeout=2)  # a fresh connection each time
                if r.status_code == 200:
                    seen.add(r.json()["worker"])
                    if len(seen) >= self.workers:
                        return self
                    time.sleep(0.05)
                    continue
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, (
                "server exited during start-up:\n" + (self.log.read_text(errors="replace")[-3000:])
            )
            time.sleep(0.2)
        raise AssertionError(f"server did not become ready ({len(seen)} of {self.workers} workers)")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server_factory(tmp_path, database_url, settings, model_cache):
    servers: list[Server] = []

    def make(workers: int = 1, fresh: bool = False, name: str = "srv") -> Server:
        """``name``: the data folder's; servers of one test given different names each get
        their own (``tests/test_two_servers.py``)."""
        s = Server(tmp_path / name, database_url, None if fresh else model_cache, workers)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def test_two_workers_see_each_others_writes_within_a_second(server_factory):
    srv = server_factory(workers=2).start()
    pids = set()
    for _ in range(40):
        with httpx.Client() as c:  # a new connection each time, spread across workers
            pids.add(c.get(srv.url + "/readyz").json()["worker"])
    assert len(pids) == 2
    body = profile_payload(
        country="KR",
        capabilities="We build ammonia-fuelled container "
        "ships and retrofit dual-fuel engines at our Ulsan yard.",
    )
    created = httpx.post(srv.url + "/v1/profiles", json=body).json()["id"]
    t0 = time.monotonic()
    seen_by = set()
    for _ in range(20):
        with httpx.Client() as c:
            r = c.post(
                srv.url + "/v1/matches/search",
                headers=ADMIN,
                json={
                    "needs": "We need a shipyard that builds ammonia-fuelled ships.",
                    "country": "KR",
                },
            )
            ids = [m["profile"]["id"] for m in r.json()["matches"]]
            assert created in ids
            seen_by.add(c.get(srv.url + "/readyz").json()["worker"])
    assert time.monotonic() - t0 < 20
    # The index of both workers holds it within a second, even without a search to trigger it.
    second = httpx.post(srv.url + "/v1/profiles", json=profile_payload(country="IN")).json()
    time.sleep(1.0)
    counts = set()
    for _ in range(30):
        with httpx.Client() as c:
            ready = c.get(srv.url + "/readyz").json()
            counts.add((ready["worker"], ready["profiles"]["IN"], ready["profiles"]["KR"]))
    assert {(ins, krs) for _, ins, krs in counts} == {(1, 1)}
    assert second["id"]


def test_two_workers_start_on_a_fresh_data_folder(server_factory):
    """No ONNX cache yet: both workers used to export and quantise the model at once, one
    died (FileNotFoundError on ``model.tmp.onnx``, exit 3) and serve stopped. ``serve``
    prepares the cache before it starts any worker, in one quiet log line."""
    srv = server_factory(workers=2, fresh=True)
    srv.env["MATCHMAKER_LOG_LEVEL"] = "INFO"
    srv.start()  # every worker answers /readyz
    answered: dict[int, int] = {}
    for _ in range(20):
        with httpx.Client(timeout=30) as c:  # fresh connections: both workers get some
            worker = c.get(srv.url + "/readyz").json()["worker"]
            r = c.post(srv.url + "/v1/profiles", json=profile_payload())
            assert r.status_code == 201, r.text
            assert c.get(srv.url + "/healthz").status_code == 200
            answered[worker] = answered.get(worker, 0) + 1
    assert len(answered) == 2, answered
    log = srv.log.read_text()
    assert log.count("preparing the ONNX model") == 1, log
    # Before any worker started, not by one of them (the workers then only load it).
    assert log.index("preparing the ONNX model") < log.index("Started server process"), log
    assert "Quantization parameters" not in log and "TracerWarning" not in log, log


def _worker_of(c: httpx.Client, url: str) -> int:
    return c.get(url + "/readyz").json()["worker"]


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for whatever adopted it to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_connections_go_to_the_worker_holding_fewest_and_dead_workers_are_replaced(
    server_factory,
):
    srv = server_factory(workers=2).start()
    deadline = time.monotonic() + 120
    seen: set[int] = set()
    while len(seen) < 2 and time.monotonic() < deadline:  # both workers are up
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            seen.add(_worker_of(c, srv.url))
    held: list[tuple[httpx.Client, int]] = []
    try:
        # Keep-alive connections stay with one worker: each new one goes where fewest are.
        for n in range(1, 11):
            c = httpx.Client(base_url=srv.url, timeout=30)
            held.append((c, _worker_of(c, srv.url)))
            counts = sorted(Counter(w for _, w in held).values())
            assert counts[-1] - (counts[0] if len(counts) == 2 else 0) <= 1, (n, counts)
        a, b = sorted({w for _, w in held})
        for c, _ in [x for x in held if x[1] == a]:
            c.close()
        held = [x for x in held if x[1] != a]
        # Worker a now holds none: the next five connections all go to it.
        for _ in range(5):
            c = httpx.Client(base_url=srv.url, timeout=30)
            held.append((c, _worker_of(c, srv.url)))
            assert held[-1][1] == a
        # A worker killed outright is replaced, and the service answers throughout.
        os.kill(b, signal.SIGKILL)
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while len(workers - {b}) < 2 and time.monotonic() < deadline:
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                assert c.get("/readyz").status_code == 200
                workers.add(_worker_of(c, srv.url))
            time.sleep(0.2)
        assert len(workers - {b}) == 2, workers
    finally:
        for c, _ in held:
            c.close()
    # The parent killed outright: its workers notice and stop, rather than linger unreachable.
    assert srv.proc is not None
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait()
    deadline = time.monotonic() + 60
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)


def test_workers_that_cannot_start_stop_the_server_with_an_error(server_factory):
    srv = server_factory(workers=2)
    srv.env["MATCHMAKER_MODEL_PATH"] = str(srv.log.parent / "no-such-model")
    proc = srv.launch()
    # Not restarted in a loop: the same failure would recur on every restart.
    assert proc.wait(timeout=120) != 0
    assert "no-such-model" in srv.log.read_text()


def test_sigkill_loses_no_acknowledged_profile(server_factory):
    acked: list[str] = []
    srv = server_factory()
    for round_ in range(3):
        srv.start()
        stop = threading.Event()

        def writer(stop: threading.Event = stop) -> None:
            with httpx.Client(timeout=10) as c:
                while not stop.is_set():
                    try:
                        r = c.post(
                            srv.url + "/v1/profiles",
                            json=profile_payload(country="KR" if len(acked) % 2 else "IN"),
                        )
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        acked.append(r.json()["id"])

        t = threading.Thread(target=writer)
        t.start()
        target = len(acked) + 8 + 4 * round_
        while len(acked) < target:
            time.sleep(0.05)
        time.sleep(0.1 * round_)  # vary the moment: mid-request, mid-save
        srv.kill()
        stop.set()
        t.join()

    srv.start()
    with httpx.Client() as c:
        for pid in acked:
            assert c.get(f"{srv.url}/v1/profiles/{pid}").status_code == 200
        listed = []
        cursor = None
        while True:
            page = c.get(srv.url + "/v1/profiles", params={"limit": 200, "cursor": cursor}).json()
            listed += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(listed) == len(set(listed))
        assert set(acked) <= set(listed)
        ready = c.get(srv.url + "/readyz").json()
        assert sum(ready["profiles"].values()) == len(listed)
        # The index came back from the saved file and the stored vectors: nothing re-encoded.
        assert sample_value(c.get(srv.url + "/metrics").text, "matchmaker_encoded_sentences") == 0


def test_export_interrupted_by_sigkill_is_failed_after_restart(server_factory):
    srv = server_factory().start()
    with httpx.Client() as c:
        for i in range(6):
            c.post(srv.url + "/v1/profiles", json=profile_payload(country="KR" if i % 2 else "IN"))
        job = c.post(srv.url + "/v1/exports", headers=ADMIN, json={"format": "csv"}).json()["id"]
    srv.kill()
    srv.start()
    deadline = time.monotonic() + 30
    with httpx.Client() as c:
        while time.monotonic() < deadline:
            status = c.get(f"{srv.url}/v1/exports/{job}", headers=ADMIN).json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        # Either it finished before the kill (file complete) or it is reported failed.
        assert status["status"] in ("done", "failed")
        if status["status"] == "done":
            f = c.get(f"{srv.url}/v1/exports/{job}/file", headers=ADMIN)
            assert f.status_code == 200 and f.text.count("\n") == status["rows"] + 1
        else:
            assert "interrupted" in status["error"] or status["error"]


def _wait_for(query, conn, what: str, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not conn.execute(query).scalar():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


@contextmanager
def _held_after_commit(database_url: str, send) -> Iterator[bool]:  # noqa: ANN001
    """Run ``send()`` (a registration) and enter once it has committed but before its
    response can be sent: True if that moment is held until the block ends (PostgreSQL),
    False if the commit was only seen as soon as possible (SQLite).

    PostgreSQL, by its lock queue: the server's request, once committed, reads the change log
    (its worker's index catches up before the response goes out). Connection ``a`` holds the
    change log's table lock, so the request queues at its insert into it; connection ``b``
    queues behind the request; ``a`` lets go; ``b`` is granted the lock exactly when the request
    commits, and the request's read after the commit waits behind ``b``. SQLite's readers wait
    for nothing, so there the database is polled for the stored response instead.
    """
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    stored = text("SELECT count(*) FROM idempotent_responses")
    if engine.dialect.name != "postgresql":
        with engine.connect() as poll:
            send()
            _wait_for(stored, poll, "the commit")
            yield False
        engine.dispose()
        return
    waiting = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class t ON t.oid = l.relation"
        " WHERE t.relname = 'profile_changes' AND NOT l.granted AND l.mode = :mode"
    )
    lock = text("LOCK TABLE profile_changes IN ACCESS EXCLUSIVE MODE")
    with engine.connect() as a, engine.connect() as b, engine.connect() as watch:
        a.execute(lock)
        send()
        _wait_for(waiting.bindparams(mode="RowExclusiveLock"), watch, "the request's insert")
        queued = threading.Thread(target=b.execute, args=(lock,))
        queued.start()
        _wait_for(waiting.bindparams(mode="AccessExclusiveLock"), watch, "b in the queue")
        a.rollback()  # the request takes the lock; b waits for its commit
        queued.join(timeout=60)
        assert not queued.is_alive()
        assert watch.execute(stored).scalar() == 1  # committed
        yield True
        b.rollback()
    engine.dispose()


def test_a_registration_killed_between_commit_and_response_is_replayed_after_restart(
    server_factory, database_url
):
    """The server is SIGKILLed after a registration committed and before its response reached
    the client. Retried after the restart with the same Idempotency-Key and body, it answers
    201 with the same profile and owner key (which works), not 409 for a duplicate."""
    srv = server_factory().start()
    body = json.dumps(profile_payload(country="KR")).encode()
    key = str(uuid.uuid4())
    client = socket.create_connection(("127.0.0.1", srv.port))
    head = (
        "POST /v1/profiles HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with _held_after_commit(database_url, lambda: client.sendall(head.encode() + body)) as held:
        srv.kill()
    client.settimeout(2)
    try:
        received = client.recv(65536)
    except OSError:
        received = b""
    client.close()
    if held:  # killed while the response was held back: not a byte of it was sent
        assert received == b"", received

    srv.start()
    headers = {"Idempotency-Key": key, "content-type": "application/json"}
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        # What a client retrying without the header got: the organisation exists.
        r = c.post("/v1/profiles", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 409, r.text
        r = c.post("/v1/profiles", content=body, headers=headers)
        assert r.status_code == 201, r.text
        assert r.headers["idempotent-replayed"] == "true"
        profile = r.json()
        if received:  # the response had left before the kill: the replay is the same
            assert profile["api_key"].encode() in received
        owner = {"X-API-Key": profile["api_key"]}
        assert c.get(f"/v1/profiles/{profile['id']}/matches", headers=owner).status_code == 200
        assert c.post("/v1/profiles", content=body, headers=headers).json() == profile


def test_two_workers_share_rate_limits_through_redis(server_factory):
    """`serve --workers 2` with MATCHMAKER_REDIS_URL: a client's registrations count against
    one limit whichever worker takes them (with memory://, each worker kept its own count and
    the client got twice the limit). The client is named by X-Forwarded-For from a trusted
    proxy (this test's own address), as behind a reverse proxy."""
    import random

    srv = server_factory(workers=2)
    srv.env.update(
        MATCHMAKER_RATE_LIMIT_ENABLED="true",
        MATCHMAKER_RATE_LIMIT_REGISTRATIONS_PER_MINUTE="3",
        MATCHMAKER_REDIS_URL="redis://127.0.0.1:6379/0",
        MATCHMAKER_TRUSTED_PROXIES='["127.0.0.1"]',
    )
    srv.start()
    # An address of its own, so counts left in the shared Redis by other runs do not matter.
    client = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"
    answers: list[tuple[int, int]] = []
    for _ in range(8):
        with httpx.Client(base_url=srv.url, timeout=30) as c:  # a new connection each time
            worker = _worker_of(c, srv.url)
            r = c.post("/v1/profiles", json=profile_payload(), headers={"X-Forwarded-For": client})
            answers.append((worker, r.status_code))
    assert [status for _, status in answers] == [201] * 3 + [429] * 5, answers
    assert len({w for w, status in answers if status == 201}) == 2, answers  # both counted
    # Another client behind the same proxy has a limit of its own.
    other = f"198.19.{random.randrange(256)}.{random.randrange(1, 255)}"
    r = httpx.post(
        srv.url + "/v1/profiles", json=profile_payload(), headers={"X-Forwarded-For": other}
    )
    assert r.status_code == 201, r.text
