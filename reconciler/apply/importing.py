"""``reconciler import NAME LIVE``: record a live model as applied under NAME.

``LIVE`` is ``tunedModels/ID`` on the Gemini API (the manifest's name is the
id), or on Vertex AI a tuning job's resource name
(``projects/P/locations/L/tuningJobs/N``), under any manifest name.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from reconciler.applied import ModelRecord
from reconciler.apply.journal import StateJournal
from reconciler.apply.refresh import Warn, load_desired, locked
from reconciler.errors import NotFoundError, ReconcilerError, UsageError
from reconciler.live import CREATING, LiveModel
from reconciler.providers import TuningProvider
from reconciler.spec import AppliedSpec, Hyperparameters
from reconciler.state.base import StateBackend


def import_run(
    *,
    client: TuningProvider,
    backend: StateBackend,
    name: str,
    model_name: str,
    paths: Sequence[str],
    lock_timeout: float,
    warn: Warn,
    allow_outside_root: bool = False,
) -> ModelRecord:
    """``reconciler import NAME tunedModels/ID``: record a live model as applied under NAME."""
    chosen_ids = client.capabilities.client_chosen_ids
    if chosen_ids and not model_name.startswith("tunedModels/"):
        raise UsageError(f"{model_name}: expected a tuned model name like tunedModels/my-model")
    desired = load_desired(
        paths, allow_outside_root=allow_outside_root, backend=client.capabilities.backend
    )
    if name not in desired.models:
        close = difflib.get_close_matches(name, sorted(desired.models), n=1)
        raise UsageError(
            f"no TunedModel manifest named {name}: write its manifest first, or the next plan would delete it",
            hint=f"did you mean `{close[0]}`?" if close else "manifest names are metadata.name",
        )
    wanted = desired.models[name].model_name
    if chosen_ids and model_name != wanted:
        # Plan, apply and destroy address a model by its manifest name
        # (metadata.name is the tunedModelId): under another name the next plan
        # would find nothing live and recreate it, and never update or delete it.
        # A backend that assigns ids itself records the live name instead.
        model_id = model_name.removeprefix("tunedModels/")
        raise UsageError(
            f"{model_name} cannot be managed as TunedModel/{name}: "
            f"a manifest's metadata.name is its tunedModelId ({wanted})",
            hint=f"name its manifest {model_id} and run `reconciler import {model_id} {model_name}`",
        )
    try:
        live = client.get_tuned_model(model_name)
    except NotFoundError:
        raise ReconcilerError(
            f"{model_name} does not exist", hint="see `reconciler inventory`"
        ) from None
    with locked(backend, command="import", timeout=lock_timeout, warn=warn):
        state = backend.read()
        if name in state.models:
            raise ReconcilerError(
                f"{name} is already managed (as {state.models[name].name})",
                hint=f"`reconciler state rm {name}` first to re-import it",
            )
        taken = [n for n, r in state.models.items() if r.name == live.name]
        if taken:
            raise ReconcilerError(f"{live.name} is already managed as {taken[0]}")
        operation = None
        if live.state == CREATING:
            operations = client.list_operations(live.name)
            operation = operations[-1].name if operations else None
        record = ModelRecord(
            name=live.name,
            applied=applied_from_live(live),
            operation=operation,
            imported=True,
            preventDestroy=desired.models[name].lifecycle.prevent_destroy,
            createTime=live.create_time,
            updateTime=live.update_time,
        )
        StateJournal(backend=backend, document=state).put(name, record)
    return record


def applied_from_live(live: LiveModel) -> AppliedSpec:
    """What an imported model is taken to have been created with (training data unknown)."""
    hp = live.hyperparameters

    def number(key: str) -> float | None:
        value = hp.get(key)
        return float(value) if value is not None else None

    epochs, batch = hp.get("epochCount"), hp.get("batchSize")
    return AppliedSpec(
        baseModel=None if live.tuned_model_source else live.base_model,
        tunedModelSource=live.tuned_model_source,
        displayName=live.display_name,
        description=live.description,
        temperature=live.temperature,
        topP=live.top_p,
        topK=live.top_k,
        readerProjectNumbers=live.reader_project_numbers,
        hyperparameters=Hyperparameters(
            epochCount=int(epochs) if epochs is not None else None,
            batchSize=int(batch) if batch is not None else None,
            learningRate=number("learningRate"),
            learningRateMultiplier=number("learningRateMultiplier"),
            adapterSize=int(adapter) if (adapter := hp.get("adapterSize")) is not None else None,
        ),
        dataset=None,
        labels=dict(live.labels),
    )
