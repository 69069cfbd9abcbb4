"""The automatic driver: runs a case of a shipped process from its start to an end with the
simplest data every form accepts, as the people of the tasks' roles would.

`simplest_valid(schema, now, calendar)` answers a JSON Schema form with its required fields
only: the first enum value, a const as given, the smallest number allowed, `false` for a
boolean, the shortest text (a pattern's simplest match), the next working day at 10:00 in the
company zone for date and date-time fields, the fewest rows of an array; a field the form opens
filled ("x-prefill") keeps its value. Conditions (`if`/`then`/`else`, `allOf`,
`dependentRequired`) are followed until the answer is stable, and the answer is checked with
the server's own validation.

`Driver.run(number)` then loops, one step at a time:
1. an open task is completed with the simplest answer to its form (with the case's limits,
   "x-minimum"), by its assignee or the user of its role. A task the case brings back gets
   the next option of each choice (enum, boolean) on each return: the same answer again would
   only go round the same loop (a customer not satisfied, a candidate the customer declines);
2. else a message the case waits for on its way (a receive task, an intermediate catch event)
   is delivered: a portal request with the portal's payload (engine.casework.portal), any
   other message with {};
3. else the clock moves to the case's next timer and the worker fires the due timers;
4. else a message the case only accepts (a customer's change or cancellation on a boundary
   event) is delivered, one not sent before first.
It stops when the case is completed or cancelled, and raises `DriveFailed` (process, steps,
open tasks, timers, messages, last steps and history) when the case is in error, stands still,
or has not ended after MAX_STEPS steps or MAX_SPAN of clock.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from lxml import etree
from sqlalchemy import select

from engine.casework import portal
from engine.core.calendar import BusinessCalendar
from engine.core.clock import FixedClock
from engine.core.linear_re import compile_pattern
from engine.definitions.forms import prefilled_values, with_case_limits
from engine.definitions.submission import validate_submission
from engine.runtime.verbs import Runtime
from engine.runtime.views import CaseView
from engine.store.tables import Form, ProcessVersion
from engine.worker.timers import fire_due_timers

MAX_STEPS = 300
MAX_SPAN = timedelta(days=400)
# Messages whose payload is a documented contract (engine.casework.portal): the simplest valid
# payload of that contract. Any other message has no form and is sent with {}.
PORTAL_MESSAGES = {"change_request": ("new_start", "reason"), "cancel_request": ("reason",)}
REASON = "x"
STEPS_SHOWN = 12


class DriveFailed(AssertionError):
    """The case did not reach an end; the message says where it stood."""


# --------------------------------------------------------------------------- simplest data


def next_working_day(calendar: BusinessCalendar, now: datetime) -> date:
    day = calendar.local(now).date() + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def simplest_valid(
    schema: dict[str, Any],
    now: datetime,
    calendar: BusinessCalendar,
    *,
    start: dict[str, Any] | None = None,
    choices: dict[str, list[Any]] | None = None,
    variant: int = 0,
) -> dict[str, Any]:
    """The simplest answer to a form (see the module's description). `start` holds values the
    form opens with (its prefilled fields), kept for the required fields they fit; `choices`
    gives a field its live options (the portal's service items and free slots), the first
    taken. `variant` n > 0 answers every choice (enum, boolean) with its n-th option instead
    of its first (counting round), for a task the case brings back: the same answer again
    would only go round the same loop."""
    day = next_working_day(calendar, now)
    at = datetime.combine(day, max(time(10), calendar.office_start))
    gen = _Generator(day, at, choices or {}, variant)
    answer = gen.object(schema, start or {})
    errors = validate_submission(schema, answer)
    if errors:
        raise DriveFailed(
            f"no simplest valid answer to form {schema.get('title')!r}: {answer} -> {errors}"
        )
    return answer


@dataclass
class _Generator:
    day: date
    at: datetime
    choices: dict[str, list[Any]] = field(default_factory=dict)
    variant: int = 0

    def object(self, schema: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        props = schema.get("properties") or {}
        answer: dict[str, Any] = {}
        for _ in range(10):  # conditions can require more fields; follow them until stable
            required, extra = self._required(schema, answer)
            before = copy.deepcopy(answer)
            for name in required:
                prop = {**(props.get(name) or {}), **extra.get(name, {})}
                if name in answer and _valid(prop, answer[name]):
                    continue
                if name in start and _valid(prop, start[name]):
                    answer[name] = start[name]
                elif name in self.choices and self.choices[name]:
                    answer[name] = self.choices[name][0]
                else:
                    answer[name] = self.value(prop)
            if answer == before:
                break
        return answer

    def _required(
        self, schema: dict[str, Any], answer: dict[str, Any]
    ) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """The fields required now, and the constraints that conditions add to them."""
        required = list(schema.get("required") or [])
        extra: dict[str, dict[str, Any]] = {}

        def take(part: dict[str, Any]) -> None:
            required.extend(part.get("required") or [])
            for name, prop in (part.get("properties") or {}).items():
                extra.setdefault(name, {}).update(prop)
            for sub in part.get("allOf") or []:
                visit(sub)

        def visit(node: dict[str, Any]) -> None:
            if "if" in node:
                branch = node.get("then") if _valid(node["if"], answer) else node.get("else")
                if branch:
                    take(branch)
            for sub in node.get("allOf") or []:
                visit(sub)
            for key, needs in (node.get("dependentRequired") or {}).items():
                if key in answer:
                    required.extend(needs)

        visit(schema)
        return list(dict.fromkeys(required)), extra

    def value(self, prop: dict[str, Any]) -> Any:
        if "const" in prop:
            return prop["const"]
        if prop.get("enum"):
            return prop["enum"][self.variant % len(prop["enum"])]
        kind = prop.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "boolean":
            return self.variant % 2 == 1
        if kind in ("integer", "number"):
            return self.number(prop, kind)
        if kind == "array":
            items = prop.get("items") or {}
            return [self.value(items) for _ in range(prop.get("minItems", 0))]
        if kind == "object":
            return self.object(prop, {})
        if kind == "null":
            return None
        return self.text(prop)

    def number(self, prop: dict[str, Any], kind: str) -> int | float:
        low = prop.get("minimum")
        if low is None and "exclusiveMinimum" in prop:
            low = prop["exclusiveMinimum"] + 1
        if low is None:
            low = 0
            high = prop.get("maximum", prop.get("exclusiveMaximum"))
            if high is not None and high <= 0:
                low = high - 1
        if kind == "integer" or float(low).is_integer():
            low = int(low) if float(low).is_integer() else int(low) + 1
        return low

    def text(self, prop: dict[str, Any]) -> str:
        fmt = prop.get("format")
        if fmt == "date":
            return self.day.isoformat()
        if fmt == "date-time":
            return self.at.strftime("%Y-%m-%dT%H:%M")
        if fmt == "time":
            return self.at.strftime("%H:%M")
        if fmt == "email":
            return "a@example.com"
        low, high = prop.get("minLength", 1), prop.get("maxLength", 1000)
        if "pattern" in prop:
            return _pattern_text(prop["pattern"], low, high)
        return "x" * max(low, 1)


def _valid(schema: dict[str, Any], value: Any) -> bool:
    from engine.definitions.formchecks import FORMAT_CHECKER

    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER).is_valid(value)


@lru_cache(maxsize=64)
def _pattern_text(pattern: str, low: int, high: int) -> str:
    """The simplest text of length low..high that the pattern matches (RE2, as the server)."""
    regex = compile_pattern(pattern)
    return find(
        st.from_regex(pattern, fullmatch=True),
        lambda s: low <= len(s) <= high and regex.search(s) is not None,
        settings=settings(database=None, suppress_health_check=list(HealthCheck)),
    )


# --------------------------------------------------------------------------- the driver

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def awaited_catchers(folder: Path) -> dict[str, set[str]]:
    """Message name → ids of the receive tasks and intermediate catch events (not after an
    event-based gateway) that wait for it, over the BPMN files of `folder`."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.bpmn")):
        root = etree.fromstring(path.read_bytes())
        names = {m.get("id"): m.get("name") for m in root.iter(f"{{{BPMN}}}message")}
        kinds = {el.get("id"): etree.QName(el).localname for el in root.iter() if el.get("id")}
        sources = {
            flow.get("targetRef"): flow.get("sourceRef")
            for flow in root.iter(f"{{{BPMN}}}sequenceFlow")
        }
        for task in root.iter(f"{{{BPMN}}}receiveTask"):
            found.setdefault(names.get(task.get("messageRef")), set()).add(task.get("id"))
        for event in root.iter(f"{{{BPMN}}}intermediateCatchEvent"):
            if kinds.get(sources.get(event.get("id"))) == "eventBasedGateway":
                continue
            for definition in event.iter(f"{{{BPMN}}}messageEventDefinition"):
                name = names.get(definition.get("messageRef"))
                found.setdefault(name, set()).add(event.get("id"))
    return found


