"""Builds the long-lived parts (encoder, index) from settings, for the app, the CLI, the tests and
the benches alike, so none of them has to import the web app to get an encoder."""

from __future__ import annotations

from embeddings.encoder import Encoder
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


def build_index(settings: Settings, encoder_dim: int) -> MatchIndex:
    return MatchIndex(
        model=settings.model_name,
        dim=encoder_dim,
        directory=settings.index_dir,
        exact_max=settings.index_exact_max,
        nprobe=settings.index_nprobe,
        sentence_cache_size=settings.sentence_cache_size,
    )
