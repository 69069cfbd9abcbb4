"""The contender of the process races (tests/hardening/test_races_processes.py): runs in its
own process (multiprocessing, spawn), with its own engine and connections on the shared
database, and meets the other contenders at a barrier before and after every round."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

ROUND_TIMEOUT_S = 120


def contend(
    db_url: str,
    settings_path: str,
    now: str,
    user: str,
    plan: list[tuple[str, Any]],
    barrier: Any,
    results: Any,
) -> None:
    """For each (kind, target) of the plan: wait for the others, try, wait for the others.
    kinds: "claim" (task id; the winner gives it back after the round), "complete" (task id),
    "message" (case number). Puts (user, [(kind, target, outcome, message, ms)]) on results."""
    outcomes: list[tuple[str, Any, str, str, float]] = []
    try:
        from engine.core.clock import FixedClock
        from engine.core.errors import Conflict, InvalidState
        from engine.core.settings import load_settings
        from engine.runtime.verbs import Runtime
        from engine.store.database import Database

        db = Database(db_url)
        runtime = Runtime(db, load_settings(Path(settings_path)), FixedClock(now))
        runtime.list_tasks(limit=1)  # connect and compile before the first round
        barrier.wait(timeout=ROUND_TIMEOUT_S)  # everyone has started and warmed up
        for kind, target in plan:
            barrier.wait(timeout=ROUND_TIMEOUT_S)
            started = time.perf_counter()
            try:
                if kind == "claim":
                    runtime.claim(target, user)
                elif kind == "complete":
                    runtime.complete_task(target, {"confirmed": True, "comment": user}, user)
                elif kind == "message":
                    runtime.send_message(target, "customer_reply", {"from": user}, actor=user)
                else:
                    raise ValueError(kind)
                outcome, message = "ok", ""
            except (Conflict, InvalidState) as exc:
                outcome, message = "lost", f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001 - reported to the test, which fails
                outcome, message = "error", f"{type(exc).__name__}: {exc}"
            outcomes.append(
                (kind, target, outcome, message, (time.perf_counter() - started) * 1000)
            )
            barrier.wait(timeout=ROUND_TIMEOUT_S)  # the round is over for everyone
            if kind == "claim" and outcome == "ok":
                runtime.unclaim(target, user)
            barrier.wait(timeout=ROUND_TIMEOUT_S)
        db.dispose()
    except Exception:  # noqa: BLE001
        outcomes.append(("crash", None, "error", traceback.format_exc(), 0.0))
        barrier.abort()
    results.put((user, outcomes))
