"""Which tuning API a run talks to: the Gemini API, or Vertex AI in one project and location.

Pure values and rules, no I/O. The target comes from four places, for each
setting separately, the first one that sets it winning:

    the command line (--backend, --project, --location, --dataset-bucket)
    a ``Backend`` document in the manifests (spec.type, project, location, datasetBucket)
    the environment (RECONCILER_BACKEND, GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION,
                     RECONCILER_DATASET_BUCKET)
    the default: the Gemini API

``BackendTarget.identity`` is what a state records, so that a state made for
one project and location is never planned against another (``state.bound``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal, cast

from reconciler.errors import SourceLocation, UsageError

GEMINI = "gemini"
VERTEX = "vertex"
BACKEND_TYPES: tuple[str, ...] = (GEMINI, VERTEX)
BackendKind = Literal["gemini", "vertex"]

# Where each setting comes from: (option, environment variable, Backend document field).
SETTINGS: dict[str, tuple[str, str, str]] = {
    "backend": ("--backend", "RECONCILER_BACKEND", "spec.type"),
    "project": ("--project", "GOOGLE_CLOUD_PROJECT", "spec.project"),
    "location": ("--location", "GOOGLE_CLOUD_LOCATION", "spec.location"),
    "dataset_bucket": ("--dataset-bucket", "RECONCILER_DATASET_BUCKET", "spec.datasetBucket"),
}
VERTEX_SETTINGS: tuple[str, ...] = ("project", "location", "dataset_bucket")

# A project id: 6-30 lowercase letters, digits and hyphens, starting with a
# letter, not ending with a hyphen. A project number (digits) is accepted too.
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_PROJECT_NUMBER = re.compile(r"^[1-9][0-9]{0,19}$")
# A region (us-central1, europe-west4, northamerica-northeast1), or the global
# and multi-region locations.
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]{1,2}$")
MULTI_REGIONS: tuple[str, ...] = ("global", "us", "eu")
# Cloud Storage bucket names: 3-63 characters per dot-separated part (222 in
# all), lowercase letters, digits, -, _ and ., starting and ending with a letter
# or digit; not an IP address, not starting with "goog", not containing "google".
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
BUCKET_MAX_CHARS = 222
BUCKET_PART_MAX_CHARS = 63
PREFIX_MAX_CHARS = 512
_PREFIX_REFUSED = re.compile(r"[\x00-\x1f\x7f#?\[\]*]")

# spec.tuningTask.hyperparameters.adapterSize (Vertex AI's ADAPTER_SIZE_ONE ... THIRTY_TWO).
ADAPTER_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
# Vertex AI labels: at most 64; keys and values at most 63 lowercase letters,
# digits, - and _ (keys starting with a letter); keys starting reconciler- are
# the reconciler's own (it labels what it creates).
MAX_LABELS = 64
LABEL_MAX_CHARS = 63
RESERVED_LABEL_PREFIX = "reconciler-"
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
# A Vertex AI base model id: gemini-2.5-flash, gemini-2.0-flash-001.
_VERTEX_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,126}[a-z0-9]$")


@dataclass(frozen=True)
class TargetSettings:
    """The settings one place gives (flags, or the environment); None where it says nothing."""

    backend: str | None = None
    project: str | None = None
    location: str | None = None
    dataset_bucket: str | None = None

    def get(self, name: str) -> str | None:
        value = getattr(self, name)
        return str(value) if value else None


NO_SETTINGS = TargetSettings()


@dataclass(frozen=True)
class BackendDocument:
    """A ``Backend`` manifest document, reduced to its values and where each is written."""

    name: str
    type: str
    location: SourceLocation  # of metadata.name
    project: str | None = None
    region: str | None = None  # spec.location
    dataset_bucket: str | None = None
    # setting name ("backend", "project", ...) -> where its value is written
    places: dict[str, SourceLocation] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = {
            "backend": self.type,
            "project": self.project,
            "location": self.region,
            "dataset_bucket": self.dataset_bucket,
        }
        return values[name]

    def place(self, name: str) -> SourceLocation:
        return self.places.get(name, self.location)


class TargetError(UsageError):
    """A target setting is missing or malformed; ``location`` when a document wrote it."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: SourceLocation | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"{location}: {message}" if location else message, hint=hint)
        self.detail = message
        self.location = location
        self.field = field


