"""Pytest plugin: under CI, a skipped PostgreSQL or browser test is a failure.

Tests marked ``postgres`` or ``e2e`` skip themselves when their server or browser is
not available, which is convenient on a developer machine but would let CI go green
without having run them. When the environment variable ``CI`` is ``true``
(case-insensitive), such a skip is turned into a failure that carries the skip reason.
Outside CI skips stay skips. Expected failures (xfail) are left alone.

Load it either way:
    pytest_plugins = ["tests.ci_guard"]             # in tests/conftest.py
    from tests.ci_guard import pytest_runtest_makereport  # noqa: F401  (in a conftest)
    python -m pytest -p tests.ci_guard ...
Loading it twice is harmless: a report already turned into a failure is not skipped.
"""

from __future__ import annotations

import os

import pytest

GUARDED_MARKERS = ("postgres", "e2e")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _skip_reason(longrepr: object) -> str:
    # A skip's longrepr is (path, lineno, "Skipped: reason").
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return report
    markers = [name for name in GUARDED_MARKERS if item.get_closest_marker(name) is not None]
    if not markers:
        return report
    marks = ", ".join(f"@pytest.mark.{m}" for m in markers)
    report.outcome = "failed"
    report.longrepr = (
        f"[ci_guard] {item.nodeid} ({marks}) was skipped, but CI=true forbids skipping "
        f"these tests.\n"
        f"Skip reason: {_skip_reason(report.longrepr)}\n"
        f"Install what is missing (scripts/ensure-test-deps.sh) so the test can run."
    )
    return report
