"""Builds the long-lived parts (encoder, index) from settings, for the app, the CLI, the tests and
the benches alike, so none of them has to import the web app to get an encoder."""

from __future__ import annotations

from embeddings.encoder import Encoder
from embeddings.onnx_cache import prepare_onnx
from service.config import Settings
from service.indexing.service import MatchIndex


def build_encoder(settings: Settings) -> Encoder:
    return Encoder(
        settings.resolved_model_path(),
        backend=settings.encoder_backend,
        cache_dir=settings.data_dir / "models",
        batch_size=settings.encode_batch_size,
        cache_size=settings.embedding_cache_size,
        model_name=settings.model_name,
        threads=settings.encoder_threads,
    )


def prepare_model_cache(settings: Settings) -> None:
    """Export (and quantise) the ONNX model into the data folder if it is not there yet, so
    that processes started afterwards only load it. Nothing to do for the torch backend."""
    if settings.encoder_backend != "torch":
        prepare_onnx(
            settings.resolved_model_path(),
            settings.data_dir / "models",
            quantize=settings.encoder_backend == "onnx-int8",
        )


def build_index(settings: Settings, encoder_dim: int) -> MatchIndex:
    return MatchIndex(
        model=settings.model_name,
        dim=encoder_dim,
        directory=settings.index_dir,
        exact_max=settings.index_exact_max,
        nprobe=settings.index_nprobe,
        sentence_cache_size=settings.sentence_cache_size,
    )
