"""``GeminiClient``: the tuned-model surface of the Gemini API (v1beta), synchronous.

One client holds one connection pool and is safe to share between threads:
``apply`` runs many calls at once from a thread pool through it. Callers get
``LiveModel`` / ``OperationStatus`` values and ``reconciler.errors.ApiError``
subclasses; no httpx type crosses this boundary.

Retry rules per call (budgets in ``retry.py``):

* GET, DELETE and PATCH (same body, same result) are retried on 429/5xx and
  lost connections.
* A create is retried too, because it always carries ``tunedModelId``: a
  retry cannot make a second model, it meets 409 instead. That 409 raises
  ``AlreadyExistsError`` with ``after_retry=True`` when an earlier attempt may
  have created the model (5xx or connection lost after sending); the caller
  GETs the model and adopts it. A 409 with ``after_retry=False`` is a real
  conflict.
* A DELETE that meets 404 after an attempt that may have deleted the model is
  a success (the first answer was lost); a 404 on a clean first attempt
  raises ``NotFoundError``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from reconciler.api import convert
from reconciler.api.convert import BaseModelInfo, GenerateResult
from reconciler.api.credentials import Credentials
from reconciler.api.retry import RetryPolicy
from reconciler.api.session import DEFAULT_REQUEST_TIMEOUT_SECONDS, ApiSession
from reconciler.api.waiting import ProgressUpdate, model_name, wait_for_models, wait_for_operation
from reconciler.capabilities import GEMINI_CAPABILITIES, Capabilities
from reconciler.errors import InvalidArgumentError, UsageError
from reconciler.live import LiveModel, OperationStatus
from reconciler.spec import AppliedSpec, Example

MAX_PAGE_SIZE = 1000  # the server caps pageSize at 1000 (wire facts section 6)
# The ``fields`` system parameter (partial response) of a list without snapshots:
# with ~10 snapshots a model, a 1000-model page shrinks from 1.3 MB to 0.45 MB
# (emulator), and decoding it from ~10 ms to ~3 ms.
LIST_FIELDS_WITHOUT_SNAPSHOTS = (
    f"tunedModels({convert.tuned_model_fields(snapshots=False)}),nextPageToken"
)
DEFAULT_MAX_POLL_INTERVAL = 30.0


def _path(name: str) -> str:
    """A resource name as a URL path, each segment percent-encoded (no query injection)."""
    return "/".join(quote(segment, safe="-._~") for segment in name.split("/"))


def _base_model_name(name: str) -> str:
    return name if name.startswith("models/") else f"models/{name}"


def _generation_target(model: str) -> str:
    if model.startswith(("tunedModels/", "models/")):
        return model
    return f"tunedModels/{model}"


class GeminiClient:
    """A thread-safe client for tuned models, base models, operations and generateContent.

    ``endpoint`` is any base URL (``https://generativelanguage.googleapis.com``,
    ``http://127.0.0.1:8080``, with or without a path prefix or trailing
    slash); requests go to ``{endpoint}/v1beta/...``. ``sleep``, ``clock`` and
    ``rng`` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        credentials: Credentials,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, shared safely
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        max_connections: int = 64,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self._partial_lists = True  # False once the server refused a ``fields`` selector
        self._session = ApiSession(
            endpoint=endpoint,
            credentials=credentials,
            transport=transport,
            retry=retry,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            request_timeout=request_timeout,
            sleep=sleep,
            clock=clock,
            rng=rng or random.Random(),
            max_connections=max_connections,
            notice=notice,
        )

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> GeminiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    @property
    def request_count(self) -> int:
        """HTTP attempts made by this client so far, retries included."""
        return self._session.request_count

    @property
    def retry_count(self) -> int:
        """Retries made by this client so far (from its shared retry budget)."""
        return self._session.retry_count

    # ------------------------------------------------------------------ tuned models

    def list_tuned_models(
        self,
        *,
        filter: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        snapshots: bool = True,
    ) -> Iterator[LiveModel]:
        """Every tuned model, page by page as the iterator advances.

        ``filter`` is the API's free-text / ``owner:me`` filter. N models cost
        ceil(N / page_size) requests. ``snapshots=False`` leaves the tuning
        snapshots out of the returned models: planning never reads them, and
        10,000 models carry about 100,000 of them. The request then asks for a
        partial response (``fields``) without them, so they are neither sent
        nor decoded.
        """
        params: dict[str, str | int] = {"pageSize": max(1, min(page_size, MAX_PAGE_SIZE))}
        if filter:
            params["filter"] = filter
        if not snapshots and self._partial_lists:
            params["fields"] = LIST_FIELDS_WITHOUT_SNAPSHOTS

        def listing() -> Iterator[LiveModel]:
            for item in self._pages("tunedModels", "tunedModels", params):
                yield convert.live_model_from_json(item, snapshots=snapshots)

        listed = False
        try:
            for model in listing():
                listed = True
                yield model
        except InvalidArgumentError:
            if listed or "fields" not in params:
                raise
            # A server that refuses this partial response (the parameter is a
            # standard one, but nothing is lost by not relying on it): list whole
            # models, now and for the rest of this client's life.
            self._partial_lists = False
            del params["fields"]
            yield from listing()

    def get_tuned_model(self, name: str) -> LiveModel:
        """One tuned model (``tunedModels/x`` or ``x``); ``NotFoundError`` if absent."""
        reply = self._session.call("GET", _path(model_name(name)))
        return convert.live_model_from_json(reply.data)

    def create_tuned_model(
        self,
        *,
        model_id: str,
        spec: AppliedSpec,
        examples: Sequence[Example],
        validation: Sequence[Example] | None = None,
    ) -> OperationStatus:
        """Start tuning ``tunedModels/<model_id>``; returns the tuning operation.

        See the module docstring for what a 409 means (``after_retry``). The
        Gemini API takes no validation examples (the manifests are checked for
        that before a plan; this is the last guard).
        """
        if validation:
            raise UsageError("the Gemini API takes no validation dataset")
        body = convert.create_body(spec=spec, examples=examples)
        reply = self._session.call(
            "POST",
            "tunedModels",
            params={"tunedModelId": model_id},
            body=body,
        )
        operation = convert.operation_from_json(reply.data)
        if not operation.model:
            operation = replace(operation, model=f"tunedModels/{model_id}")
        return operation

    def update_tuned_model(
        self, name: str, *, spec: AppliedSpec, update_mask: Sequence[str]
    ) -> LiveModel:
        """PATCH the fields named in ``update_mask`` (camelCase) to their values in ``spec``.

        The body holds exactly the masked fields; a masked field that is None
        in ``spec`` is left out of the body, which clears it (proto3 field
        masks). An empty mask sends nothing and returns the model as it is.
        """
        if not update_mask:
            return self.get_tuned_model(name)
        body = convert.patch_body(spec=spec, update_mask=update_mask)
        reply = self._session.call(
            "PATCH",
            _path(model_name(name)),
            params={"updateMask": ",".join(update_mask)},
            body=body,
        )
        return convert.live_model_from_json(reply.data)

    def delete_tuned_model(self, name: str) -> None:
        """Delete a tuned model; see the module docstring for a 404 after a lost answer."""
        self._session.call(
            "DELETE", _path(model_name(name)), tolerate_after_uncertain=frozenset({404})
        )

    # ------------------------------------------------------------------ operations

    def get_operation(self, name: str) -> OperationStatus:
        """One operation, ``tunedModels/<id>/operations/<op>``."""
        reply = self._session.call("GET", _path(name))
        return convert.operation_from_json(reply.data)

    def list_operations(self, model: str) -> list[OperationStatus]:
        """Every operation of a tuned model (all pages), oldest first as the server lists them."""
        path = _path(model_name(model)) + "/operations"
        return [
            convert.operation_from_json(item)
            for item in self._pages(path, "operations", {"pageSize": MAX_PAGE_SIZE})
        ]

    # ------------------------------------------------------------------ base models, generate

    def list_base_models(self) -> list[BaseModelInfo]:
        """Every base model (``models/...``) the endpoint serves."""
        return [
            convert.base_model_from_json(item)
            for item in self._pages("models", "models", {"pageSize": MAX_PAGE_SIZE})
        ]

    def get_base_model(self, name: str) -> BaseModelInfo:
        """One base model, ``models/x`` or ``x``."""
        reply = self._session.call("GET", _path(_base_model_name(name)))
        return convert.base_model_from_json(reply.data)

    def generate_content(
        self,
        model: str,
        *,
        prompt: str,
        generation_config: Mapping[str, Any] | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        candidate_count: int | None = None,
        stop_sequences: Sequence[str] | None = None,
    ) -> GenerateResult:
        """One user turn to a tuned model (``x``, ``tunedModels/x``) or a base model (``models/x``).

        ``generation_config`` is sent as the request's ``generationConfig``
        (camelCase keys, as in a manifest); the keyword values override it.
        The body is ``convert.generate_body``'s, so a caller can hash exactly
        what is sent (the evaluation cache does). Retried like every call:
        on 429 (honouring the server's retry delay), 5xx and lost connections.
        """
        config: dict[str, Any] = dict(generation_config or {})
        if temperature is not None:
            config["temperature"] = temperature
        if max_output_tokens is not None:
            config["maxOutputTokens"] = max_output_tokens
        if candidate_count is not None:
            config["candidateCount"] = candidate_count
        if stop_sequences:
            config["stopSequences"] = list(stop_sequences)
        body = convert.generate_body(prompt=prompt, generation_config=config)
        path = _path(_generation_target(model)) + ":generateContent"
        return convert.generate_result_from_json(self._session.call("POST", path, body=body).data)

    @property
    def capabilities(self) -> Capabilities:
        """What the Gemini API backend can do (``reconciler.capabilities``)."""
        return GEMINI_CAPABILITIES

    @property
    def target(self) -> str:
        """The Gemini API has one target per endpoint: nothing more to name."""
        return ""

    @property
    def endpoint(self) -> str:
        """Scheme, host, port and path prefix of the API (never credentials): names a cache."""
        return self._session.endpoint

    # ------------------------------------------------------------------ waiting

    def wait_for_models(
        self,
        names: Collection[str],
        *,
        timeout: float | None,
        poll_interval: float = 2.0,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        total_steps: Mapping[str, int] | None = None,
        on_progress: Callable[[ProgressUpdate], None] | None = None,
    ) -> dict[str, LiveModel]:
        """Poll until every named model is ACTIVE or FAILED, or ``timeout`` seconds pass.

        Returns the last LiveModel seen per name, keyed as given. On timeout it
        returns rather than raises: the models still in progress have state
        CREATING and the caller decides. A model that disappeared (404, or
        absent from the list) is returned as ``LiveModel(name, state=DELETED)``.

        ``on_progress`` gets a ``ProgressUpdate`` whenever a model's state or
        completed step changes. Its total comes from ``total_steps`` (keyed by
        ``x`` or ``tunedModels/x``) or else, once per model, from the model's
        tuning operation (one extra request each).
        """
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

    def wait_for_operation(
        self,
        name: str,
        *,
        timeout: float | None,
        poll_interval: float = 2.0,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        on_progress: Callable[[ProgressUpdate], None] | None = None,
    ) -> OperationStatus:
        """Poll one operation until done, or ``timeout``; returns the last status seen.

        Done with success: ``result`` holds the model. Done with failure:
        ``error_code`` and ``error_message``. Not done: the timeout passed.
        """
        return wait_for_operation(
            self,
            name,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            on_progress=on_progress,
            sleep=self._sleep,
            clock=self._clock,
        )

    # ------------------------------------------------------------------ helpers

    def _pages(
        self, path: str, key: str, params: Mapping[str, str | int]
    ) -> Iterator[dict[str, Any]]:
        query = dict(params)
        while True:
            data = self._session.call("GET", path, params=query).data
            items = data.get(key)
            if isinstance(items, list):
                yield from (item for item in items if isinstance(item, dict))
            token = data.get("nextPageToken")
            if not isinstance(token, str) or not token:
                return
            query["pageToken"] = token
