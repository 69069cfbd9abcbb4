"""Shared state and helpers of the hardening tests (imported by conftest.py and the tests as
tests.hardening.helpers, so both see the same figures)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from engine.core.errors import Conflict, InvalidState
from tests.ci_guard import in_ci

HERE = Path(__file__).parent
HARDENING_FIXTURES = HERE / "fixtures"
DB_BACKEND = os.environ.get("CASEFLOW_TEST_DB", "sqlite")

# Lines for the terminal summary, in the order the tests ran.
FIGURES: list[str] = []
# Thread races across all files of this folder (the issue asks for 1,000 rounds).
RACE_TOTALS: Counter[str] = Counter()


def add_figure(request: pytest.FixtureRequest | None, line: str) -> None:
    FIGURES.append(line)
    if request is not None:
        request.node.user_properties.append(("figure", line))
    print(line)


LOSING = (Conflict, InvalidState)  # both are HTTP 409 with a message saying what happened


class Racer:
    """A small reused thread pool; each round starts its contenders at one barrier."""

    def __init__(self, threads: int = 4):
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="racer")

    def race(
        self, contenders: list[Callable[[], Any]], also: tuple[type[BaseException], ...] = ()
    ) -> list[tuple[str, Any]]:
        """Run the contenders at the same moment: [("ok", result) | ("lost", exception)];
        `also`: further exceptions to hand back as ("raised", exception) instead of raising."""
        barrier = threading.Barrier(len(contenders))

        def run(fn: Callable[[], Any]) -> tuple[str, Any]:
            barrier.wait(timeout=60)
            try:
                return "ok", fn()
            except LOSING as exc:
                return "lost", exc
            except also as exc:
                return "raised", exc

        futures = [self.pool.submit(run, fn) for fn in contenders]
        return [f.result(timeout=120) for f in futures]

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def require_wiring(what: str, present: bool) -> None:
    """A command or hook the lead wires in from the hardening report: skipped locally until
    then; under CI a missing piece fails."""
    if present:
        return
    message = f"{what} is not wired in yet (see the hardening report for the code to add)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)
