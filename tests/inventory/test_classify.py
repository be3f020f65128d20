"""The pure classification: live models and the state in, one status per model out."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.applied import ModelRecord, StateDocument
from reconciler.inventory import Status, classify, collect_inventory, resolve_name
from reconciler.live import LiveModel, OperationStatus, Snapshot
from reconciler.spec import AppliedSpec, DatasetRef, Hyperparameters

BASE = "models/gemini-1.5-flash-001-tuning"


def _spec(**fields: object) -> AppliedSpec:
    values: dict[str, object] = {"baseModel": BASE, "displayName": "A"}
    values.update(fields)
    return AppliedSpec.model_validate(values)


def _live(model_id: str, **fields: object) -> LiveModel:
    values: dict[str, object] = {"state": "ACTIVE", "base_model": BASE, "display_name": "A"}
    values.update(fields)
    return LiveModel(name=f"tunedModels/{model_id}", **values)  # type: ignore[arg-type]


def _state(**records: ModelRecord) -> StateDocument:
    return StateDocument(models=records)


def _status(live: list[LiveModel], state: StateDocument) -> dict[str, str]:
    return {row.name: row.status.value for row in classify(live=live, state=state).rows}


def test_managed_model_matching_the_applied_spec() -> None:
    row = classify(
        live=[_live("a", temperature=1.0, top_p=0.95, top_k=64)],
        state=_state(a=ModelRecord(name="tunedModels/a", applied=_spec())),
    ).rows[0]
    assert row.status is Status.MANAGED
    assert row.address == "TunedModel/a"
    assert row.drift == ()
    assert row.detail == ""


def test_fields_the_manifest_left_unset_never_drift() -> None:
    # temperature/description/readers unset in the spec: the server's values are fine.
    live = _live("a", temperature=0.7, description="set by hand", reader_project_numbers=("1",))
    state = _state(a=ModelRecord(name="tunedModels/a", applied=_spec()))
    assert _status([live], state) == {"tunedModels/a": "managed"}


def test_float32_echo_is_not_drift() -> None:
    live = _live("a", temperature=0.20000000298023224)
    state = _state(a=ModelRecord(name="tunedModels/a", applied=_spec(temperature=0.2)))
    assert _status([live], state) == {"tunedModels/a": "managed"}


def test_drift_names_every_changed_mutable_field_in_mask_order() -> None:
    live = _live("a", display_name="B", top_k=3, description="new")
    spec = _spec(topK=40, description="old")
    row = classify(
        live=[live], state=_state(a=ModelRecord(name="tunedModels/a", applied=spec))
    ).rows[0]
    assert row.status is Status.DRIFTED
    assert row.drift == ("displayName", "description", "topK")
    assert row.detail == "drift: displayName, description, topK"


def test_unmanaged_wins_over_the_live_state() -> None:
    rows = classify(
        live=[_live("x", state="FAILED"), _live("y", state="CREATING")], state=_state()
    ).rows
    assert [(r.name, r.status.value, r.address) for r in rows] == [
        ("tunedModels/x", "unmanaged", None),
        ("tunedModels/y", "unmanaged", None),
    ]


def test_failed_carries_the_recorded_error_or_says_so() -> None:
    state = _state(
        a=ModelRecord(name="tunedModels/a", applied=_spec(), lastError="quota"),
        b=ModelRecord(name="tunedModels/b", applied=_spec()),
    )
    rows = classify(live=[_live("a", state="FAILED"), _live("b", state="FAILED")], state=state).rows
    assert [(r.status.value, r.error, r.detail) for r in rows] == [
        ("failed", "quota", "quota"),
        ("failed", None, "tuning failed"),
    ]


def test_in_flight_progress_estimated_from_the_applied_spec() -> None:
    spec = _spec(
        hyperparameters=Hyperparameters(epochCount=4, batchSize=8),
        dataset=DatasetRef(name="d", hash=None, examples=100),
    )  # ceil(100 x 4 / 8) = 50 steps
    live = _live("a", state="CREATING", snapshots=(Snapshot(step=1), Snapshot(step=10)))
    row = classify(
        live=[live], state=_state(a=ModelRecord(name="tunedModels/a", applied=spec))
    ).rows[0]
    assert row.status is Status.IN_FLIGHT
    assert row.progress is not None
    assert (row.progress.completed_steps, row.progress.total_steps) == (10, 50)
    assert row.detail == "20% (step 10/50)"


def test_in_flight_defaults_are_five_epochs_of_batch_four() -> None:
    spec = _spec(dataset=DatasetRef(name="d", hash=None, examples=15))  # ceil(15 x 5 / 4) = 19
    live = _live("a", state="CREATING")
    row = classify(
        live=[live], state=_state(a=ModelRecord(name="tunedModels/a", applied=spec))
    ).rows[0]
    assert row.progress is not None and row.progress.total_steps == 19
    assert row.detail == "0% (step 0/19)"


def test_the_operation_beats_the_estimate_and_unknown_totals_say_so() -> None:
    state = _state(
        a=ModelRecord(name="tunedModels/a", applied=_spec(), imported=True),
        b=ModelRecord(name="tunedModels/b", applied=_spec(), imported=True),
    )
    operation = OperationStatus(
        name="tunedModels/a/operations/x", model="tunedModels/a", total_steps=40, completed_steps=30
    )
    rows = classify(
        live=[
            _live("a", state="CREATING"),
            _live("b", state="CREATING", snapshots=(Snapshot(step=3),)),
        ],
        state=state,
        operations={"tunedModels/a": operation},
    ).rows
    assert [r.detail for r in rows] == ["75% (step 30/40)", "step 3 of ?"]


def test_missing_models_keep_their_address_unless_a_filter_hid_them() -> None:
    state = _state(gone=ModelRecord(name="tunedModels/gone", applied=_spec(displayName="G")))
    rows = classify(live=[], state=state).rows
    assert [(r.status.value, r.address, r.display_name, r.state) for r in rows] == [
        ("missing", "TunedModel/gone", "G", None)
    ]
    assert classify(live=[], state=state, include_missing=False).rows == ()
    assert rows[0].detail == "deleted outside the reconciler"


def test_an_interrupted_create_is_not_called_deleted() -> None:
    state = _state(new=ModelRecord(name="tunedModels/new", pendingCreate=_spec()))
    (row,) = classify(live=[], state=state).rows
    assert row.status.value == "missing"
    assert row.detail == "interrupted create never reached the API; the next apply creates it"


def test_rows_are_sorted_and_totals_name_every_status() -> None:
    state = _state(m=ModelRecord(name="tunedModels/m", applied=_spec()))
    inventory = classify(live=[_live("z"), _live("m"), _live("b")], state=state)
    assert [r.name for r in inventory.rows] == ["tunedModels/b", "tunedModels/m", "tunedModels/z"]
    assert inventory.totals == {
        "managed": 1,
        "drifted": 0,
        "in-flight": 0,
        "failed": 0,
        "unmanaged": 2,
        "missing": 0,
    }
    assert inventory.total == 3


def test_live_models_are_matched_by_the_recorded_live_name() -> None:
    # The state is keyed by manifest name; live models are matched by their live name.
    state = _state(app=ModelRecord(name="tunedModels/app-v2", applied=_spec()))
    rows = classify(live=[_live("app-v2"), _live("app")], state=state).rows
    assert [(r.name, r.status.value, r.address) for r in rows] == [
        ("tunedModels/app", "unmanaged", None),
        ("tunedModels/app-v2", "managed", "TunedModel/app"),
    ]


def test_resolve_name() -> None:
    state = _state(app=ModelRecord(name="tunedModels/app-v2"))
    assert resolve_name(ref="app", state=state) == ("tunedModels/app-v2", "app")
    assert resolve_name(ref="tunedModels/app-v2", state=state) == ("tunedModels/app-v2", "app")
    assert resolve_name(ref="other", state=state) == ("tunedModels/other", None)
    assert resolve_name(ref="tunedModels/x", state=state) == ("tunedModels/x", None)


class _FakeClient:
    """Behaves like the API for what the inventory asks: pages of models and operations."""

    def __init__(self, models: list[LiveModel], operations: dict[str, OperationStatus]) -> None:
        self.models = models
        self.operations = operations
        self.list_calls: list[tuple[str | None, int]] = []
        self.operation_gets: list[str] = []

    def list_tuned_models(
        self, *, filter: str | None = None, page_size: int = 1000
    ) -> Iterator[LiveModel]:
        self.list_calls.append((filter, page_size))
        return iter([m for m in self.models if not filter or filter in (m.display_name or "")])

    def get_operation(self, name: str) -> OperationStatus:
        self.operation_gets.append(name)
        return self.operations[name]


def test_collect_fetches_an_operation_only_when_the_state_cannot_estimate() -> None:
    estimable = _spec(dataset=DatasetRef(name="d", hash=None, examples=15))
    state = _state(
        a=ModelRecord(
            name="tunedModels/a", applied=estimable, operation="tunedModels/a/operations/1"
        ),
        b=ModelRecord(
            name="tunedModels/b", applied=_spec(), operation="tunedModels/b/operations/2"
        ),
    )
    op_b = OperationStatus(name="tunedModels/b/operations/2", model="tunedModels/b", total_steps=8)
    client = _FakeClient(
        [_live("a", state="CREATING"), _live("b", state="CREATING")],
        {"tunedModels/b/operations/2": op_b},
    )
    inventory = collect_inventory(client=client, state=state)
    assert client.list_calls == [(None, 1000)]
    assert client.operation_gets == ["tunedModels/b/operations/2"]
    assert [r.detail for r in inventory.rows] == ["0% (step 0/19)", "0% (step 0/8)"]


def test_collect_with_a_filter_passes_it_and_omits_missing() -> None:
    state = _state(gone=ModelRecord(name="tunedModels/gone", applied=_spec()))
    client = _FakeClient([_live("a", display_name="Alpha"), _live("b", display_name="Beta")], {})
    inventory = collect_inventory(client=client, state=state, filter="Alp")
    assert client.list_calls == [("Alp", 1000), (None, 1000)]  # the second for ids
    assert inventory.filter == "Alp"
    assert [(r.name, r.status.value) for r in inventory.rows] == [("tunedModels/a", "unmanaged")]


def test_a_filter_also_matches_model_ids() -> None:
    live = [_live(f"batch-{n}", display_name="Nightly summariser") for n in (1, 2, 3)]
    client = _FakeClient([*live, _live("other", display_name="A batch job")], {})
    inventory = collect_inventory(client=client, state=_state(), filter="batch")
    assert [r.name for r in inventory.rows] == [
        "tunedModels/batch-1",
        "tunedModels/batch-2",
        "tunedModels/batch-3",
        "tunedModels/other",  # the API's own match, on its display name
    ]


def test_a_filter_with_an_api_only_term_is_left_to_the_api() -> None:
    client = _FakeClient([_live("owner-model", display_name="X")], {})
    inventory = collect_inventory(client=client, state=_state(), filter="owner:me")
    assert client.list_calls == [("owner:me", 1000)]
    assert inventory.rows == ()
