"""Planner cases as data: tests/cases/plan/*.yaml -> (DesiredState, live, state, options).

The compact case format (adding a case is adding a file)::

    description: what the case shows
    manifests:                  # DesiredModel per entry; AppliedSpec fields at top level
      - name: increment
        displayName: Increment
        hyperparameters: {epochCount: 20}
        dataset: {hash: sha256:bbb}        # merged over {name: <name>-data, hash: sha256:<name>, examples: 10}
        dependsOn: parent                  # also sets tunedModelSource: tunedModels/parent
        lifecycle: {preventDestroy: true, ignoreChanges: [description], replacement: createBeforeDestroy}
        evaluation: {name: check, threshold: 0.9, gate: true}   # one exactMatch metric
    live:                       # LiveModel per entry (snake_case); mutable fields default to the manifest's
      - {id: increment, state: ACTIVE, display_name: Old}
    state:                      # StateDocument; a record's name defaults to tunedModels/<key>
      serial: 3
      models:
        increment: {applied: {}}          # {} = the manifest's spec; keys given override it
        # candidate: {...} a record too, named tunedModels/<key>-<generation> by default
        # evaluations: {tunedModels/increment: {evaluationHash: current}}
        #   "current" = the hash of the manifest's evaluation; other fields default
    options: {targets: [], replace: [], refreshOnly: false}
    apiFacts:                   # the API's answers for the preflight; without it, no preflight
      baseModels: {models/x: {exists: true, tunable: false}}
      sources: {tunedModels/shared: null}    # null: not found; else LiveModel fields
    expect:                     # every action, in order; omitted lists mean "empty"
      - {model: increment, kind: update, updateMask: [displayName],
         changes: [{path: displayName, before: Old, after: Increment}],
         reasons: [displayName changed], notes: []}
      # optional: successor: tunedModels/x-2, cleanup: [tunedModels/x], steps: 13
    error: exact substring of the PlanError message   # instead of expect
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reconciler.applied import ModelRecord, StateDocument
from reconciler.errors import SourceLocation
from reconciler.live import LiveModel
from reconciler.plan import BaseModelFacts, PlanOptions, PreflightFacts
from reconciler.spec import (
    AppliedSpec,
    DatasetRef,
    DesiredEvaluation,
    DesiredModel,
    DesiredState,
    Lifecycle,
    MetricCheck,
)

CASES_DIR = Path(__file__).resolve().parent.parent / "cases" / "plan"
BASE_MODEL = "models/gemini-1.5-flash-001-tuning"
CASE_KEYS = {
    "description",
    "manifests",
    "live",
    "state",
    "options",
    "apiFacts",
    "expect",
    "error",
}


def case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.yaml"))


def load_case(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    unknown = set(data) - CASE_KEYS
    assert not unknown, f"{path.name}: unknown keys {sorted(unknown)}"
    assert ("expect" in data) != ("error" in data), f"{path.name}: exactly one of expect / error"
    return dict(data)


def _default_spec(name: str) -> dict[str, Any]:
    return {
        "baseModel": BASE_MODEL,
        "dataset": {"name": f"{name}-data", "hash": f"sha256:{name}", "examples": 10},
    }


def _spec_fields(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    fields = _default_spec(name)
    body = {
        k: v for k, v in entry.items() if k not in {"name", "dependsOn", "lifecycle", "evaluation"}
    }
    if "dependsOn" in entry:
        fields["baseModel"] = None
        fields["tunedModelSource"] = f"tunedModels/{entry['dependsOn']}"
    if "dataset" in body and body["dataset"] is not None:
        body["dataset"] = {**fields["dataset"], **body["dataset"]}
    fields.update(body)
    if "readerProjectNumbers" in fields:
        fields["readerProjectNumbers"] = tuple(fields["readerProjectNumbers"])
    return fields


def desired_state(entries: list[dict[str, Any]]) -> tuple[DesiredState, dict[str, dict[str, Any]]]:
    models: dict[str, DesiredModel] = {}
    spec_fields: dict[str, dict[str, Any]] = {}
    for entry in entries:
        name = entry["name"]
        fields = _spec_fields(name, entry)
        spec_fields[name] = fields
        lifecycle = entry.get("lifecycle", {})
        models[name] = DesiredModel(
            name=name,
            spec=AppliedSpec.model_validate(fields),
            location=SourceLocation(file="manifests/models.yaml"),
            lifecycle=Lifecycle(
                prevent_destroy=bool(lifecycle.get("preventDestroy", False)),
                ignore_changes=frozenset(lifecycle.get("ignoreChanges", [])),
                create_before_destroy=lifecycle.get("replacement") == "createBeforeDestroy",
            ),
            depends_on=entry.get("dependsOn"),
            evaluation=_evaluation(entry.get("evaluation")),
        )
    return DesiredState(models=models), spec_fields


def _evaluation(data: dict[str, Any] | None) -> DesiredEvaluation | None:
    if data is None:
        return None
    name = data.get("name", "check")
    return DesiredEvaluation(
        name=name,
        dataset=DatasetRef(name=f"{name}-holdout", hash=f"sha256:{name}-holdout", examples=5),
        metrics=(MetricCheck(type="exactMatch", threshold=float(data.get("threshold", 0.9))),),
        gate=bool(data.get("gate", True)),
    )


def _evaluation_records(
    key: str, raw: dict[str, Any], desired: DesiredState
) -> dict[str, dict[str, Any]]:
    model = desired.models.get(key)
    records = {}
    for live_name, entry in raw.items():
        record = {
            "evaluation": model.evaluation.name if model and model.evaluation else "check",
            "evaluationHash": "sha256:old",
            "datasetHash": "sha256:check-holdout",
            "examples": 5,
            **entry,
        }
        if record["evaluationHash"] == "current":
            assert model is not None and model.evaluation is not None
            record["evaluationHash"] = model.evaluation.hash
        records[live_name] = record
    return records


def _recorded_spec(
    name: str, value: dict[str, Any] | None, spec_fields: dict[str, dict[str, Any]]
) -> AppliedSpec | None:
    if value is None:
        return None
    fields = dict(spec_fields.get(name) or _default_spec(name))
    if "dataset" in value and value["dataset"] is not None and fields.get("dataset"):
        value = {**value, "dataset": {**fields["dataset"], **value["dataset"]}}
    fields.update(value)
    return AppliedSpec.model_validate(fields)


def _record(
    key: str,
    raw: dict[str, Any],
    spec_fields: dict[str, dict[str, Any]],
    desired: DesiredState,
    *,
    default_name: str,
) -> ModelRecord:
    """A state record; ``candidate`` (createBeforeDestroy) is a record too, named
    ``tunedModels/<key>-<generation>`` unless given."""
    record = dict(raw)
    record.setdefault("name", default_name)
    if "evaluations" in record:
        record["evaluations"] = _evaluation_records(key, record["evaluations"], desired)
    record["applied"] = _recorded_spec(key, record.get("applied"), spec_fields)
    record["pendingCreate"] = _recorded_spec(key, record.get("pendingCreate"), spec_fields)
    if record.get("lastFailedAttempt") is not None:
        failed = dict(record["lastFailedAttempt"])
        failed["spec"] = _recorded_spec(key, failed.get("spec"), spec_fields)
        record["lastFailedAttempt"] = failed
    if record.get("candidate") is not None:
        generation = record.get("generation", 2)
        record["candidate"] = _record(
            key,
            record["candidate"],
            spec_fields,
            desired,
            default_name=f"tunedModels/{key}-{generation}",
        )
    return ModelRecord.model_validate(record)


def state_document(
    data: dict[str, Any],
    spec_fields: dict[str, dict[str, Any]],
    desired: DesiredState | None = None,
) -> StateDocument:
    records = {}
    for key, raw in (data.get("models") or {}).items():
        records[key] = _record(
            key, raw, spec_fields, desired or DesiredState(), default_name=f"tunedModels/{key}"
        )
    return StateDocument(
        lineage=data.get("lineage", "00000000-0000-4000-8000-000000000001"),
        serial=data.get("serial", 1),
        models=records,
    )


_LIVE_FROM_SPEC = {
    "display_name": "displayName",
    "description": "description",
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "reader_project_numbers": "readerProjectNumbers",
    "labels": "labels",
}


def live_models(
    entries: list[dict[str, Any]], spec_fields: dict[str, dict[str, Any]]
) -> list[LiveModel]:
    models = []
    for raw in entries:
        entry = dict(raw)
        model_id = entry.pop("id")
        fields = spec_fields.get(model_id, {})
        values: dict[str, Any] = {
            "name": f"tunedModels/{model_id}",
            "state": "ACTIVE",
            "base_model": BASE_MODEL,
            "update_time": "2024-05-01T10:00:00Z",
        }
        for live_key, spec_key in _LIVE_FROM_SPEC.items():
            if fields.get(spec_key) is not None:
                values[live_key] = fields[spec_key]
        values.update(entry)
        if "reader_project_numbers" in values:
            values["reader_project_numbers"] = tuple(values["reader_project_numbers"])
        models.append(LiveModel(**values))
    return models


def plan_options(data: dict[str, Any] | None) -> PlanOptions:
    data = data or {}
    return PlanOptions(
        targets=frozenset(data.get("targets", [])),
        replace=frozenset(data.get("replace", [])),
        refresh_only=bool(data.get("refreshOnly", False)),
    )


def preflight_facts(data: dict[str, Any] | None) -> PreflightFacts | None:
    if data is None:
        return None
    sources: dict[str, LiveModel | None] = {}
    for name, fields in (data.get("sources") or {}).items():
        sources[name] = None if fields is None else LiveModel(name=name, **fields)
    return PreflightFacts(
        base_models={
            name: BaseModelFacts(**fields)
            for name, fields in (data.get("baseModels") or {}).items()
        },
        sources=sources,
    )


def case_inputs(case: dict[str, Any]) -> dict[str, Any]:
    """make_plan keyword arguments for a case."""
    desired, spec_fields = desired_state(case.get("manifests") or [])
    return {
        "desired": desired,
        "live": live_models(case.get("live") or [], spec_fields),
        "state": state_document(case.get("state") or {}, spec_fields, desired),
        "options": plan_options(case.get("options")),
        "preflight": preflight_facts(case.get("apiFacts")),
    }
