"""Starting a case: who may start it, the data it starts with (validated against its start
form), its number, and the first step."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.core import stepcontext
from engine.core.errors import (
    Conflict,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
    refine,
)
from engine.core.messages import Message
from engine.core.status import CaseStatus
from engine.definitions import starting
from engine.definitions.submission import EXTRAS_REFUSE, declared_submission
from engine.runtime import kpi
from engine.runtime.step import RECENT_HISTORY
from engine.runtime.stepstate import NO_START_FORM, StepState, checked_data
from engine.runtime.steptxn import (
    HelperSession,
    engine_steps,
)
from engine.runtime.views import CaseView
from engine.spiff import adapter as spiff
from engine.store.records import CaseRecord, read_json
from engine.store.rows import Rows

MAX_REQUEST_KEY = 200  # characters of a start's request key (column start_request.key)


class StartVerbs:
    """start_case (a mixin of Runtime)."""

    # ----- starting ------------------------------------------------------------------------

    def start_case(
        self,
        process_key: str,
        data: dict[str, Any] | None = None,
        actor: str | None = None,
        *,
        check_roles: bool = False,
        prevalidated: bool = False,
        request_key: str | None = None,
        request_digest: str = "",
    ) -> CaseView:
        """Start a case on the newest version of a process; returns the case with its number.

        With `request_key` (a booking form's key, an API client's Idempotency-Key, scoped by
        the caller) the start happens once per key, whichever server process a repeat reaches:
        a repeat returns the case the first start made, with `repeated` set. `request_digest`
        says what was asked; a repeat with another digest is refused (Conflict), as a key used
        for a different request.

        `data` may only hold the fields of the process's start form (property `startForm`),
        and must pass that form: other keys are refused, naming them (ValidationFailed), and
        a process without a start form starts from its defaults alone. `prevalidated` is for
        the engine's own callers that checked `data` already (the portal, against the form
        with its live choices); request input never sets it. With `check_roles`, `actor`
        must be an active user holding a role that may start the process (Forbidden
        otherwise; see engine.definitions.starting) — the API and the command line's --as ask for it."""
        if data is not None and not isinstance(data, dict):
            raise ValidationFailed(
                "case data must be a JSON object",
                {"": [Message("not_an_object", "must be an object")]},
                reason="data_not_an_object",
                what="case data",
            )
        data = checked_data(data, "case data")
        if request_key is not None:
            if not isinstance(request_key, str) or not 1 <= len(request_key) <= MAX_REQUEST_KEY:
                raise ValidationFailed(
                    f"a request key is 1 to {MAX_REQUEST_KEY} characters",
                    {
                        "request_key": [
                            Message(
                                "maxLength",
                                f"must be at most {MAX_REQUEST_KEY} characters",
                                num=MAX_REQUEST_KEY,
                            )
                        ]
                    },
                    reason="request_key_invalid",
                )
            earlier = self._started_by_request(request_key, request_digest)
            if earlier is not None:
                return earlier
        try:
            return self._start(
                process_key, data, actor, check_roles, prevalidated, request_key, request_digest
            )
        except IntegrityError:
            # Another server process started the case for this key meanwhile (it committed
            # first; this transaction rolled back whole, its number unused).
            earlier = self._started_by_request(request_key, request_digest) if request_key else None
            if earlier is None:
                raise
            return earlier
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict(
                    "the database is busy; no case was started, try again", reason="database_busy"
                ) from exc
            raise

    def _start(
        self,
        process_key: str,
        data: dict[str, Any] | None,
        actor: str | None,
        check_roles: bool = False,
        prevalidated: bool = False,
        request_key: str | None = None,
        request_digest: str = "",
    ) -> CaseView:
        now = self.clock.now()
        with self._transaction() as txn:
            rows = txn.rows
            found = rows.one(
                'SELECT id, startable, portal, content_hash FROM process_version WHERE "key" = ?'
                " ORDER BY version DESC LIMIT 1",
                (process_key,),
            )
            if found is None:
                raise NotFound(
                    f"no deployed process {process_key!r}",
                    reason="process_not_found",
                    process=process_key,
                )
            if not found[1]:
                raise InvalidState(
                    f"process {process_key!r} is only called from other processes"
                    " (startable=false): start the process that calls it",
                    reason="process_not_startable",
                    process=process_key,
                )
            version = self._version_info(found[0])
            spec, subprocess_specs = self._specs_for(version)
            if check_roles:
                roles = rows.user_roles(actor) if actor else None
                if roles is None:
                    raise Forbidden(
                        f"no active user named {actor!r} may start a case",
                        reason="start_user_unknown",
                        user=actor,
                    )
                allowed = starting.roles_of_version(
                    key=version.key,
                    content_hash=found[3],
                    sources=lambda: read_json(
                        rows.one("SELECT sources FROM process_version WHERE id = ?", (found[0],))[0]
                    ),
                    spec=spec,
                    subprocess_specs=subprocess_specs,
                    settings=self.settings,
                )
                starting.check_may_start(version.key, allowed, actor or "", roles)
            if not prevalidated:
                data = self._start_data(process_key, read_json(found[2]), data or {})
            workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
            # Copies: the workflow outlives the step (and the defaults are shared).
            workflow.task_tree.data.update(
                copy.deepcopy({**(version.defaults or {}), **(data or {})})
            )
            case = CaseRecord(
                id=None,
                number=self._next_number(rows, version.case_prefix, now),
                process_version_id=version.id,
                process_key=version.key,
                status=CaseStatus.RUNNING.value,
                state="{}",
                serializer_version=spiff.SERIALIZER_VERSION,
                customer_name=None,
                customer_phone=None,
                service_item=None,
                started_by=actor,
                started_at=now,
                updated_at=now,
            )
            rows.insert_case(case)
            if request_key is not None:
                rows.run(
                    "INSERT INTO start_request (key, case_id, digest, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (request_key, case.id, request_digest[:64], rows.dt(now)),
                )
            rows.kpi_add(kpi.started_items(case.process_key, now, self.calendar.zone))
            rows.event(
                "case_started",
                at=now,
                actor=actor,
                case_id=case.id,
                detail={"process": version.key, "version": version.version},
            )
            st = StepState(txn, rows, case, version, workflow, now, actor, HelperSession(txn))
            with stepcontext.step(self._context(st)), self._budget():
                with spiff.engine_time(now):
                    self._run_engine(st, engine_steps(workflow))
                projection = self._finish_step(st)
            txn.commit()
            # After the commit (and the writer's turn): what get_case would show now.
            view = self._view(rows, case, version, workflow, projection, RECENT_HISTORY)
        self._keep_live(case.id, case.state, workflow)
        return view

    def _started_by_request(self, request_key: str, request_digest: str) -> CaseView | None:
        """The case a start with this key made, marked `repeated`; None if there is none."""
        with self.db.read() as session:
            found = Rows.of(session).one(
                'SELECT c.number, r.digest FROM start_request r JOIN "case" c ON c.id = r.case_id'
                " WHERE r.key = ?",
                (request_key,),
            )
        if found is None:
            return None
        if found[1] != request_digest[:64]:
            raise Conflict(
                "this request key was used for a different request; send a new key",
                reason="request_key_reused",
                number=found[0],
            )
        return replace(self.get_case(found[0], history_limit=RECENT_HISTORY), repeated=True)

    def _start_data(
        self, key: str, portal: dict[str, Any] | None, data: dict[str, Any]
    ) -> dict[str, Any]:
        """`data` checked against the process's start form for staff (only its fields, and
        valid): its `staffStartForm`, else its `startForm`, else none (no data at all)."""
        portal = portal or {}
        which = "staff_start_form" if portal.get("staff_start_form_id") else "start_form"
        form_id = portal.get(f"{which}_id")
        schema = self._form(form_id) if form_id is not None else NO_START_FORM
        try:
            kept, _ = declared_submission(schema, data, extras=EXTRAS_REFUSE)
        except ValidationFailed as exc:
            if form_id is None:
                raise ValidationFailed(
                    f"process {key!r} has no start form, so a case starts without data"
                    f" (only the process defaults); not accepted: {', '.join(sorted(data))}",
                    exc.errors,
                    reason="no_start_form",
                    process=key,
                    fields=sorted(data),
                ) from None
            raise refine(exc, f"process {key!r}, start form {portal.get(which)}: {exc}") from None
        return kept

    def _next_number(self, rows: Rows, prefix: str, now: datetime) -> str:
        day = self.calendar.local(now).strftime("%Y%m%d")
        last = rows.one(
            "INSERT INTO case_counter (prefix, day, last) VALUES (?, ?, 1)"
            " ON CONFLICT (prefix, day) DO UPDATE SET last = case_counter.last + 1"
            " RETURNING last",
            (prefix, day),
        )[0]
        return f"{prefix}-{day}-{last:04d}"
