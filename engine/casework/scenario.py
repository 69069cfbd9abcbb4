"""A dry run's scenario: plain JSON that a process owner writes (or the modeler's panel builds),
read as hostile input. Every problem is named with where it is, and nothing runs until the
whole scenario reads well.

    {
      "start": "2026-11-23T09:30",          company time; with an offset or "Z" it is exact
      "data": {"customer_name": "王美玲"},   the start form's answers; left out: the simplest
                                             valid answers to the start form
      "steps": [                             at most MAX_STEPS, run in order
        {"do": "complete", "element": "attend", "answers": {...}},   answers may be left out:
                                             the simplest valid answers to the task's form
        {"do": "message", "name": "cancel_request", "payload": {"reason": "…"}},
        {"do": "clock", "by": "P1DT2H"},     an ISO 8601 duration in weeks, days, hours,
        {"do": "clock", "to": "2026-11-24T10:00"},     minutes, seconds; or a time
        {"do": "run_to_end", "timers_first": false}
      ]
    }

`run_to_end` completes every open task with the simplest answers and, when none is open,
moves the clock to the next timer; with `timers_first` it lets every timer fall due before
it completes a task (a reminder before the visit, an escalation before the answer).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from engine.core.errors import ValidationFailed
from engine.core.instants import parse_when
from engine.core.messages import Message

MAX_STEPS = 200
MAX_TEXT = 200_000  # characters of a scenario's JSON text
MAX_SPAN = timedelta(days=400)  # how far the clock may move from the start
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
ACTIONS = ("complete", "message", "clock", "run_to_end")
_KEYS = {
    "complete": {"do", "element", "answers"},
    "message": {"do", "name", "payload"},
    "clock": {"do", "by", "to"},
    "run_to_end": {"do", "timers_first"},
}
_DURATION = re.compile(
    r"^P(?!$)(?:(\d{1,4})W)?(?:(\d{1,4})D)?(?:T(?=\d)(?:(\d{1,5})H)?(?:(\d{1,6})M)?(?:(\d{1,7})S)?)?$"
)
_NAME = re.compile(r"^[A-Za-z_][\w.-]{0,199}$")


class ScenarioError(ValidationFailed):
    """The scenario cannot be run as written; `errors` maps where (e.g. "steps[2].element")
    to what is wrong, each a Message (code, params and the English text) or a form's field
    message. Nothing was run."""


@dataclass(frozen=True)
class Step:
    do: str
    element: str | None = None
    answers: dict[str, Any] | None = None
    name: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    by: timedelta | None = None
    to: datetime | None = None
    timers_first: bool = False

    def describe(self) -> Message:
        """What the step does, as a Message (the report names a failed step by it)."""
        if self.do == "complete":
            return Message(
                "dry_run_step_complete", f"complete {self.element}", element=self.element
            )
        if self.do == "message":
            return Message("dry_run_step_message", f"message {self.name}", name=self.name)
        if self.do == "clock":
            if self.by is not None:
                by = iso_duration(self.by)
                return Message("dry_run_step_clock_by", f"clock by {by}", by=by)
            to = self.to.isoformat() if self.to else ""
            return Message("dry_run_step_clock_to", f"clock to {to}", to=self.to)
        if self.timers_first:
            return Message("dry_run_step_run_to_end_timers_first", "run to the end (timers first)")
        return Message("dry_run_step_run_to_end", "run to the end")


@dataclass(frozen=True)
class Scenario:
    start: datetime  # UTC
    data: dict[str, Any] | None  # None: the simplest valid answers to the start form
    steps: list[Step]


def duration(text: str) -> timedelta:
    """An ISO 8601 duration in weeks, days, hours, minutes and seconds ("P1DT2H"); years and
    months are refused, as their length depends on the date. The ValueError's argument is a
    Message."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        value = str(text)[:40]
        raise ValueError(
            Message(
                "scenario_not_a_duration",
                f"{value!r} is not a duration: write it as ISO 8601 in weeks, days,"
                " hours, minutes and seconds, e.g. PT24H, P2D, P1DT2H30M",
                value=value,
            )
        )
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def iso_duration(value: timedelta) -> str:
    """A duration as ISO 8601 in days, hours, minutes and seconds ("P2DT3H"), as written in a
    scenario: the same in every language."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days or not time else "") + (f"T{time}" if time else "")


def read_scenario(
    value: Any,
    zone: tzinfo,
    *,
    tasks: set[str] | None = None,
    messages: set[str] | None = None,
) -> Scenario:
    """The scenario in `value` (a dict, or its JSON text), times read in company zone `zone`.
    `tasks` and `messages` are the user tasks' ids and the message names the diagram has,
    when known: a step naming another is refused. Raises ScenarioError naming every
    problem."""
    problems: dict[str, list[str]] = {}

    def problem(where: str, text: Message) -> None:
        problems.setdefault(where, []).append(text)

    def refused(code: str, text: str, **params: Any) -> ScenarioError:
        said = Message(code, text, **params)
        return ScenarioError(said, {"": [said]})

    if isinstance(value, str | bytes):
        if len(value) > MAX_TEXT:
            raise refused(
                "scenario_too_long",
                f"a scenario may have at most {MAX_TEXT:,} characters",
                max=MAX_TEXT,
            )
        try:
            value = json.loads(value)
        except RecursionError:
            raise refused("scenario_too_deep", "the scenario is nested too deeply") from None
        except ValueError as exc:
            raise refused(
                "scenario_not_json", f"the scenario is not valid JSON: {exc}", error=str(exc)
            ) from None
    if not isinstance(value, dict):
        raise refused(
            "scenario_not_an_object",
            'the scenario must be a JSON object with "start", "data" and "steps"',
        )
    for key in sorted(set(value) - {"start", "data", "steps"}, key=str):
        problem(
            str(key)[:60],
            Message(
                "scenario_unknown_key", 'unknown key: a scenario has "start", "data" and "steps"'
            ),
        )

    start = _instant(value.get("start"), zone, "start", problem, required=True)
    data = value.get("data")
    if data is not None and not isinstance(data, dict):
        problem(
            "data",
            Message(
                "scenario_data_not_an_object",
                "the start data must be a JSON object of the start form's fields",
            ),
        )
        data = None

    raw_steps = value.get("steps", [])
    steps: list[Step] = []
    if not isinstance(raw_steps, list):
        problem("steps", Message("scenario_steps_not_a_list", "the steps must be a list"))
        raw_steps = []
    elif len(raw_steps) > MAX_STEPS:
        problem(
            "steps",
            Message(
                "scenario_too_many_steps",
                f"a scenario may have at most {MAX_STEPS} steps, not {len(raw_steps)}",
                max=MAX_STEPS,
                num=len(raw_steps),
            ),
        )
        raw_steps = []
    for index, raw in enumerate(raw_steps):
        step = _step(raw, f"steps[{index}]", zone, problem, tasks, messages)
        if step is not None:
            steps.append(step)
    if problems:
        count = sum(len(v) for v in problems.values())
        raise ScenarioError(
            Message(
                "scenario_problems",
                f"the scenario has {count} problem(s); nothing was run",
                num=count,
            ),
            problems,
        )
    assert start is not None
    return Scenario(start, data, steps)


def _instant(
    value: Any, zone: tzinfo, where: str, problem: Any, *, required: bool = False
) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        problem(
            where,
            Message(
                "scenario_time_missing",
                "give a time as ISO 8601, e.g. 2026-11-23T09:30 (company time)",
            ),
        )
        return None
    try:
        when = parse_when(value[:60], zone)
    except (TypeError, ValueError):
        problem(
            where,
            Message(
                "scenario_not_a_time",
                f"{value[:40]!r} is not a time: write ISO 8601, e.g. 2026-11-23T09:30 (company"
                " time) or 2026-11-23T01:30Z (UTC)",
                value=value[:40],
            ),
        )
        return None
    if not EARLIEST <= when < LATEST:
        problem(
            where,
            Message(
                "scenario_time_out_of_range",
                f"{value[:40]!r} is not between the years 2000 and 2099",
                value=value[:40],
            ),
        )
        return None
    return when


def _step(
    raw: Any,
    where: str,
    zone: tzinfo,
    problem: Any,
    tasks: set[str] | None,
    messages: set[str] | None,
) -> Step | None:
    if not isinstance(raw, dict):
        problem(where, Message("scenario_step_not_an_object", 'a step must be an object with "do"'))
        return None
    do = raw.get("do")
    if do not in ACTIONS:
        problem(
            f"{where}.do",
            Message(
                "scenario_unknown_action",
                f"{str(do)[:40]!r} is not a step: use one of {', '.join(ACTIONS)}",
                value=str(do)[:40],
                actions=list(ACTIONS),
            ),
        )
        return None
    for key in sorted(set(raw) - _KEYS[do], key=str):
        allowed = sorted(_KEYS[do] - {"do"})
        problem(
            f"{where}.{str(key)[:40]}",
            Message(
                "scenario_step_unknown_key",
                f"unknown key for a {do} step (it takes {', '.join(allowed) or 'nothing else'})",
                action=do,
                allowed=allowed,
            ),
        )
    if do == "complete":
        element = raw.get("element")
        answers = raw.get("answers")
        if not isinstance(element, str) or not _NAME.match(element):
            problem(
                f"{where}.element",
                Message("scenario_task_unnamed", "name the user task by its element id"),
            )
            return None
        if tasks is not None and element not in tasks:
            known = sorted(tasks)[:30]
            problem(
                f"{where}.element",
                Message(
                    "scenario_no_such_task",
                    f"the diagram has no user task {element!r}"
                    f" (its user tasks: {', '.join(known) or 'none'})",
                    element=element,
                    known=known,
                ),
            )
        if answers is not None and not isinstance(answers, dict):
            problem(
                f"{where}.answers",
                Message(
                    "scenario_answers_not_an_object",
                    "the answers must be a JSON object of the form's fields",
                ),
            )
            return None
        return Step("complete", element=element, answers=answers)
    if do == "message":
        name, payload = raw.get("name"), raw.get("payload", {})
        if not isinstance(name, str) or not _NAME.match(name):
            problem(
                f"{where}.name",
                Message("scenario_message_unnamed", "name the message as the diagram does"),
            )
            return None
        if messages is not None and name not in messages:
            known = sorted(messages)[:30]
            problem(
                f"{where}.name",
                Message(
                    "scenario_no_such_message",
                    f"the diagram has no message {name!r}"
                    f" (its messages: {', '.join(known) or 'none'})",
                    name=name,
                    known=known,
                ),
            )
        if not isinstance(payload, dict):
            problem(
                f"{where}.payload",
                Message("scenario_payload_not_an_object", "the payload must be a JSON object"),
            )
            return None
        return Step("message", name=name, payload=payload)
    if do == "clock":
        if ("by" in raw) == ("to" in raw):
            problem(
                where,
                Message(
                    "scenario_clock_by_or_to",
                    'a clock step takes either "by" (a duration) or "to" (a time)',
                ),
            )
            return None
        if "by" in raw:
            try:
                by = duration(raw["by"])
            except ValueError as exc:
                problem(f"{where}.by", exc.args[0])
                return None
            if by > MAX_SPAN:
                problem(
                    f"{where}.by",
                    Message(
                        "scenario_clock_too_far",
                        f"the clock moves at most {MAX_SPAN.days} days",
                        days=MAX_SPAN.days,
                    ),
                )
                return None
            return Step("clock", by=by)
        to = _instant(raw["to"], zone, f"{where}.to", problem, required=True)
        return Step("clock", to=to) if to is not None else None
    timers_first = raw.get("timers_first", False)
    if not isinstance(timers_first, bool):
        problem(
            f"{where}.timers_first",
            Message("scenario_timers_first_not_boolean", "timers_first is true or false"),
        )
        return None
    return Step("run_to_end", timers_first=timers_first)
