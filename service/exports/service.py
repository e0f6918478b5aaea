"""Export jobs: recorded in the database, run by a background thread of some worker.

Every worker of every server polls the same queue. A worker claims a queued job with a
conditional UPDATE (so no two workers, on one server or several, run the same job), beats its
heartbeat from a thread of its own while running, and marks it done only after the file was
renamed into place. A job whose heartbeat stopped (its worker was killed) is marked failed,
never done, by whichever worker sweeps first. Each step of a running job changes it only while
it is still ``running``: a job failed by a sweep stays failed, and its runner stops.
Heartbeats are timed by the database's clock, so servers on hosts whose clocks differ agree on
what is stale.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.auth.service import Principal
from service.config import Settings
from service.core.text import quote
from service.core.threads import BackgroundLoop
from service.db import db_now, transaction, utcnow
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


def finished_file(job: ExportJob, export_dir: Path) -> Path:
    if job.status != "done" or not job.file_path:
        raise Conflict(f"export {job.id} is {job.status}, not done", status=job.status)
    path = stored_file(job, export_dir)
    if not path.exists():
        raise NotFound(
            f"the file of export {job.id} is not in this server's export folder: it was cleaned "
            "up, or another server that does not share MATCHMAKER_EXPORT_DIR wrote it; request "
            "a new export"
        )
    return path


def stored_file(job: ExportJob, export_dir: Path) -> Path:
    """Where the job's file is: jobs record the file's name, found in ``export_dir`` (shared by
    the servers of a cluster, possibly mounted at different paths); older jobs recorded an
    absolute path, which the join keeps as it is."""
    return export_dir / (job.file_path or "")


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
    cutoff = db_now(session) - stale_after
    res = session.execute(
        update(ExportJob)
        .where(ExportJob.status == "running")
        .where((ExportJob.heartbeat_at.is_(None)) | (ExportJob.heartbeat_at < cutoff))
        .values(status="failed", error=INTERRUPTED, finished_at=utcnow())
    )
    return res.rowcount or 0


def clean_old_files(session: Session, export_dir: Path, retention_hours: float) -> int:
    """Delete finished files older than ``retention_hours`` from ``export_dir``, and partial
    files left there by a killed writer. Servers sharing the folder may both do it: a file
    the other removed first is skipped."""
    cutoff = utcnow() - timedelta(hours=retention_hours)
    removed = 0
    for job in session.scalars(
        select(ExportJob).where(ExportJob.status == "done").where(ExportJob.finished_at < cutoff)
    ):
        path = stored_file(job, export_dir)
        if job.file_path and path.exists():
            path.unlink(missing_ok=True)
            removed += 1
    for stray in export_dir.glob(".*.partial") if export_dir.exists() else []:
        if time.time() - stray.stat().st_mtime > retention_hours * 3600:
            stray.unlink(missing_ok=True)
    return removed


class JobLost(Exception):
    """The running job is no longer ``running`` (a sweep failed it): its runner stops."""


class Heartbeat(BackgroundLoop):
    """Beats a running job's heartbeat every ``interval`` seconds, whatever the export is busy
    with: progress reports come when a step of the export ends, and a step can take longer
    than ``export_stale_after_s``, after which another worker's sweep fails the job."""

    name = "export-heartbeat"

    def __init__(self, sessions: sessionmaker[Session], job_id: str, interval: float) -> None:
        super().__init__(interval)
        self.sessions = sessions
        self.job_id = job_id
        self.lost = False

    def step(self) -> None:
        with transaction(self.sessions) as session:
            beat = session.execute(
                update(ExportJob)
                .where(ExportJob.id == self.job_id, ExportJob.status == "running")
                .values(heartbeat_at=db_now(session))
            ).rowcount
        if not beat:
            self.lost = True


class ExportRunner(BackgroundLoop):
    """The background thread that claims and runs queued export jobs (one at a time)."""

    name = "exports"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        index: MatchIndex,
        settings: Settings,
        poll: float = 0.5,
        finished: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        super().__init__(poll)
        self.sessions = sessions
        self.index = index
        self.settings = settings
        self.finished = finished  # called with "done" or "failed" for each job this one ran
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
            now = db_now(session)
            claimed = session.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id, ExportJob.status == "queued")
                .values(status="running", started_at=utcnow(), heartbeat_at=now)
            ).rowcount
            return job_id if claimed else None

    def _set(self, job_id: str, **values: object) -> bool:
        """Change the job while it is still running; returns whether it was."""
        with transaction(self.sessions) as session:
            return bool(
                session.execute(
                    update(ExportJob)
                    .where(ExportJob.id == job_id, ExportJob.status == "running")
                    .values(**values)
                ).rowcount
            )

    def run_job(self, job_id: str) -> None:
        with self.sessions() as session:
            params = ExportParams.model_validate(get_job(session, job_id).params)
        name = f"{job_id}.{params.format}"
        out = self.settings.export_dir / name
        last = [0.0]
        heartbeat = Heartbeat(self.sessions, job_id, self.settings.export_stale_after_s / 3)

        def progress(p: float) -> None:
            if heartbeat.lost:
                raise JobLost
            if time.monotonic() - last[0] > 0.5:
                last[0] = time.monotonic()
                if not self._set(job_id, progress=min(p, 0.999)):
                    raise JobLost

        heartbeat.start()
        try:
            with self.sessions() as session:
                self.index.catch_up(session)
                written = write_export(session, self.index, self.settings, params, out, progress)
            done = self._set(
                job_id,
                status="done",
                progress=1.0,
                rows=written.rows,
                skipped_pairs=written.skipped_pairs,
                file_path=name,
                finished_at=utcnow(),
            )
            if not done:
                raise JobLost
            self.finished("done")
        except JobLost:
            log.warning("export %s was failed by another worker while this one ran it", job_id)
            out.unlink(missing_ok=True)
        except Exception:  # noqa: BLE001 - reported on the job
            log.exception("export %s failed", job_id)
            self._set(job_id, status="failed", error=FAILED, finished_at=utcnow())
            self.finished("failed")
        finally:
            heartbeat.stop()
