"""Crashes: a worker process is killed with SIGKILL at random points while it fires timers and
sends notifications, 100 times; then a real `caseflow worker --once` (a fresh process, as after
a restart) finishes the work. Afterwards every timer fired exactly once, every notification
reached its provider once and is marked sent once, and no case is stuck.

A worker killed after the provider took a message and before the row says "sent" leaves it
leased, and once the lease runs out the next worker hands it to the provider again, with the
same idempotency key. The providers recognise the key and drop the repeat (engine/sms.py; the
dev e-mail sender keeps one file per Message-ID), so the dev SMS log holds each key exactly
once. The test counts the repeats the providers recognised and shows where each kill struck;
the second test kills a worker exactly in that window to show what happens.

The killed workers are forked from a process that imported the engine once
(tests/hardening/crash_zygote.py), so a kill costs milliseconds, not an interpreter start.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select

from engine.store.tables import Case, Event, Outbox, Timer
from engine.worker.mail import DevMailSender
from engine.worker.sms import DevSmsSender
from tests.conftest import fixture_files
from tests.hardening.helpers import DB_BACKEND, HARDENING_FIXTURES, HERE

REPO = HERE.parent.parent
KILLS = 100
CASES = 40
# A worker here needs ~15 ms to connect and lease, ~30 ms to fire one case and ~5 ms per
# message on SQLite (more on PostgreSQL); kills spread over this window land in every phase.
KILL_WITHIN_S = 0.12 if DB_BACKEND == "sqlite" else 0.2  # PostgreSQL steps take longer
PHASE_NAMES = {
    "": "before its first round",
    "R": "starting a round",
    "T": "leasing due timers",
    "F": "firing a case's timers (in its transaction)",
    "f": "between cases",
    "O": "leasing outbox messages",
    "S": "handing a message to the sender",
    "s": "after the sender took it, before marking it sent",
    "m": "marking it sent",
    "M": "after marking it sent",
    "i": "idle",
}


class Zygote:
    """Drives crash_zygote.py: fork a worker, kill it, read how it ended."""

    def __init__(self, db_url: str, settings_path: Path, tmp: Path, warm_at: str):
        self.phases = tmp / "phases.log"
        self.stderr_path = tmp / "zygote.err"
        self.stderr = self.stderr_path.open("w")
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "CASEFLOW_SETTINGS": str(settings_path),
            "PYTHONPATH": str(REPO),
        }
        env.pop("CASEFLOW_NOW", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "crash_zygote.py"),
                str(self.phases),
                warm_at,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            cwd=REPO,
            env=env,
            bufsize=0,
        )
        self._pending = b""
        self.warm_up = json.loads(self.expect("ready", timeout=120).split(" ", 1)[1])

    def expect(self, prefix: str, timeout: float = 60) -> str:
        # Lines are split here from raw reads: a buffered readline() after select() would miss
        # a line that arrived in the same read as the one before it (select sees an empty pipe
        # while the line waits in Python's buffer).
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._pending:
                raw, self._pending = self._pending.split(b"\n", 1)
                line = raw.decode("utf-8")
                if line.startswith(prefix):
                    return line.strip()
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"no {prefix!r} from the zygote; stderr:\n{self.errors()}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the zygote ended; stderr:\n{self.errors()}")
            self._pending += chunk

    def send(self, command: str) -> None:
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()

    def start(self, mode: str, now: str) -> int:
        self.send(f"{mode} {now}")
        return int(self.expect("started").split()[1])

    def exited(self, pid: int) -> int:
        line = self.expect(f"exited {pid} ")
        return int(line.split()[2])

    def phase_log(self) -> str:
        return self.phases.read_text() if self.phases.exists() else ""

    def errors(self) -> str:
        self.stderr.flush()
        return self.stderr_path.read_text()[-4000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send("quit")
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.stderr.close()


@pytest.fixture
def zygote(db_url, settings, tmp_path):
    def make(warm_at: str) -> Zygote:
        z = Zygote(db_url, settings.path, tmp_path, warm_at)
        made.append(z)
        return z

    made: list[Zygote] = []
    yield make
    for z in made:
        z.close()


def repeats(settings) -> tuple[Counter[str], Counter[str]]:
    """Resends the dev providers recognised by key and dropped: SMS keys and e-mail keys."""
    sms_repeats = DevSmsSender(settings.sms.dev_log).repeats_path
    mail_repeats = DevMailSender(settings.smtp.dev_dir, settings.smtp.from_address).repeats_path
    sms = Counter(
        json.loads(line)["key"]
        for line in (sms_repeats.read_text("utf-8") if sms_repeats.exists() else "").splitlines()
    )
    mail = Counter(
        line.split("\t")[0]
        for line in (mail_repeats.read_text("utf-8") if mail_repeats.exists() else "").splitlines()
    )
    return sms, mail


def sms_log(settings) -> tuple[Counter[str], int, list[dict]]:
    """Keys in the dev SMS log (how often each), lines that are not whole JSON, all lines."""
    keys: Counter[str] = Counter()
    torn = 0
    lines = []
    if settings.sms.dev_log.exists():
        text = settings.sms.dev_log.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                torn += 1
                continue
            keys[entry["key"]] += 1
            lines.append(entry)
    return keys, torn, lines


def cli_worker(db_url: str, settings, now: str) -> dict:
    """One round of the real command, in a fresh process (as after a restart)."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CASEFLOW_SETTINGS": str(settings.path),
        "PYTHONPATH": str(REPO),
    }
    env.pop("CASEFLOW_NOW", None)
    out = subprocess.run(
        [sys.executable, "-m", "caseflow.cli", "--now", now, "worker", "--once", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_a_hundred_kills_then_every_timer_fired_once_and_every_message_delivered_once(
    runtime, db, db_url, settings, clock, users, zygote, figure
):
    runtime.deploy([HARDENING_FIXTURES / "crash_flow.bpmn"])
    t0 = clock.now()
    numbers = []
    for i in range(CASES):  # started six minutes apart, so timers fall due all along the run
        clock.set(t0 + timedelta(minutes=6 * i))
        numbers.append(
            runtime.start_case(
                "crash_flow",
                {
                    "customer_name": f"客戶{i:02d}",
                    "phone": f"1380000{i:04d}",
                    "email": f"c{i:02d}@example.com",
                    "reminders": 0,
                },
                prevalidated=True,
            ).number
        )
    rng = random.Random(20261123)
    # The zygote warms up by firing the first case's first timer and sending its messages.
    z = zygote((t0 + timedelta(minutes=60)).isoformat())
    assert z.warm_up == {"fired": 1, "sent": 2}
    where: Counter[str] = Counter()
    kills = 0
    started = time.perf_counter()
    for k in range(KILLS):
        # Four minutes of clock per worker: timer leases and outbox claims (1 min) run out
        # before the next one, the lease on a message being sent (5 min) before the one after.
        now = t0 + timedelta(minutes=61 + 4 * k)
        before = len(z.phase_log())
        pid = z.start("run", now.isoformat())
        time.sleep(rng.uniform(0, KILL_WITHIN_S))
        os.kill(pid, signal.SIGKILL)
        code = z.exited(pid)
        assert code == -signal.SIGKILL, f"worker {pid} ended with {code}:\n{z.errors()}"
        kills += 1
        log = z.phase_log()[before:]
        where[log[-1:] if log else ""] += 1
    kill_s = time.perf_counter() - started

    with db.read() as session:
        pending_after_kills = len(
            session.scalars(sql_select(Outbox.id).where(Outbox.status == "pending")).all()
        )
        waiting_after_kills = len(
            session.scalars(sql_select(Timer.id).where(Timer.status == "waiting")).all()
        )

    # Restart: a clean worker (not killed) finishes the work, then the real command, a fresh
    # process as after a restart, finds nothing left to do: nothing was lost or left leased.
    end = t0 + timedelta(minutes=61 + 4 * KILLS + 10)  # every lease has run out
    pid = z.start("drain", end.isoformat())
    drained = json.loads(z.expect("drained").split(" ", 1)[1])
    assert z.exited(pid) == 0
    final = cli_worker(db_url, settings, (end + timedelta(minutes=1)).isoformat())
    assert (final["timers"]["fired"], final["outbox"]["sent"]) == (0, 0), final

    with db.read() as session:
        timers = session.scalars(sql_select(Timer)).all()
        fired_events = Counter(
            (e.detail or {}).get("timer")
            for e in session.scalars(sql_select(Event).where(Event.kind == "timer_fired"))
        )
        cancelled = session.scalars(
            sql_select(Event.id).where(Event.kind == "timer_cancelled")
        ).all()
        messages = session.scalars(sql_select(Outbox)).all()
        sent_events = Counter(
            (e.detail or {}).get("key")
            for e in session.scalars(sql_select(Event).where(Event.kind == "notification_sent"))
        )
        queued_events = Counter(
            (e.detail or {}).get("key")
            for e in session.scalars(sql_select(Event).where(Event.kind == "notification_queued"))
        )
        statuses = Counter(session.scalars(sql_select(Case.status)).all())

    # Every timer fired exactly once. A worker that comes late fires two due timers of a case
    # in one step (the second never needed a row), so a case has one to three timer rows;
    # each row fired once, and each case ran each of its three reminders once (below).
    assert CASES <= len(timers) <= 3 * CASES
    assert all(t.status == "fired" for t in timers)
    assert all(fired_events[t.id] == 1 for t in timers) and not cancelled
    assert sum(fired_events.values()) == len(timers)
    # Every notification: queued once by its timer's step, marked sent once.
    assert len(messages) == 6 * CASES
    assert all(m.status == "sent" and m.attempts == 1 for m in messages)
    assert all(sent_events[m.idempotency_key] == 1 for m in messages)
    assert all(queued_events[m.idempotency_key] == 1 for m in messages)
    # What left the building: every SMS exactly once in the provider's log, every e-mail one
    # file; each resend after a kill was recognised by its key and dropped.
    keys, torn, _ = sms_log(settings)
    sms_keys = {m.idempotency_key for m in messages if m.channel == "sms"}
    mail_keys = {m.idempotency_key for m in messages if m.channel == "email"}
    assert set(keys) == sms_keys and set(keys.values()) == {1}
    mails = list(settings.smtp.dev_dir.glob("*.eml"))
    assert len(mails) == len(mail_keys) == 3 * CASES
    sms_repeats, mail_repeats = repeats(settings)
    assert set(sms_repeats) <= sms_keys and set(mail_repeats) <= mail_keys
    repeated = sum(sms_repeats.values()) + sum(mail_repeats.values())
    # A resend needs a kill after the sender took the message and before the row said sent.
    window = where["S"] + where["s"] + where["m"]
    assert where["s"] <= repeated <= window, (sms_repeats, mail_repeats, where)

    # No case stuck: each ran its three reminders and waits at its follow-up task.
    assert statuses == {"running": CASES}
    for number in numbers:
        case = runtime.get_case(number)
        assert case.data["reminders"] == 3
        assert {"wait_1", "wait_2", "wait_3"} <= set(case.completed_elements)
        assert [t.element_id for t in case.open_tasks] == ["follow_up"]
        assert case.timers == []
    for number in numbers:  # and can leave it
        task = runtime.get_case(number).open_tasks[0]
        clock.set(end)
        runtime.complete_task(task.id, {"confirmed": True}, "alice")
    assert {runtime.get_case(n).status for n in numbers} == {"completed"}

    struck = ", ".join(f"{PHASE_NAMES[p]} {n}" for p, n in where.most_common())
    figure(
        f"crashes: {kills} SIGKILLs of a worker in {kill_s:.1f} s (at random 0-{KILL_WITHIN_S * 1000:.0f} ms after start); "
        f"struck: {struck}"
    )
    figure(
        f"crashes: after the kills {waiting_after_kills} timer(s) waiting and "
        f"{pending_after_kills} message(s) pending; a clean worker then fired "
        f"{drained['fired']} and sent {drained['sent']}; a restarted `caseflow worker --once` "
        f"found nothing left (fired 0, sent 0)"
    )
    figure(
        f"crashes: {3 * CASES} timers ({len(timers)} timer rows) each fired exactly once; "
        f"{len(messages)} messages each marked sent once; SMS delivered exactly once each: "
        f"{sum(1 for n in keys.values() if n == 1)} of {len(sms_keys)}; repeats recognised by "
        f"key and dropped: {sum(sms_repeats.values())}"
        f"{f' (torn log lines {torn})' if torn else ''}; e-mails one file each: {len(mails)} "
        f"of {len(mail_keys)} ({sum(mail_repeats.values())} resends carried the same "
        "Message-ID and replaced their own file); 0 cases stuck"
    )


def test_kill_between_send_and_mark_hands_the_message_over_again_and_it_is_dropped(
    runtime, db, settings, clock, zygote, figure
):
    """The window, shown: the worker dies right after the SMS provider took the message. The
    row stays pending under the dead worker's lease (renewed to 5 minutes just before the send);
    the e-mail claimed in the same batch was not being sent and is free after a minute. After
    the lease the next worker hands the SMS over again with the same key: the provider
    recognises it, logs nothing and answers with the id it gave the first time."""
    runtime.deploy(fixture_files("notify_flow.bpmn"))
    number = runtime.start_case(
        "notify_flow",
        {"customer_name": "王", "phone": "13800000000", "email": "w@example.com"},
        prevalidated=True,
    ).number
    now = clock.now()
    z = zygote((now - timedelta(days=1)).isoformat())  # nothing to warm up on
    pid = z.start("crashsend", now.isoformat())
    assert z.exited(pid) == -signal.SIGKILL
    keys, _, [first] = sms_log(settings)
    assert list(keys.values()) == [1]
    with db.read() as session:
        rows = {m.channel: m for m in session.scalars(sql_select(Outbox))}
    assert rows["sms"].status == rows["email"].status == "pending"
    assert rows["sms"].next_attempt_at > now + timedelta(minutes=1)  # the send's lease
    assert rows["email"].next_attempt_at == now + timedelta(minutes=1)  # the batch's claim

    pid = z.start("drain", (now + timedelta(minutes=1)).isoformat())
    assert json.loads(z.expect("drained").split(" ", 1)[1])["sent"] == 1  # the e-mail only
    assert z.exited(pid) == 0
    assert len(list(settings.smtp.dev_dir.glob("*.eml"))) == 1
    with db.read() as session:
        assert session.get(Outbox, rows["sms"].id).status == "pending"
    pid = z.start("drain", (now + timedelta(minutes=6)).isoformat())
    assert json.loads(z.expect("drained").split(" ", 1)[1])["sent"] == 1  # the SMS, again
    assert z.exited(pid) == 0

    key = rows["sms"].idempotency_key
    keys, _, lines = sms_log(settings)
    assert keys == {key: 1} and lines == [first]
    assert repeats(settings) == (Counter({key: 1}), Counter())
    with db.read() as session:
        rows = {m.channel: m for m in session.scalars(sql_select(Outbox))}
        sent = session.scalars(sql_select(Event).where(Event.kind == "notification_sent")).all()
    assert rows["sms"].status == rows["email"].status == "sent"
    assert rows["sms"].attempts == rows["email"].attempts == 1
    assert sorted(e.detail["key"] for e in sent) == sorted(r.idempotency_key for r in rows.values())
    [sms_sent] = [e for e in sent if e.detail["channel"] == "sms"]
    assert sms_sent.detail["id"] == first["id"]  # the provider's id from the first time
    assert len(list(settings.smtp.dev_dir.glob("*.eml"))) == 1
    assert runtime.get_case(number).status == "running"
    figure(
        "crashes/send-then-kill: the worker died after the SMS provider took the message; the "
        "e-mail of its batch went 1 minute later (claim lease), the SMS was handed over again "
        f"6 minutes later (send lease) with the same key ({key.split(':')[0]}:…) and dropped "
        "by the provider: 1 log line, 1 repeat recognised, the first provider id on the case; "
        "the outbox says sent once for each"
    )
