"""API keys and roles.

Keys are random 256-bit tokens; only their SHA-256 is stored. A presented key is hashed and looked
up by hash (a high-entropy secret's hash leaks nothing through lookup timing); the configured admin
key is compared with ``hmac.compare_digest``. Keys never appear in logs or error bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.auth.models import ApiKey
from service.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from service.core.ratelimit import RateLimiter

Role = Literal["anonymous", "owner", "official", "admin"]
KEY_PREFIX = "mm_"


@dataclass(frozen=True)
class Principal:
    role: Role
    key_id: int | None = None
    profile_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in ("official", "admin")

    def owns(self, profile_id: int) -> bool:
        return self.role == "owner" and self.profile_id == profile_id

    @property
    def rate_key(self) -> str:
        return f"key:{self.key_id}" if self.key_id is not None else "admin"


ANONYMOUS = Principal("anonymous")


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(
    session: Session, role: Role, label: str | None = None, profile_id: int | None = None
) -> str:
    raw = new_key()
    session.add(ApiKey(key_hash=hash_key(raw), role=role, label=label, profile_id=profile_id))
    session.flush()
    return raw


def replace_owner_key(session: Session, profile_id: int) -> str:
    """A new owner key for the profile; its earlier owner keys are deleted in the same
    transaction, so they stop working as it commits (keys are looked up on every request)."""
    session.execute(
        delete(ApiKey).where(ApiKey.profile_id == profile_id).where(ApiKey.role == "owner")
    )
    return create_key(session, "owner", profile_id=profile_id)


def resolve_without_lookup(raw: str | None, admin_key: str | None) -> Principal | None:
    """Anonymous (no key) or admin (the configured key); None when the database must tell."""
    if raw is None or raw == "":
        return ANONYMOUS
    if admin_key and hmac.compare_digest(raw.encode(), admin_key.encode()):
        return Principal("admin")
    return None


def lookup_key(session: Session, raw: str) -> Principal:
    """The principal of a stored key: the rest of ``resolve_without_lookup``'s keys."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw)))
    if row is None:
        raise Unauthorized("unknown API key")
    return Principal(row.role, row.id, row.profile_id)  # type: ignore[arg-type]


def principal_of_key_id(session: Session, key_id: int) -> Principal | None:
    """The principal of a stored key by its row id (None once the key is gone, e.g. with its
    profile): how a console session, which keeps the id and never the key, is checked."""
    row = session.get(ApiKey, key_id)
    return None if row is None else Principal(row.role, row.id, row.profile_id)  # type: ignore[arg-type]


def require_staff(principal: Principal) -> None:
    """Officials and admins only."""
    if principal.role == "anonymous":
        raise Unauthorized("an official or admin API key is required (header X-API-Key)")
    if not principal.is_staff:
        raise Forbidden("this needs an official or admin key")


def require_admin(principal: Principal) -> None:
    if principal.role == "anonymous":
        raise Unauthorized("an admin API key is required (header X-API-Key)")
    if principal.role != "admin":
        raise Forbidden("this needs an admin key")


def require_key(principal: Principal) -> None:
    """Any key at all (401 without one); what it may do is for the caller to check."""
    if principal.role == "anonymous":
        raise Unauthorized("an API key is required (header X-API-Key)")


def require_owner_or_staff(principal: Principal, *profile_ids: int) -> None:
    """The owner of one of ``profile_ids`` (e.g. either side of an introduction), an official
    or an admin."""
    require_key(principal)
    if not (principal.is_staff or any(principal.owns(p) for p in profile_ids)):
        whose = "the profile's owner" if len(profile_ids) == 1 else "the profiles' owners"
        raise Forbidden(f"only {whose}, officials and admins may do this")


def require_owner_or_admin(principal: Principal, profile_id: int) -> None:
    require_key(principal)
    if not (principal.role == "admin" or principal.owns(profile_id)):
        raise Forbidden("only the profile's owner or an admin may change it")


def allow_write(
    principal: Principal, limiter: RateLimiter, *, owner_of: int | None = None, cost: int = 1
) -> None:
    """The write rule, written once: officials and admins may write (with ``owner_of``, the
    profile's owner and admins), and every write but an admin's counts against the key's rate
    limit, ``cost`` times (a bulk of N profiles costs N)."""
    if owner_of is None:
        require_staff(principal)
    else:
        require_owner_or_admin(principal, owner_of)
    if principal.role != "admin":
        limiter.write(principal.rate_key, cost)