@dataclass(frozen=True)
class BackendTarget:
    """The tuning API of a run. On ``vertex``: project, location and dataset bucket, all checked."""

    kind: BackendKind = "gemini"
    project: str | None = None
    location: str | None = None
    dataset_bucket: str | None = None  # gs://BUCKET or gs://BUCKET/prefix, no trailing slash

    @property
    def identity(self) -> str:
        """What a state records: ``gemini``, or ``vertex:projects/P/locations/L``.

        The dataset bucket is not part of it: moving the staged datasets does
        not move the models.
        """
        if self.kind == GEMINI:
            return GEMINI
        return f"{VERTEX}:projects/{self.project}/locations/{self.location}"

    @property
    def bucket(self) -> str | None:
        """The bucket name of ``dataset_bucket``."""
        if self.dataset_bucket is None:
            return None
        return self.dataset_bucket.removeprefix("gs://").split("/", 1)[0]

    @property
    def prefix(self) -> str:
        """The object-name prefix of ``dataset_bucket`` ("" or "a/b", no slashes around)."""
        if self.dataset_bucket is None:
            return ""
        parts = self.dataset_bucket.removeprefix("gs://").split("/", 1)
        return parts[1] if len(parts) > 1 else ""

    def describe(self) -> str:
        """For messages: ``the Gemini API`` or ``Vertex AI project P in L``."""
        if self.kind == GEMINI:
            return "the Gemini API"
        return f"Vertex AI project {self.project} in {self.location}"


def describe_identity(identity: str) -> str:
    """``identity`` (as a state records it) the way ``BackendTarget.describe`` says it."""
    if identity == GEMINI:
        return "the Gemini API"
    match = re.fullmatch(r"vertex:projects/([^/]+)/locations/([^/]+)", identity)
    if match:
        return f"Vertex AI project {match.group(1)} in {match.group(2)}"
    return identity


def resolve_target(
    *,
    flags: TargetSettings = NO_SETTINGS,
    env: TargetSettings = NO_SETTINGS,
    document: BackendDocument | None = None,
) -> BackendTarget:
    """The target, each setting from the flag, else the Backend document, else the environment.

    Raises ``TargetError`` naming the setting (and the document's place when
    it wrote the value) when one is missing or malformed.
    """
    kind_text, kind_from = _pick("backend", flags, document, env)
    kind = (kind_text or GEMINI).lower()
    if kind not in BACKEND_TYPES:
        raise _bad("backend", kind_text or "", kind_from, document, "must be gemini or vertex")
    if kind == GEMINI:
        for name in VERTEX_SETTINGS:
            if flags.get(name):
                option = SETTINGS[name][0]
                raise TargetError(
                    f"{option} is only for the vertex backend, and the backend is gemini "
                    f"(chosen by {_source_name('backend', kind_from, document)})",
                    hint="add --backend vertex, or leave the option out",
                )
        return BackendTarget()
    values: dict[str, str] = {}
    for name in VERTEX_SETTINGS:
        value, source = _pick(name, flags, document, env)
        if value is None:
            option, variable, doc_field = SETTINGS[name]
            what = name.replace("_", " ")
            raise TargetError(
                f"the vertex backend needs a {what}: give {option}, set {variable}, "
                f"or set `{doc_field}` in the Backend document",
                hint=_EXAMPLES[name],
            )
        problem = _CHECKS[name](value)
        if problem is not None:
            raise _bad(name, value, source, document, problem)
        values[name] = value.rstrip("/") if name == "dataset_bucket" else value
    return BackendTarget(
        kind=cast(BackendKind, VERTEX),
        project=values["project"],
        location=values["location"],
        dataset_bucket=values["dataset_bucket"],
    )


_EXAMPLES = {
    "project": "e.g. --project my-project (the project id)",
    "location": "e.g. --location us-central1 (a region, or global, us, eu)",
    "dataset_bucket": "e.g. --dataset-bucket gs://my-bucket/tuning (where datasets are staged)",
}


def _pick(
    name: str, flags: TargetSettings, document: BackendDocument | None, env: TargetSettings
) -> tuple[str | None, str]:
    """The value of setting ``name`` and which place gave it: "flag", "document", "env", ""."""
    if flags.get(name):
        return flags.get(name), "flag"
    if document is not None and document.get(name):
        return document.get(name), "document"
    if env.get(name):
        return env.get(name), "env"
    return None, ""


def _source_name(name: str, source: str, document: BackendDocument | None) -> str:
    option, variable, doc_field = SETTINGS[name]
    if source == "flag":
        return option
    if source == "env":
        return variable
    if source == "document" and document is not None:
        return f"`{doc_field}` at {document.place(name)}"
    return "the default"


