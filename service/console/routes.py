"""The web console at /console: HTML pages over the same domain services as the API.

Routes stay thin: each reads a form or query, checks the signed-in principal with the API's
own rules (``service.auth``), calls the domain service the API endpoint calls, and renders a
template. Sessions and CSRF: ``service.console.session``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator
from starlette.datastructures import FormData

from service.auth.service import (
    Principal,
    allow_write,
    lookup_key,
    require_owner_or_admin,
    require_owner_or_staff,
    require_staff,
    resolve_without_lookup,
)
from service.console import charts, forms, pairings
from service.console.session import ConsoleSession, Sessions, csrf_ok, principal_of
from service.deps import SessionDep, StateDep, client_address, finish_here
from service.errors import (
    Forbidden,
    InvalidInput,
    MatchmakerError,
    NotFound,
    RateLimited,
    Unauthorized,
)
from service.exports import service as exports
from service.exports.schemas import ExportParams
from service.exports.writer import CONTENT_TYPES
from service.introductions import queries as introductions
from service.introductions import service as workflow
from service.introductions import views
from service.introductions.schemas import (
    DeclineRequest,
    InterestCreate,
    IntroductionCreate,
    IntroductionState,
    OutcomeCreate,
)
from service.matching import service as matching
from service.profiles import service as profiles
from service.profiles.schemas import ProfileCreate, ProfileUpdate, SectorCode
from service.screening import service as screening
from service.screening.schemas import NOTICE, DecisionCreate
from service.sectors import SECTORS
from service.vocab import COUNTRIES, ORG_TYPES, PARTNERSHIP_TYPES, Country, OrgType

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")  # autoescape on for .html
templates.env.globals.update(
    SECTORS=SECTORS,
    SECTOR_NAMES={s.code: s.name for s in SECTORS},
    COUNTRIES=COUNTRIES,
    ORG_TYPES=ORG_TYPES,
    PARTNERSHIP_TYPES=PARTNERSHIP_TYPES,
    DECLINE_REASONS=("not_relevant", "competitor", "not_now", "already_in_contact", "other"),
    OUTCOME_STAGES=("meeting_held", "negotiating", "agreement_signed", "no_further_contact"),
    INTRODUCTION_STATES=("proposed", "active", "declined", "expired"),
    SCREENING_NOTICE=NOTICE,
    FUNNEL_STEPS=charts.FUNNEL_STEPS,
)
templates.env.filters["sector_names"] = lambda codes: ", ".join(
    {s.code: s.name for s in SECTORS}.get(c, c) for c in codes
)
router = APIRouter(prefix="/console", include_in_schema=False)


class SignInRequired(Unauthorized):
    """No valid console session: the page redirects to the sign-in form."""


@dataclass
class Viewer:
    sess: ConsoleSession | None
    principal: Principal

    @property
    def role(self) -> str:
        return self.principal.role


def _sessions(request: Request) -> Sessions:
    return request.app.state.console_sessions


async def get_viewer(request: Request, session: SessionDep) -> Viewer:
    sess = _sessions(request).read(request)
    if sess is None or sess.role == "anonymous":
        return Viewer(sess, principal_of(session, None))
    return Viewer(sess, await run_in_threadpool(principal_of, session, sess))


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def get_user(viewer: ViewerDep) -> Viewer:
    if viewer.role == "anonymous":
        raise SignInRequired("sign in first")
    return viewer


UserDep = Annotated[Viewer, Depends(get_user)]


async def get_form(request: Request, viewer: ViewerDep) -> FormData:
    """The submitted form, once its CSRF token matched the session's."""
    form = await request.form()
    if not csrf_ok(viewer.sess, form.get("csrf")):
        raise Forbidden(
            "this form has expired or did not come from this console; reload the page and send "
            "it again"
        )
    return form


FormDep = Annotated[FormData, Depends(get_form)]


