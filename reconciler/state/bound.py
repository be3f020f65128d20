"""A state backend bound to one tuning API: it refuses a state recorded for another.

The state records which API its models live in (``backend`` and ``endpoint``,
and on Vertex AI the ``target``: its project and location).
Planning a state against another API, say the real one with a forgotten
``RECONCILER_ENDPOINT`` pointing at an emulator, would call every managed model
"deleted outside the reconciler" and plan to recreate them all. So every read
through this backend checks the recorded API first, and every document it hands
out carries the current one, so the next write records it (a state written
before these fields existed adopts the endpoint then).

A state of another backend (Gemini API vs Vertex AI), or of another Vertex AI
project or location, is always refused: models do not move between them.

When the API really moved (a new hostname, a proxy), the user says so
(``--endpoint-moved``): the state is then used there, and a command that writes
(apply, destroy, import, wait) records the new endpoint before it gives up the
lock, even when it had nothing else to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

from reconciler.applied import (
    GEMINI_BACKEND,
    ModelRecord,
    StateDocument,
    normalized_endpoint,
    same_api,
)
from reconciler.errors import StateError
from reconciler.state.base import LockInfo, StateBackend, StateLock
from reconciler.target import BackendTarget, describe_identity

READ_ONLY_COMMANDS = frozenset({"plan"})  # they take the lock to read, never write


@dataclass
class ApiBoundBackend:
    """``inner`` (a file or PostgreSQL backend), checked against and stamped with one API."""

    inner: StateBackend
    endpoint: str
    target: BackendTarget = field(default_factory=BackendTarget)
    moved: bool = False
    display: str = field(init=False)  # the inner backend's, for messages

    def __post_init__(self) -> None:
        self.display = self.inner.display

    @property
    def backend(self) -> str:
        """The kind of API the state records: ``gemini`` or ``vertex``."""
        return self.target.kind

    def read(self) -> StateDocument:
        return self._bound(self.inner.read())

    def read_deferred(self) -> StateDocument:
        return self._bound(self.inner.read_deferred())

    def lock(self, *, command: str, timeout: float = 0.0) -> StateLock:
        held = self.inner.lock(command=command, timeout=timeout)
        if not self.moved or command in READ_ONLY_COMMANDS:
            return held
        return _RecordingMove(held=held, owner=self)

    def write(self, doc: StateDocument) -> StateDocument:
        return self._bound(self.inner.write(self._stamped(doc)))

    def write_records(self, doc: StateDocument, changes: Mapping[str, ModelRecord | None]) -> int:
        return self.inner.write_records(self._stamped(doc), changes)

    def check_lock(self) -> None:
        self.inner.check_lock()

    def force_unlock(self, lock_id: str | None) -> str:
        return self.inner.force_unlock(lock_id)

    def push(self, doc: StateDocument, *, force: bool) -> StateDocument:
        return self.inner.push(doc, force=force)

    def close(self) -> None:
        self.inner.close()

    def record_move(self) -> None:
        """Write the new endpoint now if the stored state still names the old one."""
        stored = self.inner.read()
        if stored.models and stored != self._stamped(stored):
            self.inner.write(self._stamped(stored))

    def _bound(self, doc: StateDocument) -> StateDocument:
        check_api(
            doc,
            target=self.target,
            endpoint=self.endpoint,
            moved=self.moved,
            source=self.inner.display,
        )
        return self._stamped(doc)

    def _stamped(self, doc: StateDocument) -> StateDocument:
        current = normalized_endpoint(self.endpoint)
        recorded = None if self.target.kind == GEMINI_BACKEND else self.target.identity
        if doc.backend == self.backend and doc.endpoint == current and doc.target == recorded:
            return doc
        return doc.model_copy(
            update={"backend": self.backend, "endpoint": current, "target": recorded}
        )


def check_api(
    doc: StateDocument, *, target: BackendTarget, endpoint: str, moved: bool, source: str
) -> None:
    """StateError when ``doc`` records another API than ``target`` at ``endpoint``. Pure.

    A state with no models, or none recorded yet, belongs to any API. Another
    backend, or another Vertex AI project or location, is refused even with
    ``moved``: that flag is for an endpoint that moved, and models never move
    between projects.
    """
    if not doc.models:
        return
    check_target(doc, target=target, source=source)
    if moved or doc.endpoint is None or same_api(doc.endpoint, endpoint):
        return
    current = normalized_endpoint(endpoint)
    raise StateError(
        f"the state {source} belongs to the API at {doc.endpoint}, not {current}: "
        f"against another API every model it manages would look deleted",
        hint=(
            f"point --endpoint (or RECONCILER_ENDPOINT) at {doc.endpoint}; or, if the API "
            f"really moved to {current}, rerun with the global option --endpoint-moved "
            f"before the command (the next write records the new endpoint)"
        ),
    )


def check_target(doc: StateDocument, *, target: BackendTarget, source: str) -> None:
    """StateError when ``doc`` has models of another backend, or of another Vertex AI
    project or location, than ``target``. Pure."""
    if not doc.models:
        return
    if doc.backend not in (None, target.kind) or (
        doc.backend != GEMINI_BACKEND and doc.target is not None and doc.target != target.identity
    ):
        raise _other_target(doc, target, source)


def _other_target(doc: StateDocument, target: BackendTarget, source: str) -> StateError:
    """The refusal of a state of another backend, project or location, naming both."""
    recorded = doc.target or doc.backend or GEMINI_BACKEND
    where = "Vertex AI" if recorded == "vertex" else describe_identity(recorded)
    if doc.backend != target.kind:
        return StateError(
            f"the state {source} records models of the {doc.backend} API, not {target.kind} "
            f"(it belongs to {where}, this command to {target.describe()}): against another "
            "backend every model it manages would look deleted",
            hint=f"use the state made for {target.describe()} (--state / RECONCILER_STATE), "
            f"or choose the {doc.backend} backend (--backend, RECONCILER_BACKEND or the "
            "Backend document)",
        )
    return StateError(
        f"the state {source} belongs to {where} ({recorded}), not {target.describe()} "
        f"({target.identity}): against another project or location every model it manages "
        "would look deleted",
        hint="choose the state's project and location (--project/--location, the Backend "
        "document, or GOOGLE_CLOUD_PROJECT/GOOGLE_CLOUD_LOCATION), or use the state made "
        f"for {target.describe()} (--state / RECONCILER_STATE)",
    )


@dataclass
class _RecordingMove:
    """A writer's lock that, when given up, first records the moved endpoint."""

    held: StateLock
    owner: ApiBoundBackend
    info: LockInfo = field(init=False)
    warning: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.info = self.held.info
        self.warning = self.held.warning

    def release(self) -> None:
        try:
            self.owner.record_move()
        except StateError:
            pass  # the lock was lost meanwhile: the next writer records the move
        finally:
            self.held.release()

    def __enter__(self) -> StateLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
