"""Shared state in PostgreSQL: one row per workspace, a session-held lock, fenced writes.

``--state postgresql://user@host/db?schema=reconciler&workspace=default``. The
``schema`` and ``workspace`` query parameters are ours and are removed before
the URI reaches libpq; everything else (host, sslmode, ...) is libpq's. The
password comes from the URI, libpq's environment (PGPASSWORD) or ~/.pgpass and
is never shown: ``display`` drops it, and so does every error message.

Tables (created on first write-side use, ``IF NOT EXISTS``)::

    states         workspace PK, lineage, serial, format_version, document jsonb, updated_by, updated_at
    locks          workspace PK, lock_id, backend_pid, pid, host, command, created_at
    state_history  (workspace, serial) PK, lineage, document, written_at, written_by

Locking is a session-level advisory lock on a two-integer key (see
``advisory_key``): the server releases it when the holder's connection ends,
so a killed writer never leaves a stuck lock. The ``locks`` row only describes
the holder for messages and ``force-unlock``.

Every write is one statement that compares-and-swaps on the serial *and*
checks in ``pg_locks`` that this very session still holds the advisory lock,
with the history insert in the same transaction. A writer whose session was
ended (force-unlock, network loss) and that reconnects does not hold the lock
in its new session, so its write matches no row and it stops without damage.
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
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from reconciler.applied import STATE_FORMAT_VERSION, StateDocument
from reconciler.errors import StateConflictError, StateCorruptError, StateError, StateLockedError
from reconciler.state.base import (
    LOCK_HINT,
    POLL_INITIAL_SECONDS,
    POLL_MAX_SECONDS,
    LockInfo,
    parse_document,
    pushed_document,
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


class PostgresLock:
    """A held advisory lock on one workspace."""

    def __init__(self, *, backend: PostgresBackend, info: LockInfo, warning: str | None) -> None:
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


class PostgresBackend:
    """State of one workspace in a PostgreSQL schema (see the module docstring)."""

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

    # -- connection ------------------------------------------------------

    def _scrub(self, text: str) -> str:
        if self._loc.password:
            text = text.replace(self._loc.password, "***")
        return text.strip()

    def _lost(self, exc: Exception) -> LostConnectionError:
        return LostConnectionError(
            f"lost the connection to the state database {self.display}: "
            f"{self._scrub(str(exc)) or type(exc).__name__}; the run stopped; rerun to resume",
            hint="check that the database is reachable; the state is never half-written",
        )

    def _connection(self) -> psycopg.Connection[Any]:
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
            raise StateError(
                f"cannot connect to the state database {self.display}: {self._scrub(str(exc))}",
                hint="check the URI, PGPASSWORD or ~/.pgpass, and that the server is running",
            ) from None
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

    # -- reading ---------------------------------------------------------

    def _load(self, conn: psycopg.Connection[Any]) -> tuple[StateDocument, bool]:
        if not self._ready and not self._tables_exist(conn):
            return StateDocument(), False
        row = conn.execute(
            sql.SQL("SELECT serial, format_version, document FROM {} WHERE workspace = %s").format(
                self._t("states")
            ),
            [self.workspace],
        ).fetchone()
        if row is None:
            return StateDocument(), False
        serial, _version, document = row
        source = f"{self.display} (workspace {self.workspace})"
        doc = parse_document(document, source=source)
        if doc.serial != serial:
            raise StateCorruptError(
                f"state {source} has serial {doc.serial} in its document but {serial} in its row"
            )
        return doc, True

    def read(self) -> StateDocument:
        return self._reconnecting(lambda conn: self._load(conn)[0])

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
                    return held
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise self._locked_error(conn, timeout)
                self._sleep(min(delay, remaining))
                delay = min(delay * 2, POLL_MAX_SECONDS)

    def _release(self, held: PostgresLock) -> None:
        if self._held is held:
            self._held = None
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            return  # the session is gone, and the server dropped its lock with it
        with contextlib.suppress(psycopg.Error):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND lock_id = %s").format(
                    self._t("locks")
                ),
                [self.workspace, held.info.id],
            )
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", [self._k1, self._k2])

    # -- writing ---------------------------------------------------------

    def _fence(self) -> sql.Composable:
        return sql.SQL(
            "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND classid::bigint = {} AND objid::bigint = {} AND objsubid = 2 AND granted)"
        ).format(sql.Literal(self._k1 & 0xFFFFFFFF), sql.Literal(self._k2 & 0xFFFFFFFF))

    def _store(
        self, conn: psycopg.Connection[Any], *, expected: StateDocument | None, doc: StateDocument
    ) -> bool:
        """One fenced compare-and-swap plus its history row; False when it matched nothing."""
        held = self._held
        by = (
            f"reconciler {held.info.command} pid {held.info.pid} on {held.info.host}"
            if held
            else "reconciler"
        )
        body = Jsonb(doc.model_dump(mode="json"))
        with conn.transaction():
            if expected is None:
                query = sql.SQL(
                    "INSERT INTO {} (workspace, lineage, serial, format_version, document, updated_by)"
                    " SELECT %s, %s, %s, %s, %s, %s WHERE {} ON CONFLICT (workspace) DO NOTHING RETURNING serial"
                ).format(self._t("states"), self._fence())
                params: list[Any] = [
                    self.workspace,
                    doc.lineage,
                    doc.serial,
                    doc.formatVersion,
                    body,
                    by,
                ]
            else:
                query = sql.SQL(
                    "UPDATE {} SET lineage = %s, serial = %s, format_version = %s, document = %s,"
                    " updated_by = %s, updated_at = now()"
                    " WHERE workspace = %s AND serial = %s AND lineage = %s AND {} RETURNING serial"
                ).format(self._t("states"), self._fence())
                params = [doc.lineage, doc.serial, doc.formatVersion, body, by]
                params += [self.workspace, expected.serial, expected.lineage]
            if conn.execute(query, params).fetchone() is None:
                return False
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, serial, lineage, document, written_by) VALUES (%s, %s, %s, %s, %s)"
                ).format(self._t("state_history")),
                [self.workspace, doc.serial, doc.lineage, body, by],
            )
        return True

    def _refused(self, conn: psycopg.Connection[Any], doc: StateDocument) -> StateConflictError:
        if self._holder_backend(conn) != conn.info.backend_pid:
            return StateConflictError(
                f"this run no longer holds the lock on state {self.display} (its database session ended or"
                " it was force-unlocked); the run stopped without writing",
                hint="rerun to continue from the current state",
            )
        current, _ = self._load(conn)
        return StateConflictError(
            f"state {self.display} changed since it was read (read serial {doc.serial}, stored serial"
            f" {current.serial}); the run stopped without writing",
            hint="rerun to plan against the current state",
        )

    def _reconnecting(
        self, attempt: Callable[[psycopg.Connection[Any]], StateDocument]
    ) -> StateDocument:
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

    def _fenced(self, attempt: Callable[[psycopg.Connection[Any]], StateDocument]) -> StateDocument:
        if self._held is None:
            raise StateError(f"writing state {self.display} needs the state lock; none is held")
        return self._reconnecting(attempt)

    def write(self, doc: StateDocument) -> StateDocument:
        def attempt(conn: psycopg.Connection[Any]) -> StateDocument:
            self._ensure_schema(conn)
            stored = doc.model_copy(update={"serial": doc.serial + 1})
            expected = doc if doc.serial > 0 else None
            if not self._store(conn, expected=expected, doc=stored):
                raise self._refused(conn, doc)
            return stored

        return self._fenced(attempt)

    def push(self, doc: StateDocument, *, force: bool) -> StateDocument:
        own = self._held is None
        held = self.lock(command="state push") if own else self._held
        try:

            def attempt(conn: psycopg.Connection[Any]) -> StateDocument:
                try:
                    current, exists = self._load(conn)
                except StateCorruptError:
                    if not force:
                        raise
                    row = conn.execute(
                        sql.SQL("SELECT serial, lineage FROM {} WHERE workspace = %s").format(
                            self._t("states")
                        ),
                        [self.workspace],
                    ).fetchone()
                    assert row is not None
                    current, exists = StateDocument(serial=row[0], lineage=row[1]), True
                stored = pushed_document(current=current, exists=exists, doc=doc, force=force)
                if not self._store(conn, expected=current if exists else None, doc=stored):
                    raise self._refused(conn, current)
                return stored

            return self._fenced(attempt)
        finally:
            if own and held is not None:
                held.release()

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
                    f"lock id {lock_id} does not match the lock on state {self.display}: {current}"
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

    def history(self) -> list[tuple[int, str]]:
        """(serial, lineage) of every stored version of this workspace, oldest first."""
        with self._guard() as conn:
            if not self._tables_exist(conn):
                return []
            rows = conn.execute(
                sql.SQL(
                    "SELECT serial, lineage FROM {} WHERE workspace = %s ORDER BY serial"
                ).format(self._t("state_history")),
                [self.workspace],
            ).fetchall()
        return [(int(s), str(lin)) for s, lin in rows]


__all__ = [
    "STATE_FORMAT_VERSION",
    "LostConnectionError",
    "PostgresBackend",
    "PostgresLock",
    "advisory_key",
    "parse_location",
]
