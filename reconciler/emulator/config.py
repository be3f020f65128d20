"""Emulator settings: what ``reconciler emulator serve`` flags and ``PUT /emulator/config`` change."""

from __future__ import annotations

from dataclasses import dataclass

# A ~30-step demo model tunes in a few seconds: long enough to watch progress, short enough for a demo.
DEFAULT_STEP_SECONDS = 0.15


@dataclass
class EmulatorConfig:
    """Behaviour knobs of one emulator instance.

    ``db_path`` None keeps everything in memory; ``seed`` None picks a random seed
    (ids, faults and tuning failures are then not reproducible across runs).
    """

    latency_ms: float = 0.0
    fault_rate: float = 0.0
    step_seconds: float = DEFAULT_STEP_SECONDS
    tuning_fail_rate: float = 0.0
    # Vertex AI Model and Endpoint operations (undeploy, delete) are done this many
    # seconds after they start, by the emulator's clock; 0: done in the answer itself.
    operation_seconds: float = 0.0
    # Vertex AI tuning jobs only: the share that waits in the queue and ends EXPIRED.
    tuning_expire_rate: float = 0.0
    api_key: str | None = None
    db_path: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        check_runtime_values(
            latency_ms=self.latency_ms,
            fault_rate=self.fault_rate,
            step_seconds=self.step_seconds,
            tuning_fail_rate=self.tuning_fail_rate,
            operation_seconds=self.operation_seconds,
            tuning_expire_rate=self.tuning_expire_rate,
        )

    def __repr__(self) -> str:
        # The API key must never reach a log line, even through a repr.
        key = "<set>" if self.api_key else None
        return (
            f"EmulatorConfig(latency_ms={self.latency_ms}, fault_rate={self.fault_rate}, "
            f"step_seconds={self.step_seconds}, tuning_fail_rate={self.tuning_fail_rate}, "
            f"operation_seconds={self.operation_seconds}, "
            f"tuning_expire_rate={self.tuning_expire_rate}, "
            f"api_key={key}, db_path={self.db_path!r}, seed={self.seed})"
        )


# Upper bounds that keep one setting from hanging the server: a request delayed
# for ever also holds up a clean shutdown, and a step longer than a day would put
# the timestamps of a long tuning past the year 9999.
MAX_LATENCY_MS = 60_000.0
MAX_STEP_SECONDS = 86_400.0


def check_runtime_values(
    *,
    latency_ms: float,
    fault_rate: float,
    step_seconds: float,
    tuning_fail_rate: float,
    operation_seconds: float = 0.0,
    tuning_expire_rate: float = 0.0,
) -> None:
    """Raise ValueError naming the first out-of-range setting (NaN is out of every range)."""
    if not 0.0 <= latency_ms <= MAX_LATENCY_MS:
        raise ValueError(f"latencyMs must be within [0, {MAX_LATENCY_MS:g}]")
    if not 0.0 <= fault_rate <= 1.0:
        raise ValueError("faultRate must be within [0, 1]")
    if not 0.0 <= step_seconds <= MAX_STEP_SECONDS:
        raise ValueError(f"stepSeconds must be within [0, {MAX_STEP_SECONDS:g}]")
    if not 0.0 <= tuning_fail_rate <= 1.0:
        raise ValueError("tuningFailRate must be within [0, 1]")
    if not 0.0 <= operation_seconds <= MAX_STEP_SECONDS:
        raise ValueError(f"operationSeconds must be within [0, {MAX_STEP_SECONDS:g}]")
    if not 0.0 <= tuning_expire_rate <= 1.0:
        raise ValueError("tuningExpireRate must be within [0, 1]")
