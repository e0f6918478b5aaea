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

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.auth.service import Principal
from service.config import Settings
from service.core.text import quote
from service.core.threads import BackgroundLoop
from service.db import transaction, utcnow
from service.errors import Conflict, ExportQueueFull, NotFound
from service.exports.models import ExportJob
from service.exports.schemas import ExportParams, ExportStatus
from service.exports.writer import CONTENT_TYPES, write_export
from service.indexing.service import MatchIndex

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the worker running this export stopped; request a new export"
# What a client sees of any other failure: the exception's text can hold file paths, SQL and
# library internals, which are for the operator (logged with the job id), not for officials.
FAILED = (
    "the export failed because of an internal error; request a new export, and if it fails "
    "again give the operator the export id"
)


# Every export id this service issues; anything else is an unknown id (404), found without
# asking the database (which cannot take NUL on PostgreSQL).
JOB_ID = re.compile(r"ex_[0-9a-f]{16}")


def create_job(
    session: Session, params: ExportParams, owner: Principal, max_pending: int
) -> ExportJob:
    """Queue an export for ``owner``, who may have at most ``max_pending`` unfinished ones
    (admins: no cap). Two requests of one key at the very same moment can both pass the count;
    the cap is there against a key filling the queue, which one extra job does not."""
    if owner.role != "admin":
        pending = session.scalar(
            select(func.count())
            .select_from(ExportJob)
            .where(ExportJob.owner_key_id == owner.key_id)
            .where(ExportJob.status.in_(("queued", "running")))
        )
        if pending >= max_pending:
            raise ExportQueueFull(
                f"this key already has {pending} exports queued or running, the most it may "
                "have; wait until one is done or failed, then ask again",
                limit=max_pending,
            )
    job = ExportJob(
        id="ex_" + secrets.token_hex(8),
        status="queued",
        format=params.format,
        params=params.model_dump(),
        progress=0.0,
        owner_key_id=owner.key_id,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: str, reader: Principal | None = None) -> ExportJob:
    """The job ``job_id``; with ``reader``, only if that principal may see it: the key that
    created it, or an admin. Anyone else gets the same 404 as for a missing job, so ids of
    other officials' exports cannot be probed."""
    job = session.get(ExportJob, job_id) if JOB_ID.fullmatch(job_id) else None
    if job is None or (reader is not None and not _may_read(job, reader)):
        raise NotFound(f"no export with id {quote(job_id)}")
    return job


def _may_read(job: ExportJob, reader: Principal) -> bool:
    if reader.role == "admin":
        return True
    return job.owner_key_id is not None and job.owner_key_id == reader.key_id


def to_status(job: ExportJob) -> ExportStatus:
    return ExportStatus(
        id=job.id,
        status=job.status,
        progress=round(job.progress, 4),
        rows=job.rows,
        skipped_pairs=job.skipped_pairs,
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


OCTET_STREAM = "application/octet-stream"


def file_media_type(format: str, accept: str | None) -> str:
    """The format's own type, or ``application/octet-stream`` when ``accept`` names that and not
    the format's type (a client that only handles bytes)."""
    own = CONTENT_TYPES[format]
    asked = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    if OCTET_STREAM in asked and own.split(";")[0] not in asked:
        return OCTET_STREAM
    return own


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
                written = write_export(session, self.index, self.settings, params, out, progress)
            self._set(
                job_id,
                status="done",
                progress=1.0,
                rows=written.rows,
                skipped_pairs=written.skipped_pairs,
                file_path=str(out),
                finished_at=utcnow(),
            )
        except Exception:  # noqa: BLE001 - reported on the job
            log.exception("export %s failed", job_id)
            self._set(job_id, status="failed", error=FAILED, finished_at=utcnow())
