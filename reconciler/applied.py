"""The state document: what the reconciler manages and what it last applied. Pure values.

Storage (file with lock, PostgreSQL) lives in ``reconciler.state``; this module
only defines the document, so the pure planner can read it.

Format (JSON, ``formatVersion`` 1)::

    {
      "formatVersion": 1,
      "lineage": "6d0c…",            # UUID fixed when the state is first created
      "serial": 7,                   # +1 on every write
      "backend": "gemini",           # the kind of tuning API the models live in: gemini | vertex
      "endpoint": "https://generativelanguage.googleapis.com",   # which API (see same_api)
      "target": "vertex:projects/P/locations/L",  # vertex only: BackendTarget.identity
      "models": {
        "increment": {               # manifest name == tunedModelId
          "name": "tunedModels/increment",
          "applied": {AppliedSpec} | null,   # last spec confirmed sent (null: never)
          "pendingCreate": {AppliedSpec} | null,  # write-ahead intent: create about to be / being sent
          "operation": "tunedModels/increment/operations/abc123" | null,  # in-flight tuning
          "imported": false,         # adopted with `reconciler import`: training data unknown
          "preventDestroy": false,   # lifecycle.preventDestroy as last applied
          "createTime": "...", "updateTime": "...",  # live timestamps last seen
          "lastError": "..." | null, # a FAILED tuning's operation error
          "replacing": false,        # a replace is under way (see below)
          "generation": 1,           # createBeforeDestroy (see below)
          "candidate": {ModelRecord} | null,
          "retired": ["tunedModels/increment"],
          "deleting": false,         # a delete of it was sent (see below)
          "evaluations": {"tunedModels/increment": {EvaluationRecord}}  # last per live model
        }
      }
    }

Write-ahead protocol for a create (apply): (1) write ``pendingCreate`` before the
request; (2) after the response write ``applied`` = that spec, ``operation`` =
the operation name, ``pendingCreate`` = null; (3) when the operation ends,
``operation`` = null. A crash between (1) and (2) leaves ``pendingCreate``: the
next run looks the deterministic id up (exists -> adopt, missing -> create).

A replace (deleteBeforeCreate) first writes ``pendingCreate`` = the new spec
and ``replacing`` = true on the record that still holds the old ``applied``,
then deletes, then writes the create's intent as above (``applied`` null,
``replacing`` still true), and clears ``replacing`` with step (2). A crash or
a rejected create anywhere in between leaves ``replacing``: the next plan
finishes the replacement with a create instead of calling the model deleted
outside the reconciler.

createBeforeDestroy: ``generation`` + 1 and a ``candidate`` record carrying
the successor's ``pendingCreate`` (at ``tunedModels/<name>-<generation>``) are
written before the create is sent; the candidate then follows the create
protocol above while ``name`` keeps serving. Once the candidate is ACTIVE and
passed its gate, one write makes it the serving record and lists the old live
name under ``retired``; the old model is then deleted and dropped from
``retired``. A candidate that failed keeps its ``lastError`` until the next
apply deletes it.

A delete (destroy, or a model removed from the manifests) first writes
``deleting`` = true, then sends the DELETE, then removes the record. A run
killed in between leaves ``deleting``: the model gone from the API was deleted
by the reconciler itself, not outside it, and the next run says so.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from reconciler.spec import AppliedSpec
from reconciler.target import GEMINI, VERTEX

STATE_FORMAT_VERSION = 1

# The tuning API a state's models live in: the Gemini API, or Vertex AI (whose
# project and location the state records as its ``target``).
GEMINI_BACKEND = GEMINI
VERTEX_BACKEND = VERTEX


class MetricResult(BaseModel):
    """One metric of an evaluation run: its mean score against its threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    threshold: float
    score: float
    passed: bool
    pattern: str | None = None  # regex only


class EvaluationRecord(BaseModel):
    """The last evaluation of one live model (one generation): what was run and how it scored.

    Identity of the run: the evaluation's hash (dataset, request, metrics,
    gate) and the model's update time. No example, prompt or answer is kept.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    evaluation: str  # Evaluation name, or "<model>/inline"
    evaluationHash: str
    datasetHash: str
    examples: int
    modelUpdateTime: str | None = None
    metrics: tuple[MetricResult, ...] = ()
    gate: bool = True
    passed: bool = True
    time: str = ""  # when it ran, RFC 3339 UTC

    @property
    def failed_metrics(self) -> tuple[MetricResult, ...]:
        return tuple(m for m in self.metrics if not m.passed)


def _is_empty(value: object) -> bool:
    return not value


def _is_none(value: object) -> bool:
    return value is None


class DatasetObject(BaseModel):
    """A dataset object the model's tuning read, as it was stored (Vertex AI: Cloud Storage).

    The object is named by the hash of its content; its generation and
    checksums say which stored version the job was given.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str  # "training" | "validation"
    uri: str
    generation: int
    md5Hash: str
    crc32c: str
    size: int


