"""The evaluator process: runs owner-written code (scripts, expressions, templates) for the
engine, under limits the operating system enforces.

It is started by engine.spiff.evaluator with a fresh interpreter (no database connection, no
workflow, no secrets in memory), sets its own resource limits (address space, file size,
open files), and then answers requests read from stdin, one at a time. Values cross the pipe
as JSON written by engine.core.datacodec, so nothing but plain data and Caseflow's value types
reaches the code it runs; helper functions are stubs that ask the parent to run the helper.
The parent kills this process when an evaluation runs past its deadline.
"""

from __future__ import annotations

import json
import os
import resource
import select
import struct
import sys
import time
from typing import Any

from engine.core import datacodec
from engine.spiff import guards, scripts, templating

HEADER = struct.Struct(">I")
MAX_MESSAGE = 16 * 2**20  # bytes of one message in either direction


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytes:
    """`n` bytes from `fd`; EOFError when the other end closed, TimeoutError at `deadline`
    (time.monotonic(); None waits as long as it takes)."""
    chunks = []
    while n:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class _Pipe:
    def __init__(self) -> None:
        self.rfd = sys.stdin.fileno()
        self.wfd = sys.stdout.fileno()

    def recv(self) -> Any:
        (size,) = HEADER.unpack(read_exact(self.rfd, HEADER.size))
        return datacodec.loads(read_exact(self.rfd, size))

    def send(self, message: dict[str, Any]) -> None:
        # Every message says how much processor time this process has used so far: the parent
        # charges the owner's code for that, not for the wall-clock time a busy machine adds.
        message = dict(message, cpu=time.process_time())
        body = json.dumps(message, ensure_ascii=False, allow_nan=False).encode()
        if len(body) > MAX_MESSAGE:
            body = json.dumps(
                {"t": "err", "kind": "limit", "message": "the result is larger than 16 MB"}
            ).encode()
        view = memoryview(HEADER.pack(len(body)) + body)
        while view:
            view = view[os.write(self.wfd, view) :]


class HelperFailed(Exception):
    """A helper run by the parent failed; the parent keeps the original error."""


_SAFE_ERRORS: dict[str, type[Exception]] = {
    "ValueError": ValueError,
    "TypeError": TypeError,
    "KeyError": KeyError,
    "LookupError": LookupError,
    "IndexError": IndexError,
    "ArithmeticError": ArithmeticError,
    "ZeroDivisionError": ZeroDivisionError,
}


def _stub(pipe: _Pipe, name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            payload = {"t": "call", "name": name, "args": datacodec.encode(list(args), "args")}
            payload["kwargs"] = datacodec.encode(kwargs, "kwargs")
        except datacodec.DataError as exc:
            raise TypeError(f"{name}(): argument {exc}") from None
        pipe.send(payload)
        reply = pipe.recv()
        if reply.get("t") == "ok":
            return reply.get("value")
        error = _SAFE_ERRORS.get(reply.get("kind", ""), HelperFailed)
        raise error(reply.get("message", f"{name}() failed"))

    call.__name__ = name
    return call


def _set_limits(memory_mb: int) -> None:
    base = 0
    try:
        with open("/proc/self/statm") as f:
            base = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        pass
    limit = base + memory_mb * 2**20
    for name, value in (
        ("RLIMIT_AS", limit),
        ("RLIMIT_FSIZE", 0),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NOFILE", 16),
    ):
        which = getattr(resource, name, None)
        if which is not None:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass


def _handle(pipe: _Pipe, request: dict[str, Any]) -> dict[str, Any]:
    op = request["op"]
    helpers = {name: _stub(pipe, name) for name in request.get("helpers") or ()}
    limit = float(request.get("limit_s") or 1.0)
    if op == "render":
        text = templating.render_bounded(
            request["source"],
            request.get("data") or {},
            strict=bool(request.get("strict")),
            max_output=int(request.get("max_output") or templating.MAX_OUTPUT),
        )
        return {"t": "ok", "value": text}
    context = request.get("context") or {}
    external = request.get("external") or {}
    if op == "eval":
        value = guards.evaluate_here(request["code"], context, external, helpers, limit)
        return {"t": "ok", "value": datacodec.encode(value, "result")}
    if op == "exec":
        guards.execute_here(request["code"], context, external, helpers, limit)
        return {"t": "ok", "value": datacodec.encode(context, "data")}
    raise ValueError(f"unknown request {op!r}")


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, scripts.ScriptRejected):
        kind = "rejected"
    elif isinstance(exc, scripts.ScriptTimeout):
        kind = "timeout"
    elif isinstance(exc, scripts.ScriptLimitExceeded | MemoryError | RecursionError):
        kind = "limit"
    elif isinstance(exc, datacodec.DataError):
        kind = "data"
    elif isinstance(exc, templating.TemplateProblem):
        kind = "template"
    elif isinstance(exc, HelperFailed):
        kind = "helper"
    else:
        kind = "error"
    message = str(exc) if not isinstance(exc, MemoryError) else ""
    if isinstance(exc, MemoryError):
        message = "the code used more memory than allowed"
    elif isinstance(exc, RecursionError):
        message = "recursion too deep: does a function call itself forever?"
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<string>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return {
        "t": "err",
        "kind": kind,
        "type": type(exc).__name__,
        "message": message[:2000],
        "line": line,
    }


def main() -> None:
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    os.chdir("/")
    _set_limits(memory_mb)
    sys.setrecursionlimit(2000)
    pipe = _Pipe()
    pipe.send({"t": "ready", "pid": os.getpid()})
    while True:
        try:
            request = pipe.recv()
        except EOFError:
            return
        try:
            reply = _handle(pipe, request)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            reply = _error(exc)
            if isinstance(exc, MemoryError):
                reply["exit"] = True  # a fresh process for the next request
                pipe.send(reply)
                return
        del request
        pipe.send(reply)


if __name__ == "__main__":
    main()
