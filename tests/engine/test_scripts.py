"""The restricted script engine: stock escapes, refusals, limits, and ordinary scripts."""

from __future__ import annotations

import os
import time
import timeit
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from RestrictedPython.Guards import safe_globals
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.util.task import TaskState

from engine.spiff import scripts
from engine.spiff.environment import CaseflowScriptEngine, RestrictedEnvironment, make_script_engine
from engine.spiff.scripts import (
    ScriptError,
    ScriptLimitExceeded,
    ScriptRejected,
    ScriptTimeout,
    check_expression,
    check_script,
)

FIXED_NOW = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
TIME_LIMIT_S = 0.3


def fixed_now() -> datetime:
    return FIXED_NOW


def working_days_from_now(days: int) -> date:
    return (FIXED_NOW + timedelta(days=days)).date()


@pytest.fixture
def env() -> RestrictedEnvironment:
    helpers = {"now": fixed_now, "working_days_from_now": working_days_from_now}
    return RestrictedEnvironment(helpers, time_limit_s=TIME_LIMIT_S)


# ---------------------------------------------------------------- the stock defect


def test_stock_environment_is_escapable_and_ours_is_not(env: RestrictedEnvironment) -> None:
    walk = "().__class__.__base__.__subclasses__()"
    subclasses = TaskDataEnvironment(safe_globals).evaluate(walk, {})
    assert any(cls.__name__ == "BuiltinImporter" for cls in subclasses)  # the road to `os`
    assert TaskDataEnvironment().evaluate("__import__('os').getpid()", {}) == os.getpid()

    with pytest.raises(ScriptRejected, match="'__class__' is not allowed"):
        env.evaluate(walk, {})
    with pytest.raises(ScriptRejected, match="'__import__' is not allowed"):
        env.evaluate("__import__('os').getpid()", {})


# ---------------------------------------------------------------- escape attempts

ESCAPES = [
    ("dunder_import", "__import__('os').system('true')", ScriptRejected),
    ("import_statement", "import os", ScriptRejected),
    ("from_import", "from os import path", ScriptRejected),
    ("subclasses_walk", "().__class__.__base__.__subclasses__()", ScriptRejected),
    ("builtins_dict", "b = __builtins__['open']", ScriptRejected),
    ("getattr_builtin", "getattr(x, '__class__')", ScriptRejected),
    ("str_format_walk", "'{0.__class__}'.format(1)", ScriptRejected),
    ("format_map_globals", "'{a.__globals__}'.format_map({'a': now})", ScriptRejected),
    ("format_via_variable", "s = '{0.__class__.__base__}'\nt = s.format(1)", ScriptRejected),
    ("generator_frame", "(y for y in []).gi_frame.f_globals", ScriptRejected),
    ("type_three_args", "type('X', (object,), {})", ScriptRejected),
    ("lambda_globals", "f = lambda: globals()\nf()", ScriptRejected),
    ("eval_call", "eval('1')", ScriptRejected),
    ("exec_call", "exec('y = 1')", ScriptRejected),
    ("open_file", "open('/etc/passwd').read()", ScriptRejected),
    ("compile_call", "compile('1', 'x', 'eval')", ScriptRejected),
    ("vars_call", "v = vars()", ScriptRejected),
    ("class_metaclass", "class A(dict): pass", ScriptRejected),
    (
        "traceback_frame",
        "try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__",
        ScriptRejected,
    ),
    ("str_mro", "str.mro()", ScriptRejected),
    ("dunder_mro", "m = str.__mro__", ScriptRejected),
    ("default_arg_trick", "def f(a=().__class__):\n    return a\nf()", ScriptRejected),
    (
        "nested_default_trick",
        "def outer():\n    def inner(g=(lambda: 0).__globals__):\n        return g\n"
        "    return inner()\nouter()",
        ScriptRejected,
    ),
    ("printed_collector", "x = printed", ScriptRejected),
    ("datetime_now", "t = datetime.now()", ScriptRejected),
    ("date_today_on_value", "d = date(2024, 1, 1)\nt = d.today()", ScriptRejected),
    ("sum_concatenation", "s = sum([[0] * 1000] * 1000, [])", ScriptRejected),
    ("while_true", "while True:\n    pass", ScriptTimeout),
    (
        "timeout_swallowed_in_loop",
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except Exception:\n        pass",
        ScriptTimeout,
    ),
    (
        "bare_except_loop",
        "while True:\n    try:\n        pass\n    except:\n        pass",
        ScriptTimeout,
    ),
    (
        "timeout_swallowed_then_done",
        "try:\n    while True:\n        pass\nexcept Exception:\n    pass\ndone = True",
        ScriptTimeout,
    ),
    (
        "endless_comprehension",
        "s = sum(a * b for a in range(10**6) for b in range(10**6))",
        ScriptTimeout,
    ),
    ("recursion", "def f():\n    f()\nf()", ScriptLimitExceeded),
    (
        "exponential_recursion_with_except",
        "def f():\n    try:\n        f()\n    except Exception:\n        f()\nf()",
        ScriptError,
    ),
    ("power_tower", "n = 10**10**10", ScriptLimitExceeded),
    ("huge_str_repeat", "s = 'a' * 10**10", ScriptLimitExceeded),
    ("huge_list_repeat", "s = [0] * 10**10", ScriptLimitExceeded),
    ("huge_range_list", "s = list(range(10**12))", ScriptLimitExceeded),
    ("huge_shift", "n = 1 << 10**10", ScriptLimitExceeded),
    ("fstring_width", 's = f"{1:>999999999}"', ScriptLimitExceeded),
    ("fstring_nested_width", 'w = 10**9\ns = f"{1:>{w}}"', ScriptLimitExceeded),
    ("percent_width", "s = '%999999999d' % 1", ScriptLimitExceeded),
    ("ljust_width", "s = 'x'.ljust(10**10)", ScriptLimitExceeded),
    ("join_bomb", "s = '-'.join(['x' * 1000000] * 20)", ScriptLimitExceeded),
    ("replace_bomb", "s = ('a' * 100000).replace('a', 'b' * 1000)", ScriptLimitExceeded),
    ("list_extend_doubling", "s = [0] * 6000000\ns.extend(s)", ScriptLimitExceeded),
    ("string_doubling", "s = 'a' * 6000000\ns += s", ScriptLimitExceeded),
    ("round_bomb", "n = round(1, -10**9)", ScriptLimitExceeded),
    ("bigint_division", "n = int('f' * 100000, 16)\nm = n // 3", ScriptLimitExceeded),
]


