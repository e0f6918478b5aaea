"""Latency, throughput and memory of a real ``matchmaker serve`` over a synthetic registry.

Command (run from /work/main; the registry comes from bench/build_registry.py):

    .venv/bin/python bench/latency.py --data-dir bench/data/reg-100k --duration 60

Steps (all on 127.0.0.1, rate limiting off, admin key set):
  1. baseline: the same server over an EMPTY data dir (model loaded, no profiles): time to
     /readyz 200 and RSS (skip with --no-baseline);
  2. the registry server: time from process start to /readyz 200 (imports + migrations check +
     model load + FAISS index load/catch-up), RSS timeline while starting, RSS when ready;
  3. 1 sequential client for --seq-duration s (service time without queueing), then
     --clients concurrent clients for --duration s, twice: with wrk (C, one event-loop thread;
     the headline figures) and with Python threads (one httpx.Client each):
     GET /v1/profiles/{id}/matches?limit=10 for uniformly random profile ids; p50/p90/p99,
     throughput, errors (first --warmup s of each phase discarded). Both report the CPU time
     the load generator itself used per request: on two cores the generator competes with the
     server, and the Python client costs about as much CPU per request as the server does;
  4. GET /v1/pairings?sector=semiconductors&limit=100, --pairings-runs times, sequential.
RSS = VmRSS of the server process (plus children if --workers > 1): Python, FastAPI, ONNX
encoder model, SQLAlchemy, FAISS indexes, id->metadata columns, Python id sets, allocator
slack. "Per profile" is reported both as total RSS / profiles and as (RSS - empty-registry
RSS) / profiles, the latter being the marginal cost of the index.

Targets: matches p50 <= 20 ms, p99 <= 100 ms; pairings for one sector <= 5 s.
Writes bench/results/latency-<registry>.json. Bounded: each phase has a deadline; the whole
run is capped by --max-seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import (
    ADMIN_KEY,
    ROOT,
    Server,
    abspath,
    connection_split,
    header,
    log,
    median,
    pct,
    profile_count,
    profile_ids,
    write_result,
)

TARGETS = {"matches_p50_ms": 20.0, "matches_p99_ms": 100.0, "pairings_s": 5.0}


def load_phase(
    base: str, ids: list[str], clients: int, duration: float, warmup: float, limit: int, seed: int
) -> dict:
    lat: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    split = connection_split(base, warmup + duration / 2)
    cpu0 = time.process_time()
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + duration
    counts = {"ok": 0, "err": 0}

    def worker(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        local: list[float] = []
        with httpx.Client(base_url=base, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as c:
            while True:
                now = time.perf_counter()
                if now >= end:
                    break
                pid = rng.choice(ids)
                t = time.perf_counter()
                try:
                    r = c.get(f"/v1/profiles/{pid}/matches", params={"limit": limit})
                    code = r.status_code
                    ok = code == 200 and len(r.json().get("matches", [])) > 0
                    key = None if ok else f"http {code}"
                except httpx.HTTPError as exc:
                    ok, key = False, type(exc).__name__
                dt = time.perf_counter() - t
                if t < measure_from:
                    continue
                with lock:
                    if ok:
                        counts["ok"] += 1
                        local.append(dt)
                    else:
                        counts["err"] += 1
                        errors[key] = errors.get(key, 0) + 1
        with lock:
            lat.extend(local)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + warmup + 60)
    wall = time.perf_counter() - measure_from
    cpu = time.process_time() - cpu0
    ms = [x * 1000 for x in lat]
    return {
        "driver": "python-httpx-threads",
        "client_cpu_ms_per_request": round(1000 * cpu / max(1, len(ms) + counts["err"]), 2),
        "connections_per_worker": split,
        "clients": clients,
        "duration_s": round(wall, 1),
        "requests_ok": counts["ok"],
        "errors": counts["err"],
        "error_kinds": errors,
        "throughput_rps": round(counts["ok"] / wall, 1) if wall > 0 else 0.0,
        "p50_ms": round(pct(ms, 50), 1),
        "p90_ms": round(pct(ms, 90), 1),
        "p99_ms": round(pct(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else None,
        "mean_ms": round(sum(ms) / len(ms), 1) if ms else None,
    }


def wrk_phase(
    base: str, ids: list[str], clients: int, duration: float, warmup: float, limit: int, seed: int
) -> dict:
    """The same requests driven by wrk (bench/wrk_matches.lua): one C event-loop thread holding
    ``clients`` keep-alive connections, each sending its next request when the last returns."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install wrk (or pass --no-wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as f:
        f.write("\n".join(ids) + "\n")
    env = os.environ | {"IDS": f.name, "KEY": ADMIN_KEY, "LIMIT": str(limit), "SEED": str(seed)}
    script = str(ROOT / "bench" / "wrk_matches.lua")
    try:
        if warmup > 0:
            subprocess.run(
                [wrk, "-t1", f"-c{clients}", f"-d{max(1, round(warmup))}s", "-s", script, base],
                env=env,
                capture_output=True,
                timeout=warmup + 60,
            )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        split = connection_split(base, duration / 2)
        out = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{clients}",
                f"-d{round(duration)}s",
                "--timeout",
                "30s",
                "-s",
                script,
                base,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=duration + 120,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(f.name)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {out.stdout}\n{out.stderr}")
    r = json.loads(line.removeprefix("WRK_RESULT "))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    errors = sum(v for k, v in r.items() if k.startswith("errors_"))
    return {
        "driver": "wrk",
        "client_cpu_ms_per_request": round(1000 * cpu / max(1, r["requests"]), 3),
        "connections_per_worker": split,
        "clients": clients,
        "duration_s": round(r["duration_s"], 1),
        "requests_ok": r["requests"] - r["errors_status"],
        "errors": errors,
        "error_kinds": {k: v for k, v in r.items() if k.startswith("errors_") and v},
        "throughput_rps": round(r["requests"] / r["duration_s"], 1),
        "p50_ms": round(r["p50_ms"], 1),
        "p90_ms": round(r["p90_ms"], 1),
        "p99_ms": round(r["p99_ms"], 1),
        "max_ms": round(r["max_ms"], 1),
        "mean_ms": round(r["mean_ms"], 1),
    }


