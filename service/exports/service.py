"""Export jobs: recorded in the database, run by a background thread of some worker.

A worker claims a queued job with a conditional UPDATE (so two workers never run the same job),
refreshes its heartbeat while running, and marks it done only after the file was renamed into
place. A job whose heartbeat stopped (its worker was killed) is marked failed, never done.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.core.text import quote
from service.core.threads import BackgroundLoop
from service.db import transaction, utcnow
from service.errors import Conflict, NotFound
from service.exports.models import ExportJob
from service.exports.schemas import ExportParams, ExportStatus
from service.exports.writer import write_export
from service.indexing.service import MatchIndex

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the worker running this export stopped; request a new export"


# Every export id this service issues; anything else is an unknown id (404), found without
# asking the database (which cannot take NUL on PostgreSQL).
JOB_ID = re.compile(r"ex_[0-9a-f]{16}")


def create_job(session: Session, params: ExportParams) -> ExportJob:
    job = ExportJob(
        id="ex_" + secrets.token_hex(8),
        status="queued",
        format=params.format,
        params=params.model_dump(),
        progress=0.0,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: str) -> ExportJob:
    job = session.get(ExportJob, job_id) if JOB_ID.fullmatch(job_id) else None
    if job is None:
        raise NotFound(f"no export with id {quote(job_id)}")
    return job


def to_status(job: ExportJob) -> ExportStatus:
    return ExportStatus(
        id=job.id,
        status=job.status,
        progress=round(job.progress, 4),
        rows=job.rows,
        error=job.error,
        format=job.format,
    )


def finished_file(job: ExportJob) -> Path:
    if job.status != "done" or not job.file_path:
        raise Conflict(f"export {job.id} is {job.status}, not done", status=job.status)
    path = Path(job.file_path)
    if not path.exists():
        raise NotFound(f"the file of export {job.id} has been cleaned up; request a new export")
    return path


def fail_stale_jobs(session: Session, stale_after: timedelta) -> int:
    """Mark running jobs whose heartbeat is older than ``stale_after`` failed
    (``Settings.export_stale_after_s``: one setting, no second default here)."""
    cutoff = utcnow() - stale_after
    res = session.execute(
        update(ExportJob)
        .where(ExportJob.status == "running")
        .where((ExportJob.heartbeat_at.is_(None)) | (ExportJob.heartbeat_at < cutoff))
        .values(status="failed", error=INTERRUPTED, finished_at=utcnow())
    )
    return res.rowcount or 0


def clean_old_files(session: Session, export_dir: Path, retention_hours: float) -> int:
    cutoff = utcnow() - timedelta(hours=retention_hours)
    removed = 0
    for job in session.scalars(
        select(ExportJob).where(ExportJob.status == "done").where(ExportJob.finished_at < cutoff)
    ):
        if job.file_path and Path(job.file_path).exists():
            Path(job.file_path).unlink()
            removed += 1
    for stray in export_dir.glob(".*.partial") if export_dir.exists() else []:
        if time.time() - stray.stat().st_mtime > retention_hours * 3600:
            stray.unlink(missing_ok=True)
    return removed


class ExportRunner(BackgroundLoop):
    """The background thread that claims and runs queued export jobs (one at a time)."""

    name = "exports"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        index: MatchIndex,
        settings: Settings,
        poll: float = 0.5,
    ) -> None:
        super().__init__(poll)
        self.sessions = sessions
        self.index = index
        self.settings = settings
        self._last_clean = 0.0

    def step(self) -> bool:
        with transaction(self.sessions) as session:
            fail_stale_jobs(session, timedelta(seconds=self.settings.export_stale_after_s))
            if time.monotonic() - self._last_clean > 600:
                clean_old_files(
                    session, self.settings.export_dir, self.settings.export_retention_hours
                )
                self._last_clean = time.monotonic()
        job_id = self._claim()
        if job_id:
            self.run_job(job_id)
        return job_id is not None

    def _claim(self) -> str | None:
        with transaction(self.sessions) as session:
            job_id = session.scalar(
                select(ExportJob.id)
                .where(ExportJob.status == "queued")
                .order_by(ExportJob.created_at)
                .limit(1)
            )
            if job_id is None:
                return None
            claimed = session.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id, ExportJob.status == "queued")
                .values(status="running", started_at=utcnow(), heartbeat_at=utcnow())
            ).rowcount
            return job_id if claimed else None

    def _set(self, job_id: str, **values: object) -> None:
        with transaction(self.sessions) as session:
            session.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))

    def run_job(self, job_id: str) -> None:
        with self.sessions() as session:
            params = ExportParams.model_validate(get_job(session, job_id).params)
        out = self.settings.export_dir / f"{job_id}.{params.format}"
        last = [0.0]

        def progress(p: float) -> None:
            if time.monotonic() - last[0] > 0.5:
                last[0] = time.monotonic()
                self._set(job_id, progress=min(p, 0.999), heartbeat_at=utcnow())

        try:
            with self.sessions() as session:
                self.index.catch_up(session)
                rows = write_export(session, self.index, self.settings, params, out, progress)
            self._set(
                job_id,
                status="done",
                progress=1.0,
                rows=rows,
                file_path=str(out),
                finished_at=utcnow(),
            )
        except Exception as exc:  # noqa: BLE001 - reported on the job
            log.warning("export %s failed", job_id, exc_info=True)
            self._set(
                job_id,
                status="failed",
                error=f"{exc.__class__.__name__}: {exc}"[:2000],
                finished_at=utcnow(),
            )
