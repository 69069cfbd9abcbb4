"""The heat map of where a process version's running cases wait: the page (the diagram with
its counts) and the counts alone as JSON, which the case page's diagram asks for."""

from __future__ import annotations

import json
from typing import Any

from flask import jsonify, redirect, render_template, url_for

from ..auth import desk, role_required
from . import PROCESS_OWNER, SUPERVISOR, bp, supervision


@bp.get("/heatmap/<key>")
@role_required(SUPERVISOR, PROCESS_OWNER)
def heat_map_latest(key: str) -> Any:
    versions = supervision().versions_of(key)
    return redirect(url_for("cases.heat_map", key=key, version=versions[0]))


@bp.get("/heatmap/<key>/<int:version>")
@role_required(SUPERVISOR, PROCESS_OWNER)
def heat_map(key: str, version: int) -> Any:
    heat = supervision().heat_map(key, version)
    source = desk().version_source(key, version)
    return render_template(
        "cases/heatmap.html",
        heat=heat,
        source=source,
        versions=supervision().versions_of(key),
        heat_json=json.dumps(heat.by_element()),
    )


@bp.get("/heatmap/<key>/<int:version>/counts")
@role_required(SUPERVISOR, PROCESS_OWNER)
def heat_counts(key: str, version: int) -> Any:
    """The heat map's counts as JSON, for the case page's diagram (asked for when shown)."""
    return jsonify(supervision().heat_map(key, version).by_element())
