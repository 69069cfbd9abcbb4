"""Owner-written code cannot take the server's CPU, memory or database writer.

Threat model. A process owner (or whoever got a diagram deployed) writes code that the engine
runs: script tasks, gateway conditions, timer dates, loop cardinalities, pre/post scripts, and
Jinja task instructions rendered on the task page. The in-process guards of engine/scripts.py
and engine/templating.py bound loops, calls and the obvious size bombs, but not a single
C-level call: sorting or hashing ten million items, str() of a list that holds one big list
ten thousand times, str.translate with a list as table, [*x, *x, ...] unpacking, a helper
called through map() over a big range, a string split into millions of pieces, and Jinja's
own filters (center, indent, join, wordwrap, replace, format), nested range loops, or str() of
a shared list. Each such call holds the interpreter (and, in a step, the SQLite writer) for
seconds to minutes, or allocates gigabytes.

What must hold for every payload (each runs in a process of its own, see bounds_proc.py):
- the verb that runs it (the start step, or the task page) answers within 2 s wall time;
- a step: the case ends in status "error" with a non-empty error_message (retryable);
- a task page: it answers 200 within 2 s, with the "instructions could not be shown" notice
  instead of the instructions;
- the peak memory of the process running the verb grows by less than 600 MB;
- for the payloads marked `concurrent`: another client completing tasks of another case keeps
  getting answers within 1 s each (+0.25 s scheduling slack) while the bad step runs (the
  SQLite writer is not held); a request still unanswered when the verb ends counts with the
  time it has waited.

Guarding: the payload's process gets an address-space limit (2.5 GB) and the verb runs in a
thread that is waited for at most GUARD_S seconds; if it has not finished, the process reports
that and ends itself (os._exit), leaving the thread behind. The parent kills the process if it
does not answer within PROCESS_TIMEOUT_S. So a payload that today hangs or eats memory is
reported as a failed test in bounded time, without harming the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from tests.hardening.conftest_web import one_task_bpmn

REPO = Path(__file__).resolve().parents[2]
GUARD_S = 10.0  # how long the payload's process waits for the verb
PROCESS_TIMEOUT_S = 60.0  # how long the test waits for the payload's process
ADDRESS_SPACE = 2_500_000_000  # bytes the payload's process may map
VERB_LIMIT_S = 2.0
OTHER_CLIENT_LIMIT_S = 1.0
# Scheduling slack on a busy two-core machine, on top of the 1 s (the writer may be held ~1 s).
OTHER_CLIENT_SLACK_S = 0.25
MEMORY_GROWTH_LIMIT = 600 * 2**20

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)


def _process(key: str, middle: str, extra_flows: str = "") -> str:
    """start -> (middle, whose first element is `bad`) -> user task `after` -> end."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="defs_{key}" targetNamespace="http://caseflow.example/bounds">
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {middle}
    <bpmn:userTask id="after" name="after"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="bad" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    {extra_flows}
  </bpmn:process>
