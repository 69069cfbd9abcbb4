"""The sentences of the engine's errors and refusals about cases and tasks: roles and
permissions, state conflicts (done, claimed, changed or closed first), what was not found,
validation summaries, files sent with a form, and users (the command line)."""

from __future__ import annotations

from .words import Sentence, Words


def sentences(w: Words) -> dict[str, Sentence]:
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
    }
