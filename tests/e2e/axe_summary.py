"""Pytest plugin: one line per page checked by axe-core in the terminal summary (what
tests/e2e/test_accessibility.py found), whether or not -s is given. The test registers it
(`ensure_registered`) and adds a line per page with `record`."""

from __future__ import annotations

from typing import Any

import pytest

PLUGIN_NAME = "caseflow-axe-summary"
_lines: list[str] = []


def record(line: str) -> None:
    _lines.append(line)


def ensure_registered(config: pytest.Config) -> None:
    manager = config.pluginmanager
    module = __import__(__name__, fromlist=["_"])
    if not manager.is_registered(module) and not manager.has_plugin(PLUGIN_NAME):
        manager.register(module, PLUGIN_NAME)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _lines:
        return
    terminalreporter.write_sep("=", "accessibility (axe-core): violations per page")
    for line in _lines:
        terminalreporter.write_line(line)
