"""Rate limits on registrations (per client address) and writes (per key), using ``limits``."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute, storage, strategies

from service.config import Settings
from service.errors import RateLimited


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._strategy = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(settings.rate_limit_storage)
        )
        self._registration = RateLimitItemPerMinute(settings.rate_limit_registrations_per_minute)
        self._writes = RateLimitItemPerMinute(settings.rate_limit_writes_per_minute)

    def _hit(self, item: RateLimitItemPerMinute, *keys: str) -> None:
        if not self.enabled or self._strategy.hit(item, *keys):
            return
        reset = self._strategy.get_window_stats(item, *keys).reset_time
        retry = max(1, math.ceil(reset - time.time()))
        raise RateLimited(f"too many requests; retry in {retry} s", retry_after=retry)

    def registration(self, client: str) -> None:
        self._hit(self._registration, "registration", client)

    def write(self, key: str) -> None:
        self._hit(self._writes, "write", key)
