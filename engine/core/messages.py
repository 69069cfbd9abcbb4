"""Messages for people, as data: a stable code, its parameters, and the English sentence.

A `Message` is a `str` (the English sentence), so it prints, compares and serialises like
one; the web layer translates it by `code` with `params` (webui/messages.py), so no language
argument runs through the engine."""

from __future__ import annotations

from typing import Any


class Message(str):
    """The English text, with `code` and `params` for translation."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, text: str, **params: Any) -> Message:
        message = super().__new__(cls, text)
        message.code = code
        message.params = params
        return message

    def __reduce__(self) -> Any:
        return (_rebuild, (self.code, str(self), self.params))


def _rebuild(code: str, text: str, params: dict[str, Any]) -> Message:
    return Message(code, text, **params)
