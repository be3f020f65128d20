"""``projects/{p}/locations/{l}/tuningJobs``: create, get, list, cancel (v1 and v1beta1).

There is no delete and no update: a job is immutable and its record stays.
Job ids are 19 digits chosen by the server, and names carry the project
number even when the caller used the project id.
"""

from __future__ import annotations

import math

from starlette.responses import Response

from reconciler.emulator.call import Call
from reconciler.emulator.vertex import catalog, create_request, datasets, filters, paging
from reconciler.emulator.vertex.jobs import (
    PENDING,
    TERMINAL,
    JobProgress,
    TuningJobRecord,
    job_json,
    progress,
)
from reconciler.emulator.wire import ApiError, invalid, json_response

# The service chooses its own batch size and default epochs; these are the emulator's.
BATCH_SIZE = 8
DEFAULT_EPOCHS = 3
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# The label reconciler creates every job with (one value per intended job): the
# stats count creates by it, so a test can prove no key ever got two jobs.
IDEMPOTENCY_LABEL = "reconciler-key"


def _parent(call: Call) -> tuple[str, str]:
    return catalog.project_number(call.params["project"]), call.params["location"]


def _job(call: Call) -> TuningJobRecord:
    project, location = _parent(call)
    name = f"projects/{project}/locations/{location}/tuningJobs/{call.params['job']}"
    record = call.emulator.vertex.get(name)
    if record is None:
        raise ApiError(404, f"TuningJob {name} does not exist.")
    return record


def create(call: Call) -> Response:
    em = call.emulator
    project, location = _parent(call)
    asked = create_request.parse(call.body, location=location)
    training = datasets.load(em.gcs, asked.training_uri, "training_dataset_uri")
    if asked.validation_uri is not None:
        validation = datasets.load(em.gcs, asked.validation_uri, "validation_dataset_uri")
        if len(validation.examples) > datasets.MAX_VALIDATION_EXAMPLES:
            raise invalid(
                f"The validation dataset has {len(validation.examples)} examples; "
                f"at most {datasets.MAX_VALIDATION_EXAMPLES} are allowed."
            )
    epochs = asked.epochs or DEFAULT_EPOCHS
    count = len(training.examples)
    steps = max(1, math.ceil(count * epochs / BATCH_SIZE))
    stats: dict[str, object] = {
        "tuningDatasetExampleCount": str(count),
        "totalTuningCharacterCount": str(training.characters),
        "totalBillableTokenCount": str(datasets.tokens(training.characters) * epochs),
        "tuningStepCount": str(steps),
    }
    if training.truncated:
        stats["totalTruncatedExampleCount"] = str(len(training.truncated))
        stats["truncatedExampleIndices"] = [str(i) for i in training.truncated]
    serving = catalog.MULTI_REGION_SERVING.get(asked.base_model, {})
    # A restart with --db and the same --seed replays the id stream: skip ids in use.
    job_id = em.random_numeric_id()
    while em.vertex.get(f"{catalog.parent(project, location)}/tuningJobs/{job_id}") is not None:
        job_id = em.random_numeric_id()
    record = TuningJobRecord(
        job_id=job_id,
        seq=em.vertex.next_seq(),
        project=project,
        location=location,
        base_model=asked.base_model,
        request=asked.request,
        examples=training.examples,
        data_stats=stats,
        total_steps=steps,
        create_time=call.now,
        step_seconds=em.config.step_seconds,
        model_id=em.random_numeric_id(),
        endpoint_id=em.random_numeric_id(),
        endpoint_location=serving.get(location, location),
    )
    while em.vertex.by_model(record.model.removesuffix("@1")) is not None:
        record.model_id = em.random_numeric_id()
    while em.vertex.by_endpoint(record.endpoint) is not None:
        record.endpoint_id = em.random_numeric_id()
    asked_name = str(asked.request.get("tunedModelDisplayName") or "")
    record.model_display_name = asked_name or f"{asked.base_model}-{record.job_id}"
    record.model_description = str(asked.request.get("description") or "")
    record.model_labels = {
        **record.labels,
        # Names the emulator gives the labels the service puts on a tuned Model.
        "google-vertex-llm-tuning-base-model-id": asked.base_model.replace(".", "-"),
        "google-vertex-llm-tuning-job-id": record.job_id,
    }
    # Decided once, at create, from the seeded stream, as for Gemini API tuning.
    # One draw decides both, so a new setting never shifts the stream for the other.
    draw = em.tuning_rng.random()
    if draw < em.config.tuning_fail_rate:
        record.fail_at_step = max(1, steps // 2)
    elif draw < em.config.tuning_fail_rate + em.config.tuning_expire_rate:
        record.expires = True
    em.vertex.put(record)
    em.stats.creates[record.name] += 1
    key = record.labels.get(IDEMPOTENCY_LABEL)
    if key is not None:
        em.stats.job_creates[key] += 1
    # The answer is the job as created, queued, whatever the clock says next.
    created = JobProgress(PENDING, None, None, record.create_time, None)
    return json_response(job_json(record, created))


def get(call: Call) -> Response:
    record = _job(call)
    return json_response(job_json(record, progress(record, call.now)))


def cancel(call: Call) -> Response:
    """Best effort: a finished job is left as it is, a running one goes CANCELLING, CANCELLED."""
    record = _job(call)
    state = progress(record, call.now).state
    if state not in TERMINAL and record.cancel_time is None:
        record.cancel_time = call.now
        call.emulator.vertex.put(record)
    return json_response({})


def list_(call: Call) -> Response:
    project, location = _parent(call)
    size = call.page_size(default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    text = call.query.get("filter", "")
    matches = filters.parse(text)
    bound = paging.binding(project, location, size, text)
    before = paging.cursor(call.query.get("pageToken", ""), bound)
    prefix = f"projects/{project}/locations/{location}/tuningJobs/"
    page: list[dict[str, object]] = []
    last_seq = 0
    more = False
    for record in call.emulator.vertex.newest_first():
        if not record.name.startswith(prefix) or (before and record.seq >= before):
            continue
        prog = progress(record, call.now)
        if not matches(record.labels, prog.state):
            continue
        if len(page) == size:
            more = True
            break
        page.append(job_json(record, prog))
        last_seq = record.seq
    body: dict[str, object] = {}
    if page:
        body["tuningJobs"] = page
    if more:
        body["nextPageToken"] = paging.token(last_seq, bound)
    return json_response(body)
