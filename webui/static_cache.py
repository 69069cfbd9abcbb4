"""Static files that browsers keep: every `url_for('static', filename=...)` carries a hash of
the file's content (`?v=…`), and a request naming the current hash is answered with a year's
max-age marked immutable. A changed file gets a new address, so no browser keeps an old copy;
an address without the hash (or with an old one) is served as before, revalidated each time.

Without this a page view asked the server again for each of its styles and scripts (a
conditional request answered 304): the load event of the inbox waited for them (benchmarks/
pages.py measures page loads)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from flask import request

YEAR_S = 365 * 24 * 3600


def init_app(app: Any) -> None:
    folder = Path(app.static_folder or "")
    hashes: dict[str, tuple[tuple[int, int], str]] = {}

    def version(filename: str) -> str | None:
        """The first 12 hex digits of the file's SHA-256 (recomputed when the file changes)."""
        path = (folder / filename).resolve()
        if not path.is_relative_to(folder.resolve()):
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        known = hashes.get(filename)
        if known is None or known[0] != key:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            hashes[filename] = known = (key, digest)
        return known[1]

    @app.url_defaults
    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            found = version(values["filename"])
            if found:
                values["v"] = found

    @app.after_request
    def keep_static(response: Any) -> Any:
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        wanted = request.args.get("v")
        filename = (request.view_args or {}).get("filename")
        if wanted and filename and wanted == version(filename):
            response.cache_control.public = True
            response.cache_control.max_age = YEAR_S
            response.cache_control.immutable = True
            response.cache_control.no_cache = None
        return response
