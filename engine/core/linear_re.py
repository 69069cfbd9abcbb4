"""Regular expressions from outside the code (form patterns written by process owners, values
typed into forms) run on RE2, whose matching time is linear in the input: a pattern such as
``^(a+)+$`` cannot make the server backtrack for minutes. RE2 refuses what needs
backtracking (back-references, look-around); such a pattern is refused at deploy."""

from __future__ import annotations

import functools
from typing import Any

import re2

MAX_PATTERN = 2_000  # characters of one pattern


class PatternError(ValueError):
    """A pattern RE2 cannot run (with the reason)."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the reason is in the exception, not on stderr
    options.max_mem = 8 << 20
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=2048)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern, or PatternError saying why it cannot be used."""
    if not isinstance(pattern, str):
        raise PatternError("a pattern must be text")
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"a pattern may have at most {MAX_PATTERN:,} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"{pattern!r} cannot be used ({reason}); back-references and look-around are not"
            " supported"
        ) from None


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches somewhere in `text` (JSON Schema's `pattern` semantics)."""
    return compile_pattern(pattern).search(text) is not None
