"""The desired state: manifests after loading and resolving. Pure values, no I/O.

Two halves:

* the pydantic models of the manifest kinds as written in YAML
  (``TunedModelManifest``, ``DatasetManifest``, ``HyperparametersManifest``,
  ``EvaluationManifest``), with ``extra="forbid"`` so unknown keys are
  errors; ``reconciler schema`` prints their JSON Schema.
* the resolved values the planner consumes: ``DesiredModel`` (references to
  datasets, hyperparameter sets and source models already resolved, dataset
  reduced to its content hash, ``DesiredEvaluation`` for its evaluation) and
  ``AppliedSpec`` (what the state records as applied, and what a saved plan
  compares).

Names follow the API's camelCase only where they are wire or file formats.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
)

from reconciler.errors import SourceLocation
from reconciler.target import BackendDocument

API_VERSION = "gemini.tuning/v1"
TUNED_MODEL_ID_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"
TUNED_MODEL_ID_MAX_CHARS = 40
# createBeforeDestroy names generations <name>-<n>: room for "-" and three digits.
GENERATION_SUFFIX_CHARS = 4
CREATE_BEFORE_DESTROY_NAME_MAX_CHARS = TUNED_MODEL_ID_MAX_CHARS - GENERATION_SUFFIX_CHARS


def generation_name(name: str, generation: int) -> str:
    """The live name of generation ``generation`` of manifest ``name`` (1 is the bare name)."""
    return f"tunedModels/{name}" if generation <= 1 else f"tunedModels/{name}-{generation}"


# Fields of a TunedModel that PATCH may change (PRODUCT.md "update"); their order
# here is the order of an updateMask.
GEMINI_MUTABLE_FIELDS: tuple[str, ...] = (
    "displayName",
    "description",
    "temperature",
    "topP",
    "topK",
    "readerProjectNumbers",
)
# Every field some backend changes in place (``ignoreChanges`` may name any).
MUTABLE_FIELDS: tuple[str, ...] = (*GEMINI_MUTABLE_FIELDS, "labels")
# On Vertex AI a tuning job is immutable; its Model's display name, description
# and labels change in place, everything else is a new billed job.
VERTEX_MUTABLE_FIELDS: tuple[str, ...] = ("displayName", "description", "labels")

# Service defaults used when a manifest leaves a hyperparameter unset
# (gemini-api-wire-facts.md section 3: epochCount 5; batchSize 4 or 16 and
# learningRate 0.001 or 0.0002 "depending on dataset size"; the emulator and
# the estimate use the small-dataset values).
DEFAULT_EPOCH_COUNT = 5
DEFAULT_BATCH_SIZE = 4
DEFAULT_LEARNING_RATE = 0.001


def _is_none(value: object) -> bool:
    return value is None


def _is_empty(value: object) -> bool:
    return value == {}


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
    # Vertex AI only; left out when serialized unless set (see AppliedSpec).
    adapterSize: int | None = Field(default=None, exclude_if=_is_none)

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
    # Vertex AI only; left out of the state when unset, so a Gemini API state
    # reads and writes back byte for byte as before these fields existed.
    # (``exclude_if`` keeps serialization in pydantic's compiled serializer; a
    # plan serializes every spec it settles, an apply every spec it records.)
    validationDataset: DatasetRef | None = Field(default=None, exclude_if=_is_none)
    labels: dict[str, str] = Field(default_factory=dict, exclude_if=_is_empty)


@dataclass(frozen=True)
class Lifecycle:
    prevent_destroy: bool = False
    # lifecycle.replacement: createBeforeDestroy (True) or deleteBeforeCreate
    create_before_destroy: bool = False
    ignore_changes: frozenset[str] = frozenset()  # subset of MUTABLE_FIELDS


@dataclass(frozen=True)
class MetricCheck:
    """One metric of an evaluation, resolved: its type, threshold and options."""

    type: str  # one of METRIC_TYPES
    threshold: float
    ignore_case: bool = False
    ignore_whitespace: bool = False
    pattern: str | None = None  # regex only

    def canonical(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "threshold": self.threshold,
            "ignoreCase": self.ignore_case,
            "ignoreWhitespace": self.ignore_whitespace,
            "pattern": self.pattern,
        }


@dataclass(frozen=True)
class DesiredEvaluation:
    """An Evaluation, resolved: dataset reduced to its identity, metrics, request options.

    ``hash`` identifies everything that decides a score (dataset, request,
    metrics, gate): a change to any of them plans an ``evaluate``.
    """

    name: str  # Evaluation manifest name, or "<model>/evaluation" when inline
    dataset: DatasetRef
    metrics: tuple[MetricCheck, ...]
    generation_config: tuple[tuple[str, Any], ...] = ()  # sorted (key, value) pairs
    gate: bool = True

    @property
    def config(self) -> dict[str, Any]:
        """The ``generationConfig`` sent with every request ({} when none)."""
        return {key: (list(v) if isinstance(v, tuple) else v) for key, v in self.generation_config}

    @property
    def hash(self) -> str:
        canonical = {
            "dataset": self.dataset.hash,
            "generationConfig": self.config,
            "metrics": [m.canonical() for m in self.metrics],
            "gate": self.gate,
        }
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    evaluation: DesiredEvaluation | None = None  # spec.evaluation, resolved

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
    """All manifests of a run: models by name, and the datasets they train or are evaluated on.

    ``datasets`` is keyed by ``DatasetRef.name``.
    """

    models: dict[str, DesiredModel] = field(default_factory=dict)
    datasets: dict[str, LoadedDataset] = field(default_factory=dict)
    hyperparameter_sets: int = 0
    warnings: tuple[str, ...] = ()
    backend: BackendDocument | None = None  # the Backend document, if the manifests have one


# --- The manifests as written in YAML ---------------------------------------
#
# Strict models: unknown keys are errors (``extra="forbid"``) and values are not
# coerced (``temperature: "0.2"`` is a type error, not a float), as kubectl
# does for Kubernetes manifests. Checks that need the whole document or other
# documents (exactly one of baseModel / tunedModelSource, references, cycles,
# the tuned-model id) live in ``reconciler.manifests``, which can point at the
# offending line.

# Numeric ranges as the API has them. The Gemini API's v1beta OpenAPI
# document (schemas Hyperparameters and TunedModel) declares epochCount, batchSize and topK
# "format: int32", learningRate, learningRateMultiplier, temperature and topP
# "format: float" (a finite 32-bit float), and temperature's range as
# "[0.0,1.0], inclusive"; readerProjectNumbers are "format: int64" strings.
# A value outside these ranges cannot even be encoded on the wire.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38

MANIFEST_KINDS: tuple[str, ...] = (
    "TunedModel",
    "Dataset",
    "Hyperparameters",
    "Evaluation",
    "Backend",
)
METRIC_TYPES: tuple[str, ...] = ("exactMatch", "contains", "regex", "similarity")
# generationConfig.stopSequences: the API accepts at most five.
MAX_STOP_SEQUENCES = 5
DISPLAY_NAME_MAX_CHARS = 40  # the service rejects longer display names
# Pydantic inserts the tag of a tagged union into error locations; these tags
# are stripped again when errors are turned into manifest field paths.
BY_NAME_TAG = "by-name"
INLINE_TAG = "inline-spec"
UNION_TAGS = frozenset({BY_NAME_TAG, INLINE_TAG})


def _name_or_inline(value: Any) -> str | None:
    """Pick the union member by YAML shape: a scalar names a document, a mapping is inline."""
    if isinstance(value, str):
        return BY_NAME_TAG
    if isinstance(value, dict | BaseModel):
        return INLINE_TAG
    return None


class _ManifestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ObjectMeta(_ManifestModel):
    name: str = Field(
        min_length=1,
        description="Unique per kind. For a TunedModel this is the tunedModelId "
        "(tunedModels/<name>) and must match [a-z]([a-z0-9-]{0,38}[a-z0-9])?",
    )
    labels: dict[str, str] | None = Field(default=None, description="Free-form; ignored.")
    annotations: dict[str, str] | None = Field(default=None, description="Free-form; ignored.")


class HyperparametersSpec(_ManifestModel):
    epochCount: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Passes over the data."
    )
    batchSize: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Examples per step."
    )
    learningRate: float | None = Field(
        default=None,
        gt=0,
        le=FLOAT32_MAX,
        allow_inf_nan=False,
        description="Not together with learningRateMultiplier.",
    )
    learningRateMultiplier: float | None = Field(
        default=None,
        gt=0,
        le=FLOAT32_MAX,
        allow_inf_nan=False,
        description="Not together with learningRate.",
    )
    adapterSize: Literal[1, 2, 4, 8, 16, 32] | None = Field(
        default=None, description="Vertex AI only: the LoRA adapter size."
    )


class ExampleSpec(_ManifestModel):
    textInput: str
    output: str


class DatasetSpec(_ManifestModel):
    examples: list[ExampleSpec] | None = Field(default=None, description="Inline examples.")
    file: str | None = Field(
        default=None, description="Data file relative to this manifest: .jsonl, .json or .csv."
    )
    inputField: str | None = Field(
        default=None,
        description="Key/column of the input (default textInput, text_input or input).",
    )
    outputField: str | None = Field(
        default=None, description="Key/column of the output (default output)."
    )


TrainingDataRef = Annotated[
    Annotated[str, Tag(BY_NAME_TAG)] | Annotated[DatasetSpec, Tag(INLINE_TAG)],
    Discriminator(_name_or_inline),
]
HyperparametersRef = Annotated[
    Annotated[str, Tag(BY_NAME_TAG)] | Annotated[HyperparametersSpec, Tag(INLINE_TAG)],
    Discriminator(_name_or_inline),
]


class TuningTaskSpec(_ManifestModel):
    trainingData: TrainingDataRef = Field(
        description="A Dataset name, or an inline dataset (examples or file)."
    )
    hyperparameters: HyperparametersRef | None = Field(
        default=None, description="A Hyperparameters name, or an inline set."
    )
    validationData: TrainingDataRef | None = Field(
        default=None,
        description="Vertex AI only: a Dataset name, or an inline dataset (examples or file).",
    )


class GenerationConfigSpec(_ManifestModel):
    temperature: float | None = Field(default=None, ge=0, le=2)
    topP: float | None = Field(default=None, ge=0, le=1)
    topK: int | None = Field(default=None, ge=1)
    maxOutputTokens: int | None = Field(default=None, ge=1)
    stopSequences: list[str] | None = Field(default=None, max_length=MAX_STOP_SEQUENCES)
    seed: int | None = None


class MetricSpec(_ManifestModel):
    type: Literal["exactMatch", "contains", "regex", "similarity"] = Field(
        description="exactMatch: the answer equals the expected output; contains: the answer "
        "contains it; regex: the answer matches `pattern`; similarity: fuzzy text similarity "
        "(rapidfuzz normalised Indel ratio) between answer and expected output, 0..1."
    )
    threshold: float = Field(ge=0, le=1, description="Minimum mean score over the dataset.")
    ignoreCase: bool = Field(default=False, description="Compare case-insensitively.")
    ignoreWhitespace: bool = Field(
        default=False,
        description="Ignore leading/trailing whitespace and the amount of whitespace between words.",
    )
    pattern: str | None = Field(
        default=None, description="regex only: a Python regular expression searched for."
    )


class EvaluationSpec(_ManifestModel):
    dataset: TrainingDataRef = Field(
        description="A Dataset name, or an inline dataset (examples or file): held-out examples."
    )
    generationConfig: GenerationConfigSpec | None = Field(
        default=None, description="Sent with every generateContent request."
    )
    metrics: list[MetricSpec] = Field(min_length=1)
    gate: bool = Field(
        default=True, description="A model below a threshold is not promoted (apply exits 1)."
    )


EvaluationRef = Annotated[
    Annotated[str, Tag(BY_NAME_TAG)] | Annotated[EvaluationSpec, Tag(INLINE_TAG)],
    Discriminator(_name_or_inline),
]


class LifecycleSpec(_ManifestModel):
    preventDestroy: bool = Field(
        default=False, description="Plan fails rather than delete or replace this model."
    )
    ignoreChanges: list[str] = Field(
        default_factory=list,
        description="Mutable fields whose drift is never corrected: " + ", ".join(MUTABLE_FIELDS),
    )
    replacement: Literal["deleteBeforeCreate", "createBeforeDestroy"] = Field(
        default="deleteBeforeCreate",
        description="deleteBeforeCreate: delete, then create with the same id (the model is "
        "unavailable meanwhile). createBeforeDestroy: tune a new generation "
        "(tunedModels/<name>-<n>) while the old one serves, then delete the old one.",
    )


class TunedModelSpec(_ManifestModel):
    displayName: str | None = Field(default=None, max_length=DISPLAY_NAME_MAX_CHARS)
    description: str | None = None
    baseModel: str | None = Field(
        default=None,
        description="Gemini API: e.g. models/gemini-1.5-flash-001-tuning; or tunedModelSource. "
        "Vertex AI: a model id, e.g. gemini-2.5-flash.",
    )
    tunedModelSource: str | None = Field(
        default=None,
        description="Gemini API only: a TunedModel manifest name, or tunedModels/<id>; "
        "or baseModel.",
    )
    temperature: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    topP: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    topK: int | None = Field(default=None, ge=1, le=INT32_MAX)
    readerProjectNumbers: list[str | int] | None = None
    labels: dict[str, str] | None = Field(
        default=None,
        description="Vertex AI only: labels of the tuning job, model and endpoint (at most 64; "
        "lowercase letters, digits, - and _; keys starting reconciler- are reserved).",
    )
    tuningTask: TuningTaskSpec
    lifecycle: LifecycleSpec | None = None
    evaluation: EvaluationRef | None = Field(
        default=None, description="An Evaluation name, or an inline evaluation."
    )


class TunedModelManifest(_ManifestModel):
    apiVersion: Literal["gemini.tuning/v1"]
    kind: Literal["TunedModel"]
    metadata: ObjectMeta
    spec: TunedModelSpec


class DatasetManifest(_ManifestModel):
    apiVersion: Literal["gemini.tuning/v1"]
    kind: Literal["Dataset"]
    metadata: ObjectMeta
    spec: DatasetSpec


class HyperparametersManifest(_ManifestModel):
    apiVersion: Literal["gemini.tuning/v1"]
    kind: Literal["Hyperparameters"]
    metadata: ObjectMeta
    spec: HyperparametersSpec


class EvaluationManifest(_ManifestModel):
    apiVersion: Literal["gemini.tuning/v1"]
    kind: Literal["Evaluation"]
    metadata: ObjectMeta
    spec: EvaluationSpec


class BackendSpec(_ManifestModel):
    type: Literal["gemini", "vertex"] = Field(description="The tuning API: gemini or vertex.")
    project: str | None = Field(default=None, description="vertex: the Google Cloud project id.")
    location: str | None = Field(
        default=None, description="vertex: a region (us-central1), or global, us, eu."
    )
    datasetBucket: str | None = Field(
        default=None, description="vertex: gs://BUCKET[/prefix] where datasets are staged."
    )


class BackendManifest(_ManifestModel):
    """Which tuning API the manifests are for; at most one per repository."""

    apiVersion: Literal["gemini.tuning/v1"]
    kind: Literal["Backend"]
    metadata: ObjectMeta
    spec: BackendSpec


MANIFEST_MODELS: dict[str, type[BaseModel]] = {
    "TunedModel": TunedModelManifest,
    "Dataset": DatasetManifest,
    "Hyperparameters": HyperparametersManifest,
    "Evaluation": EvaluationManifest,
    "Backend": BackendManifest,
}

AnyManifest = Annotated[
    TunedModelManifest
    | DatasetManifest
    | HyperparametersManifest
    | EvaluationManifest
    | BackendManifest,
    Field(discriminator="kind"),
]


def manifest_json_schema() -> dict[str, Any]:
    """JSON Schema accepting any one manifest document (editors, yaml-language-server)."""
    schema = TypeAdapter(AnyManifest).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "reconciler manifest (gemini.tuning/v1)",
        **schema,
    }
