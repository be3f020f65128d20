"""PostgreSQL state writes as journal rows: constant cost, folded in at the end, old databases kept."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from reconciler.applied import ModelRecord, StateDocument
from reconciler.spec import AppliedSpec, DatasetRef
from reconciler.state.postgres import PostgresBackend
from tests.support.postgres import PostgresServer
from tests.support.servers import run_cli

pytestmark = pytest.mark.postgres

SPEC = AppliedSpec(
    baseModel="models/gemini-1.5-flash-001-tuning",
    dataset=DatasetRef(name="d", hash="sha256:ab", examples=2),
)


def record(name: str) -> ModelRecord:
    return ModelRecord(name=f"tunedModels/{name}", applied=SPEC)


def admin(pg_server: PostgresServer) -> psycopg.Connection[Any]:
    return psycopg.connect(
        f"host={pg_server.socket_dir} port={pg_server.port} user=postgres dbname=postgres",
        autocommit=True,
    )


def read(uri: str) -> StateDocument:
    backend = PostgresBackend(uri)
    try:
        return backend.read()
    finally:
        backend.close()


def schema_of(uri: str) -> str:
    return uri.split("schema=")[1].split("&")[0]


def test_writes_are_journal_rows_until_the_run_ends(pg_server: PostgresServer, pg_uri: str) -> None:
    backend = PostgresBackend(pg_uri)
    schema = schema_of(pg_uri)
    with admin(pg_server) as conn, backend.lock(command="apply"):
        doc = backend.write(StateDocument())
        for name in ("a", "b", "c"):
            backend.write_records(doc, {name: record(name)})
            doc = backend.read()
        serial, snapshot = conn.execute(
            f'SELECT serial, document FROM "{schema}".states'
        ).fetchone()  # type: ignore[misc]
        assert serial == 4 and snapshot["serial"] == 1 and snapshot["models"] == {}
        rows = conn.execute(
            f'SELECT serial, models FROM "{schema}".state_journal ORDER BY serial'
        ).fetchall()
        assert [r[0] for r in rows] == [1, 2, 3] and list(rows[1][1]) == ["b"]
        assert sorted(read(pg_uri).models) == ["a", "b", "c"]
    # Giving the lock up folded the journal into the document, with a history row.
    with admin(pg_server) as conn:
        serial, snapshot = conn.execute(
            f'SELECT serial, document FROM "{schema}".states'
        ).fetchone()  # type: ignore[misc]
        assert (
            serial == 4
            and snapshot["serial"] == 4
            and sorted(snapshot["models"]) == ["a", "b", "c"]
        )
        assert conn.execute(f'SELECT count(*) FROM "{schema}".state_journal').fetchone() == (0,)
    assert [s for s, _ in backend.history()] == [1, 4]
    backend.close()


def test_a_crashed_run_s_journal_is_read_and_folded_in_by_the_next_writer(
    pg_server: PostgresServer, pg_uri: str
) -> None:
    backend = PostgresBackend(pg_uri)
    with backend.lock(command="apply"):
        doc = backend.write(StateDocument())
        backend.write_records(doc, {"a": record("a")})
        # The run dies with its connection: no release, no folding in.
        assert backend._conn is not None
        backend._conn.close()
    listed = run_cli("--state", pg_uri, "state", "list")
    assert listed.returncode == 0 and listed.stdout.split()[0] == "a"
    assert run_cli("--state", pg_uri, "state", "rm", "a").returncode == 0
    with admin(pg_server) as conn:
        schema = schema_of(pg_uri)
        assert conn.execute(f'SELECT count(*) FROM "{schema}".state_journal').fetchone() == (0,)
    assert read(pg_uri).models == {}


def test_a_database_from_before_the_journal_keeps_working(
    pg_server: PostgresServer, pg_uri: str
) -> None:
    """Tables as earlier versions made them (no state_journal), one state in them."""
    schema = schema_of(pg_uri)
    doc = StateDocument(serial=7, models={"old": record("old")})
    with admin(pg_server) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".states (workspace text PRIMARY KEY, lineage text NOT NULL,'
            " serial bigint NOT NULL, format_version integer NOT NULL, document jsonb NOT NULL,"
            " updated_by text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            f'CREATE TABLE "{schema}".locks (workspace text PRIMARY KEY, lock_id text NOT NULL,'
            " backend_pid integer NOT NULL, pid integer NOT NULL, host text NOT NULL,"
            " command text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            f'CREATE TABLE "{schema}".state_history (workspace text NOT NULL, serial bigint NOT NULL,'
            " lineage text NOT NULL, document jsonb NOT NULL,"
            " written_at timestamptz NOT NULL DEFAULT now(), written_by text NOT NULL,"
            " PRIMARY KEY (workspace, serial))"
        )
        conn.execute(
            f'INSERT INTO "{schema}".states VALUES (%s, %s, 7, 1, %s, %s)',
            ["default", doc.lineage, json.dumps(doc.model_dump(mode="json")), "old"],
        )
    assert run_cli("--state", pg_uri, "state", "list").stdout.split()[0] == "old"
    backend = PostgresBackend(pg_uri)
    with backend.lock(command="apply"):
        current = backend.read()
        assert backend.write_records(current, {"new": record("new")}) == 8
    again = read(pg_uri)
    assert (again.serial, sorted(again.models), again.lineage) == (8, ["new", "old"], doc.lineage)
    backend.close()


def test_a_journal_with_a_missing_row_is_refused(pg_server: PostgresServer, pg_uri: str) -> None:
    backend = PostgresBackend(pg_uri)
    with backend.lock(command="apply"):
        doc = backend.write(StateDocument())
        for name in ("a", "b", "c"):
            backend.write_records(doc, {name: record(name)})
            doc = backend.read()
        assert backend._conn is not None
        backend._conn.close()  # killed: the journal stays
    with admin(pg_server) as conn:
        conn.execute(f'DELETE FROM "{schema_of(pg_uri)}".state_journal WHERE serial = 2')
    result = run_cli("--state", pg_uri, "state", "list")
    assert result.returncode != 0
    assert "journal row for serial 3 does not follow serial 2" in result.stderr
    assert "Traceback" not in result.stderr
