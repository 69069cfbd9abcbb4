"""print() in a script deploys and writes its lines to the case history (50 lines a step)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.runtime.taskhelpers import PRINT_LINES

DIAGRAM = Path(__file__).parent / "diagrams" / "print_script.bpmn"


@pytest.mark.usefixtures("users")
def test_print_writes_to_the_case_history(runtime):
    runtime.deploy([DIAGRAM])
    case = runtime.start_case("print_script", {"items": [1, 2, 3]}, prevalidated=True)
    assert case.status == "completed" and case.data["total"] == 6
    lines = [
        e.detail["text"] for e in runtime.get_case(case.number).history if e.kind == "script_output"
    ]
    assert lines[0] == "合計: 6" and lines[1] == "line 0"
    assert len(lines) == PRINT_LINES == 50
