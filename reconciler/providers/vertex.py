"""The Vertex AI backend: tuning jobs and the Model and Endpoint each one produces.

Live names. Vertex AI chooses a job's id itself, so the planner's live names
(``tunedModels/<id>``) are the provider's: a job reconciler creates carries
the label ``reconciler-key=<id>``, and ``tunedModels/<id>`` names the job with
that label. The executor makes every ``<id>`` unique per create (see
``Capabilities.client_chosen_ids``), so a label never names two jobs and a
create whose answer was lost is found by it and adopted, never sent twice
(``VertexClient.create_job``). A job made outside reconciler keeps its own
resource name (``projects/P/locations/L/tuningJobs/N``) as its live name.

States. PENDING, QUEUED and RUNNING read as CREATING; SUCCEEDED as ACTIVE
while its Model exists; FAILED and EXPIRED as FAILED. A CANCELLED job, or a
SUCCEEDED one whose Model was deleted, is gone: it is not listed, and a get
answers ``NotFoundError``, as a deleted tuned model does on the Gemini API.

Changes and deletes. The job is immutable; the Model's display name,
description and labels change in place. Deleting cancels a job still running,
and undeploys and deletes what a finished one produced; a job's record stays
(the service has no delete for it), and a failed job has nothing to delete.
The tuning "operation" of a live model is its job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from reconciler.api.convert import BaseModelInfo, GenerateResult
from reconciler.api.vertex_client import IDEMPOTENCY_LABEL, JobRequest, VertexClient
from reconciler.api.vertex_datasets import StagedDataset, stage_dataset
from reconciler.api.vertex_jobs import VertexJob
from reconciler.api.vertex_models import VertexModel
from reconciler.api.vertex_storage import StorageClient
from reconciler.api.waiting import ProgressUpdate, wait_for_models
from reconciler.capabilities import VERTEX_CAPABILITIES, Capabilities
from reconciler.errors import FailedPreconditionError, NotFoundError, UsageError
from reconciler.live import ACTIVE, CREATING, FAILED, LiveModel, OperationStatus, StoredDataset
from reconciler.spec import AppliedSpec, Example

PREFIX = "tunedModels/"
_RUNNING = frozenset({"JOB_STATE_PENDING", "JOB_STATE_QUEUED", "JOB_STATE_RUNNING"})
_FAILED = frozenset({"JOB_STATE_FAILED", "JOB_STATE_EXPIRED"})
_GONE = frozenset({"JOB_STATE_CANCELLED", "JOB_STATE_CANCELLING"})
# Base models that accept supervised tuning (vertex-tuning-facts.md section 3 and 7).
TUNABLE_BASE_MODELS = frozenset(
    {
        "gemini-3.5-flash-lite",
        "gemini-3.5-flash",
        "gemini-3.1-flash-lite",
        "gemini-2.5-pro",
        "gemini-2.5-flash-lite",
        "gemini-2.5-flash",
    }
)


def live_name(job: VertexJob) -> str:
    """The live name of a job: ``tunedModels/<key>`` for reconciler's, else its resource name."""
    return f"{PREFIX}{job.key}" if job.key else job.name


def _own(key: str) -> bool:
    """A label the manifests do not manage: reconciler's key, or one the service puts on."""
    return key.startswith(("reconciler-", "goog"))


def _user_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if not _own(k)}


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


