"""Isolated evaluation of owner-written code: a small pool of evaluator processes.

Why: a restricted compiler and guards inside the server process cannot stop a single C-level
call (sorting a huge list, ``str()`` of shared structures, ``str.translate``) or bound its
memory; while it runs, the step holds the database writer. Here every script, expression that
is not trivially bounded, and template runs in a separate process (engine.spiff.evaluator_child)
with an address-space limit set by the operating system; the caller waits at most until its
deadline and then kills that process. The step fails with a clear error and the next
evaluation gets a fresh process.

Helpers (Caseflow's functions that scripts may call) run here, in the caller, inside the step's
transaction: the evaluator asks for them by name with plain-data arguments.
"""

from __future__ import annotations

import contextvars
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.core import datacodec
from engine.spiff.evaluator_child import HEADER, MAX_MESSAGE, read_exact

ROOT = str(Path(__file__).resolve().parents[2])
DEFAULT_MEMORY_MB = 512
SPAWN_TIMEOUT_S = 30.0
MAX_IDLE = 4  # evaluator processes kept for reuse per server process
KILL_GRACE_S = 0.2  # processor seconds past the limit before the process is killed
# Whatever the processor time, an evaluation is stopped after WALL_CAP_FACTOR times its budget
# (plus the grace) on the wall: the step holds the database writer, so neither a process starved
# of processor time nor code that loops over cheap helpers may hold it for long. Helpers' time
# counts here, except starting an evaluator for a nested template. Real steps use a few
# milliseconds of processor time (15 ms at most in the procedures' tests).
WALL_CAP_FACTOR = 1.5
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

_BOOT = "import sys; sys.path.insert(0, {root!r}); from engine.spiff.evaluator_child import main; main()"


class EvaluationError(Exception):
    """The evaluator reported a failure: `kind` is rejected, timeout, limit, data, template,
    helper or error; `line` the line of the owner's code, where known."""

    def __init__(self, kind: str, message: str, line: int | None = None, type_name: str = ""):
        super().__init__(message)
        self.kind = kind
        self.line = line
        self.type_name = type_name


# What is left of the current step's time for owner-written code: every evaluation of one step
# shares it, so a step never holds the database writer for long however many scripts it runs.
# It is processor time of the evaluator processes, not time on the wall: starting a fresh
# process (also one a helper starts for a nested template) and waiting for a processor on a
# loaded machine are not the owner's code, and must not put a case in error. A wall-clock cap
# per evaluation (WALL_CAP_FACTOR) still bounds how long a step holds the writer.
class _Budget:
    __slots__ = ("left", "outer")

    def __init__(self, left: float, outer: _Budget | None) -> None:
        self.left = left
        self.outer = outer

    def charge(self, seconds: float) -> None:
        budget: _Budget | None = self
        while budget is not None:
            budget.left -= seconds
            budget = budget.outer


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "caseflow_eval_budget", default=None
)


@contextmanager
def step_budget(seconds: float) -> Iterator[None]:
    """All evaluations inside share `seconds` of processor time (nested: the smaller)."""
    outer = _budget.get()
    token = _budget.set(_Budget(seconds if outer is None else min(outer.left, seconds), outer))
    try:
        yield
    finally:
        _budget.reset(token)


def remaining(limit_s: float) -> float:
    """Seconds an evaluation may take now: its own limit or what is left of the step's."""
    budget = _budget.get()
    if budget is None:
        return limit_s
    return min(limit_s, budget.left)


def _charge(seconds: float) -> None:
    budget = _budget.get()
    if budget is not None and seconds > 0:
        budget.charge(seconds)


