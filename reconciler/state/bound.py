"""A state backend bound to one tuning API: it refuses a state recorded for another.

The state records which API its models live in (``backend`` and ``endpoint``).
Planning a state against another API, say the real one with a forgotten
``RECONCILER_ENDPOINT`` pointing at an emulator, would call every managed model
"deleted outside the reconciler" and plan to recreate them all. So every read
through this backend checks the recorded API first, and every document it hands
out carries the current one, so the next write records it (a state written
before these fields existed adopts the endpoint then).

When the API really moved (a new hostname, a proxy), the user says so
(``--endpoint-moved``): the state is then used there, and a command that writes
(apply, destroy, import, wait) records the new endpoint before it gives up the
lock, even when it had nothing else to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

from reconciler.applied import ModelRecord, StateDocument, normalized_endpoint, same_api
from reconciler.errors import StateError
from reconciler.state.base import LockInfo, StateBackend, StateLock

READ_ONLY_COMMANDS = frozenset({"plan"})  # they take the lock to read, never write


@dataclass
class ApiBoundBackend:
    """``inner`` (a file or PostgreSQL backend), checked against and stamped with one API."""

    inner: StateBackend
    backend: str
    endpoint: str
    moved: bool = False
    display: str = field(init=False)  # the inner backend's, for messages

    def __post_init__(self) -> None:
        self.display = self.inner.display

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
        if stored.models and stored.endpoint != normalized_endpoint(self.endpoint):
            self.inner.write(self._stamped(stored))

    def _bound(self, doc: StateDocument) -> StateDocument:
        check_api(
            doc,
            backend=self.backend,
            endpoint=self.endpoint,
            moved=self.moved,
            source=self.inner.display,
        )
        return self._stamped(doc)

    def _stamped(self, doc: StateDocument) -> StateDocument:
        current = normalized_endpoint(self.endpoint)
        if doc.backend == self.backend and doc.endpoint == current:
            return doc
        return doc.model_copy(update={"backend": self.backend, "endpoint": current})


def check_api(doc: StateDocument, *, backend: str, endpoint: str, moved: bool, source: str) -> None:
    """StateError when ``doc`` records another API than ``backend`` at ``endpoint``. Pure.

    A state with no models, or none recorded yet, belongs to any API.
    """
    if moved or not doc.models:
        return
    if doc.backend not in (None, backend):
        raise StateError(
            f"the state {source} records models of the {doc.backend} API, not {backend}",
            hint="use the state made for this API (--state / RECONCILER_STATE)",
        )
    if doc.endpoint is None or same_api(doc.endpoint, endpoint):
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
