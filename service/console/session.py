"""Console sessions: a signed, expiring cookie that names a principal, never its key.

The cookie holds the key's row id, role and profile (or "admin by the configured key"), and a
CSRF token; it is signed with itsdangerous (HMAC-SHA1 over a key derived from the console
secret) and carries its signing time, so a cookie older than ``session_hours`` is refused. On
every request the key row is looked up again: a key deleted with its profile ends its sessions.
A visitor who has not signed in gets a session too (no principal, a CSRF token), so the sign-in
and registration forms are CSRF-protected like every other.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from service.auth.service import ANONYMOUS, Principal, principal_of_key_id
from service.config import Settings
from service.files import FILE_MODE, private_dir

COOKIE = "mm_console"
SALT = "matchmaker.console.session.v1"


@dataclass(frozen=True)
class ConsoleSession:
    csrf: str
    role: str = "anonymous"
    key_id: int | None = None
    profile_id: int | None = None

    def dump(self) -> dict:
        return {"c": self.csrf, "r": self.role, "k": self.key_id, "p": self.profile_id}

    @classmethod
    def load(cls, data: object) -> ConsoleSession | None:
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        return cls(data["c"], data.get("r", "anonymous"), data.get("k"), data.get("p"))

    @classmethod
    def anonymous(cls) -> ConsoleSession:
        return cls(secrets.token_urlsafe(32))

    @classmethod
    def of(cls, principal: Principal) -> ConsoleSession:
        """A fresh session (new CSRF token) for a principal that has just signed in."""
        return cls(
            secrets.token_urlsafe(32), principal.role, principal.key_id, principal.profile_id
        )


def load_secret(settings: Settings) -> str:
    """The configured secret, or the one kept in the data folder (made once, under a file lock,
    so workers starting together agree on it)."""
    if settings.console.secret is not None:
        return settings.console.secret.get_secret_value()
    folder = private_dir(settings.data_dir)
    path = Path(folder) / "console-secret"
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


class Sessions:
    """Reads and writes the session cookie."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.console
        self.serializer = URLSafeTimedSerializer(load_secret(settings), salt=SALT)
        self.max_age = int(self.settings.session_hours * 3600)

    def read(self, request: Request) -> ConsoleSession | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            return ConsoleSession.load(self.serializer.loads(raw, max_age=self.max_age))
        except BadSignature:  # also SignatureExpired
            return None

    def write(self, request: Request, response: Response, sess: ConsoleSession) -> None:
        secure = self.settings.secure_cookie == "always" or (
            self.settings.secure_cookie == "auto" and request.url.scheme == "https"
        )
        response.set_cookie(
            COOKIE,
            self.serializer.dumps(sess.dump()),
            max_age=self.max_age,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=secure,
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")


def principal_of(session: Session, sess: ConsoleSession | None) -> Principal:
    """Who the session speaks for, checked against the keys table now."""
    if sess is None or sess.role == "anonymous":
        return ANONYMOUS
    if sess.key_id is None:
        return Principal("admin") if sess.role == "admin" else ANONYMOUS
    found = principal_of_key_id(session, sess.key_id)
    return found if found is not None and found.role == sess.role else ANONYMOUS


def csrf_ok(sess: ConsoleSession | None, token: object) -> bool:
    return (
        sess is not None
        and isinstance(token, str)
        and hmac.compare_digest(token.encode(), sess.csrf.encode())
    )
