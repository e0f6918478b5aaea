"""Scale of the whole-registry export, and bulk export vs the naive per-profile HTTP loop.

Command (run from /work/main; registries from bench/build_registry.py):

    .venv/bin/python bench/export_scale.py \
        --registries bench/data/reg-10k bench/data/reg-50k bench/data/reg-100k \
        --naive-registry bench/data/reg-2k

Part A, for each registry that exists: ``matchmaker export --format parquet --out F --top-k 10``
as a subprocess (MATCHMAKER_DATA_DIR=<registry>): wall seconds (includes process start, index
load from disk and the export itself), rows, file size, and peak RSS of the child
(ru_maxrss from os.wait4). With --breakdown, the same export is also run in a separate
in-process child that times its stages: index load, candidate_pairs (FAISS + re-rank for every
profile), iter_rows (DB reads + explanations) and the Parquet writing, with the CPU seconds
(user + system, all threads) of each.
Part B, on the 2,000-profile registry, in the same run: (1) the same CLI export, (2) the naive
loop: one GET /v1/profiles/{id}/matches?limit=10 per profile, sequential, through a real
``matchmaker serve`` (startup not counted); ratio = naive seconds / export seconds. It also
checks that each profile's top-10 in the export (rank_for_in / rank_for_kr) equals /matches.

Targets: 100k export <= 60 s and <= 2 GiB peak. Each export is killed after --timeout s.
Writes bench/results/export_scale[-<tag>].json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import (
    ADMIN_KEY,
    MATCHMAKER,
    ROOT,
    Server,
    abspath,
    header,
    log,
    profile_count,
    profile_ids,
    write_result,
)

TARGET_S, TARGET_BYTES = 60.0, 2 * 2**30


def run_measured(cmd: list[str], env: dict, timeout: float) -> dict:
    """Run cmd, return wall time, rc, output and the child's peak RSS (ru_maxrss, KiB)."""
    out = tempfile.TemporaryFile(mode="w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.send_signal(signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    text = out.read()
    return {
        "seconds": round(wall, 2),
        "rc": proc.returncode,
        "timed_out": killed.is_set(),
        "peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
        "cpu_user_s": round(ru.ru_utime, 1),
        "cpu_sys_s": round(ru.ru_stime, 1),
        "output_tail": text[-1500:],
    }


def cli_export(data_dir: Path, out: Path, timeout: float, top_k: int) -> dict:
    env = dict(os.environ)
    env.pop("MATCHMAKER_DATABASE_URL", None)
    env |= {"MATCHMAKER_DATA_DIR": str(data_dir), "MATCHMAKER_LOG_LEVEL": "WARNING"}
    cmd = [
        str(MATCHMAKER),
        "export",
        "--format",
        "parquet",
        "--out",
        str(out),
        "--top-k",
        str(top_k),
    ]
    r = run_measured(cmd, env, timeout)
    m = re.search(r"(\d+) rows written", r["output_tail"])
    r["rows"] = int(m.group(1)) if m else None
    # the CLI rebuilds a stale/mismatched saved index in memory (and does not save it)
    r["index_rebuilt"] = "rebuilding the search index" in r["output_tail"]
    r["file_mib"] = round(out.stat().st_size / 2**20, 1) if out.exists() else None
    r["command"] = f"MATCHMAKER_DATA_DIR={data_dir} " + " ".join(cmd)
    return r


BREAKDOWN = r"""
import gc, json, sys, time, resource
from pathlib import Path
t0 = time.perf_counter()
try:  # code since the collector pause: stages as the CLI runs them (collector paused, heap trimmed)
    from service.core.memory import release_free_memory
    gc.disable()
except ImportError:
    release_free_memory = lambda: None
from embeddings.encoder import model_dimension
from service.bootstrap import build_index
from service.config import Settings
from service.db import create_db_engine, create_session_factory
from service.exports.schemas import ExportParams
from service.exports import writer as W
s = Settings()
sessions = create_session_factory(create_db_engine(s.resolved_database_url))
index = build_index(s, model_dimension(s.resolved_model_path()))
with sessions() as session:
    how = index.load_or_rebuild(session)
release_free_memory()
t1, c1 = time.perf_counter(), time.process_time()
params = ExportParams(format="parquet", top_k=int(sys.argv[2]))
pairs = W.candidate_pairs(index, params, s, lambda p: None)
if hasattr(W, "write_pairs"):  # as the CLI since 8f372c5: the index goes once pairs are ranked
    index = None
t2, c2 = time.perf_counter(), time.process_time()
rss_pairs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows_s = write_s = 0.0
rows = 0
out = Path(sys.argv[1])
wr = W._Writer("parquet", out)
with sessions() as session:
    extra = (s.ranker.competitor_threshold,) if hasattr(s, "ranker") else ()  # older code: none
    it = W.iter_rows(session, index, pairs, lambda p: None, *extra)
    while True:
        a = time.perf_counter()
        chunk = next(it, None)
        b = time.perf_counter()
        rows_s += b - a
        if chunk is None:
            break
        wr.write(chunk)
        write_s += time.perf_counter() - b
        # iter_rows yields a list of row dicts (older code) or a dict of columns (newer code)
        rows += len(next(iter(chunk.values()))) if isinstance(chunk, dict) else len(chunk)
wr.close()
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({"index_load_s": round(t1 - t0, 2), "index_how": how,
                  "candidate_pairs_s": round(t2 - t1, 2), "iter_rows_s": round(rows_s, 2),
                  "cpu_s": {"start_and_index_load": round(c1, 1), "candidate_pairs":
                            round(c2 - c1, 1), "rows_and_write": round(c3 - c2, 1)},
                  "parquet_write_s": round(write_s, 2), "total_s": round(t3 - t0, 2),
                  "rows": rows, "peak_rss_after_pairs_mib": round(rss_pairs / 1024, 1),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                        / 1024, 1)}))
"""


def breakdown(data_dir: Path, out: Path, timeout: float, top_k: int) -> dict:
    import json

    env = dict(os.environ)
    env.pop("MATCHMAKER_DATABASE_URL", None)
    env |= {"MATCHMAKER_DATA_DIR": str(data_dir), "MATCHMAKER_LOG_LEVEL": "WARNING"}
    r = run_measured([sys.executable, "-P", "-c", BREAKDOWN, str(out), str(top_k)], env, timeout)
    try:
        return json.loads(r["output_tail"].strip().splitlines()[-1]) | {"wall_s": r["seconds"]}
    except (ValueError, IndexError):
        return {"error": r["output_tail"][-600:], "rc": r["rc"], "timed_out": r["timed_out"]}


def naive_loop(data_dir: Path, limit: int, timeout: float) -> dict:
    import httpx

    ids = profile_ids(data_dir)
    tops: dict[str, list[str]] = {}
    errors = 0
    with Server(data_dir, log_name="export-naive") as srv:
        with httpx.Client(base_url=srv.base, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as c:
            c.get(f"/v1/profiles/{ids[0]}/matches", params={"limit": limit})  # warm
            t0 = time.perf_counter()
            deadline = t0 + timeout
            for pid in ids:
                if time.perf_counter() > deadline:
                    break
                r = c.get(f"/v1/profiles/{pid}/matches", params={"limit": limit})
                if r.status_code != 200:
                    errors += 1
                    continue
                tops[pid] = [m["profile"]["id"] for m in r.json()["matches"]]
            wall = time.perf_counter() - t0
    done = len(tops) + errors
    return {
        "requests": done,
        "errors": errors,
        "seconds": round(wall, 2),
        "extrapolated_seconds_all": round(wall * len(ids) / max(done, 1), 2),
        "ms_per_request": round(1000 * wall / max(done, 1), 2),
        "complete": done == len(ids),
        "_tops": tops,
    }


def compare_tops(parquet: Path, tops: dict[str, list[str]]) -> dict:
    import pyarrow.parquet as pq

    t = pq.read_table(parquet, columns=["in_id", "kr_id", "rank_for_in", "rank_for_kr"])
    d = t.to_pydict()
    exp: dict[str, dict[int, str]] = {}
    for a, b, ra, rb in zip(
        d["in_id"], d["kr_id"], d["rank_for_in"], d["rank_for_kr"], strict=True
    ):
        if ra:
            exp.setdefault(a, {})[ra] = b
        if rb:
            exp.setdefault(b, {})[rb] = a
    same = sum(
        1
        for pid, lst in tops.items()
        if [exp.get(pid, {}).get(i + 1) for i in range(len(lst))] == lst
    )
    return {
        "profiles_compared": len(tops),
        "identical_top10": same,
        "identical_fraction": round(same / max(len(tops), 1), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--registries",
        type=Path,
        nargs="*",
        default=[
            Path("bench/data/reg-10k"),
            Path("bench/data/reg-50k"),
            Path("bench/data/reg-100k"),
        ],
    )
    ap.add_argument("--naive-registry", type=Path, default=Path("bench/data/reg-2k"))
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=1200.0, help="per export, seconds")
    ap.add_argument("--naive-timeout", type=float, default=600.0)
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="also time export stages in-process (one extra export per registry)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the parquet files")
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    a = ap.parse_args()

    res = header("export_scale")
    res["command"] = "python bench/export_scale.py " + " ".join(sys.argv[1:])
    tmp = Path(tempfile.mkdtemp(prefix="export-bench-", dir=ROOT / "bench" / "data"))
    res["exports"] = []
    try:
        for reg in map(abspath, a.registries):
            n = profile_count(reg)
            if n == 0:
                log(f"skip {reg}: no registry")
                continue
            out = tmp / f"{reg.name}.parquet"
            log(f"export {reg.name} ({n} profiles) ...")
            r = cli_export(reg, out, a.timeout, a.top_k)
            r |= {"registry": reg.name, "profiles": n}
            log(f"  {r['seconds']} s, rc {r['rc']}, {r['rows']} rows, peak {r['peak_rss_mib']} MiB")
            if a.breakdown and r["rc"] == 0:
                r["breakdown"] = breakdown(reg, tmp / f"{reg.name}-bd.parquet", a.timeout, a.top_k)
                log(f"  breakdown: {r['breakdown']}")
            res["exports"].append(r)
            if not a.keep:
                for f in tmp.glob(f"{reg.name}*.parquet"):
                    f.unlink()

        nreg = abspath(a.naive_registry)
        if profile_count(nreg):
            log(f"naive vs bulk on {nreg.name} ({profile_count(nreg)} profiles)")
            out = tmp / "naive-bulk.parquet"
            bulk = cli_export(nreg, out, a.timeout, a.top_k)
            log(f"  bulk export {bulk['seconds']} s, {bulk['rows']} rows")
            naive = naive_loop(nreg, a.top_k, a.naive_timeout)
            tops = naive.pop("_tops")
            log(f"  naive loop {naive['seconds']} s for {naive['requests']} requests")
            check = compare_tops(out, tops) if out.exists() else {}
            res["naive_vs_bulk"] = {
                "registry": nreg.name,
                "profiles": profile_count(nreg),
                "bulk": bulk,
                "naive": naive,
                "consistency": check,
                "ratio_naive_over_bulk": round(
                    naive["extrapolated_seconds_all"] / bulk["seconds"], 2
                ),
            }
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        f"{'registry':<12}{'profiles':>9}{'seconds':>9}{'rows':>10}{'file MiB':>9}"
        f"{'peak MiB':>9}{'cpu s':>7}  target(<=60 s, <=2 GiB)"
    )
    for r in res["exports"]:
        ok = r["rc"] == 0 and r["seconds"] <= TARGET_S and r["peak_rss_mib"] * 2**20 <= TARGET_BYTES
        print(
            f"{r['registry']:<12}{r['profiles']:>9}{r['seconds']:>9.1f}{r['rows'] or 0:>10}"
            f"{r['file_mib'] or 0:>9.1f}{r['peak_rss_mib']:>9.1f}{r['cpu_user_s']:>7.0f}  "
            + ("OK" if ok else ("FAILED rc=%s" % r["rc"] if r["rc"] else "MISS"))
        )
        if "breakdown" in r:
            b = r["breakdown"]
            print(f"{'':<12}stages: " + ", ".join(f"{k}={v}" for k, v in b.items()))
    if "naive_vs_bulk" in res:
        nb = res["naive_vs_bulk"]
        print(
            f"\n{nb['registry']} ({nb['profiles']} profiles): bulk export {nb['bulk']['seconds']:.1f}"
            f" s (CLI, incl. start-up) vs naive {nb['naive']['requests']} x GET /matches "
            f"{nb['naive']['seconds']:.1f} s ({nb['naive']['ms_per_request']:.1f} ms each) "
            f"-> naive/bulk = {nb['ratio_naive_over_bulk']:.1f}x; identical top-10: "
            f"{nb['consistency'].get('identical_top10')}/{nb['consistency'].get('profiles_compared')}"
        )
    res["targets"] = {"export_100k_s": TARGET_S, "export_100k_peak_bytes": TARGET_BYTES}
    write_result(f"export_scale{'-' + a.tag if a.tag else ''}", res)


if __name__ == "__main__":
    main()
