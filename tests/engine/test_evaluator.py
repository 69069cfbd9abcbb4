"""Owner code runs in evaluator processes under limits the operating system enforces: a single
C-level call is stopped at the deadline, memory is capped, helpers run in the server with
plain arguments, and one step's code shares one deadline."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from engine.core.errors import Conflict
from engine.spiff import evaluator, templating
from engine.spiff.environment import RestrictedEnvironment, is_bounded
from engine.spiff.scripts import ScriptError, ScriptLimitExceeded, ScriptTimeout


def test_a_single_long_c_call_is_stopped_at_the_deadline_and_the_next_call_works() -> None:
    env = RestrictedEnvironment(time_limit_s=0.3)
    t0 = time.monotonic()
    with pytest.raises(ScriptTimeout, match="time limit"):
        env.execute("a = list(map(str, range(10**6)))\nx = len(sorted(a * 9))", {})
    assert time.monotonic() - t0 < 1.5
    data = {"a": 2}
    env.execute("b = a * 21", data)
    assert data == {"a": 2, "b": 42}


def test_memory_is_capped_by_the_operating_system() -> None:
    env = RestrictedEnvironment(time_limit_s=5.0, memory_limit_mb=64)
    with pytest.raises(ScriptLimitExceeded, match="memory"):
        env.execute("a = list(range(10**6))\nb = [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]", {})
    data = {"n": 3}
    env.execute("m = n + 1", data)
    assert data["m"] == 4


def test_helpers_run_in_the_server_with_plain_arguments() -> None:
    calls: list[tuple] = []

    def record(*args, **kwargs):
        calls.append((args, kwargs))
        return {"ok": True, "args": list(args)}

    env = RestrictedEnvironment({"record": record})
    data = {"who": "王小明"}
    env.execute("r = record(who, [1, 2], flag=True)", data)
    assert calls == [(("王小明", [1, 2]), {"flag": True})]
    assert data["r"] == {"ok": True, "args": ["王小明", [1, 2]]}


def test_a_helper_error_a_script_may_catch_is_a_plain_value_error() -> None:
    def picky(value):
        raise ValueError(f"no such item {value!r}")

    env = RestrictedEnvironment({"picky": picky})
    data: dict = {}
    env.execute("try:\n    picky('x')\nexcept ValueError as e:\n    problem = str(e)", data)
    assert data == {"problem": "no such item 'x'"}


def test_an_engine_error_of_a_helper_is_raised_even_if_the_script_swallows_it() -> None:
    def taken():
        raise Conflict("slot taken meanwhile")

    env = RestrictedEnvironment({"taken": taken})
    with pytest.raises(Conflict, match="slot taken"):
        env.execute("try:\n    taken()\nexcept:\n    pass\nx = 1", {})


def test_code_cannot_pass_objects_to_a_helper() -> None:
    env = RestrictedEnvironment({"echo": lambda v: v})
    with pytest.raises(TypeError, match="cannot be stored"):
        env.execute("def f():\n    return 1\necho(f)", {})


def test_one_step_shares_one_deadline() -> None:
    env = RestrictedEnvironment(time_limit_s=1.0)
    slow = "n = 0\nwhile True:\n    n += 1"
    with evaluator.step_budget(0.3):
        t0 = time.monotonic()
        with pytest.raises(ScriptTimeout):
            env.execute(slow, {})
        with pytest.raises(ScriptTimeout, match="ran out of time|time limit"):
            env.execute(slow, {})
        assert time.monotonic() - t0 < 1.0


def test_a_slow_start_of_the_evaluator_is_not_charged_to_the_step(monkeypatch) -> None:
    """On a loaded machine a fresh interpreter can take longer to start than a step's budget;
    the owner's code still gets its whole budget (the step fails only for its own time)."""
    real_init = evaluator._Process.__init__

    def slow_start(self, memory_mb: int) -> None:
        time.sleep(0.6)  # a loaded machine, not a timer: the start itself is what is measured
        real_init(self, memory_mb)

    evaluator.POOL.close()
    monkeypatch.setattr(evaluator._Process, "__init__", slow_start)
    env = RestrictedEnvironment(time_limit_s=1.0)
    data = {"a": 2}
    with evaluator.step_budget(0.3):
        env.execute("b = [a * i for i in range(3)]", data)
        assert data["b"] == [0, 2, 4]
        with pytest.raises(ScriptTimeout):
            env.execute("n = 0\nwhile True:\n    n += 1", {})


def test_a_nested_template_whose_evaluator_starts_slowly_is_not_charged_to_the_code(
    monkeypatch,
) -> None:
    """A script's helper renders a template (as notify() does) while the script waits; the
    pool's process is busy with the script, so the template needs a fresh evaluator, and on a
    loaded machine that start takes longer than the step's budget. Neither the script nor the
    template fails for it."""
    env = RestrictedEnvironment(
        {"render": lambda text, data: templating.render(text, data)}, time_limit_s=1.0
    )
    env.execute("warm = 1", {})
    real_init = evaluator._Process.__init__

    def slow_start(self, memory_mb: int) -> None:
        time.sleep(0.6)  # a loaded machine, not a timer: the start itself is what is measured
        real_init(self, memory_mb)

    monkeypatch.setattr(evaluator._Process, "__init__", slow_start)
    data: dict = {"name": "王"}
    with evaluator.step_budget(0.3):
        env.execute("text = render('{{ name }} 您好', {'name': name})\nn = len(text)", data)
    assert data["text"] == "王 您好" and data["n"] == 4


