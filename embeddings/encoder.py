"""The sentence encoder: all-MiniLM-L6-v2 on the CPU, from a local folder only.

Backends (``Encoder(backend=...)``):

* ``torch``: plain sentence-transformers, fp32. The reference.
* ``onnx``: the same network exported to ONNX (fp32) and run by ONNX Runtime.
* ``onnx-int8``: the ONNX export with dynamic int8 quantisation of the weights. It is about twice
  as fast on CPUs with VNNI (avx512_vnni / avx_vnni) and agrees with fp32 to cosine > 0.98.

ONNX files are exported locally from the model folder (never downloaded) and cached in
``cache_dir`` (``onnx_cache.prepare_onnx``: one process writes them, under a file lock, the
others wait and read); on a CPU without AVX2 the int8 backend falls back to fp32 ONNX.
All vectors are L2-normalised, so inner product equals cosine similarity.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from embeddings.onnx_cache import prepare_onnx, require_model
from embeddings.text import fit_to_window, split_sentences

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx", "onnx-int8"]


@dataclass(frozen=True)
class DocumentEmbedding:
    """A text as the index sees it: its sentences, one vector each, and their pooled vector."""

    sentences: list[str]
    sentence_vectors: np.ndarray  # (n_sentences, dim) float32, normalised
    vector: np.ndarray  # (dim,) float32: normalised mean of the sentence vectors


def pool(sentence_vectors: np.ndarray) -> np.ndarray:
    """Document vector = normalise(mean of normalised sentence vectors)."""
    v = sentence_vectors.mean(axis=0)
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).astype(np.float32)


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32)


class _TorchBackend:
    def __init__(self, model_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        self.tokenizer = self.model.tokenizer
        self.max_tokens = int(self.model.max_seq_length)
        # Renamed in sentence-transformers 5 (the old name warns); older releases, which
        # pyproject still allows, have only the old one.
        dim = getattr(self.model, "get_embedding_dimension", None)
        self.dim = int(dim() if dim else self.model.get_sentence_embedding_dimension())

    def encode(self, sentences: list[str], batch_size: int, background: bool = False) -> np.ndarray:
        out = self.model.encode(
            sentences, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return _normalise(np.asarray(out, dtype=np.float32))


class _OnnxBackend:
    """Transformer exported to ONNX, mean pooling done here (as in the model's Pooling module)."""

    def __init__(
        self, model_path: str, cache_dir: Path, quantize: bool, threads: int | None = None
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        cfg = json.loads((Path(model_path) / "sentence_bert_config.json").read_text())
        self.max_tokens = int(cfg.get("max_seq_length", 256))
        onnx_path = prepare_onnx(model_path, cache_dir, quantize)
        # One single-threaded session per core, fed batches in parallel: measured 4.5x faster
        # for int8 (2x for fp32) than one session with intra-op threads on this 2-core CPU.
        self.workers = threads or max(1, os.cpu_count() or 1)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sessions = [
            ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
            for _ in range(self.workers)
        ]
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="onnx")
        self.input_names = {i.name for i in self.sessions[0].get_inputs()}
        self.dim = int(self.sessions[0].get_outputs()[0].shape[-1])

    def encode(self, sentences: list[str], batch_size: int, background: bool = False) -> np.ndarray:
        """Sentences are batched only with others of exactly the same token count, so no batch
        carries padding: the network's cost is per token, and padding a profile's sentences
        (20 tokens on average, up to 48) to the longest cost a quarter of its encoding time
        (``bench/encode.py``). A sentence's vector then no longer depends on its batch.

        ``background``: run the batches one after another in the calling thread (sessions
        are safe to share between threads) instead of the shared pool. Bulk work does this
        from a low-priority thread: its hundreds of batches then never queue in the pool
        ahead of a single registration's few, and the CPU they take yields to requests."""
        tokens = self.tokenizer(sentences, truncation=True, max_length=self.max_tokens)["input_ids"]
        by_length: dict[int, list[int]] = {}
        for i, ids in enumerate(tokens):
            by_length.setdefault(len(ids), []).append(i)
        batches = [
            same[i : i + batch_size]
            for _, same in sorted(by_length.items(), reverse=True)
            for i in range(0, len(same), batch_size)
        ]
        out = np.empty((len(sentences), self.dim), dtype=np.float32)

        def run(n: int, idx: list[int]) -> None:
            ids = np.array([tokens[i] for i in idx], dtype=np.int64)
            feeds = {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids),
            }
            feeds = {k: v for k, v in feeds.items() if k in self.input_names}
            hidden = self.sessions[n % self.workers].run(None, feeds)[0]
            out[idx] = hidden.mean(axis=1)  # every token is real: the mean pooling's mask is 1

        if background:
            for idx in batches:
                run(self.workers - 1, idx)
        else:
            list(self.pool.map(run, range(len(batches)), batches))
        return _normalise(out)


