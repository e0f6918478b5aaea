"""Build (or reuse) a synthetic registry of N profiles for the scale benchmarks.

Commands (run from /work/main):

    .venv/bin/python bench/build_registry.py --n 100000 --data-dir bench/data/reg-100k
    .venv/bin/python bench/build_registry.py --n 2000 --data-dir bench/data/reg-2k
    # derive smaller registries from a bigger one (copy DB, delete id > n, matchmaker reindex):
    .venv/bin/python bench/build_registry.py --n 50000 --data-dir bench/data/reg-50k \
        --derive-from bench/data/reg-100k

Full build = ``matchmaker seed --synthetic N --random-seed 7`` with MATCHMAKER_DATA_DIR set
(SQLite default). The ONNX model cache (/work/main/data/models) is symlinked into
<data-dir>/models first so the model is not re-exported / re-quantised.

A registry is reused when <data-dir>/BUILD_OK.json exists and records the same N (and the DB
still holds N profiles); pass --force to rebuild.

Derived registries: profiles are synthetic and generated in a deterministic order, so
"the first n rows" (id <= n-th id) of the 100k registry is itself a valid registry. The
vectors are stored in the DB, so ``matchmaker reindex`` rebuilds the FAISS index without
re-encoding. (Note: the first n profiles of a 100k generation are not identical to a
fresh ``--synthetic n`` generation, since planted pairs are planned over the whole set.)

Writes bench/results/build_registry-<name>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / ".venv" / "bin" / "python"
MATCHMAKER = ROOT / ".venv" / "bin" / "matchmaker"
MODELS = ROOT / "data" / "models"
RESULTS = ROOT / "bench" / "results"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def db_count(db: Path) -> int | None:
    if not db.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM profiles").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return None


def link_models(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / "models"
    if target.exists() or target.is_symlink():
        return
    if MODELS.exists():
        target.symlink_to(MODELS.resolve(), target_is_directory=True)
        log(f"symlinked {target} -> {MODELS}")


def env_for(data_dir: Path, cache: int) -> dict[str, str]:
    env = dict(os.environ)
    env["MATCHMAKER_DATA_DIR"] = str(data_dir.resolve())
    env["MATCHMAKER_EMBEDDING_CACHE_SIZE"] = str(cache)
    env.pop("MATCHMAKER_DATABASE_URL", None)
    env.setdefault("MATCHMAKER_LOG_LEVEL", "INFO")
    return env


def run_logged(cmd: list[str], env: dict[str, str], db: Path, timeout: float, every: float = 60.0):
    """Run cmd; every `every` s print the DB profile count (progress)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=sys.stdout, stderr=sys.stderr)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every):
            c = db_count(db)
            el = time.perf_counter() - start
            rate = f", {c / el:.0f} profiles/s" if c else ""
            log(f"  ... {el:.0f} s elapsed, {c} profiles in DB{rate}")

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(30)
        raise SystemExit(f"timed out after {timeout} s: {' '.join(cmd)}")
    finally:
        stop.set()
    if rc != 0:
        raise SystemExit(f"command failed rc={rc}: {' '.join(cmd)}")
    return time.perf_counter() - start


def build(n: int, data_dir: Path, seed: int, cache: int, timeout: float) -> dict:
    link_models(data_dir)
    db = data_dir / "matchmaker.db"
    cmd = [str(MATCHMAKER), "seed", "--synthetic", str(n), "--random-seed", str(seed)]
    log(
        f"building: MATCHMAKER_DATA_DIR={data_dir} MATCHMAKER_EMBEDDING_CACHE_SIZE={cache} "
        + " ".join(cmd)
    )
    el = run_logged(cmd, env_for(data_dir, cache), db, timeout)
    return {"mode": "seed", "seed_seconds": round(el, 1), "command": " ".join(cmd)}


