"""``tunedModels/{id}/permissions`` and ``:transferOwnership``.

Roles are concentric (reader < writer < owner) and a model has exactly one
owner: its creator at first, then whoever ownership is transferred to, the old
owner keeping the writer role. The caller is always treated as the owner, so
these routes change what is listed, never who may call.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from reconciler.emulator.call import Call
from reconciler.emulator.tuning import TunedModelRecord
from reconciler.emulator.validation import camel_path, string
from reconciler.emulator.wire import ApiError, enum, invalid, json_response

# Who "created" every model: the emulator has no identities, and a new model
# must still list an OWNER permission for its creator.
CREATOR_EMAIL = "creator@example.com"

GRANTEE_TYPES = ("GRANTEE_TYPE_UNSPECIFIED", "USER", "GROUP", "EVERYONE")
ROLES = ("ROLE_UNSPECIFIED", "OWNER", "WRITER", "READER")


def owner_permission(permission_id: str) -> dict[str, str]:
    """The creator's permission, stored on every new model."""
    return {
        "id": permission_id,
        "granteeType": "USER",
        "emailAddress": CREATOR_EMAIL,
        "role": "OWNER",
    }


def _enum_value(value: Any, names: tuple[str, ...], field: str) -> str:
    """An enum sent as its name or its number (google-generativeai sends numbers)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and 0 < value < len(names):
        return names[value]
    if isinstance(value, str) and value.upper() in names[1:]:
        return value.upper()
    if value is None or value == 0 or value == names[0]:
        raise invalid(f"{field} is required.")
    raise invalid(f"Invalid value at 'permission.{field}' (TYPE_ENUM), {value!r}")


def render(
    record: TunedModelRecord, permission: dict[str, str], *, int_enums: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"{record.name}/permissions/{permission['id']}",
        "granteeType": enum(permission["granteeType"], int_enums=int_enums),
    }
    if permission.get("emailAddress"):
        body["emailAddress"] = permission["emailAddress"]
    body["role"] = enum(permission["role"], int_enums=int_enums)
    return body


def _found(call: Call) -> tuple[TunedModelRecord, dict[str, str]]:
    record = call.tuned_model()
    for permission in record.permissions:
        if permission["id"] == call.params["perm"]:
            return record, permission
    name = f"{record.name}/permissions/{call.params['perm']}"
    raise ApiError(404, f"Permission {name} does not exist.")


def create(call: Call) -> Response:
    record = call.tuned_model()
    body = call.body
    role = _enum_value(body.get("role"), ROLES, "role")
    grantee = _enum_value(body.get("granteeType"), GRANTEE_TYPES, "grantee_type")
    email = string(body.get("emailAddress"), "email_address")
    if grantee == "EVERYONE" and email:
        raise invalid("email_address must not be set when grantee_type is EVERYONE.")
    if grantee != "EVERYONE" and not email:
        raise invalid(f"email_address is required when grantee_type is {grantee}.")
    if role == "OWNER":
        raise invalid("A tuned model has one owner; use transferOwnership to change it.")
    for existing in record.permissions:
        if existing["granteeType"] == grantee and existing.get("emailAddress", "") == email:
            who = email or "everyone"
            raise ApiError(409, f"A permission for {who} already exists on {record.name}.")
    permission = {"id": call.emulator.random_permission_id(), "granteeType": grantee, "role": role}
    if email:
        permission["emailAddress"] = email
    record.permissions.append(permission)
    call.emulator.store.put(record)
    return json_response(render(record, permission, int_enums=call.int_enums))


def list_(call: Call) -> Response:
    record = call.tuned_model()
    size = call.page_size()
    token = call.query.get("pageToken") or ""
    start = 0
    if token:
        if not token.isdigit() or int(token) > len(record.permissions):
            raise invalid("Invalid page token.")
        start = int(token)
    page = record.permissions[start : start + size]
    body: dict[str, Any] = {}
    if page:
        body["permissions"] = [render(record, p, int_enums=call.int_enums) for p in page]
    if start + size < len(record.permissions):
        body["nextPageToken"] = str(start + size)
    return json_response(body)


def get(call: Call) -> Response:
    record, permission = _found(call)
    return json_response(render(record, permission, int_enums=call.int_enums))


def patch(call: Call) -> Response:
    """Only ``role`` may change; the rest of the body (google-generativeai sends it all) is ignored."""
    record, permission = _found(call)
    mask = call.query.get("updateMask") or ""
    paths = [camel_path(p) for p in mask.split(",") if p.strip()]
    if not paths:
        raise invalid("update_mask is required. Accepted ones: role.")
    for path in paths:
        if path != "role":
            raise invalid(f"Invalid update mask path: {path}. Accepted ones: role.")
    role = _enum_value(call.body.get("role"), ROLES, "role")
    if permission["role"] == "OWNER" or role == "OWNER":
        raise invalid("The owner's role changes only through transferOwnership.")
    permission["role"] = role
    call.emulator.store.put(record)
    return json_response(render(record, permission, int_enums=call.int_enums))


def delete(call: Call) -> Response:
    record, permission = _found(call)
    if permission["role"] == "OWNER":
        raise invalid("The owner's permission cannot be deleted; transfer ownership first.")
    record.permissions.remove(permission)
    call.emulator.store.put(record)
    return json_response({})


def transfer_ownership(call: Call) -> Response:
    """The named user becomes the owner; the current owner is downgraded to writer."""
    record = call.tuned_model()
    email = string(call.body.get("emailAddress"), "email_address")
    if not email:
        raise invalid("email_address is required.")
    target = None
    for permission in record.permissions:
        if permission["role"] == "OWNER":
            permission["role"] = "WRITER"
        if permission["granteeType"] == "USER" and permission.get("emailAddress") == email:
            target = permission
    if target is None:
        target = {
            "id": call.emulator.random_permission_id(),
            "granteeType": "USER",
            "emailAddress": email,
        }
        record.permissions.append(target)
    target["role"] = "OWNER"
    call.emulator.store.put(record)
    return json_response({})
