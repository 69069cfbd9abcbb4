"""What a task counts as in the daily and weekly summaries of the follow-up work (seed 003's
每周受理督辦、反饋、回訪 and 日報/週報): the extension property `summary` of a user task.

The vocabulary is fixed here, once: deploy refuses any other value (engine.definitions), and
the KPI rollup (engine.runtime.kpi) counts a task by the kind its version declares, so a
process owner marks a new follow-up call in the modeler instead of a developer listing its id.
"""

from __future__ import annotations

from enum import StrEnum

# The extension property of a user task that names what the summaries count it as.
SUMMARY_PROPERTY = "summary"


class Summary(StrEnum):
    FOLLOWUP = "followup"  # a follow-up call to the customer (回訪), due on a day
    ESCALATION = "escalation"  # a supervisor's task opened by a missed deadline or complaint (督辦)
    PLACEMENT = "placement"  # a three-party contract signed for a nurse or nanny (上單)
    REPLY = "reply"  # a reply to a customer's question or feedback (反饋)


SUMMARIES: tuple[str, ...] = tuple(s.value for s in Summary)