def pairings(base: str, sector: str, limit: int, runs: int, timeout: float) -> dict:
    times, counts, codes = [], [], []
    with httpx.Client(base_url=base, headers={"X-API-Key": ADMIN_KEY}, timeout=timeout) as c:
        for i in range(runs):
            t = time.perf_counter()
            try:
                r = c.get("/v1/pairings", params={"sector": sector, "limit": limit})
                codes.append(r.status_code)
                counts.append(len(r.json().get("pairings", [])) if r.status_code == 200 else 0)
            except httpx.HTTPError as exc:
                codes.append(type(exc).__name__)
                counts.append(0)
            times.append(time.perf_counter() - t)
            log(
                f"  pairings run {i + 1}: {times[-1]:.2f} s, status {codes[-1]}, {counts[-1]} pairs"
            )
    return {
        "sector": sector,
        "limit": limit,
        "runs_s": [round(x, 3) for x in times],
        "median_s": round(median(times), 3),
        "status": codes,
        "pairs_returned": counts,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--duration", type=float, default=60.0, help="concurrent phase, seconds")
    ap.add_argument("--seq-duration", type=float, default=15.0, help="1-client phase, seconds")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--sector", default="semiconductors")
    ap.add_argument("--pairings-limit", type=int, default=100)
    ap.add_argument("--pairings-runs", type=int, default=3)
    ap.add_argument("--pairings-timeout", type=float, default=300.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument(
        "--no-wrk",
        action="store_true",
        help="skip the wrk phase (the Python-client phase then gives the verdict)",
    )
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra server environment, e.g. OMP_NUM_THREADS=1 (repeatable)",
    )
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=1800.0, help="hard cap of the run")
    a = ap.parse_args()

    info = header("latency")
    data_dir = abspath(a.data_dir)
    n = profile_count(data_dir)
    if n == 0:
        raise SystemExit(f"no profiles in {data_dir}; run bench/build_registry.py first")
    ids = profile_ids(data_dir)
    log(f"registry {data_dir.name}: {n} profiles")
    extra = dict(kv.split("=", 1) for kv in a.env)
    watchdog = threading.Timer(
        a.max_seconds, lambda: (log("max-seconds reached; aborting"), __import__("os")._exit(3))
    )
    watchdog.daemon = True
    watchdog.start()
    res = {
        **info,
        "registry": str(data_dir),
        "profiles": n,
        "workers": a.workers,
        "server_extra_env": extra,
        "command": "python bench/latency.py " + " ".join(__import__("sys").argv[1:]),
        "targets": TARGETS,
    }

    if not a.no_baseline:
        empty = ROOT / "bench" / "data" / "empty"
        with Server(empty, workers=a.workers, extra_env=extra, log_name="latency-empty") as s:
            time.sleep(1.0)
            res["empty_registry"] = {
                "ready_s": round(s.ready_s, 2),
                "rss_mib": round(s.rss_kib() / 1024, 1),
                "hwm_mib": round(s.hwm_kib() / 1024, 1),
            }
        log(
            f"empty registry: ready in {s.ready_s:.2f} s, RSS "
            f"{res['empty_registry']['rss_mib']} MiB"
        )

    srv = Server(data_dir, workers=a.workers, extra_env=extra, log_name=f"latency-{data_dir.name}")
    try:
        ready = srv.start()
        if "rebuilding the search index" in srv.log_path.read_text(errors="replace"):
            # The saved index was missing/stale/of another kind (e.g. written by another
            # process or code version): the server rebuilt it and saves it at shutdown. Restart
            # once so the figures are those of a normal start (load, not rebuild).
            log(
                f"server rebuilt the index at start ({ready:.1f} s); restarting to measure a "
                "normal load"
            )
            res["first_start_rebuilt_s"] = round(ready, 2)
            srv.stop()
            srv = Server(
                data_dir, workers=a.workers, extra_env=extra, log_name=f"latency-{data_dir.name}"
            )
            ready = srv.start()
        time.sleep(1.0)
        rss_ready = srv.rss_kib()
        first = srv.rss_timeline[0][1] if srv.rss_timeline else 0
        log(
            f"registry server ready in {ready:.2f} s ({srv.readyz.get('profiles')}), "
            f"RSS {rss_ready / 1024:.1f} MiB, peak {srv.hwm_kib() / 1024:.1f} MiB"
        )
        rebuilt = "rebuilding the search index" in srv.log_path.read_text(errors="replace")
        if rebuilt:
            log(
                "NOTE: the server REBUILT the index at start (saved index missing/stale or of "
                "another kind); ready time includes the rebuild. Run build_registry --reindex."
            )
        res["server"] = {
            "command": " ".join(srv.cmd()),
            "index_rebuilt_at_start": rebuilt,
            "ready_s": round(ready, 2),
            "readyz": srv.readyz,
            "rss_first_sample_mib": round(first / 1024, 1),
            "rss_ready_mib": round(rss_ready / 1024, 1),
            "hwm_after_start_mib": round(srv.hwm_kib() / 1024, 1),
            "rss_timeline_mib": [
                (round(t, 1), round(k / 1024, 1))
                for t, k in srv.rss_timeline[:: max(1, len(srv.rss_timeline) // 40)]
            ],
        }
        log(f"sequential phase: 1 client, {a.seq_duration:.0f} s")
        res["matches_sequential"] = load_phase(
            srv.base, ids, 1, a.seq_duration, a.warmup, a.limit, a.seed
        )
        if not a.no_wrk:
            log(f"concurrent phase, wrk: {a.clients} connections, {a.duration:.0f} s")
            res["matches_concurrent_wrk"] = wrk_phase(
                srv.base, ids, a.clients, a.duration, a.warmup, a.limit, a.seed + 2
            )
        log(f"concurrent phase, Python threads: {a.clients} clients, {a.duration:.0f} s")
        res["matches_concurrent"] = load_phase(
            srv.base, ids, a.clients, a.duration, a.warmup, a.limit, a.seed + 1
        )
        res["server"]["rss_after_matches_mib"] = round(srv.rss_kib() / 1024, 1)
        log(f"pairings: sector={a.sector} limit={a.pairings_limit}, {a.pairings_runs} runs")
        res["pairings"] = pairings(
            srv.base, a.sector, a.pairings_limit, a.pairings_runs, a.pairings_timeout
        )
        res["server"]["rss_end_mib"] = round(srv.rss_kib() / 1024, 1)
        res["server"]["hwm_end_mib"] = round(srv.hwm_kib() / 1024, 1)
    finally:
        srv.stop()

    s = res["server"]
    per = {"rss_ready_per_profile_kib": round(s["rss_ready_mib"] * 1024 / n, 2)}
    if "empty_registry" in res:
        per["marginal_per_profile_kib"] = round(
            (s["rss_ready_mib"] - res["empty_registry"]["rss_mib"]) * 1024 / n, 2
        )
    res["memory_per_profile"] = per | {
        "note": "VmRSS of the serve process after /readyz (1 s settle); marginal = minus the "
        "RSS of the same server over an empty registry (Python + libraries + ONNX model)"
    }

    # -- table ---------------------------------------------------------------------------
    print()
    print(
        f"registry {data_dir.name}: {n} profiles, workers={a.workers}, env {extra}, "
        f"loadavg now {tuple(round(x, 2) for x in __import__('os').getloadavg())}"
    )
    if "empty_registry" in res:
        e = res["empty_registry"]
        print(f"  empty-registry server : ready {e['ready_s']:.2f} s, RSS {e['rss_mib']:.1f} MiB")
    print(f"  registry server       : ready {s['ready_s']:.2f} s (process start -> /readyz 200)")
    print(
        f"  RSS first sample / ready / after matches / end : {s['rss_first_sample_mib']:.1f} / "
        f"{s['rss_ready_mib']:.1f} / {s['rss_after_matches_mib']:.1f} / {s['rss_end_mib']:.1f}"
        f" MiB (peak {s['hwm_end_mib']:.1f})"
    )
    print(
        f"  per profile           : {per['rss_ready_per_profile_kib']:.2f} KiB total"
        + (
            f", {per['marginal_per_profile_kib']:.2f} KiB marginal"
            if "marginal_per_profile_kib" in per
            else ""
        )
    )
    print()
    print(
        f"{'GET /matches limit=' + str(a.limit):<28}{'clients':>8}{'reqs':>8}{'err':>6}"
        f"{'rps':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'client CPU ms/req':>19}{'conns/worker':>14}"
    )
    phases = ("matches_sequential", "matches_concurrent_wrk", "matches_concurrent")
    for name in (x for x in phases if x in res):
        m = res[name]
        print(
            f"{name:<28}{m['clients']:>8}{m['requests_ok']:>8}{m['errors']:>6}"
            f"{m['throughput_rps']:>8.1f}{m['p50_ms']:>9.1f}{m['p90_ms']:>9.1f}"
            f"{m['p99_ms']:>9.1f}{(m['max_ms'] or 0):>9.1f}"
            f"{m['client_cpu_ms_per_request']:>19.2f}"
            f"{'/'.join(map(str, m.get('connections_per_worker') or [])) or '-':>14}"
        )
    p = res["pairings"]
    print(
        f"\nGET /pairings sector={p['sector']} limit={p['limit']}: runs "
        + ", ".join(f"{x:.2f}" for x in p["runs_s"])
        + f" s; median {p['median_s']:.2f} s"
    )
    mc = res.get("matches_concurrent_wrk", res["matches_concurrent"])
    verdict = {
        "matches_p50": mc["p50_ms"] <= TARGETS["matches_p50_ms"],
        "matches_p99": mc["p99_ms"] <= TARGETS["matches_p99_ms"],
        "pairings": p["median_s"] <= TARGETS["pairings_s"],
    }
    res["meets_targets"] = verdict
    print(
        f"targets (concurrent phase, {mc['driver']}): p50<=20 ms "
        f"{'OK' if verdict['matches_p50'] else 'MISS'}, p99<=100 ms "
        f"{'OK' if verdict['matches_p99'] else 'MISS'}; pairings<=5 s "
        f"{'OK' if verdict['pairings'] else 'MISS'}"
    )
    write_result(f"latency-{data_dir.name}{'-' + a.tag if a.tag else ''}", res)


if __name__ == "__main__":
    main()
