"""``reconciler inventory`` and ``reconciler show``: read-only views of the live project.

Both read the state without its lock and make as few API calls as possible:
``inventory`` one paginated list (page size 1000), ``show`` one GET plus one
operation call.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import click

from reconciler.cli.context import get_globals
from reconciler.errors import UsageError

INVENTORY_FORMATS = ("table", "json", "csv", "markdown", "html")


def _stdout_takes_unicode() -> bool:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return encoding in ("utf8", "utf16", "utf32")


def _known_width() -> int | None:
    """The width people will read the table at: ``COLUMNS``, else a real terminal's.

    ``None`` when neither says (output piped to a script): the plain table
    then keeps every column in full.
    """
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((160, 24)).columns
    return None


def _public_endpoint(endpoint: str) -> str:
    """Scheme and host only: a report never carries credentials or query strings."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else endpoint


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(INVENTORY_FORMATS),
    default="table",
    show_default=True,
    help="table for people; json/csv for scripts (docs/inventory.md); markdown; html for audits.",
)
@click.option(
    "--filter",
    "filter_text",
    default=None,
    metavar="TEXT",
    help="The API's full-text filter (display name, description); ids containing TEXT match too. Missing models are then not listed.",
)
def inventory(fmt: str, filter_text: str | None) -> None:
    """Every live tuned model: managed, drifted, in-flight, failed, unmanaged, missing."""
    from reconciler.cli.common import default_target, make_client, read_state
    from reconciler.inventory import collect_inventory
    from reconciler.render import inventory as render

    g = get_globals()
    target = default_target(g)
    state = read_state(g, target)
    with make_client(g, target) as client:
        result = collect_inventory(client=client, state=state, filter=filter_text)
    if fmt == "json":
        output = render.render_json(result)
    elif fmt == "csv":
        output = render.render_csv(result)
    elif fmt == "markdown":
        output = render.render_markdown(result)
    elif fmt == "html":
        from reconciler.render.html import render_html

        generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        output = render_html(result, generated_at=generated, endpoint=_public_endpoint(g.endpoint))
    else:
        output = render.render_table(
            result,
            color=g.color,
            fit_width=_known_width(),
            unicode=_stdout_takes_unicode(),
        )
    click.echo(output, nl=False)


@click.command()
@click.argument("name", metavar="NAME|LIVE_NAME")
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE.svg|FILE.png",
    help="Also write the loss curve as an image (matplotlib).",
)
def show(name: str, fmt: str, plot: Path | None) -> None:
    """One model: fields, operation progress, tuning snapshots and loss curve."""
    from reconciler.cli.common import default_target, make_client, read_state
    from reconciler.inventory import describe_model
    from reconciler.render.chart import PLOT_SUFFIXES
    from reconciler.render.show import chart_width_for, render_show_json, render_show_text

    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(
            f"cannot plot to {plot.name}: unknown image type {plot.suffix or '(none)'}",
            hint="use a file name ending in .svg or .png",
        )
    g = get_globals()
    target = default_target(g)
    state = read_state(g, target)
    with make_client(g, target) as client:
        detail = describe_model(client=client, state=state, ref=name)
    if fmt == "json":
        output = render_show_json(
            model=detail.model,
            row=detail.row,
            operation=detail.operation,
            snapshots=detail.snapshots,
        )
    else:
        width = shutil.get_terminal_size((100, 24)).columns
        output = render_show_text(
            model=detail.model,
            row=detail.row,
            operation=detail.operation,
            snapshots=detail.snapshots,
            unicode=_stdout_takes_unicode(),
            chart_width=chart_width_for(width),
        )
    click.echo(output, nl=False)
    if plot is not None:
        from reconciler.render.chart import write_plot

        title = f"{detail.model.display_name or detail.model.name} -- loss per step"
        created = write_plot(detail.snapshots, path=plot, title=title)
        note = f" (created {created})" if created is not None else ""
        click.echo(f"Wrote the loss curve to {plot}{note}", err=True)
