"""Webhook registration, the deliveries list and replay: plain functions taking a session."""

from __future__ import annotations

import ipaddress
import secrets
from collections import defaultdict
from dataclasses import dataclass

from pydantic import HttpUrl
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import WebhookSettings
from service.core.pagination import newest_first
from service.db import utcnow
from service.errors import Conflict, InvalidInput, NotFound
from service.webhooks import addresses
from service.webhooks.models import Webhook, WebhookAttempt, WebhookEvent
from service.webhooks.schemas import Attempt, Delivery, DeliveryList, WebhookOut

SECRET_PREFIX = "whsec_"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def check_url(url: HttpUrl, config: WebhookSettings) -> None:
    """https only, except to this machine when the settings allow it (development, tests).

    Hosts that are, or resolve to, private, loopback or link-local addresses are refused: the
    server must not be made to post into its own network. A name that does not resolve now is
    accepted (DNS may be down for a moment); every delivery resolves and checks it again
    (``service.webhooks.addresses``).
    """
    host = (url.host or "").lower()
    if host in LOCAL_HOSTS:
        if not config.allow_localhost:
            raise InvalidInput("webhook URLs on localhost are not allowed", loc=["body", "url"])
        return
    if url.scheme != "https":
        raise InvalidInput(
            "the webhook URL must use https (http only to 127.0.0.1 or localhost)",
            loc=["body", "url"],
        )
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        check_resolved(host, url.port or 443, config)
        return
    if not addresses.allowed(address, allow_loopback=False):
        raise InvalidInput(
            "the webhook URL must not point at a private or reserved address",
            loc=["body", "url"],
        )


def check_resolved(host: str, port: int, config: WebhookSettings) -> None:
    """A name (the machine's own, ``127.1``, or any DNS name) may lead where a literal
    address may not: its addresses are checked too."""
    try:
        addresses.resolve(host, port, config.allow_localhost)
    except addresses.Unresolved:
        return
    except addresses.AddressRefused as exc:
        raise InvalidInput(str(exc), loc=["body", "url"]) from None


def get(session: Session, profile_id: int) -> Webhook:
    hook = session.scalar(select(Webhook).where(Webhook.profile_id == profile_id))
    if hook is None:
        raise NotFound("this profile has no webhook")
    return hook


@dataclass
class Issued:
    webhook: Webhook
    secret: str
    created: bool


def put(session: Session, profile_id: int, url: HttpUrl, config: WebhookSettings) -> Issued:
    """Create or replace the profile's webhook; each call issues a new secret (rotation)."""
    check_url(url, config)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    hook = session.scalar(select(Webhook).where(Webhook.profile_id == profile_id))
    created = hook is None
    if hook is None:
        hook = Webhook(profile_id=profile_id, url=str(url), secret=secret)
        session.add(hook)
    else:
        hook.url, hook.secret, hook.updated_at = str(url), secret, utcnow()
    session.flush()
    return Issued(hook, secret, created)


def remove(session: Session, profile_id: int) -> None:
    """Delete the webhook. Events still pending are marked skipped by the deliverer."""
    session.delete(get(session, profile_id))
    session.flush()


def to_out(hook: Webhook) -> WebhookOut:
    return WebhookOut(url=hook.url, created_at=hook.created_at, updated_at=hook.updated_at)


def deliveries(
    session: Session, profile_id: int, *, state: str | None, limit: int, cursor: str | None
) -> DeliveryList:
    """The profile's events, newest first, each with its attempts (keyset pages by id)."""
    stmt = select(WebhookEvent).where(WebhookEvent.profile_id == profile_id)
    if state:
        stmt = stmt.where(WebhookEvent.state == state)
    rows, following = newest_first(session, stmt, WebhookEvent.id, cursor=cursor, limit=limit)
    log = attempt_log(session, [r.id for r in rows])
    return DeliveryList(items=[to_delivery(r, log[r.id]) for r in rows], next_cursor=following)


def attempt_log(session: Session, event_ids: list[int]) -> dict[int, list[Attempt]]:
    """Each event's attempts, oldest first."""
    log: dict[int, list[Attempt]] = defaultdict(list)
    if not event_ids:
        return log
    for a in session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.event_id.in_(event_ids))
        .order_by(WebhookAttempt.id)
    ):
        log[a.event_id].append(
            Attempt(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
        )
    return log


def to_delivery(event: WebhookEvent, attempts: list[Attempt]) -> Delivery:
    return Delivery(
        id=event.public_id,
        type=event.type,
        created_at=event.created_at,
        data=event.payload,
        state=event.state,  # type: ignore[arg-type]
        attempts=event.attempts,
        next_attempt_at=event.next_attempt_at,
        delivered_at=event.delivered_at,
        attempt_log=attempts,
    )


def replay(session: Session, profile_id: int, event_id: str) -> Delivery:
    """Send an event again now, with a fresh round of attempts, whatever its state.

    A lease held by a deliverer posting it at this moment is dropped too: the event may then
    arrive twice, which receivers handle anyway (at least once, deduplicated by event id).
    """
    event = session.scalar(
        select(WebhookEvent).where(
            WebhookEvent.public_id == event_id, WebhookEvent.profile_id == profile_id
        )
    )
    if event is None:
        raise NotFound(f"no event {event_id!r} for this profile")
    get_or_conflict(session, profile_id)
    event.state, event.attempts = "pending", 0
    event.next_attempt_at, event.locked_until, event.delivered_at = utcnow(), None, None
    session.flush()
    return to_delivery(event, attempt_log(session, [event.id])[event.id])


def get_or_conflict(session: Session, profile_id: int) -> Webhook:
    try:
        return get(session, profile_id)
    except NotFound:
        raise Conflict("this profile has no webhook to send the event to") from None
