"""``reconciler output``: the live name serving each managed model, for applications and CI.

Reads the state only (no lock, no network): the serving name changes only
when an apply promotes a new generation (createBeforeDestroy), and apply
records that before it deletes the old one.
"""

from __future__ import annotations

import difflib
import json

import click

from reconciler.applied import ModelRecord
from reconciler.cli.context import get_globals
from reconciler.cli.options import open_state
from reconciler.errors import StateError, UsageError


def serving_name(record: ModelRecord) -> str | None:
    """The live name answering for ``record`` now; None while none does (never
    created yet, or deleted by a deleteBeforeCreate replacement in progress)."""
    if record.applied is None or record.replacing:
        return None
    return record.name


@click.command()
@click.argument("names", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the live name (NAME = live name for several); json: {NAME: live name}.",
)
def output(names: tuple[str, ...], fmt: str) -> None:
    """Print the serving live name of each managed model (or of NAME...)."""
    backend = open_state(get_globals())
    try:
        doc = backend.read()
    finally:
        backend.close()
    for name in names:
        if name not in doc.models:
            close = difflib.get_close_matches(name, sorted(doc.models), n=1)
            raise UsageError(
                f"{name}: the state manages no such model",
                hint=f"did you mean `{close[0]}`?" if close else "see `reconciler state list`",
            )
    chosen = list(names) or sorted(doc.models)
    serving = {name: serving_name(doc.models[name]) for name in chosen}
    missing = [name for name in names if serving[name] is None]
    if missing:
        raise StateError(
            f"no model serves {', '.join(missing)} yet",
            hint="`reconciler apply` creates it; `reconciler state show NAME` shows its record",
        )
    if fmt == "json":
        click.echo(json.dumps(serving, indent=2, sort_keys=True))
    elif len(names) == 1:
        click.echo(serving[names[0]])
    else:
        for name, live in serving.items():
            click.echo(f"{name} = {live if live is not None else '(none yet)'}")