</bpmn:definitions>
"""


def script_task(key: str, code: str) -> str:
    middle = (
        f'<bpmn:scriptTask id="bad"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2'
        f"</bpmn:outgoing><bpmn:script>{escape(code)}</bpmn:script></bpmn:scriptTask>"
        '<bpmn:sequenceFlow id="f2" sourceRef="bad" targetRef="after" />'
    )
    return _process(key, middle)


def gateway(key: str, condition: str) -> str:
    middle = (
        '<bpmn:exclusiveGateway id="bad" default="f2"><bpmn:incoming>f1</bpmn:incoming>'
        "<bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f2b</bpmn:outgoing></bpmn:exclusiveGateway>"
        '<bpmn:sequenceFlow id="f2" sourceRef="bad" targetRef="after" />'
        '<bpmn:sequenceFlow id="f2b" sourceRef="bad" targetRef="after">'
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
        f"{escape(condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )
    return _process(key, middle).replace(
        "<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3",
        "<bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f2b</bpmn:incoming><bpmn:outgoing>f3",
    )


def timer_date(key: str, argument: str) -> str:
    middle = (
        '<bpmn:intermediateCatchEvent id="bad"><bpmn:incoming>f1</bpmn:incoming>'
        '<bpmn:outgoing>f2</bpmn:outgoing><bpmn:timerEventDefinition id="bad_def"><bpmn:timeDate>'
        f"days_from_now({escape(argument)})</bpmn:timeDate></bpmn:timerEventDefinition>"
        '</bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="f2" sourceRef="bad" targetRef="after" />'
    )
    return _process(key, middle)


def loop_cardinality(key: str, expression: str) -> str:
    middle = (
        '<bpmn:scriptTask id="bad"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2'
        '</bpmn:outgoing><bpmn:multiInstanceLoopCharacteristics isSequential="true">'
        f"<bpmn:loopCardinality>{escape(expression)}</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics><bpmn:script>n = 1</bpmn:script>"
        '</bpmn:scriptTask><bpmn:sequenceFlow id="f2" sourceRef="bad" targetRef="after" />'
    )
    return _process(key, middle)


def pre_script(key: str, code: str) -> str:
    middle = (
        '<bpmn:userTask id="bad" name="bad"><bpmn:extensionElements><spiffworkflow:preScript>'
        f"{escape(code)}</spiffworkflow:preScript></bpmn:extensionElements>"
        "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>"
        '<bpmn:sequenceFlow id="f2" sourceRef="bad" targetRef="after" />'
    )
    return _process(key, middle)


@dataclass(frozen=True)
class Payload:
    kind: str  # "step": the start step runs it; "page": the task page renders it
    build: Any  # (key, text) -> BPMN, or None for Jinja instructions
    text: str
    concurrent: bool = False


# A list of a million distinct ints, made in C without a Python-level loop.
MILLION = "list(range(10**6))"
SHARED = "a = list(range(10**5))\nb = [a] * 10**4"  # one list, 10,000 times: 6 GB of repr

PAYLOADS: dict[str, Payload] = {
    # --- scripts: one C-level call each ---
    "sorted_ten_million_by_str": Payload(
        "step", script_task, f"x = {MILLION} * 10\ny = sorted(x, key=str)", concurrent=True
    ),
    "set_of_big_ints": Payload(
        "step", script_task, "n = 2 ** 9999\ns = set([n] * 10**7)\nt = set(x * 1 for x in [n])"
    ),
    "list_sort_in_place_by_str": Payload(
        "step", script_task, f"x = {MILLION} * 10\nx.sort(key=str, reverse=True)"
    ),
    "str_of_shared_list": Payload("step", script_task, f"{SHARED}\ns = str(b)", concurrent=True),
    "fstring_of_shared_list": Payload("step", script_task, f'{SHARED}\ns = f"{{b}}"'),
    "percent_s_of_shared_list": Payload("step", script_task, f"{SHARED}\ns = '%s' % (b,)"),
    "translate_with_a_list_table": Payload(
        "step",
        script_task,
        "table = ['y' * 10**4] * 128\ns = ('a' * 10**6).translate(table)",
        concurrent=True,
    ),
    "star_unpacking_chain": Payload(
        "step", script_task, "x = [0] * 10**7\ny = [*x, *x, *x, *x, *x, *x, *x, *x, *x, *x]"
    ),
    "star_unpacking_into_set_and_tuple": Payload(
        "step", script_task, f"x = {MILLION} * 10\ny = (*x, *x, *x, *x, *x)\nz = {{*x, *y}}"
    ),
    "helper_through_map_over_range": Payload(
        "step",
        script_task,
        "r = list(map(days_from_now, range(10**6)))\nq = list(map(days_from_now, range(10**6)))",
        concurrent=True,
    ),
    "helper_as_sort_key": Payload(
        "step", script_task, "r = sorted(range(10**6), key=days_from_now)"
    ),
    "split_into_millions_of_strings": Payload(
        "step",
        script_task,
        "s = 'x ' * 5000000\na = s.split()\nb = s.split()\nc = s.split()\nd = s.split()",
    ),
    "dict_fromkeys_repeated": Payload(
        "step",
        script_task,
        f"x = {MILLION} * 10\nd = dict.fromkeys(x)\ne = dict(zip(x, x))\nf = set(x)",
    ),
    "deep_recursion_through_map": Payload(
        "step", script_task, "f = lambda n: list(map(f, [n]))\nr = f(0)"
    ),
    "nested_list_200000_deep_left_in_data": Payload(
        "step", script_task, "x = []\nfor i in range(200000):\n    x = [x]"
    ),
    "power_tower": Payload("step", script_task, "n = 10**10**8"),
    "int_from_a_million_digits": Payload("step", script_task, "n = int('9' * 10**6)"),
    "nested_comprehension_1e5_by_1e5": Payload(
        "step", script_task, "s = [a ^ b for a in range(10**5) for b in range(10**5)]"
    ),
    "while_true_with_swallowing_except": Payload(
        "step",
        script_task,
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except Exception:\n        pass",
        concurrent=True,
    ),
    # --- expressions on other surfaces ---
    "gateway_condition_sorting": Payload(
        "step", gateway, f"len(sorted({MILLION} * 10, key=str)) == 0", concurrent=True
    ),
    "timer_date_argument_str_of_shared_list": Payload(
        "step", timer_date, "len(str([list(range(10**5))] * 10**4)) % 2"
    ),
    "loop_cardinality_set_of_big_ints": Payload(
        "step", loop_cardinality, "len(set([2 ** 9999] * 10**7))"
    ),
    "pre_script_translate": Payload(
        "step", pre_script, "s = ('a' * 10**6).translate(['y' * 10**4] * 128)"
    ),
    # --- Jinja instructions on the task page ---
    "jinja_center_filter": Payload("page", None, "{{ 'x'|center(10**9) }}", concurrent=True),
    "jinja_nested_range_loops": Payload(
        "page",
        None,
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        concurrent=True,
    ),
    "jinja_indent_width": Payload("page", None, "{{ 'x'|indent(10**9, true) }}"),
    "jinja_wordwrap_wrapstring": Payload(
        "page", None, "{{ ('x ' * 50000)|wordwrap(1, wrapstring='y' * 99999) }}"
    ),
    "jinja_join_huge_separator": Payload("page", None, "{{ range(100000)|join('x' * 99999) }}"),
    "jinja_replace_filter": Payload("page", None, "{{ ('x' * 99999)|replace('x', 'y' * 99999) }}"),
    "jinja_format_filter_width": Payload("page", None, "{{ '%999999999s'|format(1) }}"),
    "jinja_str_of_shared_list": Payload("page", None, "{{ [range(99999)|list] * 99999 }}"),
}


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_payload(name: str, payload: Payload, db_url: str, settings: Any, tmp_path: Path) -> dict:
    key = "bomb_" + name
    if payload.kind == "page":
        text = one_task_bpmn(key, instructions=payload.text)
    else:
        text = payload.build(key, payload.text)
    spec = {
        "db_url": db_url,
        "settings": str(settings.path),
        "kind": payload.kind,
        "key": key,
        "files": {f"{key}.bpmn": text},
        "concurrent": payload.concurrent,
        "guard_s": GUARD_S,
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.hardening.bounds_proc", str(spec_path)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT_S,
            preexec_fn=_limit_address_space,  # noqa: PLW1509 - a limit, set before exec
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: the payload's process did not answer in {PROCESS_TIMEOUT_S:g} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        pytest.fail(
            f"{name}: the payload's process died (exit {done.returncode}) before reporting: "
            f"{done.stderr[-800:]}"
        )
    return json.loads(lines[-1])


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_resource_bomb_is_stopped(name: str, db_url: str, settings: Any, tmp_path: Path) -> None:
    if db_url.startswith("sqlite:") and not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux) to read peak memory")
    payload = PAYLOADS[name]
    report = run_payload(name, payload, db_url, settings, tmp_path)
    assert report["done"], (
        f"{name}: the verb did not finish within {GUARD_S:g} s (left running; report {report})"
    )
    assert "raised" not in report, f"{name}: the verb raised instead of answering: {report}"
    elapsed = report.get("page_elapsed", report["elapsed"])
    assert elapsed < VERB_LIMIT_S, f"{name}: the verb took {elapsed:.2f} s"
    if payload.kind == "step":
        assert report["status"] == "error", f"{name}: case status {report.get('status')!r}"
        assert (report.get("error_message") or "").strip(), f"{name}: no error message"
    else:
        assert report["page_status"] == 200, f"{name}: task page answered {report['page_status']}"
        assert report["notice"], f"{name}: the page shows no 'could not be shown' notice"
        assert report["page_bytes"] < 500_000, f"{name}: the page is {report['page_bytes']} bytes"
    growth = report["hwm_growth"]
    assert growth < MEMORY_GROWTH_LIMIT, f"{name}: peak memory grew by {growth / 2**20:.0f} MB"
    if payload.concurrent:
        assert report["other_requests"] >= 1, f"{name}: the other client made no request"
        worst = report["other_max_latency"] or 0.0
        assert worst < OTHER_CLIENT_LIMIT_S + OTHER_CLIENT_SLACK_S, (
            f"{name}: the other client waited {worst:.2f} s for an answer "
            f"(errors: {report.get('other_errors', [])[:3]})"
        )
