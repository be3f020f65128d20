"""Tuning-job records, their progress by the clock, and the TuningJob JSON.

As for Gemini API tuned models, progress is a pure function of a record and a
time: nothing runs in the background, so a test moving a fake clock sees a
job queue, run and finish without sleeping. One tuning step takes
``stepSeconds``; a job waits one step in PENDING before it runs. A job drawn
to expire (``tuningExpireRate``) never runs: it waits ``EXPIRE_WAIT_STEPS`` in
PENDING, then ends EXPIRED, with an ``endTime`` and no ``startTime`` or error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from reconciler.emulator.cloud_db import CloudRecords
from reconciler.emulator.wire import rfc3339

PENDING = "JOB_STATE_PENDING"
RUNNING = "JOB_STATE_RUNNING"
SUCCEEDED = "JOB_STATE_SUCCEEDED"
FAILED = "JOB_STATE_FAILED"
CANCELLING = "JOB_STATE_CANCELLING"
CANCELLED = "JOB_STATE_CANCELLED"
EXPIRED = "JOB_STATE_EXPIRED"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, EXPIRED})
# Steps an expiring job waits in the queue before it expires (emulator choice).
EXPIRE_WAIT_STEPS = 10

CANCELLED_CODE = 1  # google.rpc.Code.CANCELLED: the proto says a cancelled job ends with it
CANCELLED_MESSAGE = "CANCELED"
FAILED_CODE = 13  # google.rpc.Code.INTERNAL
FAILED_MESSAGE = "Tuning failed: the training pipeline stopped with an internal error."


@dataclass
class TuningJobRecord:
    """Everything kept about one job; ``request`` is the job as asked, normalized."""

    job_id: str
    seq: int
    project: str  # the project number
    location: str
    base_model: str
    request: dict[str, Any]
    examples: list[tuple[str, str]]
    data_stats: dict[str, Any]
    total_steps: int
    create_time: float
    step_seconds: float
    model_id: str
    endpoint_id: str
    endpoint_location: str
    fail_at_step: int | None = None
    # Never runs: waits in the queue, then JOB_STATE_EXPIRED.
    expires: bool = False
    cancel_time: float | None = None
    # The produced Model's mutable fields, and what was removed of Model and Endpoint.
    model_display_name: str = ""
    model_description: str = ""
    version_description: str = ""
    model_labels: dict[str, str] = field(default_factory=dict)
    model_update_time: float | None = None
    undeployed_at: float | None = None
    endpoint_deleted_at: float | None = None
    model_deleted_at: float | None = None

    @property
    def name(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/tuningJobs/{self.job_id}"

    @property
    def endpoint(self) -> str:
        return f"projects/{self.project}/locations/{self.endpoint_location}/endpoints/{self.endpoint_id}"

    @property
    def model(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/models/{self.model_id}@1"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TuningJobRecord:
        data = dict(data)
        data["examples"] = [tuple(e) for e in data["examples"]]
        return cls(**data)

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.request.get("labels") or {}
        return labels


@dataclass(frozen=True)
class JobProgress:
    state: str
    start_time: float | None
    end_time: float | None
    update_time: float
    error: tuple[int, str] | None


def progress(record: TuningJobRecord, now: float) -> JobProgress:
    """Where the job stands at ``now``. Pure: same record and time, same answer."""
    step = record.step_seconds
    start: float | None = None
    if record.expires:
        finish = record.create_time + EXPIRE_WAIT_STEPS * step
    else:
        start = record.create_time + step
        steps = record.total_steps if record.fail_at_step is None else record.fail_at_step
        finish = start + steps * step
    cancel = record.cancel_time
    if cancel is not None and cancel < finish:
        # Best effort and asynchronous: CANCELLING for one step, then CANCELLED.
        started = start if start is not None and start <= cancel else None
        done = cancel + step
        if now < done:
            return JobProgress(CANCELLING, started, None, cancel, None)
        return JobProgress(CANCELLED, started, done, done, (CANCELLED_CODE, CANCELLED_MESSAGE))
    if start is None:  # an expiring job: queued until it expires
        if now < finish:
            return JobProgress(PENDING, None, None, record.create_time, None)
        return JobProgress(EXPIRED, None, finish, finish, None)
    if now < start:
        return JobProgress(PENDING, None, None, record.create_time, None)
    if now < finish:
        return JobProgress(RUNNING, start, None, start, None)
    if record.fail_at_step is not None:
        return JobProgress(FAILED, start, finish, finish, (FAILED_CODE, FAILED_MESSAGE))
    return JobProgress(SUCCEEDED, start, finish, finish, None)


def job_json(record: TuningJobRecord, prog: JobProgress) -> dict[str, Any]:
    """The TuningJob as the v1/v1beta1 JSON API writes it (int64 values as strings)."""
    asked = record.request
    body: dict[str, Any] = {"name": record.name}
    for key in ("tunedModelDisplayName", "description", "baseModel", "supervisedTuningSpec"):
        if asked.get(key):
            body[key] = asked[key]
    body["state"] = prog.state
    body["createTime"] = rfc3339(record.create_time)
    if prog.start_time is not None:
        body["startTime"] = rfc3339(prog.start_time)
    if prog.end_time is not None:
        body["endTime"] = rfc3339(prog.end_time)
    body["updateTime"] = rfc3339(prog.update_time)
    if prog.error is not None:
        body["error"] = {"code": prog.error[0], "message": prog.error[1]}
    if record.labels:
        body["labels"] = dict(record.labels)
    if prog.start_time is not None:
        # The data is read and counted when the job starts running.
        body["tuningDataStats"] = {"supervisedTuningDataStats": record.data_stats}
    if prog.state == SUCCEEDED:
        body["tunedModel"] = {"model": record.model, "endpoint": record.endpoint}
    for key in ("encryptionSpec", "serviceAccount"):
        if asked.get(key):
            body[key] = asked[key]
    return body


class JobStore:
    """Jobs by resource name, oldest first by ``seq``; tuned endpoints lead back to their job."""

    def __init__(self, records: CloudRecords | None = None) -> None:
        self._jobs: dict[str, TuningJobRecord] = {}
        self._by_endpoint: dict[str, TuningJobRecord] = {}
        self._by_model: dict[str, TuningJobRecord] = {}
        # Long-running operations of Model and Endpoint calls, by name (all done at once).
        self._operations: dict[str, dict[str, Any]] = {}
        self._next_seq = 1
        self._records = records
        if records is not None:
            for data in records.load("job"):
                record = TuningJobRecord.from_json(data)
                self._index(record)
                self._next_seq = max(self._next_seq, record.seq + 1)
            for operation in records.load("operation"):
                self._operations[operation["name"]] = operation

    def clear(self) -> None:
        self._jobs.clear()
        self._by_endpoint.clear()
        self._by_model.clear()
        self._operations.clear()
        self._next_seq = 1
        if self._records is not None:
            self._records.clear()

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def put(self, record: TuningJobRecord) -> None:
        """Insert, or save a record changed in place (cancel, patch, undeploy, delete)."""
        self._index(record)
        if self._records is not None:
            self._records.save("job", record.name, record.to_json())

    def _index(self, record: TuningJobRecord) -> None:
        self._jobs[record.name] = record
        self._by_endpoint[record.endpoint] = record
        self._by_model[record.model.removesuffix("@1")] = record

    def add_operation(self, operation: dict[str, Any]) -> None:
        self._operations[operation["name"]] = operation
        if self._records is not None:
            self._records.save("operation", operation["name"], operation)

    def operation(self, name: str) -> dict[str, Any] | None:
        return self._operations.get(name)

    def get(self, name: str) -> TuningJobRecord | None:
        return self._jobs.get(name)

    def by_endpoint(self, endpoint: str) -> TuningJobRecord | None:
        return self._by_endpoint.get(endpoint)

    def by_model(self, model: str) -> TuningJobRecord | None:
        """The job whose Model is ``model`` (named without its ``@version``)."""
        return self._by_model.get(model)

    def newest_first(self) -> Iterator[TuningJobRecord]:
        return iter(sorted(self._jobs.values(), key=lambda r: r.seq, reverse=True))
