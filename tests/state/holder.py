"""A state writer in its own process, driven over stdin, for lock tests.

    python -m tests.state.holder LOCATION COMMAND [TIMEOUT]

Takes the lock, prints one JSON line ({"locked": id, "pid": ..., "warning": ...}
or {"error": ..., "type": ...} and exits 3), then obeys lines on stdin:
``write NAME`` adds a model record and writes (prints {"serial": n} or an
error), ``check`` asks whether the lock is still ours (prints {"held": true}
or an error), ``exit`` releases the lock and exits.
"""

from __future__ import annotations

import json
import os
import sys

from reconciler.applied import ModelRecord
from reconciler.errors import ReconcilerError
from reconciler.state import open_backend


def say(data: dict[str, object]) -> None:
    print(json.dumps(data), flush=True)


def main() -> int:
    location, command = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    backend = open_backend(location)
    try:
        lock = backend.lock(command=command, timeout=timeout)
    except ReconcilerError as exc:
        say({"error": exc.message, "type": type(exc).__name__})
        return 3
    say({"locked": lock.info.id, "pid": os.getpid(), "warning": lock.warning})
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "exit":
            break
        if words[0] == "check":
            try:
                backend.check_lock()
                say({"held": True})
            except ReconcilerError as exc:
                say({"error": exc.message, "type": type(exc).__name__})
        if words[0] == "write":
            try:
                doc = backend.read()
                models = dict(doc.models)
                models[words[1]] = ModelRecord(name=f"tunedModels/{words[1]}")
                stored = backend.write(doc.model_copy(update={"models": models}))
                say({"serial": stored.serial})
            except ReconcilerError as exc:
                say({"error": exc.message, "type": type(exc).__name__})
    lock.release()
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
