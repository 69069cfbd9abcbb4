"""Case data as plain JSON values, and the one converter between them and stored text.

Why: SpiffWorkflow's serializer registry rebuilds any dict carrying a ``"typename"`` key into
the registered class of that name, also inside task data. A script, a form post, an API body
or a message that stored a dict shaped like a serialised ``BpmnWorkflow`` got, after the next
load, a live workflow with an unrestricted script engine. Case data therefore never passes
through that registry: it is checked and written by this module, and read back by it, and the
only values it ever rebuilds are the few value types Caseflow itself writes (dates, times,
durations, decimals).

Data is: None, bool, int, finite float, str, list (tuples and sets are stored as lists), dict
with str keys, datetime, date, time, timedelta, Decimal (finite). Typed values are written as
``{"$cf": kind, "v": text}``; a dict of the data itself that has a ``"$cf"`` key is written as
``{"$cf": "map", "items": [[key, value], ...]}``, so no data can forge a typed value.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

MARK = "$cf"
MAX_DEPTH = 64  # nesting of lists and dicts
MAX_STR = 1_000_000  # characters of one string
MAX_INT_DIGITS = 4_300  # Python's own limit for int <-> str
MAX_DECIMAL_EXPONENT = 1_000


class DataError(ValueError):
    """A value that cannot be case data; `path` names where it was (e.g. ``items[3].price``)."""

    def __init__(self, path: str, problem: str) -> None:
        if len(path) > 120:
            path = path[:60] + "…" + path[-40:]
        self.path = path or "(the data)"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _kind_name(value: Any) -> str:
    return type(value).__name__


def _check_float(value: float, path: str) -> float:
    if not math.isfinite(value):
        raise DataError(path, f"{value!r} is not a finite number")
    return value


def _check_decimal(value: Decimal, path: str) -> str:
    if not value.is_finite():
        raise DataError(path, f"{value} is not a finite number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and abs(exponent) > MAX_DECIMAL_EXPONENT:
        raise DataError(path, "decimal exponent is too large")
    return str(value)


def encode(value: Any, path: str = "", depth: int = 0) -> Any:
    """`value` as JSON-ready plain values (typed values marked); DataError if it is not data."""
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is str:
        if len(value) > MAX_STR:
            raise DataError(path, f"text of {len(value):,} characters is over {MAX_STR:,}")
        return value
    if kind is int:
        if value.bit_length() > MAX_INT_DIGITS * 3.33:
            raise DataError(path, "integer is too large")
        return value
    if kind is float:
        return _check_float(value, path)
    if depth >= MAX_DEPTH:
        raise DataError(path, f"nested deeper than {MAX_DEPTH} levels")
    if kind is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise DataError(path, f"key {key!r} is not text")
            out[key] = encode(item, _join(path, key), depth + 1)
        if MARK in out:
            return {MARK: "map", "items": [[k, v] for k, v in out.items()]}
        return out
    if kind is list or kind is tuple:
        return [encode(item, _join(path, i), depth + 1) for i, item in enumerate(value)]
    if kind is set or kind is frozenset:
        return [encode(item, _join(path, i), depth + 1) for i, item in enumerate(value)]
    if kind is datetime:
        return {MARK: "datetime", "v": value.isoformat()}
    if kind is date:
        return {MARK: "date", "v": value.isoformat()}
    if kind is time:
        return {MARK: "time", "v": value.isoformat()}
    if kind is timedelta:
        return {MARK: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if kind is Decimal:
        return {MARK: "decimal", "v": _check_decimal(value, path)}
    if isinstance(value, bool):  # (subclasses of the plain types are not data)
        return bool(value)
    raise DataError(path, f"a {_kind_name(value)} cannot be stored in case data")


def _typed(kind: Any, text: Any) -> Any:
    try:
        if kind == "datetime" and type(text) is str:
            return datetime.fromisoformat(text)
        if kind == "date" and type(text) is str:
            return date.fromisoformat(text)
        if kind == "time" and type(text) is str:
            return time.fromisoformat(text)
        if kind == "timedelta" and type(text) is list and len(text) == 3:
            if all(type(part) is int for part in text):
                return timedelta(days=text[0], seconds=text[1], microseconds=text[2])
        if kind == "decimal" and type(text) is str and len(text) <= 1_100:
            return Decimal(text)
    except (ValueError, OverflowError, InvalidOperation):
        pass
    raise DataError("", f"stored {kind!r} value is malformed")


def object_hook(dct: dict[str, Any]) -> Any:
    """json.loads hook: rebuilds typed values and escaped maps, nothing else."""
    if MARK not in dct:
        return dct
    kind = dct[MARK]
    if kind == "map" and type(dct.get("items")) is list:
        return _map(dct["items"], lambda item: item)
    return _typed(kind, dct.get("v"))


def _map(items: list[Any], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in items:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
            raise DataError("", "stored map is malformed")
        out[pair[0]] = value(pair[1])
    return out


def decode(value: Any) -> Any:
    """The inverse of `encode` for a value already parsed from JSON (without the hook)."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if MARK in value:
            kind = value[MARK]
            if kind == "map" and type(value.get("items")) is list:
                return _map(value["items"], decode)
            return _typed(kind, value.get("v"))
        return {key: decode(item) for key, item in value.items()}
    return value


