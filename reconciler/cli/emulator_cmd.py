"""``reconciler emulator serve``: run the local Gemini API emulator until stopped."""

from __future__ import annotations

import errno

import click

from reconciler.extras import require

require("emulator")  # before the emulator's own imports fail less clearly

from reconciler.emulator import EmulatorConfig, serve  # noqa: E402
from reconciler.emulator.config import (  # noqa: E402
    DEFAULT_STEP_SECONDS,
    MAX_LATENCY_MS,
    MAX_STEP_SECONDS,
)
from reconciler.errors import UsageError  # noqa: E402


@click.group()
def emulator() -> None:
    """The local API emulator: Gemini API tuned models, Vertex AI tuning jobs, Cloud Storage."""


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option(
    "--latency-ms",
    default=0.0,
    type=click.FloatRange(0, MAX_LATENCY_MS),
    help="Delay added to every API request.",
)
@click.option(
    "--step-seconds",
    default=DEFAULT_STEP_SECONDS,
    show_default=True,
    type=click.FloatRange(0, MAX_STEP_SECONDS),
    help="Simulated seconds per tuning step; 0 finishes tuning at once.",
)
@click.option(
    "--fault-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Fraction of API requests that fail (429, 500, 503, dropped).",
)
@click.option(
    "--tuning-fail-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Fraction of tunings that end FAILED.",
)
@click.option(
    "--api-key",
    default=None,
    envvar="RECONCILER_EMULATOR_API_KEY",
    show_envvar=True,
    help=(
        "Accept only this key on API requests and on /emulator/ changes (default: accept "
        "any credentials). A command line is visible to every user of the machine (ps): "
        "prefer the environment variable."
    ),
)
@click.option(
    "--db",
    "db_path",
    default=None,
    help="SQLite file that keeps models, tuning jobs and stored objects across restarts.",
)
@click.option(
    "--seed", default=None, type=int, help="Seed for ids, faults and failures (reproducible runs)."
)
def serve_cmd(
    host: str,
    port: int,
    latency_ms: float,
    step_seconds: float,
    fault_rate: float,
    tuning_fail_rate: float,
    api_key: str | None,
    db_path: str | None,
    seed: int | None,
) -> None:
    """Serve the Gemini API (v1beta tunedModels), Vertex AI tuning jobs and the Cloud Storage
    calls that upload datasets, all on one port, and the /emulator/ control surface."""
    try:
        config = EmulatorConfig(
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            step_seconds=step_seconds,
            tuning_fail_rate=tuning_fail_rate,
            api_key=api_key,
            db_path=db_path,
            seed=seed,
        )
    except ValueError as exc:  # NaN passes click's range checks
        raise UsageError(f"invalid emulator setting: {exc}") from None
    try:
        serve(config, host=host, port=port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"cannot serve on {host}:{port}: the port is in use (another emulator?)",
                hint="pick another with --port PORT, or --port 0 for any free port (it is printed)",
            ) from None
        if exc.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
            raise UsageError(
                f"cannot serve on {host}:{port}: {exc.strerror}",
                hint="use a port above 1023 and an address of this machine (--host 127.0.0.1)",
            ) from None
        raise
