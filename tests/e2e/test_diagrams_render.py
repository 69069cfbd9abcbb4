"""Every diagram renders in bpmn-js: processes/*.bpmn as they are, the layout samples and the
test fixtures after engine/definitions/layout/. No import error or warning, every flow node drawn,
and a screenshot per diagram in test-artifacts/diagrams/ to look at."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from engine.definitions.layout import BPMN, FLOW_NODES, layout
from tests.e2e.staff_browser import ROOT, VIEWER, launch

if TYPE_CHECKING:
    from playwright.sync_api import Page

VENDOR = VIEWER.parent  # bpmn-js: the viewer bundle and its styles
SHOTS = ROOT / "test-artifacts" / "diagrams"

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/diagram-js.css">
<link rel="stylesheet" href="/assets/bpmn-js.css">
<link rel="stylesheet" href="/assets/bpmn-font/css/bpmn-embedded.css">
<style>html, body { margin: 0; background: #fff; } #canvas { position: absolute; inset: 0; }</style>
<script src="/bpmn-navigated-viewer.production.min.js"></script>
</head><body><div id="canvas"></div></body></html>
"""

# Imports one diagram into a fresh viewer; answers what the test checks.
IMPORT = """async (xml) => {
  if (window.viewer) { window.viewer.destroy(); }
  window.viewer = new BpmnJS({ container: '#canvas' });
  try {
    const result = await window.viewer.importXML(xml);
    const registry = window.viewer.get('elementRegistry');
    const inner = window.viewer.get('canvas').viewbox().inner;
    return {
      error: null,
      warnings: result.warnings.map((w) => String(w.message || w)),
      drawn: registry.getAll().filter((e) => registry.getGraphics(e)).map((e) => e.id),
      width: Math.ceil(inner.width), height: Math.ceil(inner.height),
    };
  } catch (err) {
    return { error: String(err && err.message || err), warnings: [], drawn: [] };
  }
}"""

# Ids of the sub-process planes bpmn-js made (collapsed sub-processes drill down into them).
PLANES = """() => {
  const canvas = window.viewer.get('canvas');
  const main = canvas.getRootElement();
  return canvas.getRootElements().map((r) => r.id).filter((id) => id !== main.id);
}"""

SHOW_PLANE = """(id) => {
  const canvas = window.viewer.get('canvas');
  canvas.setRootElement(canvas.findRoot(id));
  const inner = canvas.viewbox().inner;
  return { width: Math.ceil(inner.width), height: Math.ceil(inner.height) };
}"""

FIT = (
    "() => { const c = window.viewer.get('canvas'); c.resized(); c.zoom('fit-viewport', 'auto'); }"
)


def _sources() -> list:
    params = []
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        params.append(pytest.param(path, False, path.stem, id=f"processes/{path.name}"))
    for path in sorted((ROOT / "tests" / "fixtures" / "layout").glob("*.bpmn")):
        params.append(pytest.param(path, True, f"layout-{path.stem}", id=f"layout/{path.name}"))
    for path in sorted((ROOT / "tests" / "fixtures").glob("*.bpmn")):
        params.append(pytest.param(path, True, f"fixture-{path.stem}", id=f"fixtures/{path.name}"))
    return params


class _Handler(http.server.SimpleHTTPRequestHandler):
    """The page at /, the vendored bpmn-js files under it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(VENDOR), **kwargs)

    def do_GET(self) -> None:
        if self.path in ("/", "/index.html"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Viewer:
    page: Page
    problems: list[str] = field(default_factory=list)  # script errors seen on the page

    def screenshot(self, size: dict, path: Path) -> None:
        """The diagram at 100 % (smaller only when huge): what a process owner sees."""
        self.page.set_viewport_size(
            {
                "width": min(max(size["width"] + 80, 600), 4000),
                "height": min(max(size["height"] + 80, 300), 3000),
            }
        )
        self.page.evaluate(FIT)
        self.page.screenshot(path=str(path))


@pytest.fixture(scope="module")
def viewer() -> Iterator[Viewer]:
    """A Chromium page with the bpmn-js viewer, served from a local server thread."""
    with launch(VIEWER) as browser:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            viewer = Viewer(page)
            page.on("pageerror", lambda exc: viewer.problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    viewer.problems.append(f"console: {msg.text}") if msg.type == "error" else None
                ),
            )
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            page.wait_for_function("typeof BpmnJS === 'function'")
            yield viewer
            page.close()
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _flow_node_ids(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    return [
        el.get("id")
        for el in root.iter()
        if isinstance(el.tag, str)
        and etree.QName(el).namespace == BPMN
        and etree.QName(el).localname in FLOW_NODES
        and el.get("id")
    ]


@pytest.mark.e2e
@pytest.mark.parametrize(("path", "needs_layout", "shot"), _sources())
def test_diagram_renders(viewer: Viewer, path: Path, needs_layout: bool, shot: str) -> None:
    xml = path.read_bytes()
    if needs_layout:
        xml = layout(xml)
    viewer.problems.clear()
    result = viewer.page.evaluate(IMPORT, xml.decode("utf-8"))
    assert result["error"] is None, (
        f"bpmn-js cannot import {path.name}: {result['error']} "
        f"(no layout? run: python -m engine.definitions.layout {path.relative_to(ROOT)})"
    )
    assert result["warnings"] == [], f"bpmn-js import warnings for {path.name}"
    missing = sorted(set(_flow_node_ids(xml)) - set(result["drawn"]))
    assert missing == [], f"flow nodes bpmn-js did not draw: {missing}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(result, SHOTS / f"{shot}.png")
    for plane in viewer.page.evaluate(PLANES):
        size = viewer.page.evaluate(SHOW_PLANE, plane)
        viewer.screenshot(size, SHOTS / f"{shot}--{plane.removesuffix('_plane')}.png")
    assert viewer.problems == []
