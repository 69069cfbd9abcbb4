"""The installation's secret key: signs the web sessions and the links sent to customers.

From `CASEFLOW_SECRET_KEY`, else generated once into `instance/secret_key` (never committed), so
the web processes and the worker of one installation sign with the same key."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_KEY_ENV = "CASEFLOW_SECRET_KEY"


def secret_key() -> str:
    if os.environ.get(SECRET_KEY_ENV):
        return os.environ[SECRET_KEY_ENV]
    path = Path("instance") / "secret_key"
    if not path.exists():
        # Several processes (gunicorn workers, the timer worker) may start at once: the first to
        # link its key in wins, the others read that one, so every process signs alike.
        path.parent.mkdir(exist_ok=True)
        draft = path.with_name(f".secret_key.{os.getpid()}")
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
