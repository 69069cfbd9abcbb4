"""Fixtures of the browser tests (the helpers they use are in tests/e2e/staff_browser.py).

- `app`: the web app on the test runtime (tests/webui/conftest.py).
- `browser`: Chromium for pages that draw diagrams (skips without the bpmn-js viewer).
- `server`: the app served from a thread; a test module that needs a company set up first
  defines its own `server` (`with serve(app) as base: yield base`).
- `page`: a 1400 × 1000 tab on `server` for the modeler and the other editors, with the
  page's address (`page.base`) and the errors it showed (`page.problems`). A module changes
  what it needs with `editor_bundles` (the vendored files the pages load) and
  `console_noise` (console errors to let pass).

A browser test that cannot run skips; under CI=true tests/ci_guard.py turns that skip into a
failure (every test here is marked `e2e`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.staff_browser import MODELER, VIEWER, launch, serve, watch_console
from tests.webui.conftest import app  # noqa: F401 - the web app fixture


@pytest.fixture
def browser() -> Iterator[object]:
    with launch(VIEWER) as chromium:
        yield chromium


@pytest.fixture
def server(app) -> Iterator[str]:  # noqa: F811 - pytest's fixture injection
    with serve(app) as base:
        yield base


@pytest.fixture
def editor_bundles() -> tuple[Path, ...]:
    return (MODELER,)


@pytest.fixture
def console_noise() -> tuple[str, ...]:
    return ()


@pytest.fixture
def page(server, editor_bundles, console_noise) -> Iterator[object]:
    with launch(*editor_bundles) as chromium:
        tab = chromium.new_page(viewport={"width": 1400, "height": 1000})
        tab.problems = watch_console(tab, console_noise)  # type: ignore[attr-defined]
        tab.base = server  # type: ignore[attr-defined]
        yield tab
