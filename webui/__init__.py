"""Caseflow web application (Flask). Views parse requests, call engine verbs and render."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, redirect, request, url_for
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from engine import Database, Desk, Runtime, Throttle, Worker, load_settings, secret_key

from .i18n import LANGUAGES, compile_translations, select_locale

csrf = CSRFProtect()


# Scripts and styles from this site only (the diagram library sets inline styles on the
# elements it draws); no framing by other sites; forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _supervisor_asks(desk: Desk) -> bool:
    """Whether /health is asked by a signed-in supervisor or with a supervisor's API token."""
    from flask import request
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False) and current_user.has_role("supervisor"):
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = desk.user_for_token(token.strip())
        return user is not None and user.has_role("supervisor")
    return False


def create_app(config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app; tests pass their own runtime (temporary database, fixed clock)."""
    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE="zh_Hant",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        WTF_CSRF_TIME_LIMIT=None,
    )
    # Behind a reverse proxy (nginx in front of gunicorn): how many proxies to trust for the
    # client's address and scheme, so login throttling and the booking-lookup limit count
    # clients, not the proxy.
    app.config["TRUSTED_PROXIES"] = int(os.environ.get("CASEFLOW_TRUSTED_PROXIES", "0") or 0)
    app.config.update(config or {})
    if app.config["TRUSTED_PROXIES"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    # JSON answers keep the order the views give (sorting every key of a 200-task inbox cost
    # more than reading it from the database).
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key()
    if runtime is None:
        runtime = Runtime(Database(app.config.get("DATABASE_URL")), load_settings())
    app.config["BABEL_DEFAULT_TIMEZONE"] = runtime.settings.timezone
    app.extensions["caseflow"] = runtime
    app.extensions["caseflow_worker"] = Worker(runtime)
    app.extensions["caseflow_desk"] = desk = Desk(runtime)
    # Sign-in and portal limits, counted in the database for every server process (keys hashed
    # with the secret key, so every process of one installation counts alike).
    app.extensions["caseflow_throttle"] = Throttle(
        runtime.db, runtime.clock, app.config["SECRET_KEY"]
    )

    compile_translations()
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: runtime.settings.timezone)
    csrf.init_app(app)

    from . import (
        api,
        auth,
        cases,
        dashboard,
        filters,
        models,
        newcase,
        portal,
        reports,
        search,
        tasks,
    )

    auth.init_app(app)
    filters.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(newcase.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(models.bp)

    @app.after_request
    def security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/health")
    def health() -> Any:
        worker: Worker = app.extensions["caseflow_worker"]
        database = desk.database_ok()
        status = 200 if database == "ok" else 503
        if not _supervisor_asks(desk):
            # Anyone may ask whether the service is up; nothing about the machine.
            return jsonify({"status": "ok" if database == "ok" else "degraded"}), status
        body = {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            # The worker in this process (caseflow serve --processes 1) ...
            "worker": {
                "last_run": worker.last_run.isoformat() if worker.last_run else None,
                "timers": worker.timers.to_dict(),
                "outbox": worker.delivery.to_dict(),
                "last_error": worker.last_error,
            },
            # ... and every worker that noted a round in the last 10 minutes (any process).
            "workers": desk.recent_workers() if database == "ok" else [],
            "time": runtime.clock.now().isoformat(),
        }
        return jsonify(body), status

    @app.get("/")
    def index() -> Any:
        return redirect(url_for("tasks.inbox"))

    @app.get("/lang/<code>")
    def set_language(code: str) -> Any:
        from .auth import _safe_next

        response = redirect(_safe_next(request.args.get("next")))
        if code in LANGUAGES:
            response.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True)
        return response

    from . import errors, static_cache

    errors.init_app(app)
    static_cache.init_app(app)
    return app
