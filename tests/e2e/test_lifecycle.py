"""create / update / replace / recreate / delete / import / destroy through the real CLI.

Each test writes manifests into its own directory, runs ``python -m reconciler``
against a served emulator, and checks what a user would: exit codes, output,
the live models (plain HTTP) and the emulator's request counts.
"""

from __future__ import annotations

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model

POST = "POST /v1beta/tunedModels"
PATCH = "PATCH /v1beta/tunedModels/{id}"
DELETE = "DELETE /v1beta/tunedModels/{id}"


def test_create_waits_until_active_and_the_next_plan_is_all_noop(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta", source="alpha"))

    result = ws.apply()

    assert result.returncode == 0, result.stderr
    assert "Apply complete: 2 created" in result.stdout
    assert {m: live["state"] for m, live in ws.live().items()} == {
        "alpha": "ACTIVE",
        "beta": "ACTIVE",
    }
    assert ws.creates() == {"alpha": 1, "beta": 1}
    assert ws.kinds() == {"alpha": "noop", "beta": "noop"}
    assert ws.cli("plan", "--detailed-exitcode").returncode == 0
    records = ws.state_doc()["models"]
    assert all(r["operation"] is None and r["pendingCreate"] is None for r in records.values())
    assert records["beta"]["applied"]["tunedModelSource"] == "tunedModels/alpha"


def test_a_display_name_change_is_one_patch_of_display_name_only(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", display_name="Old name"))
    assert ws.apply().returncode == 0
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", display_name="New name"))

    action = ws.actions()["alpha"]
    assert action["action"] == "update"
    assert action["updateMask"] == ["displayName"]
    assert action["changes"] == [{"path": "displayName", "before": "Old name", "after": "New name"}]
    assert ws.cli("plan", "--detailed-exitcode").returncode == 2
    before = ws.stats()["requests"]
    result = ws.apply()

    assert result.returncode == 0, result.stderr
    assert "1 updated" in result.stdout
    after = ws.stats()["requests"]
    assert after.get(PATCH, 0) - before.get(PATCH, 0) == 1
    assert after.get(POST, 0) == before.get(POST, 0)
    live = ws.live()["alpha"]
    assert live["displayName"] == "New name"
    assert live["state"] == "ACTIVE"
    assert ws.creates() == {"alpha": 1}
    assert ws.kinds() == {"alpha": "noop"}


def test_out_of_band_patch_and_delete_plan_an_update_and_a_recreate(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta"))
    assert ws.apply().returncode == 0
    ws.patch_out_of_band("alpha", displayName="Renamed by hand")
    ws.delete_out_of_band("beta")

    actions = ws.actions()

    assert actions["alpha"]["action"] == "update"
    assert actions["alpha"]["updateMask"] == ["displayName"]
    assert actions["alpha"]["changes"] == [
        {"path": "displayName", "before": "Renamed by hand", "after": "Alpha"}
    ]
    assert actions["beta"]["action"] == "recreate"
    assert actions["beta"]["reasons"] == ["deleted outside the reconciler"]
    result = ws.apply()
    assert result.returncode == 0, result.stderr
    assert ws.live()["alpha"]["displayName"] == "Alpha"
    assert ws.creates() == {"alpha": 1, "beta": 2}
    assert ws.kinds() == {"alpha": "noop", "beta": "noop"}


def test_editing_an_example_replaces_the_model_and_what_is_tuned_from_it_after_it(
    ws: Workspace,
) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        dataset("other", [("a", "b"), ("c", "d")]),
        tuned_model("alpha"),
        tuned_model("beta", source="alpha", data="other"),
    )
    assert ws.apply().returncode == 0
    ws.write(
        dataset("numbers", [*NUMBERS[:-1], ("41", "forty-two")]),
        dataset("other", [("a", "b"), ("c", "d")]),
        tuned_model("alpha"),
        tuned_model("beta", source="alpha", data="other"),
    )

    plan = ws.plan_json()

    kinds = [(a["name"], a["action"]) for a in plan["actions"]]
    assert kinds == [("tunedModels/alpha", "replace"), ("tunedModels/beta", "replace")]
    assert any("training data" in reason for reason in plan["actions"][0]["reasons"])
    result = ws.apply()
    assert result.returncode == 0, result.stderr
    assert "2 replaced" in result.stdout
    lines = result.stdout.splitlines()
    alpha_active = lines.index("TunedModel/alpha: replace succeeded (ACTIVE)")
    beta_started = lines.index("TunedModel/beta: replace started")
    assert alpha_active < beta_started
    assert ws.creates() == {"alpha": 2, "beta": 2}
    assert ws.kinds() == {"alpha": "noop", "beta": "noop"}


def test_a_model_removed_from_the_manifests_is_deleted(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("gamma"))
    assert ws.apply().returncode == 0
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))

    action = ws.actions()["gamma"]
    assert action["action"] == "delete"
    assert action["reasons"] == ["removed from the manifests"]
    result = ws.apply()

    assert result.returncode == 0, result.stderr
    assert "1 deleted" in result.stdout
    assert set(ws.live()) == {"alpha"}
    assert set(ws.state_doc()["models"]) == {"alpha"}


def test_prevent_destroy_makes_the_plan_fail_instead_of_deleting(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("keeper", prevent_destroy=True))
    assert ws.apply().returncode == 0
    ws.write(dataset("numbers", NUMBERS), tuned_model("other"))

    result = ws.cli("plan")
    applied = ws.cli("apply", "--auto-approve")

    assert result.returncode == 1
    assert "Error:" in result.stderr
    assert "preventDestroy" in result.stderr
    assert "keeper" in result.stderr
    assert applied.returncode == 1
    assert set(ws.live()) == {"keeper"}


def test_a_model_made_out_of_band_is_a_conflict_until_imported(ws: Workspace) -> None:
    ws.create_out_of_band("legacy", display_name="Legacy")
    ws.write(dataset("numbers", NUMBERS), tuned_model("legacy", display_name="Legacy"))

    conflict = ws.cli("plan")

    assert conflict.returncode == 1
    assert "reconciler import legacy tunedModels/legacy" in conflict.stderr
    imported = ws.cli("import", "legacy", "tunedModels/legacy")
    assert imported.returncode == 0, imported.stderr
    assert "Imported tunedModels/legacy as TunedModel/legacy." in imported.stdout
    action = ws.actions()["legacy"]
    assert action["action"] == "noop"
    assert action["notes"] == ["training data unknown until the next replace"]
    assert ws.cli("plan", "--detailed-exitcode").returncode == 0
    record = ws.state_doc()["models"]["legacy"]
    assert record["imported"] is True
    assert record["applied"]["dataset"] is None
    assert ws.creates() == {"legacy": 1}


def test_destroy_one_target_then_everything(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), *(tuned_model(n) for n in ("alpha", "beta", "gamma")))
    assert ws.apply().returncode == 0

    one = ws.cli("destroy", "--auto-approve", "--target", "gamma")

    assert one.returncode == 0, one.stderr
    assert "Destroy complete: 0 created, 0 updated, 0 replaced, 1 deleted" in one.stdout
    assert set(ws.live()) == {"alpha", "beta"}
    assert set(ws.state_doc()["models"]) == {"alpha", "beta"}
    everything = ws.cli("destroy", "--auto-approve")
    assert everything.returncode == 0, everything.stderr
    assert "2 deleted" in everything.stdout
    assert ws.live() == {}
    assert ws.state_doc()["models"] == {}
    assert ws.requests(DELETE) == 3
