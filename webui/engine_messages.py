"""The engine's errors and refusals in the reader's language.

The engine raises errors with a stable reason code and its parameters (engine.core.errors,
engine.core.rules.Refusal); this module holds one sentence per code, written with named
parameters ("%(number)s") so Babel extracts them and the .po translates whole sentences.
webui/messages.py looks a code up here (an error of a class with reasons of its own, such as
a refused customer link, as "<class code>.<reason>") and shows the engine's English text for a
code this catalogue does not know.

`catalogue(words)` builds the sentences in the language of `words`: its gettext and ngettext
and the helpers that say a parameter in that language (a list joined as the language joins
one, a time in the company's zone, a role by its name, a case status by its word).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

Sentence = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Words:
    """Gettext for one locale and the ways to say a parameter in it."""

    locale: str
    gettext: Callable[..., str]
    ngettext: Callable[..., str]

    def join(self, values: Any) -> str:
        if isinstance(values, list | tuple | set | frozenset):
            items = [str(v) for v in values]
            return ("、" if self.chinese else ", ").join(items)
        return str(values)

    @property
    def chinese(self) -> bool:
        return self.locale.startswith("zh")

    def when(self, value: Any) -> str:
        """A time as the company reads it (its zone), to the minute."""
        if not isinstance(value, datetime):
            return str(value)
        if value.tzinfo is None:  # the database's times are UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(_company_zone()).strftime("%Y-%m-%d %H:%M")

    def role(self, role: Any) -> str:
        """A role by its name in the settings (the lane names people know), its id otherwise."""
        names = _role_names()
        return names.get(role, str(role)) if self.chinese else str(role)

    def roles(self, roles: Any) -> str:
        _ = self.gettext
        return self.join([self.role(r) for r in (roles or [])]) or _("(none)")

    def status(self, status: Any) -> str:
        _ = self.gettext
        words = {
            "running": _("running"),
            "completed": _("completed"),
            "cancelled": _("cancelled"),
            "error": _("in error"),
        }
        return words.get(str(status), str(status))

    def data(self, what: Any) -> str:
        _ = self.gettext
        words = {
            "case data": _("The case data"),
            "task data": _("The task data"),
            "message data": _("The message data"),
            "retry data": _("The data for the retry"),
        }
        return words.get(str(what), str(what))


def _app_runtime() -> Any:
    try:
        from flask import current_app, has_app_context
    except ImportError:  # pragma: no cover - webui always has Flask
        return None
    return current_app.extensions.get("caseflow") if has_app_context() else None


def _company_zone() -> ZoneInfo:
    runtime = _app_runtime()
    zone = getattr(getattr(runtime, "settings", None), "timezone", None)
    try:
        return ZoneInfo(zone or "Asia/Shanghai")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _role_names() -> dict[str, str]:
    runtime = _app_runtime()
    roles = getattr(getattr(runtime, "settings", None), "roles", None)
    return dict(roles) if isinstance(roles, dict) else {}


def catalogue(w: Words) -> dict[str, Sentence]:
    """reason code -> the sentence for its parameters, in the language of `w`."""
    _, ngettext = w.gettext, w.ngettext
    return {
        # ----- roles and permissions (engine.core.rules, engine.definitions.starting)
        "role_missing": lambda p: _(
            "This task belongs to role %(role)s, which %(user)s does not hold.",
            role=w.role(p["role"]),
            user=p["user"],
        ),
        "not_supervisor": lambda p: _("Only a supervisor may reassign tasks."),
        "target_role_missing": lambda p: _(
            "%(user)s does not hold role %(role)s.", user=p["user"], role=w.role(p["role"])
        ),
        "not_process_owner": lambda p: _(
            "Only a process owner may work on process definitions; %(user)s is not one.",
            user=p["user"],
        ),
        "start_role_missing": lambda p: _(
            "%(user)s (role %(roles)s) may not start process %(process)s; it may be started"
            " by: %(allowed)s.",
            user=p["user"],
            roles=w.roles(p["roles"]),
            process=p["process"],
            allowed=w.roles(p["allowed"]),
        ),
        "process_not_startable_by": lambda p: _(
            "There is no process %(process)s that %(user)s may start.",
            process=p["process"],
            user=p["user"],
        ),
        "start_user_unknown": lambda p: _(
            "There is no active user named %(user)s who could start a case.", user=p["user"]
        ),
        # ----- state conflicts: done, claimed, changed or closed first
        "task_done": lambda p: _(
            "This task was already completed by %(user)s at %(at)s.",
            user=p.get("user") or "?",
            at=w.when(p["at"]),
        ),
        "task_cancelled": lambda p: _("This task was cancelled: the case moved on without it."),
        "claimed_by_other": lambda p: _("This task is claimed by %(user)s.", user=p["user"]),
        "task_just_claimed": lambda p: _("This task was just claimed by %(user)s.", user=p["user"]),
        "task_changed": lambda p: _(
            "Someone else changed this task at the same time; nothing was saved."
            " Reload and try again."
        ),
        "task_moved_on": lambda p: _("This task can no longer be completed: the case moved on."),
        "case_closed": lambda p: _(
            "Case %(number)s is %(status)s; nothing can change it any more.",
            number=p["number"],
            status=w.status(p["status"]),
        ),
        "case_changed": lambda p: _(
            "Case %(number)s was changed by someone else at the same time; nothing was saved."
            " Reload and try again.",
            number=p["number"],
        ),
        "case_changed_not_moved": lambda p: _(
            "Case %(number)s was changed by someone else at the same time; it was not moved.",
            number=p["number"],
        ),
        "case_busy": lambda p: _(
            "Case %(number)s is busy; nothing was saved. Try again.", number=p["number"]
        ),
        "database_busy": lambda p: _("The database is busy; no case was started. Try again."),
        "request_key_reused": lambda p: _(
            "This request key already started case %(number)s with different data; send a new key.",
            number=p["number"],
        ),
        "request_key_invalid": lambda p: _("A request key is 1 to 200 characters."),
        "case_not_cancellable": lambda p: _(
            "Case %(number)s is %(status)s; it cannot be cancelled.",
            number=p["number"],
            status=w.status(p["status"]),
        ),
        "case_not_in_error": lambda p: _("Case %(number)s is not in error.", number=p["number"]),
        "not_waiting_for_message": lambda p: (
            _(
                "Case %(number)s is not waiting for message %(name)s; it waits for: %(names)s.",
                number=p["number"],
                name=p["name"],
                names=w.join(p["names"]),
            )
            if p.get("names")
            else _(
                "Case %(number)s is not waiting for message %(name)s; it waits for no message.",
                number=p["number"],
                name=p["name"],
            )
        ),
        "link_used": lambda p: _("This link was already used."),
        "process_not_startable": lambda p: _(
            "Process %(process)s is only called from other processes; start the process that"
            " calls it.",
            process=p["process"],
        ),
        "migration_refused": lambda p: _(
            "Case %(number)s cannot move to version %(version)s: %(reasons)s",
            number=p["number"],
            version=p["version"],
            reasons="; ".join(p["reasons"]),
        ),
        "migration_state_mismatch": lambda p: _(
            "Case %(number)s cannot move to version %(version)s: its state does not fit the"
            " new version (%(problem)s).",
            number=p["number"],
            version=p["version"],
            problem=p["problem"],
        ),
        "case_value_not_storable": lambda p: _(
            "Case %(number)s: this step left a value that cannot be stored (%(problem)s);"
            " nothing was saved.",
            number=p["number"],
            problem=p["problem"],
        ),
        "user_inactive": lambda p: _(
            "User %(user)s is inactive; activate the user first.", user=p["user"]
        ),
        # ----- not found
        "case_not_found": lambda p: _("There is no case numbered %(number)s.", number=p["number"]),
        "task_not_found": lambda p: _("There is no task %(task)s.", task=p["task"]),
        "user_not_found": lambda p: _("There is no active user named %(user)s.", user=p["user"]),
        "process_not_found": lambda p: _(
            "There is no deployed process %(process)s.", process=p["process"]
        ),
        "version_not_found": lambda p: _(
            "Process %(process)s has no version %(version)s.",
            process=p["process"],
            version=p["version"],
        ),
        "process_version_not_found": lambda p: _("There is no process version %(id)s.", id=p["id"]),
        "form_not_found": lambda p: _("There is no deployed form %(form)s.", form=p["form"]),
        "form_id_not_found": lambda p: _("There is no form %(id)s.", id=p["id"]),
        "decision_table_not_found": lambda p: _(
            "There is no deployed decision table %(file)s.", file=p["file"]
        ),
        "attachment_not_found": lambda p: _("There is no attachment %(id)s.", id=p["id"]),
        "template_not_found": lambda p: _(
            "The newest version of process %(process)s keeps no message template %(name)s.",
            process=p["process"],
            name=p["name"],
        ),
        "user_task_not_found": lambda p: _(
            "Process %(process)s has no user task %(element)s.",
            process=p["process"],
            element=p["element"],
        ),
        "user_task_not_in_file": lambda p: _(
            "The BPMN file has no user task %(element)s.", element=p["element"]
        ),
        "process_not_in_file": lambda p: _(
            "The BPMN file defines no process %(process)s.", process=p["process"]
        ),
        "version_without_bpmn": lambda p: _(
            "Version %(version)s of %(process)s keeps no BPMN file defining it.",
            version=p["version"],
            process=p["process"],
        ),
        "not_a_running_case_of": lambda p: _(
            "%(number)s is not a running case of process %(process)s.",
            number=p["number"],
            process=p["process"],
        ),
        # ----- validation summaries (the fields' own messages: webui/messages.py)
        "form_errors": lambda p: ngettext(
            "Please correct %(num)d field: %(fields)s. Nothing was saved.",
            "Please correct %(num)d fields: %(fields)s. Nothing was saved.",
            p["num"],
            fields=w.join(p["fields"]),
        ),
        "undeclared_fields": lambda p: _(
            "Fields that are not on the form: %(fields)s. Nothing was saved.",
            fields=w.join(p["fields"]),
        ),
        "no_start_form": lambda p: _(
            "Process %(process)s has no start form, so a case starts without data; not"
            " accepted: %(fields)s.",
            process=p["process"],
            fields=w.join(p["fields"]),
        ),
        "data_not_an_object": lambda p: _(
            "%(what)s must be a JSON object.", what=w.data(p.get("what"))
        ),
        "data_not_storable": lambda p: _(
            "%(what)s cannot be stored (%(problem)s); nothing was saved.",
            what=w.data(p.get("what")),
            problem=p["problem"],
        ),
        "cancel_reason_required": lambda p: _("A cancellation needs a reason."),
        "unknown_task_status": lambda p: _(
            "Unknown task status %(status)s; use one of: open, claimed, done, cancelled.",
            status=p["status"],
        ),
        "inbox_status": lambda p: _(
            "An inbox lists open or claimed tasks, not %(status)s.", status=p["status"]
        ),
        "phone_too_short": lambda p: _("A phone number needs at least 6 digits."),
        "phone_or_name_required": lambda p: _("Give the customer's phone number or name."),
        # ----- files sent with a form (engine.runtime.attachments)
        "file_type": lambda p: _(
            "file type %(ext)s is not accepted (accepted: %(accepted)s)",
            ext=p["ext"],
            accepted=p["accepted"],
        ),
        "file_empty": lambda p: _("the file is empty"),
        "file_too_large": lambda p: _("the file is larger than %(mb)s MB", mb=p["mb"]),
        "file_mismatch": lambda p: _("the file's content does not match its type"),
        "file_not_text": lambda p: _("a .txt file must be UTF-8 text"),
        # ----- bookings by customers (engine.casework.portal)
        "booking_page_not_found": lambda p: _("This service cannot be booked online."),
        "booking_not_found": lambda p: _("No booking was found with this number and phone number."),
        "booking_too_late": lambda p: _(
            "This booking can no longer be changed or cancelled online (it is too close to the"
            " appointment, already being handled, or finished); please call customer service."
        ),
        "unknown_request": lambda p: _("Unknown request: ask for a change or a cancellation."),
        "change_request_errors": lambda p: _("The change request has errors."),
        # ----- customers' links (engine.casework.links)
        "link_refused.invalid": lambda p: _(
            "This link is not valid. Please open it exactly as it was sent to you."
        ),
        "link_refused.expired": lambda p: _(
            "This link stopped working at %(at)s.", at=w.when(p["at"])
        ),
        "link_refused.used": lambda p: _(
            "This link was already used: your answer has been received. Thank you."
        ),
        "link_refused.not_waiting": lambda p: _(
            "This request no longer waits for an answer (it was answered another way, or it"
            " is closed)."
        ),
        # ----- rate limits
        "dry_runs_busy": lambda p: ngettext(
            "%(num)d dry run is running already; try again in a moment.",
            "%(num)d dry runs are running already; try again in a moment.",
            p["num"],
        ),
        # ----- users (the command line)
        "user_name_invalid": lambda p: _(
            "User name %(user)s: use 2-100 letters, digits or . _ @ -", user=p["user"]
        ),
        "unknown_roles": lambda p: _(
            "Unknown role(s) %(roles)s; known: %(known)s",
            roles=w.join(p["roles"]),
            known=w.join(p["known"]),
        ),
        "roles_required": lambda p: _("A user needs at least one role."),
        # ----- the dry run (engine.casework.dryrun): a failed step's action ...
        "dry_run_step_complete": lambda p: _("complete %(element)s", element=p["element"]),
        "dry_run_step_message": lambda p: _("send message %(name)s", name=p["name"]),
        "dry_run_step_clock_by": lambda p: _("move the clock by %(by)s", by=p["by"]),
        "dry_run_step_clock_to": lambda p: _("move the clock to %(to)s", to=w.when(p["to"])),
        "dry_run_step_run_to_end": lambda p: _("run to the end"),
        "dry_run_step_run_to_end_timers_first": lambda p: _("run to the end (timers first)"),
        # ... why the run stopped early or where the case waits (its notes) ...
        "dry_run_stopped_steps": lambda p: ngettext(
            "Stopped after %(num)d engine step (the limit of a dry run).",
            "Stopped after %(num)d engine steps (the limit of a dry run).",
            p["num"],
        ),
        "dry_run_stopped_seconds": lambda p: ngettext(
            "Stopped after %(num)d second (the limit of a dry run).",
            "Stopped after %(num)d seconds (the limit of a dry run).",
            p["num"],
        ),
        "dry_run_timer_too_far": lambda p: _(
            "Stopped: the next timer is due %(at)s, more than %(days)s days after the start.",
            at=w.when(p["at"]),
            days=p["days"],
        ),
        "dry_run_clock_capped": lambda p: _(
            "The clock stops at %(days)s days after the start.", days=p["days"]
        ),
        "dry_run_waits_for_messages": lambda p: _(
            "Run to the end: the case waits for message(s) %(names)s.", names=w.join(p["names"])
        ),
        "dry_run_waits_for_nothing": lambda p: _(
            "Run to the end: the case waits for nothing it can be given."
        ),
        "dry_run_timer_does_not_fire": lambda p: _(
            "Run to the end: the timer at %(element)s does not fire.", element=p["element"]
        ),
        # ... a step that could not be done ...
        "dry_run_step_crashed": lambda p: _(
            "This step could not be done: %(error)s", error=p["error"]
        ),
        "dry_run_case_not_running": lambda p: _(
            "The case is %(status)s: nothing more can happen to it.", status=w.status(p["status"])
        ),
        "dry_run_no_open_task": lambda p: _(
            "No task is open at %(element)s now (open: %(open)s).",
            element=p["element"],
            open=w.join(p["open"]) or _("none"),
        ),
        "dry_run_clock_back": lambda p: _(
            "The clock cannot go back (it is %(at)s already).", at=w.when(p["at"])
        ),
        "dry_run_answers_refused": lambda p: _(
            "The answers to %(element)s are refused: %(fields)s",
            element=p["element"],
            fields=_field_errors(w, p["errors"]),
        ),
        "dry_run_assignee_refused": lambda p: _(
            "The task's assignee %(user)s cannot work it: %(error)s",
            user=p["user"],
            error=_nested(w, p["error"]),
        ),
        "dry_run_timers_failed": lambda p: _(
            "Firing the timers failed: %(error)s", error=_nested(w, p["error"])
        ),
        # ... and a scenario that cannot be run (engine.casework.scenario; by where, as a
        # form's field errors).
        "dry_run_no_such_process": lambda p: _(
            "the draft defines no process %(process)s (it defines: %(known)s)",
            process=p["process"],
            known=w.join(p["known"]) or _("none"),
        ),
        "dry_run_start_refused": lambda p: _(
            "The start data is refused: %(error)s", error=_nested(w, p["error"])
        ),
        "dry_run_cannot_start": lambda p: _(
            "The case cannot start: %(error)s", error=_nested(w, p["error"])
        ),
        "scenario_problems": lambda p: ngettext(
            "The scenario has %(num)d problem; nothing was run.",
            "The scenario has %(num)d problems; nothing was run.",
            p["num"],
        ),
        "scenario_too_long": lambda p: _(
            "a scenario may have at most %(max)s characters", max=f"{p['max']:,}"
        ),
        "scenario_too_deep": lambda p: _("the scenario is nested too deeply"),
        "scenario_not_json": lambda p: _(
            "the scenario is not valid JSON: %(error)s", error=p["error"]
        ),
        "scenario_not_an_object": lambda p: _(
            'the scenario must be a JSON object with "start", "data" and "steps"'
        ),
        "scenario_unknown_key": lambda p: _(
            'unknown key: a scenario has "start", "data" and "steps"'
        ),
        "scenario_data_not_an_object": lambda p: _(
            "the start data must be a JSON object of the start form's fields"
        ),
        "scenario_steps_not_a_list": lambda p: _("the steps must be a list"),
        "scenario_too_many_steps": lambda p: _(
            "a scenario may have at most %(max)s steps, not %(num)s", max=p["max"], num=p["num"]
        ),
        "scenario_time_missing": lambda p: _(
            "give a time as ISO 8601, e.g. 2026-11-23T09:30 (company time)"
        ),
        "scenario_not_a_time": lambda p: _(
            "%(value)s is not a time: write ISO 8601, e.g. 2026-11-23T09:30 (company time) or"
            " 2026-11-23T01:30Z (UTC)",
            value=_quoted(w, p["value"]),
        ),
        "scenario_time_out_of_range": lambda p: _(
            "%(value)s is not between the years 2000 and 2099", value=_quoted(w, p["value"])
        ),
        "scenario_step_not_an_object": lambda p: _('a step must be an object with "do"'),
        "scenario_unknown_action": lambda p: _(
            "%(value)s is not a step: use one of %(actions)s",
            value=_quoted(w, p["value"]),
            actions=w.join(p["actions"]),
        ),
        "scenario_step_unknown_key": lambda p: _(
            "unknown key for a %(action)s step (it takes %(allowed)s)",
            action=p["action"],
            allowed=w.join(p["allowed"]) or _("nothing else"),
        ),
        "scenario_task_unnamed": lambda p: _("name the user task by its element id"),
        "scenario_no_such_task": lambda p: _(
            "the diagram has no user task %(element)s (its user tasks: %(known)s)",
            element=p["element"],
            known=w.join(p["known"]) or _("none"),
        ),
        "scenario_answers_not_an_object": lambda p: _(
            "the answers must be a JSON object of the form's fields"
        ),
        "scenario_message_unnamed": lambda p: _("name the message as the diagram does"),
        "scenario_no_such_message": lambda p: _(
            "the diagram has no message %(name)s (its messages: %(known)s)",
            name=p["name"],
            known=w.join(p["known"]) or _("none"),
        ),
        "scenario_payload_not_an_object": lambda p: _("the payload must be a JSON object"),
        "scenario_clock_by_or_to": lambda p: _(
            'a clock step takes either "by" (a duration) or "to" (a time)'
        ),
        "scenario_not_a_duration": lambda p: _(
            "%(value)s is not a duration: write it as ISO 8601 in weeks, days, hours, minutes"
            " and seconds, e.g. PT24H, P2D, P1DT2H30M",
            value=_quoted(w, p["value"]),
        ),
        "scenario_clock_too_far": lambda p: _(
            "the clock moves at most %(days)s days", days=p["days"]
        ),
        "scenario_timers_first_not_boolean": lambda p: _("timers_first is true or false"),
    }


def _nested(w: Words, message: Any) -> str:
    """A message carried as a parameter (the engine error inside a dry run's failure), said in
    the language of `w`; its English text when it has no code."""
    from .messages import translate  # at call time: webui.messages imports this module

    return translate(message, w.locale)


def _field_errors(w: Words, errors: Any) -> str:
    """A form's field errors (field path -> messages) as one line in the language of `w`."""
    from .messages import translate_errors

    _ = w.gettext
    said = translate_errors(errors if isinstance(errors, dict) else {}, w.locale)
    parts = [
        _("%(field)s: %(message)s", field=field or _("the form"), message=w.join(messages))
        for field, messages in said.items()
    ]
    return ("；" if w.chinese else "; ").join(parts)


def _quoted(w: Words, value: Any) -> str:
    """What someone wrote, quoted as the language quotes."""
    return f"「{value}」" if w.chinese else repr(str(value))
