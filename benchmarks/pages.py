"""Page loads as people see them: Chromium opens the staff inbox, a task page, the supervisor's
case list and a case page of `caseflow serve --processes 2` (what `make run` serves) on a copy
of the 100k database (benchmarks/lists.py: 100,000 open cases written with executemany), and
the Navigation Timing API gives each load's time from navigation start to the end of the load
event. Each page is opened `count` times after a warm-up, a different task or case each time
(as a clerk goes through their work), the browser's cache kept as in a day's work; p95.

The case page draws the diagram after the load event (bpmn-js imports it asynchronously); the
time until it is drawn is reported beside the load figure (`pageload_case_diagram_p95_ms_100k`).
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from .common import log, median, percentile
from .lists import build_dataset, copy_dataset
from .web import _serve, _stop

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "bench-pass-1"
PAGES = ("inbox", "task", "case_list", "case")
# The load's time, and where it went: leaving the previous page and getting a connection, the
# server's answer (request sent → first byte), the
# rest of the page's bytes, building the document (scripts included) and the load event's wait
# for styles, scripts and images.
LOAD_TIME = """() => {
  const [nav] = performance.getEntriesByType('navigation');
  return {
    total: nav.loadEventEnd - nav.startTime,
    before: nav.requestStart - nav.startTime,
    server: nav.responseStart - nav.requestStart,
    transfer: nav.responseEnd - nav.responseStart,
    document: nav.domContentLoadedEventEnd - nav.responseEnd,
    subresources: nav.loadEventEnd - nav.domContentLoadedEventEnd,
  };
}"""
PARTS = ("before", "server", "transfer", "document", "subresources")


def _passwords(url: str, names: dict[str, list[str]], ws: Any) -> None:
    """Give the benchmark's clerk and supervisor a password to sign in with."""
    from engine.core.clock import SystemClock
    from engine.identity.users import add_user
    from engine.store.database import Database

    db = Database(url)
    try:
        for name, roles in names.items():
            add_user(db, ws.settings(), name, roles, SystemClock().now(), password=PASSWORD)
    finally:
        db.dispose()


def _samples(path: Path, count: int) -> tuple[list[int], list[str]]:
    """Open service-desk tasks and running cases to open, a different one each time."""
    rng = random.Random(7)
    with sqlite3.connect(path) as conn:
        tasks = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM task WHERE role = 'service_desk' AND status = 'open'"
                " ORDER BY id LIMIT 20000"
            )
        ]
        cases = [
            r[0]
            for r in conn.execute(
                "SELECT number FROM \"case\" WHERE status = 'running' ORDER BY id LIMIT 20000"
            )
        ]
    return rng.sample(tasks, count), rng.sample(cases, count)


def _load(tab: Any, url: str, ready: str | None = None) -> tuple[dict[str, float], float | None]:
    """Open `url`; the load's time (navigation start → load event end), and with `ready` the
    time until that selector appears (measured the same way, from navigation start)."""
    response = tab.goto(url, wait_until="load")
    if response is None or response.status != 200:
        raise RuntimeError(f"{url}: {response.status if response else 'no answer'}")
    tab.wait_for_function("() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
    loaded = tab.evaluate(LOAD_TIME)
    drawn = None
    if ready:
        tab.wait_for_selector(ready, timeout=30_000)
        drawn = tab.evaluate("() => performance.now()")
    return loaded, drawn


def _sign_in(tab: Any, base: str, name: str) -> None:
    tab.goto(f"{base}/login")
    tab.fill("input[name=name]", name)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(lambda url: "/login" not in url)


def measure(base: str, tasks: list[int], cases: list[str], warm: int) -> dict[str, Any]:
    """Load times (ms) per page: {page: [loads]}, and the case diagram's drawn times."""
    from playwright.sync_api import sync_playwright

    times: dict[str, list[dict[str, float]]] = {page: [] for page in PAGES}
    drawn: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            clerk = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
            boss = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
            _sign_in(clerk, base, "desk")
            _sign_in(boss, base, "boss")
            for n in range(len(tasks)):
                keep = n >= warm
                for page, tab, url, ready in (
                    ("inbox", clerk, f"{base}/tasks", None),
                    ("task", clerk, f"{base}/tasks/{tasks[n]}", None),
                    ("case_list", boss, f"{base}/cases", None),
                    ("case", boss, f"{base}/cases/{cases[n]}", "#diagram[data-ready=true]"),
                ):
                    loaded, shown = _load(tab, url, ready)
                    if keep:
                        times[page].append(loaded)
                        if shown is not None:
                            drawn.append(shown)
        finally:
            browser.close()
    return {"times": times, "drawn": drawn}


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing (scripts/ensure-test-deps.sh installs it)")
    open_cases = 20_000 if quick else 100_000
    count, warm = (10, 3) if quick else (40, 5)
    source = build_dataset(ws, open_cases=open_cases)
    url = copy_dataset(ws, source, "pages.db")
    _passwords(url, {"desk": ["service_desk"], "boss": ["supervisor"]}, ws)
    tasks, cases = _samples(Path(url.removeprefix("sqlite:///")), count + warm)
    procs, port = _serve(ws, url, "serve")
    try:
        t0 = time.perf_counter()
        found = measure(f"http://127.0.0.1:{port}", tasks, cases, warm)
        elapsed = time.perf_counter() - t0
    finally:
        _stop(procs)
    loads, drawn = found["times"], found["drawn"]
    times = {page: [load["total"] for load in values] for page, values in loads.items()}
    scale = "100k" if not quick else "20k"
    for page in PAGES:
        results[f"pageload_{page}_p95_ms_{scale}"] = round(percentile(times[page], 95), 1)
    results[f"pageload_case_diagram_p95_ms_{scale}"] = round(percentile(drawn, 95), 1)
    results["pageload_detail"] = {
        page: {
            "count": len(values),
            "median_ms": round(median(values), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "max_ms": round(max(values), 1),
            "median_parts_ms": {
                part: round(median([load[part] for load in loads[page]]), 1) for part in PARTS
            },
        }
        for page, values in times.items()
    }
    log(
        f"  Chromium, caseflow serve --processes 2, {open_cases:,} open cases, {count} loads a"
        f" page ({elapsed:.0f} s):"
    )
    for page in PAGES:
        values = times[page]
        parts = results["pageload_detail"][page]["median_parts_ms"]
        log(
            f"    {page:10} p95 {percentile(values, 95):6.1f} ms  (median {median(values):.1f},"
            f" max {max(values):.1f}; median before {parts['before']:.0f}, server"
            f" {parts['server']:.0f}, transfer"
            f" {parts['transfer']:.0f}, document {parts['document']:.0f}, scripts/styles/images"
            f" {parts['subresources']:.0f})"
        )
    log(f"    case page with its diagram drawn: p95 {percentile(drawn, 95):.1f} ms")
