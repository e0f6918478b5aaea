"""Imports every model so ``Base.metadata`` is complete (Alembic autogenerate, tests)."""

from service.auth.models import ApiKey
from service.db import Base
from service.exports.models import ExportJob
from service.idempotency.models import IdempotentResponse
from service.introductions.models import ContactReveal, Interest, Introduction, Outcome
from service.profiles.changes import ProfileChange
from service.profiles.models import Profile, ProfileEmbedding
from service.screening.models import ScreeningDecision, ScreeningResult
from service.webhooks.models import Webhook, WebhookAttempt, WebhookEvent

__all__ = [
    "ApiKey",
    "Base",
    "ContactReveal",
    "ExportJob",
    "IdempotentResponse",
    "Interest",
    "Introduction",
    "Outcome",
    "Profile",
    "ProfileChange",
    "ProfileEmbedding",
    "ScreeningDecision",
    "ScreeningResult",
    "Webhook",
    "WebhookAttempt",
    "WebhookEvent",
]
