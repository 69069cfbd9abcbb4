"""One task completion as a case's history grows, through the runtime on SQLite.

The keys: a loop of a user task, a script task and a gateway (`bench_loop`), completed 1,010
times with Caseflow's compaction of finished history. Beside it, the other ways to model the
same loop, 300 rounds each, to see which keeps a step's cost flat (the issue asks to measure
which works): the same gateway loop without compaction (as stock SpiffWorkflow keeps it), a
user task with standard loop characteristics, and a subprocess with standard loop
characteristics (`fixtures/bench_loop_std.bpmn`).
"""

from __future__ import annotations

import time
from typing import Any

from .common import log, median, new_database, runtime

DATA = {"confirmed": True, "comment": "again"}


def _rounds(rt: Any, process: str, rounds: int, report_every: int = 0) -> list[float]:
    """Seconds per completion, round by round, of one new case of `process`."""
    case = rt.start_case(process, {"rounds": 0}, actor="desk")
    task_id = case.open_tasks[0].id
    timings = []
    t_start = time.perf_counter()
    for n in range(1, rounds + 1):
        t0 = time.perf_counter()
        case = rt.complete_task(task_id, DATA, "desk")
        timings.append(time.perf_counter() - t0)
        task_id = case.open_tasks[0].id
        if report_every and n % report_every == 0:
            log(f"  round {n}: {timings[-1] * 1000:.2f} ms ({time.perf_counter() - t_start:.1f} s)")
    if process != "bench_loop_task":  # (a loop task merges its rounds' data, no counter)
        assert case.data["rounds"] == rounds, case.data
    return timings


def _window(timings: list[float], last: int) -> tuple[float, float]:
    """Medians (ms) of rounds 6–20 and of the 25 rounds up to `last` (a step costs ±50% from
    one round to the next on a shared machine, and a WAL checkpoint now and then more)."""
    return median(timings[5:20]) * 1000, median(timings[last - 25 : last]) * 1000


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    from engine.spiff import adapter as spiff

    db = new_database(ws, ws.sqlite_url("loop.db"))
    rt = runtime(ws, db)
    # Warm up first (caches, the database's first pages), so round 10 is not a cold start.
    _rounds(rt, "bench_loop", 30)
    timings = _rounds(rt, "bench_loop", 1010, report_every=250)
    early, late = _window(timings, 1010)
    results["loop_step_ms_round_10"] = round(early, 3)
    results["loop_step_ms_round_1000"] = round(late, 3)
    results["loop_cost_ratio_1000_vs_10"] = round(late / early, 3)
    results["loop_step_ms_max_after_100"] = round(max(timings[100:]) * 1000, 3)
    log(
        f"  completion at round 10: {early:.2f} ms, at round 1,000: {late:.2f} ms"
        f" (medians of rounds 6–20 and 986–1010) → {late / early:.2f}"
    )

    rounds = 100 if quick else 300
    variants: dict[str, dict[str, float]] = {}
    compact = spiff.compact
    for name, process, compacted in (
        ("gateway loop, compacted (Caseflow)", "bench_loop", True),
        ("gateway loop, not compacted (stock)", "bench_loop", False),
        ("user task with standard loop", "bench_loop_task", True),
        ("subprocess with standard loop", "bench_loop_sub", True),
    ):
        if not compacted:
            spiff.compact = lambda *_a, **_k: 0
        try:
            early, late = _window(_rounds(rt, process, rounds), rounds)
        finally:
            spiff.compact = compact
        variants[name] = {
            "ms_round_10": round(early, 3),
            f"ms_round_{rounds}": round(late, 3),
            f"ratio_{rounds}_vs_10": round(late / early, 2),
        }
        log(f"  {name}: round 10 {early:.2f} ms, round {rounds} {late:.2f} ms → {late / early:.2f}")
    results["loop_variants"] = variants
