"""The one restricted engine through which every BPMN expression and script runs.

Why: stock SpiffWorkflow evaluates gateway conditions, script tasks, timer texts, DMN cells
and message payloads with plain ``eval``/``exec`` and full builtins, so a diagram can run
``__import__('os').system(...)``; even ``TaskDataEnvironment(safe_globals)`` is escaped
through ``().__class__.__base__.__subclasses__()``. Here code is compiled by RestrictedPython
with a stricter policy (no imports, no ``_`` names, no introspection attributes), every
attribute read goes through a guard, and the compiled code is instrumented so that loops,
comprehensions and function calls stop at a deadline and obvious size bombs are refused
before they are computed.

These guards give early, readable refusals. The limits that hold are the evaluator
process's (engine.spiff.evaluator): code that is not bounded by its shape runs there, under an
address-space limit and a deadline after which the process is killed, so a single C-level
operation cannot hold the server.
"""

from __future__ import annotations

import ast
import copy
import functools
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

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

MAX_ITEMS = 10_000_000  # longest str/list/tuple/bytes one operation may build
MAX_INT_BITS = 10_000  # largest integer *, //, %, ** and << may take or produce
MAX_RANGE = 1_000_000  # longest range()
MAX_WIDTH = 10_000  # largest width/precision in a format spec
MEMORY_CHECK_S = 0.01  # how often a running script's memory growth is measured


class ScriptError(Exception):
    """A BPMN script or expression was refused or stopped by the sandbox."""


class ScriptRejected(ScriptError):
    """Refused: a syntax error or a forbidden construct (name, attribute, import, call)."""


class ScriptTimeout(ScriptError):
    """Stopped: the evaluation ran past its time limit."""


class ScriptLimitExceeded(ScriptError):
    """Refused or stopped: a result, the recursion depth or memory growth was too large."""


# ---------------------------------------------------------------- compile-time policy

_FORBIDDEN_CALLS = frozenset(
    "open eval exec compile globals locals vars dir getattr setattr delattr hasattr type object "
    "input breakpoint memoryview classmethod staticmethod super property help exit quit".split()
)
_INTERNAL_PREFIXES = ("co_", "f_", "gi_", "cr_", "ag_", "tb_")
_OPS = {
    ast.Add: "+",
    ast.Mult: "*",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.Mod: "%",
    ast.FloorDiv: "//",
}


def _attr_problem(name: str) -> str | None:
    """Why attribute `name` may never be read, or None. Used at compile time and run time."""
    if name.startswith("_"):
        return f"name '{name}' is not allowed: names starting with '_' are forbidden"
    if name in INSPECT_ATTRIBUTES or name == "mro" or name.startswith(_INTERNAL_PREFIXES):
        return f"attribute '{name}' is not allowed: it exposes interpreter internals"
    if name in ("format", "format_map"):  # format strings walk attributes in C, unguarded
        return f"str.{name}() is not allowed: use an f-string"
    return None


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    """A call to one of our guards; added after RestrictedPython checked the names."""
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, like)
    return node


