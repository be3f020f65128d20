"""What differs between tuning backends, as plain values the planner and executor branch on.

Pure (no I/O): the planner reads ``mutable_fields`` to tell an update from a
replace; the executor and the commands read the rest. Nothing compares a
backend's name to decide what to do.

* ``client_chosen_ids``: the Gemini API creates ``tunedModels/<id>`` with the
  id the request chooses, so a retried create meets 409 and a crash is
  recovered by looking the id up. Vertex AI assigns a tuning job's id itself;
  its provider makes a create idempotent with a label and finds the job by it.
* ``mutable_fields``: the fields changed in place with an ``updateMask``;
  every other change is a replace.
* ``deletes_tuning``: whether the record of a tuning can be deleted (a Gemini
  tuned model can; a Vertex tuning job cannot: its model and endpoint can).
* ``job_and_model``: one resource (a tuned model with its operation) or a
  tuning job plus the model and endpoint it produces.
* ``progress``: where progress is read: the tuned model's snapshots and its
  long-running operation, or the tuning job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.spec import GEMINI_MUTABLE_FIELDS, VERTEX_MUTABLE_FIELDS


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, as values the callers branch on (never its name)."""

    backend: str  # recorded in the state: "gemini" | "vertex"
    client_chosen_ids: bool
    mutable_fields: tuple[str, ...]
    deletes_tuning: bool
    job_and_model: bool
    progress: Literal["operation", "job"]


GEMINI_CAPABILITIES = Capabilities(
    backend="gemini",
    client_chosen_ids=True,
    mutable_fields=GEMINI_MUTABLE_FIELDS,
    deletes_tuning=True,
    job_and_model=False,
    progress="operation",
)


VERTEX_CAPABILITIES = Capabilities(
    backend="vertex",
    client_chosen_ids=False,
    mutable_fields=VERTEX_MUTABLE_FIELDS,
    deletes_tuning=False,
    job_and_model=True,
    progress="job",
)
