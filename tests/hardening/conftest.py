"""Hardening tests (races, crashes, personal data, backups): fixtures, and the figures they
print in pytest's terminal summary (rounds, winners, conflicts, kills, duplicates, times),
whether or not -s is given. Shared state lives in tests.hardening.helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.hardening.helpers import DB_BACKEND, FIGURES, RACE_TOTALS, Racer, add_figure


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    return lambda line: add_figure(request, line)


@pytest.fixture
def racer() -> Iterator[Racer]:
    r = Racer()
    yield r
    r.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES and not RACE_TOTALS:
        return
    terminalreporter.write_sep("=", f"races, crashes, personal data, backups ({DB_BACKEND})")
    if RACE_TOTALS:
        kinds = ", ".join(
            f"{kind} {RACE_TOTALS[kind]}"
            for kind in ("claim", "complete", "message", "booking")
            if RACE_TOTALS[kind]
        )
        terminalreporter.write_line(
            f"races: {RACE_TOTALS['rounds']} rounds, {RACE_TOTALS['single']} single winners, "
            f"{RACE_TOTALS['conflicts']} conflicts ({kinds}; threads)"
        )
    for line in FIGURES:
        terminalreporter.write_line(line)
