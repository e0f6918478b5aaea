"""Domain errors. Domain code raises these; one handler in ``service.app`` renders them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class MatchmakerError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra
        # An error that says when to come back says it in the header too (429, 503).
        self.headers: dict[str, str] = {}
        if extra.get("retry_after") is not None:
            self.headers["Retry-After"] = str(extra["retry_after"])

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, **self.extra}


class NotFound(MatchmakerError):
    status_code = 404
    code = "not_found"


class Unauthorized(MatchmakerError):
    status_code = 401
    code = "unauthorized"


class Forbidden(MatchmakerError):
    status_code = 403
    code = "forbidden"


class Conflict(MatchmakerError):
    status_code = 409
    code = "conflict"


class InvalidInput(MatchmakerError):
    """422 in the same shape as request validation errors: ``detail`` lists each problem."""

    status_code = 422
    code = "invalid_input"

    def __init__(
        self,
        message: str,
        *,
        loc: list[str | int] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.errors = errors or [{"loc": loc or [], "msg": message, "type": "value_error"}]

    def body(self) -> dict[str, Any]:
        return {"detail": self.errors}


class RateLimited(MatchmakerError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)


class ExportQueueFull(MatchmakerError):
    """A key already has as many unfinished exports as it may (``export_max_pending_per_key``)."""

    status_code = 429
    code = "export_queue_full"

    def __init__(self, message: str, limit: int, retry_after: int = 10) -> None:
        super().__init__(message, limit=limit, retry_after=retry_after)


class LimitReached(MatchmakerError):
    """A quota that time alone does not lift (e.g. open interests): 429 without Retry-After."""

    status_code = 429
    code = "limit_reached"


class Busy(MatchmakerError):
    """Heavy work of one kind (pairings, bulk registration) is at its limit on this worker:
    the work running, the queue full or the wait too long (``service.core.threads.Lane``)."""

    status_code = 503
    code = "busy"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)


class IdempotencyInProgress(Conflict):
    """A request with the same Idempotency-Key was being processed at the same moment."""

    code = "idempotency_in_progress"


class Replayed(MatchmakerError):
    """Not a failure: the stored response of an earlier request with the same Idempotency-Key
    (``service.idempotency``), raised before the handler runs so that nothing is written, and
    rendered by the one handler like every other outcome decided outside a route."""

    def __init__(self, status_code: int, body: Any, headers: dict[str, str]) -> None:
        super().__init__("replayed")
        self.status_code = status_code
        self.content = body
        self.headers = {**headers, "Idempotent-Replayed": "true"}

    def body(self) -> Any:
        return self.content


class Unavailable(MatchmakerError):
    status_code = 503
    code = "unavailable"


class TooLarge(MatchmakerError):
    """A request whose work would exceed a configured cost (named in the message)."""

    status_code = 413
    code = "too_large"


class ErrorBody(BaseModel):
    """Body of every error response other than 422."""

    model_config = ConfigDict(extra="allow")

    detail: str
    code: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request"),
        (401, "Missing or unknown API key"),
        (403, "The key lacks the right"),
        (404, "Not found"),
        (
            409,
            "Conflict (duplicate organisation, export not done, a request with the same "
            "Idempotency-Key in progress)",
        ),
        (413, "Request body too large"),
        (429, "Rate limited, or too many unfinished exports; see Retry-After"),
        (503, "Database unavailable, index catching up, or heavy work queue full; see Retry-After"),
    )
}
