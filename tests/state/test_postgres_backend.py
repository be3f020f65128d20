"""Shared state on a real PostgreSQL server: advisory lock, fenced writes, history, workspaces."""

from __future__ import annotations

import signal
import socket
import threading
import time
from typing import Any

import psycopg
import pytest

from reconciler.applied import ModelRecord, StateDocument
from reconciler.errors import StateConflictError, StateError, StateLockedError
from reconciler.state import open_backend
from reconciler.state.file import FileBackend
from reconciler.state.postgres import PostgresBackend, advisory_key, parse_location
from tests.state.conftest import FakeClock
from tests.support.postgres import PostgresServer
from tests.support.servers import run_cli

pytestmark = pytest.mark.postgres


def with_model(doc: StateDocument, name: str) -> StateDocument:
    models = dict(doc.models)
    models[name] = ModelRecord(name=f"tunedModels/{name}")
    return doc.model_copy(update={"models": models})


def admin(pg_server: PostgresServer) -> psycopg.Connection[Any]:
    return psycopg.connect(
        f"host={pg_server.socket_dir} port={pg_server.port} user=postgres dbname=postgres",
        autocommit=True,
    )


def test_location_keeps_our_parameters_from_libpq_and_hides_the_password() -> None:
    loc = parse_location(
        "postgresql://team:s3cret@db.example:5432/infra?sslmode=require&schema=rc&workspace=prod"
    )
    assert loc.conninfo == "postgresql://team:s3cret@db.example:5432/infra?sslmode=require"
    assert (loc.schema, loc.workspace) == ("rc", "prod")
    assert (
        loc.display
        == "postgresql://team@db.example:5432/infra?sslmode=require&schema=rc&workspace=prod"
    )
    assert "s3cret" not in parse_location("postgres:///db?password=s3cret&host=/tmp").display
    with pytest.raises(StateError, match="invalid schema"):
        parse_location("postgresql:///db?schema=bad;drop")
    with pytest.raises(StateError, match="empty workspace= in the state URI"):
        parse_location("postgresql:///db?workspace=")  # e.g. workspace=$ENV, unset
    with pytest.raises(StateError, match="empty schema="):
        parse_location("postgresql:///db?schema=&workspace=prod")
    assert advisory_key(schema="rc", workspace="a") != advisory_key(schema="rc", workspace="b")
    assert (
        advisory_key(schema="rc", workspace="a")[0] == advisory_key(schema="rc", workspace="b")[0]
    )


def test_empty_workspace_reads_as_empty_without_creating_tables(
    pg_server: PostgresServer, pg_uri: str
) -> None:
    backend = open_backend(pg_uri)
    assert isinstance(backend, PostgresBackend)
    doc = backend.read()
    backend.close()
    assert (doc.serial, doc.models) == (0, {})
    with admin(pg_server) as conn:
        row = conn.execute("SELECT to_regnamespace(%s)", [backend.schema]).fetchone()
    assert row == (None,)


def test_writes_grow_the_serial_and_every_version_is_kept(pgb: Any, pg_uri: str) -> None:
    backend = pgb(pg_uri)
    with backend.lock(command="apply"):
        doc = backend.read()
        for name in ("a", "b", "c"):
            doc = backend.write(with_model(doc, name))
    assert doc.serial == 3
    again = pgb(pg_uri)
    assert again.read() == doc
    assert again.history() == [(1, doc.lineage), (2, doc.lineage), (3, doc.lineage)]
    backend.close()
    again.close()


def test_racing_writers_exactly_one_gets_the_lock(pgb: Any, pg_uri: str) -> None:
    backends = [pgb(pg_uri) for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(backends))

    def race(backend: PostgresBackend) -> None:
        barrier.wait()
        try:
            backend.lock(command="apply")
            outcomes.append("locked")
        except StateLockedError as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=race, args=(b,)) for b in backends]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("locked") == 1
    assert all("is locked by" in o for o in outcomes if o != "locked")
    for b in backends:
        b.close()


def test_second_writer_fails_naming_the_holder(pgb: Any, pg_uri: str, start_holder: Any) -> None:
    holder = start_holder(pg_uri, "apply")
    backend = pgb(pg_uri)
    with pytest.raises(StateLockedError) as info:
        backend.lock(command="destroy")
    assert f"pid {holder.first['pid']} on host {socket.gethostname()}" in info.value.message
    assert f"(reconciler apply), lock id {holder.lock_id}" in info.value.message
    assert f"force-unlock {holder.lock_id}" in (info.value.hint or "")
    backend.close()
    assert holder.finish() == 0


