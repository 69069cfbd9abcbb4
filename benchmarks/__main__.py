"""`python -m benchmarks` (`make bench`): every section in turn, a line of progress as it goes,
the table of goals at the end, and benchmarks/results.json.

    python -m benchmarks                    # everything (about 10 minutes on 2 cores)
    python -m benchmarks --quick            # smaller counts, to try the harness
    python -m benchmarks --only lifecycle loop   # the others' figures kept from results.json
    python -m benchmarks --keep             # keep the scratch folder (its path is printed)

A section that fails records null for its figures and the reason under "errors"; the others
still run. The exit status is 0 either way (MISS is a finding, not a failure) unless --strict.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import dashboard, isolation, lifecycle, lists, loop, pages, pgworkers, timers, web
from .common import GOALS, goal_rows, log, python_info, table, workspace

SECTIONS: dict[str, tuple[str, Any, list[str]]] = {
    "lifecycle": (
        "5-step case: engine vs in-memory SpiffWorkflow vs whole-JSON blob (SQLite)",
        lifecycle.run,
        ["lifecycle_cases_per_s", "lifecycle_ratio_vs_memory", "lifecycle_ratio_vs_blob"],
    ),
    "isolation": (
        "owner code in evaluator processes vs in the server process (script case, SQLite)",
        isolation.run,
        ["isolation_eval_us", "isolation_cost_ms_per_case", "isolation_ratio"],
    ),
    "loop": (
        "one completion as the history grows (loop, 1,010 rounds)",
        loop.run,
        ["loop_step_ms_round_10", "loop_step_ms_round_1000", "loop_cost_ratio_1000_vs_10"],
    ),
    "lists": (
        "inbox, case list and timer scan with 100,000 open cases",
        lists.run,
        ["inbox_p95_ms_100k", "case_list_p95_ms_100k", "timer_scan_ms_100k_waiting"],
    ),
    "timers": (
        "10,000 timers due at once, fired by the worker (SQLite)",
        timers.run,
        ["timers_fired_per_s", "timer_duplicates"],
    ),
    "pg": (
        "10,000 due timers on PostgreSQL, 1, 2 and 4 worker processes",
        pgworkers.run,
        ["pg_timers_fired_per_s_1_2_4_workers", "pg_timer_duplicates"],
    ),
    "dashboard": (
        "the KPI dashboard's reads at 1,000,000 cases over 12 months (SQLite, PostgreSQL)",
        dashboard.run,
        ["dashboard_p95_ms_1m", "pg_dashboard_p95_ms_1m"],
    ),
    "web": (
        "the web app over the JSON API (caseflow serve, SQLite, 100k cases)",
        web.run,
        ["http_lifecycle_cases_per_s", "http_complete_p95_ms", "http_inbox_p95_ms"],
    ),
    "pages": (
        "page loads in Chromium: inbox, task, case list, case page (caseflow serve, 100k cases)",
        pages.run,
        [
            "pageload_inbox_p95_ms_100k",
            "pageload_task_p95_ms_100k",
            "pageload_case_list_p95_ms_100k",
            "pageload_case_p95_ms_100k",
        ],
    ),
}

RESULTS = Path(__file__).resolve().parent / "results.json"
# What results.json says about the run itself, not a figure of a section.
META_KEYS = {
    "goals",
    "errors",
    "section_seconds",
    "quick",
    "machine",
    "finished_at",
    "total_seconds",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts (a trial run)")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run only these sections")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results.json goes")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)

    chosen = args.only or list(SECTIONS)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    started = time.perf_counter()
    log(
        f"Caseflow benchmarks — {python_info()}, {platform.platform()}"
        + (" (quick)" if args.quick else "")
    )
    with workspace(keep=args.keep) as ws:
        if args.keep:
            log(f"scratch folder: {ws.path}")
        for n, name in enumerate(chosen, 1):
            title, run, keys = SECTIONS[name]
            log(f"\n[{n}/{len(chosen)}] {name}: {title}")
            t0 = time.perf_counter()
            try:
                run(ws, results, quick=args.quick)
            except Exception as exc:  # noqa: BLE001 - one section failing must not stop the rest
                errors[name] = f"{type(exc).__name__}: {exc}"
                log(f"  FAILED: {errors[name]}")
                traceback.print_exc(file=sys.stdout)
                for key in keys:
                    results.setdefault(key, None)
            timings[name] = round(time.perf_counter() - t0, 1)
            log(f"  ({timings[name]:.0f} s)")

    if args.only and not args.quick and args.out.exists():
        # Some sections only: the figures of the others stay as their last full run left them.
        earlier = json.loads(args.out.read_text())
        chosen_keys = {key for name in chosen for key in SECTIONS[name][2]}
        for key, value in earlier.items():
            if key not in results and key not in chosen_keys and key not in META_KEYS:
                results[key] = value
        timings = {**earlier.get("section_seconds", {}), **timings}
    for goal in GOALS:
        results.setdefault(goal.key, None)
    verdicts = {}
    for goal in GOALS:
        verdict = goal.check(results)
        verdicts[goal.key] = "PASS" if verdict else "MISS" if verdict is False else None
    document = {
        **{goal.key: results.get(goal.key) for goal in GOALS},
        **{k: v for k, v in results.items() if k not in {g.key for g in GOALS}},
        "goals": verdicts,
        "errors": errors,
        "section_seconds": timings,
        "quick": args.quick,
        "machine": python_info(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    # The keys the issue names, in its order, first.
    ordered = [
        "lifecycle_cases_per_s",
        "lifecycle_ratio_vs_memory",
        "lifecycle_ratio_vs_blob",
        "loop_step_ms_round_10",
        "loop_step_ms_round_1000",
        "loop_cost_ratio_1000_vs_10",
        "inbox_p95_ms_100k",
        "case_list_p95_ms_100k",
        "timer_scan_ms_100k_waiting",
        "timers_fired_per_s",
        "timer_duplicates",
        "pg_timers_fired_per_s_1_2_4_workers",
        "pg_timer_duplicates",
        "http_complete_p95_ms",
        "http_inbox_p95_ms",
        "http_lifecycle_cases_per_s",
        "dashboard_p95_ms_1m",
        "pageload_inbox_p95_ms_100k",
        "pageload_task_p95_ms_100k",
        "pageload_case_list_p95_ms_100k",
        "pageload_case_p95_ms_100k",
    ]
    document = {**{k: document.get(k) for k in ordered}, **document}
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

    log("\n" + table(goal_rows(results)))
    log(
        f"\n{sum(v == 'PASS' for v in verdicts.values())} of {len(GOALS)} goals met"
        f" in {time.perf_counter() - started:.0f} s; results in {args.out}"
    )
    if errors:
        log("sections that failed: " + ", ".join(f"{k} ({v})" for k, v in errors.items()))
    missed = any(v != "PASS" for v in verdicts.values())
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
