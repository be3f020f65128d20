"""A GenerateContentRequest read and checked as the service checks it, before any answer.

``read`` turns a raw body into a ``GenerateRequest`` (``proto_json`` does the
field reading), then makes the checks the service makes on the values: parts
with exactly one kind of data, roles, ranges of the generation config (the
model's own limits where it has them), one safety setting per category, the
function declarations and the tool config that names them, the JSON-mode
settings. Messages follow the service's ``* GenerateContentRequest.<field>:``
form. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator.generate.proto_json import Reader, bad_request, snake
from reconciler.emulator.wire import ApiError

DATA_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
)
ROLES = ("user", "model", "function", "")
RESPONSE_MIME_TYPES = (
    "text/plain",
    "application/json",
    "application/xml",
    "application/yaml",
    "text/x.enum",
)
MIME_TYPES_MESSAGE = (
    "allowed mimetypes are `text/plain`, `application/json`, `application/xml`, "
    "`application/yaml` and `text/x.enum`."
)
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")
MAX_CANDIDATES = 8
MAX_STOP_SEQUENCES = 5
CACHE_NOT_FOUND = "CachedContent not found (or permission denied)"


@dataclass(frozen=True)
class ModelLimits:
    """What the model being called allows (from its catalog entry)."""

    max_temperature: float = 2.0
    output_token_limit: int = 8192
    thinking: bool = False


@dataclass(frozen=True)
class GenerateRequest:
    contents: list[dict[str, Any]]
    system_instruction: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_config: dict[str, Any] = field(default_factory=dict)
    safety_settings: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def declarations(self) -> list[dict[str, Any]]:
        return [d for tool in self.tools for d in tool.get("functionDeclarations", [])]

    def has_tool(self, name: str) -> bool:
        return any(name in tool for tool in self.tools)


def _problem(path: str, text: str) -> ApiError:
    return bad_request(f"* GenerateContentRequest.{path}: {text}\n", path)


def read(body: dict[str, Any], limits: ModelLimits) -> GenerateRequest:
    """The request in ``body`` (as sent), checked; 400 with the service's message if not valid."""
    raw = Reader().read(body, "GenerateContentRequest")
    return checked(raw, limits)


def checked(raw: dict[str, Any], limits: ModelLimits) -> GenerateRequest:
    if raw.get("cachedContent"):
        raise ApiError(403, CACHE_NOT_FOUND)
    contents = raw.get("contents") or []
    if not contents:
        raise _problem("contents", "contents is not specified")
    for i, content in enumerate(contents):
        check_content(content, f"contents[{i}]")
    system = raw.get("systemInstruction")
    if system is not None:
        check_content(system, "system_instruction")
    request = GenerateRequest(
        contents=contents,
        system_instruction=system,
        tools=raw.get("tools", []),
        tool_config=raw.get("toolConfig", {}),
        safety_settings=raw.get("safetySettings", []),
        config=raw.get("generationConfig", {}),
    )
    _check_config(request.config, limits)
    _check_safety(request.safety_settings)
    _check_tools(request)
    return request


def check_content(content: dict[str, Any], path: str) -> None:
    role = content.get("role", "")
    if role not in ROLES:
        raise bad_request(f"Please use a valid role: user, model. Got {role!r}.", f"{path}.role")
    parts = content.get("parts") or []
    if not parts:
        raise _problem(f"{path}.parts", "contents.parts must not be empty.")
    for j, part in enumerate(parts):
        where = f"{path}.parts[{j}]"
        present = [name for name in part if name in DATA_FIELDS]
        if not present:
            raise _problem(
                f"{where}.data", "required oneof field 'data' must have one initialized field"
            )
        if len(present) > 1:
            raise bad_request(
                f"Invalid value at '{where}' (oneof), oneof field 'data' is already set. "
                f"Cannot set '{present[1]}'",
                where,
            )
        kind = present[0]
        data = part[kind]
        required = {
            "inlineData": ("mimeType", "data"),
            "fileData": ("fileUri",),
            "functionCall": ("name",),
            "functionResponse": ("name",),
            "executableCode": ("code",),
            "codeExecutionResult": ("outcome",),
        }.get(kind, ())
        for name in required:
            if not data.get(name):
                raise _problem(
                    f"{where}.{snake(kind)}.{snake(name)}", f"{snake(name)} is required."
                )


def _range(config: dict[str, Any], name: str, low: float, high: float) -> None:
    value = config.get(name)
    if value is not None and not low <= value <= high:
        field_name = snake(name)
        raise _problem(
            f"generation_config.{field_name}",
            f"{field_name} must be in the range [{low:g}, {high:g}], got {value:g}.",
        )


