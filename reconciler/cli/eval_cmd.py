"""``reconciler eval``: run the models' evaluations now and print the scores."""

from __future__ import annotations

import click

from reconciler.apply.eval_workflow import eval_run
from reconciler.apply.evaluating import EvaluationBar, EvaluationProgress
from reconciler.cli.common import connected
from reconciler.cli.context import get_globals
from reconciler.render.evaluation import (
    render_json,
    render_junit,
    render_markdown,
    render_text,
)

DEFAULT_PATHS = ("manifests",)


@click.command("eval")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--manifests",
    "paths",
    multiple=True,
    type=click.Path(),
    metavar="PATH",
    help="Manifest file or directory to read (repeatable; default: manifests/).",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["text", "json", "markdown", "junit"]),
    default="text",
    show_default=True,
)
@click.option(
    "--parallelism",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="generateContent requests in flight at once.",
)
def eval_(names: tuple[str, ...], paths: tuple[str, ...], format_: str, parallelism: int) -> int:
    """Evaluate the ACTIVE managed models (all with an evaluation, or NAME...) now.

    Each example of the model's evaluation dataset is sent to the serving model
    through generateContent; answers are cached under .reconciler/cache/, so an
    unchanged evaluation of an unchanged model sends nothing. Exit 0: every
    threshold met; 2: a threshold missed; 1: an evaluation could not run.
    """
    g = get_globals()
    progress: EvaluationProgress = EvaluationBar() if g.color else EvaluationProgress()
    with connected(g, manifests=paths or DEFAULT_PATHS) as (client, backend):
        report = eval_run(
            client=client,
            backend=backend,
            paths=paths or DEFAULT_PATHS,
            names=names,
            parallelism=parallelism,
            progress=progress,
        )
    if format_ == "json":
        click.echo(render_json(report), nl=False)
    elif format_ == "markdown":
        click.echo(render_markdown(report), nl=False)
    elif format_ == "junit":
        click.echo(render_junit(report), nl=False)
    else:
        click.echo(render_text(report, color=g.color), nl=False)
    return report.exit_code