class _Process:
    """One evaluator process and its pipes."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.proc = subprocess.Popen(
            [sys.executable, "-E", "-s", "-c", _BOOT.format(root=ROOT), str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"},
        )
        self.wfd = self.proc.stdin.fileno()  # type: ignore[union-attr]
        self.rfd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        self.dead = False
        self.cpu = 0.0  # processor seconds the process had used at its last message
        ready = self.recv(time.monotonic() + SPAWN_TIMEOUT_S)
        if ready.get("t") != "ready":
            self.kill()
            raise RuntimeError("the evaluator process did not start")

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, ensure_ascii=False, allow_nan=False).encode()
        data = memoryview(HEADER.pack(len(body)) + body)
        try:
            while data:
                data = data[os.write(self.wfd, data) :]
        except OSError as exc:
            self.kill()
            raise EvaluationError("limit", "the evaluator stopped (memory or CPU limit)") from exc

    def recv(self, deadline: float) -> dict[str, Any]:
        (size,) = HEADER.unpack(read_exact(self.rfd, HEADER.size, deadline))
        if size > MAX_MESSAGE:
            self.kill()
            raise EvaluationError("limit", "the result is larger than 16 MB")
        message = datacodec.loads(read_exact(self.rfd, size, deadline))
        if isinstance(message, dict) and isinstance(message.get("cpu"), int | float):
            self.cpu = float(message["cpu"])
        return message

    def readable(self, until: float) -> bool:
        """Whether a message has begun to arrive by `until` (time.monotonic())."""
        wait = max(0.0, until - time.monotonic())
        return bool(select.select([self.rfd], [], [], wait)[0])

    def cpu_now(self) -> float | None:
        """Processor seconds the process has used (Linux /proc), None where unknown."""
        try:
            with open(f"/proc/{self.proc.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return None

    def kill(self) -> None:
        self.dead = True
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()  # type: ignore[union-attr]
            except OSError:
                pass


class Pool:
    """Evaluator processes of this server process, reused between evaluations."""

    def __init__(self) -> None:
        self._idle: list[_Process] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.spawned = 0
        self.killed = 0

    def _reset_after_fork(self) -> None:
        # The processes belong to the parent; a forked server process starts its own, and
        # closes its copies of the pipes (so an evaluator still sees its parent go away).
        for proc in self._idle:
            for pipe in (proc.proc.stdin, proc.proc.stdout):
                try:
                    pipe.close()  # type: ignore[union-attr]
                except OSError:
                    pass
        self._idle = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self, memory_mb: int) -> _Process:
        if os.getpid() != self._pid:
            self._reset_after_fork()
        with self._lock:
            while self._idle:
                proc = self._idle.pop()
                if proc.memory_mb == memory_mb and proc.proc.poll() is None:
                    return proc
                proc.kill()
        self.spawned += 1
        started = time.monotonic()
        try:
            return _Process(memory_mb)
        finally:
            _SPAWNING.seconds = getattr(_SPAWNING, "seconds", 0.0) + time.monotonic() - started

    def give(self, proc: _Process) -> None:
        if proc.dead or os.getpid() != self._pid:
            return
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(proc)
                return
        proc.kill()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for proc in idle:
            proc.kill()


# Seconds this thread has spent starting evaluator processes: a helper that evaluates a template
# while the code waits (notify) may start one, and that start is not the owner's time.
_SPAWNING = threading.local()

POOL = Pool()
os.register_at_fork(after_in_child=POOL._reset_after_fork)


_CATCHABLE = frozenset(
    "ValueError TypeError KeyError IndexError LookupError ZeroDivisionError ArithmeticError".split()
)


def _helper_reply(
    helpers: Mapping[str, Callable[..., Any]],
    message: dict[str, Any],
    failures: list[BaseException],
) -> dict[str, Any]:
    name = message.get("name")
    fn = helpers.get(name) if isinstance(name, str) else None
    if fn is None:
        return {"t": "err", "kind": "NameError", "message": f"no helper named {name!r}"}
    args = message.get("args") or []
    kwargs = message.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return {"t": "err", "kind": "TypeError", "message": "malformed helper call"}
    try:
        value = fn(*args, **kwargs)
        return {"t": "ok", "value": datacodec.encode(value, f"{name}() result")}
    except (ValueError, TypeError, LookupError, ArithmeticError) as exc:
        # The code sees the helper's error as the builtin class it derives from (a
        # BookingError as a ValueError), so `except ValueError:` in a script works as before.
        kind = next(c.__name__ for c in type(exc).__mro__ if c.__name__ in _CATCHABLE)
        return {"t": "err", "kind": kind, "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - kept and raised again once the evaluation ends
        failures.append(exc)
        return {"t": "err", "kind": "HelperFailed", "message": f"{name}() failed: {exc}"}


def run(
    request: dict[str, Any],
    *,
    helpers: Mapping[str, Callable[..., Any]] | None = None,
    limit_s: float = 1.0,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> Any:
    """Send one request to an evaluator process and return its value (decoded data).

    Raises EvaluationError for the evaluator's own refusals and for a breach of the time or
    memory limit (the process is then killed); an engine error raised by a helper is raised
    again here, whatever the code did with it."""
    helpers = helpers or {}
    budget = remaining(limit_s)
    if budget <= 0:
        raise EvaluationError("timeout", "the step ran out of time for its scripts")
    proc = POOL.take(memory_mb)
    request = dict(request, helpers=sorted(helpers), limit_s=budget)
    # The evaluator stops a loop of the code itself at `budget` processor seconds (with its
    # line); the grace is for a single long C-level call, after which the process is killed.
    allowed = budget + KILL_GRACE_S
    started = charged = proc.cpu
    wall_start = time.monotonic()
    wall_end = wall_start + WALL_CAP_FACTOR * budget + KILL_GRACE_S
    helper_s = 0.0
    failures: list[BaseException] = []
    try:
        proc.send(request)
        while True:
            wait = max(0.01, allowed - (charged - started))  # processor time left, on the wall
            if not proc.readable(min(wall_end, time.monotonic() + wait)):
                now_cpu = proc.cpu_now()
                used = (
                    now_cpu - started
                    if now_cpu is not None
                    else time.monotonic() - wall_start - helper_s
                )
                if used < allowed and time.monotonic() < wall_end:
                    charged = max(charged, started + used)
                    continue  # a busy machine: the code has not had its time yet
                proc.kill()
                POOL.killed += 1
                _charge(budget - (charged - started))
                charged = started + budget
                raise EvaluationError(
                    "timeout", f"the code ran past its time limit of {budget:.2g} s and was stopped"
                )
            try:
                message = proc.recv(time.monotonic() + SPAWN_TIMEOUT_S)
            except (TimeoutError, EOFError):
                proc.kill()
                POOL.killed += 1
                raise EvaluationError(
                    "limit", "the code was stopped by the operating system (memory limit)"
                ) from None
            _charge(proc.cpu - charged)
            charged = max(charged, proc.cpu)
            kind = message.get("t")
            if message.get("exit"):
                proc.kill()  # it ends itself after running out of memory
            if kind == "call":
                # The helper's time counts on the wall (the writer is held meanwhile), except
                # starting an evaluator for a nested template, which is not the owner's.
                spawning = getattr(_SPAWNING, "seconds", 0.0)
                reply = _helper_reply(helpers, message, failures)
                spawned = getattr(_SPAWNING, "seconds", 0.0) - spawning
                helper_s += spawned
                wall_end += spawned
                proc.send(reply)
                continue
            if failures:
                raise failures[0]
            if kind == "ok":
                return message.get("value")
            raise EvaluationError(
                str(message.get("kind") or "error"),
                str(message.get("message") or "evaluation failed"),
                message.get("line") if isinstance(message.get("line"), int) else None,
                str(message.get("type") or ""),
            )
    finally:
        POOL.give(proc)
