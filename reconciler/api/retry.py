"""When to try a request again, and how long to wait first.

Exponential backoff with full jitter (AWS architecture blog, "Exponential
Backoff And Jitter"): the n-th retry waits a uniform random time in
``[0, min(max_delay, initial_delay * multiplier**(n-1))]``, so many workers
that failed together do not retry together. A server hint (the ``Retry-After``
header or a google.rpc.RetryInfo ``retryDelay`` detail, the larger of the two)
is a floor on that wait.

Two budgets keep a sick server from turning into an endless loop: per call
(``max_attempts`` and ``max_total_delay``) and per client (``budget`` retries
shared by every thread of one run). When a budget is spent the last error
surfaces to the caller.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# 429 is quota; 500/502/503/504 are the server or a frontend failing for now.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)s\s*$")
_RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff parameters and budgets; the defaults suit an interactive ``apply``."""

    max_attempts: int = 8  # per call, the first attempt included
    initial_delay: float = 0.5  # seconds, the ceiling of the first retry's jitter
    multiplier: float = 2.0
    max_delay: float = 20.0  # ceiling of one jittered wait
    max_total_delay: float = 120.0  # per call: waits above this surface the error instead
    budget: int = 500  # retries per client, shared by all threads

    def backoff(self, *, retry_number: int, rng: random.Random) -> float:
        """Full-jitter wait before retry ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.initial_delay * self.multiplier ** (retry_number - 1))
        return rng.uniform(0.0, max(ceiling, 0.0))


class RetryBudget:
    """Retries left for a whole client run; thread-safe."""

    def __init__(self, total: int) -> None:
        self._left = total
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one retry; False when none is left."""
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    @property
    def left(self) -> int:
        with self._lock:
            return self._left


def parse_duration(value: object) -> float | None:
    """A protobuf JSON Duration ("15s", "0.5s") in seconds; None if it is not one."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    return float(match.group(1)) if match else None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """The ``Retry-After`` header (delta-seconds or an HTTP-date) in seconds from ``now``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_info_delay(details: list[dict[str, Any]]) -> float | None:
    """The ``retryDelay`` of a google.rpc.RetryInfo entry in a Status's details."""
    for detail in details:
        if detail.get("@type") == _RETRY_INFO_TYPE:
            delay = parse_duration(detail.get("retryDelay"))
            if delay is not None:
                return delay
    return None
