"""What one step works on and what it takes in: the facts of a process version a step needs
(VersionInfo), the state handed to a step's action (StepState), and the checks of data and of
the actor entering a case. Shared by the step (engine.runtime.step) and the verbs built on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy.orm import Session

from engine.core import datacodec
from engine.core.errors import ValidationFailed
from engine.core.messages import Message
from engine.core.rules import check_task_action
from engine.runtime.steptxn import (
    HelperSession,
    StepTransaction,
)
from engine.store.records import CaseRecord, TaskRecord
from engine.store.rows import Rows
from engine.store.tables import Task

# What a process without a start form accepts at its start: nothing but its defaults.
NO_START_FORM: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class VersionInfo:
    """What a step needs of a process version. Versions are immutable, so it is read once."""

    id: int
    key: str
    version: int
    name: str
    case_prefix: str
    task_meta: dict[str, Any]
    defaults: dict[str, Any] | None
    # The case variables the KPIs read ({"satisfaction", "promised", "actual"} -> name).
    kpi_fields: dict[str, str] | None = None
    # The message templates the version keeps (name -> text); None for a version deployed
    # before versions kept them (its messages are read from the notifications folder).
    templates: dict[str, str] | None = None


@dataclass
class StepState:
    """Everything one step works on; handed to the step's action."""

    txn: StepTransaction
    rows: Rows
    case: CaseRecord
    version: VersionInfo
    workflow: BpmnWorkflow
    now: datetime
    actor: str | None
    helpers_session: HelperSession

    @property
    def session(self) -> Session:
        """The step's ORM session (made on first use)."""
        return self.txn.session()


def checked_data(data: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """A plain copy of data entering a case (form post, API body, message): JSON values,
    dates and decimals only (engine.core.datacodec), or ValidationFailed naming the field."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationFailed(
            f"{what} must be a JSON object",
            {"": [Message("not_an_object", "must be an object")]},
            reason="data_not_an_object",
            what=what,
        )
    try:
        return datacodec.plain(data)
    except datacodec.DataError as exc:
        raise ValidationFailed(
            f"{what} cannot be stored: {exc}; nothing was saved",
            {exc.path: [exc.problem]},
            reason="data_not_storable",
            what=what,
            problem=str(exc),
        ) from None


def _check_task_actor(task: Task | TaskRecord, roles: set[str], user: str) -> None:
    check_task_action(task, roles, user, "complete")
