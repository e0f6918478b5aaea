"""Mixed-traffic load test of a real ``matchmaker serve --workers 2`` over a 100k registry.

Command (run from /work/main; the registry comes from bench/build_registry.py):

    .venv/bin/python bench/load.py --data-dir bench/data/reg-100k --duration 300 --clients 32

Dry run: ``.venv/bin/python bench/load.py --duration 20 --clients 8``.

Steps (all on 127.0.0.1):
  1. wait until the machine is idle (1-min loadavg < --idle-load, polling up to --idle-wait s;
     abort if still busy unless --force);
  2. copy the registry (matchmaker.db and a non-empty -wal, index/, models symlink) with
     ``cp --reflink=auto`` to a fresh bench/data/load-* dir, so the benchmark registry stays
     clean (--no-copy runs in place; the copy is deleted at the end unless --keep-copy);
  3. start ``matchmaker serve --workers 2`` on that copy with a random MATCHMAKER_ADMIN_KEY and
     MATCHMAKER_RATE_LIMIT_ENABLED=false; wait for /readyz;
  4. --clients threads (one keep-alive connection each through the standard library's
     http.client, or httpx with --client httpx; closed loop, no think time; the client's
     garbage collector paused, so its pauses are not counted as server latency) for
     --duration s; each request is drawn by a seeded weighted choice:
       70% GET  /v1/profiles/{id}/matches?limit=10  admin key; uniform over the initial ids,
                                                    10% of them over ids created in the run
       10% GET  /v1/profiles/{id}                   anonymous; same id choice
       10% GET  /v1/profiles?limit=50&<filter>      anonymous; country, sector or both
        7% POST /v1/profiles                        anonymous; a synthetic profile
                                                    (service.seed.synthetic) with a unique name
        3% PATCH /v1/profiles/{id}                  owner key of a profile created in the run;
                                                    new city, 25% also new needs text
                                                    (a POST while none exists yet)
     Profiles being PATCHed are locked client-side, so the last acknowledged PATCH of each is
     well defined. No request starts after the deadline; in-flight ones get at most --grace s.
  5. verification (after 2 s for the workers' 0.25 s change-log poll):
       * /readyz of every worker: index count == initial + created (+ POSTs whose outcome is
         unknown because of a transport error);
       * every created id: GET 200 with the registered name, and the last acknowledged PATCH
         (city, needs) is what GET returns; GET .../matches 200 (503 means not in the index);
       * the database row count of the copy after the server stops.
Reports count, errors by status, p50/p90/p99/max latency and throughput per endpoint, the
overall 5xx count, and writes bench/results/load[-tag].json. Latencies include every completed
response (errors too); transport errors are counted separately. The client runs in the same
2-CPU machine as the server, and its CPU time is reported.

Targets: zero 5xx, zero lost writes, GET matches p99 < 250 ms during the mix.
Bounded: --max-seconds watchdog stops the server and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

TRANSPORT_ERRORS = (httpx.HTTPError, OSError, http.client.HTTPException)
_json_dumps = json.dumps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT,
    Server,
    abspath,
    connection_split,
    header,
    log,
    pct,
    profile_count,
    profile_ids,
    write_result,
)

from service.core.middleware import sample_value  # noqa: E402

TARGETS = {"server_5xx": 0, "lost_writes": 0, "matches_p99_ms": 250.0}
ENDPOINTS = ("GET matches", "GET profile", "GET list", "POST profile", "PATCH profile")
MIX = (
    ("GET matches", 70),
    ("GET profile", 10),
    ("GET list", 10),
    ("POST profile", 7),
    ("PATCH profile", 3),
)


# -- registry copy ---------------------------------------------------------------------------


def copy_registry(src: Path) -> Path:
    dst = Path(tempfile.mkdtemp(prefix=f"load-{src.name}-", dir=ROOT / "bench" / "data"))
    files = [src / "matchmaker.db"]
    wal = src / "matchmaker.db-wal"
    if wal.exists() and wal.stat().st_size > 0:
        files.append(wal)  # the -shm is rebuilt by SQLite from the WAL
    subprocess.run(["cp", "--reflink=auto", *map(str, files), str(dst)], check=True)
    if (src / "index").is_dir():
        subprocess.run(
            ["cp", "-r", "--reflink=auto", str(src / "index"), str(dst / "index")], check=True
        )
    models = src / "models"
    if models.is_symlink():
        (dst / "models").symlink_to(os.readlink(models), target_is_directory=True)
    elif models.is_dir():
        (dst / "models").symlink_to(models.resolve(), target_is_directory=True)
    return dst


def wait_idle(limit: float, max_wait: float) -> tuple[bool, float]:
    t0 = time.time()
    while True:
        la = os.getloadavg()[0]
        if la < limit:
            return True, la
        if time.time() - t0 >= max_wait:
            return False, la
        log(f"loadavg {la:.2f} >= {limit}; waiting ({time.time() - t0:.0f}/{max_wait:.0f} s)")
        time.sleep(min(15.0, max(1.0, max_wait - (time.time() - t0))))


def child_pids(pid: int) -> list[int]:
    try:
        kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in child_pids(k)]


# -- shared run state ------------------------------------------------------------------------


class Created:
    __slots__ = ("id", "key", "name", "country", "lock", "city", "needs", "patched", "unsure")

    def __init__(
        self, pid: str, key: str, name: str, country: str, city: str | None, needs: str
    ) -> None:
        self.id, self.key, self.name, self.country = pid, key, name, country
        self.city, self.needs = city, needs
        self.lock = threading.Lock()
        self.patched = 0
        self.unsure = False  # a PATCH whose outcome is unknown (transport error)


class Run:
    def __init__(self, ids: list[str], pool: list[dict], tag: str) -> None:
        self.ids = ids
        self.pool = pool
        self.tag = tag
        self.created: list[Created] = []
        self.lock = threading.Lock()
        self.seq = 0
        self.unknown_posts = 0
        self.conflicts: list[str] = []
        self.mismatch: list[str] = []  # responses whose body contradicts the request
        self.new_id_errors: Counter = Counter()  # reads of ids created in the run, non-200
        self.unexpected: list[dict] = []  # first responses that are 5xx or odd, with details
        self.stop = threading.Event()  # ends the clients before their deadline

    def next_profile(self) -> dict:
        with self.lock:
            k = self.seq
            self.seq += 1
        p = dict(self.pool[k % len(self.pool)])
        p["name"] = f"{p['name']} LT{self.tag}-{k}"
        p.pop("website", None)  # pool entries repeat; keep nothing that should be unique
        return p


class Stats:
    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.lat: dict[str, list[float]] = {e: [] for e in ENDPOINTS}
        self.at: dict[str, list[float]] = {e: [] for e in ENDPOINTS}  # start, s since t0
        self.status: dict[str, Counter] = {e: Counter() for e in ENDPOINTS}
        self.lock = threading.Lock()

    def add(self, ep: str, status: int | str, started: float, dt: float | None) -> None:
        with self.lock:
            self.status[ep][status] += 1
            if dt is not None:
                self.lat[ep].append(dt * 1000)
                self.at[ep].append(started - self.t0)


# -- the client loop -------------------------------------------------------------------------


class LeanResponse:
    def __init__(self, status_code: int, content: bytes, path: str) -> None:
        self.status_code = status_code
        self.content = content
        self.path = path

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class LeanClient:
    """One keep-alive HTTP/1.1 connection through the standard library's ``http.client``.

    The clients share the server's two CPUs, and httpx spends about a millisecond of CPU per
    request (69 s of client CPU in a 300 s run), in 32 threads contending for one GIL: time
    taken from the server and added to every measured latency. This client does the same
    requests for a fraction of that. A broken connection raises (a transport error, counted
    as such) and is replaced on the next request.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        u = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def __enter__(self) -> LeanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: object = None,
        headers: dict | None = None,
        timeout: float | None = None,
    ) -> LeanResponse:
        if params:
            path += "?" + urllib.parse.urlencode(params)
        hdrs = dict(headers or {})
        body = None
        if json is not None:
            body = _json_dumps(json).encode()
            hdrs["Content-Type"] = "application/json"
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.timeout = timeout or self.timeout
            if self.conn.sock is not None:
                self.conn.sock.settimeout(self.conn.timeout)
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            content = resp.read()
        except BaseException:
            self.conn.close()
            self.conn = None
            raise
        if resp.will_close:
            self.conn.close()
            self.conn = None
        return LeanResponse(resp.status, content, path)

    def get(self, path: str, **kw) -> LeanResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> LeanResponse:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw) -> LeanResponse:
        return self.request("PATCH", path, **kw)