class VertexProvider:
    """Tuning jobs of one project and location, as ``TuningProvider`` wants them. Thread-safe."""

    def __init__(
        self,
        *,
        client: VertexClient,
        storage: StorageClient,
        dataset_bucket: str,
        endpoint: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self._client = client
        self._storage = storage
        self._bucket = dataset_bucket
        self._endpoint = endpoint
        self._lock = threading.Lock()
        self._jobs: dict[str, VertexJob] = {}  # live name -> job last seen

    # ------------------------------------------------------------------ lifecycle

    @property
    def capabilities(self) -> Capabilities:
        return VERTEX_CAPABILITIES

    @property
    def endpoint(self) -> str:
        """The service root and the project and location: names caches and the state's target."""
        return self._endpoint

    @property
    def target(self) -> str:
        """``projects/P/locations/L``, and where datasets are stored."""
        return f"{self._client.parent} (datasets in {self._bucket})"

    def __enter__(self) -> VertexProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()
        self._storage.close()

    # ------------------------------------------------------------------ reading

    def list_tuned_models(
        self, *, filter: str | None = None, page_size: int = 1000, snapshots: bool = True
    ) -> Iterator[LiveModel]:
        """Every live job of the project and location (gone ones left out).

        ``filter`` keeps the models whose live name or display name contains
        every word of it. Two paged lists: the jobs, and the Models (a
        succeeded job whose Model is gone was deleted), whatever their number.
        """
        del page_size, snapshots  # the service pages by its own size; jobs carry no snapshots
        jobs = list(self._client.list_jobs())
        models = {model.name: model for model in self._client.list_models()}
        words = (filter or "").lower().split()
        for job in sorted(jobs, key=lambda j: (j.create_time, j.name)):
            model = models.get(job.model.split("@", 1)[0]) if job.model else None
            live = self._live(job, model)
            if live is None:
                continue
            text = f"{live.name} {live.display_name or ''}".lower()
            if all(word in text for word in words):
                yield live

    def get_tuned_model(self, name: str) -> LiveModel:
        job = self._job(name)
        model = self._model_or_none(job) if job.state == "JOB_STATE_SUCCEEDED" else None
        live = self._live(job, model)
        if live is None:
            raise NotFoundError(f"{name} is not live (its tuning job is {_state(job)})")
        return live

    def get_operation(self, name: str) -> OperationStatus:
        """The tuning job ``name`` (``projects/.../tuningJobs/N``) as an operation."""
        return self._operation(self._client.get_job(name))

    def list_operations(self, model: str) -> list[OperationStatus]:
        """The job behind ``model`` (one job per live name)."""
        try:
            return [self._operation(self._job(model))]
        except NotFoundError:
            return []

    def get_base_model(self, name: str) -> BaseModelInfo:
        """A base model as the tuning service takes it; tunable ones per the published list."""
        model_id = _base(name)
        methods = ("generateContent", "createTunedModel") if model_id in TUNABLE_BASE_MODELS else ()
        return BaseModelInfo(
            name=model_id, display_name=model_id, supported_generation_methods=methods
        )

    def wait_for_models(
        self,
        names: Collection[str],
        *,
        timeout: float | None,
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        total_steps: Mapping[str, int] | None = None,
        on_progress: Callable[[ProgressUpdate], None] | None = None,
    ) -> dict[str, LiveModel]:
        return wait_for_models(
            self,
            names,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            total_steps=total_steps,
            on_progress=on_progress,
            sleep=self._sleep,
            clock=self._clock,
        )

    # ------------------------------------------------------------------ changing

    def create_tuned_model(
        self,
        *,
        model_id: str,
        spec: AppliedSpec,
        examples: Sequence[Example],
        validation: Sequence[Example] | None = None,
    ) -> OperationStatus:
        """Stage the datasets, then create the job labelled ``model_id`` unless it exists.

        A job already carrying the label is an earlier attempt of this very
        create (the label is unique per create): it is returned, not created again.
        """
        if not spec.baseModel:
            raise UsageError(f"{model_id}: a Vertex AI tuning job needs a baseModel")
        training = stage_dataset(self._storage, location=self._bucket, examples=examples)
        held = (
            stage_dataset(self._storage, location=self._bucket, examples=validation)
            if validation
            else None
        )
        validation_uri = held.uri if held is not None else None
        hyper = spec.hyperparameters
        request = JobRequest(
            base_model=_base(spec.baseModel),
            training_dataset_uri=training.uri,
            validation_dataset_uri=validation_uri,
            epoch_count=hyper.epochCount,
            learning_rate_multiplier=hyper.learningRateMultiplier,
            adapter_size=hyper.adapterSize,
            display_name=spec.displayName or "",
            description=spec.description or "",
            labels=dict(spec.labels),
        )
        job = self._client.create_job(request, key=model_id).job
        self._remember(job)
        stored = [_stored("training", training)]
        if held is not None:
            stored.append(_stored("validation", held))
        return replace(self._operation(job), datasets=tuple(stored))

    def update_tuned_model(
        self, name: str, *, spec: AppliedSpec, update_mask: Sequence[str]
    ) -> LiveModel:
        """Patch the job's Model (``displayName``, ``description``, ``labels``)."""
        job = self._job(name)
        if not update_mask:
            return self.get_tuned_model(name)
        if job.state != "JOB_STATE_SUCCEEDED" or not job.model:
            raise FailedPreconditionError(
                f"{name} is {_state(job)}: its model can be changed once the tuning succeeded",
                hint="apply again once it is ACTIVE",
            )
        key = job.labels.get(IDEMPOTENCY_LABEL)
        labels: dict[str, str] = {}
        if "labels" in update_mask:
            # A PATCH replaces the whole map: the labels the manifest does not
            # set (the service's own on a tuned Model, others') are kept.
            current = self._model_or_none(job)
            labels = dict(current.labels) if current is not None else {}
        labels.update(spec.labels)
        if key:
            labels[IDEMPOTENCY_LABEL] = key
        model = self._client.patch_model(
            job.model.split("@", 1)[0],
            display_name=spec.displayName or "",
            description=spec.description or "",
            labels=labels,
            update_mask=list(update_mask),
        )
        live = self._live(job, model)
        if live is None:  # cannot happen: the model was just patched
            raise NotFoundError(f"{name} disappeared while it was changed")
        return live

    def delete_tuned_model(self, name: str) -> None:
        """Cancel a running job; undeploy and delete what a succeeded one produced.

        ``NotFoundError`` when nothing is live under ``name`` (already deleted).
        A failed job has nothing to delete: its record stays, as every job's does.
        """
        job = self._job(name)
        if job.state in _GONE:
            raise NotFoundError(f"{name} is already {_state(job)}")
        if job.state in _RUNNING:
            self._client.cancel_job(job.name)
            return
        if job.state == "JOB_STATE_SUCCEEDED":
            removal = self._client.remove_tuned_model(job)
            if not (removal.model_deleted or removal.undeployed or removal.endpoint_deleted):
                raise NotFoundError(f"{name}: its model and endpoint are already deleted")

    # ------------------------------------------------------------------ serving

    def generate_content(
        self,
        model: str,
        *,
        prompt: str,
        generation_config: Mapping[str, Any] | None = None,
    ) -> GenerateResult:
        """One user turn to the endpoint serving ``model``'s tuned model."""
        job = self._job(model)
        if not job.endpoint:
            raise FailedPreconditionError(f"{model} is {_state(job)}: it has no endpoint yet")
        text = self._client.generate_content(
            job.endpoint, prompt, generation_config=dict(generation_config or {})
        )
        return GenerateResult(texts=(text,))

    # ------------------------------------------------------------------ helpers

    def _remember(self, job: VertexJob) -> None:
        with self._lock:
            self._jobs[live_name(job)] = job

    def _job(self, name: str) -> VertexJob:
        """The job behind a live name, read now (its state changes)."""
        if name.startswith(PREFIX):
            with self._lock:
                known = self._jobs.get(name)
            if known is not None:
                job = self._client.get_job(known.name)
            else:
                found = self._client.find_job_by_key(name.removeprefix(PREFIX))
                if found is None:
                    raise NotFoundError(f"no tuning job is labelled for {name}")
                job = found
        elif "/tuningJobs/" in name:
            job = self._client.get_job(name)
        else:
            raise NotFoundError(f"{name} names no tuning job")
        self._remember(job)
        return job

    def _model_or_none(self, job: VertexJob) -> VertexModel | None:
        if not job.model:
            return None
        try:
            return self._client.get_model(job.model.split("@", 1)[0])
        except NotFoundError:
            return None

    def _live(self, job: VertexJob, model: VertexModel | None) -> LiveModel | None:
        if job.state in _GONE:
            return None
        if job.state in _RUNNING:
            state = CREATING
        elif job.state in _FAILED:
            state = FAILED
        elif job.state == "JOB_STATE_SUCCEEDED":
            if model is None:
                return None
            state = ACTIVE
        else:
            state = "STATE_UNSPECIFIED"
        labels = _user_labels(model.labels if model is not None else job.labels)
        return LiveModel(
            name=live_name(job),
            state=state,
            base_model=job.base_model,
            display_name=(model.display_name if model is not None else job.display_name) or None,
            description=(model.description if model is not None else job.description) or None,
            create_time=job.create_time or None,
            update_time=(model.update_time if model is not None else job.update_time) or None,
            hyperparameters=dict(job.hyperparameters),
            start_time=job.start_time or None,
            complete_time=job.end_time or None,
            labels=labels,
            job=job.name,
            tuned_model=job.model,
            serving_endpoint=job.endpoint,
        )

    def _operation(self, job: VertexJob) -> OperationStatus:
        failed = job.state in _FAILED or job.state in _GONE
        result = None
        if job.state == "JOB_STATE_SUCCEEDED":
            result = self._live(job, self._model_or_none(job))
        return OperationStatus(
            name=job.name,
            model=live_name(job),
            done=job.done,
            total_steps=job.step_count or 0,
            completed_steps=(job.step_count or 0) if job.done else 0,
            completed_percent=100.0 if job.done else 0.0,
            error_code=(job.error_code or 2) if failed else None,
            error_message=(job.error_message or _state(job)) if failed else None,
            result=result,
        )


def _stored(role: str, staged: StagedDataset) -> StoredDataset:
    return StoredDataset(
        role=role,
        uri=staged.uri,
        generation=staged.generation,
        md5_hash=staged.md5_hash,
        crc32c=staged.crc32c,
        size=staged.size,
    )


def _state(job: VertexJob) -> str:
    return job.state.removeprefix("JOB_STATE_")
