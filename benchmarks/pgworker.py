"""One timer worker process for the PostgreSQL benchmark: `python -m benchmarks.pgworker URL`.

It runs engine.worker.timers.Worker rounds exactly as `caseflow worker` does, but starts on a signal
(a line on stdin, so that all processes start together after their imports) and stops when a
round finds nothing due and unleased. It prints its FireReport as JSON.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    url = sys.argv[1]
    from engine.core.settings import load_settings
    from engine.runtime.verbs import Runtime
    from engine.store.database import Database
    from engine.worker.timers import Worker

    db = Database(url)
    worker = Worker(Runtime(db, load_settings()))
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    while True:
        fired, _ = worker.round()
        if fired.cases == 0:
            break
    print(json.dumps({**worker.timers.to_dict(), "seconds": time.perf_counter() - t0}), flush=True)
    db.dispose()


if __name__ == "__main__":
    main()
