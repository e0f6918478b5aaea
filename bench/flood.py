"""Flood from one key: single-registration and ``/matches`` latency alone, then while one key
sends bulk registrations and whole-registry pairings without pause, on a real ``matchmaker
serve --workers 2``.

Command (from the checkout; the registry comes from bench/build_registry.py):

    .venv/bin/python bench/flood.py --data-dir bench/data/reg-10k --tag after
    # the code before the fix, pinned with bench/snapshot_code.py:
    PYTHONPATH=bench/data/code-<sha> .venv/bin/python bench/flood.py \\
        --data-dir bench/data/reg-10k --tag before

Steps (all on 127.0.0.1):
  1. copy the registry to a fresh bench/data/load-* folder (deleted at the end);
  2. create one official key (``matchmaker keys create``), start ``serve --workers 2``
     (rate limits off, as in every bench: the concurrency of the server is what is measured,
     not the write limit, which would refuse this flood after one bulk); poll /readyz like a
     load balancer (fresh connections, 1 s timeout, every 0.2 s) and record the ready time;
  3. probes, each request on a fresh connection (so they spread over both workers): one
     thread registering a synthetic profile (``POST /v1/profiles``, no key) every 0.1 s, and
     two threads asking for a random profile's ``/matches?limit=10`` (admin key) every 0.05 s;
  4. phase (a), "alone": --warmup s not counted, then --alone s of probes;
  5. phase (b), "flood": the official key sends, from --flood-threads threads each, bulk
     registrations of --bulk profiles (capabilities and needs of about --text-chars
     characters each, every sentence new, so nothing comes from the encoder's cache) and
     ``GET /v1/pairings`` with no sector (limit 100, per_org 3), each thread the next request
     as soon as the last is answered (0.2 s after a 503); --flood s of probes, counted from
     the moment the flood starts;
  6. p50/p90/p99/max of each probe per phase and the ratio of p99s (b)/(a), the flood's
     outcomes by status, and the load average at each phase's start and end.
Writes bench/results/flood[-tag].json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    HOST,
    MATCHMAKER,
    Server,
    abspath,
    code_dir,
    header,
    log,
    pct,
    profile_count,
    profile_ids,
    write_result,
)
from load import child_pids, copy_registry  # noqa: E402

TARGET_RATIO = 3.0
PROBES = ("POST profile", "GET matches")


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "warmup"
        self.lat: dict[tuple[str, str], list[float]] = {}
        self.status: dict[tuple[str, str], Counter] = {}

    def add(self, name: str, ms: float, status: int | str, phase: str) -> None:
        """A request counts in the phase it was sent in (one sent during the flood and
        answered after it is the flood's)."""
        with self.lock:
            key = (phase, name)
            self.status.setdefault(key, Counter())[status] += 1
            # A request that got no answer (the client's timeout) counts at the time it
            # waited: leaving it out hid the worst registrations of the code before the fix.
            if (isinstance(status, int) and status < 500) or status == "TimeoutError":
                self.lat.setdefault(key, []).append(ms)


def request(
    port: int, method: str, path: str, body: object = None, key: str | None = None, timeout=60.0
) -> tuple[int | str, bytes, dict[str, str]]:
    """One request on a fresh connection: (status or error name, body, headers)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    headers = {"content-type": "application/json"} if body is not None else {}
    if key:
        headers["X-API-Key"] = key
    try:
        conn.request(
            method, path, body=json.dumps(body) if body is not None else None, headers=headers
        )
        r = conn.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__, b"", {}
    finally:
        conn.close()


def probe_registrations(port: int, rec: Recorder, pool: list[dict], stop: threading.Event) -> None:
    n = 0
    tag = secrets.token_hex(3)
    while not stop.is_set():
        body = dict(pool[n % len(pool)], name=f"Flood Probe {tag} {n}")
        n += 1
        t, phase = time.perf_counter(), rec.phase
        status, _, _ = request(port, "POST", "/v1/profiles", body)
        rec.add("POST profile", (time.perf_counter() - t) * 1000, status, phase)
        stop.wait(0.1)


def probe_matches(port: int, rec: Recorder, ids: list[str], admin: str, seed: int, stop) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        pid = rng.choice(ids)
        t, phase = time.perf_counter(), rec.phase
        status, _, _ = request(port, "GET", f"/v1/profiles/{pid}/matches?limit=10", key=admin)
        rec.add("GET matches", (time.perf_counter() - t) * 1000, status, phase)
        stop.wait(0.05)


_SENTENCE_END = re.compile(r"\.(\s|$)")


def long_text(pool: list[dict], field: str, start: int, chars: int, mark: str) -> str:
    """About ``chars`` characters of synthetic prose, every sentence made new by ``mark``."""
    parts: list[str] = []
    i = start
    while sum(map(len, parts)) < chars:
        parts.append(pool[i % len(pool)][field])
        i += 1
    text = " ".join(parts)[: chars + 200]
    text = text[: text.rfind(".") + 1] if "." in text else text
    n = 0

    def tagged(m: re.Match) -> str:
        nonlocal n
        n += 1
        return f" (ref {mark}-{n}).{m.group(1)}"

    return _SENTENCE_END.sub(tagged, text)[:5000]


def flood_bulk(port, key, pool, size, chars, rec, stop, thread: int) -> None:
    rnd = 0
    while not stop.is_set():
        rnd += 1
        items = []
        for i in range(size):
            base = pool[(rnd * size + i) % len(pool)]
            mark = f"t{thread}r{rnd}i{i}"
            items.append(
                dict(
                    base,
                    name=f"Flood Bulk {thread}-{rnd}-{i} {secrets.token_hex(2)}",
                    capabilities=long_text(pool, "capabilities", rnd * size + i, chars, mark),
                    needs=long_text(pool, "needs", rnd * size + i + 7, chars, mark + "n"),
                )
            )
        t, phase = time.perf_counter(), rec.phase
        status, _, _ = request(port, "POST", "/v1/profiles/bulk", {"profiles": items}, key, 600)
        rec.add("flood bulk", (time.perf_counter() - t) * 1000, status, phase)
        if status != 200:
            stop.wait(0.2)


def flood_pairings(port, key, rec, stop) -> None:
    while not stop.is_set():
        t, phase = time.perf_counter(), rec.phase
        status, _, _ = request(
            port, "GET", "/v1/pairings?limit=100&per_org=3", key=key, timeout=600
        )
        rec.add("flood pairings", (time.perf_counter() - t) * 1000, status, phase)
        if status != 200:
            stop.wait(0.2)


def stats(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 50), 1),
        "p90_ms": round(pct(values, 90), 1),
        "p99_ms": round(pct(values, 99), 1),
        "max_ms": round(max(values), 1) if values else None,
    }


def la() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("bench/data/reg-10k"))
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--alone", type=float, default=60.0)
    ap.add_argument("--flood", type=float, default=90.0)
    ap.add_argument("--flood-threads", type=int, default=2, help="threads per flood kind")
    ap.add_argument("--bulk", type=int, default=300, help="profiles per bulk request")
    ap.add_argument(
        "--text-chars",
        type=int,
        default=1200,
        help="characters of each bulk profile's capabilities and of its needs before the marks "
        "that make every sentence new (300 profiles come to about 950,000 characters in all, "
        "under the bulk text limit of 1,000,000)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()

    src = abspath(a.data_dir)
    if profile_count(src) == 0:
        raise SystemExit(f"no profiles in {src}; run bench/build_registry.py first")
    res: dict = {**header("flood"), "command": "python bench/flood.py " + " ".join(sys.argv[1:])}
    res |= {"registry": str(src), "profiles_at_start": profile_count(src), "workers": 2}
    res["settings"] = {k: v for k, v in vars(a).items() if k != "data_dir"}

    from service.seed.synthetic import generate

    pool = generate(2000, random_seed=500 + a.seed).profiles
    data_dir = copy_registry(src)
    srv: Server | None = None
    stop_probes, stop_flood = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        admin = "flood-" + secrets.token_urlsafe(24)
        env = dict(os.environ, MATCHMAKER_DATA_DIR=str(data_dir))
        env.pop("MATCHMAKER_DATABASE_URL", None)
        official = subprocess.run(
            [str(MATCHMAKER), "keys", "create", "--role", "official", "--label", "flood"],
            env=env,
            cwd=code_dir(env),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ids = profile_ids(data_dir)
        srv = Server(
            data_dir, workers=2, extra_env={"MATCHMAKER_ADMIN_KEY": admin}, log_name="flood"
        )
        ready = srv.start()
        res["server"] = {
            "command": " ".join(srv.cmd()),
            "ready_s": round(ready, 2),
            "first_worker_ready_s": round(srv.first_ready_s, 2),
            "ready_poll": "fresh connection per probe, 1 s timeout, every 0.2 s",
            "log": str(srv.log_path),
        }
        log(f"server ready in {ready:.1f} s (first worker {srv.first_ready_s:.1f} s); {srv.base}")
        rec = Recorder()
        probes = [
            threading.Thread(
                target=probe_registrations, args=(srv.port, rec, pool, stop_probes), daemon=True
            )
        ] + [
            threading.Thread(
                target=probe_matches,
                args=(srv.port, rec, ids, admin, a.seed * 10 + i, stop_probes),
                daemon=True,
            )
            for i in range(2)
        ]
        for t in probes:
            t.start()
        time.sleep(a.warmup)
        phases: dict[str, dict] = {}
        with rec.lock:
            rec.phase = "alone"
        phases["alone"] = {"loadavg_start": la(), "seconds": a.alone}
        log(f"phase alone: {a.alone:.0f} s, loadavg {la()}")
        time.sleep(a.alone)
        phases["alone"]["loadavg_end"] = la()
        flood = [
            threading.Thread(
                target=flood_bulk,
                args=(srv.port, official, pool, a.bulk, a.text_chars, rec, stop_flood, i),
                daemon=True,
            )
            for i in range(a.flood_threads)
        ] + [
            threading.Thread(
                target=flood_pairings, args=(srv.port, official, rec, stop_flood), daemon=True
            )
            for _ in range(a.flood_threads)
        ]
        with rec.lock:
            rec.phase = "flood"
        phases["flood"] = {"loadavg_start": la(), "seconds": a.flood}
        log(f"phase flood: {a.flood:.0f} s, loadavg {la()}")
        for t in flood:
            t.start()
        for n in range(int(a.flood // 30)):
            time.sleep(30)
            log(f"  {30 * (n + 1)} s, loadavg {la()}, flood so far {dict_status(rec, 'flood')}")
        time.sleep(a.flood - 30 * int(a.flood // 30))
        phases["flood"]["loadavg_end"] = la()
        with rec.lock:
            rec.phase = "after"
        stop_probes.set()  # probes in flight finish and count in the flood
        stop_flood.set()
        log("stopping: waiting for the flood's requests in flight")
        for t in probes + flood:
            t.join(600)
    finally:
        stop_probes.set()
        stop_flood.set()
        if srv is not None and srv.proc is not None:
            kids = child_pids(srv.proc.pid)
            srv.stop()
            for k in kids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(k, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)

    out: dict = {}
    for name in PROBES:
        alone, flooded = (stats(rec.lat.get((p, name), [])) for p in ("alone", "flood"))
        out[name] = {
            "alone": alone,
            "flood": flooded,
            "status_alone": {str(k): v for k, v in rec.status.get(("alone", name), {}).items()},
            "status_flood": {str(k): v for k, v in rec.status.get(("flood", name), {}).items()},
            "p99_ratio": round(flooded["p99_ms"] / alone["p99_ms"], 2),
            "p50_ratio": round(flooded["p50_ms"] / alone["p50_ms"], 2),
        }
    res["probes"] = out
    res["phases"] = phases
    res["flood_requests"] = {
        name: {
            "status": {str(k): v for k, v in sorted(c.items(), key=str)},
            **stats(rec.lat.get(("flood", name), [])),
        }
        for (phase, name), c in rec.status.items()
        if phase == "flood" and name.startswith("flood")
    }
    res["meets_target"] = {
        f"{name} p99 ratio <= {TARGET_RATIO:g}": out[name]["p99_ratio"] <= TARGET_RATIO
        for name in PROBES
    }

    print()
    print(
        f"flood from one key, `serve --workers 2`, {res['profiles_at_start']} profiles; ready in "
        f"{res['server']['ready_s']} s; loadavg alone {phases['alone']['loadavg_start'][0]} -> "
        f"{phases['alone']['loadavg_end'][0]}, flood {phases['flood']['loadavg_start'][0]} -> "
        f"{phases['flood']['loadavg_end'][0]}"
    )
    print()
    print("| probe | alone p50 | alone p99 | flood p50 | flood p99 | p99 ratio | n alone/flood |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, o in out.items():
        print(
            f"| {name} | {o['alone']['p50_ms']} | {o['alone']['p99_ms']} | {o['flood']['p50_ms']} "
            f"| {o['flood']['p99_ms']} | **{o['p99_ratio']}** | {o['alone']['n']}/{o['flood']['n']} |"
        )
    for name, f in res["flood_requests"].items():
        print(f"{name}: {f['status']}, answered p50 {f['p50_ms']} ms, max {f['max_ms']} ms")
    print(
        "targets: "
        + ", ".join(f"{k} {'OK' if v else 'MISS'}" for k, v in res["meets_target"].items())
    )
    write_result("flood" + (f"-{a.tag}" if a.tag else ""), res)


def dict_status(rec: Recorder, phase: str) -> dict:
    with rec.lock:
        return {
            name: dict(c) for (p, name), c in rec.status.items() if p == phase and "flood" in name
        }


if __name__ == "__main__":
    main()
