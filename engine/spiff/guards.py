"""Running restricted code in this process: the guards RestrictedPython calls (attribute access,
operators that grow values, star-unpacking, formatting), the builtins scripts get, and the size,
width and time checks. An evaluator process (engine.spiff.evaluator_child) runs owner code
through evaluate_here and execute_here."""

from __future__ import annotations

import math
import operator
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from types import CodeType
from typing import Any

from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)

from engine.spiff.scripts import (
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_RANGE,
    MAX_WIDTH,
    MEMORY_CHECK_S,
    ScriptError,
    ScriptLimitExceeded,
    ScriptRejected,
    ScriptTimeout,
    _attr_problem,
    _compile,
)


def _check_size(n: int, what: str) -> None:
    if n > MAX_ITEMS:
        raise ScriptLimitExceeded(f"{what} would have {n:,} items; the limit is {MAX_ITEMS:,}")


def _check_width(spec: str) -> None:
    for digits in re.findall(r"\d+", spec):
        if len(digits) > 5 or int(digits) > MAX_WIDTH:
            raise ScriptLimitExceeded(f"format width {digits} is over the limit of {MAX_WIDTH:,}")


def _check_binop(op: str, a: Any, b: Any) -> None:
    """Refuse an arithmetic result too large to compute or hold, before computing it."""
    if isinstance(a, int) and isinstance(b, int):
        if op == "**":
            big = abs(a) > 1 and (
                b > MAX_INT_BITS or b > 0 and b * math.log2(abs(a)) > MAX_INT_BITS
            )
        elif op == "<<":
            big = a != 0 and b > 0 and a.bit_length() + b > MAX_INT_BITS
        elif op == "*":
            big = a.bit_length() + b.bit_length() > MAX_INT_BITS
        else:
            big = op in ("%", "//") and max(a.bit_length(), b.bit_length()) > MAX_INT_BITS
        if big:
            raise ScriptLimitExceeded(f"integer {op} beyond {MAX_INT_BITS:,} bits is not allowed")
    elif op == "*" and isinstance(b, int) and isinstance(a, str | bytes | list | tuple):
        _check_size(len(a) * b, "repetition")
    elif op == "*" and isinstance(a, int) and isinstance(b, str | bytes | list | tuple):
        _check_size(len(b) * a, "repetition")
    elif op == "+" and isinstance(a, str | bytes | list | tuple) and hasattr(b, "__len__"):
        _check_size(len(a) + len(b), "concatenation")
    elif op == "%" and isinstance(a, str | bytes):
        text = a.decode("latin-1") if isinstance(a, bytes) else a
        for width, precision in re.findall(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?", text):
            if "*" in (width, precision):
                raise ScriptLimitExceeded("'*' widths in % formatting are not allowed")
            _check_width(f"{width} {precision}")


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "*": operator.mul, "**": operator.pow,
    "<<": operator.lshift, "%": operator.mod, "//": operator.floordiv,
}  # fmt: skip


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
    "@=": operator.imatmul,
}  # fmt: skip


def _binop(op: str, a: Any, b: Any) -> Any:
    _check_binop(op, a, b)
    return _BINOPS[op](a, b)


def _inplacevar(op: str, a: Any, b: Any) -> Any:
    _check_binop(op[:-1], a, b)
    return _INPLACE[op](a, b)


def _star(value: Any) -> Any:
    if hasattr(value, "__len__"):
        _check_size(len(value), "unpacking")
    return value


def _format(value: Any, conversion: int, spec: str) -> str:
    if conversion != -1:
        value = {115: str, 114: repr, 97: ascii}[conversion](value)
    _check_width(spec)
    return format(value, spec)


_GROWING = frozenset(
    "join center ljust rjust zfill expandtabs replace translate extend to_bytes".split()
)


_CLOCK_ATTRS = frozenset("now today utcnow fromtimestamp utcfromtimestamp".split())


def _result_size(obj: Any, name: str, args: tuple, kwargs: dict) -> int:
    """An upper bound of what a growing str/bytes/list/int method would build."""

    def arg(i: int, key: str, default: Any) -> Any:
        return args[i] if len(args) > i else kwargs.get(key, default)

    try:
        if name == "join":
            parts = args[0]
            text = sum(len(p) for p in parts if isinstance(p, str | bytes))
            return text + len(obj) * max(len(parts) - 1, 0)
        if name in ("center", "ljust", "rjust", "zfill"):
            return int(arg(0, "width", 0))
        if name == "expandtabs":
            tabs = obj.count("\t" if isinstance(obj, str) else b"\t")
            return len(obj) + tabs * int(arg(0, "tabsize", 8))
        if name == "replace":
            old, new = args[0], args[1]
            hits = obj.count(old) if old else len(obj) + 1
            return len(obj) + hits * max(len(new) - len(old), 0)
        if name == "translate" and isinstance(obj, str) and isinstance(args[0], dict):
            longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
            return len(obj) * max(longest, 1)
        if name == "extend":
            return len(obj) + len(args[0])
        if name == "to_bytes":
            return int(arg(0, "length", 1))
    except (IndexError, TypeError, ValueError, OverflowError):
        pass  # the real call reports bad arguments
    return 0