@pytest.mark.parametrize(
    ("source", "expected"), [pytest.param(src, exc, id=name) for name, src, exc in ESCAPES]
)
def test_escape_attempt_is_refused_or_stopped(
    env: RestrictedEnvironment, source: str, expected: type[ScriptError]
) -> None:
    context = {"x": 1}
    started = time.monotonic()
    with pytest.raises(expected):
        env.execute(source, context)
    assert time.monotonic() - started < TIME_LIMIT_S + 1.0
    assert not any(key.startswith("_") for key in context)


REFUSED_AT_RUN_TIME = {"datetime_now", "date_today_on_value", "sum_concatenation"}  # type-dependent


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(src, id=name)
        for name, src, exc in ESCAPES
        if exc is ScriptRejected and name not in REFUSED_AT_RUN_TIME
    ],
)
def test_refusals_happen_at_check_time(source: str) -> None:
    with pytest.raises(ScriptRejected):
        check_script(source)


def test_deeply_nested_source_is_refused_not_crashing() -> None:
    with pytest.raises(ScriptRejected):
        check_script("x = " + "-" * 100_000 + "1")
    with pytest.raises(ScriptRejected, match="nested"):
        check_script("x = " + "[" * 5000 + "]" * 5000)


def test_process_is_unharmed_after_escape_attempts(env: RestrictedEnvironment) -> None:
    assert os.getcwd()
    assert env.evaluate("amount > 100 and kind == 'deep'", {"amount": 150, "kind": "deep"})
    assert env.evaluate("2 ** 10", {}) == 1024


def test_while_true_stops_in_about_the_time_limit() -> None:
    quick = RestrictedEnvironment(time_limit_s=0.2)
    started = time.monotonic()
    with pytest.raises(ScriptTimeout, match="time limit of 0.2 s"):
        quick.execute("n = 0\nwhile True:\n    n += 1", {})
    assert 0.2 <= time.monotonic() - started < 0.6


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_memory_growth_in_a_loop_is_stopped() -> None:
    small = RestrictedEnvironment(time_limit_s=5.0, memory_limit_mb=20)
    script = "keep = []\nwhile True:\n    keep.append('x' * 4000000 + str(len(keep)))"
    with pytest.raises(ScriptLimitExceeded, match="memory"):
        small.execute(script, {})