def render(
    request: Request, viewer: Viewer, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    sess = viewer.sess or ConsoleSession.anonymous()
    response = templates.TemplateResponse(
        request,
        name,
        {"viewer": viewer, "csrf": sess.csrf, **context},
        status_code=status,
    )
    if viewer.sess is None:
        _sessions(request).write(request, response, sess)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == "/console" or path.startswith("/console/")


def error_page(request: Request, exc: MatchmakerError) -> Response:
    """Domain errors on console pages: a sign-in redirect, or a page saying what went wrong."""
    if isinstance(exc, SignInRequired):
        return redirect("/console/signin")
    sessions = _sessions(request)
    sess = sessions.read(request)
    viewer = Viewer(sess, Principal(sess.role) if sess else Principal("anonymous"))
    message = exc.message if not isinstance(exc, InvalidInput) else _invalid_text(exc)
    response = render(request, viewer, "error.html", exc.status_code, message=message, exc=exc)
    response.headers.update(exc.headers)
    return response


def _invalid_text(exc: InvalidInput) -> str:
    errors = forms.domain_errors(exc)
    return "; ".join(v if k == "form" else f"{k.replace('_', ' ')}: {v}" for k, v in errors.items())


def _invalid(errors: dict[str, str]) -> InvalidInput:
    """A form's field errors as the domain's 422 (shown by ``error_page``)."""
    return InvalidInput(
        "invalid input",
        errors=[{"loc": [] if k == "form" else [k], "msg": v} for k, v in errors.items()],
    )


# -- sign-in ---------------------------------------------------------------------------------


@router.get("")
async def home(viewer: ViewerDep) -> RedirectResponse:
    if viewer.role == "anonymous":
        return redirect("/console/signin")
    if viewer.role == "owner":
        return redirect("/console/me")
    return redirect("/console/registry")


@router.get("/signin")
async def signin_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    return render(request, viewer, "signin.html")


@router.post("/signin")
def signin(
    request: Request, form: FormDep, viewer: ViewerDep, session: SessionDep, state: StateDep
) -> Response:
    raw = str(form.get("api_key", "")).strip()
    admin = state.settings.admin_key.get_secret_value() if state.settings.admin_key else None
    client = client_address(request)
    try:
        state.limiter.signin_allowed(client)
        principal = resolve_without_lookup(raw, admin) or lookup_key(session, raw)
        if principal.role == "anonymous":
            raise Unauthorized("enter an API key")
    except Unauthorized as exc:
        try:
            state.limiter.signin_failed(client)
        except RateLimited as limited:
            return _too_many_signins(request, viewer, limited)
        return render(request, viewer, "signin.html", 401, error=exc.message)
    except RateLimited as limited:
        return _too_many_signins(request, viewer, limited)
    response = redirect("/console")
    _sessions(request).write(request, response, ConsoleSession.of(principal))
    return response


def _too_many_signins(request: Request, viewer: Viewer, exc: RateLimited) -> HTMLResponse:
    wait = exc.headers.get("Retry-After", "60")
    message = f"Too many failed sign-ins from this address. Try again in {wait} seconds."
    response = render(request, viewer, "signin.html", 429, error=message)
    response.headers.update(exc.headers)
    return response


@router.post("/signout")
async def signout(request: Request, form: FormDep) -> Response:
    response = redirect("/console/signin")
    _sessions(request).clear(response)
    return response


@router.get("/me")
async def my_profile(user: UserDep, session: SessionDep) -> RedirectResponse:
    if user.principal.profile_id is None:
        return redirect("/console/registry")
    row = await run_in_threadpool(profiles.get_by_id, session, user.principal.profile_id)
    return redirect(f"/console/profiles/{row.public_id}")


# -- registry --------------------------------------------------------------------------------


class RegistryQuery(BaseModel):
    """The API's list filters (``GET /v1/profiles``); an empty box of the form means "any"."""

    country: Country | None = None
    sector: SectorCode | None = None
    org_type: OrgType | None = None
    q: str | None = None
    cursor: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v


PAGE_SIZE = 25
# A text search reads the texts themselves: each page looks at this many profiles at most, so
# a rare word answers in time at 100,000 profiles (the page then offers to search on).
SEARCH_SCAN = 10_000


@router.get("/registry")
def registry(
    request: Request,
    user: UserDep,
    session: SessionDep,
    filters: Annotated[RegistryQuery, Query()],
) -> HTMLResponse:
    page = profiles.list_profiles(
        session,
        user.principal,
        country=filters.country,
        sector=filters.sector,
        org_type=filters.org_type,
        q=filters.q[:200] if filters.q else None,
        limit=PAGE_SIZE,
        cursor=filters.cursor,
        scan=SEARCH_SCAN,
    )
    query = filters.model_dump(exclude={"cursor"}, exclude_none=True)
    partial = bool(filters.q) and page.next_cursor is not None and len(page.items) < PAGE_SIZE
    return render(
        request,
        user,
        "registry.html",
        page=page,
        filters=filters,
        query=query,
        partial=partial,
        scan=SEARCH_SCAN,
    )


# -- a profile, its matches and interests -----------------------------------------------------


@router.get("/profiles/{profile_id}")
async def profile_page(
    request: Request, profile_id: str, user: UserDep, session: SessionDep, state: StateDep
) -> HTMLResponse:
    p = user.principal

    def work() -> dict[str, Any]:
        row = profiles.get(session, profile_id)
        out: dict[str, Any] = {"profile": profiles.to_out(row, p), "matches": None}
        if p.is_staff or p.owns(row.id):
            _, matches, pairs = matching.match_list(
                session, state.index, state.settings, p, profile_id, limit=10
            )
            out["matches"] = matches
            out["screening"] = matching.screen_matches(session, row.id, matches, p)
            out["pairs"] = pairs
            out["interests"] = introductions.list_interests(
                session, row, direction=None, state="pending", cursor=None, limit=50
            ).items
            partners = views.profiles_by_id(session, pairs.introductions)
            out["introduced"] = [
                (partners[pid], ix) for pid, ix in pairs.introductions.items() if pid in partners
            ]
        out["mine"] = p.owns(row.id)
        out["may_edit"] = p.owns(row.id) or p.role == "admin"
        return out

    ctx = await anyio.to_thread.run_sync(work, limiter=state.match_slots)
    return render(request, user, "profile.html", **ctx)


@router.post("/profiles/{profile_id}/interests")
def send_interest(
    profile_id: str, form: FormDep, user: UserDep, session: SessionDep, state: StateDep
) -> Response:
    values = {"to": form.get("to", ""), "message": form.get("message", "")}
    body, errors = forms.parse(InterestCreate, values)
    if body is None:
        raise _invalid(errors)
    workflow.send_interest(session, state.settings.introductions, user.principal, profile_id, body)
    if user.role != "admin":
        state.limiter.write(user.principal.rate_key)
    return redirect(f"/console/profiles/{profile_id}#matches")


@router.post("/interests/{interest_id}/{action}")
def answer_interest(
    interest_id: str,
    action: str,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    state: StateDep,
) -> Response:
    if action not in ("accept", "decline", "withdraw"):
        raise NotFound("no such action")
    decline = None
    if action == "decline":
        note = str(form.get("note", "")).strip() or None
        decline, errors = forms.parse(
            DeclineRequest, {"reason": form.get("reason", ""), "note": note}
        )
        if decline is None:
            raise _invalid(errors)
    interest = workflow.answer(session, user.principal, interest_id, action, decline)
    if user.role != "admin":
        state.limiter.write(user.principal.rate_key)
    back = str(form.get("back", ""))
    mine = interest.to_profile_id if action != "withdraw" else interest.from_profile_id
    if back.startswith("/console/") and not back.startswith("//"):
        return redirect(back)
    return redirect(f"/console/profiles/{profiles.get_by_id(session, mine).public_id}")


# -- registration and editing ------------------------------------------------------------------


@router.get("/register")
async def register_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    return render(request, viewer, "register.html", values={}, errors={})


@router.post("/register")
def register(
    request: Request, form: FormDep, viewer: ViewerDep, session: SessionDep, state: StateDep
) -> Response:
    values = forms.profile_values(form, create=True)
    body, errors = forms.parse(ProfileCreate, values)
    if body is None:
        return render(request, viewer, "register.html", 422, values=values, errors=errors)
    if viewer.role != "admin":
        state.limiter.registration(client_address(request))
    try:
        reg = profiles.register(session, state.encoder, body)
    except MatchmakerError as exc:
        errors = forms.domain_errors(exc) if isinstance(exc, InvalidInput) else {}
        errors.setdefault("form", exc.message)
        return render(
            request, viewer, "register.html", exc.status_code, values=values, errors=errors
        )
    return render(request, viewer, "registered.html", 201, profile=reg.profile, api_key=reg.api_key)


def _editable(session: SessionDep, user: Viewer, profile_id: str):  # noqa: ANN202
    row = profiles.get(session, profile_id)
    require_owner_or_admin(user.principal, row.id)
    return row


@router.get("/profiles/{profile_id}/edit")
def edit_page(
    request: Request, profile_id: str, user: UserDep, session: SessionDep
) -> HTMLResponse:
    row = _editable(session, user, profile_id)
    out = profiles.to_out(row, user.principal).model_dump(mode="json")
    out["tags"] = ", ".join(out["tags"])
    return render(request, user, "edit.html", profile=row, values=out, errors={})


@router.post("/profiles/{profile_id}/edit")
def edit(
    request: Request,
    profile_id: str,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    state: StateDep,
) -> Response:
    row = _editable(session, user, profile_id)
    values = forms.profile_values(form, create=False)
    patch, errors = forms.parse(ProfileUpdate, values)
    if patch is None:
        shown = {**values, "tags": ", ".join(values.get("tags", []))}
        return render(request, user, "edit.html", 422, profile=row, values=shown, errors=errors)
    allow_write(user.principal, state.limiter, owner_of=row.id)
    profiles.update(session, state.encoder, row, patch)
    return redirect(f"/console/profiles/{row.public_id}")


# -- exports ---------------------------------------------------------------------------------


@router.get("/exports")
async def exports_page(request: Request, user: UserDep) -> HTMLResponse:
    require_staff(user.principal)
    return render(request, user, "exports.html", errors={})


@router.post("/exports")
def start_export(
    request: Request, form: FormDep, user: UserDep, session: SessionDep, state: StateDep
) -> Response:
    require_staff(user.principal)
    values = {k: form.get(k) for k in ("format", "sector", "country", "top_k", "min_score")}
    params, errors = forms.parse(ExportParams, {k: v for k, v in values.items() if v})
    if params is None:
        return render(request, user, "exports.html", 422, errors=errors)
    allow_write(user.principal, state.limiter)
    job = exports.create_job(
        session, params, user.principal, state.settings.export_max_pending_per_key
    )
    finish_here(session)  # the runner, woken next, must find the job committed
    state.exports.wake()
    return redirect(f"/console/exports/{job.id}")


@router.get("/exports/{export_id}")
def export_page(
    request: Request, export_id: str, user: UserDep, session: SessionDep
) -> HTMLResponse:
    require_staff(user.principal)
    job = exports.to_status(exports.get_job(session, export_id, user.principal))
    return render(request, user, "export.html", job=job)


@router.get("/exports/{export_id}/status")
def export_status(
    request: Request, export_id: str, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """The status box alone, for htmx polling (it stops polling once the job is finished)."""
    require_staff(user.principal)
    job = exports.to_status(exports.get_job(session, export_id, user.principal))
    return render(request, user, "_export_status.html", job=job)


@router.get("/exports/{export_id}/file")
def export_file(
    export_id: str, user: UserDep, session: SessionDep, state: StateDep
) -> FileResponse:
    require_staff(user.principal)
    job = exports.get_job(session, export_id, user.principal)
    path = exports.finished_file(job, state.settings.export_dir)
    return FileResponse(
        path, media_type=CONTENT_TYPES[job.format], filename=f"pairings-{job.id}.{job.format}"
    )


# -- pairings --------------------------------------------------------------------------------


class PairingsQuery(BaseModel):
    sector: SectorCode | None = None
    per_org: int | None = None
    page: int = 1

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v


async def _pairings_figures(
    request: Request, state: StateDep, query: PairingsQuery, wait_s: float
) -> dict[str, Any]:
    """The table and pictures of the pairings page, from their snapshots (None: not ready)."""
    snaps: pairings.Snapshots = request.app.state.console_pairings
    s = state.settings
    per_org = min(100, max(1, query.per_org or s.console.pairings_per_org))
    limit = pairings.TABLE_ROWS
    lane, sessions, index = state.pairing_lane.run, state.sessions, state.index
    counts: pairings.Snapshots = request.app.state.console_funnels
    pictures = snaps.get(
        ("pictures", per_org),
        lane,
        sessions,
        lambda db: pairings.pictures(db, index, s, per_org=per_org),
        wait_s,
    )
    funnel = counts.get("funnels", run_in_threadpool, sessions, pairings.funnels, wait_s)
    if query.sector is None:  # the unfiltered table comes with the pictures: one ranking
        pics, funnels = await asyncio.gather(pictures, funnel)
        table = (
            None if pics is None else pairings.Snapshot(pics.taken_at, pics.taken, pics.value.table)
        )
    else:
        table, pics, funnels = await asyncio.gather(
            snaps.get(
                ("table", query.sector, per_org, limit),
                lane,
                sessions,
                lambda db: pairings.table(
                    db, index, s, sector=query.sector, per_org=per_org, limit=limit
                ),
                wait_s,
            ),
            pictures,
            funnel,
        )
    top = max((f.interests_sent for _, f in funnels.value), default=0) if funnels else 0
    page = max(1, min(query.page, -(-limit // PAGE_SIZE)))
    return {
        "table": table,
        "pics": pics,
        "funnels": funnels,
        "funnel_top": top,
        "per_org": per_org,
        "query": query,
        "page": page,
        "rows": slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE),
    }


@router.get("/pairings")
async def pairings_page(
    request: Request,
    user: UserDep,
    state: StateDep,
    query: Annotated[PairingsQuery, Query()],
) -> HTMLResponse:
    """Best pairs per sector under the per-organisation cap, their pictures and the
    introductions funnel by sector, from snapshots (see ``console.pairings``)."""
    require_staff(user.principal)
    figures = await _pairings_figures(
        request, state, query, state.settings.console.pairings_first_wait_s
    )
    return render(request, user, "pairings.html", **figures)


@router.get("/pairings/figures")
async def pairings_figures(
    request: Request,
    user: UserDep,
    state: StateDep,
    query: Annotated[PairingsQuery, Query()],
) -> HTMLResponse:
    """The pairings table and pictures alone, for htmx polling while they are computed."""
    require_staff(user.principal)
    figures = await _pairings_figures(request, state, query, 0.0)
    return render(request, user, "_pairings_figures.html", **figures)


# -- the workflow: introductions, outcomes, the screening queue --------------------------------


class IntroductionsQuery(BaseModel):
    """The filters of ``GET /v1/introductions``; an empty box of the form means "any"."""

    state: IntroductionState | None = None
    sector: SectorCode | None = None
    country: Country | None = None
    profile: str | None = Field(None, pattern=r"^pr_[0-9a-f]{16}$")
    cursor: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v


@router.get("/introductions")
def introductions_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    filters: Annotated[IntroductionsQuery, Query()],
) -> HTMLResponse:
    """Officials' view of every introduction (the list shows no contact details: an
    introduction's own page does, for those entitled, and records the showing)."""
    require_staff(user.principal)
    found = profiles.get(session, filters.profile) if filters.profile else None
    page = introductions.list_introductions(
        session,
        None,
        state=filters.state,
        sector=filters.sector,
        country=filters.country,
        since=None,
        profile=found,
        cursor=filters.cursor,
        limit=PAGE_SIZE,
    )
    query = filters.model_dump(exclude={"cursor"}, exclude_none=True)
    return render(
        request, user, "introductions.html", page=page, filters=filters, query=query, errors={}
    )


@router.post("/introductions")
def broker_introduction(
    form: FormDep, user: UserDep, session: SessionDep, state: StateDep
) -> Response:
    """An official proposes that two profiles meet (``POST /v1/introductions``)."""
    require_staff(user.principal)
    values = {
        "profiles": [str(form.get(k, "")).strip() for k in ("in_profile", "kr_profile")],
        "message": form.get("message", ""),
    }
    body, errors = forms.parse(IntroductionCreate, values)
    if body is None:
        raise _invalid(errors)
    allow_write(user.principal, state.limiter)
    intro = workflow.broker(session, state.settings.introductions, user.principal, body)
    return redirect(f"/console/introductions/{intro.public_id}")


@router.get("/introductions/{introduction_id}")
def introduction_page(
    request: Request, introduction_id: str, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """One introduction as ``GET /v1/introductions/{id}`` shows it to this viewer: contact
    details only to its sides once active and past the screening gate (and to staff)."""
    intro = workflow.get_introduction(session, introduction_id)
    require_owner_or_staff(user.principal, intro.low_profile_id, intro.high_profile_id)
    out = views.introduction_out(session, intro, user.principal)
    sides = (intro.low_profile_id, intro.high_profile_id)
    side = next(
        (
            party.profile.id
            for pid, party in zip(sides, out.parties, strict=True)
            if user.principal.owns(pid)
        ),
        None,
    )
    names = {party.profile.id: party.profile.name for party in out.parties}
    return render(
        request,
        user,
        "introduction.html",
        intro=out,
        side=side,
        names=names,
        today=date.today().isoformat(),
    )


@router.post("/introductions/{introduction_id}/outcomes")
def report_outcome(
    introduction_id: str, form: FormDep, user: UserDep, session: SessionDep, state: StateDep
) -> Response:
    values = {
        "stage": form.get("stage", ""),
        "date": form.get("date", ""),
        "note": str(form.get("note", "")).strip() or None,
    }
    body, errors = forms.parse(OutcomeCreate, values)
    if body is None:
        raise _invalid(errors)
    workflow.report_outcome(session, user.principal, introduction_id, body)
    if user.role != "admin":
        state.limiter.write(user.principal.rate_key)
    return redirect(f"/console/introductions/{introduction_id}#outcomes")


QueueState = Literal["pending", "decided", "all"]


@router.get("/screening")
def screening_page(
    request: Request, user: UserDep, session: SessionDep, state: QueueState = "pending"
) -> HTMLResponse:
    """Officials' screening queue (``GET /v1/screening/queue``), each pair with its categories,
    reasons and latest decision, and a form to record one."""
    require_staff(user.principal)
    items = introductions.screening_queue(session, state=state, limit=PAGE_SIZE * 2)
    people = profiles.by_public_ids(session, (pid for i in items for pid in i["profiles"]))
    return render(request, user, "screening.html", items=items, people=people, state=state)


@router.post("/screening/decisions")
def record_decision(form: FormDep, user: UserDep, session: SessionDep, state: StateDep) -> Response:
    """``POST /v1/screening/decisions``: cleared, or refused with a reason; audited."""
    require_staff(user.principal)
    values = {
        "profiles": form.getlist("profiles"),
        "decision": form.get("decision", ""),
        "reason": str(form.get("reason", "")).strip() or None,
    }
    body, errors = forms.parse(DecisionCreate, values)
    if body is None:
        raise _invalid(errors)
    allow_write(user.principal, state.limiter)
    screening.decide(session, user.principal, body, state.screener.version)
    return redirect("/console/screening?state=decided")


def install(app: FastAPI, settings: Any) -> None:
    """Mount the console on ``app``: its routes, its static files, its session signer."""
    app.state.console_sessions = Sessions(settings)
    app.state.console_pairings = pairings.Snapshots(settings.console.pairings_max_age_s)
    app.state.console_funnels = pairings.Snapshots(pairings.FUNNEL_MAX_AGE_S, size=1)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
