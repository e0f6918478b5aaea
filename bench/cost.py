"""Server CPU per request, by endpoint, of a real ``matchmaker serve --workers 1``.

Command (run from /work/main; the registry comes from bench/build_registry.py):

    .venv/bin/python bench/cost.py --data-dir bench/data/reg-100k

Why: on two cores under a closed-loop load, latency is set by the CPU each request costs
(Little's law: mean latency = clients / throughput, throughput <= 2 CPUs / mean CPU per
request). The 300-s load run is noisy from run to run; the CPU a request costs, measured with
one sequential client, is steady and tells which endpoint to make cheaper. The server's CPU
(user + system, all threads, from /proc/<pid>/stat) is read before and after each phase; the
client's own CPU is on the same machine but not in the figure.

Steps: copy the registry to a fresh bench/data/cost-* dir; start the server (rate limiting off,
admin key set); per endpoint of the load mix (bench/load.py), --warmup requests, then
--requests requests, one at a time over one keep-alive connection; report server CPU ms per
request and wall ms per request (p50, p99). With --rev, the same for other code pinned by
bench/snapshot_code.py, alternating, so two versions are compared side by side in one run.
Writes bench/results/cost[-tag].json. Bounded by --max-seconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

from _common import (
    ADMIN_KEY,
    ROOT,
    Server,
    abspath,
    header,
    log,
    pct,
    profile_ids,
    write_result,
)
from load import copy_registry

from service.core.middleware import sample_value

CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime, all threads


class Client:
    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def call(
        self, method: str, path: str, body: dict | None = None, key: str | None = None
    ) -> tuple[int, dict]:
        headers = {"X-API-Key": key} if key else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else {})


def encoded(client: Client) -> int:
    """Sentences the server has run through the encoder so far (its /metrics)."""
    client.conn.request("GET", "/metrics")
    text = client.conn.getresponse().read().decode()
    return int(sample_value(text, "matchmaker_encoded_sentences"))


def phases(ids: list[str], pool: list[dict], tag: str):
    """(endpoint, request maker) for each endpoint of the load mix; a maker returns
    (method, path, body, key)."""
    rnd = random.Random(7)
    created: list[tuple[str, str]] = []
    seq = iter(range(10**9))

    def match():
        return "GET", f"/v1/profiles/{rnd.choice(ids)}/matches?limit=10", None, ADMIN_KEY

    def read():
        return "GET", f"/v1/profiles/{rnd.choice(ids)}", None, None

    def listing():
        q = rnd.choice(["country=IN", "sector=semiconductors", "country=KR&sector=ai"])
        return "GET", f"/v1/profiles?limit=50&{q}", None, None

    # Every POST and every new needs text of a PATCH is a text the server has not seen: the
    # encoder caches sentence vectors, and the load run's texts hardly repeat.
    fresh = iter(pool)

    def post():
        k = next(seq)
        p = dict(next(fresh))
        p["name"] = f"{p['name']} C{tag}-{k}"
        p.pop("website", None)
        return "POST", "/v1/profiles", p, None

    def patch():
        pid, key = rnd.choice(created)
        body = {"city": f"City {rnd.randrange(10**6)}"}
        if rnd.random() < 0.25:
            body["needs"] = next(fresh)["needs"]
        return "PATCH", f"/v1/profiles/{pid}", body, key

    return created, [
        ("GET matches", match),
        ("GET profile", read),
        ("GET list", listing),
        ("POST profile", post),
        ("PATCH profile", patch),
    ]


def measure(
    server: Server, ids: list[str], pool: list[dict], a: argparse.Namespace, tag: str
) -> dict:
    client = Client(server.base)
    created, plan = phases(ids, pool, tag)
    out = {}
    for name, make in plan:
        if a.only and name not in a.only:
            continue
        wall = []
        for n in range(a.warmup + a.requests):
            if n == a.warmup:
                time.sleep(0.5)  # let the change-log poll settle
                e0 = encoded(client)
                c0 = cpu_s(server.proc.pid)
                t0 = time.perf_counter()
            method, path, body, key = make()
            t = time.perf_counter()
            status, js = client.call(method, path, body, key)
            if n >= a.warmup:
                wall.append(time.perf_counter() - t)
            if status >= 300:
                raise RuntimeError(f"{name}: {method} {path} -> {status} {js}")
            if name == "POST profile":
                created.append((js["id"], js["api_key"]))
        elapsed = time.perf_counter() - t0
        cpu = cpu_s(server.proc.pid) - c0
        sentences = encoded(client) - e0
        out[name] = {
            "requests": a.requests,
            "server_cpu_ms_per_request": round(1000 * cpu / a.requests, 2),
            "wall_ms_p50": round(1000 * pct(wall, 50), 2),
            "wall_ms_p99": round(1000 * pct(wall, 99), 2),
            "server_cpu_share_of_wall": round(cpu / elapsed, 3),
            "sentences_encoded_per_request": round(sentences / a.requests, 2),
        }
        log(
            f"  {name:14s} {out[name]['server_cpu_ms_per_request']:7.2f} ms CPU/request, "
            f"wall p50 {out[name]['wall_ms_p50']:.2f} ms"
        )
    return out


def mix_cost(per: dict) -> float | None:
    from load import MIX

    if not all(name in per for name, _ in MIX):
        return None
    return round(sum(w * per[name]["server_cpu_ms_per_request"] for name, w in MIX) / 100, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data" / "reg-100k")
    ap.add_argument("--requests", type=int, default=600, help="measured requests per endpoint")
    ap.add_argument("--warmup", type=int, default=600, help="unmeasured requests first")
    ap.add_argument("--rounds", type=int, default=2, help="rounds per code version")
    ap.add_argument(
        "--rev",
        action="append",
        default=[],
        help="also measure bench/data/code-<rev> (snapshot_code.py), alternating",
    )
    ap.add_argument("--only", action="append", help="endpoint name(s), e.g. 'GET matches'")
    ap.add_argument("--tag", default="")
    ap.add_argument("--max-seconds", type=float, default=3600)
    a = ap.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("bench/cost.py: --max-seconds reached"))
    signal.alarm(int(a.max_seconds))

    from service.seed.synthetic import generate

    src = abspath(a.data_dir)
    ids = profile_ids(src)
    pool = generate(2 * (a.warmup + a.requests), random_seed=4242).profiles
    result = header("cost") | {
        "command": " ".join(["python", *sys.argv]),
        "registry": str(src),
        "profiles": len(ids),
        "rounds": [],
    }
    versions = [("HEAD", None)] + [(r, ROOT / "bench" / "data" / f"code-{r}") for r in a.rev]
    for rnd in range(a.rounds):
        for label, code in versions:
            data = copy_registry(src)
            env = {"PYTHONPATH": str(code)} if code else {}
            log(f"round {rnd + 1}, code {label}: {data.name}")
            server = Server(data, extra_env=env, log_name="cost")
            try:
                server.start()
                per = measure(server, ids, pool, a, tag=f"{rnd}{label[:4]}")
            finally:
                server.stop()
                shutil.rmtree(data, ignore_errors=True)
            mix = mix_cost(per)
            if mix is not None:
                log(f"  load mix (bench/load.py weights): {mix} ms CPU per request")
            result["rounds"].append(
                {"round": rnd + 1, "code": label, "endpoints": per, "mix_cpu_ms_per_request": mix}
            )
    for label, _ in versions:
        mine = [r for r in result["rounds"] if r["code"] == label]
        for name in mine[0]["endpoints"]:
            vals = [r["endpoints"][name]["server_cpu_ms_per_request"] for r in mine]
            log(f"{label:10s} {name:14s} CPU ms/request per round: {vals}")
    write_result("cost" + (f"-{a.tag}" if a.tag else ""), result)


if __name__ == "__main__":
    main()