def test_code_that_loops_over_a_cheap_helper_is_stopped_on_the_wall_clock() -> None:
    """Each call is quick, and the server's time is not the evaluator's processor time, but
    the step holds the writer meanwhile: the loop is stopped at the wall-clock cap."""
    env = RestrictedEnvironment({"double": lambda n: n * 2}, time_limit_s=0.3)
    t0 = time.monotonic()
    with pytest.raises(ScriptTimeout, match="time limit"):
        env.execute("r = list(map(double, range(10**6)))", {})
    assert time.monotonic() - t0 < 1.5


def _resume(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def _stop_the_evaluator_after_the_request(monkeypatch, resume_after: float | None) -> None:
    """The evaluator gets no processor for a while after it receives its request, as on a
    machine busy with other work (resume_after None: never again)."""
    real_send = evaluator._Process.send

    def send(self, message):
        if message.get("op"):  # stopped before the request arrives: it cannot answer first
            os.kill(self.proc.pid, signal.SIGSTOP)
            if resume_after is not None:
                threading.Timer(resume_after, _resume, (self.proc.pid,)).start()
        real_send(self, message)

    monkeypatch.setattr(evaluator._Process, "send", send)


def test_a_busy_machine_does_not_put_the_code_past_its_limit(monkeypatch) -> None:
    """Without a processor for 0.8 s, code with a 0.5 s limit (and a wall-clock cap of
    1.5 × 0.5 + 0.2 s) that needs a millisecond of it still runs."""
    env = RestrictedEnvironment(time_limit_s=0.5)
    env.execute("warm = 1", {})
    _stop_the_evaluator_after_the_request(monkeypatch, resume_after=0.8)
    data = {"a": 2}
    t0 = time.monotonic()
    env.execute("b = [a * i for i in range(3)]", data)
    assert data["b"] == [0, 2, 4]
    assert time.monotonic() - t0 >= 0.8  # it really waited that long without a processor


def test_a_process_that_never_runs_is_stopped_at_the_wall_clock_cap(monkeypatch) -> None:
    """The step holds the database writer: an evaluator that gets no processor at all is
    stopped at 1.5 × its limit + 0.2 s on the wall (0.65 s here)."""
    env = RestrictedEnvironment(time_limit_s=0.3)
    env.execute("warm = 1", {})
    _stop_the_evaluator_after_the_request(monkeypatch, resume_after=None)
    t0 = time.monotonic()
    with pytest.raises(ScriptTimeout, match="time limit"):
        env.execute("b = 1", {})
    assert 0.6 <= time.monotonic() - t0 < 2.0
    monkeypatch.undo()
    data = {"a": 1}
    env.execute("b = a + 1", data)  # a fresh process for the next evaluation
    assert data["b"] == 2


def test_bounded_expressions_stay_in_the_server_process() -> None:
    for text in ("approve == True", "a and not b", "x['k'] in ('a', 'b')", "now()", "n - 1"):
        assert is_bounded(text), text
    for text in ("a * b", "sorted(x)", "[i for i in x]", "x.upper()", "f'{x:>9}'", "s[1:]"):
        assert not is_bounded(text), text
    env = RestrictedEnvironment({"now": lambda: "2026-12-01T00:00:00+00:00"})
    spawned = evaluator.POOL.spawned
    assert env.evaluate("now() if approve else None", {"approve": True}).startswith("2026")
    assert evaluator.POOL.spawned == spawned


def test_results_that_are_not_data_are_refused() -> None:
    env = RestrictedEnvironment()
    with pytest.raises(ScriptError, match="nested deeper"):
        env.execute("a = []\nfor i in range(100000):\n    a = [a]", {})


def test_templates_are_bounded_in_output_and_time() -> None:
    assert templating.render("{{ name }}：{{ n + 1 }}", {"name": "王", "n": 1}) == "王：2"
    with pytest.raises(templating.TemplateProblem, match="longer than"):
        templating.render("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", {})
    t0 = time.monotonic()
    with pytest.raises(templating.TemplateProblem, match="time limit"):
        templating.render(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            {},
            limit_s=0.3,
        )
    assert time.monotonic() - t0 < 1.5
    with pytest.raises(templating.TemplateProblem):
        templating.render("{{ 'x'|center(10**9) }}", {})


def test_an_expression_giving_a_function_is_refused() -> None:
    env = RestrictedEnvironment({"now": lambda: "2026-12-01"})
    with pytest.raises(ScriptError, match="not a value"):
        env.evaluate("now", {})
