"""The live name a create gives its model, on backends that choose ids and on those that do not.

On the Gemini API the request names the model: the live name is the one the
plan shows (``tunedModels/<name>``, ``-<generation>`` for a later generation).
On a backend that assigns ids itself (``Capabilities.client_chosen_ids`` is
False) the provider labels the new tuning with the live name's id instead, and
a label must name one create only: a tuning's record outlives its deletion, and
a rerun must never adopt an old one. So each create there gets the planned name
plus a random suffix, written in the state's intent before the request; a
create interrupted before its answer was recorded keeps the name it was given,
so the provider finds what it may have started by that label.
"""

from __future__ import annotations

import secrets

from reconciler.applied import ModelRecord
from reconciler.capabilities import Capabilities
from reconciler.spec import generation_name

SUFFIX_BYTES = 3  # six hex digits: "tunedModels/increment-3f9a0c"


def name_for_create(
    capabilities: Capabilities,
    *,
    planned: str,
    model: str,
    before: ModelRecord | None,
    deleted: bool = False,
) -> str:
    """The live name to record in the intent of the create of manifest ``model``.

    ``planned``: the live name the plan shows. ``before``: the model's record
    before this create (None: new). ``deleted``: the create replaces a model
    this run just deleted.
    """
    if capabilities.client_chosen_ids:
        return planned
    interrupted = before is not None and before.pendingCreate is not None and before.applied is None
    if before is not None and interrupted and not deleted:
        return before.name  # its create may have landed: the provider finds it by this name
    generation = before.generation if before is not None else 1
    return fresh_name(capabilities, generation_name(model, generation))


def fresh_name(capabilities: Capabilities, planned: str) -> str:
    """``planned`` itself, or with a random suffix where the backend assigns ids."""
    if capabilities.client_chosen_ids:
        return planned
    return f"{planned}-{secrets.token_hex(SUFFIX_BYTES)}"