def test_killed_holder_releases_the_lock_with_its_session(
    pgb: Any, pg_uri: str, start_holder: Any
) -> None:
    holder = start_holder(pg_uri, "apply")
    assert holder.send("write a") == {"serial": 1}
    holder.process.send_signal(signal.SIGKILL)
    holder.process.wait(timeout=10)
    backend = pgb(pg_uri)
    started = time.monotonic()
    # The server notices the closed socket within milliseconds; no stale-lock timeout is involved.
    with backend.lock(command="apply", timeout=10) as lock:
        assert time.monotonic() - started < 5
        assert lock.warning is not None and holder.lock_id in lock.warning
        assert backend.write(with_model(backend.read(), "b")).serial == 2
    backend.close()


def test_stopped_holder_removed_by_force_unlock_then_refused(
    pgb: Any, pg_uri: str, start_holder: Any
) -> None:
    holder = start_holder(pg_uri, "apply")
    assert holder.send("write a") == {"serial": 1}
    assert holder.send("check") == {"held": True}
    holder.process.send_signal(signal.SIGSTOP)
    try:
        result = run_cli("--state", pg_uri, "force-unlock")
        assert result.returncode == 1 and "database session is still open" in result.stderr
        result = run_cli("--state", pg_uri, "force-unlock", holder.lock_id)
        assert result.returncode == 0, result.stderr
        assert (
            f"Removed lock {holder.lock_id}" in result.stdout
            and "ended its database session" in result.stdout
        )
        backend = pgb(pg_uri)
        with backend.lock(command="apply") as lock:
            assert lock.warning is None  # force-unlock already removed the holder's row
            assert backend.write(with_model(backend.read(), "b")).serial == 2
        backend.close()
    finally:
        holder.process.send_signal(signal.SIGCONT)
    # Before an update or delete, the ex-holder learns it may not send it.
    answer = holder.send("check")
    assert answer["type"] == "StateConflictError" and "before its next request" in answer["error"]
    answer = holder.send("write c")
    assert answer["type"] == "StateConflictError" and "no longer holds the lock" in answer["error"]
    assert sorted(pgb(pg_uri).read().models) == ["a", "b"]
    assert holder.finish() == 0


def test_lock_timeout(pgb: Any, pg_uri: str, start_holder: Any) -> None:
    holder = start_holder(pg_uri, "apply")
    clock = FakeClock()
    backend = pgb(pg_uri, clock=clock, sleep=clock.sleep)
    with pytest.raises(StateLockedError, match=r"\(waited 20s\)"):
        backend.lock(command="apply", timeout=20)
    assert clock.now - 1000.0 == pytest.approx(20)
    got = threading.Event()

    def wait_for_lock() -> None:
        with pgb(pg_uri).lock(command="apply", timeout=60):
            got.set()

    waiter = threading.Thread(target=wait_for_lock)
    waiter.start()
    assert not got.wait(0.3)  # a real holder process: only real time shows the waiting
    assert holder.finish() == 0
    waiter.join(timeout=60)
    assert got.is_set()
    backend.close()


def test_compare_and_swap_conflict(pgb: Any, pg_uri: str) -> None:
    backend = pgb(pg_uri)
    with backend.lock(command="apply"):
        start = backend.read()
        backend.write(with_model(start, "a"))
        with pytest.raises(StateConflictError, match=r"read serial 0, stored serial 1"):
            backend.write(with_model(start, "b"))
    assert sorted(backend.read().models) == ["a"]
    backend.close()


def test_reconnected_ex_holder_is_refused(pgb: Any, pg_server: PostgresServer, pg_uri: str) -> None:
    backend = pgb(pg_uri)
    lock = backend.lock(command="apply")
    doc = backend.write(with_model(backend.read(), "a"))
    with admin(pg_server) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(backend_pid) FROM "
            + backend.schema
            + ".locks WHERE lock_id = %s",
            [lock.info.id],
        )
    with pytest.raises(StateConflictError, match="no longer holds the lock"):
        backend.write(with_model(doc, "b"))
    other = pgb(pg_uri)
    assert sorted(other.read().models) == ["a"]
    lock.release()
    other.close()
    backend.close()


