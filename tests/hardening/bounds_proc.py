"""One resource-exhaustion payload, run in a process of its own (for test_resource_bounds.py).

    python -m tests.hardening.bounds_proc SPEC.json

SPEC: {"db_url", "settings", "kind": "step" | "page", "key", "files": {name: text},
"concurrent": bool, "guard_s": float}. The process deploys the payload's diagram, then runs the
verb that evaluates the payload (start_case for "step"; for "page", start_case and then the
task page as alice, through the Flask test client) in a worker thread, and waits at most
`guard_s` for it. With `concurrent`, another thread keeps completing tasks of another case
meanwhile and records how long each answer took. It prints one JSON line and leaves with
os._exit, so a verb that never returns (today's code on some payloads) cannot hold it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any


def vm_hwm() -> int:
    """Peak resident memory of this process in bytes (Linux VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    import engine.identity.users

    engine.identity.users.SCRYPT_N = 2**8  # quick sign-in, as the web tests do

    from engine.core.clock import FixedClock
    from engine.core.settings import load_settings
    from engine.definitions.sources import SourceFile
    from engine.identity.users import add_user
    from engine.runtime.verbs import Runtime
    from engine.store.database import Database
    from tests.hardening.conftest_web import PASSWORD, build_app, csrf_token, one_task_bpmn

    db = Database(spec["db_url"])
    settings = load_settings(Path(spec["settings"]))
    clock = FixedClock("2026-11-23T01:30:00+00:00")
    runtime = Runtime(db, settings, clock)
    for name, roles in (("alice", ["service_desk"]), ("carol", ["service_desk"])):
        add_user(db, settings, name, roles, clock.now(), password=PASSWORD)
    files = [SourceFile(name, text.encode()) for name, text in spec["files"].items()]
    runtime.deploy(files)
    out: dict[str, Any] = {"done": False}

    # The other client: completes tasks of another case, one after another.
    requests: list[tuple[float, float]] = []  # (began, ended) of each of its requests
    current: list[float] = []  # when its request in flight began
    stop = threading.Event()
    worker = None
    if spec.get("concurrent"):
        runtime.deploy([SourceFile("busy.bpmn", one_task_bpmn("busy", loop=True).encode())])
        busy = runtime.start_case("busy", {}).number
        other = Runtime(db, settings, clock)

        def keep_completing() -> None:
            while not stop.is_set():
                begun = time.monotonic()
                current[:] = [begun]
                try:
                    task = other.get_case(busy).open_tasks[0]
                    other.complete_task(task.id, {"confirmed": True}, "carol")
                except Exception as exc:  # noqa: BLE001 - a refusal is an answer too
                    out.setdefault("other_errors", []).append(repr(exc)[:200])
                requests.append((begun, time.monotonic()))
                current.clear()
                time.sleep(0.05)

        worker = threading.Thread(target=keep_completing, daemon=True)
        worker.start()
        time.sleep(0.3)  # the other client is under way before the payload starts

    app = build_app(runtime) if spec["kind"] == "page" else None
    alice = None
    if app is not None:
        alice = app.test_client()
        page = alice.get("/login")
        alice.post(
            "/login",
            data={"name": "alice", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        )

    hwm_before = vm_hwm()

    def verb() -> None:
        try:
            if spec["kind"] == "step":
                case = runtime.start_case(spec["key"], {})
                out["number"] = case.number
            else:
                number = runtime.start_case(
                    spec["key"], {"customer_name": "王"}, prevalidated=True
                ).number
                out["number"] = number
                task = runtime.get_case(number).open_tasks[0]
                out["page_started"] = time.monotonic()
                response = alice.get(f"/tasks/{task.id}")
                out["page_status"] = response.status_code
                out["page_bytes"] = len(response.data)
                text = response.get_data(as_text=True)
                out["notice"] = "could not be shown" in text or "無法顯示說明" in text
        except BaseException as exc:  # noqa: BLE001 - reported, not raised
            out["raised"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            out["done"] = True
            out["finished"] = time.monotonic()

    started = time.monotonic()
    thread = threading.Thread(target=verb, daemon=True)
    thread.start()
    thread.join(spec["guard_s"])
    elapsed = (out.get("finished") or time.monotonic()) - started
    if "page_started" in out:
        out["page_elapsed"] = (out.get("finished") or time.monotonic()) - out["page_started"]
    out["elapsed"] = elapsed
    stop.set()
    if worker is not None:
        worker.join(3.0)  # let its request in flight finish (or stay stuck: counted below)
        ended = out.get("finished") or time.monotonic()
        overlapping = [b - a for a, b in requests if b >= started and a <= ended]
        if current:  # still waiting for an answer
            overlapping.append(time.monotonic() - current[0])
        out["other_requests"] = len(overlapping)
        out["other_max_latency"] = max(overlapping, default=None)
    out["hwm_growth"] = vm_hwm() - hwm_before
    if out["done"] and "number" in out:
        try:
            case = Runtime(db, settings, clock).get_case(out["number"])
            out["status"], out["error_message"] = case.status, case.error_message
        except BaseException as exc:  # noqa: BLE001
            out["status"], out["error_message"] = "unreadable", repr(exc)[:300]
    sys.stdout.write(json.dumps(out, default=str) + "\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
