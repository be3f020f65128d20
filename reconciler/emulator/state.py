"""One emulator instance: its settings, models, random sources, clock and request counts."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator.cloud_db import CloudRecords
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.gcs.objects import ObjectStore
from reconciler.emulator.store import Store
from reconciler.emulator.vertex.jobs import JobStore

Clock = Callable[[], float]

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# The emulator's clock may be moved forward (``POST /emulator/clock``) but not
# past this (9000-01-01T00:00:00Z): timestamps must stay writable in RFC 3339.
LATEST_TIME = 221_845_392_000.0


@dataclass
class Stats:
    """Counts behind ``GET /emulator/stats``; control requests are not counted."""

    requests: Counter[str] = field(default_factory=Counter)
    creates: Counter[str] = field(default_factory=Counter)
    # Vertex AI tuning jobs created, by their ``reconciler-key`` label (the idempotency key).
    job_creates: Counter[str] = field(default_factory=Counter)
    # Injected faults by kind ("429", "503", "500", "drop"), as ``--fault-rate`` drew them.
    faults: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "total": sum(self.requests.values()),
            "requests": dict(self.requests),
            "creates": dict(self.creates),
            "jobCreates": dict(self.job_creates),
            "faults": dict(self.faults),
        }


class Emulator:
    """Shared by the API handlers and the control surface of one app."""

    def __init__(self, config: EmulatorConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or time.time
        self.store = Store(db_path=config.db_path)
        # Vertex AI tuning jobs and Cloud Storage objects, in the same --db file if any.
        connection = self.store.connection
        records = CloudRecords(connection) if connection is not None else None
        self.vertex = JobStore(records)
        self.gcs = ObjectStore(records)
        self.stats = Stats()
        # Seconds added to the clock by POST /emulator/clock; never reset, so time
        # only moves forward, as the models' timestamps assume.
        self.clock_offset = 0.0
        self.seed = (
            config.seed if config.seed is not None else random.SystemRandom().randrange(2**32)
        )
        self._reseed()

    def _reseed(self) -> None:
        # Separate streams so that, say, a new fault draw never shifts the generated ids.
        self.id_rng = random.Random(f"ids:{self.seed}")
        self.fault_rng = random.Random(f"faults:{self.seed}")
        self.tuning_rng = random.Random(f"tuning:{self.seed}")
        self.permission_rng = random.Random(f"permissions:{self.seed}")
        self.vertex_rng = random.Random(f"vertex:{self.seed}")

    def reset(self) -> None:
        """Forget models, operations, tuning jobs, objects and counts; random streams restart from the seed."""
        self.store.clear()
        self.vertex.clear()
        self.gcs.clear()
        self.stats = Stats()
        self._reseed()

    def now(self) -> float:
        return self.clock() + self.clock_offset

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's time forward by ``seconds`` (tuning progresses); the new time."""
        if not 0.0 <= seconds <= LATEST_TIME - self.now():
            raise ValueError(
                "advanceSeconds must be a number >= 0 that keeps the clock before the year 9000"
            )
        self.clock_offset += seconds
        return self.now()

    def random_id(self, length: int = 12) -> str:
        return "".join(self.id_rng.choice(_ID_ALPHABET) for _ in range(length))

    def random_numeric_id(self) -> str:
        """A 19-digit id, the form Vertex AI gives tuning jobs, models and endpoints."""
        return str(self.vertex_rng.randrange(10**18, 10**19))

    def random_permission_id(self) -> str:
        """Lower-case alphanumerics, as google-generativeai's ``permissions/([a-z0-9]+)$`` expects."""
        return "".join(self.permission_rng.choice(_ID_ALPHABET) for _ in range(12))

    def config_json(self) -> dict[str, Any]:
        c = self.config
        return {
            "latencyMs": c.latency_ms,
            "faultRate": c.fault_rate,
            "stepSeconds": c.step_seconds,
            "tuningFailRate": c.tuning_fail_rate,
            "operationSeconds": c.operation_seconds,
            "tuningExpireRate": c.tuning_expire_rate,
            "seed": self.seed,
        }
