"""What the outbox hands to a sender: one message (`OutgoingMessage`), the `Sender` protocol
every channel implements (engine.worker.mail for e-mail; engine.worker.outbox adapts the text
message senders of engine.worker.sms), and `PermanentFailure`, which a sender raises when
retrying cannot help."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class PermanentFailure(Exception):
    """Raised by a sender when retrying cannot help (the address or number is refused)."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One outbox row as the senders see it."""

    id: int
    key: str
    case_id: int | None
    channel: str
    recipient: str
    subject: str | None
    body: str
    attempts: int
    attachments: list[dict[str, Any]] = field(default_factory=list)


class Sender(Protocol):
    def send(self, message: OutgoingMessage) -> str | None:
        """Deliver the message or raise; returns the provider's id for it, if any."""
        ...
