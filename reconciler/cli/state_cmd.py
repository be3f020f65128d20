"""``reconciler state ...`` and ``reconciler force-unlock``: inspect, forget, export, import state.

These commands only read and write the state; none of them talks to the
Gemini API, and ``state rm`` never deletes a live model.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import click

from reconciler.applied import ModelRecord
from reconciler.cli.context import get_globals
from reconciler.cli.options import echo_lock_warning, lock_timeout_option, open_state
from reconciler.errors import StateCorruptError, StateError
from reconciler.state import dump_document, parse_text


def record_status(record: ModelRecord) -> str:
    """One word or phrase for where a managed model stands, as ``state list`` shows it."""
    if record.pendingCreate is not None:
        return "pending create"
    if record.operation:
        return f"creating ({record.operation})"
    if record.imported:
        return "imported"
    if record.applied is not None:
        return "applied"
    return "recorded"


@click.group()
def state() -> None:
    """Inspect, forget, export or import the state."""


@state.command("list")
def list_() -> None:
    """One line per managed model: name, live name, status."""
    backend = open_state(get_globals())
    try:
        doc = backend.read()
    finally:
        backend.close()
    if not doc.models:
        click.echo(f"No managed models in {backend.display}.", err=True)
        return
    rows = [(name, rec.name, record_status(rec)) for name, rec in sorted(doc.models.items())]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for name, live, status in rows:
        click.echo(f"{name.ljust(widths[0])}  {live.ljust(widths[1])}  {status}")


@state.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print the state record of one managed model as JSON."""
    backend = open_state(get_globals())
    try:
        doc = backend.read()
    finally:
        backend.close()
    record = doc.models.get(name)
    if record is None:
        raise StateError(
            f"no model {name!r} in the state {backend.display}",
            hint=_known(name, sorted(doc.models)),
        )
    click.echo(json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True))


def _known(name: str, names: list[str]) -> str:
    """The hint for an unknown model name: the closest managed names first, then all of them."""
    if not names:
        return "the state manages no models"
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    listed = names if len(names) <= 20 else [*names[:20], f"... ({len(names) - 20} more)"]
    managed = "managed models: " + ", ".join(listed)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "? " + managed
    return managed


@state.command("rm")
@click.argument("name")
@lock_timeout_option
def rm(name: str, lock_timeout: float) -> None:
    """Forget a model: the state stops managing it; the live model is NOT deleted."""
    backend = open_state(get_globals())
    try:
        with backend.lock(command="state rm", timeout=lock_timeout) as lock:
            echo_lock_warning(lock)
            doc = backend.read()
            record = doc.models.get(name)
            if record is None:
                raise StateError(
                    f"no model {name!r} in the state {backend.display}",
                    hint=_known(name, sorted(doc.models)),
                )
            models = {k: v for k, v in doc.models.items() if k != name}
            stored = backend.write(doc.model_copy(update={"models": models}))
    finally:
        backend.close()
    click.echo(
        f"Removed {name} from the state (serial {stored.serial}). The live model {record.name}"
        " was not deleted; it is no longer managed."
    )


@state.command("pull")
def pull() -> None:
    """Print the whole state as JSON (e.g. to move it to another backend with `state push`)."""
    backend = open_state(get_globals())
    try:
        doc = backend.read()
    finally:
        backend.close()
    if doc.serial == 0:
        # Never written: printing a fresh empty document (with a new random
        # lineage) would let a mistyped --state seed another backend with it.
        raise StateError(
            f"no state at {backend.display}: nothing to pull",
            hint="check --state (RECONCILER_STATE); a state exists once apply or import wrote it",
        )
    click.echo(dump_document(doc), nl=False)


@state.command("push")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace the stored state even if its lineage differs or its serial is newer.",
)
@lock_timeout_option
def push(file: Path, force: bool, lock_timeout: float) -> None:
    """Replace the stored state with FILE (a `state pull` output or a state file)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StateCorruptError(f"cannot read {file}: {exc}") from None
    try:
        doc = parse_text(text, source=str(file))
    except StateCorruptError as exc:
        # The backend's hint (restore a .backup) is about a damaged stored state;
        # here the user named the wrong file.
        raise StateCorruptError(
            f"{file} is not a reconciler state: {exc.message.removeprefix(f'state {file} ')}",
            hint=exc.hint
            if "newer than this reconciler" in exc.message
            else "push the output of `reconciler state pull` or a state file (.reconciler/state.json)",
        ) from None
    backend = open_state(get_globals())
    try:
        with backend.lock(command="state push", timeout=lock_timeout) as lock:
            echo_lock_warning(lock)
            stored = backend.push(doc, force=force)
    finally:
        backend.close()
    click.echo(
        f"Pushed {file} to {backend.display} (lineage {stored.lineage}, serial {stored.serial},"
        f" {len(stored.models)} model(s))."
    )


@click.command("force-unlock")
@click.argument("lock_id", required=False)
def force_unlock(lock_id: str | None) -> None:
    """Remove a stuck state lock (PostgreSQL: end the holder's database session).

    Without LOCK_ID only a lock whose holder is gone is removed; a lock whose
    holder may still run needs its id (shown in the "state is locked" error).
    """
    backend = open_state(get_globals())
    try:
        message = backend.force_unlock(lock_id)
    finally:
        backend.close()
    click.echo(message)