class Encoder:
    """Encodes texts into normalised vectors, sentence by sentence, with an LRU sentence cache.

    ``calls`` counts encoder invocations and ``encoded_sentences`` the sentences actually run
    through the network, so callers (and tests) can prove unchanged text costs nothing.
    """

    def __init__(
        self,
        model_path: str,
        *,
        backend: Backend = "torch",
        cache_dir: Path | None = None,
        batch_size: int = 64,
        cache_size: int = 50_000,
        model_name: str = "all-MiniLM-L6-v2",
        threads: int | None = None,
    ) -> None:
        """``threads``: ONNX sessions run in parallel (one per CPU by default)."""
        require_model(model_path)
        self.model_name = model_name
        self.backend_name = backend
        self.batch_size = batch_size
        if backend == "torch":
            self._backend: _TorchBackend | _OnnxBackend = _TorchBackend(model_path)
        else:
            cache = cache_dir or Path(model_path)
            self._backend = _OnnxBackend(
                model_path, cache, quantize=backend == "onnx-int8", threads=threads
            )
        self.dim = self._backend.dim
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.calls = 0
        self.encoded_sentences = 0

    # -- sentences -----------------------------------------------------------------------
    def _count_tokens(self, text: str) -> int:
        return len(self._backend.tokenizer(text, add_special_tokens=True)["input_ids"])

    def split(self, text: str) -> list[str]:
        """Sentences of ``text``, each cut to fit the model window (two slots for CLS/SEP)."""
        out: list[str] = []
        for s in split_sentences(text):
            # Cheap pre-check: a sentence of few characters cannot exceed the window.
            if len(s) < self._backend.max_tokens - 2:  # at most one token per character
                out.append(s)
            else:
                out.extend(fit_to_window(s, self._count_tokens, self._backend.max_tokens))
        return out

    def encode_sentences(self, sentences: list[str], *, background: bool = False) -> np.ndarray:
        """Vectors for sentences already within the window; repeated sentences encode once.
        ``background``: encode in the calling thread, not the shared pool (``_OnnxBackend``)."""
        result = np.empty((len(sentences), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, s in enumerate(sentences):
                v = self._cache.get(s)
                if v is None:
                    missing.setdefault(s, []).append(i)
                else:
                    self._cache.move_to_end(s)
                    result[i] = v
        if missing:
            todo = list(missing)
            vecs = self._backend.encode(todo, self.batch_size, background)
            with self._lock:
                self.calls += 1
                self.encoded_sentences += len(todo)
                for s, v in zip(todo, vecs, strict=True):
                    for i in missing[s]:
                        result[i] = v
                    if self._cache_size:
                        self._cache[s] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return result

    # -- documents -----------------------------------------------------------------------
    def embed_documents(
        self,
        texts: list[str],
        rewrite: list[Callable[[str], str] | None] | None = None,
        *,
        background: bool = False,
    ) -> list[DocumentEmbedding]:
        """Embed many texts in one encoder pass (all their sentences batched together).

        ``rewrite[i]``, if given, turns each sentence of text i into what the encoder reads (the
        profile's own name masked, ``embeddings.text.mask_name``); the sentences kept for
        quoting are the text's own. ``background``: encode in the calling thread, never in the
        pool that single requests share (bulk work, from a low-priority thread)."""
        split = [self.split(t) or [t.strip() or "-"] for t in texts]
        rewrite = rewrite or [None] * len(texts)
        flat = [f(s) if f else s for sents, f in zip(split, rewrite, strict=True) for s in sents]
        vecs = self.encode_sentences(flat, background=background)
        docs: list[DocumentEmbedding] = []
        pos = 0
        for sents in split:
            sv = vecs[pos : pos + len(sents)]
            pos += len(sents)
            docs.append(DocumentEmbedding(sents, sv, pool(sv)))
        return docs

    def embed_document(self, text: str) -> DocumentEmbedding:
        return self.embed_documents([text])[0]

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """One pooled vector per text."""
        return (
            np.stack([d.vector for d in self.embed_documents(texts)])
            if texts
            else np.zeros((0, self.dim), dtype=np.float32)
        )


def model_dimension(model_path: str) -> int:
    """The embedding dimension of a sentence-transformers folder, without loading the weights."""
    pooling = Path(model_path) / "1_Pooling" / "config.json"
    if pooling.exists():
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    return int(json.loads((Path(model_path) / "config.json").read_text())["hidden_size"])
