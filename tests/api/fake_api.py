"""An in-memory Gemini API that behaves (per gemini-api-wire-facts.md), for httpx.MockTransport.

It keeps tuned models and operations, pages lists, answers 404/409 with
google.rpc.Status bodies, and can be told to fail the next requests in the
ways the real service does: an error status (optionally after the change took
effect, as when the answer is lost), or a dropped connection. Every request is
recorded so tests can assert on what went over the wire.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

BASE_MODEL = {
    "name": "models/gemini-1.5-flash-001-tuning",
    "displayName": "Gemini 1.5 Flash 001 Tuning",
    "supportedGenerationMethods": ["generateContent", "countTokens", "createTunedModel"],
    "inputTokenLimit": 16384,
    "outputTokenLimit": 8192,
    "temperature": 1.0,
    "topP": 0.95,
    "topK": 64,
}


@dataclass
class Fault:
    status: int = 503  # 0 = drop the connection (httpx.ReadError)
    after_effect: bool = False  # the change happens, then the answer is lost
    retry_after: str | None = None  # Retry-After header
    retry_delay: str | None = None  # google.rpc.RetryInfo retryDelay
    body: bytes | None = None  # raw body instead of a Status (e.g. HTML)


@dataclass
class Recorded:
    method: str
    url: httpx.URL
    headers: httpx.Headers
    body: dict[str, Any] | None


@dataclass
class FakeGeminiApi:
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    default_page_size: int = 10

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(
            lambda request: self.handle(request)
        )  # late-bound: tests wrap handle

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def add_model(self, model_id: str, **fields: Any) -> dict[str, Any]:
        model = {
            "name": f"tunedModels/{model_id}",
            "baseModel": BASE_MODEL["name"],
            "state": "ACTIVE",
            "createTime": "2024-03-14T15:07:41.317001Z",
            "updateTime": "2024-03-14T15:07:41.317001Z",
            **fields,
        }
        self.models[model["name"]] = model
        return model

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append(Recorded(request.method, request.url, request.headers, body))
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None and not fault.after_effect:
            return self._fault(fault, request)
        response = self._route(request, body)
        if fault is not None:
            return self._fault(fault, request)
        return response

    def _fault(self, fault: Fault, request: httpx.Request) -> httpx.Response:
        if fault.status == 0:
            raise httpx.ReadError("connection dropped", request=request)
        headers = {"retry-after": fault.retry_after} if fault.retry_after else {}
        if fault.body is not None:
            return httpx.Response(fault.status, content=fault.body, headers=headers)
        details = []
        if fault.retry_delay:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": fault.retry_delay,
                }
            )
        status = {
            400: "INVALID_ARGUMENT",
            429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL",
            503: "UNAVAILABLE",
        }.get(fault.status, "UNKNOWN")
        return _status(fault.status, status, "injected fault", headers=headers, details=details)

    def _route(self, request: httpx.Request, body: dict[str, Any] | None) -> httpx.Response:
        path = unquote(request.url.path)
        if not path.startswith("/v1beta/"):
            return httpx.Response(404, text="<html><body>Not Found</body></html>")
        rest = path.removeprefix("/v1beta/")
        method = request.method
        params = request.url.params
        if rest == "tunedModels" and method == "GET":
            return self._page(list(self.models.values()), "tunedModels", params)
        if rest == "tunedModels" and method == "POST":
            return self._create(params.get("tunedModelId", ""), body or {})
        if rest == "models" and method == "GET":
            return self._page([BASE_MODEL], "models", params)
        if rest.startswith("models/") and method == "GET":
            if rest == BASE_MODEL["name"]:
                return httpx.Response(200, json=BASE_MODEL)
            return _status(404, "NOT_FOUND", f"{rest} is not found")
        if rest.endswith(":generateContent") and method == "POST":
            return self._generate(rest.removesuffix(":generateContent"), body or {})
        if "/operations" in rest:
            model, _, op = rest.partition("/operations")
            if model not in self.models:
                return _not_found(model)
            if not op:
                ops = [o for n, o in self.operations.items() if n.startswith(model + "/")]
                return self._page(ops, "operations", params)
            found = self.operations.get(rest)
            return httpx.Response(200, json=found) if found else _status(404, "NOT_FOUND", "no op")
        if rest.startswith("tunedModels/"):
            model = self.models.get(rest)
            if model is None:
                return _not_found(rest)
            if method == "GET":
                return httpx.Response(200, json=model)
            if method == "DELETE":
                del self.models[rest]
                return httpx.Response(200, json={})
            if method == "PATCH":
                for key in params.get("updateMask", "").split(","):
                    if key in (body or {}):
                        model[key] = (body or {})[key]
                    else:
                        model.pop(key, None)
                return httpx.Response(200, json=model)
        return httpx.Response(404, text="<html><body>Not Found</body></html>")

    def _page(self, items: list[Any], key: str, params: httpx.QueryParams) -> httpx.Response:
        size = min(int(params.get("pageSize", self.default_page_size)), 1000)
        start = int(params.get("pageToken", "0") or 0)
        page: dict[str, Any] = {}
        if items[start : start + size]:
            page[key] = items[start : start + size]
        if start + size < len(items):
            page["nextPageToken"] = str(start + size)
        return httpx.Response(200, json=page)

    def _create(self, model_id: str, body: dict[str, Any]) -> httpx.Response:
        name = f"tunedModels/{model_id}"
        if name in self.models:
            return _status(409, "ALREADY_EXISTS", f"Tuned model {name} already exists.")
        examples = body["tuningTask"]["trainingData"]["examples"]["examples"]
        hyper = body["tuningTask"].get("hyperparameters", {})
        total = math.ceil(len(examples) * hyper.get("epochCount", 5) / hyper.get("batchSize", 4))
        self.add_model(
            model_id,
            state="CREATING",
            **{k: v for k, v in body.items() if k not in ("tuningTask",)},
        )
        op_name = f"{name}/operations/op{len(self.operations):09d}"
        operation = {
            "name": op_name,
            "metadata": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.CreateTunedModelMetadata",
                "totalSteps": total,
                "tunedModel": name,
            },
        }
        self.operations[op_name] = operation
        return httpx.Response(200, json=operation)

    def _generate(self, target: str, body: dict[str, Any]) -> httpx.Response:
        if target.startswith("tunedModels/") and target not in self.models:
            return _not_found(target)
        prompt = body["contents"][0]["parts"][0]["text"]
        count = body.get("generationConfig", {}).get("candidateCount", 1)
        candidates = [
            {"content": {"role": "model", "parts": [{"text": f"echo {prompt}"}]}, "finishReason": 1}
            for _ in range(count)
        ]
        usage = {"promptTokenCount": 1, "candidatesTokenCount": count, "totalTokenCount": 1 + count}
        return httpx.Response(200, json={"candidates": candidates, "usageMetadata": usage})


def _status(
    code: int,
    status: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> httpx.Response:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return httpx.Response(code, json={"error": error}, headers=headers)


def _not_found(name: str) -> httpx.Response:
    return _status(404, "NOT_FOUND", f"Tuned model {name} does not exist.")
