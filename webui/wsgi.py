"""The WSGI application for several web processes on one database:

    gunicorn --workers 4 --bind 0.0.0.0:8000 webui.wsgi:app

with `DATABASE_URL` (and `CASEFLOW_SETTINGS`, `CASEFLOW_SECRET_KEY`) set alike for every
process, and the timers and outbox in `caseflow worker` processes (none runs in here).
"""

from __future__ import annotations

from webui import create_app

app = create_app()