def derive(n: int, data_dir: Path, src_dir: Path, timeout: float) -> dict:
    src_db = src_dir / "matchmaker.db"
    src_n = db_count(src_db)
    if not src_n or src_n < n:
        raise SystemExit(f"source registry {src_dir} has {src_n} profiles (< {n})")
    link_models(data_dir)
    db = data_dir / "matchmaker.db"
    t0 = time.perf_counter()
    # consistent copy of a WAL database via the backup API
    src = sqlite3.connect(f"file:{src_db}?mode=ro", uri=True)
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        p.unlink(missing_ok=True)
    shutil.rmtree(data_dir / "index", ignore_errors=True)
    dst = sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA foreign_keys=ON")  # child rows (vectors, ...) cascade
    (cut,) = dst.execute(
        "SELECT id FROM profiles ORDER BY id LIMIT 1 OFFSET ?", (n - 1,)
    ).fetchone()
    dst.execute("DELETE FROM profiles WHERE id > ?", (cut,))  # embeddings, keys cascade
    dst.execute("DELETE FROM profile_changes WHERE profile_id > ?", (cut,))  # no FK: by hand
    dst.commit()
    dst.execute("VACUUM")
    dst.close()
    copy_s = time.perf_counter() - t0
    cmd = [str(MATCHMAKER), "reindex"]
    log(f"derived DB with {db_count(db)} profiles in {copy_s:.1f} s; running {' '.join(cmd)}")
    el = run_logged(cmd, env_for(data_dir, 50_000), db, timeout)
    return {
        "mode": "derive",
        "source": str(src_dir),
        "copy_delete_seconds": round(copy_s, 1),
        "reindex_seconds": round(el, 1),
        "command": " ".join(cmd),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--random-seed", type=int, default=7)
    ap.add_argument(
        "--cache-size",
        type=int,
        default=500_000,
        help="MATCHMAKER_EMBEDDING_CACHE_SIZE during the build",
    )
    ap.add_argument(
        "--derive-from",
        type=Path,
        default=None,
        help="copy this (bigger) registry's DB, keep the first N profiles, reindex",
    )
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="max seconds for the build")
    ap.add_argument("--force", action="store_true")
    ap.add_argument(
        "--reindex",
        action="store_true",
        help="when reusing, run `matchmaker reindex` so the saved FAISS index matches "
        "the current code/settings (else the server rebuilds it at start)",
    )
    a = ap.parse_args()

    log(f"loadavg at start: {os.getloadavg()}  cpus: {os.cpu_count()}")
    data_dir = a.data_dir if a.data_dir.is_absolute() else (Path.cwd() / a.data_dir)
    db = data_dir / "matchmaker.db"
    marker = data_dir / "BUILD_OK.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"build_registry-{data_dir.name}.json"

    if marker.exists() and not a.force:
        info = json.loads(marker.read_text())
        if info.get("n") == a.n and db_count(db) == info.get("profiles"):
            log(f"reusing {data_dir}: {info['profiles']} profiles (built {info.get('built_at')})")
            if a.reindex:
                el = run_logged(
                    [str(MATCHMAKER), "reindex"], env_for(data_dir, 50_000), db, a.timeout
                )
                log(f"matchmaker reindex: {el:.1f} s")
                info["last_reindex_seconds"] = round(el, 1)
                info["last_reindex_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                marker.write_text(json.dumps(info, indent=2))
            print(json.dumps(info, indent=2))
            return
        log("marker present but does not match; rebuilding")
    if a.force or marker.exists():
        marker.unlink(missing_ok=True)
        for p in ("matchmaker.db", "matchmaker.db-wal", "matchmaker.db-shm"):
            (data_dir / p).unlink(missing_ok=True)
        shutil.rmtree(data_dir / "index", ignore_errors=True)
    elif db.exists() and (db_count(db) or 0) > 0 and not a.derive_from:
        log(
            f"WARNING: {db} has {db_count(db)} profiles but no marker (interrupted build?); "
            "seeding is idempotent, continuing"
        )

    t0 = time.perf_counter()
    load0 = os.getloadavg()
    if a.derive_from:
        src = a.derive_from if a.derive_from.is_absolute() else Path.cwd() / a.derive_from
        info = derive(a.n, data_dir, src, a.timeout)
    else:
        info = build(a.n, data_dir, a.random_seed, a.cache_size, a.timeout)
    total = time.perf_counter() - t0
    count = db_count(db)
    info.update(
        {
            "n": a.n,
            "profiles": count,
            "data_dir": str(data_dir),
            "random_seed": a.random_seed,
            "total_seconds": round(total, 1),
            "profiles_per_second": round((count or 0) / total, 1),
            "loadavg_start": load0,
            "loadavg_end": os.getloadavg(),
            "db_bytes": db.stat().st_size,
            "index_bytes": sum(
                p.stat().st_size for p in (data_dir / "index").rglob("*") if p.is_file()
            )
            if (data_dir / "index").exists()
            else 0,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    marker.write_text(json.dumps(info, indent=2))
    out.write_text(json.dumps(info, indent=2))
    print()
    print(f"{'registry':<14}{'profiles':>10}{'mode':>8}{'seconds':>10}{'prof/s':>9}{'DB MiB':>9}")
    print(
        f"{data_dir.name:<14}{count:>10}{info['mode']:>8}{total:>10.1f}"
        f"{info['profiles_per_second']:>9.1f}{info['db_bytes'] / 2**20:>9.1f}"
    )
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
