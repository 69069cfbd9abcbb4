"""How often customers may look a booking up or open a link: limits against guessing that
do not lock out a customer who uses the pages normally.

Only failed lookups count (a customer who gets it right is never held up by their own earlier
typos), in sliding 10-minute windows kept in the database (webui/limits.py: every server
process counts the same failures, a restart keeps them, addresses and booking numbers are
stored only as keyed hashes): per address (PORTAL_LOOKUPS_PER_10_MIN, 30: an office or a
mobile network shares one address, so it is the larger limit) and per booking named
(PORTAL_BOOKING_FAILURES_PER_10_MIN, 10: a phone number cannot be guessed for a known booking
number from many addresses). One customer's burst of typos on their own booking meets its
booking limit long before the address limit, so another customer behind the same address
still gets in. Over either limit the page answers 429 with Retry-After and says how long to
wait, before checking anything, so a right guess is not confirmed either. A correct lookup
clears its booking's count, not its address's. Every opening of a link counts against its
address (PORTAL_LINK_OPENS_PER_10_MIN, 30)."""

from __future__ import annotations

import math
from typing import Any

from flask import current_app, render_template, request

from engine import portal

from ..limits import RateLimiter, rate_limiter

WINDOW_S = 600


def _address_failures() -> RateLimiter:
    return rate_limiter(
        "portal_address", current_app.config.get("PORTAL_LOOKUPS_PER_10_MIN", 30), WINDOW_S
    )


def _booking_failures() -> RateLimiter:
    return rate_limiter(
        "portal_booking",
        current_app.config.get("PORTAL_BOOKING_FAILURES_PER_10_MIN", 10),
        WINDOW_S,
    )


def link_limiter() -> RateLimiter:
    return rate_limiter(
        "portal_link", current_app.config.get("PORTAL_LINK_OPENS_PER_10_MIN", 30), WINDOW_S
    )


def _address() -> str:
    return request.remote_addr or "?"


def lookup_wait(reference: str) -> tuple[int, str]:
    """Seconds to wait before this lookup may be tried, and whose limit it is ("address" or
    "booking"); (0, "") when it may be tried now. Counts nothing."""
    by_address = _address_failures().wait(_address())
    key = portal.lookup_key(reference)
    by_booking = _booking_failures().wait(key) if key else 0
    if by_booking > by_address:
        return by_booking, "booking"
    return (by_address, "address") if by_address else (0, "")


def lookup_failed(reference: str) -> None:
    _address_failures().add(_address())
    key = portal.lookup_key(reference)
    if key:
        _booking_failures().add(key)


def lookup_succeeded(reference: str) -> None:
    key = portal.lookup_key(reference)
    if key:
        _booking_failures().reset(key)


def too_many(wait_s: int, scope: str, number: str = "") -> Any:
    response = current_app.make_response(
        (
            render_template(
                "portal/lookup.html",
                error="too_many",
                scope=scope,
                minutes=max(1, math.ceil(wait_s / 60)),
                number=number,
            ),
            429,
        )
    )
    response.headers["Retry-After"] = str(wait_s)
    return response
