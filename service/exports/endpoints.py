from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from service.auth.service import allow_write, require_staff
from service.deps import IdempotencyDep, PrincipalDep, SessionDep, StateDep, finish_here
from service.errors import ERROR_RESPONSES
from service.exports import service
from service.exports.schemas import ExportParams, ExportStatus
from service.exports.writer import CONTENT_TYPES
from service.idempotency import service as idempotency

router = APIRouter(prefix="/v1", tags=["exports"], responses=ERROR_RESPONSES)


@router.post("/exports", status_code=202, response_model=ExportStatus)
def create_export(
    body: ExportParams,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    response: Response,
    retry: IdempotencyDep,
) -> ExportStatus:
    """Queue an export of candidate pairings; poll the ``Location`` answered (``GET
    /v1/exports/{id}``). At most
    ``MATCHMAKER_EXPORT_MAX_PENDING_PER_KEY`` unfinished exports per key (429 beyond)."""
    allow_write(principal, state.limiter)
    job = service.create_job(session, body, principal, state.settings.export_max_pending_per_key)
    response.headers["Location"] = f"/v1/exports/{job.id}"
    out = service.to_status(job)
    ttl = timedelta(hours=state.settings.idempotency_ttl_hours)
    idempotency.remember(session, retry, 202, out, response.headers, ttl)
    finish_here(session)  # the runner, woken next, must find the job committed
    state.exports.wake()
    return out


@router.get("/exports/{export_id}", response_model=ExportStatus)
def export_status(export_id: str, session: SessionDep, principal: PrincipalDep) -> ExportStatus:
    """Status and progress; only for the key that created the export, and admins."""
    require_staff(principal)
    return service.to_status(service.get_job(session, export_id, principal))


# Bytes, in the export's own type, or as application/octet-stream to a client that asks for
# that (listed first: generated clients read the body as the first type they know, and an
# octet stream is what every format is).
_FILE = {"type": "string", "format": "binary"}
_FILE_TYPES = [service.OCTET_STREAM, *CONTENT_TYPES.values()]


@router.get(
    "/exports/{export_id}/file",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file, as `text/csv`, `application/x-ndjson` or "
            "`application/vnd.apache.parquet` by the export's format; as "
            "`application/octet-stream` when the request's `Accept` asks for that and not for "
            "the format's own type.",
            "content": {t: {"schema": _FILE} for t in _FILE_TYPES},
        }
    },
)
def export_file(
    export_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep, request: Request
) -> FileResponse:
    """The finished file; only for the key that created the export, and admins."""
    require_staff(principal)
    job = service.get_job(session, export_id, principal)
    path = service.finished_file(job, state.settings.export_dir)
    return FileResponse(
        path,
        media_type=service.file_media_type(job.format, request.headers.get("accept")),
        filename=f"pairings-{job.id}.{job.format}",
    )
