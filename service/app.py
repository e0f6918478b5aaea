"""App factory: ``create_app(settings)`` builds engine, encoder and index in the lifespan."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import faiss
import torch
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from prometheus_client import generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from threadpoolctl import threadpool_limits
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from embeddings.encoder import Encoder
from service.bootstrap import build_encoder, build_index
from service.config import Settings
from service.console import routes as console
from service.core.memory import collector_paused
from service.core.middleware import (
    BodyLimitMiddleware,
    Metrics,
    MetricsMiddleware,
    SecurityHeadersMiddleware,
)
from service.core.ratelimit import RateLimiter
from service.core.threads import Lane
from service.db import create_db_engine, create_session_factory
from service.deps import AppState, StateDep, refuse_control_in_query
from service.errors import InvalidInput, MatchmakerError
from service.exports.endpoints import router as exports_router
from service.exports.service import ExportRunner
from service.files import private_dir
from service.idempotency.service import ExpiredResponseSweeper
from service.indexing import lexical
from service.indexing.syncer import IndexSyncer
from service.introductions.endpoints import router as introductions_router
from service.introductions.sweeper import ExpirySweeper
from service.matching import evidence
from service.matching.endpoints import router as matching_router
from service.profiles.endpoints import router as profiles_router
from service.screening import service as screening
from service.screening.endpoints import router as screening_router
from service.screening.engine import Screener
from service.webhooks import outbox
from service.webhooks.deliverer import WebhookDeliverer
from service.webhooks.endpoints import router as webhooks_router

log = logging.getLogger("service")
BULK_BODY_LIMIT = 16 * 1024 * 1024


def create_app(settings: Settings | None = None, *, encoder: Encoder | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        private_dir(settings.data_dir)
        faiss.omp_set_num_threads(settings.search_threads)
        engine = create_db_engine(settings.resolved_database_url, settings.sqlite_synchronous)
        sessions = create_session_factory(engine)
        enc = encoder or build_encoder(settings)
        index = build_index(settings, enc.dim)
        # What start-up loads lives as long as the process (at 100k profiles, 400k objects, a
        # quarter of them the index's summaries). Left to the collector, loading them cost a
        # dozen full passes of up to 0.25 s each, and every later full pass, every few seconds
        # under load, walked them all again while each request of the worker stood still.
        with collector_paused(freeze=True), sessions() as session:
            how = index.load_or_rebuild(session)
        log.info("search index %s: %s profiles", how, index.count())
        # Once loaded, numpy's products (OpenBLAS) and torch's top-k (OpenMP) get as many
        # threads as FAISS: their pools' threads are the process's own, at normal priority,
        # so a pairings request in its low-priority lane thread (service.core.threads.Lane)
        # handed most of its CPU to them and crowded out match queries all the same.
        threadpool_limits(settings.search_threads)
        torch.set_num_threads(settings.search_threads)
        lexical.warm_up()
        evidence.warm_up()
        index.follow(sessions)
        syncer = IndexSyncer(
            index, sessions, settings.sync_interval_s, settings.index_save_interval_s
        )
        exports = ExportRunner(
            sessions,
            index,
            settings,
            finished=lambda outcome: metrics.export_jobs.labels(outcome).inc(),
        )
        webhooks = WebhookDeliverer(sessions, settings)
        # An event leaves right after the commit that emitted it, not at the next poll.
        outbox.after_commit(sessions, webhooks.wake)
        sweeper = ExpirySweeper(sessions, settings.introductions)
        idempotency_sweeper = ExpiredResponseSweeper(sessions)
        screener = Screener(enc, model=settings.screening.model)
        # Its ~120 prototype and ~460 exemplar sentences are encoded at the first screening
        # (< 1 s), not at start-up (a restart encodes nothing).
        if settings.screening.on_write:
            screening.follow(sessions, screener)
        state = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            encoder=enc,
            index=index,
            limiter=RateLimiter(settings),
            metrics=metrics,
            match_slots=anyio.CapacityLimiter(settings.match_concurrency),
            pairing_lane=_lane("pairings", settings.pairings_concurrency, settings),
            bulk_lane=_lane("bulk registration", settings.bulk_concurrency, settings),
            syncer=syncer,
            exports=exports,
            webhooks=webhooks,
            sweeper=sweeper,
            screener=screener,
        )
        syncer.start()
        exports.start()
        webhooks.start()
        idempotency_sweeper.start()
        sweeper.start()
        app.state.matchmaker = state
        try:
            yield
        finally:
            idempotency_sweeper.stop()
            state.sweeper.stop()
            state.webhooks.stop()
            state.exports.stop()
            state.syncer.stop()
            state.pairing_lane.close()
            state.bulk_lane.close()
            try:
                index.save()
            except Exception:  # noqa: BLE001
                log.warning("could not save the index at shutdown", exc_info=True)
            engine.dispose()

    # FastAPIOffline: /docs and /redoc with Swagger UI and ReDoc served from the fastapi-offline
    # package, not from a CDN, so the docs work on a machine with no internet access.
    app = FastAPIOffline(
        dependencies=[Depends(refuse_control_in_query)],
        # Operation ids are the route functions' names (``create_profile``, ``export_file``), so
        # generated clients get methods of those names rather than FastAPI's default of name,
        # path and method (``create_profile_v1_profiles_post``).
        generate_unique_id_function=operation_id,
        title="partnership-matchmaker",
        version="1.0",
        summary="Pairs Indian and Korean firms and R&D groups for joint ventures.",
        lifespan=lifespan,
    )
    metrics = Metrics()
    app.include_router(profiles_router)
    app.include_router(matching_router)
    app.include_router(exports_router)
    app.include_router(webhooks_router)
    app.include_router(introductions_router)
    console.install(app, settings)
    app.include_router(screening_router)
    _add_health(app, metrics)
    _add_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        path_limits={"/v1/profiles/bulk": BULK_BODY_LIMIT},
    )
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxies:
        # Outermost, so everything after it (rate limits, logs) sees the client's address.
        # uvicorn's own: it takes the right-most X-Forwarded-For hop that is not a trusted
        # proxy (`serve` turns uvicorn's proxy handling off: it would trust 127.0.0.1).
        app.add_middleware(
            ProxyHeadersMiddleware, trusted_hosts=[str(n) for n in settings.trusted_proxies]
        )
    return app


def operation_id(route: APIRoute) -> str:
    return route.name


def _lane(name: str, concurrency: int, settings: Settings) -> Lane:
    return Lane(
        name, concurrency=concurrency, queue=settings.heavy_queue, wait_s=settings.heavy_wait_s
    )


def _add_health(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz(state: StateDep) -> JSONResponse:
        """Database reachable, model loaded, index loaded."""
        checks = {"model": state.encoder is not None, "index": state.index.ready}
        try:
            with state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = True
        except DBAPIError:
            checks["database"] = False
        ok = all(checks.values())
        return JSONResponse(
            {
                "status": "ready" if ok else "not ready",
                "checks": checks,
                "profiles": state.index.count(),
                "worker": os.getpid(),
            },
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def prometheus(state: StateDep) -> PlainTextResponse:
        """Prometheus text format."""
        metrics.encoded.set(state.encoder.encoded_sentences)
        metrics.indexed.labels("IN").set(state.index.count()["IN"])
        metrics.indexed.labels("KR").set(state.index.count()["KR"])
        cache = state.index.sentence_cache
        metrics.sentence_cache.labels("hit").set(cache.hits)
        metrics.sentence_cache.labels("miss").set(cache.misses)
        return PlainTextResponse(
            generate_latest(metrics.registry).decode(), media_type="text/plain; version=0.0.4"
        )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MatchmakerError)
    async def domain_error(request: Request, exc: MatchmakerError) -> Response:
        if console.is_console(request):
            return console.error_page(request, exc)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if console.is_console(request):
            return console.error_page(request, InvalidInput("invalid input", errors=exc.errors()))
        # Name each offending field; never echo the input back (it may be huge or secret).
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(OperationalError)
    async def db_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return JSONResponse(
            {"detail": "the database is unavailable; retry shortly", "code": "unavailable"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(DataError)
    async def refused_value(request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold or compare (NUL, out of range, too long) is the
        # client's input, not a server fault: 422, and a log line without the SQL's parameters
        # (the engine hides them) or a traceback.
        log.warning(
            "the database refused a value of %s %s: %s",
            request.method,
            request.url.path[:200],
            exc.orig.__class__.__name__ if exc.orig is not None else "DataError",
        )
        log.debug("refused statement: %s", exc.statement)
        return await domain_error(
            request,
            InvalidInput("a value of the request cannot be stored or searched for by the database"),
        )

    @app.exception_handler(RecursionError)
    async def too_deep(_: Request, __: RecursionError) -> JSONResponse:
        return JSONResponse(
            {"detail": "JSON is nested too deeply", "code": "invalid_input"}, status_code=422
        )
