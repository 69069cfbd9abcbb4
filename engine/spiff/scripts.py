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

This module holds the compile-time policy and the errors; engine.spiff.guards runs compiled code
here under the guards, and engine.spiff.environment decides where each piece of code runs.
"""

from __future__ import annotations

import ast
import copy
import functools
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)

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
        if node.id == "print":
            # Not RestrictedPython's print collector: the `print` script helper, which writes
            # the line to the case's history (engine.runtime.taskhelpers).
            return node
        if node.id == "printed":
            self.error(node, "printed is not allowed: print() writes to the case history")
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
