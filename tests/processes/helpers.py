"""Helpers the process tests share: finding a case's open task, completing it, the messages
queued, the clock moved on. `rt` is a runtime; `new_rt` makes a new runtime at each call (the
`fresh_runtime` fixture), so that nothing cached is carried from one step to the next.
A test module whose version of one of these differs keeps its own."""

from __future__ import annotations

from datetime import datetime

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from sqlalchemy import select

from engine.core.errors import ValidationFailed
from engine.store.tables import Case, Outbox
from engine.worker.timers import fire_due_timers

_JINJA = SandboxedEnvironment(undefined=StrictUndefined)
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def undrawn(path) -> tuple[set[str], set[str], set[str]]:
    """The flow nodes, sequence flows and lanes of the diagram's process that no shape or edge
    of its layout draws."""
    tree = etree.parse(str(path))
    shapes = {s.get("bpmnElement") for s in tree.iter(f"{BPMNDI}BPMNShape")}
    edges = {e.get("bpmnElement") for e in tree.iter(f"{BPMNDI}BPMNEdge")}
    process = tree.find(f"{BPMN}process")
    nodes = {
        n.get("id")
        for n in process.iter()
        if isinstance(n.tag, str)
        and n.get("id")
        and n.tag.replace(BPMN, "").endswith(("Task", "Event", "Gateway", "subProcess"))
    }
    flows = {f.get("id") for f in process.iter(f"{BPMN}sequenceFlow")}
    lanes = {lane.get("id") for lane in process.iter(f"{BPMN}lane")}
    return nodes - shapes, flows - edges, lanes - shapes


# ----- a runtime --------------------------------------------------------------------------


def open_task(rt, number, element_id):
    tasks = [t for t in rt.get_case(number).open_tasks if t.element_id == element_id]
    assert len(tasks) == 1, [t.element_id for t in rt.get_case(number).open_tasks]
    return tasks[0]


def open_elements(rt, number):
    return sorted(t.element_id for t in rt.get_case(number).open_tasks)


def complete(new_rt, number, element_id, data, user="alice"):
    task = open_task(new_rt(), number, element_id)
    return new_rt().complete_task(task.id, data, user)


def shown(rt, number, task) -> str:
    """The task's instructions as its worker reads them; strict, so a name the case does not
    hold fails here instead of showing up blank."""
    return _JINJA.from_string(task.instructions).render(**rt.get_case(number).data)


# ----- a new runtime at each step ---------------------------------------------------------


def fresh_open_task(new_rt, number, element_id):
    tasks = [t for t in new_rt().get_case(number).open_tasks if t.element_id == element_id]
    assert len(tasks) == 1, [t.element_id for t in new_rt().get_case(number).open_tasks]
    return tasks[0]


def fresh_open_elements(new_rt, number):
    return sorted(t.element_id for t in new_rt().get_case(number).open_tasks)


def work(new_rt, number, element_id, user, data, *, role=None, invalid=None, errors=None):
    """Complete the one open task `element_id`; when `invalid` is given, first show that the
    form refuses it with messages on exactly the fields `errors`."""
    task = fresh_open_task(new_rt, number, element_id)
    if role is not None:
        assert task.role == role
    if invalid is not None:
        with pytest.raises(ValidationFailed) as refused:
            new_rt().complete_task(task.id, invalid, user)
        assert set(refused.value.errors) == errors
        assert all(refused.value.errors[key] for key in errors)
    return new_rt().complete_task(task.id, data, user)


def at(clock, new_rt, when, fired=None):
    """Move the clock to `when` and run the worker once."""
    clock.set(when)
    result = fire_due_timers(new_rt())
    if fired is not None:
        assert result.fired == fired
    return result


# ----- the messages queued ----------------------------------------------------------------


def outbox(db):
    with db.read() as session:
        return session.scalars(select(Outbox).order_by(Outbox.id)).all()


def case_outbox(db, number):
    with db.read() as session:
        return session.scalars(
            select(Outbox).join(Case, Case.id == Outbox.case_id).where(Case.number == number)
            .order_by(Outbox.id)
        ).all()  # fmt: skip


def sms(db):
    with db.read() as session:
        return [
            (r.recipient, r.body)
            for r in session.scalars(select(Outbox).order_by(Outbox.id))
            if r.channel == "sms"
        ]
