"""One connection to the state database and the workspace's writer lock on it.

The base of ``reconciler.state.postgres.PostgresBackend``, which adds the
document storage. Locking is a session-level advisory lock on a two-integer key
(see ``pg_schema.advisory_key``): the server releases it when the holder's
connection ends, so a killed writer never leaves a stuck lock. The ``locks``
row only describes the holder for messages and ``force-unlock``.

``fence()`` is the SQL condition every write adds: this very session still
holds the advisory lock. A session that was ended (force-unlock, network loss)
and reconnected does not, so its writes match nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from reconciler.errors import StateError, StateLockedError
from reconciler.state.base import (
    LOCK_HINT,
    POLL_INITIAL_SECONDS,
    POLL_MAX_SECONDS,
    LockInfo,
    this_host,
)
from reconciler.state.pg_schema import (
    LostConnectionError,
    advisory_key,
    create_tables,
    parse_location,
    table,
    tables_exist,
)

log = logging.getLogger("reconciler.state")

# After force-unlock ends the holder's session, how long to wait for the
# server to drop its advisory lock before reporting.
TERMINATE_WAIT_SECONDS = 10.0

T = TypeVar("T")


class PostgresLock:
    """A held advisory lock on one workspace."""

    def __init__(self, *, backend: PostgresSession, info: LockInfo, warning: str | None) -> None:
        self._backend = backend
        self.info = info
        self.warning = warning
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._backend._release(self)

    def __enter__(self) -> PostgresLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class PostgresSession:
    """The connection and the advisory lock of one workspace (see the module docstring)."""

    def __init__(
        self,
        uri: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._loc = parse_location(uri)
        self.display = self._loc.display
        self.schema = self._loc.schema
        self.workspace = self._loc.workspace
        self._k1, self._k2 = advisory_key(schema=self.schema, workspace=self.workspace)
        self._clock = clock
        self._sleep = sleep
        self._conn: psycopg.Connection[Any] | None = None
        self._held: PostgresLock | None = None
        self._ready = False
        # Set once this backend has had a session: from then on a failure to
        # connect means the connection was lost mid-run (see ``_connection``).
        self._connected_once = False

    # -- connection ------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """libpq's message on one line (errors are one ``Error:`` line), without the password."""
        if self._loc.password:
            text = text.replace(self._loc.password, "***")
        return " ".join(text.split())

    def _lost(self, exc: Exception) -> LostConnectionError:
        return LostConnectionError(
            f"lost the connection to the state database {self.display}: "
            f"{self._scrub(str(exc)) or type(exc).__name__}; the run stopped; rerun to resume",
            hint="check that the database is reachable; the state is never half-written",
        )

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, or a new one.

        When this run had a connection and it broke, failing to connect again
        is the lost-connection error (the run stops; rerun to resume), not the
        start-up "cannot connect" one: which of several parallel state writes
        notices the loss first must not change what the user is told.
        """
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        with contextlib.suppress(Exception):
            if self._conn is not None:
                self._conn.close()
        self._conn = None
        try:
            self._conn = psycopg.connect(
                self._loc.conninfo, autocommit=True, application_name="reconciler"
            )
        except psycopg.Error as exc:
            if self._connected_once:
                raise self._lost(exc) from None
            raise StateError(
                f"cannot connect to the state database {self.display}: {self._scrub(str(exc))}",
                hint="check the URI, PGPASSWORD or ~/.pgpass, and that the server is running",
            ) from None
        self._connected_once = True
        return self._conn

    @contextlib.contextmanager
    def _guard(self) -> Iterator[psycopg.Connection[Any]]:
        """A live connection; a dropped one becomes a clear StateError."""
        conn = self._connection()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            raise self._lost(exc) from None

    def _t(self, name: str) -> sql.Composed:
        return table(self.schema, name)

    def _tables_exist(self, conn: psycopg.Connection[Any]) -> bool:
        return tables_exist(conn, schema=self.schema)

    def _ensure_schema(self, conn: psycopg.Connection[Any]) -> None:
        if not self._ready:
            create_tables(conn, schema=self.schema, display=self.display)
            self._ready = True

    # -- locking ---------------------------------------------------------

    def _holder_backend(self, conn: psycopg.Connection[Any]) -> int | None:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %s"
            " AND objid::bigint = %s AND objsubid = 2 AND granted",
            [self._k1 & 0xFFFFFFFF, self._k2 & 0xFFFFFFFF],
        ).fetchone()
        return int(row[0]) if row else None

    def _lock_row(self, conn: psycopg.Connection[Any]) -> tuple[LockInfo, int] | None:
        row = conn.execute(
            sql.SQL(
                "SELECT lock_id, pid, host, created_at, command, backend_pid FROM {} WHERE workspace = %s"
            ).format(self._t("locks")),
            [self.workspace],
        ).fetchone()
        if row is None:
            return None
        lock_id, pid, host, created, command, backend_pid = row
        created_text = created.astimezone(UTC).isoformat(timespec="seconds")
        return LockInfo(id=lock_id, pid=pid, host=host, time=created_text, command=command), int(
            backend_pid
        )

    def _try_lock(self, conn: psycopg.Connection[Any], command: str) -> PostgresLock | None:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [self._k1, self._k2]).fetchone()
        if not (got and got[0]):
            return None
        info = LockInfo(
            id=str(uuid.uuid4()),
            pid=os.getpid(),
            host=this_host(),
            time=datetime.now(UTC).isoformat(timespec="seconds"),
            command=command,
        )
        warning = None
        with conn.transaction():
            previous = self._lock_row(conn)
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s").format(self._t("locks")),
                [self.workspace],
            )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, lock_id, backend_pid, pid, host, command)"
                    " VALUES (%s, %s, pg_backend_pid(), %s, %s, %s)"
                ).format(self._t("locks")),
                [self.workspace, info.id, info.pid, info.host, info.command],
            )
        if previous is not None:
            warning = (
                f"took over a stale state lock: its holder pid {previous[0].pid} on host {previous[0].host}"
                f" (reconciler {previous[0].command}, lock id {previous[0].id}) lost its database session"
            )
            log.warning(warning)
        return PostgresLock(backend=self, info=info, warning=warning)

    def _locked_error(self, conn: psycopg.Connection[Any], timeout: float) -> StateLockedError:
        holder = self._holder_backend(conn)
        row = self._lock_row(conn)
        waited = f" (waited {timeout:g}s)" if timeout > 0 else ""
        if row is not None and (holder is None or row[1] == holder):
            return StateLockedError(
                f"state {self.display} is locked by {row[0].describe()}{waited}",
                hint=LOCK_HINT.format(id=row[0].id),
            )
        who = f"database session {holder}" if holder is not None else "another session"
        return StateLockedError(
            f"state {self.display} is locked by {who}{waited}", hint=LOCK_HINT.format(id="LOCK_ID")
        )

    def lock(self, *, command: str, timeout: float = 0.0) -> PostgresLock:
        if self._held is not None:
            raise StateError(f"state {self.display} is already locked by this run")
        deadline = self._clock() + max(timeout, 0.0)
        delay = POLL_INITIAL_SECONDS
        with self._guard() as conn:
            self._ensure_schema(conn)
            while True:
                held = self._try_lock(conn, command)
                if held is not None:
                    self._held = held
                    try:
                        self._acquired(conn)
                    except BaseException:
                        held.release()
                        raise
                    return held
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise self._locked_error(conn, timeout)
                self._sleep(min(delay, remaining))
                delay = min(delay * 2, POLL_MAX_SECONDS)

    def _acquired(self, conn: psycopg.Connection[Any]) -> None:
        """Called once the lock is taken (the backend folds a crashed run's journal in)."""

    def _releasing(self, conn: psycopg.Connection[Any]) -> None:
        """Called just before the lock is given up, while this session still holds it."""

    def _release(self, held: PostgresLock) -> None:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if self._held is held:
                self._held = None
            return  # the session is gone, and the server dropped its lock with it
        try:
            self._releasing(conn)
        finally:
            if self._held is held:
                self._held = None
        with contextlib.suppress(psycopg.Error):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND lock_id = %s").format(
                    self._t("locks")
                ),
                [self.workspace, held.info.id],
            )
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", [self._k1, self._k2])

    def _fence(self) -> sql.Composable:
        """The SQL condition "this session holds the workspace's advisory lock"."""
        return sql.SQL(
            "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND classid::bigint = {} AND objid::bigint = {} AND objsubid = 2 AND granted)"
        ).format(sql.Literal(self._k1 & 0xFFFFFFFF), sql.Literal(self._k2 & 0xFFFFFFFF))

    def _reconnecting(self, attempt: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``attempt``; after a dropped session, reconnect and run it once more.

        Reads need no lock, so a new session serves them. A write in a new
        session no longer holds the advisory lock, so the fence refuses it with
        a StateConflictError that says so. Only when the server cannot be
        reached again does the lost connection itself become the error.
        """
        try:
            with self._guard() as conn:
                return attempt(conn)
        except LostConnectionError as exc:
            lost = exc
        try:
            self._connection()
        except StateError:
            raise lost from None
        with self._guard() as conn:
            return attempt(conn)

    def force_unlock(self, lock_id: str | None) -> str:
        with self._guard() as conn:
            if not self._tables_exist(conn):
                raise StateError(f"state {self.display} is not locked")
            row = self._lock_row(conn)
            holder = self._holder_backend(conn)
            if row is None and holder is None:
                raise StateError(f"state {self.display} is not locked")
            if lock_id is not None and (row is None or row[0].id != lock_id):
                current = (
                    f"it is held by {row[0].describe()}"
                    if row
                    else "the holder recorded no lock id"
                )
                raise StateError(
                    f"lock id {lock_id} does not match the lock on state {self.display}: {current}",
                    hint=f"run `reconciler force-unlock {row[0].id}` to remove that lock"
                    if row
                    else "run `reconciler force-unlock` without a lock id once its holder is stopped",
                )
            if lock_id is None and holder is not None:
                who = row[0].describe() if row else f"database session {holder}"
                raise StateError(
                    f"state {self.display} is locked by {who}, whose database session is still open",
                    hint=f"make sure it is stopped, then run `reconciler force-unlock {row[0].id if row else 'LOCK_ID'}`",
                )
            assert row is not None
            info, backend_pid = row
            ended = ""
            if holder is not None and holder == backend_pid:
                try:
                    conn.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
                except psycopg.errors.InsufficientPrivilege:
                    raise StateError(
                        f"not allowed to end the lock holder's database session {backend_pid}",
                        hint="run force-unlock as the role that holds the lock, or a member of pg_signal_backend",
                    ) from None
                deadline = self._clock() + TERMINATE_WAIT_SECONDS
                while self._holder_backend(conn) == backend_pid and self._clock() < deadline:
                    self._sleep(POLL_INITIAL_SECONDS)
                ended = f"; ended its database session {backend_pid}"
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND lock_id = %s").format(
                    self._t("locks")
                ),
                [self.workspace, info.id],
            )
        return f"Removed lock {info.id} held by pid {info.pid} on host {info.host} (reconciler {info.command}){ended}."

    def close(self) -> None:
        if self._held is not None:
            self._held.release()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        self._connected_once = False
