"""Sign-in with local users (Flask-Login); roles come from the engine's users.

Failed sign-ins slow down whoever sends them, never the real user elsewhere
(webui/limits.py; counted in the database, so every server process and a restart see the
same counts; names and addresses are stored only as keyed hashes): per user name AND address,
the first LOGIN_FREE_FAILURES (5) failures cost nothing, then each further one makes that name
from that address wait 1, 2, 4 … seconds (at most LOGIN_MAX_DELAY_S, 300 s); across names,
one address may fail LOGIN_FAILURES_PER_ADDRESS times (default 100, offices share an address)
in LOGIN_THROTTLE_WINDOW_S (600 s). While waiting, the sign-in page answers 429 with
Retry-After without checking the password, for names that exist and names that do not alike,
so the answer never tells whether a user exists. A successful sign-in clears its
name-and-address count. Behind a reverse proxy, set CASEFLOW_TRUSTED_PROXIES (the number of
proxies in front) so that `request.remote_addr` is the client's address, not the proxy's.

Sessions: the user's session version (engine.identity.users) is kept in the session at sign-in and
checked on every request; sign-out and a password change raise it, which ends every session
of that user, also a copied cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)

from engine import UserInfo

from .limits import Backoff, RateLimiter, backoff, rate_limiter

SESSION_VERSION = "_sv"

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


def desk() -> Any:
    """The engine's answers besides the verbs (engine.casework.desk.Desk)."""
    return current_app.extensions["caseflow_desk"]


def init_app(app: Any) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def load_user(name: str) -> WebUser | None:
        info = desk().get_user(name)
        if info is None or session.get(SESSION_VERSION) != info.session_version:
            return None  # signed out (or the password changed) since this session began
        return WebUser(info)


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


def _login_limiters() -> tuple[Backoff, RateLimiter]:
    """(per user name and address, per address) counters of failed sign-ins, shared by every
    server process through the database."""
    config = current_app.config
    return (
        backoff(
            "login_name", config.get("LOGIN_FREE_FAILURES", 5), config.get("LOGIN_MAX_DELAY_S", 300)
        ),
        rate_limiter(
            "login_address",
            config.get("LOGIN_FAILURES_PER_ADDRESS", 100),
            config.get("LOGIN_THROTTLE_WINDOW_S", 600),
        ),
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        password = request.form.get("password") or ""
        by_name, by_address = _login_limiters()
        address = request.remote_addr or "?"
        name_key = f"{name.casefold()}|{address}"
        if name and password:
            wait = max(by_name.wait(name_key), by_address.wait(address))
            if wait:
                page = render_template(
                    "auth/login.html",
                    error=_("Too many attempts. Please try again in %(n)s seconds.", n=wait),
                )
                return page, 429, {"Retry-After": str(wait)}
        info = desk().authenticate(name, password) if name and password else None
        if info is None:
            error = _("Wrong user name or password.")
            if name and password:
                by_name.add(name_key)
                by_address.add(address)
        else:
            by_name.reset(name_key)
            session[SESSION_VERSION] = info.session_version
            login_user(WebUser(info))
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("auth/login.html", error=error), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    desk().end_sessions(current_user.name)  # every device, and any copied cookie
    logout_user()
    flash(_("You are signed out."))
    return redirect(url_for("auth.login"))
