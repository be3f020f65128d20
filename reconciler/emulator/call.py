"""What a request handler gets: the emulator, path parameters, query, JSON body, time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from reconciler.emulator.partial_response import FieldMask
from reconciler.emulator.state import Emulator
from reconciler.emulator.tuning import TunedModelRecord
from reconciler.emulator.wire import ApiError, invalid


@dataclass(frozen=True)
class Call:
    emulator: Emulator
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: dict[str, Any]
    int_enums: bool
    now: float
    path: str
    # The partial-response selector (``fields``), None for the whole answer. The
    # gateway applies it to every JSON answer; a handler may apply it itself to
    # skip work (see ``partial_response.Selected``).
    fields: FieldMask | None = None
    # The body as sent and its media type, for routes whose body is not JSON.
    raw_body: bytes = b""
    content_type: str = ""
    # scheme://host/ as the client reached the emulator, for links in answers.
    base_url: str = ""
    # Request headers (lower-case names) for raw routes: a resumable upload's
    # Content-Range and X-Upload-Content-*; empty for JSON routes.
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        """``v1beta`` or ``v1``, as the path says; error messages name it."""
        return self.path.split("/")[1]

    def tuned_model(self) -> TunedModelRecord:
        model_id = self.params["id"]
        record = self.emulator.store.get(model_id)
        if record is None:
            raise missing_model(f"tunedModels/{model_id}")
        return record

    def page_size(self, *, default: int = 10, maximum: int = 1000) -> int:
        raw = self.query.get("pageSize", "")
        if not raw:
            return default
        try:
            size = int(raw)
        except ValueError:
            raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"") from None
        if size < 0:
            raise invalid("page_size must not be negative.")
        return min(size, maximum) if size else default


Handler = Callable[[Call], Response]


def missing_model(name: str) -> ApiError:
    return ApiError(404, f"Tuned model {name} does not exist.")