def _getattr(obj: Any, name: str) -> Any:
    """Every `a.b` in a script: forbidden names, the real clock, size-growing methods."""
    problem = _attr_problem(name)
    if problem:
        raise ScriptRejected(problem)
    is_type = isinstance(obj, type)
    if name in _CLOCK_ATTRS and (isinstance(obj, date) or is_type and issubclass(obj, date)):
        raise ScriptRejected(f"'{name}' reads the real clock and is not allowed: call now()")
    value = getattr(obj, name)
    if name in _GROWING:
        if is_type and issubclass(obj, str | bytes | list | int):
            raise ScriptRejected(f"{obj.__name__}.{name}() must be called on a value")
        if isinstance(obj, str | bytes | list | int):

            def checked(*args: Any, **kwargs: Any) -> Any:
                if name == "join" and args:
                    args = (list(args[0]),)  # materialise once so the parts can be measured
                _check_size(_result_size(obj, name, args, kwargs), f"{name}()")
                return value(*args, **kwargs)

            return checked
    return value


def _range(*args: int) -> range:
    result = range(*args)
    try:
        n = len(result)
    except OverflowError:
        n = MAX_RANGE + 1
    if n > MAX_RANGE:
        raise ScriptLimitExceeded(f"range() of {n:,} or more items; the limit is {MAX_RANGE:,}")
    return result


