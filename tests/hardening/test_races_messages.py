"""Races on messages: three threads send the same message to a case that waits for it once.
Exactly one is delivered; the others are refused with a 409 saying why (SQLite runs them after
the winner: "not waiting for message"; PostgreSQL runs them beside it: "changed by someone else
at the same time"), and nothing of theirs is saved: the case holds the winner's payload, one
message_received event, one follow-up task."""

from __future__ import annotations

import time
from collections import Counter, defaultdict

from sqlalchemy import select

from engine.core.errors import Conflict, InvalidState
from engine.store.tables import Case, Event, Task
from tests.conftest import fixture_files
from tests.hardening.helpers import RACE_TOTALS

ROUNDS = 400
SENDERS = ("portal", "phone", "wechat")


def test_message_races(runtime, db, racer, figure):
    runtime.deploy(fixture_files("message_flow.bpmn"))
    started = time.perf_counter()
    numbers = [runtime.start_case("message_flow").number for _ in range(ROUNDS)]
    setup_s = time.perf_counter() - started

    winner_of: dict[str, str] = {}
    refusals: Counter[str] = Counter()
    started = time.perf_counter()
    for i, number in enumerate(numbers):
        senders = SENDERS[i % 3 :] + SENDERS[: i % 3]
        outcomes = racer.race(
            [
                lambda s=s, n=number: runtime.send_message(n, "customer_reply", {"via": s}, actor=s)
                for s in senders
            ]
        )
        winners = [s for s, (kind, _) in zip(senders, outcomes, strict=True) if kind == "ok"]
        assert len(winners) == 1, (number, outcomes)
        winner_of[number] = winners[0]
        for kind, result in outcomes:
            if kind != "lost":
                continue
            if isinstance(result, InvalidState):
                assert "is not waiting for message 'customer_reply'" in str(result), result
                refusals["not waiting"] += 1
            else:
                assert isinstance(result, Conflict), result
                assert "changed by someone else at the same time" in str(result), result
                refusals["changed meanwhile"] += 1
    race_s = time.perf_counter() - started

    with db.read() as session:
        ids = dict(session.execute(select(Case.number, Case.id)).all())
        tasks = Counter(session.scalars(select(Task.case_id)).all())
        received: dict[int, list[tuple[str | None, dict]]] = defaultdict(list)
        for event in session.scalars(
            select(Event).where(Event.kind == "message_received").order_by(Event.id)
        ):
            received[event.case_id].append((event.actor, event.detail or {}))
    for number in numbers[:: max(1, ROUNDS // 25)]:  # the case as the engine sees it
        case = runtime.get_case(number)
        assert case.data["reply"] == {"via": winner_of[number]}
        assert [t.element_id for t in case.open_tasks] == ["handle_reply"]
    for number in numbers:
        case_id = ids[number]
        assert received[case_id] == [
            (winner_of[number], {"message": "customer_reply", "data": {"via": winner_of[number]}})
        ]
        assert tasks[case_id] == 1  # one follow-up task, not one per sender

    conflicts = sum(refusals.values())
    RACE_TOTALS.update(rounds=ROUNDS, single=ROUNDS, conflicts=conflicts, message=ROUNDS)
    figure(
        f"races/messages: {ROUNDS} rounds, 3 threads a round: {ROUNDS} single winners, "
        f"{conflicts} refused ({', '.join(f'{k}: {v}' for k, v in sorted(refusals.items()))}); "
        f"{race_s / ROUNDS * 1000:.0f} ms a round; {ROUNDS} cases created in {setup_s:.1f} s"
    )


def test_three_workers_deliver_one_outbox_each_message_once(runtime, settings, clock, figure):
    """Notifications race too: three workers deliver the same outbox at the same moment; every
    message goes out once (claims are leased, and a worker renews its lease before sending)."""
    import json
    import threading

    from engine.worker.timers import Worker
    from tests.conftest import fixture_files as files

    runtime.deploy(files("notify_flow.bpmn"))
    for i in range(60):
        person = {"customer_name": "王", "phone": f"138{i:08d}", "email": f"c{i}@example.com"}
        runtime.start_case("notify_flow", person, prevalidated=True)
    workers = [Worker(runtime) for _ in range(3)]
    sent: list[int] = []
    barrier = threading.Barrier(len(workers))

    def deliver(worker: Worker) -> None:
        barrier.wait(timeout=60)
        while True:
            _, delivery = worker.round()
            sent.append(delivery.sent)
            if not delivery.sent:
                return

    threads = [threading.Thread(target=deliver, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    keys = Counter(
        json.loads(line)["key"]
        for line in settings.sms.dev_log.read_text(encoding="utf-8").splitlines()
    )
    assert sum(sent) == 120 and len(keys) == 60 and set(keys.values()) == {1}
    assert len(list(settings.smtp.dev_dir.glob("*.eml"))) == 60
    figure("races/outbox: 3 workers delivering 120 messages at once: each sent once")
