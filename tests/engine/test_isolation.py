"""engine/ stands alone: importing it loads neither Flask nor webui."""

from __future__ import annotations

import subprocess
import sys


def test_importing_engine_does_not_import_flask():
    code = (
        "import sys, engine, engine.runtime.verbs, engine.worker.timers, caseflow.cli, engine.definitions.deploy\n"
        "bad = sorted(m for m in sys.modules if m == 'flask' or m.startswith(('flask.', 'webui')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_stock_timer_duration_counts_from_when_the_engine_processes_it():
    """The stock defect behind the logical clock: SpiffWorkflow reads the wall clock when it
    happens to process a timer, so a late worker shifts every later timer."""
    code = r'''
from datetime import datetime, timezone, timedelta
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
xml = b"""<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="t">
<bpmn:timerEventDefinition><bpmn:timeDuration>"P3D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="a" sourceRef="s" targetRef="t"/><bpmn:sequenceFlow id="b" sourceRef="t" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""
p = BpmnParser(); p.add_bpmn_str(xml); wf = BpmnWorkflow(p.get_spec("p"))
before = datetime.now(timezone.utc); wf.do_engine_steps(); after = datetime.now(timezone.utc)
task = wf.get_tasks(state=TaskState.WAITING)[0]
due = datetime.fromisoformat(task.internal_data["event_value"])
print(before + timedelta(days=3) <= due <= after + timedelta(days=3))
'''
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