# ---------------------------------------------------------------- check-time messages


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import os", "import is not allowed"),
        ("x.__class__", "name '__class__' is not allowed: names starting with '_' are forbidden"),
        ("_secret = 1", "name '_secret' is not allowed"),
        ("getattr(x, 'y')", "getattr() is not allowed"),
        ("g.gi_frame", "attribute 'gi_frame' is not allowed"),
        ("'{}'.format(1)", "use an f-string"),
        ("x = printed", "printed is not allowed"),
        ("x = (", "SyntaxError"),
    ],
)
def test_check_script_names_the_problem(source: str, message: str) -> None:
    with pytest.raises(ScriptRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_script(source)


def test_check_expression_accepts_conditions_and_refuses_statements() -> None:
    check_expression('amount > 100 and kind == "deep"')
    check_expression("\n  'P3D'\n  ")  # conditions arrive with the XML's whitespace
    with pytest.raises(ScriptRejected):
        check_expression("y = 1")
    with pytest.raises(ScriptRejected, match="import is not allowed"):
        check_script("from os import path")


def test_validate_keeps_syntax_error_for_dmn_and_refuses_escapes() -> None:
    engine = make_script_engine()
    engine.validate("amount > 5")
    with pytest.raises(SyntaxError):
        engine.validate("> 5")  # DMNEngine.needs_eq then retries with a left-hand side
    with pytest.raises(ScriptRejected):
        engine.validate("__import__('os')")


# ---------------------------------------------------------------- ordinary scripts


def test_ordinary_expressions(env: RestrictedEnvironment) -> None:
    data = {"amount": 250, "kind": "deep", "items": [3, 1, 2], "name": "  Ada Lovelace "}
    assert env.evaluate("amount > 100 and kind == 'deep'", data) is True
    assert env.evaluate("amount * 1.2 - 50 // 3", data) == pytest.approx(284.0)
    assert env.evaluate("sorted(items, key=lambda v: -v)", data) == [3, 2, 1]
    assert env.evaluate("name.strip().upper().split()", data) == ["ADA", "LOVELACE"]
    assert env.evaluate("name.strip().startswith('Ada')", data) is True
    assert env.evaluate("'P3D'", data) == "P3D"
    assert env.evaluate("f'{amount:>6}|{kind!r}'", data) == "   250|'deep'"
    assert env.evaluate("'%05.1f' % 2.25", data) == "002.2"
    assert env.evaluate("now() + timedelta(days=2)", data) == FIXED_NOW + timedelta(days=2)
    assert env.evaluate("working_days_from_now(3)", data) == date(2024, 3, 4)
    assert env.evaluate("2 ** 100 % 7", data) == 2**100 % 7


def test_execute_assigns_into_context_and_cleans_up(env: RestrictedEnvironment) -> None:
    context = {"order": {"lines": [{"qty": 2, "price": 5.0}, {"qty": 1, "price": 7.5}]}}
    script = """
total = 0
for line in order["lines"]:
    total += line["qty"] * line["price"]
order["total"] = total
order["lines"].append({"qty": 0, "price": 0})
counts = {}
for word in "a b a c a".split():
    counts[word] = counts.get(word, 0) + 1
counts["a"] += 10
first, *rest = [1, 2, 3]
squares = [n * n for n in range(5) if n % 2 == 0]
lookup = {k: v for k, v in counts.items()}
due = now() + timedelta(hours=36)
due_day = due.date().isoformat()
spent = sum([timedelta(hours=1), timedelta(minutes=30)], timedelta())

def double(n):
    return n * 2

doubled = double(21)
n = 0
while n < 10:
    n += 1
label = f"{total:.2f} EUR"
"""
    env.execute(script, context)
    assert context["total"] == 17.5
    assert context["order"]["total"] == 17.5
    assert len(context["order"]["lines"]) == 3
    assert context["counts"] == {"a": 13, "b": 1, "c": 1}
    assert (context["first"], context["rest"]) == (1, [2, 3])
    assert context["squares"] == [0, 4, 16]
    assert context["lookup"] == context["counts"]
    assert context["due"] == FIXED_NOW + timedelta(hours=36)
    assert context["due_day"] == "2024-03-02"
    assert context["spent"] == timedelta(minutes=90)
    assert context["doubled"] == 42
    assert context["n"] == 10
    assert context["label"] == "17.50 EUR"
    assert "double" not in context  # functions, helpers, guards and builtins do not leak
    assert "now" not in context and "working_days_from_now" not in context
    assert not any(key.startswith("_") for key in context)


def test_errors_inside_scripts_propagate_unchanged(env: RestrictedEnvironment) -> None:
    with pytest.raises(NameError):
        env.evaluate("missing + 1", {})
    with pytest.raises(ZeroDivisionError):
        env.execute("y = 1 / 0", {})
    with pytest.raises(KeyError):
        env.execute("y = d['nope']", {"d": {}})


def test_task_data_cannot_hide_a_helper(env: RestrictedEnvironment) -> None:
    with pytest.raises(ValueError, match="overwrites a predefined function"):
        env.execute("y = 1", {"now": "yesterday"})


def test_task_data_cannot_replace_guards(env: RestrictedEnvironment) -> None:
    hostile = {"_getattr_": getattr, "__builtins__": __builtins__}
    # Task data holding a function never reaches the evaluator (it is not data) ...
    with pytest.raises(ScriptError, match="cannot be stored in case data"):
        env.evaluate("x.now()", {**hostile, "x": datetime(2024, 1, 1)})
    # ... and names starting with '_' in data cannot replace the guards either.
    with pytest.raises(ScriptRejected):
        env.evaluate("x.now()", {"_getattr_": 1, "x": datetime(2024, 1, 1)})


def test_helper_names_must_be_plain() -> None:
    with pytest.raises(ValueError, match="helper name"):
        RestrictedEnvironment({"_getattr_": getattr})


def test_repeated_condition_is_cached_and_cheap(env: RestrictedEnvironment) -> None:
    condition = 'amount > 100 and kind == "deep"'
    data = {"amount": 150, "kind": "deep"}
    env.evaluate(condition, data)
    hits = scripts._compile.cache_info().hits
    number = 20_000
    seconds = timeit.timeit(lambda: env.evaluate(condition, data), number=number)
    assert scripts._compile.cache_info().hits >= hits + number
    stock = TaskDataEnvironment()
    stock_seconds = timeit.timeit(lambda: stock.evaluate(condition, data), number=number)
    print(
        f"\nper evaluation of {condition!r}: restricted {seconds / number * 1e6:.2f} us, "
        f"stock eval {stock_seconds / number * 1e6:.2f} us"
    )


# ---------------------------------------------------------------- end to end with SpiffWorkflow

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="defs_double" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="double" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calc">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f_big</bpmn:outgoing><bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_big"><bpmn:incoming>f_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>f_small</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="gw" />
    <bpmn:sequenceFlow id="f_big" sourceRef="gw" targetRef="end_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">y &gt; 10</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw" targetRef="end_small">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">y &lt;= 10</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""


def start_workflow(script: str, x: int, time_limit_s: float = 1.0) -> BpmnWorkflow:
    parser = BpmnParser()
    parser.add_bpmn_str(BPMN.replace("SCRIPT", script).encode())  # bytes: it has an XML declaration
    engine = make_script_engine({"now": fixed_now}, time_limit_s=time_limit_s)
    workflow = BpmnWorkflow(parser.get_spec("double"), script_engine=engine)
    assert isinstance(workflow.script_engine, CaseflowScriptEngine)
    workflow.get_tasks(state=TaskState.READY)[0].data["x"] = x
    return workflow


def completed(workflow: BpmnWorkflow) -> set[str]:
    return {task.task_spec.name for task in workflow.get_tasks(state=TaskState.COMPLETED)}


@pytest.mark.parametrize(
    ("x", "branch", "other"), [(7, "end_big", "end_small"), (3, "end_small", "end_big")]
)
def test_workflow_runs_script_and_gateway(x: int, branch: str, other: str) -> None:
    workflow = start_workflow("y = x * 2", x)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert branch in completed(workflow) and other not in completed(workflow)
    assert workflow.data == {"x": x, "y": x * 2}


def test_workflow_script_with_import_fails_without_side_effect(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    workflow = start_workflow(f"__import__('os').system('touch {marker}')", 7)
    with pytest.raises(WorkflowTaskException, match="__import__") as excinfo:
        workflow.do_engine_steps()
    assert excinfo.value.error_type == "ScriptRejected"
    assert not marker.exists()
    assert not workflow.is_completed()


def test_workflow_script_that_loops_forever_is_stopped() -> None:
    workflow = start_workflow("y = x\nwhile True:\n    y += 1", 7, time_limit_s=0.2)
    with pytest.raises(WorkflowTaskException, match="time limit") as excinfo:
        workflow.do_engine_steps()
    assert excinfo.value.error_type == "ScriptTimeout"
    assert excinfo.value.line_number == 2  # the loop that ran too long