def test_lost_connection_is_a_clear_error(pgb: Any, pg_server: PostgresServer) -> None:
    database = f"lost_{time.monotonic_ns()}"
    with admin(pg_server) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    backend = pgb(pg_server.uri(schema="rc", dbname=database))
    with backend.lock(command="apply"):
        doc = backend.write(with_model(backend.read(), "a"))
        with admin(pg_server) as conn:
            # The server goes away for this database: the session ends and no new one is allowed.
            conn.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [database],
            )
        with pytest.raises(
            StateError,
            match=r"lost the connection to the state database postgresql:///.*; the run stopped; rerun to resume",
        ) as lost:
            backend.write(with_model(doc, "b"))
        assert "\n" not in lost.value.message  # libpq's lines folded onto the one Error line
        # Once the run had a session, a failed reconnect says the same, whichever call meets it.
        with pytest.raises(StateError, match="lost the connection to the state database"):
            backend.read()
    backend.close()
    with pytest.raises(StateError, match="cannot connect to the state database"):
        backend.read()  # closed, then opened afresh: the start-up failure again
    backend.close()


def test_a_dropped_session_is_reopened_for_reads(
    pgb: Any, pg_server: PostgresServer, pg_uri: str
) -> None:
    backend = pgb(pg_uri)
    backend.read()
    with admin(pg_server) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'reconciler' AND pid <> pg_backend_pid()"
        )
    assert backend.read().serial == 0
    backend.close()


def test_workspaces_in_one_schema_do_not_block_each_other(
    pgb: Any, pg_server: PostgresServer
) -> None:
    schema = f"shared_{time.monotonic_ns()}"
    first = pgb(pg_server.uri(schema=schema, workspace="staging"))
    second = pgb(pg_server.uri(schema=schema, workspace="prod"))
    with first.lock(command="apply"), second.lock(command="apply"):
        a = first.write(with_model(first.read(), "a"))
        b = second.write(with_model(second.read(), "b"))
    assert (a.serial, b.serial) == (1, 1) and a.lineage != b.lineage
    assert sorted(first.read().models) == ["a"] and sorted(second.read().models) == ["b"]
    first.close()
    second.close()


def test_concurrent_first_use_of_a_schema_does_not_fail(
    pgb: Any, pg_server: PostgresServer
) -> None:
    schema = f"fresh_{time.monotonic_ns()}"
    backends = [pgb(pg_server.uri(schema=schema, workspace=f"w{i}")) for i in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(backends))

    def first_use(backend: PostgresBackend) -> None:
        barrier.wait()
        try:
            with backend.lock(command="apply"):
                backend.write(with_model(backend.read(), "a"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(b,)) for b in backends]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert [b.read().serial for b in backends] == [1, 1, 1, 1]
    for b in backends:
        b.close()


def test_state_moves_from_a_file_to_postgres_and_back(pgb: Any, tmp_path: Any, pg_uri: str) -> None:
    local = FileBackend(tmp_path / "state.json")
    with local.lock(command="apply"):
        doc = local.write(with_model(with_model(local.read(), "a"), "b"))
    shared = pgb(pg_uri)
    pushed = shared.push(local.read(), force=False)
    assert (pushed.serial, pushed.lineage, sorted(pushed.models)) == (1, doc.lineage, ["a", "b"])
    with pytest.raises(StateConflictError, match="not newer"):
        shared.push(doc, force=False)
    with shared.lock(command="state rm"):
        newer = shared.write(shared.read().model_copy(update={"models": {}}))
    assert local.push(newer, force=False).serial == 2
    assert local.read().models == {}
    assert shared.history() == [(1, doc.lineage), (2, doc.lineage)]
    shared.close()


def test_credentials_never_appear_in_display_or_errors(
    pgb: Any, pg_server: PostgresServer, start_holder: Any
) -> None:
    schema = f"cred_{time.monotonic_ns()}"
    uri = f"postgresql://postgres:s3cret-pw@/postgres?host={pg_server.socket_dir}&port={pg_server.port}&schema={schema}"
    holder = start_holder(uri, "apply")
    backend = pgb(uri)
    assert "s3cret-pw" not in backend.display and "postgres@" in backend.display
    with pytest.raises(StateLockedError) as info:
        backend.lock(command="apply")
    assert "s3cret-pw" not in info.value.message + (info.value.hint or "")
    assert holder.finish() == 0
    unreachable = pgb(
        f"postgresql://postgres:s3cret-pw@/postgres?host={pg_server.socket_dir}&port=1"
    )
    with pytest.raises(StateError, match="cannot connect to the state database") as info:
        unreachable.read()
    assert "s3cret-pw" not in info.value.message
    result = run_cli("--state", uri.replace(str(pg_server.port), "1"), "state", "list")
    assert result.returncode == 1 and "s3cret-pw" not in result.stderr + result.stdout
    backend.close()
