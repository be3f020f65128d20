"""tunedModels/{id}/permissions and :transferOwnership: exact bodies and codes."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.emulator.conftest import create_body
from tests.emulator.openapi import validate
from tests.support.servers import serve_emulator

INT_ENUMS = "%24alt=json%3Benum-encoding%3Dint"
PERMS = "/v1beta/tunedModels/inc/permissions"


@pytest.fixture
def model(client: TestClient) -> TestClient:
    assert client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).is_success
    return client


def _id(permission: dict[str, Any]) -> str:
    return str(permission["name"]).rsplit("/", 1)[1]


def test_a_new_model_lists_its_creator_as_owner(model: TestClient) -> None:
    listed = model.get(PERMS).json()
    validate(listed, "ListPermissionsResponse")
    [owner] = listed["permissions"]
    assert owner == {
        "name": f"tunedModels/inc/permissions/{_id(owner)}",
        "granteeType": "USER",
        "emailAddress": "creator@example.com",
        "role": "OWNER",
    }
    assert _id(owner).isalnum() and _id(owner).islower()
    assert model.get(f"{PERMS}/{_id(owner)}").json() == owner
    numbers = model.get(f"{PERMS}?{INT_ENUMS}").json()["permissions"][0]
    assert (numbers["granteeType"], numbers["role"]) == (1, 1)
    validate(numbers, "Permission", int_enums=True)


def test_create_with_int_or_string_enums_and_no_email_for_everyone(model: TestClient) -> None:
    everyone = model.post(f"{PERMS}?{INT_ENUMS}", json={"granteeType": 3, "role": 3})
    assert everyone.status_code == 200
    assert everyone.json() == {"name": everyone.json()["name"], "granteeType": 3, "role": 3}
    group = model.post(
        PERMS,
        json={"grantee_type": "GROUP", "email_address": "team@googlegroups.com", "role": "WRITER"},
    ).json()
    assert group == {
        "name": group["name"],
        "granteeType": "GROUP",
        "emailAddress": "team@googlegroups.com",
        "role": "WRITER",
    }
    names = [p["name"] for p in model.get(PERMS).json()["permissions"]]
    assert names[1:] == [everyone.json()["name"], group["name"]]
    page = model.get(f"{PERMS}?pageSize=2").json()
    assert len(page["permissions"]) == 2
    rest = model.get(f"{PERMS}?pageSize=2&pageToken={page['nextPageToken']}").json()
    assert [p["name"] for p in rest["permissions"]] == [
        group["name"]
    ] and "nextPageToken" not in rest


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"granteeType": 3, "role": 3, "emailAddress": "a@b.c"}, 400, "email_address must not be set when grantee_type is EVERYONE."),
        ({"granteeType": "USER", "role": "READER"}, 400, "email_address is required when grantee_type is USER."),
        ({"granteeType": "USER", "emailAddress": "a@b.c"}, 400, "role is required."),
        ({"granteeType": "ROBOT", "emailAddress": "a@b.c", "role": 3}, 400, "Invalid value at 'permission.grantee_type' (TYPE_ENUM), 'ROBOT'"),
        ({"granteeType": 1, "emailAddress": "a@b.c", "role": 1}, 400, "A tuned model has one owner; use transferOwnership to change it."),
        ({"granteeType": 1, "emailAddress": "creator@example.com", "role": 3}, 409, "A permission for creator@example.com already exists on tunedModels/inc."),
    ],
)  # fmt: skip
def test_create_rejects_bad_permissions(
    model: TestClient, body: dict[str, Any], code: int, message: str
) -> None:
    r = model.post(PERMS, json=body)
    assert (r.status_code, r.json()["error"]["message"]) == (code, message)


def test_patch_changes_only_the_role(model: TestClient) -> None:
    reader = model.post(PERMS, json={"granteeType": 1, "emailAddress": "a@b.c", "role": 3}).json()
    url = f"/v1beta/{reader['name']}"
    # google-generativeai sends the whole permission with the mask naming only role.
    r = model.patch(
        f"{url}?updateMask=role&{INT_ENUMS}",
        json={"granteeType": 2, "emailAddress": "x@googlegroups.com", "role": 2},
    )
    assert r.status_code == 200
    assert r.json() == {
        "name": reader["name"],
        "granteeType": 1,
        "emailAddress": "a@b.c",
        "role": 2,
    }
    assert model.get(url).json()["role"] == "WRITER"
    for query, message in [
        ("", "update_mask is required. Accepted ones: role."),
        (
            "?updateMask=emailAddress",
            "Invalid update mask path: emailAddress. Accepted ones: role.",
        ),
    ]:
        bad = model.patch(url + query, json={"role": 3})
        assert (bad.status_code, bad.json()["error"]["message"]) == (400, message)


def test_delete_and_missing_permissions(model: TestClient) -> None:
    reader = model.post(PERMS, json={"granteeType": 1, "emailAddress": "a@b.c", "role": 3}).json()
    url = f"/v1beta/{reader['name']}"
    assert (
        model.delete(url).status_code,
        model.delete(f"/v1beta/{reader['name']}").status_code,
    ) == (200, 404)
    assert model.get(url).json() == {
        "error": {
            "code": 404,
            "message": f"Permission {reader['name']} does not exist.",
            "status": "NOT_FOUND",
        }
    }
    owner = model.get(PERMS).json()["permissions"][0]
    refused = model.delete(f"/v1beta/{owner['name']}")
    assert refused.status_code == 400
    missing = model.get("/v1beta/tunedModels/gone/permissions")
    assert missing.json()["error"]["message"] == "Tuned model tunedModels/gone does not exist."


def test_transfer_ownership_downgrades_the_old_owner_to_writer(model: TestClient) -> None:
    r = model.post(
        "/v1beta/tunedModels/inc:transferOwnership", json={"email_address": "b@example.com"}
    )
    assert (r.status_code, r.json()) == (200, {})
    validate(r.json(), "TransferOwnershipResponse")
    roles = {p["emailAddress"]: p["role"] for p in model.get(PERMS).json()["permissions"]}
    assert roles == {"creator@example.com": "WRITER", "b@example.com": "OWNER"}
    bad = model.post("/v1beta/tunedModels/inc:transferOwnership", json={})
    assert (bad.status_code, bad.json()["error"]["message"]) == (400, "email_address is required.")


def test_permissions_are_dropped_with_the_model(model: TestClient) -> None:
    model.delete("/v1beta/tunedModels/inc")
    model.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body())
    assert len(model.get(PERMS).json()["permissions"]) == 1


def test_google_generativeai_permission_calls_over_rest() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import google.generativeai as legacy

    with warnings.catch_warnings(), serve_emulator("--step-seconds", "0", api_key="k") as emu:
        warnings.filterwarnings("ignore", ".*including_default_value_fields.*", DeprecationWarning)
        legacy.configure(api_key="k", transport="rest", client_options={"api_endpoint": emu.url})
        legacy.create_tuned_model(
            source_model="models/gemini-1.5-flash-001-tuning",
            training_data=[{"text_input": "1", "output": "2"}],
            id="inc",
        )
        perms = legacy.get_tuned_model("tunedModels/inc").permissions
        everyone = perms.create(role="reader", grantee_type="everyone")
        group = perms.create(role="reader", email_address="team@googlegroups.com")
        assert (everyone.grantee_type.name, everyone.role.name) == ("EVERYONE", "READER")
        assert group.grantee_type.name == "GROUP"
        # Permission.update stores the value as given, so it must already be the enum.
        group.update({"role": legacy.protos.Permission.Role.WRITER})
        fetched = legacy.types.Permission.get(group.name)
        assert (fetched.role.name, fetched.email_address) == ("WRITER", "team@googlegroups.com")
        everyone.delete()
        perms.transfer_ownership(email_address="b@example.com")
        listed = {p.email_address: p.role.name for p in perms.list()}
        assert listed == {
            "creator@example.com": "WRITER",
            "team@googlegroups.com": "WRITER",
            "b@example.com": "OWNER",
        }
