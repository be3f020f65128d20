"""What the planner and the executor need of a tuning backend, and what differs between them.

A backend is reached through one object satisfying ``TuningProvider`` (as the
state is reached through ``StateBackend``): ``apply``, ``wait``, ``inventory``,
``show``, ``eval``, ``import`` and the executor call these methods and never a
concrete client. A test fake is one more implementation.

The backends differ in ways the callers must know; those are stated in
``Capabilities`` (``reconciler.capabilities``) rather than tested by name.

Live values travel as ``LiveModel`` / ``OperationStatus`` (``reconciler.live``);
failures as ``reconciler.errors`` classes. Names are the provider's *live
names* (``tunedModels/<id>`` on the Gemini API), opaque to the callers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from reconciler.api.convert import BaseModelInfo, GenerateResult
from reconciler.api.waiting import ProgressUpdate
from reconciler.capabilities import Capabilities
from reconciler.live import LiveModel, OperationStatus
from reconciler.spec import AppliedSpec, Example


class TuningProvider(Protocol):
    """One tuning backend: live tuned models, their tunings, generation. Thread-safe."""

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def endpoint(self) -> str:
        """Where the backend is (never credentials): names caches and the state's target."""
        ...

    @property
    def target(self) -> str:
        """Where on the backend, for people: ``projects/P/locations/L``; "" on the Gemini API."""
        ...

    def __enter__(self) -> TuningProvider: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def close(self) -> None: ...

    def list_tuned_models(
        self, *, filter: str | None = None, page_size: int = 1000, snapshots: bool = True
    ) -> Iterator[LiveModel]:
        """Every live tuned model, page by page; ``snapshots=False`` when progress is not read."""
        ...

    def get_tuned_model(self, name: str) -> LiveModel:
        """One live model by its live name; ``NotFoundError`` if absent."""
        ...

    def create_tuned_model(
        self,
        *,
        model_id: str,
        spec: AppliedSpec,
        examples: Sequence[Example],
        validation: Sequence[Example] | None = None,
    ) -> OperationStatus:
        """Start the tuning of ``model_id`` (the id part of its live name); its operation.

        Never creates twice for one ``model_id``: a create whose earlier attempt
        landed raises ``AlreadyExistsError`` with ``after_retry=True``.
        """
        ...

    def update_tuned_model(
        self, name: str, *, spec: AppliedSpec, update_mask: Sequence[str]
    ) -> LiveModel:
        """Change the ``update_mask`` fields (a subset of ``mutable_fields``) to ``spec``'s."""
        ...

    def delete_tuned_model(self, name: str) -> None:
        """Delete what the backend allows; ``NotFoundError`` if it was already gone."""
        ...

    def get_operation(self, name: str) -> OperationStatus: ...

    def list_operations(self, model: str) -> list[OperationStatus]:
        """The tunings of one live model, oldest first."""
        ...

    def get_base_model(self, name: str) -> BaseModelInfo: ...

    def generate_content(
        self,
        model: str,
        *,
        prompt: str,
        generation_config: Mapping[str, Any] | None = None,
    ) -> GenerateResult:
        """One user turn to a live tuned model (the evaluation gates' request)."""
        ...

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
        """Poll until every named model is ACTIVE or FAILED (or DELETED), or ``timeout``."""
        ...
