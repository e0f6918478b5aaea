"""Rate limits on registrations and wrong API keys, on the API and at console sign-in (per
client address), and on writes (per key), using ``limits``.

Writes are weighted: a bulk registration of N profiles counts as N writes (it costs the
server N registrations' encoding), so one key cannot register without bound by batching.

The counters live where ``Settings.resolved_rate_limit_storage`` says: Redis when configured,
so that every worker and server count together; else in this process.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItemPerMinute, storage, strategies
from limits.errors import StorageError

from service.config import Settings
from service.errors import InvalidInput, RateLimited

log = logging.getLogger(__name__)
WRONG_KEYS = "wrong API keys from this address"


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._strategy = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(settings.resolved_rate_limit_storage, wrap_exceptions=True)
        )
        self._registration = RateLimitItemPerMinute(settings.rate_limit_registrations_per_minute)
        self._writes = RateLimitItemPerMinute(settings.rate_limit_writes_per_minute)
        self._signin_failures = RateLimitItemPerMinute(
            settings.rate_limit_signin_failures_per_minute
        )

    def _hit(
        self, item: RateLimitItemPerMinute, *keys: str, cost: int = 1, what: str = "requests"
    ) -> None:
        if not self.enabled:
            return
        try:
            if self._strategy.hit(item, *keys, cost=cost):
                return
        except StorageError:
            # The limits guard against abuse; while their store (Redis) is unreachable,
            # refusing every registration and write would be a worse outage than not
            # counting for a moment. Logged, so the operator sees it.
            log.warning("rate-limit storage unreachable; request not counted", exc_info=True)
            return
        raise self._refusal(item, *keys, what=what)

    def _refusal(
        self, item: RateLimitItemPerMinute, *keys: str, what: str = "requests"
    ) -> RateLimited:
        reset = self._strategy.get_window_stats(item, *keys).reset_time
        retry = max(1, math.ceil(reset - time.time()))
        return RateLimited(f"too many {what}; retry in {retry} s", retry_after=retry)

    def registration(self, client: str) -> None:
        self._hit(self._registration, "registration", client)

    def signin_allowed(self, client: str) -> None:
        """Refuse a key (API request or console sign-in) from an address whose wrong keys used
        up the minute's allowance (429 until the window moves on), so keys cannot be guessed
        at speed."""
        if not self.enabled:
            return
        try:
            if self._strategy.test(self._signin_failures, "signin-failure", client):
                return
        except StorageError:
            log.warning("rate-limit storage unreachable; sign-in not checked", exc_info=True)
            return
        raise self._refusal(self._signin_failures, "signin-failure", client, what=WRONG_KEYS)

    def signin_failed(self, client: str) -> None:
        """Count a wrong key of ``client``; 429 once over the allowance."""
        self._hit(self._signin_failures, "signin-failure", client, what=WRONG_KEYS)

    @property
    def writes_per_minute(self) -> int:
        return self._writes.amount

    def write(self, key: str, cost: int = 1) -> None:
        """Count a write of ``cost`` units (a bulk of N profiles costs N) against the key's
        per-minute allowance. A cost above the whole allowance could never pass: 422 naming
        the limit, not a 429 that no wait would cure."""
        if self.enabled and cost > self._writes.amount:
            raise InvalidInput(
                f"this request counts as {cost} writes, more than the key's limit of "
                f"{self._writes.amount} per minute (MATCHMAKER_RATE_LIMIT_WRITES_PER_MINUTE); "
                "split it into smaller requests",
                loc=["body", "profiles"],
            )
        self._hit(self._writes, "write", key, cost=cost)
