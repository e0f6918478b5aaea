"""CPU cost of encoding profile texts: batches of equal-length sentences against padded batches.

Command (run from /work/main):

    .venv/bin/python bench/encode.py

For each ONNX backend (fp32, int8), with one ONNX session so the CPU time is that of one core:
  * one registration: the two texts (capabilities, needs) of a synthetic profile encoded in one
    call, as ``POST /v1/profiles`` does; CPU ms per profile over --profiles profiles;
  * bulk: the sentences of all those profiles in one call, as seeding and ``/profiles/bulk``
    do; CPU ms per sentence.
Baseline: the same sessions fed as before this change (sentences sorted by length, cut into
batches of --batch-size, each padded to its longest sentence, masked mean pooling),
alternated with the current ``Encoder`` path (sentences batched only with others of the same
token count), --rounds times; the best round of each is reported, with the ratio.
Writes bench/results/encode.json.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import ROOT, header, log, write_result


def padded_encode(backend, sentences: list[str], batch_size: int) -> np.ndarray:  # noqa: ANN001
    """The encoder's batching before equal-length batches (e408135), on the same sessions."""
    order = np.argsort([-len(s) for s in sentences], kind="stable")
    out = np.empty((len(sentences), backend.dim), dtype=np.float32)
    for i in range(0, len(sentences), batch_size):
        idx = order[i : i + batch_size]
        enc = backend.tokenizer(
            [sentences[j] for j in idx],
            padding=True,
            truncation=True,
            max_length=backend.max_tokens,
            return_tensors="np",
        )
        feeds = {k: v.astype(np.int64) for k, v in enc.items() if k in backend.input_names}
        hidden = backend.sessions[0].run(None, feeds)[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        out[idx] = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def cpu_ms(fn, *args) -> float:  # noqa: ANN001
    t = time.process_time()
    fn(*args)
    return 1000 * (time.process_time() - t)


def each(encode, backend, inputs: list[list[str]], batch_size: int) -> None:  # noqa: ANN001
    """One encoder call per input (a profile's sentences, or every sentence at once)."""
    for sentences in inputs:
        encode(backend, sentences, batch_size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--profiles", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=64, help="Encoder batch size (setting)")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from embeddings.encoder import Encoder
    from service.config import Settings
    from service.seed.synthetic import generate

    result = header("encode") | {"command": " ".join(["python", *sys.argv]), "backends": {}}
    settings = Settings(data_dir=ROOT / "data")
    profiles = generate(a.profiles, random_seed=99).profiles
    texts = [(p["capabilities"], p["needs"]) for p in profiles]
    for name in ("onnx", "onnx-int8"):
        enc = Encoder(
            settings.resolved_model_path(),
            backend=name,
            cache_dir=settings.data_dir / "models",
            batch_size=a.batch_size,
            cache_size=0,  # every call encodes
            threads=1,
        )
        b = enc._backend
        docs = [[s for t in pair for s in enc.split(t)] for pair in texts]
        flat = [s for d in docs for s in d]
        padded_encode(b, flat[:200], a.batch_size), b.encode(flat[:200], a.batch_size)  # warm
        out = {}
        for label, inputs in (
            ("registration, ms per profile", docs),
            ("bulk, ms per sentence", [flat]),
        ):
            n = len(docs) if len(inputs) > 1 else len(flat)
            best_old = (
                min(cpu_ms(each, padded_encode, b, inputs, a.batch_size) for _ in range(a.rounds))
                / n
            )
            best_new = (
                min(cpu_ms(each, type(b).encode, b, inputs, a.batch_size) for _ in range(a.rounds))
                / n
            )
            out[label] = {
                "padded_batches": round(best_old, 3),
                "equal_length_batches": round(best_new, 3),
                "ratio_new_to_old": round(best_new / best_old, 3),
            }
            log(
                f"{name:9s} {label:30s} padded {best_old:7.2f}  equal-length {best_new:7.2f}  "
                f"ratio {best_new / best_old:.2f}"
            )
        old_v, new_v = padded_encode(b, flat, a.batch_size), b.encode(flat, a.batch_size)
        out["min_cosine_new_vs_old"] = round(float(np.min(np.sum(old_v * new_v, axis=1))), 4)
        out["sentences_per_profile"] = round(len(flat) / len(docs), 2)
        log(f"{name:9s} lowest cosine between the two paths: {out['min_cosine_new_vs_old']}")
        result["backends"][name] = out
    write_result("encode", result)


if __name__ == "__main__":
    main()
