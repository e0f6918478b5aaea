"""Rate limits on registrations (per client address) and writes (per key), using ``limits``.

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
from service.errors import RateLimited

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._strategy = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(settings.resolved_rate_limit_storage, wrap_exceptions=True)
        )
        self._registration = RateLimitItemPerMinute(settings.rate_limit_registrations_per_minute)
        self._writes = RateLimitItemPerMinute(settings.rate_limit_writes_per_minute)

    def _hit(self, item: RateLimitItemPerMinute, *keys: str) -> None:
        if not self.enabled:
            return
        try:
            if self._strategy.hit(item, *keys):
                return
        except StorageError:
            # The limits guard against abuse; while their store (Redis) is unreachable,
            # refusing every registration and write would be a worse outage than not
            # counting for a moment. Logged, so the operator sees it.
            log.warning("rate-limit storage unreachable; request not counted", exc_info=True)
            return
        reset = self._strategy.get_window_stats(item, *keys).reset_time
        retry = max(1, math.ceil(reset - time.time()))
        raise RateLimited(f"too many requests; retry in {retry} s", retry_after=retry)

    def registration(self, client: str) -> None:
        self._hit(self._registration, "registration", client)

    def write(self, key: str) -> None:
        self._hit(self._writes, "write", key)