def dumps(value: Any) -> str:
    """Data as JSON text (checked)."""
    return json.dumps(encode(value), ensure_ascii=False, allow_nan=False)


def _refuse_constant(name: str) -> Any:
    raise DataError("", f"{name} is not a number JSON allows")


def loads(text: str | bytes) -> Any:
    """Data from JSON text written by `dumps` (or plain JSON); never builds other objects."""
    return json.loads(text, object_hook=object_hook, parse_constant=_refuse_constant)


def check(value: Any, path: str = "") -> None:
    """Raise DataError naming where `value` is not case data."""
    encode(value, path)


def plain(value: Any) -> Any:
    """A checked deep copy of `value` (what storing and loading it would give)."""
    return decode(encode(value))


# ---------------------------------------------------------------- the older stored format
#
# Until format "1.5+cf.data.1", data was written by SpiffWorkflow's JSON encoder: dates,
# durations and UUIDs as {"typename": ..., ...}, everything else as it was. Read with the
# registry, any "typename" dict became an object. Converting keeps the three value types and
# turns every other dict into plain data, whatever "typename" it claims.


def _legacy_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_legacy_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    name = value.get("typename")
    if name == "datetime" and type(value.get("value")) is str:
        return {MARK: "datetime", "v": value["value"]}
    if name == "timedelta" and type(value.get("days")) is int and type(value.get("seconds")) is int:
        return {MARK: "timedelta", "v": [value["days"], value["seconds"], 0]}
    if name == "UUID" and type(value.get("value")) is str:
        return value["value"]
    out = {key: _legacy_value(item) for key, item in value.items()}
    if MARK in out:
        return {MARK: "map", "items": [[k, v] for k, v in out.items()]}
    return out


def _legacy_event(event: Any) -> None:
    if isinstance(event, dict):
        event["payload"] = _legacy_value(event.get("payload"))
        event["correlations"] = _legacy_value(event.get("correlations") or {})


def _legacy_workflow(dct: dict[str, Any]) -> None:
    dct["data"] = _legacy_value(dct.get("data") or {})
    dct["correlations"] = _legacy_value(dct.get("correlations") or {})
    for task in (dct.get("tasks") or {}).values():
        task["data"] = _legacy_value(task.get("data") or {})
        delta = task.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("updates"), dict):
            delta["updates"] = _legacy_value(delta["updates"])
        internal = task.get("internal_data") or {}
        for key, item in list(internal.items()):
            if key == "seen_events" and isinstance(item, list):
                for event in item:
                    _legacy_event(event)
            else:
                internal[key] = _legacy_value(item)


def upgrade_legacy_state(dct: dict[str, Any]) -> None:
    """Rewrite, in place, the data of a parsed state of the older format (see above)."""
    _legacy_workflow(dct)
    for sub in (dct.get("subprocesses") or {}).values():
        if isinstance(sub, dict):
            _legacy_workflow(sub)
    for event in dct.get("bpmn_events") or []:
        _legacy_event(event)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DataError("", f"{text[:40]} is too large a number")
    return value


def parse_json(text: str | bytes) -> Any:
    """JSON typed by a person or sent by a client: plain values only (no typed values are
    read from it), finite numbers, nesting up to MAX_DEPTH; DataError saying what is wrong."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise DataError("", f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise DataError("", f"not valid JSON at line {exc.lineno}, column {exc.colno}") from None
    check(value)
    return value
