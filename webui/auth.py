"""Sign-in with local users (Flask-Login); roles come from the engine's users."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

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
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("tasks.inbox")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        password = request.form.get("password") or ""
        info = authenticate(runtime().db, name, password) if name and password else None
        if info is None:
            error = _("Wrong user name or password.")
        else:
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
