"""The introductions workflow under load: interests, answers and their webhook deliveries
beside the mixed traffic of ``bench/load.py``, against the same traffic alone.

    .venv/bin/python bench/workflow.py --data-dir bench/data/reg-10k --interests 10000

Steps (all on 127.0.0.1, a real ``matchmaker serve --workers 2`` on a copy of the registry):
  1. a webhook receiver (a threaded HTTP server in this process) that verifies every signature
     and keeps the event ids it saw, each with how many times it came;
  2. webhooks registered (admin key) for ``--webhook-profiles`` profiles of each country;
  3. phase ``plain``: ``--clients`` load threads (bench/load.py's mix: 70 % match lists) for
     ``--phase`` seconds;
  4. phase ``workflow``: the same load threads, plus ``--workflow-clients`` threads sending
     interests between the webhook profiles (admin acts for the sender) until ``--interests``
     were acknowledged; half are accepted, a fifth declined, the rest left pending, so every
     kind of event flows; the phase lasts as long as that takes (at least ``--phase`` s);
  5. wait until the server has no event left to deliver, then compare: every event the
     database holds was received (none lost), and each id's first delivery is the only one
     counted after the receiver's dedup (redeliveries are reported).
Reports the match p99 (and p50) of both phases and their ratio, the workflow throughput and
the delivery counts; writes bench/results/workflow[-tag].json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import secrets
import shutil
import sqlite3
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    Server,
    abspath,
    header,
    log,
    pct,
    profile_ids,
    write_result,
)
from load import Run, Stats, client, copy_registry  # noqa: E402

from service.webhooks.signing import verify  # noqa: E402


class Receiver:
    """Counts each event id; checks every signature against the profile's secret."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.bad_signatures = 0
        self.secrets: dict[str, str] = {}  # path -> secret
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                secret = receiver.secrets.get(self.path, "")
                ok = verify(secret, self.headers.get("X-Matchmaker-Signature", ""), body)
                with receiver.lock:
                    receiver.seen[self.headers.get("X-Matchmaker-Event-Id", "")] += 1
                    receiver.bad_signatures += not ok
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def register_webhooks(base: str, admin: str, ids: list[str], receiver: Receiver) -> None:
    with httpx.Client(base_url=base, headers={"X-API-Key": admin}, timeout=30) as c:
        for pid in ids:
            path = f"/hook/{pid}"
            url = f"http://127.0.0.1:{receiver.port}{path}"
            r = c.put(f"/v1/profiles/{pid}/webhook", json={"url": url})
            r.raise_for_status()
            receiver.secrets[path] = r.json()["secret"]


class Workflow:
    """Interests between the webhook profiles until ``target`` were acknowledged."""

    def __init__(self, base: str, admin: str, ind: list[str], kor: list[str], target: int):
        self.base, self.admin, self.ind, self.kor, self.target = base, admin, ind, kor, target
        self.sent = 0
        self.answers: Counter[str] = Counter()
        self.status: Counter[int] = Counter()
        self.lock = threading.Lock()

    def done(self) -> bool:
        with self.lock:
            return self.sent >= self.target

    def run(self, n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=self.base, headers={"X-API-Key": self.admin}, timeout=60) as c:
            while not self.done():
                a, b = rng.choice(self.ind), rng.choice(self.kor)
                if rng.random() < 0.5:
                    a, b = b, a
                r = c.post(f"/v1/profiles/{a}/interests", json={"to": b, "message": "Bench."})
                with self.lock:
                    self.status[r.status_code] += 1
                if r.status_code != 201:
                    continue  # an open interest or a recent decline for the pair: draw again
                with self.lock:
                    self.sent += 1
                if r.json()["state"] != "pending":
                    continue  # mutual
                iid, roll = r.json()["id"], rng.random()
                if roll < 0.5:
                    kind = "accept"
                    r = c.post(f"/v1/interests/{iid}/accept")
                elif roll < 0.7:
                    kind = "decline"
                    r = c.post(f"/v1/interests/{iid}/decline", json={"reason": "not_now"})
                else:
                    kind = "left pending"
                with self.lock:
                    self.answers[kind] += 1
                    if kind != "left pending":
                        self.status[r.status_code] += 1