def _pure(node: ast.expr) -> bool:
    """True when evaluating `node` twice is harmless (names, constants, lookups of them)."""
    if isinstance(node, ast.Name | ast.Constant):
        return True
    if isinstance(node, ast.Subscript):
        return _pure(node.value) and _pure(node.slice)
    return isinstance(node, ast.Attribute) and _pure(node.value)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, plus instrumentation with our guards."""

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name and name.startswith("_") and name != "_":
            self.error(node, f"name '{name}' is not allowed: names starting with '_' are forbidden")
        else:
            super().check_name(node, name)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in ("print", "printed"):
            self.error(node, "print is not allowed: scripts have no console, set task data")
            return node
        return super().visit_Name(node)

    def visit_Import(self, node: ast.AST) -> ast.AST:
        self.error(node, "import is not allowed")
        return node

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed")
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Name) and node.func.id in _FORBIDDEN_CALLS:
            self.error(node, f"{node.func.id}() is not allowed")
            return self.node_contents_visit(node)
        return super().visit_Call(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        problem = _attr_problem(node.attr)
        if problem:
            self.error(node, problem)
            return self.node_contents_visit(node)
        return super().visit_Attribute(node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.ctx, ast.Store) and isinstance(node.slice, ast.Slice):
            self.error(node, "slice assignment is not allowed: build a new list")  # grows in C
        return super().visit_Subscript(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = super().visit_BinOp(node)
        op = _OPS.get(type(node.op))
        return _call("_binop_", [ast.Constant(op), node.left, node.right], node) if op else node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        """Also allow `d[k] += v` (RestrictedPython refuses it) when d and k are plain lookups."""
        target = node.target
        if not (
            isinstance(target, ast.Subscript)
            and _pure(target)
            and not isinstance(target.slice, ast.Slice)
        ):
            return super().visit_AugAssign(node)
        load = copy.deepcopy(target)
        load.ctx = ast.Load()
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        value = _call("_inplacevar_", [op, self.visit(load), self.visit(node.value)], node)
        new = ast.Assign(targets=[self.visit(target)], value=value)
        copy_locations(new, node)
        return new

    def visit_Starred(self, node: ast.Starred) -> ast.AST:
        node = super().visit_Starred(node)
        if isinstance(node.ctx, ast.Load):  # [*x, *x] doubles a list in C
            node.value = _call("_star_", [node.value], node)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = super().visit_FormattedValue(node)
        if node.format_spec is not None:  # f"{1:>999999999}" allocates in C
            args = [node.value, ast.Constant(node.conversion), node.format_spec]
            node.value, node.conversion, node.format_spec = _call("_format_", args, node), -1, None
        return node

    def _tick(self, node: ast.AST) -> ast.Expr:
        stmt = ast.Expr(_call("_tick_", [], node))
        copy_locations(stmt, node)
        return stmt

    def visit_While(self, node: ast.While) -> ast.AST:
        node = super().visit_While(node)
        node.body.insert(0, self._tick(node))  # first, outside any try in the body
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, self._tick(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = super().visit_Lambda(node)
        node.body = ast.BoolOp(op=ast.Or(), values=[_call("_tick_", [], node.body), node.body])
        copy_locations(node.body, node)
        return node


def _names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> tuple[CodeType, bool]:
    """Compile once per distinct text; returns the code and whether it needs a deadline."""
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename="<string>", policy=_Policy)
    except (RecursionError, MemoryError):
        raise ScriptRejected("cannot compile: the code is nested too deeply") from None
    except ValueError as exc:  # e.g. a NUL byte in the source
        raise ScriptRejected(f"cannot compile: {exc}") from None
    if result.errors:
        raise ScriptRejected("; ".join(dict.fromkeys(result.errors)))
    return result.code, bool({"_tick_", "_getiter_"} & _names(result.code))


def check_expression(text: str) -> None:
    """Raise ScriptRejected naming the problem if `text` is not an allowed expression."""
    _compile(text.strip(), "eval")


def check_script(text: str) -> None:
    """Raise ScriptRejected naming the problem if `text` is not an allowed script."""
    _compile(text, "exec")


# ---------------------------------------------------------------- run-time guards


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
    """Deadline and memory watch of one evaluation; `tick` runs at every loop step and call.

    Once stopped, every later tick raises again, so `except Exception: pass` in a script
    cannot swallow the stop; the caller also re-raises it if the script ends anyway.
    """

    __slots__ = ("deadline", "limit_s", "memory_limit", "memory_base", "next_check", "stopped")

    def __init__(self, limit_s: float, memory_limit: int) -> None:
        self.limit_s, self.memory_limit = limit_s, memory_limit
        self.deadline = time.monotonic() + limit_s
        # Most evaluations end within MEMORY_CHECK_S and never pay for reading memory; the
        # baseline is taken at the first check, so the limit applies to growth after that.
        self.memory_base: int | None = None
        self.next_check = min(self.deadline, time.monotonic() + MEMORY_CHECK_S)
        self.stopped: ScriptError | None = None

    def tick(self) -> None:
        if time.monotonic() >= self.next_check:
            self._check()

    def _check(self) -> None:
        now = time.monotonic()
        if self.stopped is None:
            rss = _rss()
            if self.memory_base is None:
                self.memory_base = rss
            if now > self.deadline:
                self.stopped = ScriptTimeout(
                    f"script ran past its time limit of {self.limit_s:g} s"
                )
            elif rss - self.memory_base > self.memory_limit:
                mb = self.memory_limit // 2**20
                self.stopped = ScriptLimitExceeded(f"script grew memory by more than {mb} MB")
            else:
                self.next_check = min(self.deadline, now + MEMORY_CHECK_S)
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


# ---------------------------------------------------------------- evaluating here
#
# These run the code in the current process. The server process uses them only for code that
# is bounded by its shape (see _bounded); everything else runs in an evaluator process
# (engine.spiff.evaluator), which calls them under limits the operating system enforces.


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


# Expressions made only of these nodes cost time linear in the data they read (and data is
# bounded by engine.core.datacodec), so they are evaluated here without an evaluator process:
# names, constants, comparisons, and/or/not, if-else, + and -, subscripts, literals, f-strings
# without format specs, and calls of helpers or of a few bounded builtins with such arguments.
_BOUNDED_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Compare, ast.BoolOp, ast.And, ast.Or,
    ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.IfExp, ast.Subscript, ast.Tuple, ast.List,
    ast.Dict, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is,
    ast.IsNot, ast.BinOp, ast.Add, ast.Sub, ast.JoinedStr, ast.Call, ast.keyword,
)  # fmt: skip
_BOUNDED_BUILTINS = frozenset({"len", "str", "int", "float", "bool", "abs"})


def _bounded_node(node: ast.AST) -> bool:
    if isinstance(node, ast.FormattedValue):
        return node.format_spec is None and _bounded_node(node.value)
    if not isinstance(node, _BOUNDED_NODES):
        return False
    if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.Add | ast.Sub):
        return False
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        return False
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            return False
        if func.id in _BUILTINS and func.id not in _BOUNDED_BUILTINS:
            return False
        if any(isinstance(a, ast.Starred) for a in node.args):
            return False
        if any(k.arg is None for k in node.keywords):
            return False
        parts: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
        return all(_bounded_node(p) for p in parts)
    return all(_bounded_node(child) for child in ast.iter_child_nodes(node))


@functools.lru_cache(maxsize=4096)
def is_bounded(expression: str) -> bool:
    """True when `expression` may be evaluated in the server process (see _BOUNDED_NODES)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return _bounded_node(tree)


