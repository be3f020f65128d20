"""Vertex AI tuning jobs: create exactly once, find by key, get, list, cancel, generate.

A tuning job's id is chosen by the server and ``tuningJobs.create`` takes no
request id, so a create whose answer is lost (a timeout, a 500, a crash) may
or may not have started a billed job. Every job is therefore created with an
idempotency label, ``reconciler-key=<key>``, and the label is looked up
(``list`` with ``filter=labels.reconciler-key=<key>``) before the first
attempt and after every attempt that may have reached the server: a job found
is adopted, never created twice. Creates are retried here, not by the
session, so that no retry can skip that lookup.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from reconciler.api.credentials import VERTEX_AUTH_HINT, Credentials
from reconciler.api.retry import RETRYABLE_STATUS, RetryPolicy
from reconciler.api.session import DEFAULT_REQUEST_TIMEOUT_SECONDS, ApiSession
from reconciler.api.vertex_jobs import VertexJob, parse_job
from reconciler.api.vertex_models import (
    VertexEndpoint,
    VertexModel,
    parse_endpoint,
    parse_model,
    patch_body,
)
from reconciler.api.vertex_operations import DEFAULT_OPERATION_TIMEOUT, wait_for_operation
from reconciler.api.vertex_removal import Removal, remove_tuned_model
from reconciler.errors import (
    ApiError,
    InvalidArgumentError,
    TransportError,
    UsageError,
)

IDEMPOTENCY_LABEL = "reconciler-key"
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{1,63}")
_LOCATION = re.compile(r"[a-z][a-z0-9-]{0,62}")
# A project id, number, or domain-scoped id (example.com:my-project).
_PROJECT = re.compile(r"[a-z0-9][a-z0-9.:-]{0,99}")
ADAPTER_SIZES = {1: "ONE", 2: "TWO", 4: "FOUR", 8: "EIGHT", 16: "SIXTEEN", 32: "THIRTY_TWO"}
LIST_PAGE_SIZE = 100
MULTI_REGIONS = frozenset({"us", "eu"})
# A DELETE or undeploy retried after a lost answer finds the thing gone: that was us.
_GONE_AFTER_RETRY = frozenset({404})


def vertex_endpoint(location: str) -> str:
    """The service's host for ``location``, as google-genai derives it."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in MULTI_REGIONS:
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


@dataclass(frozen=True)
class JobRequest:
    """The inputs of one supervised tuning job."""

    base_model: str
    training_dataset_uri: str
    validation_dataset_uri: str | None = None
    epoch_count: int | None = None
    learning_rate_multiplier: float | None = None
    adapter_size: int | None = None
    display_name: str = ""
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def body(self, key: str) -> dict[str, Any]:
        hyper: dict[str, Any] = {}
        if self.epoch_count is not None:
            hyper["epochCount"] = self.epoch_count
        if self.learning_rate_multiplier is not None:
            hyper["learningRateMultiplier"] = self.learning_rate_multiplier
        if self.adapter_size is not None:
            if self.adapter_size not in ADAPTER_SIZES:
                raise UsageError(
                    f"adapterSize {self.adapter_size} is not one of "
                    f"{', '.join(map(str, ADAPTER_SIZES))}"
                )
            hyper["adapterSize"] = f"ADAPTER_SIZE_{ADAPTER_SIZES[self.adapter_size]}"
        spec: dict[str, Any] = {"trainingDatasetUri": self.training_dataset_uri}
        if self.validation_dataset_uri:
            spec["validationDatasetUri"] = self.validation_dataset_uri
        if hyper:
            spec["hyperParameters"] = hyper
        body: dict[str, Any] = {"baseModel": self.base_model, "supervisedTuningSpec": spec}
        if self.display_name:
            body["tunedModelDisplayName"] = self.display_name
        if self.description:
            body["description"] = self.description
        body["labels"] = {**self.labels, IDEMPOTENCY_LABEL: key}
        return body


@dataclass(frozen=True)
class CreateResult:
    job: VertexJob
    adopted: bool  # True: the job already existed (an earlier attempt made it)