class FailedAttempt(BaseModel):
    """A createBeforeDestroy candidate that tuned but failed its evaluation gate.

    Its inputs are not tuned again unless the manifest changes them or
    ``--replace`` asks for it: retraining identical inputs would likely fail
    the same way, and every attempt is billed. (A failed *tuning* is retried:
    it may have been the service's fault.)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # the candidate's live name
    spec: AppliedSpec
    error: str


class ModelRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    applied: AppliedSpec | None = None
    pendingCreate: AppliedSpec | None = None
    operation: str | None = None
    imported: bool = False
    # lifecycle.preventDestroy as last applied: a model removed from the manifests
    # keeps its protection until the state says otherwise.
    preventDestroy: bool = False
    createTime: str | None = None
    updateTime: str | None = None
    lastError: str | None = None
    # A replace of this model is under way: written before its delete is sent,
    # cleared once its successor's create is recorded.
    replacing: bool = False
    # A delete of this model was sent (or was about to be): written before the
    # DELETE, the record itself removed after it.
    deleting: bool = False
    # The last evaluation of each live model of this name (its generations), by live name.
    evaluations: dict[str, EvaluationRecord] = Field(default_factory=dict)
    # createBeforeDestroy: the highest generation number given out for this
    # manifest name (generation n lives at tunedModels/<name>-<n>, 1 at <name>);
    # the successor being tuned while ``name`` serves (its own write-ahead
    # record: pendingCreate -> applied + operation -> lastError if it failed);
    # and older generations no longer serving, deleted once recorded here.
    generation: int = 1
    candidate: ModelRecord | None = None
    retired: list[str] = Field(default_factory=list)
    # Vertex AI: the stored dataset objects its job was created with (left out
    # of the file when empty, so Gemini API states are written as before).
    datasetObjects: list[DatasetObject] = Field(default_factory=list, exclude_if=_is_empty)
    # The last candidate that failed, once it was removed (see FailedAttempt).
    lastFailedAttempt: FailedAttempt | None = Field(default=None, exclude_if=_is_none)

    def failed_attempt(self) -> FailedAttempt | None:
        """The candidate below its gate still recorded, else the last one removed."""
        candidate = self.candidate
        if candidate is not None and candidate.lastError is not None:
            gate = self.evaluations.get(candidate.name)
            spec = candidate.applied or candidate.pendingCreate
            if gate is not None and gate.gate and not gate.passed and spec is not None:
                return FailedAttempt(name=candidate.name, spec=spec, error=candidate.lastError)
        return self.lastFailedAttempt

    def failed_gate(self) -> EvaluationRecord | None:
        """The serving model's last evaluation when it missed a threshold with ``gate: true``."""
        last = self.evaluations.get(self.name)
        return last if last is not None and last.gate and not last.passed else None


class StateDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    formatVersion: int = STATE_FORMAT_VERSION
    lineage: str = Field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    # Which API the models live in; None until the first write that knows it
    # (states written before these fields adopt the endpoint then).
    backend: str | None = None
    endpoint: str | None = None
    # BackendTarget.identity on Vertex AI ("vertex:projects/P/locations/L"); the
    # Gemini API has one target, so its states have none (and read and write
    # back byte for byte as before this field existed).
    target: str | None = None
    models: dict[str, ModelRecord] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _without_unset_target(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and "target" in data and data["target"] is None:
            del data["target"]
        return data


def normalized_endpoint(endpoint: str) -> str:
    """``endpoint`` as recorded in a state: scheme, host, port (unless the
    default) and path, lower-cased, no trailing slash; never any credentials
    or query string. Pure."""
    parts = urlsplit(endpoint.strip())
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"https": 443, "http": 80}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def is_loopback(endpoint: str) -> bool:
    """True for an endpoint on this machine (localhost, 127.0.0.0/8, ::1). Pure."""
    host = (urlsplit(endpoint.strip()).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def same_api(recorded: str, current: str) -> bool:
    """Whether a state recorded against ``recorded`` belongs to ``current``. Pure.

    Equal once normalized; and every loopback endpoint is one API whatever its
    port: a local emulator is started on whatever port is free, and what must
    be caught is a state of the real API planned against an emulator (or the
    other way round), where every model would look deleted.
    """
    if is_loopback(recorded) and is_loopback(current):
        return True
    return normalized_endpoint(recorded) == normalized_endpoint(current)
