"""What the planner sees of a live tuned model: plain values, built by the API client.

No httpx object or raw JSON travels past ``reconciler.api``; it converts every
TunedModel it reads into a ``LiveModel``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.frozen import quick_init

CREATING = "CREATING"
ACTIVE = "ACTIVE"
FAILED = "FAILED"
# Not an API state: reported by the client for a model that disappeared (404 or
# absent from the list) while it was being waited for.
DELETED = "DELETED"


@dataclass(frozen=True)
class Snapshot:
    step: int
    epoch: int = 0
    mean_loss: float | None = None
    compute_time: str | None = None


@quick_init  # 10,000 of them in a large plan's listing
@dataclass(frozen=True)
class LiveModel:
    """A TunedModel as the API returned it (server-owned fields included)."""

    name: str  # "tunedModels/<id>"
    state: str = "STATE_UNSPECIFIED"  # CREATING | ACTIVE | FAILED | STATE_UNSPECIFIED
    base_model: str | None = None
    tuned_model_source: str | None = None  # "tunedModels/<id>" of the source, if tuned from one
    display_name: str | None = None
    description: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    reader_project_numbers: tuple[str, ...] = ()
    create_time: str | None = None
    update_time: str | None = None
    # tuningTask.hyperparameters as returned, camelCase keys
    hyperparameters: dict[str, float | int] = field(default_factory=dict)
    start_time: str | None = None
    complete_time: str | None = None
    snapshots: tuple[Snapshot, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # user labels (Vertex AI)
    # Vertex AI: the tuning job, and the Model and Endpoint it produced
    job: str | None = None
    tuned_model: str | None = None
    serving_endpoint: str | None = None

    @property
    def id(self) -> str:
        return self.name.removeprefix("tunedModels/")

    def mutable_fields(self) -> dict[str, object]:
        """The PATCH-able fields keyed by their API (camelCase) names."""
        return {
            "displayName": self.display_name,
            "description": self.description,
            "temperature": self.temperature,
            "topP": self.top_p,
            "topK": self.top_k,
            "readerProjectNumbers": self.reader_project_numbers,
            "labels": self.labels,
        }


@dataclass(frozen=True)
class StoredDataset:
    """A dataset object a tuning reads (Vertex AI: Cloud Storage), as stored when it was created."""

    role: str  # "training" | "validation"
    uri: str  # gs://bucket/object
    generation: int
    md5_hash: str
    crc32c: str
    size: int


@dataclass(frozen=True)
class OperationStatus:
    """A long-running tuning operation, as far as the tool cares."""

    name: str  # "tunedModels/<id>/operations/<op>"
    model: str  # "tunedModels/<id>"
    done: bool = False
    total_steps: int = 0
    completed_steps: int = 0
    completed_percent: float = 0.0
    snapshots: tuple[Snapshot, ...] = ()
    error_code: int | None = None
    error_message: str | None = None
    result: LiveModel | None = None  # the TunedModel when done without error
    # What a create stored for the tuning to read (Vertex AI); empty elsewhere.
    datasets: tuple[StoredDataset, ...] = ()
