"""Every Vertex AI and Cloud Storage route answers a well-formed request with success,
so a route added to the table without being exercised fails here."""

from __future__ import annotations

from reconciler.emulator.routes import CLOUD_ROUTES
from tests.support.cloud import BUCKET, Served, job_body

ASK = {"contents": [{"role": "user", "parts": [{"text": "what is 1 plus one"}]}]}


def test_every_cloud_route_succeeds(trained: Served) -> None:
    http = trained.http
    for version in ("v1", "v1beta1"):
        jobs = f"/{version}/projects/my-project/locations/us-central1/tuningJobs"
        created = http.post(jobs, json=job_body())
        assert created.status_code == 200, created.text
        name = created.json()["name"]
        trained.clock.advance(100)
        tuned = http.get(f"/{version}/{name}").json()["tunedModel"]
        endpoint, model = tuned["endpoint"], tuned["model"]
        deployed = http.get(f"/{version}/{endpoint}").json()["deployedModels"][0]["id"]
        for method, path, body in [
            ("GET", jobs, None),
            ("POST", f"/{version}/{name}:cancel", {}),
            ("POST", f"/{version}/{endpoint}:generateContent", ASK),
            ("POST", f"/{version}/{endpoint}:streamGenerateContent?alt=sse", ASK),
            ("GET", f"/{version}/{model}", None),
            ("GET", f"/{version}/projects/my-project/locations/us-central1/models", None),
            ("PATCH", f"/{version}/{model}?updateMask=description", {"description": "d"}),
            ("POST", f"/{version}/{endpoint}:undeployModel", {"deployedModelId": deployed}),
            ("DELETE", f"/{version}/{endpoint}", None),
            ("DELETE", f"/{version}/{model}", None),
        ]:
            r = http.request(method, path, json=body)
            assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        operation = r.json()["name"]
        assert http.get(f"/{version}/{operation}").status_code == 200
    for method, path in [
        ("GET", f"/storage/v1/b/{BUCKET}"),
        ("GET", f"/storage/v1/b/{BUCKET}/o"),
        ("GET", f"/storage/v1/b/{BUCKET}/o/train.jsonl"),
        ("GET", f"/download/storage/v1/b/{BUCKET}/o/train.jsonl?alt=media"),
        ("DELETE", f"/storage/v1/b/{BUCKET}/o/train.jsonl"),
    ]:
        r = http.request(method, path)
        assert r.status_code in (200, 204), f"{method} {path}: {r.status_code} {r.text}"
    # A resumable upload: start, one chunk that is the whole object, and a cancelled one.
    for name in ("resumed.jsonl", "cancelled.jsonl"):
        started = http.post(
            f"/upload/storage/v1/b/{BUCKET}/o", params={"uploadType": "resumable", "name": name}
        )
        assert started.status_code == 200, started.text
        session = started.headers["location"].removeprefix(trained.url)
        if name == "resumed.jsonl":
            r = http.put(session, content=b"{}", headers={"content-range": "bytes 0-1/2"})
            assert r.status_code == 200, r.text
        else:
            assert http.delete(session).status_code == 499
    served = set(trained.emulator.stats.requests)
    assert {route.template for route in CLOUD_ROUTES} <= served
