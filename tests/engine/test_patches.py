"""Caseflow's changes to SpiffWorkflow are installed by one explicit call, not by an import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from SpiffWorkflow.bpmn.specs.event_definitions import timer
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
stock = (timer.datetime, timer.TimeDateEventDefinition.has_fired,
         timer.DurationTimerEventDefinition.has_fired, CallActivity.copy_data)
import engine.spiff.adapter, engine.spiff.patches as patches, engine.runtime.verbs
now = (timer.datetime, timer.TimeDateEventDefinition.has_fired,
       timer.DurationTimerEventDefinition.has_fired, CallActivity.copy_data)
print("import changed nothing:", now == stock and not patches.installed())
patches.install()
once = (timer.datetime, timer.TimeDateEventDefinition.has_fired,
        timer.DurationTimerEventDefinition.has_fired, CallActivity.copy_data)
print("install changed all four:", all(a is not b for a, b in zip(once, stock)))
patches.install()
twice = (timer.datetime, timer.TimeDateEventDefinition.has_fired,
         timer.DurationTimerEventDefinition.has_fired, CallActivity.copy_data)
print("a second install changed nothing:", twice == once)
from SpiffWorkflow.util.task import TaskIterator
print("depth limit lifted:", TaskIterator.__init__.__defaults__[1] == sys.maxsize)
"""


def test_importing_the_adapter_changes_nothing_and_install_applies_the_patches_once():
    # A fresh interpreter: in this one a Runtime has long installed them.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [
        "import changed nothing: True",
        "install changed all four: True",
        "a second install changed nothing: True",
        "depth limit lifted: True",
    ], out


def test_a_runtime_installs_them(runtime):
    from engine.spiff import patches

    assert patches.installed()


def test_the_company_zone_is_readable_through_the_adapter(runtime):
    """notify falls back to it when a step has no calendar (it used to read an attribute the
    adapter no longer has)."""
    from engine.spiff import adapter as spiff

    assert str(spiff.company_timezone()) == runtime.settings.timezone
