"""Domain errors. Domain code raises these; one handler in ``service.app`` renders them."""

from __future__ import annotations

from typing import Any


class MatchmakerError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}

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
    status_code = 422
    code = "invalid_input"


class RateLimited(MatchmakerError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


class Unavailable(MatchmakerError):
    status_code = 503
    code = "unavailable"
