"""CPU cost of screening one profile: the shipped model against an earlier model file.

Command (from the repository root):

    .venv/bin/python bench/screening_cost.py [--baseline-rev f3137a0] [--repeat 200]

Screens the same 10 capability sentences (stored vectors, no encoding) with each model,
``--repeat`` times, best of 5 rounds, with one BLAS thread as the server runs
(``search_threads``, service/app.py). The baseline's model file is read from git at
``--baseline-rev`` (screening-v2 at f3137a0). Writes bench/results/screening_cost.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import ROOT, header, log, write_result  # noqa: E402

from service.bootstrap import build_encoder  # noqa: E402
from service.config import Settings  # noqa: E402
from service.screening.engine import MODEL, Screener  # noqa: E402

SENTENCES = [
    "We design and build guided-missile frigates and corvettes for the navy.",
    "Our fire-control radars track aerial targets and direct naval guns.",
    "We build bulk carriers and container ships for commercial shipping lines.",
    "We develop high-nickel cathode materials for automotive lithium-ion batteries.",
    "We design radiation-hardened microcontrollers for satellites.",
    "We make marine radar for fishing boats and yachts.",
    "We sell hunting rifles and shotguns to licensed hunters.",
    "We offer bookkeeping software for small shops.",
    "Our plant etches and deposits films on 300 mm wafers for memory makers.",
    "We supply welding robots for automotive body shops.",
]


def per_profile_ms(screener: Screener, vecs: np.ndarray, repeat: int) -> float:
    screener.flags(SENTENCES, vecs)  # prototypes and exemplars encoded once, outside the timing
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeat):
            screener.flags(SENTENCES, vecs)
        best = min(best, (time.perf_counter() - t) / repeat * 1000)
    return round(best, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-rev", default="f3137a0")
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    result = header("screening_cost") | {"args": vars(args)}
    threadpool_limits(1)
    encoder = build_encoder(Settings(data_dir=ROOT / "data"))
    vecs = encoder.encode_sentences(SENTENCES).astype(np.float16).astype(np.float32)
    rel = MODEL.relative_to(ROOT).as_posix()
    old = subprocess.run(
        ["git", "show", f"{args.baseline_rev}:{rel}"], cwd=ROOT, capture_output=True, text=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / MODEL.name
        base.write_text(old.stdout, encoding="utf-8")
        baseline, shipped = Screener(encoder, model=base), Screener(encoder)
        t = time.perf_counter()
        shipped.exemplar_vectors()
        result["exemplar_encoding_s"] = round(time.perf_counter() - t, 3)
        for name, s in (("baseline", baseline), ("shipped", shipped)):
            result[name] = {
                "model": s.model_name,
                "ms_per_profile": per_profile_ms(s, vecs, args.repeat),
            }
            log(
                f"{name} {s.model_name}: {result[name]['ms_per_profile']} ms per 10-sentence profile"
            )
    log(f"exemplars encoded once in {result['exemplar_encoding_s']} s")
    write_result("screening_cost", result)


if __name__ == "__main__":
    main()
