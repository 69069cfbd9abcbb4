"""How a case ended: the outcome its end event declares (extension property `outcome`).

The vocabulary is fixed here, once: deploy refuses any other value (engine.definitions), the
runtime stores the outcome of the end event a case reached in its top-level process on the
case row, and the KPIs count cases by it (a booking is a success only when `served`).
"""

from __future__ import annotations

from enum import StrEnum

# The extension property of an end event that names the case's outcome.
OUTCOME_PROPERTY = "outcome"


class Outcome(StrEnum):
    SERVED = "served"  # the service was given (or the request answered)
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"  # on time or late, with or without a fee
    CANCELLED_BY_COMPANY = "cancelled_by_company"  # also a case cancelled from the case page
    NO_SHOW = "no_show"  # the customer did not come
    WITHDRAWN = "withdrawn"  # the customer gave up before a booking (declined a quote, no fix)
    REJECTED = "rejected"  # the company turned the request down
    UNFULFILLED = "unfulfilled"  # the company could not arrange it (no slot, no caregiver)
    TRANSFERRED = "transferred"  # handed on to another process (a shared step's success)
    CLOSED = "closed"  # closed without a service: a complaint settled, a request expired
    # Ends one path of a case while others go on (a reminder, a tracking branch, greetings):
    # it decides nothing, the case's outcome comes from another end event.
    PATH_ENDED = "path_ended"


OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)


def case_outcome(value: str | None) -> str | None:
    """The outcome an end event gives its case: None when it declares none or only ends a
    path."""
    if not value or value == Outcome.PATH_ENDED:
        return None
    return value
