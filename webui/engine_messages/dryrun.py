"""The sentences of a process owner's dry run (engine.casework.dryrun): a failed step's action,
why the run stopped early or where the case waits, a step that could not be done, a scenario
that cannot be run (engine.casework.scenario), and the limit on dry runs running at once."""

from __future__ import annotations

from .words import Sentence, Words, field_errors, nested, quoted


def sentences(w: Words) -> dict[str, Sentence]:
    """reason code -> the sentence for its parameters, in the language of `w`."""
    _, ngettext = w.gettext, w.ngettext
    return {
        # ----- rate limits
        "dry_runs_busy": lambda p: ngettext(
            "%(num)d dry run is running already; try again in a moment.",
            "%(num)d dry runs are running already; try again in a moment.",
            p["num"],
        ),
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
            fields=field_errors(w, p["errors"]),
        ),
        "dry_run_assignee_refused": lambda p: _(
            "The task's assignee %(user)s cannot work it: %(error)s",
            user=p["user"],
            error=nested(w, p["error"]),
        ),
        "dry_run_timers_failed": lambda p: _(
            "Firing the timers failed: %(error)s", error=nested(w, p["error"])
        ),
        # ... and a scenario that cannot be run (engine.casework.scenario; by where, as a
        # form's field errors).
        "dry_run_no_such_process": lambda p: _(
            "the draft defines no process %(process)s (it defines: %(known)s)",
            process=p["process"],
            known=w.join(p["known"]) or _("none"),
        ),
        "dry_run_start_refused": lambda p: _(
            "The start data is refused: %(error)s", error=nested(w, p["error"])
        ),
        "dry_run_cannot_start": lambda p: _(
            "The case cannot start: %(error)s", error=nested(w, p["error"])
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
            value=quoted(w, p["value"]),
        ),
        "scenario_time_out_of_range": lambda p: _(
            "%(value)s is not between the years 2000 and 2099", value=quoted(w, p["value"])
        ),
        "scenario_step_not_an_object": lambda p: _('a step must be an object with "do"'),
        "scenario_unknown_action": lambda p: _(
            "%(value)s is not a step: use one of %(actions)s",
            value=quoted(w, p["value"]),
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
            value=quoted(w, p["value"]),
        ),
        "scenario_clock_too_far": lambda p: _(
            "the clock moves at most %(days)s days", days=p["days"]
        ),
        "scenario_timers_first_not_boolean": lambda p: _("timers_first is true or false"),
    }
