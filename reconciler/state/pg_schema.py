"""Where shared state lives in PostgreSQL: the URI, the advisory-lock key, the tables.

Helpers for ``reconciler.state.pg_session`` (the connection and the lock) and
``reconciler.state.postgres`` (the document).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg import sql

from reconciler.errors import StateError


class LostConnectionError(StateError):
    """The state database connection dropped mid-run (the server also dropped our lock)."""


DEFAULT_SCHEMA = "reconciler"
DEFAULT_WORKSPACE = "default"
SCHEMA_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Concurrent first use can race on CREATE ... IF NOT EXISTS (the catalog's
# unique index fires before IF NOT EXISTS sees the other session's row); a
# retry then finds the object and moves on.
CREATE_ATTEMPTS = 5


def advisory_key(*, schema: str, workspace: str) -> tuple[int, int]:
    """The (k1, k2) advisory-lock key of one workspace. Pure.

    k1 is a hash of ``"reconciler:" + schema`` and k2 of the workspace (with the
    schema), both signed 32-bit. Other tools mostly use the one-bigint form
    (``pg_advisory_lock(bigint)``), which lives in a separate key space from the
    two-int form (``objsubid`` 1 vs 2 in ``pg_locks``); a two-int user would
    have to hit our 64-bit hash by accident. Different workspaces get
    different k2 (a 2**-32 chance of sharing one), so they never wait for each
    other, and there is no global lock at all.
    """

    def int32(text: str) -> int:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big", signed=True)

    return int32(f"reconciler:{schema}"), int32(f"reconciler:{schema}:workspace:{workspace}")


@dataclass(frozen=True)
class PostgresLocation:
    conninfo: str  # what libpq gets (our parameters removed)
    schema: str
    workspace: str
    display: str  # conninfo without the password, plus our parameters
    password: str | None


def _join(scheme: str, netloc: str, path: str, params: list[tuple[str, str]]) -> str:
    # urlunsplit would drop the empty host of "postgresql:///db?host=/socket/dir".
    query = urlencode(params, safe="/:")
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def parse_location(uri: str) -> PostgresLocation:
    """Split a ``postgresql://`` URI into libpq's part and ours. Pure."""
    parts = urlsplit(uri)
    params = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in params if k in ("schema", "workspace")}
    theirs = [(k, v) for k, v in params if k not in ("schema", "workspace")]
    for key in ("schema", "workspace"):
        if key in ours and not ours[key]:
            # `workspace=$ENV` with $ENV unset must not quietly mean the default one.
            raise StateError(
                f"empty {key}= in the state URI",
                hint=f"give a {key} name, or leave the parameter out for {key}={DEFAULT_SCHEMA if key == 'schema' else DEFAULT_WORKSPACE}",
            )
    schema = ours.get("schema") or DEFAULT_SCHEMA
    workspace = ours.get("workspace") or DEFAULT_WORKSPACE
    if not SCHEMA_PATTERN.match(schema):
        raise StateError(
            f"invalid schema {schema!r} in the state URI",
            hint="use letters, digits and underscores, starting with a letter",
        )
    conninfo = _join(parts.scheme, parts.netloc, parts.path, theirs)
    password = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostpart = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user, password = userinfo.split(":", 1)
            netloc = f"{user}@{hostpart}"
    for k, v in theirs:
        if k == "password":
            password = v
    shown = [(k, v) for k, v in theirs if k != "password"] + [
        ("schema", schema),
        ("workspace", workspace),
    ]
    display = _join(parts.scheme, netloc, parts.path, shown)
    return PostgresLocation(conninfo, schema, workspace, display, password or None)


def table(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def tables_exist(conn: psycopg.Connection[Any], *, schema: str) -> bool:
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL"
        " AND to_regclass(%s) IS NOT NULL",
        [f'"{schema}".states', f'"{schema}".locks', f'"{schema}".state_history'],
    ).fetchone()
    return bool(row and row[0])


def journal_exists(conn: psycopg.Connection[Any], *, schema: str) -> bool:
    """Whether the ``state_journal`` table exists (databases made by older versions lack it)."""
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".state_journal']
    ).fetchone()
    return bool(row and row[0])


def create_tables(conn: psycopg.Connection[Any], *, schema: str, display: str) -> None:
    """Create the schema and tables unless they exist; safe when many writers start at once.

    Existing tables are detected first, so a role without CREATE rights works
    on tables an administrator made.
    """
    if tables_exist(conn, schema=schema) and journal_exists(conn, schema=schema):
        return
    statements = [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (workspace text PRIMARY KEY, lineage text NOT NULL,"
            " serial bigint NOT NULL, format_version integer NOT NULL, document jsonb NOT NULL,"
            " updated_by text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
        ).format(table(schema, "states")),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (workspace text PRIMARY KEY, lock_id text NOT NULL,"
            " backend_pid integer NOT NULL, pid integer NOT NULL, host text NOT NULL,"
            " command text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        ).format(table(schema, "locks")),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (workspace text NOT NULL, serial bigint NOT NULL,"
            " lineage text NOT NULL, document jsonb NOT NULL,"
            " written_at timestamptz NOT NULL DEFAULT now(), written_by text NOT NULL,"
            " PRIMARY KEY (workspace, serial))"
        ).format(table(schema, "state_history")),
        # One row per state write since the document was last rewritten: the
        # changed model records (null: removed) and the document's own fields
        # (all but serial and models), turning ``serial`` into serial+1.
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (workspace text NOT NULL, serial bigint NOT NULL,"
            " lineage text NOT NULL, fields jsonb NOT NULL, models jsonb NOT NULL,"
            " written_at timestamptz NOT NULL DEFAULT now(), written_by text NOT NULL,"
            " PRIMARY KEY (workspace, serial))"
        ).format(table(schema, "state_journal")),
    ]
    for statement in statements:
        for attempt in range(CREATE_ATTEMPTS):
            try:
                conn.execute(statement)
                break
            except (
                psycopg.errors.UniqueViolation,
                psycopg.errors.DuplicateObject,
                psycopg.errors.DuplicateSchema,
                psycopg.errors.DuplicateTable,
            ) as exc:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise StateError(
                        f"cannot create the state tables in {display}: {exc}"
                    ) from None
