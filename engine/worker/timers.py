"""The timer worker: find the cases whose timers are due and fire them, each in its case's
transaction.

Selection uses the indexed (status, due_at) of the timer table. On PostgreSQL due rows are taken
with FOR UPDATE SKIP LOCKED and leased for a while, so several workers share the work and a
worker that dies leaves its timers to the others once the lease runs out. A failure leaves the
timer due (with a growing back-off); the firing itself commits with the case or not at all.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from engine.core.errors import Conflict, InvalidState
from engine.core.status import TimerStatus
from engine.runtime.verbs import Runtime
from engine.store.tables import Case, Timer, WorkerHeartbeat

log = logging.getLogger("caseflow.worker")

LEASE = timedelta(seconds=60)
HEARTBEAT_S = 10.0  # a worker notes its last round in the database this often at most
HEARTBEAT_KEEP = timedelta(days=7)  # heartbeats of workers gone this long are removed


@dataclass
class FireReport:
    cases: int = 0
    fired: int = 0
    conflicts: int = 0
    failures: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 10 * 2 ** min(attempts, 12)))


def claim_due_cases(runtime: Runtime, limit: int = 200, worker_id: str | None = None) -> list[str]:
    """Lease the due timers (up to `limit`) and return the numbers of their cases."""
    now = runtime.clock.now()
    worker_id = worker_id or default_worker_id()
    # Plain SQL on one connection: this runs every second in every worker (see engine.store.rows).
    with runtime._transaction() as txn:
        rows = txn.rows
        stamp = rows.dt(now)
        found = rows.all(
            "SELECT id, case_id FROM timer WHERE status = ? AND due_at <= ?"
            " AND (locked_until IS NULL OR locked_until <= ?) ORDER BY due_at LIMIT ?"
            + ("" if rows.sqlite else " FOR UPDATE SKIP LOCKED"),
            (TimerStatus.WAITING.value, stamp, stamp, limit),
        )
        if not found:
            return []
        marks = ", ".join("?" * len(found))
        rows.run(
            f"UPDATE timer SET locked_by = ?, locked_until = ? WHERE id IN ({marks})",
            (worker_id, rows.dt(now + LEASE), *(r[0] for r in found)),
        )
        case_ids = list(dict.fromkeys(r[1] for r in found))
        marks = ", ".join("?" * len(case_ids))
        numbers = dict(rows.all(f'SELECT id, number FROM "case" WHERE id IN ({marks})', case_ids))
        txn.commit()
    return [numbers[case_id] for case_id in case_ids]


def fire_due_timers(runtime: Runtime, limit: int = 200, worker_id: str | None = None) -> FireReport:
    """Fire every timer due now (up to `limit` timers); returns what happened."""
    report = FireReport()
    with runtime.held_connection():
        _fire_cases(runtime, claim_due_cases(runtime, limit, worker_id), report)
    return report


def _fire_cases(runtime: Runtime, numbers: list[str], report: FireReport) -> None:
    for number in numbers:
        report.cases += 1
        try:
            report.fired += runtime.fire_timers(number)
        except Conflict:
            report.conflicts += 1  # someone else changed the case; the timer stays due
        except InvalidState:
            pass  # the case ended meanwhile; its timers were cancelled with it
        except Exception as exc:  # noqa: BLE001 - any failure must leave the timer due
            report.failures += 1
            log.exception("firing timers of case %s failed", number)
            _note_failure(runtime, number, exc)


def _note_failure(runtime: Runtime, number: str, exc: Exception) -> None:
    now = runtime.clock.now()
    with runtime.db.write() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        # By the case_id index (a case has few timers), not by scanning every due timer.
        for timer in session.scalars(select(Timer).where(Timer.case_id == case_id)):
            if timer.status != TimerStatus.WAITING or timer.due_at > now:
                continue
            timer.attempts += 1
            timer.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            timer.locked_until = now + _backoff(timer.attempts)
            timer.locked_by = None
        session.commit()


class Worker:
    """One worker: fires due timers, then delivers the outbox (so messages queued by a timer
    go out in the same round). Used by `caseflow worker` and beside the web app."""

    def __init__(self, runtime: Runtime):
        from engine.worker.outbox import DeliveryReport, default_senders

        self.runtime = runtime
        self.worker_id = default_worker_id()
        self.senders = default_senders(runtime.settings, runtime.clock)
        self.timers = FireReport()
        self.delivery = DeliveryReport()
        self.last_run: Any = None
        self.last_error: str | None = None
        self._beat_at: Any = None
        from engine.casework.retention import DailyPurge

        self.purge = DailyPurge()  # personal data past [privacy] retention_days, once a day

    def round(self) -> tuple[FireReport, Any]:
        from engine.worker.outbox import DeliveryReport, deliver_outbox

        fired = fire_due_timers(self.runtime, worker_id=self.worker_id)
        try:
            delivery = deliver_outbox(
                self.runtime.db,
                self.runtime.settings,
                self.runtime.clock,
                worker_id=self.worker_id,
                senders=self.senders,
            )
        except Exception:  # noqa: BLE001 - a failing sender must not stop the timers
            log.exception("delivering the outbox failed")
            delivery = DeliveryReport()
        try:
            self.purge.maybe_run(self.runtime.db, self.runtime.settings, self.runtime.clock.now())
        except Exception:  # noqa: BLE001 - nor may a failing purge
            log.exception("the retention purge failed")
        for key, value in fired.to_dict().items():
            setattr(self.timers, key, getattr(self.timers, key) + value)
        for key, value in delivery.to_dict().items():
            setattr(self.delivery, key, getattr(self.delivery, key) + value)
        return fired, delivery

    def heartbeat(self) -> None:
        """Note this worker's last round in the database (every HEARTBEAT_S at most), for the
        /health of web processes that do not run a worker themselves. Never fails a round."""
        now = self.last_run
        if self._beat_at is not None and (now - self._beat_at).total_seconds() < HEARTBEAT_S:
            return
        self._beat_at = now
        try:
            with self.runtime.db.write() as session:
                session.merge(
                    WorkerHeartbeat(
                        worker_id=self.worker_id[:200],
                        last_run=now,
                        report={
                            "timers": self.timers.to_dict(),
                            "outbox": self.delivery.to_dict(),
                            "last_error": self.last_error,
                        },
                    )
                )
                session.execute(
                    delete(WorkerHeartbeat).where(WorkerHeartbeat.last_run < now - HEARTBEAT_KEEP)
                )
                session.commit()
        except Exception:  # noqa: BLE001 - a heartbeat must not stop the timers
            log.exception("writing the worker heartbeat failed")

    def run(self, stop: threading.Event, interval_s: float = 1.0, once: bool = False) -> None:
        """Work until `stop` is set (or one round). Sleeping here is the worker's own pacing;
        tests never wait on it: they move the clock and call fire_due_timers."""
        while True:
            busy = False
            try:
                fired, delivery = self.round()
                busy = fired.cases > 0 or bool(delivery.sent or delivery.failed or delivery.retried)
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bad round
                log.exception("worker round failed")
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.last_run = datetime.now(UTC)
            self.heartbeat()
            if once or stop.is_set():
                return
            if not busy:
                stop.wait(interval_s)
