"""``/v1beta/tunedModels``: create, get, list, patch, delete."""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from typing import Any

from starlette.responses import Response

from reconciler.emulator import catalog, permissions, validation
from reconciler.emulator.call import Call, missing_model
from reconciler.emulator.partial_response import FieldMask, selected_text
from reconciler.emulator.render import operation, tuned_model, tuned_model_text
from reconciler.emulator.tuning import ACTIVE, TunedModelRecord, progress, total_steps
from reconciler.emulator.wire import ApiError, invalid, json_response, raw_json_response

MUTABLE = {
    "displayName": "display_name",
    "description": "description",
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "readerProjectNumbers": "reader_project_numbers",
}
IMMUTABLE = ("baseModel", "tunedModelSource", "tuningTask")
OUTPUT_ONLY = ("name", "state", "createTime", "updateTime")


def create(call: Call) -> Response:
    body, em = call.body, call.emulator
    model_id = call.query.get("tunedModelId") or ""
    if model_id:
        validation.check_id(model_id)
    display_name = validation.check_display_name(body.get("displayName"))
    if not model_id and not display_name:
        raise invalid("Either tuned_model_id or display_name must be set.")
    base_model, source = _source(call)
    temperature, top_p, top_k = validation.sampling(body)
    task = body.get("tuningTask")
    examples = validation.examples(task)
    assert isinstance(task, dict)
    hyperparameters = validation.hyperparameters(task.get("hyperparameters"))
    validation.check_steps(
        total_steps(
            examples=len(examples),
            epochs=hyperparameters["epochCount"],
            batch=hyperparameters["batchSize"],
        )
    )
    if model_id and em.store.get(model_id) is not None:
        raise ApiError(409, f"Tuned model tunedModels/{model_id} already exists.")
    if not model_id:
        model_id = _generated_id(call, display_name)
    defaults = catalog.BASE_MODELS[base_model]
    record = TunedModelRecord(
        model_id=model_id,
        seq=em.store.next_seq(),
        operation_id=em.random_id(),
        base_model=base_model,
        source_model=source,
        display_name=display_name,
        description=validation.string(body.get("description"), "description"),
        temperature=defaults["temperature"] if temperature is None else temperature,
        top_p=defaults["topP"] if top_p is None else top_p,
        top_k=defaults["topK"] if top_k is None else top_k,
        reader_project_numbers=validation.reader_projects(body.get("readerProjectNumbers")),
        hyperparameters=hyperparameters,
        examples=examples,
        create_time=call.now,
        update_time=call.now,
        step_seconds=em.config.step_seconds,
        permissions=[permissions.owner_permission(em.random_permission_id())],
    )
    # Decided once, at create, from the seeded stream: a restart or a re-read never changes it.
    if em.tuning_rng.random() < em.config.tuning_fail_rate:
        record.fail_at_step = max(1, record.total_steps // 2)
    em.store.put(record)
    em.stats.creates[model_id] += 1
    return json_response(operation(record, call.now, int_enums=call.int_enums))


def _source(call: Call) -> tuple[str, str | None]:
    """(base model, source tuned model or None), after checking that both exist."""
    body = call.body
    source = body.get("tunedModelSource")
    if isinstance(source, dict) and source.get("tunedModel"):
        if body.get("baseModel"):
            raise invalid("Only one of base_model and tuned_model_source may be set.")
        name = validation.string(source["tunedModel"], "tuned_model_source.tuned_model")
        record = call.emulator.store.get(name.removeprefix("tunedModels/"))
        if record is None or not name.startswith("tunedModels/"):
            raise missing_model(name)
        state = progress(record, call.now).state
        if state != ACTIVE:
            raise ApiError(
                400,
                f"Tuned model {name} is not ready to be tuned from (state {state}).",
                status="FAILED_PRECONDITION",
            )
        return record.base_model, record.name
    base = validation.string(body.get("baseModel"), "base_model")
    if not base:
        raise invalid("One of base_model or tuned_model_source must be set.")
    if catalog.tunable(base) is None:
        raise validation.base_model_not_found(base)
    return base, None


def _generated_id(call: Call, display_name: str) -> str:
    """'number generator model' -> 'number-generator-model-dzlmi0gswwqb', as the service does."""
    words = [re.sub(r"[^a-z0-9]", "", w) for w in display_name.lower().split()]
    slug = "-".join(w for w in words if w)[:27].strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"model-{slug}".strip("-")[:27].strip("-")
    while True:
        candidate = f"{slug}-{call.emulator.random_id()}"
        if call.emulator.store.get(candidate) is None:
            return candidate


def get(call: Call) -> Response:
    record = call.tuned_model()
    text = tuned_model_text(record, call.now, int_enums=call.int_enums, mask=call.fields)
    return raw_json_response(text) if call.fields is None else selected_text(text)


def list_(call: Call) -> Response:
    size = call.page_size()
    text_filter = call.query.get("filter", "")
    binding = zlib.crc32(f"{size}\0{text_filter}".encode())
    after = _cursor(call.query.get("pageToken", ""), binding)
    terms, include = _filter(text_filter)
    page: list[TunedModelRecord] = []
    more = False
    for record in call.emulator.store.after(after) if include else ():
        if terms and not _matches(record, terms):
            continue
        if len(page) == size:
            more = True
            break
        page.append(record)
    token = page_token(page[-1].seq, binding) if more and page else None
    if call.fields is not None:
        return _partial_page(call, call.fields, page, token)
    if not page:
        return raw_json_response("{}")
    models = (tuned_model_text(r, call.now, int_enums=call.int_enums) for r in page)
    text = '{"tunedModels":[' + ",".join(models) + "]"
    if token is not None:
        text += f',"nextPageToken":"{token}"'
    return raw_json_response(text + "}")


def _partial_page(
    call: Call, mask: FieldMask, page: list[TunedModelRecord], token: str | None
) -> Response:
    """A list page cut down to ``mask``, model by model, as ``mask.select`` would cut it.

    Each model goes through the (cached) per-model text, so a mask that drops
    snapshots costs no more than a whole page.
    """
    members: list[str] = []
    models = mask.part("tunedModels")
    if page and models is not None:
        texts = (tuned_model_text(r, call.now, int_enums=call.int_enums, mask=models) for r in page)
        members.append('"tunedModels":[' + ",".join(texts) + "]")
    token_mask = mask.part("nextPageToken")
    # A string is kept only whole: sub-fields of it select nothing.
    if token is not None and token_mask is not None and token_mask.tree is None:
        members.append(f'"nextPageToken":"{token}"')
    return selected_text("{" + ",".join(members) + "}")


def page_token(seq: int, binding: int) -> str:
    raw = json.dumps({"after": seq, "query": binding}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(token: str, binding: int) -> int:
    """A page token is only good for the query that made it (same filter, same page size)."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        seq, bound = int(data["after"]), int(data["query"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid("Invalid page token.") from None
    if bound != binding:
        raise invalid("The page token does not match the request (filter or page size changed).")
    return seq


def _filter(text: str) -> tuple[list[str], bool]:
    """Free-text terms (all must match), and whether anything can match at all.

    ``owner:me``, ``writers:me`` and ``readers:me`` hold for every model here (the
    caller owns them all); no model is shared with everyone.
    """
    terms: list[str] = []
    include = True
    for term in text.lower().split():
        if ":" in term:
            if term == "readers:everyone":
                include = False
            continue
        terms.append(term)
    return terms, include


def _matches(record: TunedModelRecord, terms: list[str]) -> bool:
    haystack = f"{record.display_name}\n{record.description}".lower()
    return all(term in haystack for term in terms)


def patch(call: Call) -> Response:
    record = call.tuned_model()
    mask = call.query.get("updateMask") or ""
    body = call.body
    if mask:
        paths = [validation.camel_path(p) for p in mask.split(",") if p.strip()]
        for path in paths:
            _check_path(path)
    else:
        # No mask (google-genai's models.update): the populated mutable fields.
        paths = [key for key in MUTABLE if body.get(key) not in (None, "", [])]
    updates: dict[str, Any] = {}
    for path in paths:
        value = body.get(path)
        if path == "displayName":
            updates["display_name"] = validation.check_display_name(value)
        elif path == "description":
            updates["description"] = validation.string(value, "description")
        elif path == "readerProjectNumbers":
            updates["reader_project_numbers"] = validation.reader_projects(value)
    if {"temperature", "topP", "topK"} & set(paths):
        temperature, top_p, top_k = validation.sampling(body)
        for path, value in (("temperature", temperature), ("topP", top_p), ("topK", top_k)):
            if path in paths:
                updates[MUTABLE[path]] = value
    for attribute, value in updates.items():
        setattr(record, attribute, value)
    record.update_time = call.now
    call.emulator.store.put(record)
    prog = progress(record, call.now)
    return json_response(tuned_model(record, prog, int_enums=call.int_enums))


def _check_path(path: str) -> None:
    root = path.split(".")[0]
    if path in MUTABLE:
        return
    if root in IMMUTABLE:
        raise invalid(f"Field {path} is immutable and cannot be updated.")
    if root in OUTPUT_ONLY:
        raise invalid(f"Field {path} is output only and cannot be updated.")
    raise invalid(f"Invalid update mask path: {path}.")


def delete(call: Call) -> Response:
    record = call.tuned_model()
    call.emulator.store.delete(record.model_id)
    return json_response({})
