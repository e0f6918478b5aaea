"""Imports every model so ``Base.metadata`` is complete (Alembic autogenerate, tests)."""

from service.auth.models import ApiKey
from service.db import Base
from service.exports.models import ExportJob
from service.idempotency.models import IdempotentResponse
from service.profiles.changes import ProfileChange
from service.profiles.models import Profile, ProfileEmbedding

__all__ = [
    "ApiKey",
    "Base",
    "ExportJob",
    "IdempotentResponse",
    "Profile",
    "ProfileChange",
    "ProfileEmbedding",
]