def _script_error(exc: Any) -> Exception:
    """The error an evaluator reported, as the exception the script raised (its message and
    class where that is a plain builtin, so SpiffWorkflow reports it the usual way)."""
    from engine.spiff.evaluator import EvaluationError

    assert isinstance(exc, EvaluationError)
    cls: type[Exception]
    if exc.kind == "rejected":
        cls = ScriptRejected
    elif exc.kind == "timeout":
        cls = ScriptTimeout
    elif exc.kind == "limit":
        cls = ScriptLimitExceeded
    else:
        cls = _REBUILT.get(exc.type_name, ScriptError)
    error = cls(str(exc))
    error.script_line = exc.line  # type: ignore[attr-defined]
    return error


_REBUILT: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        NameError, KeyError, ValueError, TypeError, IndexError, ZeroDivisionError,
        AttributeError, LookupError, ArithmeticError, OverflowError, AssertionError,
        UnboundLocalError,
    )
}  # fmt: skip


_SCALARS = frozenset({bool, int, float, str, type(None)})


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """TaskDataEnvironment's semantics: code is compiled with the restricted policy here (so a
    forbidden construct is refused at once), bounded expressions are evaluated here, and
    everything else runs in an evaluator process under OS limits (engine.spiff.evaluator)."""

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        time_limit_s: float = 1.0,
        memory_limit_mb: int = 512,
    ) -> None:
        helpers = dict(helpers or {})
        for name in helpers:
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(
                    f"helper name {name!r} must be an identifier not starting with '_'"
                )
        super().__init__(helpers)
        self.time_limit_s = time_limit_s
        self.memory_limit_mb = memory_limit_mb

    def _isolated(self, request: dict[str, Any]) -> Any:
        from engine.core import datacodec
        from engine.spiff import evaluator

        try:
            for key in ("context", "external"):
                request[key] = datacodec.encode(request[key], key)
            return evaluator.run(
                request,
                helpers=self.globals,
                limit_s=self.time_limit_s,
                memory_mb=self.memory_limit_mb,
            )
        except datacodec.DataError as exc:
            raise ScriptError(f"task data cannot be passed to the code: {exc}") from None
        except evaluator.EvaluationError as exc:
            raise _script_error(exc) from None

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        text = expression.strip()
        _compile(text, "eval")  # refuses a forbidden construct here, with its message
        if is_bounded(text):
            value = evaluate_here(text, context, external_context, self.globals)
            if type(value) not in _SCALARS:
                from engine.core import datacodec

                try:
                    datacodec.check(value, "result")
                except datacodec.DataError as exc:
                    raise ScriptError(f"the expression gave {exc}, not a value") from None
            return value
        return self._isolated(
            {"op": "eval", "code": text, "context": context, "external": external_context or {}}
        )

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        _compile(script, "exec")
        data = {k: v for k, v in context.items() if k not in external_context}
        result = self._isolated(
            {"op": "exec", "code": script, "context": data, "external": external_context}
        )
        context.clear()
        context.update(result)
        return True

    def check_for_overwrite(self, context: dict, external_context: dict) -> None:
        """Fail clearly when task data would hide a helper (as stock SpiffWorkflow does)."""
        clashes = (set(self.globals) | set(external_context)) & set(context)
        if clashes:
            raise ValueError(
                "You have task data that overwrites a predefined function(s). Please change the "
                f"following variable or field name(s) to something else: {clashes}"
            )


class CaseflowScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine running everything through RestrictedEnvironment."""

    def __init__(self, environment: RestrictedEnvironment | None = None) -> None:
        super().__init__(environment or RestrictedEnvironment())

    def get_error_line_number_and_content(self, script: str, err: Exception) -> tuple[int, str]:
        line = getattr(err, "script_line", None)
        if isinstance(line, int) and 0 < line <= len(lines := script.splitlines()):
            return line, lines[line - 1]
        return super().get_error_line_number_and_content(script, err)

    def validate(self, expression: str) -> None:
        # A plain SyntaxError first: DMNEngine.needs_eq relies on it to detect "> 5" cells.
        ast.parse(expression.strip(), mode="eval")
        check_expression(expression)


def make_script_engine(
    helpers: Mapping[str, Callable[..., Any]] | None = None,
    time_limit_s: float = 1.0,
    memory_limit_mb: int = 512,
) -> CaseflowScriptEngine:
    """The engine for BpmnWorkflow(script_engine=...); `helpers` are callable from all code."""
    return CaseflowScriptEngine(RestrictedEnvironment(helpers, time_limit_s, memory_limit_mb))