def request_path(r: httpx.Response | LeanResponse) -> str:
    return r.path if isinstance(r, LeanResponse) else r.request.url.raw_path.decode()


def pick_id(rng: random.Random, run: Run) -> tuple[str, bool]:
    if run.created and rng.random() < 0.10:
        return rng.choice(run.created).id, True
    return rng.choice(run.ids), False


def client(
    n: int,
    base: str,
    admin: str,
    run: Run,
    stats: Stats,
    end: float,
    grace: float,
    seed: int,
    sectors: tuple[str, ...],
    kind: str = "stdlib",
) -> None:
    rng = random.Random(seed * 1000 + n)
    names = [e for e, _ in MIX]
    weights = [w for _, w in MIX]
    make = LeanClient if kind == "stdlib" else httpx.Client
    with make(base_url=base, timeout=30) as c:
        while True:
            now = time.perf_counter()
            if now >= end or run.stop.is_set():
                return
            timeout = max(1.0, min(30.0, end + grace - now))
            ep = rng.choices(names, weights)[0]
            if ep == "PATCH profile":
                target = None
                for _ in range(3):
                    if not run.created:
                        break
                    cand = rng.choice(run.created)
                    if not cand.unsure and cand.lock.acquire(blocking=False):
                        target = cand
                        break
                if target is None:
                    ep = "POST profile"
            new = False
            t = time.perf_counter()
            try:
                if ep == "GET matches":
                    pid, new = pick_id(rng, run)
                    r = c.get(
                        f"/v1/profiles/{pid}/matches",
                        params={"limit": 10},
                        headers={"X-API-Key": admin},
                        timeout=timeout,
                    )
                elif ep == "GET profile":
                    pid, new = pick_id(rng, run)
                    r = c.get(f"/v1/profiles/{pid}", timeout=timeout)
                elif ep == "GET list":
                    mode = rng.randrange(3)
                    params: dict = {"limit": 50}
                    if mode in (0, 2):
                        params["country"] = rng.choice(("IN", "KR"))
                    if mode in (1, 2):
                        params["sector"] = rng.choice(sectors)
                    r = c.get("/v1/profiles", params=params, timeout=timeout)
                elif ep == "POST profile":
                    body = run.next_profile()
                    r = c.post("/v1/profiles", json=body, timeout=timeout)
                else:
                    body = {"city": f"Loadtown {rng.randrange(10**9)}"}
                    if rng.random() < 0.25:
                        other = rng.choice(run.pool)["needs"]
                        body["needs"] = f"{other} We would also run a pilot line in {body['city']}."
                    try:
                        r = c.patch(
                            f"/v1/profiles/{target.id}",
                            json=body,
                            headers={"X-API-Key": target.key},
                            timeout=timeout,
                        )
                    except TRANSPORT_ERRORS:
                        target.unsure = True
                        target.lock.release()
                        raise
            except TRANSPORT_ERRORS as exc:
                stats.add(ep, type(exc).__name__, t, None)
                if ep == "POST profile":
                    with run.lock:
                        run.unknown_posts += 1
                continue
            dt = time.perf_counter() - t
            code = r.status_code
            stats.add(ep, code, t, dt)
            if new and code != 200:
                with run.lock:
                    run.new_id_errors[f"{ep} {code}"] += 1
            if code >= 500 or (new and code != 200) or code in (404, 409, 422):
                with run.lock:
                    if len(run.unexpected) < 20:
                        url = request_path(r)
                        seg = url.split("?")[0].split("/")
                        rec = next(
                            (x for x in run.created if len(seg) > 3 and seg[3] == x.id), None
                        )
                        run.unexpected.append(
                            {
                                "t_s": round(t - stats.t0, 2),
                                "endpoint": ep,
                                "url": url,
                                "status": code,
                                "ms": round(dt * 1000, 1),
                                "body": r.text[:200],
                                "created_in_run": rec is not None,
                                "patches_acknowledged_so_far": rec.patched if rec else None,
                                "patch_in_flight": rec.lock.locked() if rec else None,
                            }
                        )
            if ep == "POST profile":
                if code == 201:
                    j = r.json()
                    rec = Created(
                        j["id"],
                        j["api_key"],
                        body["name"],
                        body["country"],
                        body.get("city"),
                        body["needs"],
                    )
                    with run.lock:
                        run.created.append(rec)
                        if j["name"] != body["name"]:
                            run.mismatch.append(f"POST {j['id']}: name {j['name']!r}")
                elif code == 409:
                    with run.lock:
                        run.conflicts.append(body["name"])
            elif ep == "PATCH profile":
                # still holding target.lock: the next PATCH of this profile starts after this
                try:
                    if code == 200:
                        j = r.json()
                        target.city = body["city"]
                        if "needs" in body:
                            target.needs = body["needs"]
                        target.patched += 1
                        if j.get("city") != body["city"] or (
                            "needs" in body and j.get("needs") != body["needs"]
                        ):
                            with run.lock:
                                run.mismatch.append(f"PATCH {target.id}: response differs")
                    elif code >= 500:
                        target.unsure = True  # may or may not have been committed
                finally:
                    target.lock.release()