def mixed(srv: Server, admin: str, run: Run, seconds: float, clients: int, seed: int) -> Stats:
    from service.sectors import SECTOR_CODES

    t0 = time.perf_counter()
    stats = Stats(t0)
    threads = [
        threading.Thread(
            target=client,
            daemon=True,
            args=(i, srv.base, admin, run, stats, t0 + seconds, 10.0, seed, SECTOR_CODES),
        )
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return stats


def match_figures(stats: Stats) -> dict:
    lat = stats.lat["GET matches"]
    errors = {str(k): v for k, v in stats.status["GET matches"].items() if k != 200}
    return {
        "requests": len(lat),
        "p50_ms": round(pct(lat, 50), 1),
        "p99_ms": round(pct(lat, 99), 1),
        "errors": errors,
    }


def outbox_counts(data_dir: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{data_dir / 'matchmaker.db'}?mode=ro", uri=True, timeout=30)
    try:
        return dict(con.execute("SELECT state, count(*) FROM webhook_events GROUP BY state"))
    finally:
        con.close()


def event_ids(data_dir: Path) -> set[str]:
    con = sqlite3.connect(f"file:{data_dir / 'matchmaker.db'}?mode=ro", uri=True, timeout=30)
    try:
        return {r[0] for r in con.execute("SELECT public_id FROM webhook_events")}
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("bench/data/reg-10k"))
    ap.add_argument("--interests", type=int, default=10_000)
    ap.add_argument("--phase", type=float, default=120.0, help="seconds of the plain phase")
    ap.add_argument("--clients", type=int, default=16, help="mixed-load threads")
    ap.add_argument("--workflow-clients", type=int, default=4)
    ap.add_argument("--webhook-profiles", type=int, default=500, help="per country")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    from service.seed.synthetic import generate

    res = header("workflow") | {"command": "python bench/workflow.py " + " ".join(sys.argv[1:])}
    data_dir = copy_registry(abspath(a.data_dir))
    ids = profile_ids(data_dir)
    con = sqlite3.connect(f"file:{data_dir / 'matchmaker.db'}?mode=ro", uri=True)
    country = dict(con.execute("SELECT public_id, country FROM profiles"))
    con.close()
    rng = random.Random(a.seed)
    ind = rng.sample([i for i in ids if country[i] == "IN"], a.webhook_profiles)
    kor = rng.sample([i for i in ids if country[i] == "KR"], a.webhook_profiles)
    admin = "bench-" + secrets.token_urlsafe(24)
    extra = {
        "MATCHMAKER_ADMIN_KEY": admin,
        "MATCHMAKER_RATE_LIMIT_ENABLED": "false",
        "MATCHMAKER_INTRO_MAX_OPEN_INTERESTS": "1000000",
    }
    receiver = Receiver()
    pool = generate(3000, random_seed=1000 + a.seed).profiles
    srv = Server(data_dir, workers=2, extra_env=extra, log_name="workflow")
    try:
        ready = srv.start()
        log(f"server ready in {ready:.1f} s; registering {2 * a.webhook_profiles} webhooks")
        register_webhooks(srv.base, admin, ind + kor, receiver)
        gc.freeze()
        gc.disable()
        run = Run(ids, pool, tag=secrets.token_hex(2))
        la = os.getloadavg()
        log(f"plain phase: {a.clients} clients, {a.phase:.0f} s (loadavg {la[0]:.2f})")
        plain = mixed(srv, admin, run, a.phase, a.clients, a.seed)
        flow = Workflow(srv.base, admin, ind, kor, a.interests)
        log(f"workflow phase: + {a.workflow_clients} threads until {a.interests} interests")
        t0 = time.perf_counter()
        workers = [
            threading.Thread(target=flow.run, args=(n,), daemon=True)
            for n in range(a.workflow_clients)
        ]
        for w in workers:
            w.start()
        stats = Stats(t0)
        from service.sectors import SECTOR_CODES

        # The mix runs as long as the workflow does (at least the plain phase's length); its
        # clients read their deadline once, so they get a far one and are stopped by ``stop``.
        mix_threads = [
            threading.Thread(
                target=client,
                args=(i, srv.base, admin, run, stats, t0 + 10**6, 10.0, a.seed + 1, SECTOR_CODES),
                daemon=True,
            )
            for i in range(a.clients)
        ]
        for th in mix_threads:
            th.start()
        while not flow.done() or time.perf_counter() - t0 < a.phase:
            time.sleep(1)
        run.stop.set()
        for w in workers:
            w.join(120)
        for th in mix_threads:
            th.join(60)
        wall = time.perf_counter() - t0
        la_after = os.getloadavg()
        log(f"workflow phase: {wall:.0f} s; waiting for the outbox to drain")
        deadline = time.time() + 600
        while time.time() < deadline:
            counts = outbox_counts(data_dir)
            if not counts.get("pending"):
                break
            time.sleep(2)
        stored = event_ids(data_dir)
        counts = outbox_counts(data_dir)
        with receiver.lock:
            seen = dict(receiver.seen)
        delivered = {e for e, n in seen.items() if n}
        res |= {
            "registry": str(a.data_dir),
            "profiles": len(ids),
            "webhook_profiles": 2 * a.webhook_profiles,
            "clients": a.clients,
            "workflow_clients": a.workflow_clients,
            "loadavg_at_start": [round(x, 2) for x in la],
            "loadavg_after_workflow": [round(x, 2) for x in la_after],
            "plain": match_figures(plain) | {"seconds": a.phase},
            "with_workflow": match_figures(stats) | {"seconds": round(wall, 1)},
            "workflow": {
                "interests_acknowledged": flow.sent,
                "answers": dict(flow.answers),
                "statuses": {str(k): v for k, v in flow.status.items()},
                "interests_per_s": round(flow.sent / wall, 1),
            },
            "events": {
                "stored": len(stored),
                "by_state": counts,
                "received_unique": len(delivered & stored),
                "lost": len(stored - delivered),
                "unknown_received": len(delivered - stored),
                "redelivered": sum(n - 1 for n in seen.values() if n > 1),
                "bad_signatures": receiver.bad_signatures,
            },
        }
        p, w = res["plain"]["p99_ms"], res["with_workflow"]["p99_ms"]
        res["match_p99_ratio"] = round(w / p, 2) if p else None
        log(json.dumps({k: res[k] for k in ("plain", "with_workflow", "match_p99_ratio")}))
        log(json.dumps(res["events"]))
    finally:
        srv.stop()
        shutil.rmtree(data_dir, ignore_errors=True)  # the copy; the registry stays clean
    write_result("workflow" + (f"-{a.tag}" if a.tag else ""), res)


if __name__ == "__main__":
    main()
