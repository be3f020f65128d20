"""The desired state: manifests after loading and resolving. Pure values, no I/O.

Two halves:

* the pydantic models of the three manifest kinds as written in YAML
  (``TunedModelManifest``, ``DatasetManifest``, ``HyperparametersManifest``),
  with ``extra="forbid"`` so unknown keys are errors; ``reconciler schema``
  prints their JSON Schema. (Filled in by the manifests work.)
* the resolved values the planner consumes: ``DesiredModel`` (references to
  datasets, hyperparameter sets and source models already resolved, dataset
  reduced to its content hash) and ``AppliedSpec`` (what the state records as
  applied, and what a saved plan compares).

Names follow the API's camelCase only where they are wire or file formats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from reconciler.errors import SourceLocation

API_VERSION = "gemini.tuning/v1"
TUNED_MODEL_ID_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"

# Fields of a TunedModel that PATCH may change (PRODUCT.md "update"); their order
# here is the order of an updateMask.
MUTABLE_FIELDS: tuple[str, ...] = (
    "displayName",
    "description",
    "temperature",
    "topP",
    "topK",
    "readerProjectNumbers",
)

# Service defaults used when a manifest leaves a hyperparameter unset
# (gemini-api-wire-facts.md section 3: epochCount 5; batchSize 4 or 16 and
# learningRate 0.001 or 0.0002 "depending on dataset size"; the emulator and
# the estimate use the small-dataset values).
DEFAULT_EPOCH_COUNT = 5
DEFAULT_BATCH_SIZE = 4
DEFAULT_LEARNING_RATE = 0.001


class Hyperparameters(BaseModel):
    """Resolved hyperparameters as recorded in state and sent on create.

    Unset values stay ``None`` (the service fills its defaults); the state
    records what the manifest asked for, so a manifest that never set
    ``batchSize`` does not fight the server's choice.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochCount: int | None = None
    batchSize: int | None = None
    learningRate: float | None = None
    learningRateMultiplier: float | None = None

    def estimated_steps(self, example_count: int) -> int:
        """Tuning steps the service will run: ceil(examples x epochs / batch)."""
        epochs = self.epochCount or DEFAULT_EPOCH_COUNT
        batch = self.batchSize or DEFAULT_BATCH_SIZE
        return math.ceil(example_count * epochs / batch) if example_count else 0


class DatasetRef(BaseModel):
    """A dataset reduced to identity and statistics; never the examples themselves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # Dataset manifest name, or "<model>/inline" for an inline dataset
    hash: str | None  # "sha256:<hex>" of the canonical example list; None = unknown (imported)
    examples: int = 0


class AppliedSpec(BaseModel):
    """Everything the reconciler sent (or will send) to make one tuned model.

    This is what the state file records per model under ``applied`` and what
    the planner compares immutable inputs against. It never holds training
    examples or credentials.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    baseModel: str | None = None  # "models/..."
    tunedModelSource: str | None = None  # "tunedModels/<id>" (resolved)
    displayName: str | None = None
    description: str | None = None
    temperature: float | None = None
    topP: float | None = None
    topK: int | None = None
    readerProjectNumbers: tuple[str, ...] = ()
    hyperparameters: Hyperparameters = Hyperparameters()
    dataset: DatasetRef | None = None


@dataclass(frozen=True)
class Lifecycle:
    prevent_destroy: bool = False
    ignore_changes: frozenset[str] = frozenset()  # subset of MUTABLE_FIELDS


@dataclass(frozen=True)
class DesiredModel:
    """One TunedModel manifest, resolved. ``name`` is the manifest name == tunedModelId."""

    name: str
    spec: AppliedSpec
    location: SourceLocation
    lifecycle: Lifecycle = Lifecycle()
    # Manifest name of the managed model this one is tuned from (its
    # tunedModelSource), for ordering and replacement cascades; None when the
    # source is a base model or an unmanaged tunedModels/ID.
    depends_on: str | None = None

    @property
    def address(self) -> str:
        return f"TunedModel/{self.name}"

    @property
    def model_name(self) -> str:
        """The live resource name, ``tunedModels/<id>``."""
        return f"tunedModels/{self.name}"

    @property
    def estimated_steps(self) -> int:
        examples = self.spec.dataset.examples if self.spec.dataset else 0
        return self.spec.hyperparameters.estimated_steps(examples)


@dataclass(frozen=True)
class Example:
    """One training example (text pair), with where it came from for error messages."""

    text_input: str
    output: str
    location: SourceLocation | None = None


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset with its examples, loaded for ``apply`` (never stored in state or plans)."""

    name: str
    hash: str
    examples: tuple[Example, ...]
    location: SourceLocation
    max_input_chars: int = 0
    max_output_chars: int = 0


@dataclass(frozen=True)
class DesiredState:
    """All manifests of a run: models by name, and the datasets they train on (by DatasetRef.name)."""

    models: dict[str, DesiredModel] = field(default_factory=dict)
    datasets: dict[str, LoadedDataset] = field(default_factory=dict)
    hyperparameter_sets: int = 0
    warnings: tuple[str, ...] = ()
