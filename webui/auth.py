"""Sign-in with local users (Flask-Login); roles come from the engine's users.

Failed sign-ins are throttled per user name and per address (webui/limits.py): after
LOGIN_FAILURES_PER_USER failures for one name (default 5) or LOGIN_FAILURES_PER_ADDRESS from
one address (default 20, offices share an address) within LOGIN_THROTTLE_WINDOW_S (600 s),
the sign-in page answers 429 without checking the password, for names that exist and names
that do not alike, so the answer never tells whether a user exists. A successful sign-in
clears its name's count. Behind a reverse proxy, set CASEFLOW_TRUSTED_PROXIES (the number of
proxies in front) so that `request.remote_addr` is the client's address, not the proxy's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)

from engine.users import UserInfo, authenticate, get_user

from .limits import RateLimiter

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class WebUser(UserMixin):
    def __init__(self, info: UserInfo):
        self.info = info
        self.id = info.name

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def roles(self) -> frozenset[str]:
        return self.info.roles

    def has_role(self, *roles: str) -> bool:
        return self.info.has_role(*roles)


def runtime() -> Any:
    return current_app.extensions["caseflow"]


def init_app(app: Any) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def load_user(name: str) -> WebUser | None:
        info = get_user(runtime().db, name)
        return WebUser(info) if info else None


def role_required(*roles: str) -> Callable:
    """Signed in (else to the sign-in page) and holding one of `roles` (else 403)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else the inbox. Browsers read "/\\evil" as
    "//evil" and drop tabs and line breaks, so those are refused too."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("tasks.inbox")


def _login_limiters() -> tuple[RateLimiter, RateLimiter]:
    """(per user name, per address) counters of failed sign-ins, one pair per app."""
    limiters = current_app.extensions.get("caseflow_login_limiters")
    if limiters is None:
        config = current_app.config
        window = config.get("LOGIN_THROTTLE_WINDOW_S", 600)
        limiters = (
            RateLimiter(config.get("LOGIN_FAILURES_PER_USER", 5), window),
            RateLimiter(config.get("LOGIN_FAILURES_PER_ADDRESS", 20), window),
        )
        current_app.extensions["caseflow_login_limiters"] = limiters
    return limiters


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        password = request.form.get("password") or ""
        by_name, by_address = _login_limiters()
        name_key, address = name.casefold(), request.remote_addr or "?"
        if name and password:
            wait = max(by_name.wait(name_key), by_address.wait(address))
            if wait:
                page = render_template(
                    "auth/login.html", error=_("Too many attempts. Please wait a few minutes.")
                )
                return page, 429, {"Retry-After": str(wait)}
        info = authenticate(runtime().db, name, password) if name and password else None
        if info is None:
            error = _("Wrong user name or password.")
            if name and password:
                by_name.add(name_key)
                by_address.add(address)
        else:
            by_name.reset(name_key)
            login_user(WebUser(info))
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("auth/login.html", error=error), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    flash(_("You are signed out."))
    return redirect(url_for("auth.login"))
