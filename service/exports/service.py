"""Export jobs: recorded in the database, run by a background thread of some worker.

A worker claims a queued job with a conditional UPDATE (so two workers never run the same job),
refreshes its heartbeat while running, and marks it done only after the file was renamed into
place. A job whose heartbeat stopped (its worker was killed) is marked failed, never done.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.auth.service import Principal
from service.db import transaction, utcnow
from service.errors import Conflict, ExportQueueFull, NotFound
from service.exports.models import ExportJob
from service.exports.schemas import ExportParams, ExportStatus
from service.exports.writer import write_export

if TYPE_CHECKING:
    from service.deps import AppState

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the worker running this export stopped; request a new export"
# What a client sees of any other failure: the exception's text can hold file paths, SQL and
# library internals, which are for the operator (logged with the job id), not for officials.
FAILED = (
    "the export failed because of an internal error; request a new export, and if it fails "
    "again give the operator the export id"
)


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
    job = session.get(ExportJob, job_id)
    if job is None or (reader is not None and not _may_read(job, reader)):
        raise NotFound(f"no export with id {job_id!r}")
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


class ExportRunner:
    def __init__(self, state: AppState, poll: float = 0.5) -> None:
        self.state = state
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exports", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        last_clean = 0.0
        while not self._stop.is_set():
            try:
                with transaction(self.state.sessions) as session:
                    fail_stale_jobs(
                        session, timedelta(seconds=self.state.settings.export_stale_after_s)
                    )
                    if time.monotonic() - last_clean > 600:
                        clean_old_files(
                            session,
                            self.state.settings.export_dir,
                            self.state.settings.export_retention_hours,
                        )
                        last_clean = time.monotonic()
                job_id = self._claim()
                if job_id:
                    self.run_job(job_id)
                    continue
            except Exception:  # noqa: BLE001 - keep the runner alive (e.g. database restart)
                log.warning("export runner iteration failed", exc_info=True)
            self._wake.wait(self.poll)
            self._wake.clear()

    def _claim(self) -> str | None:
        with transaction(self.state.sessions) as session:
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
        with transaction(self.state.sessions) as session:
            session.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))

    def run_job(self, job_id: str) -> None:
        state = self.state
        with state.sessions() as session:
            params = ExportParams.model_validate(get_job(session, job_id).params)
        out = state.settings.export_dir / f"{job_id}.{params.format}"
        last = [0.0]

        def progress(p: float) -> None:
            if time.monotonic() - last[0] > 0.5:
                last[0] = time.monotonic()
                self._set(job_id, progress=min(p, 0.999), heartbeat_at=utcnow())

        try:
            with state.sessions() as session:
                state.index.catch_up(session)
                written = write_export(session, state.index, state.settings, params, out, progress)
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
