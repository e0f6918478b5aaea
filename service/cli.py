"""The ``matchmaker`` command line."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from service.config import Settings

app = typer.Typer(
    help="partnership-matchmaker: registry, matching and exports.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


def _settings() -> Settings:
    s = Settings()
    logging.basicConfig(
        level=s.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    from service.files import private_dir

    private_dir(s.data_dir)
    return s


def _sessions(s: Settings):  # noqa: ANN202
    from service.db import create_db_engine, create_session_factory

    return create_session_factory(create_db_engine(s.resolved_database_url, s.sqlite_synchronous))


def _index(s: Settings, sessions, rebuild: bool = False):  # noqa: ANN001, ANN202
    from embeddings.encoder import model_dimension
    from service.bootstrap import build_index

    index = build_index(s, model_dimension(s.resolved_model_path()))
    with sessions() as session:
        if rebuild:
            index.rebuild(session, progress=True)
        elif index.load_or_rebuild(session) == "rebuilt":
            index.save()  # so the next command does not pay the rebuild again
    return index


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help=(
                "Worker processes. With more than one, this process accepts and hands each "
                "connection to the worker holding the fewest."
            ),
        ),
    ] = 1,
) -> None:
    """Apply migrations, then serve the API (never seeds)."""
    import uvicorn

    from service.migrate import upgrade

    s = _settings()
    upgrade(s.resolved_database_url)
    _prepare_model_cache(s)
    if workers > 1 and s.encoder_threads is None:
        # Workers inherit the environment: each gets its share of the CPUs for encoding.
        os.environ["MATCHMAKER_ENCODER_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    if workers > 1 and s.rate_limit_enabled and s.resolved_rate_limit_storage == "memory://":
        logging.getLogger(__name__).warning(
            "rate limits are counted by each of the %d workers on its own (memory://), so each "
            "limit is %d times higher; set MATCHMAKER_REDIS_URL to share them",
            workers,
            workers,
        )
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 by default; the
    # app believes it only from MATCHMAKER_TRUSTED_PROXIES (service/app.py).
    options = dict(host=host, port=port, log_level=s.log_level.lower(), proxy_headers=False)
    if workers == 1:
        uvicorn.run("service.main:app", **options)
        return
    # uvicorn's own --workers lets the kernel deal keep-alive connections unevenly.
    from service.core.workers import serve_balanced

    serve_balanced(uvicorn.Config("service.main:app", workers=workers, **options), workers)


def _prepare_model_cache(s: Settings) -> None:
    """Write the ONNX model cache before any worker starts: on a fresh data folder every
    worker would otherwise export and quantise the model at once, N times the work for the
    same files. It runs in a child process so that this one, which lives as long as the
    server (and with several workers only hands out connections), never holds PyTorch."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from embeddings.onnx_cache import ModelNotFound

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        try:
            pool.submit(_prepare_model_cache_child, s.log_level).result()
        except ModelNotFound as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(3) from exc


