"""Shared helpers of the bench scripts (server process, RSS, results). Not a benchmark itself."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MATCHMAKER = ROOT / ".venv" / "bin" / "matchmaker"
MODELS = ROOT / "data" / "models"
RESULTS = ROOT / "bench" / "results"
LOGS = ROOT / "bench" / "logs"
ADMIN_KEY = "bench-admin-key-0123456789"
# Absolute PYTHONPATH (bench/snapshot_code.py) so subprocesses import the same pinned code.
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        str(Path(p).resolve()) for p in os.environ["PYTHONPATH"].split(os.pathsep) if p
    )
HOST = "127.0.0.1"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def code_version() -> dict[str, Any]:
    """The service code being measured: git HEAD and uncommitted changes under service/,
    embeddings/ (the code under test is edited by others while benchmarks run)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    import importlib.util

    spec = importlib.util.find_spec("service")
    origin = Path(spec.origin).resolve().parents[1] if spec and spec.origin else None
    if origin is not None and (origin / "SNAPSHOT_REV").exists():  # bench/snapshot_code.py
        rev = (origin / "SNAPSHOT_REV").read_text().strip()
        return {
            "head": rev,
            "head_subject": git("log", "-1", "--format=%s", rev)[:120],
            "dirty": [],
            "snapshot": str(origin),
        }
    dirty = git("status", "--porcelain", "--", "service", "embeddings").splitlines()
    return {
        "head": git("rev-parse", "--short", "HEAD"),
        "head_subject": git("log", "-1", "--format=%s")[:120],
        "dirty": dirty,
        "snapshot": None,
    }


