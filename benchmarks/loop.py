"""One task completion as a case's history grows: a loop of a user task, a script task and a
gateway, completed 1,000+ times through the runtime on SQLite."""

from __future__ import annotations

import time
from typing import Any

from .common import log, median, new_database, runtime


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    db = new_database(ws, ws.sqlite_url("loop.db"))
    rt = runtime(ws, db)
    rounds = 1010
    # Warm up first (caches, the database's first pages), so round 10 is not a cold start.
    warm = rt.start_case("bench_loop", {"rounds": 0}, actor="desk")
    for _ in range(30):
        warm = rt.complete_task(
            warm.open_tasks[0].id, {"confirmed": True, "comment": "again"}, "desk"
        )
    number = rt.start_case("bench_loop", {"rounds": 0}, actor="desk").number
    task_id = rt.list_tasks(case=number, status="open")[0].id
    timings = []
    t_start = time.perf_counter()
    for n in range(1, rounds + 1):
        t0 = time.perf_counter()
        case = rt.complete_task(task_id, {"confirmed": True, "comment": "again"}, "desk")
        timings.append(time.perf_counter() - t0)
        task_id = case.open_tasks[0].id
        if n % 250 == 0:
            log(f"  round {n}: {timings[-1] * 1000:.2f} ms ({time.perf_counter() - t_start:.1f} s)")
    assert case.data["rounds"] == rounds, case.data
    # Medians over windows (a step costs ±50% from one round to the next on a shared machine,
    # and a WAL checkpoint now and then costs 15–20 ms): rounds 6–20 and 986–1010.
    early = median(timings[5:20]) * 1000
    late = median(timings[985:1010]) * 1000
    results["loop_step_ms_round_10"] = round(early, 3)
    results["loop_step_ms_round_1000"] = round(late, 3)
    results["loop_cost_ratio_1000_vs_10"] = round(late / early, 3)
    results["loop_step_ms_max_after_100"] = round(max(timings[100:]) * 1000, 3)
    log(
        f"  completion at round 10: {early:.2f} ms, at round 1,000: {late:.2f} ms"
        f" (medians of rounds 6–20 and 986–1010) → {late / early:.2f}"
    )