# -- verification ----------------------------------------------------------------------------


def readyz_all(base: str, workers: int, expect: int, slack: int, timeout: float) -> dict:
    """Poll /readyz on fresh connections until every worker has been seen with the expected
    index count (or the timeout)."""
    seen: dict[int, int] = {}
    t0 = time.perf_counter()
    polls = 0
    while time.perf_counter() - t0 < timeout:
        with httpx.Client(base_url=base, timeout=10) as c:
            try:
                r = c.get("/readyz")
                j = r.json()
                seen[j["worker"]] = sum(j["profiles"].values())
            except (httpx.HTTPError, ValueError, KeyError):
                pass
        polls += 1
        ok = [p for p, n in seen.items() if expect <= n <= expect + slack]
        if len(seen) >= workers and len(ok) == len(seen):
            break
        time.sleep(0.05)
    return {
        "per_worker": {str(k): v for k, v in seen.items()},
        "expected": expect,
        "expected_max": expect + slack,
        "polls": polls,
        "ok": len(seen) >= workers and all(expect <= n <= expect + slack for n in seen.values()),
    }


def sentence_cache_lookups(base: str) -> dict:
    """The sentence cache's hits and misses during the mix, of the worker that answers
    /metrics (each worker has its own cache; the verification's reads come after this)."""
    try:
        text = httpx.get(base + "/metrics", timeout=10).text
    except httpx.HTTPError as exc:
        return {"error": type(exc).__name__}
    out = {}
    for result in ("hit", "miss"):
        value = sample_value(text, "matchmaker_sentence_cache_lookups", result=result)
        out[result] = None if value is None else int(value)
    if out["hit"] is not None and out["miss"] is not None and out["hit"] + out["miss"]:
        out["hit_share"] = round(out["hit"] / (out["hit"] + out["miss"]), 3)
    return out