def _prepare_model_cache_child(log_level: str) -> None:
    from service.bootstrap import prepare_model_cache

    logging.basicConfig(
        level=log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    prepare_model_cache(Settings())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade the schema (default: to the newest revision)."""
    from service.migrate import upgrade

    upgrade(_settings().resolved_database_url, revision)
    typer.echo(f"database upgraded to {revision}", err=True)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target, e.g. base or -1.")]) -> None:
    """Downgrade the schema to REVISION."""
    from service.migrate import downgrade

    downgrade(_settings().resolved_database_url, revision)
    typer.echo(f"database downgraded to {revision}", err=True)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="official or admin")],
    label: Annotated[str | None, typer.Option(help="Who the key is for.")] = None,
) -> None:
    """Print a new API key on stdout (nothing else)."""
    from service.auth.service import create_key
    from service.db import transaction
    from service.migrate import upgrade

    if role not in ("official", "admin"):
        raise typer.BadParameter("role must be official or admin", param_hint="--role")
    s = _settings()
    upgrade(s.resolved_database_url)
    with transaction(_sessions(s)) as session:
        key = create_key(session, role, label)  # type: ignore[arg-type]
    typer.echo(key)


@app.command()
def seed(
    synthetic: Annotated[int | None, typer.Option(help="Generate N synthetic profiles.")] = None,
    random_seed: Annotated[int, typer.Option(help="Seed of the synthetic generator.")] = 0,
    planted_out: Annotated[Path | None, typer.Option(help="CSV of planted pairs.")] = None,
    if_empty: Annotated[bool, typer.Option(help="Do nothing when profiles exist.")] = False,
) -> None:
    """Load the curated profiles (or synthetic ones) through the bulk path. Idempotent."""
    from sqlalchemy import func, select

    from service.bootstrap import build_encoder
    from service.migrate import upgrade
    from service.profiles.models import Profile
    from service.seed.loader import CURATED, load_profiles, read_jsonl

    s = _settings()
    upgrade(s.resolved_database_url)
    sessions = _sessions(s)
    with sessions() as session:
        if if_empty and session.scalar(select(func.count()).select_from(Profile)):
            typer.echo("profiles exist; not seeding", err=True)
            return
    if synthetic:
        from service.seed.synthetic import generate, write_planted_pairs

        data = generate(synthetic, random_seed)
        profiles = data.profiles
        if planted_out:
            write_planted_pairs(data, planted_out)
    else:
        profiles = read_jsonl(CURATED)
    start = time.perf_counter()
    report = load_profiles(
        sessions, build_encoder(s), profiles, total=len(profiles), progress=sys.stderr.isatty()
    )
    _index(s, sessions, rebuild=True).save()
    typer.echo(
        f"seeded: {report.created} created, {report.existing} already present, "
        f"{report.failed} invalid in {time.perf_counter() - start:.1f} s",
        err=True,
    )


@app.command()
def reindex(
    reencode: Annotated[bool, typer.Option(help="Re-encode every text (model change).")] = False,
) -> None:
    """Rebuild the FAISS index from the vectors stored in the database."""
    from service.migrate import upgrade

    s = _settings()
    upgrade(s.resolved_database_url)
    sessions = _sessions(s)
    if reencode:
        from service.bootstrap import build_encoder
        from service.indexing.reencode import reencode_all

        n = reencode_all(sessions, build_encoder(s), progress=True)
        typer.echo(f"re-encoded {n} profiles", err=True)
    index = _index(s, sessions, rebuild=True)
    index.save()
    typer.echo(f"index rebuilt: {index.count()}", err=True)


@app.command()
def screen(
    all_: Annotated[
        bool, typer.Option("--all", help="Screen every profile, not only the stale ones.")
    ] = False,
) -> None:
    """Screen profiles for sensitive technologies (an aid for officials, not legal advice):
    those never screened, screened with another vocabulary or model version, or whose text
    changed; every profile with --all (after loading a new vocabulary)."""
    from service.bootstrap import build_encoder
    from service.migrate import upgrade
    from service.screening.engine import Screener
    from service.screening.service import screen_stale

    s = _settings()
    upgrade(s.resolved_database_url)
    screener = Screener(build_encoder(s), model=s.screening.model)
    n = screen_stale(_sessions(s), screener, everything=all_, progress=True)
    typer.echo(f"screened {n} profiles with {screener.version}", err=True)


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="Output file.")],
    format: Annotated[str, typer.Option(help="csv, jsonl or parquet")] = "csv",
    what: Annotated[
        str,
        typer.Option(
            help="pairings: candidate pairings of the whole registry; introductions: every "
            "introduction with its outcomes, for officials' reports."
        ),
    ] = "pairings",
    sector: Annotated[str | None, typer.Option(help="Only this sector.")] = None,
    country: Annotated[str | None, typer.Option(help="Only IN or KR top-K rows.")] = None,
    top_k: Annotated[int, typer.Option(min=1, max=100, help="Partners per profile.")] = 10,
    min_score: Annotated[float, typer.Option(min=0, max=1, help="Lowest score.")] = 0.0,
    screening: Annotated[
        str | None, typer.Option(help="Only pairs whose screening is clear or review_required.")
    ] = None,
) -> None:
    """Export candidate pairings of the whole registry, or the introductions and outcomes."""
    from pydantic import ValidationError
    from tqdm import tqdm

    if what not in ("pairings", "introductions"):
        raise typer.BadParameter("--what is pairings or introductions")
    if format not in ("csv", "jsonl", "parquet"):
        raise typer.BadParameter("--format is csv, jsonl or parquet")
    if what == "introductions":
        _export_introductions(out, format)
        return

    from service.core.memory import collector_paused, release_free_memory
    from service.exports.schemas import ExportParams
    from service.exports.writer import candidate_pairs, write_pairs
    from service.migrate import upgrade

    try:
        params = ExportParams(
            format=format,
            sector=sector,
            country=country,
            top_k=top_k,
            min_score=min_score,
            screening=screening,
        )
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(e["msg"] for e in exc.errors())) from exc
    s = _settings()
    upgrade(s.resolved_database_url)
    sessions = _sessions(s)
    start = time.perf_counter()
    bar = tqdm(total=1000, desc="export", unit="‰", disable=not sys.stderr.isatty())

    def progress(p: float) -> None:
        bar.update(int(p * 1000) - bar.n)

    # Millions of long-lived, acyclic objects (the index's rows, the sentences, the columns):
    # rescanning them cost about 9 s of CPU at 100,000 profiles.
    with collector_paused():
        index = _index(s, sessions)
        release_free_memory()
        pairs = candidate_pairs(index, params, s, progress)
        del index  # the rows need the pairs and the database only: its memory goes back now
        with sessions() as session:
            written = write_pairs(session, pairs, s, params, out, progress)
    bar.close()
    skipped = (
        f" ({written.skipped_pairs} pairs skipped: profiles deleted meanwhile)"
        if written.skipped_pairs
        else ""
    )
    typer.echo(
        f"{written.rows} rows written to {out} in {time.perf_counter() - start:.1f} s{skipped}"
    )


def _export_introductions(out: Path, format: str) -> None:
    from service.introductions import report
    from service.migrate import upgrade

    s = _settings()
    upgrade(s.resolved_database_url)
    start = time.perf_counter()
    with _sessions(s)() as session:
        rows = report.write(session, out, format)
    typer.echo(f"{rows} introductions written to {out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    app()
