"""The sentences of the engine's refusals to customers: bookings (engine.casework.portal) and
the links in their messages (engine.casework.links; codes "link_refused.<reason>")."""

from __future__ import annotations

from .words import Sentence, Words


def sentences(w: Words) -> dict[str, Sentence]:
    """reason code -> the sentence for its parameters, in the language of `w`."""
    _ = w.gettext
    return {
        # ----- bookings by customers (engine.casework.portal)
        "booking_page_not_found": lambda p: _("This service cannot be booked online."),
        "booking_not_found": lambda p: _("No booking was found with this number and phone number."),
        "booking_too_late": lambda p: _(
            "This booking can no longer be changed or cancelled online (it is too close to the"
            " appointment, already being handled, or finished); please call customer service."
        ),
        "unknown_request": lambda p: _("Unknown request: ask for a change or a cancellation."),
        "change_request_errors": lambda p: _("The change request has errors."),
        # ----- customers' links (engine.casework.links)
        "link_refused.invalid": lambda p: _(
            "This link is not valid. Please open it exactly as it was sent to you."
        ),
        "link_refused.expired": lambda p: _(
            "This link stopped working at %(at)s.", at=w.when(p["at"])
        ),
        "link_refused.used": lambda p: _(
            "This link was already used: your answer has been received. Thank you."
        ),
        "link_refused.not_waiting": lambda p: _(
            "This request no longer waits for an answer (it was answered another way, or it"
            " is closed)."
        ),
    }