def _round(number: Any, ndigits: int | None = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > 1000:  # round(1, -10**9) computes 10**10**9
        raise ScriptLimitExceeded("round() to more than 1000 digits is not allowed")
    return round(number, ndigits)


def _sum(iterable: Any, start: Any = 0) -> Any:
    if isinstance(start, str | bytes | list | tuple):  # quadratic concatenation in C
        raise ScriptRejected("sum() adds numbers only: use ''.join() or a loop")
    return sum(iterable, start)


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_BUILTINS: dict[str, Any] = {
    "None": None, "True": True, "False": False,
    "len": len, "min": min, "max": max, "sum": _sum, "round": _round, "sorted": sorted,
    "abs": abs, "any": any, "all": all, "enumerate": enumerate, "zip": zip, "range": _range,
    "reversed": reversed, "map": map, "filter": filter, "isinstance": isinstance,
    "list": list, "dict": dict, "set": set, "frozenset": frozenset, "tuple": tuple,
    "str": str, "int": int, "float": float, "bool": bool,
    "datetime": datetime, "date": date, "time": dtime, "timedelta": timedelta,
    "timezone": timezone,
    "Exception": Exception, "ValueError": ValueError, "KeyError": KeyError,
    "IndexError": IndexError, "TypeError": TypeError, "ZeroDivisionError": ZeroDivisionError,
    "ArithmeticError": ArithmeticError, "LookupError": LookupError,
}  # fmt: skip


_STATIC: dict[str, Any] = {
    "_getattr_": _getattr, "_getitem_": operator.getitem, "_write_": full_write_guard,
    "_binop_": _binop, "_inplacevar_": _inplacevar, "_star_": _star, "_format_": _format,
    "_apply_": _apply, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
}  # fmt: skip


_INJECTED = frozenset(_STATIC) | {"_tick_", "_getiter_", "__builtins__"}


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


_STATM: dict[int, int] = {}  # pid -> fd, kept open: checks may run deep inside a recursion


def _rss() -> int:
    """Resident memory of this process in bytes (Linux); 0 where it cannot be read."""
    pid = os.getpid()
    try:
        if pid not in _STATM:
            _STATM[pid] = -1
            _STATM[pid] = os.open("/proc/self/statm", os.O_RDONLY)
        fd = _STATM[pid]
        return int(os.pread(fd, 64, 0).split()[1]) * _PAGE if fd >= 0 else 0
    except (OSError, ValueError, IndexError):
        return 0


class _Run:
    """Time and memory watch of one evaluation; `tick` runs at every loop step and call.

    The limit is processor time of this process (time.process_time): waiting for a helper the
    server runs, or for a processor on a busy machine, is not the owner's code. The watch looks
    at the clocks only every so often (time.monotonic is the cheap one).

    Once stopped, every later tick raises again, so `except Exception: pass` in a script
    cannot swallow the stop; the caller also re-raises it if the script ends anyway.
    """

    __slots__ = ("deadline", "limit_s", "memory_limit", "memory_base", "next_check", "stopped")

    def __init__(self, limit_s: float, memory_limit: int) -> None:
        self.limit_s, self.memory_limit = limit_s, memory_limit
        self.deadline = time.process_time() + limit_s
        # Most evaluations end within MEMORY_CHECK_S and never pay for reading memory; the
        # baseline is taken at the first check, so the limit applies to growth after that.
        self.memory_base: int | None = None
        self.next_check = time.monotonic() + min(limit_s, MEMORY_CHECK_S)
        self.stopped: ScriptError | None = None

    def tick(self) -> None:
        if time.monotonic() >= self.next_check:
            self._check()

    def _check(self) -> None:
        if self.stopped is None:
            cpu = time.process_time()
            rss = _rss()
            if self.memory_base is None:
                self.memory_base = rss
            if cpu > self.deadline:
                self.stopped = ScriptTimeout(
                    f"script ran past its time limit of {self.limit_s:g} s"
                )
            elif rss - self.memory_base > self.memory_limit:
                mb = self.memory_limit // 2**20
                self.stopped = ScriptLimitExceeded(f"script grew memory by more than {mb} MB")
            else:
                # processor time never runs faster than the clock on the wall
                wait = min(MEMORY_CHECK_S, max(0.001, self.deadline - cpu))
                self.next_check = time.monotonic() + wait
                return
        self.next_check = 0.0
        raise type(self.stopped)(*self.stopped.args)

    def getiter(self, iterable: Any) -> Iterator[Any]:
        return self._ticking(iter(iterable))

    def _ticking(self, iterator: Iterator[Any]) -> Iterator[Any]:
        for item in iterator:
            self.tick()
            yield item


def _run(code: CodeType, namespace: dict[str, Any], run: _Run | None) -> Any:
    try:
        result = eval(code, namespace)  # noqa: S307 - restricted code, guarded namespace
    except RecursionError:
        raise ScriptLimitExceeded(
            "recursion too deep: does a function call itself forever?"
        ) from None
    except Exception as exc:
        if run is not None and run.stopped is not None and not isinstance(exc, ScriptError):
            raise run.stopped from exc  # the script swallowed the stop, then failed
        raise
    if run is not None and run.stopped is not None:
        raise run.stopped  # the script swallowed the stop and carried on
    return result


# These run the code in the current process. The server process uses them only for code that
# is bounded by its shape (see engine.spiff.environment.is_bounded); everything else runs in an
# evaluator process (engine.spiff.evaluator), which calls them under limits the operating
# system enforces.


def _bind(namespace: dict[str, Any], needs_run: bool, limit_s: float, memory: int) -> _Run | None:
    """Add guards and builtins last, so data can never replace them."""
    namespace.update(_STATIC)
    namespace["__builtins__"] = _BUILTINS
    if not needs_run:
        return None
    run = _Run(limit_s, memory)
    namespace["_tick_"], namespace["_getiter_"] = run.tick, run.getiter
    return run


def evaluate_here(
    expression: str,
    context: dict[str, Any],
    external_context: dict[str, Any] | None,
    helpers: Mapping[str, Any],
    limit_s: float = 1.0,
    memory_limit_mb: int = 512,
) -> Any:
    """Evaluate a restricted expression in this process."""
    code, needs_run = _compile(expression.strip(), "eval")
    namespace = {**helpers, **(external_context or {}), **context}
    return _run(code, namespace, _bind(namespace, needs_run, limit_s, memory_limit_mb * 2**20))


def execute_here(
    script: str,
    context: dict[str, Any],
    external_context: dict[str, Any] | None,
    helpers: Mapping[str, Any],
    limit_s: float = 1.0,
    memory_limit_mb: int = 512,
) -> None:
    """Run a restricted script in this process; `context` (the task's data) is changed in
    place and left holding data only (no helpers, guards or functions)."""
    external_context = external_context or {}
    code, needs_run = _compile(script, "exec")
    context.update(helpers)
    context.update(external_context)
    try:
        _run(code, context, _bind(context, needs_run, limit_s, memory_limit_mb * 2**20))
    finally:
        for key in list(context):
            if (
                key in _INJECTED
                or key in helpers
                or key in external_context
                or callable(context[key])
            ):
                del context[key]
