"""What every state backend offers, and the rules they share.

A backend stores one ``StateDocument`` and one writer lock. Readers (plan,
inventory) call ``read()`` without the lock; writers (apply, destroy, import,
``state rm``/``push``) hold ``lock()`` for their whole run and call
``write_records()`` many times (write-ahead intents: one journal entry each) or
``write()`` (the whole document). Every write is a compare-and-swap on the
serial, so a writer that lost its lock or read an old document is refused
instead of overwriting someone else's work.

The serialisation and the push rules live here so that the file and the
PostgreSQL backends cannot drift apart.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from pydantic import ValidationError

from reconciler.applied import STATE_FORMAT_VERSION, ModelRecord, StateDocument
from reconciler.errors import StateConflictError, StateCorruptError, StateError

# How long a waiting writer sleeps between attempts: short at first (a lock is
# often released within milliseconds), never more than a second so a
# --lock-timeout is honoured closely.
POLL_INITIAL_SECONDS = 0.05
POLL_MAX_SECONDS = 1.0

# Serials: every write adds one. A pushed serial must leave room to grow and
# stay exact in every JSON reader (2**53); a write never stores one past
# MAX_SERIAL, far below PostgreSQL's bigint limit (2**63 - 1), so a state that
# somehow got there is refused at its first write -- before any request --
# rather than failing half-way through an apply.
MAX_PUSHED_SERIAL = 2**53
MAX_SERIAL = 2**62

LOCK_HINT = "wait for it to finish, pass --lock-timeout DURATION to wait, or run `reconciler force-unlock {id}` if it is stuck"


def this_host() -> str:
    """The host name recorded in a lock (stale detection compares it)."""
    return socket.gethostname()


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: enough for a person to find and judge the holder."""

    id: str
    pid: int
    host: str
    time: str  # ISO 8601, UTC
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host} since {self.time} (reconciler {self.command}), lock id {self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pid": self.pid,
            "host": self.host,
            "time": self.time,
            "command": self.command,
        }

    @classmethod
    def from_json(cls, data: object) -> LockInfo | None:
        """The lock record, or None when it is not one (empty or garbled lock file)."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                id=str(data["id"]),
                pid=int(data["pid"]),
                host=str(data["host"]),
                time=str(data["time"]),
                command=str(data["command"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class StateLock(Protocol):
    """A held writer lock; leaving the ``with`` block (or ``release()``) gives it up.

    ``warning`` says what happened when a stale lock was taken over, for the CLI
    to print as ``Warning: ...``; it is None otherwise.
    """

    info: LockInfo
    warning: str | None

    def release(self) -> None: ...

    def __enter__(self) -> StateLock: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class StateBackend(Protocol):
    """Storage for the state document and its writer lock (file or PostgreSQL)."""

    display: str  # for messages: a path, or a PostgreSQL URI without its password

    def read(self) -> StateDocument:
        """The stored document; no state yet -> a new empty one (serial 0), nothing written."""
        ...

    def read_deferred(self) -> StateDocument:
        """``read()`` for a plan, which reads and never writes: the same document, but a
        backend may keep its records as stored text (``reconciler.recorded.StoredRecords``)
        to be validated when first used, or settled by their text without being built.
        Never to be written back or pushed."""
        ...

    def lock(self, *, command: str, timeout: float = 0.0) -> StateLock:
        """Take the writer lock now, or within ``timeout`` seconds; else StateLockedError."""
        ...

    def write(self, doc: StateDocument) -> StateDocument:
        """Store ``doc`` (read at ``doc.serial``) as serial+1; needs the lock; CAS on the serial."""
        ...

    def write_records(self, doc: StateDocument, changes: Mapping[str, ModelRecord | None]) -> int:
        """Store ``doc`` (read at ``doc.serial``) with the model records ``changes``
        replaced (None: removed) as serial+1, and return that serial.

        The same rules as ``write``; the backend stores only what changed (a
        journal entry), so the cost does not grow with the number of models.
        ``doc`` itself is not changed.
        """
        ...

    def check_lock(self) -> None:
        """StateConflictError unless this run still holds the lock (not force-unlocked).

        Called before a request that changes live models without a state write
        first (update, delete): a run whose lock was taken away sends nothing more.
        """
        ...

    def force_unlock(self, lock_id: str | None) -> str:
        """Remove a stuck lock; returns what was removed, for the user."""
        ...

    def push(self, doc: StateDocument, *, force: bool) -> StateDocument:
        """Replace the stored state with ``doc`` (same lineage, newer serial unless ``force``)."""
        ...

    def close(self) -> None: ...


def dump_document(doc: StateDocument) -> str:
    """The canonical JSON text of a state: pretty, in a fixed order so diffs stay small.

    Fields come in the order the document defines them (formatVersion, lineage,
    serial, then the models; per model its name first), models sorted by name.
    Serialised by pydantic's compiled serializer: a 10,000-model state is
    written several times faster than by the standard library's indenting
    encoder, and every apply writes the state at least twice.
    """
    names = list(doc.models)
    if names != sorted(names):
        doc = doc.model_copy(update={"models": dict(sorted(doc.models.items()))})
    return doc.model_dump_json(indent=2) + "\n"


def parse_document(data: object, *, source: str) -> StateDocument:
    """A state document from decoded JSON, or StateCorruptError naming ``source`` and the fault.

    A newer ``formatVersion`` is refused rather than read partially: writing it
    back would silently drop whatever the newer version added.
    """
    hint = f"restore {source}.backup or push a good copy with `reconciler state push --force FILE`"
    if not isinstance(data, dict):
        raise StateCorruptError(f"state {source} is not a JSON object", hint=hint)
    version = data.get("formatVersion")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateCorruptError(f"state {source} has no valid formatVersion", hint=hint)
    if not isinstance(data.get("lineage"), str):
        raise StateCorruptError(f"state {source} has no lineage", hint=hint)
    if version > STATE_FORMAT_VERSION:
        raise StateCorruptError(
            f"state {source} has formatVersion {version}, newer than this reconciler understands"
            f" ({STATE_FORMAT_VERSION}); it was left untouched",
            hint="upgrade reconciler",
        )
    try:
        return StateDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StateCorruptError(
            f"state {source} is invalid at {where}: {first['msg']} ({exc.error_count()} problem(s))",
            hint=hint,
        ) from exc


def parse_text(text: str, *, source: str) -> StateDocument:
    """``parse_document`` for raw JSON text."""
    try:
        # Fast path: pydantic parses and validates in one pass (a 10,000-model
        # state reads in a fraction of the time); anything unusual -- a newer
        # format, a damaged file -- goes the careful way below for its message.
        doc = StateDocument.model_validate_json(text)
        # Defaults must not stand in for identity: JSON without a formatVersion
        # or a lineage (``{}``, a manifest converted to JSON) is not a state.
        if doc.formatVersion == STATE_FORMAT_VERSION and {"formatVersion", "lineage"} <= (
            doc.model_fields_set
        ):
            return doc
    except ValidationError:
        pass
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateCorruptError(
            # (some messages end in "at" already: "Invalid control character at")
            f"state {source} is not valid JSON: {exc.msg.removesuffix(' at')} at line {exc.lineno}"
            f" column {exc.colno}",
            hint=f"restore {source}.backup or push a good copy with `reconciler state push --force FILE`",
        ) from exc
    return parse_document(data, source=source)


def next_serial(doc: StateDocument, *, display: str) -> int:
    """The serial a write of ``doc`` stores, or StateError when it would leave no room. Pure."""
    if doc.serial + 1 > MAX_SERIAL:
        raise StateError(
            f"state {display} has serial {doc.serial}, too close to the largest serial a state"
            " can store; nothing was written",
            hint="pull it (`reconciler state pull > state.json`), set its serial to a small number"
            " and push it back with `reconciler state push --force state.json`",
        )
    return doc.serial + 1


def pushed_document(
    *, current: StateDocument, exists: bool, doc: StateDocument, force: bool
) -> StateDocument:
    """The document a push stores, or StateConflictError. Pure.

    Without ``force`` the target must be empty or of the same lineage, and the
    pushed serial must be higher (an older copy would undo someone's writes).
    The stored serial always moves forward, even on a forced push of an older
    copy, so a saved plan made against the replaced state is still detected
    as stale. A serial past ``MAX_PUSHED_SERIAL`` is refused (it leaves no
    room to grow); a forced push onto a stored serial past it (stored before
    this limit existed) resets the serial to the pushed one.
    """
    if doc.serial > MAX_PUSHED_SERIAL:
        raise StateConflictError(
            f"cannot push: serial {doc.serial} leaves no room to grow (the largest serial a push"
            f" accepts is {MAX_PUSHED_SERIAL})",
            hint="set the file's serial to a small number (it counts writes) and push again",
        )
    if exists and force and current.serial >= MAX_PUSHED_SERIAL:
        return doc.model_copy(update={"serial": max(doc.serial, 1)})
    if not force and exists:
        if doc.lineage != current.lineage:
            raise StateConflictError(
                f"cannot push: lineage {doc.lineage} differs from the stored state's lineage {current.lineage}",
                hint="this is a different state; use --force to replace it anyway",
            )
        if doc.serial <= current.serial:
            raise StateConflictError(
                f"cannot push: serial {doc.serial} is not newer than the stored serial {current.serial}",
                hint="pull the current state first, or use --force to replace it anyway",
            )
    serial = max(doc.serial, current.serial + 1) if exists else max(doc.serial, 1)
    return doc.model_copy(update={"serial": serial})
