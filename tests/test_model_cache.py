"""The ONNX model cache: written once, safely, by one of several processes starting at once."""

from __future__ import annotations

import subprocess
import sys
import time

import onnxruntime as ort

from service.config import Settings

CHILD = """
import logging, sys, time
from pathlib import Path
logging.basicConfig(level="INFO", format="%(levelname)s %(name)s %(message)s")
from embeddings.onnx_cache import prepare_onnx
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
print(prepare_onnx(sys.argv[1], Path(sys.argv[3]), quantize=True))
"""


def test_processes_preparing_a_fresh_cache_at_once_all_succeed_and_it_is_written_once(tmp_path):
    """Two workers on a fresh data folder both exported and quantised the model through the
    same temporary file; one died with FileNotFoundError on ``model.tmp.onnx``. The first start
    also printed ~45 lines of quantiser INFO and tracer warnings: now one line."""
    cache, go = tmp_path / "models", tmp_path / "go"
    model = Settings().resolved_model_path()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, model, str(go), str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(2)  # both imported and waiting
    go.touch()
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    paths = {out.strip() for out, _ in results}
    assert len(paths) == 1
    ort.InferenceSession(paths.pop(), providers=["CPUExecutionProvider"])  # a whole file
    assert not list(cache.rglob("*.tmp.onnx")) and not list(cache.rglob(".*.tmp.onnx"))
    lines = "".join(err for _, err in results).strip().splitlines()
    # One process did the work (it logs one line as it starts); the other waited for it.
    assert len([x for x in lines if x.startswith("INFO embeddings.onnx_cache")]) == 1, lines
    # Everything else the export and the quantiser say is at DEBUG level now.
    assert len(lines) == 1 and "preparing the ONNX model" in lines[0], lines
