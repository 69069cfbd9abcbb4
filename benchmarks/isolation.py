"""What running owner code in evaluator processes costs (engine.spiff.evaluator).

- per evaluation: an expression that is not bounded by its shape (so it goes to an evaluator
  process) against the same expression evaluated in the server process;
- per case: the 5-step case with a script task and a computed condition (bench_script), through
  the runtime's verbs on SQLite, with evaluator processes against everything evaluated in the
  server process (what Caseflow did before: the comparison only, not a setting).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

from .common import log, median, new_database, runtime

PROCESS = "bench_script"


@contextmanager
def _in_process() -> Any:
    """Owner code evaluated in the server process (the comparison), for the duration."""
    from engine.spiff import environment, guards

    original = environment.RestrictedEnvironment._isolated

    def here(self: Any, request: dict[str, Any]) -> Any:
        context = dict(request["context"])
        if request["op"] == "eval":
            return guards.evaluate_here(request["code"], context, request["external"], self.globals)
        guards.execute_here(request["code"], context, request["external"], self.globals)
        return context

    environment.RestrictedEnvironment._isolated = here
    try:
        yield
    finally:
        environment.RestrictedEnvironment._isolated = original


def _per_eval_us(env: Any, count: int) -> float:
    data = {"items": list(range(20)), "customer_name": "王小明", "amount": 760}
    expression = "sorted(items)[0] * 2 + amount"
    env.evaluate(expression, data)
    t0 = time.perf_counter()
    for _ in range(count):
        env.evaluate(expression, data)
    return (time.perf_counter() - t0) / count * 1e6


def _case_rate(rt: Any, count: int) -> float:
    t0 = time.perf_counter()
    for _ in range(count):
        case = rt.start_case(PROCESS, {"customer_name": "王小明"}, actor="desk")
        case = rt.complete_task(case.open_tasks[0].id, {"approve": True}, "desk")
        case = rt.complete_task(case.open_tasks[0].id, {"confirmed": True}, "senior")
        assert case.status == "completed", case.status
    return count / (time.perf_counter() - t0)


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    from engine.spiff.environment import RestrictedEnvironment

    env = RestrictedEnvironment()
    evals = 300 if quick else 2000
    isolated_us, here_us = [], []
    for _ in range(3):
        isolated_us.append(_per_eval_us(env, evals))
        with _in_process():
            here_us.append(_per_eval_us(env, evals))
    db = new_database(ws, ws.sqlite_url("isolation.db"))
    rt = runtime(ws, db)
    count = 40 if quick else 150
    for _ in range(20):  # warm up
        _case_rate(rt, 1)
    isolated, here = [], []
    for n in range(2 if quick else 5):
        isolated.append(_case_rate(rt, count))
        with _in_process():
            here.append(_case_rate(rt, count))
        log(f"  round {n + 1}: evaluator {isolated[-1]:,.0f} cases/s, in-process {here[-1]:,.0f}/s")
    iso, loc = median(isolated), median(here)
    results["isolation_eval_us"] = round(median(isolated_us), 1)
    results["isolation_eval_in_process_us"] = round(median(here_us), 1)
    results["isolation_script_cases_per_s"] = round(iso, 1)
    results["isolation_script_cases_per_s_in_process"] = round(loc, 1)
    results["isolation_cost_ms_per_case"] = round((1 / iso - 1 / loc) * 1000, 3)
    results["isolation_ratio"] = round(iso / loc, 3)
    log(
        f"  per evaluation {median(isolated_us):,.0f} µs in an evaluator process vs"
        f" {median(here_us):,.1f} µs in-process; script case {iso:,.0f}/s vs {loc:,.0f}/s"
        f" ({(1 / iso - 1 / loc) * 1000:.2f} ms more per case)"
    )
