"""A timer worker to be killed: imports the engine once, then forks one worker process per
command, so that a hundred SIGKILLs cost milliseconds each instead of an interpreter start.

Run with DATABASE_URL and CASEFLOW_SETTINGS set, the phase log file and a warm-up time as
arguments. Before forking anything it runs worker rounds with the clock at the warm-up time
until one does nothing (the test arranges for a timer and its messages to be due then), so
that every code path is loaded and every SQL statement compiled once, in the zygote: a forked
worker then spends its life working, not importing. Then it reads commands on stdin:
  run NOW        fork a worker that runs Worker.round() for ever with the clock at NOW;
                 prints "started PID", then "exited PID CODE" (CODE -9: killed by SIGKILL)
  drain NOW      fork a worker that runs rounds until one does nothing, prints
                 "drained {json totals}", exits 0
  crashsend NOW  like run, but the worker SIGKILLs itself right after its first SMS was handed
                 to the sender and before the outbox row says "sent"
  quit
Each worker writes one letter per phase to PHASES (argv[1]) just before the phase starts:
  R round  T lease due timers  F fire a case  f case fired  O lease outbox messages
  S send a message  s sent (not yet marked)  m marking sent  M marked sent  i idle
so the last letter before a kill says where it struck.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path

from sqlalchemy import select

import engine.worker.outbox as outbox
import engine.worker.timers as timers
from engine.core.clock import FixedClock
from engine.core.settings import load_settings
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.tables import ProcessVersion


def main() -> None:
    phases_path = Path(sys.argv[1])
    db = Database()
    runtime = Runtime(db, load_settings(), FixedClock(sys.argv[2]))
    with db.read() as session:  # parse every deployed spec once, before forking
        for version in session.scalars(select(ProcessVersion)):
            runtime._specs_for(version)
    worker = timers.Worker(runtime)
    warm = {"fired": 0, "sent": 0}
    while True:
        fired, delivery = worker.round()
        warm["fired"] += fired.fired
        warm["sent"] += delivery.sent
        if not (fired.cases or delivery.sent or delivery.failed or delivery.retried):
            break
    db.engine.dispose()  # no connection may be shared with a child
    print("ready " + json.dumps(warm), flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "quit":
            return
        if command not in ("run", "drain", "crashsend"):
            print(f"error unknown command {command!r}", flush=True)
            continue
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                child(runtime, worker, command, arg, phases_path)
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        print(f"started {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(f"exited {pid} {code}", flush=True)


def child(runtime: Runtime, worker: timers.Worker, mode: str, now: str, phases: Path) -> None:
    runtime.db.engine.dispose(close=False)
    runtime.clock.set(now)
    worker.worker_id = timers.default_worker_id()  # this process's id, not the zygote's
    fd = os.open(phases, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def mark(letter: bytes) -> None:
        os.write(fd, letter)

    def traced(fn, before: bytes, after: bytes | None = None):
        def wrapper(*args, **kwargs):
            mark(before)
            result = fn(*args, **kwargs)
            if after:
                mark(after)
            return result

        return wrapper

    timers.claim_due_cases = traced(timers.claim_due_cases, b"T")
    runtime.fire_timers = traced(runtime.fire_timers, b"F", b"f")
    outbox._claim = traced(outbox._claim, b"O")
    outbox._mark_sent = traced(outbox._mark_sent, b"m", b"M")
    for channel, sender in list(worker.senders.items()):
        send = sender.send

        def send_traced(message, _send=send, _channel=channel):
            mark(b"S")
            provider_id = _send(message)
            mark(b"s")
            if mode == "crashsend" and _channel == "sms":
                os.kill(os.getpid(), signal.SIGKILL)
            return provider_id

        sender.send = send_traced
    totals = {"rounds": 0, "fired": 0, "sent": 0, "failed": 0, "retried": 0, "conflicts": 0}
    while True:
        mark(b"R")
        fired, delivery = worker.round()
        totals["rounds"] += 1
        totals["fired"] += fired.fired
        totals["conflicts"] += fired.conflicts
        for key in ("sent", "failed", "retried"):
            totals[key] += getattr(delivery, key)
        busy = fired.cases or delivery.sent or delivery.failed or delivery.retried
        if not busy:
            mark(b"i")
            if mode == "drain":
                print("drained " + json.dumps(totals), flush=True)
                return
            if mode == "crashsend":
                print("nothing-to-send", flush=True)
                return


if __name__ == "__main__":
    main()
