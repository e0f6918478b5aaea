from __future__ import annotations

from fastapi import APIRouter

from service.auth.service import allow_write, require_staff
from service.controls import catalogue
from service.deps import PrincipalDep, SessionDep, StateDep
from service.errors import ERROR_RESPONSES
from service.screening import service
from service.screening.schemas import NOTICE, CategoryList, CategoryOut, DecisionCreate, DecisionOut

router = APIRouter(prefix="/v1/screening", tags=["screening"], responses=ERROR_RESPONSES)


@router.get("/categories", response_model=CategoryList)
def categories() -> CategoryList:
    """The export-control categories profiles may declare and screening flags, with the
    vocabulary version. Screening is an aid for officials, not legal advice."""
    v = catalogue()
    return CategoryList(
        version=v.version,
        notice=f"{NOTICE} {v.notice}",
        regimes=v.regimes,
        categories=[
            CategoryOut(
                code=c.code,
                regime=c.regime,
                name=c.name,
                description=c.description,
                source=c.source,
                sectors=list(c.sectors),
            )
            for c in v.categories.values()
        ],
    )


@router.post("/decisions", status_code=201, response_model=DecisionOut)
def decide(
    body: DecisionCreate, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> DecisionOut:
    """An official records a decision on a pair: ``cleared`` (a gated introduction then
    reveals contacts) or ``refused`` with a reason (it never does). Every decision is kept with
    who, when, why and the vocabulary version. The parties see only the outcome."""
    require_staff(principal)
    allow_write(principal, state.limiter)
    return service.decide(session, principal, body, state.screener.version)
