"""Checks on a ``tuningJobs.create`` body, in the order the service reports them.

Fields the service knows and the emulator does not emulate (other tuning
methods, continuous tuning) are refused by name rather than ignored, so a
client never believes the emulator did something it did not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.vertex import catalog
from reconciler.emulator.wire import invalid

MAX_DISPLAY_NAME = 128
MAX_LABELS = 64
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
# The service documents no ranges; these bound what the emulator accepts.
MAX_EPOCHS = 100
MAX_LEARNING_RATE_MULTIPLIER = 10.0
UNEMULATED_SPECS = (
    "preferenceOptimizationSpec",
    "reinforcementTuningSpec",
    "distillationSpec",
    "partnerModelTuningSpec",
    "veoTuningSpec",
    "fullFineTuningSpec",
)


@dataclass(frozen=True)
class CreateRequest:
    base_model: str
    training_uri: str
    validation_uri: str | None
    epochs: int | None
    adapter_size: str | None
    request: dict[str, Any]  # the job's input fields as they will be echoed


def parse(body: dict[str, Any], *, location: str) -> CreateRequest:
    if body.get("preTunedModel"):
        raise invalid("The emulator does not emulate continuous tuning (preTunedModel).")
    for method in UNEMULATED_SPECS:
        if body.get(method):
            raise invalid(f"The emulator emulates supervisedTuningSpec only, not {method}.")
    base_model = _string(body.get("baseModel"), "base_model")
    if not base_model:
        raise invalid("base_model is required.")
    model_id = catalog.base_model_id(base_model)
    if model_id not in catalog.BASE_MODELS:
        raise invalid(
            f"Base model {base_model} is not supported for supervised tuning. Supported base "
            f"models: {', '.join(catalog.BASE_MODELS)}."
        )
    regions = catalog.MULTI_REGION_SERVING.get(model_id)
    if regions is not None and location not in regions:
        raise invalid(
            f"Base model {model_id} can be tuned only in {' or '.join(regions)}, not {location}."
        )
    if regions is not None and body.get("encryptionSpec"):
        raise invalid(f"Customer-managed encryption keys are not supported for {model_id}.")
    spec = body.get("supervisedTuningSpec")
    if not isinstance(spec, dict):
        raise invalid("supervised_tuning_spec is required.")
    hyper = spec.get("hyperParameters") or {}
    if not isinstance(hyper, dict):
        raise invalid("supervised_tuning_spec.hyper_parameters must be an object.")
    epochs = _epochs(hyper.get("epochCount"))
    _learning_rate_multiplier(hyper.get("learningRateMultiplier"))
    adapter = _adapter_size(hyper.get("adapterSize"), model_id)
    display_name = _string(body.get("tunedModelDisplayName"), "tuned_model_display_name")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise invalid(
            f"tuned_model_display_name must be at most {MAX_DISPLAY_NAME} characters, "
            f"got {len(display_name)}."
        )
    _string(body.get("description"), "description")
    labels = _labels(body.get("labels"))
    echoed_spec = dict(spec)
    if hyper:
        echoed_spec["hyperParameters"] = _echoed_hyperparameters(hyper)
    request = {
        key: body[key]
        for key in ("tunedModelDisplayName", "description", "encryptionSpec", "serviceAccount")
        if body.get(key)
    }
    request.update(baseModel=base_model, supervisedTuningSpec=echoed_spec, labels=labels)
    validation_uri = spec.get("validationDatasetUri")
    return CreateRequest(
        base_model=model_id,
        training_uri=spec.get("trainingDatasetUri") or "",
        validation_uri=validation_uri if validation_uri else None,
        epochs=epochs,
        adapter_size=adapter,
        request=request,
    )


def _string(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(f"Invalid value at '{field}' (TYPE_STRING), {value!r}")
    return value


def _epochs(value: Any) -> int | None:
    if value is None:
        return None
    # int64 travels as a JSON string or number
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(f"Invalid value at 'epoch_count' (TYPE_INT64), {value!r}")
    try:
        epochs = int(value)
    except ValueError:
        raise invalid(f"Invalid value at 'epoch_count' (TYPE_INT64), {value!r}") from None
    if not 1 <= epochs <= MAX_EPOCHS:
        raise invalid(f"epoch_count must be between 1 and {MAX_EPOCHS}, got {epochs}.")
    return epochs


def _learning_rate_multiplier(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(f"Invalid value at 'learning_rate_multiplier' (TYPE_DOUBLE), {value!r}")
    if not 0 < value <= MAX_LEARNING_RATE_MULTIPLIER:
        raise invalid(
            f"learning_rate_multiplier must be greater than 0 and at most "
            f"{MAX_LEARNING_RATE_MULTIPLIER:g}, got {value:g}."
        )


def _adapter_size(value: Any, model_id: str) -> str | None:
    if value in (None, "ADAPTER_SIZE_UNSPECIFIED"):
        return None
    if value not in catalog.ADAPTER_SIZES:
        raise invalid(
            f"Invalid value at 'supervised_tuning_spec.hyper_parameters.adapter_size' "
            f"(type.googleapis.com/google.cloud.aiplatform.v1.SupervisedHyperParameters.AdapterSize), {value!r}"
        )
    if catalog.ADAPTER_SIZES[value] not in catalog.BASE_MODELS[model_id]:
        raise invalid("The adapter size is not supported for this base model.")
    return str(value)


def _echoed_hyperparameters(hyper: dict[str, Any]) -> dict[str, Any]:
    echoed = dict(hyper)
    if "epochCount" in echoed:
        echoed["epochCount"] = str(int(echoed["epochCount"]))
    return echoed


def _labels(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("labels must be an object of strings.")
    if len(value) > MAX_LABELS:
        raise invalid(f"A resource can have at most {MAX_LABELS} labels, got {len(value)}.")
    for key, label in value.items():
        if not _LABEL_KEY.fullmatch(key):
            raise invalid(
                f"Label key {key!r} is invalid: 1-63 lowercase letters, digits, '_' or '-', "
                "starting with a letter."
            )
        if not isinstance(label, str) or not _LABEL_VALUE.fullmatch(label):
            raise invalid(
                f"Label value {label!r} of {key!r} is invalid: at most 63 lowercase letters, "
                "digits, '_' or '-'."
            )
    return dict(value)
