"""Pytest plugin: prints the hardening tests' figures (routes and identities checked, fuzz
examples tried, hostile files refused) in the terminal summary.

Tests call ``record("access", routes=46)`` (figures add up over tests) and ``describe("access",
"{routes} routes × {identities} identities")`` once; at the end of the run each described
section with figures is printed as one line. The plugin registers itself from the hardening
tests' fixture (``ensure_registered``), so listing it in ``pytest_plugins`` is optional.
"""

from __future__ import annotations

from collections import defaultdict
from string import Formatter
from typing import Any

import pytest

PLUGIN_NAME = "caseflow-hardening-summary"
_figures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
_templates: dict[str, str] = {}


def record(section: str, **figures: int) -> None:
    for name, value in figures.items():
        _figures[section][name] += value


def set_figure(section: str, **figures: int) -> None:
    """Like `record`, but the figure is a fact (e.g. the number of routes), not a running sum."""
    for name, value in figures.items():
        _figures[section][name] = value


def describe(section: str, template: str) -> None:
    _templates[section] = template


def ensure_registered(config: pytest.Config) -> None:
    manager = config.pluginmanager
    module = __import__(__name__, fromlist=["_"])
    if not manager.is_registered(module) and not manager.has_plugin(PLUGIN_NAME):
        manager.register(module, PLUGIN_NAME)


def _line(section: str, template: str) -> str:
    figures = _figures.get(section, {})
    names = {field for _, field, _, _ in Formatter().parse(template) if field}
    values: dict[str, Any] = {name: figures.get(name, 0) for name in names}
    return f"{section}: {template.format(**values)}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    sections = [s for s in _templates if _figures.get(s)]
    if not sections:
        return
    terminalreporter.write_sep("=", "hardening figures: access, hostile input, fuzzing")
    for section in sections:
        terminalreporter.write_line(_line(section, _templates[section]))
