"""Process races: three processes (multiprocessing, spawn), each with its own engine and
connections, on the same database file (or PostgreSQL database) claim the same task, complete
the same task and send the same message, round after round. Exactly one wins each round; the
others get a clear conflict; nothing of a loser is saved."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, defaultdict

from sqlalchemy import select

from engine.identity.users import add_user
from engine.store.tables import Case, Event, Task
from tests.conftest import fixture_files
from tests.hardening.helpers import DB_BACKEND, HARDENING_FIXTURES
from tests.hardening.race_proc import contend

CLAIM_ROUNDS = 100
COMPLETE_ROUNDS = 100
MESSAGE_ROUNDS = 100
USERS = ("p0", "p1", "p2")


def test_process_races(runtime, db, db_url, settings, clock, figure):
    for user in USERS:
        add_user(db, settings, user, ["service_desk"], clock.now())
    runtime.deploy([HARDENING_FIXTURES / "tiny_task.bpmn", *fixture_files("message_flow.bpmn")])
    tiny = [runtime.start_case("tiny_task").number for _ in range(COMPLETE_ROUNDS)]
    tasks = [runtime.list_tasks(case=n)[0].id for n in tiny]
    waiting = [runtime.start_case("message_flow").number for _ in range(MESSAGE_ROUNDS)]
    plan = (
        [("claim", tasks[i % len(tasks)]) for i in range(CLAIM_ROUNDS)]
        + [("complete", t) for t in tasks]
        + [("message", n) for n in waiting]
    )

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(USERS))
    results = ctx.Queue()
    started = time.perf_counter()
    procs = [
        ctx.Process(
            target=contend,
            args=(db_url, str(settings.path), clock.now().isoformat(), u, plan, barrier, results),
            name=f"contender-{u}",
        )
        for u in USERS
    ]
    for p in procs:
        p.start()
    by_user = dict(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    elapsed = time.perf_counter() - started
    results.close()
    results.join_thread()
    crashes = [o for outs in by_user.values() for o in outs if o[2] == "error"]
    assert not crashes, crashes[:3]

    rounds: dict[tuple[int, str, object], list[tuple[str, str, str]]] = defaultdict(list)
    for user, outcomes in by_user.items():
        assert len(outcomes) == len(plan), user
        for i, (kind, target, outcome, message, _ms) in enumerate(outcomes):
            rounds[(i, kind, target)].append((user, outcome, message))
    winners: dict[tuple[int, str, object], str] = {}
    refusals: Counter[str] = Counter()
    for key, entries in rounds.items():
        won = [u for u, outcome, _ in entries if outcome == "ok"]
        assert len(won) == 1, (key, entries)
        winners[key] = won[0]
        for _user, outcome, message in entries:
            if outcome == "lost":
                kind = key[1]
                if kind == "claim":
                    assert f"claimed by {won[0]}" in message, message
                elif kind == "complete":
                    assert f"already completed by {won[0]}" in message, message
                else:
                    assert (
                        "is not waiting for message" in message
                        or "changed by someone else at the same time" in message
                    ), message
                refusals[message.split(":", 1)[0]] += 1

    # Nothing of a loser saved: one completion per task (the winner's), one message per case.
    complete_winner = {t: w for (_, k, t), w in winners.items() if k == "complete"}
    message_winner = {n: w for (_, k, n), w in winners.items() if k == "message"}
    with db.read() as session:
        rows = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(tasks)))}
        ids = dict(session.execute(select(Case.id, Case.number)).all())
        done = Counter(
            (e.detail or {}).get("task")
            for e in session.scalars(select(Event).where(Event.kind == "task_completed"))
        )
        received: dict[str, list] = defaultdict(list)
        for e in session.scalars(select(Event).where(Event.kind == "message_received")):
            received[ids[e.case_id]].append((e.actor, e.detail["data"]))
        claimed = Counter(
            (e.detail or {}).get("task")
            for e in session.scalars(select(Event).where(Event.kind == "task_claimed"))
        )
    for task_id in tasks:
        row = rows[task_id]
        assert (row.status, row.completed_by) == ("done", complete_winner[task_id])
        assert row.data == {"confirmed": True, "comment": complete_winner[task_id]}
        assert done[task_id] == 1
    assert sum(claimed.values()) == CLAIM_ROUNDS
    for number in waiting:
        assert received[number] == [(message_winner[number], {"from": message_winner[number]})]

    total = len(plan)
    losses = sum(refusals.values())
    times = sorted(ms for outs in by_user.values() for *_, ms in outs)
    figure(
        f"process races ({DB_BACKEND}, spawn, {len(USERS)} processes): {total} rounds "
        f"({CLAIM_ROUNDS} claim, {COMPLETE_ROUNDS} complete, {MESSAGE_ROUNDS} message), "
        f"{total} single winners, {losses} conflicts "
        f"({', '.join(f'{k} {v}' for k, v in sorted(refusals.items()))}); "
        f"{elapsed:.1f} s with process start, median attempt {times[len(times) // 2]:.0f} ms"
    )