class VertexClient:
    """Tuning jobs of one project and location; thread-safe like ``ApiSession``.

    ``endpoint`` overrides the host (an emulator serves every location on one
    port); without it each location's own host is used, also for a tuned
    endpoint served from a multi-region (``us``, ``eu``).
    """

    def __init__(
        self,
        *,
        project: str,
        location: str,
        credentials: Credentials,
        endpoint: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, shared safely
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        operation_timeout: float = DEFAULT_OPERATION_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        if credentials.api_key:
            raise UsageError(
                "Vertex AI tuning takes an OAuth access token, not an API key",
                hint="use Application Default Credentials or --access-token",
            )
        if not _LOCATION.fullmatch(location):
            raise UsageError(
                f"invalid location {location[:70]!r}: expected a Vertex AI location "
                "such as us-central1, europe-west4, us or global"
            )
        if not _PROJECT.fullmatch(project):
            raise UsageError(f"invalid project {project[:70]!r}: expected a project id or number")
        self.project = project
        self.location = location
        self._credentials = credentials
        self._endpoint = endpoint
        self._transport = transport
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._operation_timeout = operation_timeout
        self._request_timeout = request_timeout
        self._notice = notice  # a retry or a slow request, said as it happens
        self._sessions: dict[str, ApiSession] = {}
        self._sessions_lock = threading.Lock()
        self._session = self._session_for(location)
        # One attempt per call: create_job retries itself, looking the key up in between.
        self._create_session = self._new_session(location, replace(retry, max_attempts=1))

    def close(self) -> None:
        with self._sessions_lock:
            sessions = [*self._sessions.values(), self._create_session]
        for session in sessions:
            session.close()

    def __enter__(self) -> VertexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def _new_session(self, location: str, retry: RetryPolicy) -> ApiSession:
        return ApiSession(
            endpoint=self._endpoint or vertex_endpoint(location),
            credentials=self._credentials,
            transport=self._transport,
            retry=retry,
            connect_timeout=10.0,
            read_timeout=60.0,
            request_timeout=self._request_timeout,
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
            max_connections=16,
            api_version="v1",
            auth_hint=VERTEX_AUTH_HINT,
            notice=self._notice,
        )

    def _session_for(self, location: str) -> ApiSession:
        """The session for ``location``'s host; made once, also when threads race for it."""
        if not _LOCATION.fullmatch(location):
            # A name read from an answer picks the host the token goes to: never a made-up one.
            raise ApiError(f"invalid Vertex AI location {location[:70]!r} in a resource name")
        key = "" if self._endpoint else location
        with self._sessions_lock:
            if key not in self._sessions:
                self._sessions[key] = self._new_session(location, self._retry)
            return self._sessions[key]

    def _session_at(self, name: str) -> ApiSession:
        """The session for a resource ``projects/P/locations/L/...`` (L's own host)."""
        _, found, rest = name.partition("/locations/")
        return self._session_for(rest.split("/", 1)[0] if found else self.location)

    # ------------------------------------------------------------------ jobs

    def get_job(self, name: str) -> VertexJob:
        return parse_job(self._session.call("GET", name).data)

    def list_jobs(self, *, filter: str = "") -> Iterator[VertexJob]:
        """Every job of the project and location (newest first), page by page."""
        for job in self._pages("tuningJobs", filter):
            yield parse_job(job)

    def _pages(self, collection: str, filter: str) -> Iterator[dict[str, Any]]:
        """The items of ``{parent}/{collection}``, following ``nextPageToken``."""
        token = ""
        while True:
            params: dict[str, str | int] = {"pageSize": LIST_PAGE_SIZE}
            if filter:
                params["filter"] = filter
            if token:
                params["pageToken"] = token
            data = self._session.call("GET", f"{self.parent}/{collection}", params=params).data
            items = data.get(collection) or []
            if not isinstance(items, list):
                raise ApiError(f"the {collection} list answer is not a list")
            yield from (item for item in items if isinstance(item, dict))
            token = str(data.get("nextPageToken") or "")
            if not token:
                return

    def find_job_by_key(self, key: str) -> VertexJob | None:
        """The job created with idempotency key ``key``, if any (the oldest, should there be two)."""
        _check_key(key)
        try:
            found = list(self.list_jobs(filter=f'labels.{IDEMPOTENCY_LABEL}="{key}"'))
        except InvalidArgumentError:
            # A service that refuses the label filter: page through everything instead.
            found = [job for job in self.list_jobs() if job.key == key]
        return min(found, key=lambda job: job.create_time) if found else None

    def create_job(self, request: JobRequest, *, key: str) -> CreateResult:
        """Create the job for ``key`` unless one exists; never two jobs for one key."""
        existing = self.find_job_by_key(key)
        if existing is not None:
            return CreateResult(existing, adopted=True)
        body = request.body(key)
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            try:
                reply = self._create_session.call("POST", f"{self.parent}/tuningJobs", body=body)
                return CreateResult(parse_job(reply.data), adopted=False)
            except ApiError as error:
                if not _retryable(error) or attempt >= self._retry.max_attempts:
                    raise
                if _maybe_created(error):
                    found = self.find_job_by_key(key)
                    if found is not None:
                        return CreateResult(found, adopted=True)
                delay = self._retry.backoff(retry_number=attempt, rng=self._rng)
                delay = max(delay, error.retry_after or 0.0)
                if waited + delay > self._retry.max_total_delay:
                    raise
                waited += delay
                self._sleep(delay)

    def cancel_job(self, name: str) -> None:
        """Ask the service to cancel; the job reaches CANCELLED later (poll ``get_job``)."""
        self._session.call("POST", f"{name}:cancel", body={})

    # ------------------------------------------------------------------ serving

    def generate_content(
        self, endpoint: str, prompt: str, *, generation_config: Mapping[str, Any] | None = None
    ) -> str:
        """The tuned endpoint's text answer to one user prompt.

        ``generation_config`` (camelCase keys) is sent as ``generationConfig``.
        """
        body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        if generation_config:
            body["generationConfig"] = dict(generation_config)
        data = (
            self._session_at(endpoint)
            .call(
                "POST",
                f"{endpoint}:generateContent",
                body=body,
            )
            .data
        )
        try:
            parts = data["candidates"][0]["content"]["parts"]
            return "".join(str(part.get("text", "")) for part in parts)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ApiError(f"{endpoint} answered without a candidate") from exc

    # ------------------------------------------------------------------ models and endpoints

    def get_model(self, name: str) -> VertexModel:
        """A Model (``projects/P/locations/L/models/M``, or ``M@1`` for its version)."""
        return parse_model(self._session_at(name).call("GET", name).data)

    def list_models(self, *, filter: str = "") -> Iterator[VertexModel]:
        """Every Model of the project and location, page by page (one request per 100)."""
        for model in self._pages("models", filter):
            yield parse_model(model)

    def patch_model(
        self,
        name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        labels: Mapping[str, str] | None = None,
        update_mask: Sequence[str],
    ) -> VertexModel:
        """Change the fields ``update_mask`` names (``displayName``, ``description``, ``labels``).

        Answered synchronously. ``labels`` replaces the whole map. On ``M`` the
        Model's labels change; on ``M@1`` the version's, as the service documents.
        """
        mask, body = patch_body(
            update_mask, display_name=display_name, description=description, labels=labels
        )
        reply = self._session_at(name).call(
            "PATCH",
            name,
            params={"updateMask": ",".join(mask)},
            body=body,
        )
        return parse_model(reply.data)

    def get_endpoint(self, name: str) -> VertexEndpoint:
        """An Endpoint and the models deployed to it (with their ``deployedModelId``)."""
        return parse_endpoint(self._session_at(name).call("GET", name).data)

    def undeploy_model(self, endpoint: str, deployed_model_id: str) -> None:
        """Undeploy one deployment and wait for the Operation; 404 if it is not deployed there."""
        reply = self._session_at(endpoint).call(
            "POST",
            f"{endpoint}:undeployModel",
            body={"deployedModelId": deployed_model_id},
            tolerate_after_uncertain=_GONE_AFTER_RETRY,
        )
        self._finish(
            reply.data, reply.status, what=f"undeploying {deployed_model_id} from {endpoint}"
        )

    def delete_endpoint(self, name: str) -> None:
        """Delete an Endpoint (no model may be deployed) and wait; 404 if there is none."""
        reply = self._session_at(name).call(
            "DELETE", name, tolerate_after_uncertain=_GONE_AFTER_RETRY
        )
        self._finish(reply.data, reply.status, what=f"deleting {name}")

    def delete_model(self, name: str) -> None:
        """Delete a Model (it must be undeployed first) and wait; 404 if there is none."""
        reply = self._session_at(name).call(
            "DELETE", name, tolerate_after_uncertain=_GONE_AFTER_RETRY
        )
        self._finish(reply.data, reply.status, what=f"deleting {name}")

    def remove_tuned_model(self, job: VertexJob) -> Removal:
        """Undeploy the job's Model, delete its Endpoint, delete the Model; rerunnable.

        See ``vertex_removal.remove_tuned_model``.
        """
        return remove_tuned_model(self, job)

    def _finish(self, operation: dict[str, object], status: int, *, what: str) -> None:
        if status == 404:  # an earlier attempt of this call did it; its answer was lost
            return
        wait_for_operation(
            dict(operation),
            what=what,
            get=lambda name: self._session_at(name).call("GET", name).data,
            sleep=self._sleep,
            clock=self._clock,
            timeout=self._operation_timeout,
        )


def _check_key(key: str) -> None:
    if not _LABEL_VALUE.fullmatch(key):
        raise UsageError(
            f"idempotency key {key!r} is not a label value (1-63 of a-z, 0-9, '_', '-')"
        )


def _retryable(error: ApiError) -> bool:
    return isinstance(error, TransportError) or error.code in RETRYABLE_STATUS


def _maybe_created(error: ApiError) -> bool:
    """A 5xx or a lost connection may have created the job; a 429 did not."""
    return isinstance(error, TransportError) or error.code >= 500