def _check_config(config: dict[str, Any], limits: ModelLimits) -> None:
    count = config.get("candidateCount")
    if count is not None and not 1 <= count <= MAX_CANDIDATES:
        raise _problem(
            "generation_config.candidate_count",
            f"candidate_count must be between 1 and {MAX_CANDIDATES}.",
        )
    _range(config, "temperature", 0.0, limits.max_temperature)
    _range(config, "topP", 0.0, 1.0)
    _range(config, "topK", 1, 2**31 - 1)
    _range(config, "maxOutputTokens", 1, limits.output_token_limit)
    _range(config, "presencePenalty", -2.0, 2.0)
    _range(config, "frequencyPenalty", -2.0, 2.0)
    _range(config, "logprobs", 0, 20)
    if len(config.get("stopSequences", [])) > MAX_STOP_SEQUENCES:
        raise _problem(
            "generation_config.stop_sequences",
            f"at most {MAX_STOP_SEQUENCES} stop sequences may be given.",
        )
    mime = config.get("responseMimeType", "")
    if mime and mime not in RESPONSE_MIME_TYPES:
        raise _problem("generation_config.response_mime_type", MIME_TYPES_MESSAGE)
    schema, json_schema = config.get("responseSchema"), config.get("responseJsonSchema")
    if json_schema is not None and not isinstance(json_schema, dict):
        raise _problem(
            "generation_config.response_json_schema", "the JSON Schema must be a JSON object."
        )
    if schema is not None and json_schema is not None:
        raise _problem(
            "generation_config.response_schema",
            "only one of response_schema and response_json_schema may be set.",
        )
    if (schema is not None or json_schema is not None) and mime not in (
        "application/json",
        "text/x.enum",
    ):
        raise _problem(
            "generation_config.response_mime_type",
            "response_mime_type must be application/json or text/x.enum when a response "
            "schema is set.",
        )
    if (
        mime == "text/x.enum"
        and not (schema or {}).get("enum")
        and "enum" not in (json_schema or {})
    ):
        raise _problem(
            "generation_config.response_schema",
            "text/x.enum needs a response schema of type STRING with an enum.",
        )
    if "thinkingConfig" in config and not limits.thinking:
        raise _problem(
            "generation_config.thinking_config", "thinking is not supported by this model."
        )


def _check_safety(settings: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for i, setting in enumerate(settings):
        category = setting.get("category", "HARM_CATEGORY_UNSPECIFIED")
        if category == "HARM_CATEGORY_UNSPECIFIED":
            raise _problem(f"safety_settings[{i}].category", "category must be specified.")
        if category in seen:
            raise _problem(
                f"safety_settings[{i}].category",
                f"duplicate category {category}: give each category at most once.",
            )
        seen.add(category)
        if setting.get("threshold", "HARM_BLOCK_THRESHOLD_UNSPECIFIED").endswith("_UNSPECIFIED"):
            raise _problem(f"safety_settings[{i}].threshold", "threshold must be specified.")


def _check_tools(request: GenerateRequest) -> None:
    names: set[str] = set()
    for t, tool in enumerate(request.tools):
        for d, declaration in enumerate(tool.get("functionDeclarations", [])):
            where = f"tools[{t}].function_declarations[{d}]"
            name = declaration.get("name", "")
            if not FUNCTION_NAME.fullmatch(name):
                raise _problem(
                    f"{where}.name",
                    "Invalid function name. Must start with a letter or an underscore. Must be "
                    "a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a "
                    "maximum length of 128.",
                )
            if name in names:
                raise _problem(f"{where}.name", f"duplicate function name {name!r}.")
            names.add(name)
            if not isinstance(declaration.get("parametersJsonSchema", {}), dict):
                raise _problem(
                    f"{where}.parameters_json_schema", "the JSON Schema must be a JSON object."
                )
            if "parameters" in declaration and "parametersJsonSchema" in declaration:
                raise _problem(
                    f"{where}", "only one of parameters and parameters_json_schema may be set."
                )
    calling = request.tool_config.get("functionCallingConfig", {})
    mode = calling.get("mode", "AUTO")
    allowed = calling.get("allowedFunctionNames", [])
    where = "tool_config.function_calling_config"
    if allowed and mode not in ("ANY", "VALIDATED"):
        raise _problem(
            f"{where}.allowed_function_names",
            "allowed_function_names may be set only when the mode is ANY or VALIDATED.",
        )
    for name in allowed:
        if name not in names:
            raise _problem(
                f"{where}.allowed_function_names",
                f"{name!r} is not the name of a declared function.",
            )
    if mode in ("ANY", "VALIDATED") and not names:
        raise _problem(f"{where}.mode", f"mode {mode} needs at least one function declaration.")
