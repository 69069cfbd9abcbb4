"""Customers' pages (the `portal` blueprint, under /book; no sign-in): book online, see a
booking by the number or reference its messages print and the phone number, change or cancel it
when the process would accept that now, and answer what a message asks them from the link in
it (engine.casework.links).

Every rule is the engine's (engine.portal): which days and times may be picked, what can still
be done with a booking and why not; these views parse the posts, ask it and render. What the
pages say (times in words, the engine's reasons) is webui.portal_text.

The pages sit in the modules beside this one and register on `bp` when imported (below):
booking.py (the services, a booking page, its confirmation, the live check of a picked time),
status.py (a booking looked up, a change or cancellation asked for), replies.py (the page
behind a link in a message); lookups.py limits lookups and link openings against guessing and
pickers.py gives the pickers their earliest values.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..portal_text import clock_words, input_value, when_words

bp = Blueprint("portal", __name__, url_prefix="/book")


@bp.app_template_filter("when")
def when_filter(value: Any, with_time: bool = True) -> str:
    """The one way customer pages write a time: company zone, in words."""
    return when_words(value, with_time)


@bp.app_template_filter("clock")
def clock_filter(value: Any) -> str:
    return clock_words(value)


@bp.app_template_filter("input_value")
def input_value_filter(value: Any) -> str:
    return input_value(value)


# The pages register their routes on bp.
from . import booking, replies, status  # noqa: E402, F401