def verify_created(base: str, admin: str, created: list[Created], threads: int) -> dict:
    lost_get: list[str] = []
    lost_index: list[str] = []
    wrong: list[str] = []
    codes: Counter = Counter()

    def one(rec: Created) -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            for attempt in range(2):
                try:
                    g = c.get(f"/v1/profiles/{rec.id}")
                    m = c.get(
                        f"/v1/profiles/{rec.id}/matches",
                        params={"limit": 10},
                        headers={"X-API-Key": admin},
                    )
                    break
                except httpx.HTTPError as exc:
                    if attempt:
                        codes[f"transport {type(exc).__name__}"] += 1
                        lost_get.append(rec.id)
                        return
        codes[f"GET {g.status_code}"] += 1
        codes[f"matches {m.status_code}"] += 1
        if g.status_code != 200:
            lost_get.append(rec.id)
        else:
            j = g.json()
            bad = []
            if j["name"] != rec.name:
                bad.append("name")
            if not rec.unsure and j.get("city") != rec.city:
                bad.append(f"city {j.get('city')!r} != {rec.city!r}")
            if not rec.unsure and j.get("needs") != rec.needs:
                bad.append("needs")
            if bad:
                wrong.append(f"{rec.id}: {', '.join(bad)}")
        if m.status_code != 200:
            lost_index.append(f"{rec.id}: {m.status_code} {m.text[:120]}")

    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, created))
    patched = [r for r in created if r.patched]
    return {
        "checked": len(created),
        "status": dict(codes),
        "not_readable": lost_get,
        "not_in_index": lost_index,
        "patched_profiles": len(patched),
        "patches_acknowledged": sum(r.patched for r in created),
        "patched_unsure_excluded": sum(r.unsure for r in created),
        "not_reflected": wrong,
    }


