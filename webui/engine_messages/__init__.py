"""The engine's errors and refusals in the reader's language.

The engine raises errors with a stable reason code and its parameters (engine.core.errors,
engine.core.rules.Refusal); this package holds one sentence per code, written with named
parameters ("%(number)s") so Babel extracts them and the .po translates whole sentences.
webui/messages.py looks a code up here (an error of a class with reasons of its own, such as
a refused customer link, as "<class code>.<reason>") and shows the engine's English text for a
code this catalogue does not know.

The sentences sit in one module per domain: casework.py (cases and tasks: permissions,
conflicts, not found, validation, files, users), customers.py (bookings and customers' links)
and dryrun.py (dry runs and their scenarios). `catalogue(words)` merges them in the language
of `words` (words.py): its gettext and ngettext and the helpers that say a parameter in that
language (a list joined as the language joins one, a time in the company's zone, a role by its
name, a case status by its word).
"""

from __future__ import annotations

from . import casework, customers, dryrun
from .words import Sentence, Words

__all__ = ["Sentence", "Words", "catalogue"]


def catalogue(w: Words) -> dict[str, Sentence]:
    """reason code -> the sentence for its parameters, in the language of `w`."""
    return {**casework.sentences(w), **customers.sentences(w), **dryrun.sentences(w)}
