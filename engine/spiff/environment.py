"""The script environment SpiffWorkflow uses: bounded expressions
(engine.spiff.environment.is_bounded) run in this process, everything else in an evaluator
process; helper functions are passed by name."""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.spiff.guards import _BUILTINS, evaluate_here
from engine.spiff.scripts import (
    ScriptError,
    ScriptLimitExceeded,
    ScriptRejected,
    ScriptTimeout,
    _compile,
    check_expression,
)

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
