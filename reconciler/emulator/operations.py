"""``tunedModels/{id}/operations``: get, list, cancel (under /v1 and /v1beta)."""

from __future__ import annotations

from starlette.responses import Response

from reconciler.emulator.call import Call
from reconciler.emulator.render import operation
from reconciler.emulator.tuning import CREATING, TunedModelRecord, progress
from reconciler.emulator.wire import ApiError, invalid, json_response


def _operation_of(call: Call) -> TunedModelRecord:
    name = f"tunedModels/{call.params['id']}/operations/{call.params['op']}"
    record = call.emulator.store.get(call.params["id"])
    if record is None or record.operation_id != call.params["op"]:
        raise ApiError(404, f"Operation {name} does not exist.")
    return record


def get(call: Call) -> Response:
    record = _operation_of(call)
    return json_response(operation(record, call.now, int_enums=call.int_enums))


def list_(call: Call) -> Response:
    """A tuned model has exactly one operation, the create; pages exist for the contract."""
    record = call.tuned_model()
    call.page_size()  # validates
    token = call.query.get("pageToken", "")
    if token and token != "end":
        raise invalid("Invalid page token.")
    if token == "end":
        return json_response({})
    return json_response({"operations": [operation(record, call.now, int_enums=call.int_enums)]})


def cancel(call: Call) -> Response:
    """Ends a running tuning with CANCELLED and the model FAILED; a finished one is left alone."""
    record = _operation_of(call)
    if progress(record, call.now).state == CREATING:
        record.cancel_time = call.now
        call.emulator.store.put(record)
    return json_response({})