def _bad(
    name: str, value: str, source: str, document: BackendDocument | None, problem: str
) -> TargetError:
    option, variable, doc_field = SETTINGS[name]
    shown = value if len(value) <= 80 and value.isprintable() else repr(value[:80])
    if source == "document" and document is not None:
        return TargetError(
            f"`{doc_field}` {problem}, got `{shown}`",
            location=document.place(name),
            field=doc_field,
        )
    where = option if source == "flag" else variable
    return TargetError(f"{where} {problem}, got `{shown}`")


def backend_kind(
    *,
    flags: TargetSettings = NO_SETTINGS,
    env: TargetSettings = NO_SETTINGS,
    document: BackendDocument | None = None,
) -> str:
    """The backend the settings choose (``gemini`` unless one says ``vertex``), nothing checked."""
    value, _ = _pick("backend", flags, document, env)
    return (value or GEMINI).lower()


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a label key the reconciler accepts; None when it is one. Pure."""
    if key.startswith(RESERVED_LABEL_PREFIX):
        return (
            f"keys starting `{RESERVED_LABEL_PREFIX}` are reserved for the reconciler's own labels"
        )
    if not _LABEL_KEY.match(key):
        return (
            f"a label key is 1-{LABEL_MAX_CHARS} lowercase letters, digits, - and _, "
            "starting with a letter"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a label value; None when it is one. Pure."""
    if not _LABEL_VALUE.match(value):
        return f"a label value is at most {LABEL_MAX_CHARS} lowercase letters, digits, - and _"
    return None


def vertex_model_problem(model: str) -> tuple[str, str | None] | None:
    """Why ``model`` is not a Vertex AI base model id, and a hint; None when it is one. Pure."""
    if _VERTEX_MODEL_ID.match(model):
        return None
    bare = model.rsplit("/", 1)[-1]
    hint = (
        f"on the vertex backend write the model id: `{bare}`"
        if model.startswith(("models/", "publishers/")) and _VERTEX_MODEL_ID.match(bare)
        else None
    )
    return "must be a Vertex AI model id like `gemini-2.5-flash`", hint


def project_problem(value: str) -> str | None:
    """Why ``value`` is not a Google Cloud project id (or number); None when it is one. Pure."""
    if _PROJECT_ID.match(value) or _PROJECT_NUMBER.match(value):
        return None
    return (
        "must be a project id (6-30 lowercase letters, digits and hyphens, starting "
        "with a letter) or a project number"
    )


def location_problem(value: str) -> str | None:
    """Why ``value`` is not a Vertex AI location; None when it is one. Pure."""
    if value in MULTI_REGIONS or _REGION.match(value):
        return None
    return "must be a region like us-central1 or europe-west4, or global, us or eu"


def bucket_problem(value: str) -> str | None:
    """Why ``value`` is not ``gs://BUCKET[/prefix]`` with a valid bucket name; None when it is."""
    if not value.startswith("gs://"):
        return "must be gs://BUCKET or gs://BUCKET/prefix"
    bucket, _, prefix = value.removeprefix("gs://").partition("/")
    problem = bucket_name_problem(bucket)
    if problem is not None:
        return problem
    prefix = prefix.rstrip("/")
    if len(prefix) > PREFIX_MAX_CHARS:
        return f"has a prefix longer than {PREFIX_MAX_CHARS} characters"
    if _PREFIX_REFUSED.search(prefix):
        return "has a prefix with a control character or one of # ? [ ] *"
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        return "has a prefix with an empty, `.` or `..` part"
    return None


def bucket_name_problem(bucket: str) -> str | None:
    """Why ``bucket`` is not a valid Cloud Storage bucket name; None when it is one. Pure."""
    rules = (
        "must name a bucket of 3-63 lowercase letters, digits, -, _ and . "
        "(starting and ending with a letter or digit)"
    )
    if len(bucket) > BUCKET_MAX_CHARS or not _BUCKET.match(bucket):
        return rules
    parts = bucket.split(".")
    if any(not part or len(part) > BUCKET_PART_MAX_CHARS for part in parts):
        return rules
    if "." not in bucket and len(bucket) > BUCKET_PART_MAX_CHARS:
        return rules
    try:
        ipaddress.ip_address(bucket)
    except ValueError:
        pass
    else:
        return "must name a bucket, not an IP address"
    if bucket.startswith("goog") or "google" in bucket or "g00gle" in bucket:
        return "must name a bucket not starting with `goog` nor containing `google`"
    return None


_CHECKS = {
    "project": project_problem,
    "location": location_problem,
    "dataset_bucket": bucket_problem,
}
