"""Measure how SpiffWorkflow's own test diagrams fare: on stock SpiffWorkflow, in Caseflow's
deploy validation and in Caseflow's runtime.

    python -m tests.conformance.measure_spiff <dir> [--rounds N] [--only NAME]

<dir> is a copy of SpiffWorkflow's tests/SpiffWorkflow folder (or any folder holding
bpmn/data, spiff/data, camunda/data). Every .bpmn (and .bpmn20.xml) file below a `data` folder is
measured with the sibling files it needs (called processes, decisions):

* stock: parsed with SpiffBpmnParser (CamundaParser under camunda/), `BpmnWorkflow(spec,
  subprocess_specs)`, engine steps run and ready manual tasks completed with empty data, up to
  N rounds, 2 s per file. "yes" = completed, or waits only on events and timers.
* deploys: `engine.definitions.validation.validate` with the file and its companions; the first
  refusal message is shown.
* runs: deployed on a fresh temporary database and started with no data; tasks that show the
  default confirmation form are completed with {"confirmed": True}, a task with another form
  stops the run ("form at X"). "yes" = completed, or waits only on messages, signals, timers.

The stock pass runs in a separate process: Caseflow's runtime changes SpiffWorkflow when it
starts (engine.spiff.patches), and the stock figures must not see those changes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import shutil
import signal
import sys
import tempfile
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
TIME_LIMIT_S = 2.0
# A Caseflow run writes to a database and starts an evaluator process: more time.
CASEFLOW_LIMIT_S = 15.0
FLOW_NODE_TAGS = {
    "startEvent",
    "endEvent",
    "task",
    "userTask",
    "scriptTask",
    "serviceTask",
    "manualTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "subProcess",
    "callActivity",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
}


# ----- finding files and what they need ------------------------------------------------------


def is_bpmn(path: Path) -> bool:
    return path.name.endswith(".bpmn") or path.name.endswith(".bpmn20.xml")


def diagram_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and is_bpmn(p) and "data" in p.parts)


def data_folder(path: Path) -> Path:
    """The `…/data` folder a file lies in (companions are looked for below it)."""
    for parent in path.parents:
        if parent.name == "data":
            return parent
    return path.parent


def flavour(path: Path) -> str:
    return "camunda" if "camunda" in data_folder(path).parent.name else "spiff"


def _parse(path: Path):
    try:
        return etree.parse(str(path)).getroot()
    except (etree.XMLSyntaxError, OSError):
        return None


@dataclass
class Index:
    processes: dict[str, list[Path]] = field(default_factory=lambda: defaultdict(list))
    decisions: dict[str, list[Path]] = field(default_factory=lambda: defaultdict(list))


def build_index(folder: Path) -> Index:
    index = Index()
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if is_bpmn(path):
            root = _parse(path)
            if root is not None:
                for proc in root.iter(f"{BPMN}process"):
                    index.processes[proc.get("id")].append(path)
        elif path.suffix == ".dmn":
            root = _parse(path)
            if root is not None:
                for el in root.iter():
                    if isinstance(el.tag, str) and el.tag.endswith("}decision"):
                        index.decisions[el.get("id")].append(path)
    return index


def references(root) -> tuple[set[str], set[str]]:
    """(called process ids, decision ids) a diagram names."""
    called = {el.get("calledElement") for el in root.iter(f"{BPMN}callActivity")}
    decisions = set()
    for el in root.iter(f"{BPMN}businessRuleTask"):
        for attr in (f"{CAMUNDA}decisionRef",):
            if el.get(attr):
                decisions.add(el.get(attr))
        for sub in el.iter(f"{SPIFF}calledDecisionId"):
            if sub.text:
                decisions.add(sub.text.strip())
    return {c for c in called if c}, decisions


def _closest(path: Path, candidates: list[Path]) -> Path:
    def shared(other: Path) -> int:
        n = 0
        for a, b in zip(path.name, other.name, strict=False):
            if a != b:
                break
            n += 1
        return n

    return max(candidates, key=lambda c: (c.parent == path.parent, shared(c)))


def companions(path: Path, index: Index) -> list[Path]:
    """The file and the sibling files it needs, transitively."""
    found = [path]
    queue = [path]
    while queue:
        current = queue.pop()
        root = _parse(current)
        if root is None:
            continue
        own = {p.get("id") for p in root.iter(f"{BPMN}process")}
        called, decisions = references(root)
        for pid in sorted(called - own):
            candidates = [c for c in index.processes.get(pid, []) if c not in found]
            if candidates and not any(pid in _own(f) for f in found):
                pick = _closest(path, candidates)
                found.append(pick)
                queue.append(pick)
        for did in sorted(decisions):
            candidates = index.decisions.get(did, [])
            if candidates and not any(c in found for c in candidates):
                found.append(_closest(path, candidates))
    return found


def _own(path: Path) -> set[str]:
    root = _parse(path)
    return set() if root is None else {p.get("id") for p in root.iter(f"{BPMN}process")}


def main_process(path: Path, files: list[Path]) -> str | None:
    """The process a run starts: the first one in the file with flow nodes that no file of the
    set calls (executable ones first)."""
    root = _parse(path)
    if root is None:
        return None
    called: set[str] = set()
    for f in files:
        r = _parse(f)
        if r is not None:
            called |= references(r)[0]
    procs = [
        p
        for p in root.iter(f"{BPMN}process")
        if any(isinstance(c.tag, str) and etree.QName(c).localname in FLOW_NODE_TAGS for c in p)
    ]
    top = [p for p in procs if p.get("id") not in called] or procs
    top.sort(key=lambda p: p.get("isExecutable") != "true")
    return top[0].get("id") if top else None


# ----- stock SpiffWorkflow (run in a child process) --------------------------------------------


class _TimeUp(BaseException):
    pass


def _alarm(signum, frame):
    raise _TimeUp()


def stock_run(files: list[str], kind: str, process_id: str | None, rounds: int) -> str:
    from SpiffWorkflow import TaskState
    from SpiffWorkflow.bpmn import BpmnWorkflow

    if process_id is None:
        return "no: no process"
    if kind == "camunda":
        from SpiffWorkflow.camunda.parser import CamundaParser

        parser = CamundaParser()
    else:
        from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser

        parser = SpiffBpmnParser(validator=VALIDATOR)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    try:
        for f in files:
            if f.endswith(".dmn"):
                parser.add_dmn_file(f)
            else:
                parser.add_bpmn_file(f)
        spec = parser.get_spec(process_id)
        subs = parser.get_subprocess_specs(process_id)
        wf = BpmnWorkflow(spec, subs)
        for _ in range(rounds):
            wf.do_engine_steps()
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            for task in ready:
                task.run()
        wf.do_engine_steps()
        if wf.is_completed():
            return "yes: completed"
        ready = wf.get_tasks(state=TaskState.READY)
        if ready:
            return f"no: still ready after {rounds} rounds ({ready[0].task_spec.bpmn_id})"
        waiting = [
            t.task_spec.bpmn_id or t.task_spec.name for t in wf.get_tasks(state=TaskState.WAITING)
        ]
        return f"yes: waits ({', '.join(sorted(set(map(str, waiting)))[:3])})"
    except _TimeUp:
        return f"no: over {TIME_LIMIT_S:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure is the measurement
        return f"no: {type(exc).__name__}: {_one_line(exc)}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _stock_all(jobs: list[tuple[str, list[str], str, str | None, int]]) -> dict[str, str]:
    import contextlib
    import os

    # Scripts in the diagrams print; keep the table readable.
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        return {
            name: stock_run(files, kind, pid, rounds) for name, files, kind, pid, rounds in jobs
        }


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]


# ----- Caseflow ---------------------------------------------------------------------------


def deploy_check(files: list[Path], settings) -> str | None:
    """None if the files deploy, else the first refusal message (file: element: message)."""
    from engine.definitions.sources import DefinitionError, SourceFile
    from engine.definitions.validation import validate

    sources = [SourceFile(f.name, f.read_bytes()) for f in files]
    try:
        validate(sources, settings, {})
    except DefinitionError as exc:
        p = exc.problems[0]
        return (
            f"{p.file}: {p.element_id}: {p.message}" if p.element_id else f"{p.file}: {p.message}"
        )
    except Exception as exc:  # noqa: BLE001
        return f"crash {type(exc).__name__}: {_one_line(exc)}"
    return None


def is_confirmation(form: dict | None) -> bool:
    return bool(form) and set((form or {}).get("properties", {})) <= {"confirmed", "comment"}


def caseflow_run(
    files: list[Path], process_id: str, template: Path, workdir: Path, rounds: int
) -> str:
    from engine.core.clock import FixedClock
    from engine.core.settings import REPO_SETTINGS, load_settings
    from engine.definitions.sources import SourceFile
    from engine.identity.users import add_user
    from engine.runtime.verbs import Runtime
    from engine.store.database import Database

    db_path = workdir / "case.db"
    shutil.copy(template, db_path)
    db = Database(f"sqlite:///{db_path}")
    try:
        settings = load_settings(REPO_SETTINGS)
        clock = FixedClock("2026-11-23T01:30:00+00:00")
        add_user(db, settings, "tester", list(settings.roles), clock.now())
        runtime = Runtime(db, settings, clock)
        runtime.deploy([SourceFile(f.name, f.read_bytes()) for f in files])
        view = runtime.start_case(process_id, {})
        for _ in range(rounds):
            if view.status != "running" or not view.open_tasks:
                break
            task = view.open_tasks[0]
            form = runtime.get_task(task.id).form
            if not is_confirmation(form):
                return f"stops: form at {task.element_id}"
            view = runtime.complete_task(task.id, {"confirmed": True}, "tester")
        if view.status == "completed":
            return "yes: completed"
        if view.status == "error":
            return f"no: error at {view.error_element}: {' '.join((view.error_message or '').split())[:160]}"
        if view.status == "running" and not view.open_tasks:
            waits = view.waiting_messages + [t.element_id for t in view.timers]
            return f"yes: waits ({', '.join(waits[:3]) or 'events'})"
        return f"no: {view.status}, open {[t.element_id for t in view.open_tasks][:3]}"
    except _TimeUp:
        raise
    except Exception as exc:  # noqa: BLE001
        return f"no: {type(exc).__name__}: {_one_line(exc)}"
    finally:
        db.dispose()


# ----- refusal kinds ------------------------------------------------------------------------


def refusal_kind(message: str) -> str:
    text = message.split(": ", 2)[-1] if message.count(": ") >= 2 else message.split(": ", 1)[-1]
    text = re.sub(r"'[^']*'|\"[^\"]*\"|«[^»]*»", "…", text)
    text = re.sub(r"\b[A-Za-z_]*_[0-9a-z]{5,}\b", "ID", text)
    text = re.sub(r"\d+", "N", text)
    return text[:110]


# ----- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--only", default=None, help="measure the files whose name contains this")
    args = ap.parse_args(argv)

    paths = diagram_files(args.dir)
    if args.only:
        paths = [p for p in paths if args.only in p.name]
    indexes: dict[Path, Index] = {}
    plans = []
    for path in paths:
        folder = data_folder(path)
        if folder not in indexes:
            indexes[folder] = build_index(folder)
        files = companions(path, indexes[folder])
        plans.append((path, files, flavour(path), main_process(path, files)))

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        stock = pool.apply(
            _stock_all,
            ([(str(p), [str(f) for f in fs], k, pid, args.rounds) for p, fs, k, pid in plans],),
        )

    from engine.core.settings import REPO_SETTINGS, load_settings
    from engine.store.database import Database
    from engine.store.migrate import upgrade

    settings = load_settings(REPO_SETTINGS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        db = Database(f"sqlite:///{template}")
        upgrade(db)
        db.dispose()
        signal.signal(signal.SIGALRM, _alarm)
        for path, files, _kind, pid in plans:
            print(f"measuring {path.name}", file=sys.stderr, flush=True)
            refusal = deploy_check(files, settings)
            if refusal is None and pid is not None:
                signal.setitimer(signal.ITIMER_REAL, CASEFLOW_LIMIT_S)
                try:
                    ran = caseflow_run(files, pid, template, Path(tmp), args.rounds)
                except _TimeUp:
                    ran = f"no: over {CASEFLOW_LIMIT_S:g} s"
                except Exception:  # noqa: BLE001
                    ran = "no: " + traceback.format_exc().splitlines()[-1]
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            else:
                ran = "-"
            rows.append((path, files, stock[str(path)], refusal, ran))

    base = args.dir
    print(f"{'file':58} | {'stock runs?':40} | {'Caseflow deploys?':60} | Caseflow runs?")
    print("-" * 200)
    for path, files, st, refusal, ran in rows:
        name = str(path.relative_to(base))
        extra = f" (+{', '.join(f.name for f in files[1:])})" if len(files) > 1 else ""
        print(
            f"{name + extra:58} | {st[:40]:40} | {('yes' if refusal is None else 'no: ' + refusal)[:60]:60} | {ran[:90]}"
        )

    stock_ok = [r for r in rows if r[2].startswith("yes")]
    deploys = [r for r in stock_ok if r[3] is None]
    runs = [r for r in deploys if r[4].startswith("yes")]
    print()
    print(
        f"diagrams: {len(rows)}; run on stock: {len(stock_ok)}; of those Caseflow deploys "
        f"{len(deploys)} and runs {len(runs)}"
    )
    print(
        f"deployed (all): {sum(1 for r in rows if r[3] is None)}; "
        f"runs (all): {sum(1 for r in rows if r[4].startswith('yes'))}"
    )
    kinds: dict[str, list[str]] = defaultdict(list)
    for path, _files, _st, refusal, _ran in rows:
        if refusal is not None:
            kinds[refusal_kind(refusal)].append(path.name)
    print("\nrefusals by kind:")
    for kind, names in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(names):4}  {kind}\n      e.g. {', '.join(names[:3])}")
    run_fail = Counter(r[4].split(":")[0] for r in rows if r[3] is None)
    print(f"\nCaseflow run outcomes of deployed files: {dict(run_fail)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
