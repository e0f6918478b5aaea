from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from service.auth.service import allow_write, require_staff
from service.deps import PrincipalDep, SessionDep, StateDep, finish_here
from service.errors import ERROR_RESPONSES
from service.exports import service
from service.exports.schemas import ExportParams, ExportStatus
from service.exports.writer import CONTENT_TYPES

router = APIRouter(prefix="/v1", tags=["exports"], responses=ERROR_RESPONSES)


@router.post("/exports", status_code=202, response_model=ExportStatus)
def create_export(
    body: ExportParams, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> ExportStatus:
    """Queue an export of candidate pairings; poll ``GET /v1/exports/{id}``."""
    allow_write(principal, state.limiter)
    job = service.create_job(session, body)
    finish_here(session)  # the runner, woken next, must find the job committed
    state.exports.wake()
    return service.to_status(job)


@router.get("/exports/{export_id}", response_model=ExportStatus)
def export_status(export_id: str, session: SessionDep, principal: PrincipalDep) -> ExportStatus:
    require_staff(principal)
    return service.to_status(service.get_job(session, export_id))


@router.get(
    "/exports/{export_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in CONTENT_TYPES.values()}}},
)
def export_file(export_id: str, session: SessionDep, principal: PrincipalDep) -> FileResponse:
    require_staff(principal)
    job = service.get_job(session, export_id)
    path = service.finished_file(job)
    return FileResponse(
        path, media_type=CONTENT_TYPES[job.format], filename=f"pairings-{job.id}.{job.format}"
    )
