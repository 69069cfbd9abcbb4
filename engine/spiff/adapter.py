"""Everything that reaches into SpiffWorkflow's internals lives here.

Three stock defects are mended in this module (see SPIFFWORKFLOW_NOTES.md):
- the task iterator stops at depth 1000, so long loops silently "complete": the limit is lifted;
- timers read the wall clock when the engine happens to process them: they read the engine's
  clock instead, which the runtime sets to the logical time of the step (a fired timer's due
  time), so a late worker does not shift later timers;
- naive timer dates use the server's zone: they use the company's zone.
The third defect, unrestricted eval/exec, is closed by engine.spiff.scripts.

It also provides the serializer that stores a case without its spec (the spec lives once on
its process version) and puts the cached spec back when a case is loaded.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

from engine.core.outcomes import OUTCOME_PROPERTY, case_outcome
from engine.spiff.patches import (
    company_timezone,
    engine_now,
    engine_time,
    install,
    join_consumed,
    set_called_defaults,
    set_company_timezone,
)
from engine.spiff.serialization import (
    LEGACY_VERSION,
    SERIALIZER,
    SERIALIZER_VERSION,
    dump_case_state,
    dump_specs,
    load_case_state,
    load_specs,
    parse_case_state,
    upgrade_legacy_state,
)

# The adapter's surface: the rest of the engine uses SpiffWorkflow through these names.
__all__ = [
    "LEGACY_VERSION",
    "SERIALIZER",
    "SERIALIZER_VERSION",
    "company_timezone",
    "compact",
    "dump_case_state",
    "dump_specs",
    "engine_now",
    "engine_time",
    "event_value",
    "install",
    "load_case_state",
    "load_specs",
    "make_ready",
    "note_outcome",
    "reached_outcome",
    "parse_case_state",
    "predict",
    "remove_task",
    "set_called_defaults",
    "set_company_timezone",
    "splice_out",
    "upgrade_legacy_state",
]


def compact(workflow: BpmnWorkflow, threshold: int = 60, keep_depth: int = 8) -> int:
    """Drop finished history that nothing can reach again, so a long loop costs the same in
    round 1,000 as in round 10. Returns how many tasks were removed.

    SpiffWorkflow keeps every finished task and walks the whole tree on every step. Kept are:
    every unfinished task, its `keep_depth` nearest ancestors and their other children (joins
    and boundary events look a few levels up and across), the root, and every task that owns a
    subprocess. Removed are finished tasks with one child, whose child is spliced onto their
    parent, and finished leaves. Cases smaller than `threshold` tasks are left untouched (their
    full history stays available, e.g. for reset).
    """
    if len(workflow.tasks) < threshold or workflow.is_completed():
        return 0
    removed = _compact_tree(workflow, workflow, keep_depth)
    for subprocess in list(workflow.subprocesses.values()):
        if len(subprocess.tasks) >= threshold:
            removed += _compact_tree(subprocess, workflow, keep_depth)
    return removed


def _compact_tree(wf: Any, top: BpmnWorkflow, keep_depth: int) -> int:
    from SpiffWorkflow.util.task import TaskState

    tasks = wf.tasks
    protected = {wf.task_tree.id}
    for task in tasks.values():
        if task.has_state(TaskState.FINISHED_MASK):
            if isinstance(task.task_spec, UnstructuredJoin) and not join_consumed(task):
                # A branch that reached a join still waiting for others: the join reads
                # this task's parent to know which branch it was.
                protected.update((task.id, task._parent))
            continue
        protected.add(task.id)
        node, depth = task.parent, 0
        while node is not None and depth < keep_depth:
            protected.add(node.id)
            node, depth = node.parent, depth + 1
    near = {child for pid in protected if pid in tasks for child in tasks[pid]._children}
    removed = 0
    for task in list(tasks.values()):
        tid = task.id
        if tid in protected or tid in near or tid in top.subprocesses:
            continue
        if not task.has_state(TaskState.FINISHED_MASK) or task._parent is None:
            continue
        parent = tasks.get(task._parent)
        if parent is None:
            continue
        if len(task._children) == 0:
            parent._children = [c for c in parent._children if c != tid]
        elif len(task._children) == 1:
            child = tasks[task._children[0]]
            child._parent = parent.id
            parent._children = [child.id if c == tid else c for c in parent._children]
        else:
            continue
        del tasks[tid]
        removed += 1
    if wf.last_task is not None and wf.last_task.id not in tasks:
        wf.last_task = None
    return removed


# The workflow's own data (stored with its state, not part of the case's data) keeps the
# outcome of the last end event with one that the top-level process reached: the case may end
# in a later step, after other paths end, and compaction may have dropped that task by then.
_OUTCOME_KEY = "caseflow.outcome"


def note_outcome(task: Any) -> None:
    """Called for every task the engine completes: an end event of the top-level process (not
    of a subprocess or a called process) that declares an outcome (engine.core.outcomes)
    makes it the case's outcome."""
    spec = task.task_spec
    if not isinstance(spec, EndEvent) or not isinstance(task.workflow, BpmnWorkflow):
        return
    properties = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    outcome = case_outcome(properties.get(OUTCOME_PROPERTY))
    if outcome:
        task.workflow.data[_OUTCOME_KEY] = outcome


def reached_outcome(workflow: BpmnWorkflow) -> str | None:
    """The outcome note_outcome kept for the case, if any."""
    return workflow.data.get(_OUTCOME_KEY)


# ----- SpiffWorkflow's private task-tree operations: used only through these ----------------


def event_value(task: Any) -> Any:
    """What a catching event stored on its task (a timer's due time or cycle)."""
    return task._get_internal_data("event_value")


def make_ready(task: Any) -> None:
    """Put a task (one stopped in error) back to READY so the next run executes it again."""
    task._set_state(TaskState.READY)


def remove_task(wf: Any, task_id: Any) -> None:
    """Drop a task and its subtree from the workflow."""
    wf._remove_task(task_id)


def predict(task: Any, mask: int) -> None:
    """Let the task's spec predict its children again (after a spec change)."""
    task.task_spec._predict(task, mask=mask)


def splice_out(wf: Any, task: Any) -> None:
    """Remove a finished task from the tree, its children taking its place under its parent."""
    parent = task.parent
    position = parent._children.index(task.id)
    parent._children[position : position + 1] = list(task._children)
    for child in task.children:
        child._parent = parent.id
    task._children = []
    del wf.tasks[task.id]