def timeline(stats: Stats, ep: str, bucket: float) -> list[dict]:
    buckets: dict[int, list[float]] = {}
    for t, ms in zip(stats.at[ep], stats.lat[ep], strict=True):
        buckets.setdefault(int(t // bucket), []).append(ms)
    return [
        {
            "from_s": round(b * bucket),
            "requests": len(v),
            "p50_ms": round(pct(v, 50), 1),
            "p99_ms": round(pct(v, 99), 1),
            "max_ms": round(max(v), 1),
        }
        for b, v in sorted(buckets.items())
    ]


def server_log_issues(path: Path) -> dict:
    """WARNING/ERROR records and tracebacks of the server log, by message."""
    kinds: Counter = Counter()
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    for i, line in enumerate(lines):
        if any(
            f" {lv} " in line[:40] for lv in ("WARNING", "ERROR", "CRITICAL")
        ) or line.startswith(("WARNING:", "ERROR:", "CRITICAL:")):
            msg = line.split(" ", 3)[-1][:160]
            # the exception line closing a traceback that follows the record
            for nxt in lines[i + 1 : i + 60]:
                if nxt and not nxt.startswith((" ", "Traceback")):
                    if not nxt[:4].isdigit():
                        msg += " | " + nxt[:200]
                    break
            kinds[msg] += 1
    return {"lines": len(lines), "records": dict(kinds.most_common(20))}


def summarise(stats: Stats, wall: float, warmup: float) -> dict:
    out = {}
    for ep in ENDPOINTS:
        lat = stats.lat[ep]
        steady = [ms for t, ms in zip(stats.at[ep], lat, strict=True) if t >= warmup]
        st = stats.status[ep]
        n = sum(st.values())
        ok = sum(v for k, v in st.items() if isinstance(k, int) and 200 <= k < 300)
        out[ep] = {
            "requests": n,
            "ok": ok,
            "errors": {
                str(k): v
                for k, v in sorted(st.items(), key=str)
                if not (isinstance(k, int) and 200 <= k < 300)
            },
            "throughput_rps": round(n / wall, 1) if wall else 0.0,
            "p50_ms": round(pct(lat, 50), 1),
            "p90_ms": round(pct(lat, 90), 1),
            "p99_ms": round(pct(lat, 99), 1),
            "max_ms": round(max(lat), 1) if lat else None,
            "mean_ms": round(sum(lat) / len(lat), 1) if lat else None,
            f"p99_after_{warmup:g}s_ms": round(pct(steady, 99), 1),
        }
    return out


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data" / "reg-100k")
    ap.add_argument(
        "--copy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run on a reflink/copy of the registry (default) or in place",
    )
    ap.add_argument("--keep-copy", action="store_true")
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="max seconds an in-flight request may run past the deadline",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="seconds excluded from the extra 'p99 after warmup' figure only",
    )
    ap.add_argument("--pool", type=int, default=3000, help="synthetic profiles generated")
    ap.add_argument("--verify-threads", type=int, default=4)
    ap.add_argument("--idle-load", type=float, default=1.5)
    ap.add_argument("--idle-wait", type=float, default=600.0)
    ap.add_argument("--force", action="store_true", help="run even if the machine stays busy")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra server environment (repeatable)",
    )
    ap.add_argument(
        "--client",
        choices=("stdlib", "httpx"),
        default="stdlib",
        help="HTTP client of the load threads: stdlib http.client (lean; default) "
        "or httpx (what runs before 2026-11-26 used; about 1 ms of CPU per request)",
    )
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="hard cap of the whole run (default duration + 1200)",
    )
    a = ap.parse_args()

    src = abspath(a.data_dir)
    if profile_count(src) == 0:
        raise SystemExit(f"no profiles in {src}; run bench/build_registry.py first")

    idle, la = wait_idle(a.idle_load, a.idle_wait)
    if not idle and not a.force:
        raise SystemExit(
            f"machine busy (loadavg {la:.2f} >= {a.idle_load}) after "
            f"{a.idle_wait:.0f} s; not running (use --force)"
        )
    info = header("load")
    info["idle_check"] = {"limit": a.idle_load, "loadavg_1m": round(la, 2), "idle": idle}

    from service.sectors import SECTOR_CODES
    from service.seed.synthetic import generate

    t = time.perf_counter()
    pool = generate(a.pool, random_seed=1000 + a.seed).profiles
    log(f"generated {len(pool)} synthetic profiles in {time.perf_counter() - t:.1f} s")

    srv: Server | None = None
    data_dir = src
    state = {"stopped": False}

    def shutdown() -> None:
        if state["stopped"]:
            return
        state["stopped"] = True
        if srv is not None and srv.proc is not None:
            kids = child_pids(srv.proc.pid)
            srv.stop()
            for k in kids:  # workers orphaned if the parent had to be killed
                with contextlib.suppress(ProcessLookupError):
                    os.kill(k, signal.SIGKILL)

    max_s = a.max_seconds or a.duration + 1200

    def on_watchdog() -> None:
        log(f"max-seconds ({max_s:.0f}) reached; stopping the server and aborting")
        shutdown()
        os._exit(3)

    watchdog = threading.Timer(max_s, on_watchdog)
    watchdog.daemon = True
    watchdog.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    res: dict = {
        **info,
        "command": "python bench/load.py " + " ".join(sys.argv[1:]),
        "registry": str(src),
        "workers": a.workers,
        "clients": a.clients,
        "client": a.client,
        "duration_s": a.duration,
        "seed": a.seed,
        "mix_percent": dict(MIX),
        "targets": TARGETS,
    }
    try:
        if a.copy:
            t = time.perf_counter()
            data_dir = copy_registry(src)
            log(f"copied {src.name} -> {data_dir} in {time.perf_counter() - t:.1f} s")
            res["copy_s"] = round(time.perf_counter() - t, 1)
        res["data_dir"] = str(data_dir)
        ids = profile_ids(data_dir)
        initial = len(ids)
        admin = "load-" + secrets.token_urlsafe(24)
        extra = {"MATCHMAKER_ADMIN_KEY": admin, "MATCHMAKER_RATE_LIMIT_ENABLED": "false"}
        extra |= dict(kv.split("=", 1) for kv in a.env)
        srv = Server(data_dir, workers=a.workers, extra_env=extra, log_name="load")
        ready = srv.start()
        log(
            f"server ready in {ready:.1f} s on {srv.base}: {srv.readyz.get('profiles')}; "
            f"log {srv.log_path}"
        )
        res["server"] = {
            "command": " ".join(srv.cmd()),
            "ready_s": round(ready, 1),
            "readyz": srv.readyz,
            "log": str(srv.log_path),
            "extra_env": {k: v for k, v in extra.items() if k != "MATCHMAKER_ADMIN_KEY"},
        }
        start_idx = sum(srv.readyz["profiles"].values())
        if start_idx != initial:
            log(f"WARNING: index count {start_idx} != {initial} database rows at start")

        run = Run(ids, pool, tag=f"{a.seed}{secrets.token_hex(2)}")
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        # The client's own full collections walked its 100k ids and growing latency lists:
        # pauses of up to 0.12 s that stopped every client thread and were counted as server
        # latency. The mix makes little garbage and lasts minutes, so pause the collector.
        gc.freeze()
        gc.disable()
        log(f"mix: {a.clients} clients for {a.duration:.0f} s")
        t0 = time.perf_counter()
        stats = Stats(t0)
        end = t0 + a.duration
        split = connection_split(srv.base, min(30.0, a.duration / 2))
        threads = [
            threading.Thread(
                target=client,
                daemon=True,
                args=(i, srv.base, admin, run, stats, end, a.grace, a.seed, SECTOR_CODES, a.client),
            )
            for i in range(a.clients)
        ]
        for th in threads:
            th.start()
        progress_at = t0 + 30
        progress: list[tuple[int, int, float]] = []  # (s, requests so far, 1-min loadavg)
        splits: list[list[int]] = []  # connections per worker every 30 s
        for th in threads:
            while th.is_alive() and time.perf_counter() < end + a.grace + 5:
                th.join(1.0)
                if time.perf_counter() >= progress_at:
                    progress_at += 30
                    done = sum(sum(s.values()) for s in stats.status.values())
                    la1 = os.getloadavg()[0]
                    progress.append((round(time.perf_counter() - t0), done, round(la1, 2)))
                    last = "/".join(map(str, splits[-1])) if splits else "-"
                    splits.append(connection_split(srv.base, 0.0))
                    log(
                        f"  {time.perf_counter() - t0:.0f} s: {done} requests, "
                        f"{len(run.created)} created, loadavg {la1:.2f}, "
                        f"connections per worker 30 s ago {last}"
                    )
        wall = time.perf_counter() - t0
        gc.enable()
        alive = sum(th.is_alive() for th in threads)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        res["wall_s"] = round(wall, 1)
        res["progress_s_requests_loadavg"] = progress
        res["threads_still_running_after_deadline"] = alive
        res["client_cpu_s"] = round(client_cpu, 1)
        res["connections_per_worker"] = split
        res["connections_per_worker_every_30s"] = [list(x) for x in splits]
        res["loadavg_after_mix"] = [round(x, 2) for x in os.getloadavg()]
        res["server"]["rss_end_mib"] = round(srv.rss_kib() / 1024, 1)
        res["server"]["hwm_mib"] = round(srv.hwm_kib() / 1024, 1)
        log(f"mix done in {wall:.1f} s ({alive} client threads still running); verifying")

        ep = summarise(stats, wall, a.warmup)
        total = sum(e["requests"] for e in ep.values())
        n5xx = sum(
            v
            for st in stats.status.values()
            for k, v in st.items()
            if isinstance(k, int) and k >= 500
        )
        transport = sum(
            v for st in stats.status.values() for k, v in st.items() if isinstance(k, str)
        )
        res["endpoints"] = ep
        bucket = max(5.0, a.duration / 30)
        res["matches_timeline"] = timeline(stats, "GET matches", bucket)
        res["post_timeline"] = timeline(stats, "POST profile", bucket)
        res["overall"] = {
            "requests": total,
            "throughput_rps": round(total / wall, 1),
            "server_5xx": n5xx,
            "transport_errors": transport,
            "created": len(run.created),
            "unknown_posts": run.unknown_posts,
            "conflicts_409": len(run.conflicts),
            "reads_of_new_ids_not_200": dict(run.new_id_errors),
            "response_mismatches": run.mismatch[:20],
            "unexpected_responses": run.unexpected,
        }

        time.sleep(2.0)
        expect = initial + len(run.created)
        rz = readyz_all(srv.base, a.workers, expect, run.unknown_posts, timeout=20)
        log(
            f"readyz per worker {rz['per_worker']} (expected {expect}"
            f"{'+' + str(run.unknown_posts) if run.unknown_posts else ''})"
        )
        res["sentence_cache_one_worker"] = sentence_cache_lookups(srv.base)
        t = time.perf_counter()
        ver = verify_created(srv.base, admin, run.created, a.verify_threads)
        ver["seconds"] = round(time.perf_counter() - t, 1)
        ver["readyz"] = rz
        log(f"verified {ver['checked']} created ids in {ver['seconds']} s: {ver['status']}")
        shutdown()
        res["server_log"] = server_log_issues(srv.log_path)
        ver["db_rows_after"] = profile_count(data_dir)
        ver["db_rows_expected"] = [expect, expect + run.unknown_posts]
        lost = len(ver["not_readable"]) + len(ver["not_in_index"]) + len(ver["not_reflected"])
        db_ok = expect <= ver["db_rows_after"] <= expect + run.unknown_posts
        res["verification"] = ver
        m = ep["GET matches"]
        res["meets_targets"] = {
            "zero_5xx": n5xx == 0,
            "zero_lost_writes": lost == 0 and rz["ok"] and db_ok,
            "matches_p99_under_250ms": m["p99_ms"] < TARGETS["matches_p99_ms"],
        }
    finally:
        shutdown()
        watchdog.cancel()
        if a.copy and data_dir != src and not a.keep_copy:
            shutil.rmtree(data_dir, ignore_errors=True)
            log(f"removed {data_dir}")

    # -- table -------------------------------------------------------------------------------
    o = res["overall"]
    print()
    print(
        f"{a.clients} clients x {res['wall_s']} s, `matchmaker serve --workers {a.workers}`, "
        f"{initial} profiles at start; loadavg start {res['loadavg_start'][0]}, after mix "
        f"{res['loadavg_after_mix'][0]}; client CPU {res['client_cpu_s']} s ({a.client} client); "
        f"connections per worker {'/'.join(map(str, res['connections_per_worker']))}; "
        "every 30 s: "
        + " ".join("/".join(map(str, x)) or "-" for x in res["connections_per_worker_every_30s"])
    )
    print()
    print("| endpoint | requests | ok | errors | rps | p50 ms | p90 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, e in res["endpoints"].items():
        errs = ", ".join(f"{k}: {v}" for k, v in e["errors"].items()) or "0"
        print(
            f"| {name} | {e['requests']} | {e['ok']} | {errs} | {e['throughput_rps']} | "
            f"{e['p50_ms']} | {e['p90_ms']} | {e['p99_ms']} | {e['max_ms']} |"
        )
    print(
        f"| **all** | {o['requests']} | | 5xx: {o['server_5xx']}, transport: "
        f"{o['transport_errors']} | {o['throughput_rps']} | | | | |"
    )
    v = res["verification"]
    print()
    print(
        f"writes: {o['created']} created (201), {o['unknown_posts']} POSTs with unknown "
        f"outcome, {o['conflicts_409']} 409; {v['patches_acknowledged']} PATCH 200 on "
        f"{v['patched_profiles']} profiles"
    )
    print(
        f"verification: readyz per worker {v['readyz']['per_worker']} (expected "
        f"{v['readyz']['expected']}) {'OK' if v['readyz']['ok'] else 'MISMATCH'}; "
        f"db rows {v['db_rows_after']}; not readable {len(v['not_readable'])}, not in index "
        f"{len(v['not_in_index'])}, PATCH not reflected {len(v['not_reflected'])}"
    )
    if o["reads_of_new_ids_not_200"] or o["response_mismatches"]:
        print(
            f"during the mix, reads of new ids not 200: {o['reads_of_new_ids_not_200']}; "
            f"response mismatches: {o['response_mismatches']}"
        )
    print(f"sentence cache (one worker): {res.get('sentence_cache_one_worker')}")
    m = res["endpoints"]["GET matches"]
    print(
        f"GET matches p99 after the first {a.warmup:g} s: "
        f"{m[f'p99_after_{a.warmup:g}s_ms']} ms; p99 per {bucket:g} s: "
        + " ".join(str(b["p99_ms"]) for b in res["matches_timeline"])
    )
    if res["server_log"]["records"]:
        print("server log warnings/errors:")
        for msg, n in res["server_log"]["records"].items():
            print(f"  {n} x {msg}")
    mt = res["meets_targets"]
    print("targets: " + ", ".join(f"{k} {'OK' if ok else 'MISS'}" for k, ok in mt.items()))
    write_result("load" + (f"-{a.tag}" if a.tag else ""), res)


if __name__ == "__main__":
    main()
