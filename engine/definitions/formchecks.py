"""Checks of single values in forms: dates, times, e-mail addresses (email-validator), patterns in
linear time (RE2), and the JSON Schema validator that uses them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import referencing
from email_validator import EmailNotValidError, validate_email
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from engine.core.linear_re import PatternError, compile_pattern

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


_TIME_PART = r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})?"


_TIME_RE = re.compile(_TIME_PART, re.ASCII)


_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]" + _TIME_PART, re.ASCII)


def _is_date(value: object) -> bool:
    """YYYY-MM-DD that exists on the calendar (what <input type="date"> posts)."""
    if not isinstance(value, str):
        return True
    return bool(_DATE_RE.fullmatch(value)) and bool(date.fromisoformat(value))


def _is_time(value: object) -> bool:
    """HH:MM[:SS[.fraction]][Z|±HH:MM]; seconds optional because <input type="time"> omits them."""
    if not isinstance(value, str):
        return True
    return bool(_TIME_RE.fullmatch(value)) and bool(time.fromisoformat(_iso(value)))


def _is_datetime(value: object) -> bool:
    """A real calendar date and clock time; offset optional so datetime-local posts pass."""
    if not isinstance(value, str):
        return True
    return bool(_DATETIME_RE.fullmatch(value)) and bool(datetime.fromisoformat(_iso(value)))


def _iso(value: str) -> str:
    # fromisoformat takes at most 6 fraction digits and wants an upper-case Z.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    return value.replace("t", "T").replace("z", "Z")


def _is_email(value: object) -> bool:
    """An address as email-validator reads it (jsonschema's own check only looks for an "@");
    no DNS lookup."""
    if not isinstance(value, str):
        return True
    return is_email_address(value)


def is_email_address(value: str) -> bool:
    """Whether `value` is a usable e-mail address (syntax only, linear time)."""
    if len(value) > 254 or "@" not in value:
        return False
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _is_regex(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        compile_pattern(value)
    except PatternError:
        return False
    return True


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """JSON Schema `pattern`, matched by RE2 (linear time; see engine.core.linear_re)."""
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = compile_pattern(pattern).search(instance) is not None
    except PatternError as exc:
        yield ValidationError(f"the form's pattern cannot be used: {exc}")
        return
    if not matched:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        try:
            regex = compile_pattern(pattern)
        except PatternError as exc:
            yield ValidationError(f"the form's pattern cannot be used: {exc}")
            continue
        for key, value in instance.items():
            if regex.search(key) is not None:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


# Draft 2020-12 with every regular expression run by RE2.
FormValidator = validators.extend(
    Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties}
)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    # Start from exactly the Draft 2020-12 formats (FormatChecker() would also bring in the
    # Draft 3 "time" checker), then replace the ones we check ourselves.
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("date", raises=ValueError)(_is_date)
    checker.checks("time", raises=ValueError)(_is_time)
    checker.checks("date-time", raises=ValueError)(_is_datetime)
    checker.checks("email")(_is_email)
    checker.checks("regex")(_is_regex)
    return checker


FORMAT_CHECKER = _format_checker()


# An explicit registry without a retriever: jsonschema's default one would fetch unknown
# $ref URLs over the network (with only a DeprecationWarning).
_NO_REMOTE = referencing.Registry()