def header(name: str) -> dict[str, Any]:
    la = os.getloadavg()
    cv = code_version()
    log(
        f"{name}: loadavg at start {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, cpus {os.cpu_count()}; "
        f"code {cv['head']}{' +uncommitted ' + str(len(cv['dirty'])) + ' files' if cv['dirty'] else ''}"
    )
    return {
        "loadavg_start": [round(x, 2) for x in la],
        "cpus": os.cpu_count(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "code": cv,
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    end = code_version()
    if data.get("code") and end != data["code"]:
        log(
            f"WARNING: service code changed during the run ({data['code']['head']} -> "
            f"{end['head']}, dirty {end['dirty']}); figures may mix versions"
        )
        data["code_at_end"] = end
    data.setdefault("loadavg_end", [round(x, 2) for x in os.getloadavg()])
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    log(f"wrote {path}")
    return path


def abspath(p: Path) -> Path:
    return p if p.is_absolute() else (Path.cwd() / p).resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ensure_models(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    t = data_dir / "models"
    if not (t.exists() or t.is_symlink()) and MODELS.exists():
        t.symlink_to(MODELS.resolve(), target_is_directory=True)


def profile_ids(data_dir: Path) -> list[str]:
    con = sqlite3.connect(f"file:{data_dir / 'matchmaker.db'}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT public_id FROM profiles ORDER BY id")]
    finally:
        con.close()


def profile_count(data_dir: Path) -> int:
    db = data_dir / "matchmaker.db"
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM profiles").fetchone()[0])
    finally:
        con.close()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM / VmSize of a process in KiB (empty if it is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "VmSize", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def tree_status_kib(pid: int, field: str) -> int:
    """A /proc status field (VmRSS, VmHWM) of pid plus its descendants (uvicorn --workers > 1
    forks)."""
    total = proc_status(pid).get(field, 0)
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return total + sum(tree_status_kib(int(k), field) for k in kids)


def tree_rss_kib(pid: int) -> int:
    return tree_status_kib(pid, "VmRSS")


def tree_hwm_kib(pid: int) -> int:
    return tree_status_kib(pid, "VmHWM")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    i = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[i]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def code_dir(env: dict[str, str]) -> Path:
    """Where to start a server: the pinned code's folder (bench/snapshot_code.py) when
    PYTHONPATH names one, else the checkout. Alembic configs before 2026-11-26 put the working
    directory first on sys.path when migrating, so a pinned server started in the checkout
    imported every module not yet loaded (``embeddings``, for one) from the checkout."""
    for p in env.get("PYTHONPATH", "").split(os.pathsep):
        if p and (Path(p) / "SNAPSHOT_REV").exists():
            return Path(p)
    return ROOT


class Server:
    """``matchmaker serve`` on 127.0.0.1 against a data dir; readiness and RSS sampling."""

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 1,
        extra_env: dict | None = None,
        log_name: str = "server",
        ready_timeout: float = 900.0,
    ) -> None:
        self.data_dir = abspath(data_dir)
        self.port = free_port()
        self.workers = workers
        self.base = f"http://{HOST}:{self.port}"
        self.ready_timeout = ready_timeout
        self.env = dict(os.environ)
        self.env.pop("MATCHMAKER_DATABASE_URL", None)
        self.env |= {
            "MATCHMAKER_DATA_DIR": str(self.data_dir),
            "MATCHMAKER_ADMIN_KEY": ADMIN_KEY,
            "MATCHMAKER_RATE_LIMIT_ENABLED": "false",
            "MATCHMAKER_LOG_LEVEL": "WARNING",
        } | (extra_env or {})
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{log_name}-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.rss_timeline: list[tuple[float, int]] = []
        self._stop = threading.Event()

    def cmd(self) -> list[str]:
        return [
            str(MATCHMAKER),
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]

    # How a load balancer polls: a fresh connection per probe, a short timeout, every 0.2 s.
    # The poll used to keep one connection open with a 5 s timeout: the serve process hands a
    # connection to one worker for good, so a probe sent while that worker was still loading
    # its index waited out the timeout, and ready times came out at 13-20 s where fresh probes
    # saw 9 s.
    PROBE_TIMEOUT_S = 1.0
    PROBE_INTERVAL_S = 0.2

    def probe(self) -> dict | None:
        """One /readyz probe on a fresh connection: its JSON when 200, else None."""
        import http.client

        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.PROBE_TIMEOUT_S)
        try:
            conn.request("GET", "/readyz")
            r = conn.getresponse()
            body = r.read()
            return json.loads(body) if r.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            conn.close()

    def start(self) -> float:
        """Start and poll /readyz like a load balancer (fresh connections, 1 s timeout, every
        0.2 s) until every worker has answered 200; returns seconds from process start to
        then (``ready_s``). ``first_ready_s``: until the first 200 from any worker."""
        ensure_models(self.data_dir)
        self._fh = open(self.log_path, "w")  # noqa: SIM115
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd(),
            env=self.env,
            cwd=code_dir(self.env),
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )
        self._t0 = t0
        threading.Thread(target=self._sample, daemon=True).start()
        deadline = t0 + self.ready_timeout
        seen: set[int] = set()
        self.first_ready_s = None
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited rc={self.proc.returncode}; see {self.log_path}")
            sent = time.perf_counter()
            body = self.probe()
            if body is not None:
                if self.first_ready_s is None:
                    self.first_ready_s = time.perf_counter() - t0
                seen.add(body["worker"])
                if len(seen) >= self.workers:
                    self.ready_s = time.perf_counter() - t0
                    self.readyz = body
                    return self.ready_s
            time.sleep(max(0.0, self.PROBE_INTERVAL_S - (time.perf_counter() - sent)))
        self.stop()
        raise RuntimeError(f"server not ready after {self.ready_timeout} s; see {self.log_path}")

    def _sample(self) -> None:
        while not self._stop.is_set() and self.proc and self.proc.poll() is None:
            self.rss_timeline.append((time.perf_counter() - self._t0, tree_rss_kib(self.proc.pid)))
            self._stop.wait(0.1)

    def rss_kib(self) -> int:
        return tree_rss_kib(self.proc.pid) if self.proc else 0

    def hwm_kib(self) -> int:
        """Peak RSS (VmHWM) of the server process, summed over its children (upper bound)."""
        return tree_hwm_kib(self.proc.pid) if self.proc else 0

    def stop(self) -> None:
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_fh", None):
            self._fh.close()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def connection_split(base: str, delay: float) -> list[int]:
    """Fill (after ``delay`` s, from a timer thread) the returned list with the number of
    established client connections each server process holds, most first (``ss``).

    Keep-alive connections stay with the worker that took them. With uvicorn's own workers
    the kernel chose: 8 clients came out as 4/4, 6/2 or even 8/0, and a worker holding 6 of
    them queued while the other idled. Since 3e3830b the serve process hands each connection
    to the worker holding the fewest, so the split should be even; the bench still records it
    next to every concurrent phase, as throughput and p50 follow it."""
    out: list[int] = []
    port = base.rsplit(":", 1)[1]

    def sample() -> None:
        try:
            text = subprocess.run(
                ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return
        pids: dict[str, int] = {}
        for line in text.splitlines():
            for pid in set(re.findall(r"pid=(\d+)", line)):
                pids[pid] = pids.get(pid, 0) + 1
        out.extend(sorted(pids.values(), reverse=True))

    t = threading.Timer(delay, sample)
    t.daemon = True
    t.start()
    return out
