"""Server response time of each console page over a big registry (target: under 300 ms each).

Command (from the repository root; the registry comes from bench/build_registry.py):

    .venv/bin/python bench/console.py --data-dir bench/data/reg-100k --requests 40

A real ``matchmaker serve`` (one worker, rate limits off) on the registry's data folder. Set-up,
once per registry (kept in its database, skipped when there is workflow data already): owners'
interests between random IN and KR profiles (--interests, a third of them accepted, a sixth
declined), and brokered introductions by an official (--brokered); an owner key is re-issued
for one introduced profile, so "own profile" is a real owner's page. Then three console
sessions (anonymous, official, owner) sign in through the sign-in form, and each page is
fetched --warmup times, then --requests times one after the other (the profile pages cycle
through --profiles different profiles). Each time is the wall time of one request on a kept-
alive connection to 127.0.0.1: the server's response time plus a loopback round trip.

The pairings page shows snapshots (service/console/pairings.py): the warm-up waits until its
snapshot is in, and what is timed is the page as a user sees it from then on; the time to the
first snapshot after start is reported beside it.

Writes bench/results/console-<registry>.json: p50, p95 and max per page, the load average before
and after, and the code version.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _common import ADMIN_KEY, MATCHMAKER, Server, abspath, header, log, pct, write_result

TARGET_MS = 300.0
SECTORS = ("semiconductors", "ai", "clean_energy", "shipbuilding", "defence")


def profiles_by_country(data_dir: Path) -> dict[str, list[str]]:
    con = sqlite3.connect(f"file:{data_dir / 'matchmaker.db'}?mode=ro", uri=True)
    try:
        out: dict[str, list[str]] = {"IN": [], "KR": []}
        for pid, country in con.execute("SELECT public_id, country FROM profiles ORDER BY id"):
            out[country].append(pid)
        return out
    finally:
        con.close()


def official_key(srv: Server) -> str:
    done = subprocess.run(
        [str(MATCHMAKER), "keys", "create", "--role", "official", "--label", "bench console"],
        env=srv.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def set_up_workflow(
    api: httpx.Client, official: str, ids: dict[str, list[str]], n: int, brokered: int
) -> dict:
    """Interests and introductions, unless the registry has some already."""
    have = api.get("/v1/introductions?limit=1", headers={"X-API-Key": official}).json()
    if sum(have["counts"].values()) > 0:
        log(f"workflow data present: {have['counts']}")
        return {"created": False, "counts": have["counts"]}
    rnd = random.Random(7)
    admin = {"X-API-Key": ADMIN_KEY}
    t0 = time.perf_counter()
    sent = 0
    for i in range(n):
        a, b = rnd.choice(ids["IN"]), rnd.choice(ids["KR"])
        src, dst = (a, b) if i % 2 else (b, a)
        r = api.post(
            f"/v1/profiles/{src}/interests",
            json={"to": dst, "message": "Bench: shall we talk?"},
            headers=admin,
        )
        if r.status_code != 201:
            continue
        sent += 1
        if i % 3 == 0:
            api.post(f"/v1/interests/{r.json()['id']}/accept", headers=admin)
        elif i % 6 == 1:
            api.post(
                f"/v1/interests/{r.json()['id']}/decline", json={"reason": "not_now"}, headers=admin
            )
    for _ in range(brokered):
        pair = [rnd.choice(ids["IN"]), rnd.choice(ids["KR"])]
        api.post(
            "/v1/introductions",
            json={"profiles": pair, "message": "Bench: the trade desk suggests it."},
            headers={"X-API-Key": official},
        )
    counts = api.get("/v1/introductions?limit=1", headers={"X-API-Key": official}).json()
    log(f"set up {sent} interests, {brokered} brokered in {time.perf_counter() - t0:.0f} s")
    return {"created": True, "interests": sent, "brokered": brokered, "counts": counts["counts"]}


def console_session(base: str, key: str | None) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=120)
    page = c.get("/console/signin")
    if key is not None:
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = c.post("/console/signin", data={"api_key": key, "csrf": csrf})
        assert r.status_code == 303, r.status_code
    return c


def timed(c: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    r = c.get(path)
    return (time.perf_counter() - t0) * 1000, r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--profiles", type=int, default=40, help="profiles the profile pages cycle")
    ap.add_argument("--interests", type=int, default=600)
    ap.add_argument("--brokered", type=int, default=60)
    ap.add_argument("--tag", default=None)
    a = ap.parse_args()
    data_dir = abspath(a.data_dir)
    result = header("console") | {
        "command": "python bench/console.py " + " ".join(sys.argv[1:]),
        "registry": data_dir.name,
        "target_ms": TARGET_MS,
    }
    ids = profiles_by_country(data_dir)
    result["profiles"] = len(ids["IN"]) + len(ids["KR"])
    log(f"registry {data_dir.name}: {result['profiles']} profiles")
    with Server(data_dir, log_name="console") as srv:
        result["server_ready_s"] = round(srv.ready_s, 1)
        api = httpx.Client(base_url=srv.base, timeout=300)
        off = official_key(srv)
        result["setup"] = set_up_workflow(api, off, ids, a.interests, a.brokered)
        intros = api.get("/v1/introductions?state=active&limit=50", headers={"X-API-Key": off})
        active = intros.json()["items"]
        ix = active[0]
        mine = ix["parties"][0]["profile"]["id"]
        owner = api.post(f"/v1/profiles/{mine}/owner-key", headers={"X-API-Key": ADMIN_KEY})
        owner_key = owner.json()["api_key"]

        anon, staff, firm = (console_session(srv.base, k) for k in (None, off, owner_key))
        rnd = random.Random(11)
        sample = rnd.sample(ids["IN"], a.profiles // 2) + rnd.sample(ids["KR"], a.profiles // 2)
        first_reg = staff.get("/console/registry").text
        deep = re.search(r'rel="next" href="([^"]+)"', first_reg).group(1).replace("&amp;", "&")

        # the pairings snapshot: time from the first view to the figures being in
        t0 = time.perf_counter()
        staff.get("/console/pairings")
        while "pairings-pending" in staff.get("/console/pairings/figures").text:
            time.sleep(0.5)
        result["pairings_first_snapshot_s"] = round(time.perf_counter() - t0, 1)
        log(f"pairings snapshot in {result['pairings_first_snapshot_s']} s")
        t0 = time.perf_counter()
        staff.get("/console/pairings?sector=semiconductors")
        while (
            "pairings-pending" in staff.get("/console/pairings/figures?sector=semiconductors").text
        ):
            time.sleep(0.5)
        result["pairings_sector_first_snapshot_s"] = round(time.perf_counter() - t0, 1)

        pages: list[tuple[str, httpx.Client, list[str]]] = [
            ("sign-in", anon, ["/console/signin"]),
            ("register", anon, ["/console/register"]),
            ("registry", staff, ["/console/registry"]),
            ("registry, next page", staff, [deep]),
            ("registry, search", staff, ["/console/registry?q=battery&country=KR"]),
            # a word no profile has: the search reads its bound (10,000 profiles) of texts
            ("registry, search, no match", staff, ["/console/registry?q=zephyrine"]),
            ("registry, sector", staff, [f"/console/registry?sector={s}" for s in SECTORS]),
            ("profile (official)", staff, [f"/console/profiles/{p}" for p in sample]),
            ("pairings", staff, ["/console/pairings"]),
            ("pairings, sector", staff, ["/console/pairings?sector=semiconductors"]),
            ("exports", staff, ["/console/exports"]),
            ("introductions", staff, ["/console/introductions"]),
            (
                "introductions, filtered",
                staff,
                ["/console/introductions?state=active&sector=clean_energy"],
            ),
            ("introduction", staff, [f"/console/introductions/{i['id']}" for i in active]),
            ("screening queue", staff, ["/console/screening"]),
            ("own profile (firm)", firm, [f"/console/profiles/{mine}"]),
            ("own introduction (firm)", firm, [f"/console/introductions/{ix['id']}"]),
        ]
        rows = {}
        for name, client, paths in pages:
            for i in range(a.warmup):
                client.get(paths[i % len(paths)])
            times = []
            for i in range(a.requests):
                ms, r = timed(client, paths[i % len(paths)])
                assert r.status_code == 200, (name, r.status_code, r.text[:300])
                times.append(ms)
            rows[name] = {
                "p50_ms": round(pct(times, 50), 1),
                "p95_ms": round(pct(times, 95), 1),
                "max_ms": round(max(times), 1),
                "requests": len(times),
                "paths": len(paths),
                "bytes": len(r.content),
                "meets_target": pct(times, 95) < TARGET_MS,
            }
            log(f"{name:<26} p50 {rows[name]['p50_ms']:>7.1f}  p95 {rows[name]['p95_ms']:>7.1f} ms")
        result["pages"] = rows
        result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(f"{'page':<26}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, row in rows.items():
        flag = "" if row["meets_target"] else "  > target"
        print(f"{name:<26}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['max_ms']:>9.1f}{flag}")
    print(f"load average start {result['loadavg_start']}, end {result['loadavg_end']}")
    name = f"console-{data_dir.name}" + (f"-{a.tag}" if a.tag else "")
    write_result(name, result)


if __name__ == "__main__":
    main()