def start_form(runtime: Runtime, key: str) -> dict[str, Any] | None:
    """The staff start form of the newest version of a process (else its start form)."""
    with runtime.db.read() as session:
        version = session.scalars(
            select(ProcessVersion)
            .where(ProcessVersion.key == key)
            .order_by(ProcessVersion.version.desc())
        ).first()
        portal_info = version.portal or {}
        form_id = portal_info.get("staff_start_form_id") or portal_info.get("start_form_id")
        form = session.get(Form, form_id) if form_id else None
        return copy.deepcopy(form.schema) if form is not None else None


def live_choices(runtime: Runtime, schema: dict[str, Any], day: date) -> dict[str, list[Any]]:
    """The options the booking page offers for fields marked "x-source" (as webui.portal)."""
    props = schema.get("properties") or {}
    found: dict[str, list[Any]] = {}
    item = None
    for name, prop in props.items():
        if prop.get("x-source") == "service_items":
            found[name] = [code for code, _ in portal.service_items(runtime)]
            item = found[name][0] if found[name] else None
    for name, prop in props.items():
        if prop.get("x-source") == "free_slots" and item:
            found[name] = portal.free_slots(runtime, item, day.isoformat())
    return found


@dataclass
class Driver:
    runtime: Runtime
    clock: FixedClock
    users: dict[str, str]  # role → user name
    max_steps: int = MAX_STEPS
    max_span: timedelta = MAX_SPAN
    steps: list[str] = field(default_factory=list)
    visits: Counter[str] = field(default_factory=Counter)
    # message name → the elements that wait for it on the case's way (see `awaited`)
    catchers: dict[str, set[str]] = field(default_factory=dict)

    @property
    def calendar(self) -> BusinessCalendar:
        return self.runtime.calendar

    def start(self, key: str) -> CaseView:
        schema = start_form(self.runtime, key)
        if schema is None:
            return self.runtime.start_case(key, {}, actor=self.users["service_desk"])
        now = self.clock.now()
        choices = live_choices(self.runtime, schema, next_working_day(self.calendar, now))
        data = simplest_valid(schema, now, self.calendar, choices=choices)
        self.steps.append(f"start {key} {data}")
        return self.runtime.start_case(key, data, actor=self.users["service_desk"])

    def run(self, number: str) -> CaseView:
        began = self.clock.now()
        sent: list[str] = []
        for _ in range(self.max_steps):
            case = self.runtime.get_case(number, history_limit=12)
            if case.status in ("completed", "cancelled"):
                return case
            if case.status == "error":
                raise self.failed(case, f"the case is in error at {case.error_element}")
            if case.open_tasks:
                self.complete(case, case.open_tasks[0])
            elif awaited := [m for m in case.waiting_messages if self.awaited(case, m)]:
                self.message(case, awaited[0])
            elif waiting := [t for t in case.timers if t.status == "waiting"]:
                due = min(t.due_at for t in waiting)
                if due - began > self.max_span:
                    raise self.failed(case, f"the next timer is due after {self.max_span}")
                if due > self.clock.now():
                    self.clock.set(due)
                self.steps.append(f"clock {due.isoformat()}")
                report = fire_due_timers(self.runtime)
                if report.failures:
                    raise self.failed(self.runtime.get_case(number), f"timers failed: {report}")
            elif case.waiting_messages:
                # Only requests the case merely accepts (a customer's change or cancellation):
                # one not sent yet first.
                name = next((m for m in case.waiting_messages if m not in sent), None)
                name = name or case.waiting_messages[0]
                sent.append(name)
                self.message(case, name)
            else:
                raise self.failed(case, "nothing is open, no message or timer is waited for")
        raise self.failed(self.runtime.get_case(number), f"not ended after {self.max_steps} steps")

    def awaited(self, case: CaseView, name: str) -> bool:
        """Whether the case waits for message `name` on its way (a receive task, or a catch event
        not beside other events after an event-based gateway) rather than merely accepting it
        (a boundary event, an event sub-process, a branch of an event-based gateway)."""
        return any(element in case.active_elements for element in self.catchers.get(name, ()))

    def complete(self, case: CaseView, task: Any) -> None:
        full = self.runtime.get_task(task.id)
        data = self.runtime.task_data(task.id)
        schema = with_case_limits(full.form or {}, data)
        variant = self.visits[task.element_id]
        self.visits[task.element_id] += 1
        answer = simplest_valid(
            schema,
            self.clock.now(),
            self.calendar,
            start=prefilled_values(schema, data),
            variant=variant,
        )
        user = task.assignee or self.users[task.role]
        self.steps.append(f"task {task.element_id} as {user}: {answer}")
        self.runtime.complete_task(task.id, answer, user)

    def message(self, case: CaseView, name: str) -> None:
        payload: dict[str, Any] = {}
        for key in PORTAL_MESSAGES.get(name, ()):
            payload[key] = REASON
        if "new_start" in payload:
            day = next_working_day(self.calendar, self.clock.now() + timedelta(days=1))
            local = datetime.combine(day, max(time(10), self.calendar.office_start))
            payload["new_start"] = self.calendar.utc(local).isoformat()
        self.steps.append(f"message {name} {payload}")
        self.runtime.send_message(case.number, name, payload, actor="driver")

    def failed(self, case: CaseView, why: str) -> DriveFailed:
        tasks = [f"{t.element_id} ({t.role}, {t.status})" for t in case.open_tasks]
        timers = [f"{t.element_id} due {t.due_at.isoformat()}" for t in case.timers]
        history = [
            f"{e.at.isoformat()} {e.kind} {e.element_id or ''} {e.detail or ''}"
            for e in case.history[-12:]
        ]
        return DriveFailed(
            f"{case.process} case {case.number}: {why}\n"
            f"  status {case.status}, error {case.error_element}: {case.error_message}\n"
            f"  after {len(self.steps)} steps, clock {self.clock.now().isoformat()}\n"
            f"  open tasks: {tasks}\n  timers: {timers}\n"
            f"  waiting messages: {case.waiting_messages}\n"
            f"  active: {case.active_elements}\n"
            "  last steps:\n    " + "\n    ".join(self.steps[-STEPS_SHOWN:]) + "\n"
            "  last history:\n    " + "\n    ".join(history)
        )
