"""What the Gemini API client costs over raw httpx, against a served emulator.

    python bench/client_bench.py [--models 10000] [--gets 2000] [--concurrency 16] [--repeat 3]

Starts an emulator on a free port (tuning finishes at once, no faults, no
added latency), creates ``--models`` tuned models through the client, then
times, best of ``--repeat``:

* GET of one tuned model, sequentially and from ``--concurrency`` threads
  sharing one client (requests per second);
* paging through every model (``pageSize`` 1000);

each next to the floor: a raw ``httpx.Client`` loop sending the same requests
and decoding the same JSON, with no retries, errors or conversion. The ratio
is client time / floor time (1.00 = no overhead). Stops the emulator at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.api import Credentials  # noqa: E402
from reconciler.api.client import GeminiClient  # noqa: E402
from reconciler.spec import AppliedSpec, Example, Hyperparameters  # noqa: E402
from tests.support.servers import serve_emulator  # noqa: E402

SPEC = AppliedSpec(
    baseModel="models/gemini-1.5-flash-001-tuning",
    displayName="bench",
    hyperparameters=Hyperparameters(epochCount=1, batchSize=1),
)
EXAMPLES = [Example(text_input="1", output="2")]


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The shortest wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--gets", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with serve_emulator("--step-seconds", "0", "--seed", "1") as server:
        credentials = Credentials.resolve(api_key=None, access_token=None, endpoint=server.url)
        ids = [f"bench-{i:05d}" for i in range(args.models)]
        with GeminiClient(endpoint=server.url, credentials=credentials) as client:
            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(
                    pool.map(
                        lambda i: client.create_tuned_model(
                            model_id=i, spec=SPEC, examples=EXAMPLES
                        ),
                        ids,
                    )
                )
            setup = time.perf_counter() - started
            print(
                f"created {args.models} models in {setup:.1f} s (setup, concurrency {args.concurrency})"
            )
            targets = [ids[i % len(ids)] for i in range(args.gets)]
            base = f"{server.url}/v1beta/"

            with httpx.Client(base_url=base, timeout=60) as raw:

                def raw_get(model_id: str) -> object:
                    response = raw.get(f"tunedModels/{model_id}")
                    response.raise_for_status()
                    return response.json()

                def raw_pages() -> int:
                    count, token = 0, ""
                    while True:
                        params = {"pageSize": 1000, **({"pageToken": token} if token else {})}
                        response = raw.get("tunedModels", params=params)
                        response.raise_for_status()
                        data = response.json()
                        count += len(data.get("tunedModels", []))
                        token = data.get("nextPageToken", "")
                        if not token:
                            return count

                def client_seq() -> None:
                    for t in targets:
                        client.get_tuned_model(t)

                def raw_seq() -> None:
                    for t in targets:
                        raw_get(t)

                def client_par() -> None:
                    with ThreadPoolExecutor(args.concurrency) as pool:
                        list(pool.map(client.get_tuned_model, targets))

                def raw_par() -> None:
                    with ThreadPoolExecutor(args.concurrency) as pool:
                        list(pool.map(raw_get, targets))

                def client_pages() -> None:
                    assert sum(1 for _ in client.list_tuned_models()) == args.models

                def raw_pages_checked() -> None:
                    assert raw_pages() == args.models

                rows = [
                    ("get, sequential", "req/s", client_seq, raw_seq, args.gets),
                    (
                        f"get, concurrency {args.concurrency}",
                        "req/s",
                        client_par,
                        raw_par,
                        args.gets,
                    ),
                    (f"page through {args.models} models", "s", client_pages, raw_pages_checked, 0),
                ]
                print()
                print(
                    f"{'measure':<32}{'client':>12}{'raw httpx':>12}{'ratio':>8}   (best of {args.repeat})"
                )
                for label, unit, ours, floor, count in rows:
                    mine = best_of(args.repeat, ours)
                    theirs = best_of(args.repeat, floor)
                    if unit == "req/s":
                        shown = (f"{count / mine:,.0f}", f"{count / theirs:,.0f}")
                    else:
                        shown = (f"{mine:.3f}", f"{theirs:.3f}")
                    print(
                        f"{label:<32}{shown[0] + ' ' + unit:>12}{shown[1] + ' ' + unit:>12}"
                        f"{mine / theirs:>8.2f}"
                    )
                print()
                print(
                    "ratio = client time / raw httpx time for the same requests (1.00 = no overhead)"
                )


if __name__ == "__main__":
    main()
