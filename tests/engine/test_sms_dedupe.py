"""The development SMS provider accepts each idempotency key once, as a provider with client
message ids does: a resend from another sender object or another process is recognised, is
not logged twice and gets the first provider id back; a torn last line breaks nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from engine.worker.sms import DevSmsSender

REPO = Path(__file__).parent.parent.parent
SEND_IN_ANOTHER_PROCESS = """
import sys
from engine.worker.sms import DevSmsSender
sender = DevSmsSender(sys.argv[1])
print(sender.send("13800000000", "您的預約已確認", sys.argv[2]))
print(sender.send("13800000000", "您的預約已確認", sys.argv[2]))
"""
SEND_MANY = """
import sys
from engine.worker.sms import DevSmsSender
sender = DevSmsSender(sys.argv[1])
sys.stdin.readline()  # all processes start sending together
for i in range(int(sys.argv[2])):
    print(f"k{i}", sender.send("13800000000", f"第{i}條", f"k{i}"))
"""


def log_keys(log: Path) -> Counter[str]:
    return Counter(json.loads(line)["key"] for line in log.read_text("utf-8").splitlines())


def repeats(sender: DevSmsSender) -> list[dict]:
    if not sender.repeats_path.exists():
        return []
    return [json.loads(line) for line in sender.repeats_path.read_text("utf-8").splitlines()]


def send_in_another_process(log: Path, key: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", SEND_IN_ANOTHER_PROCESS, str(log), key],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.split()


def test_a_repeated_key_from_another_sender_is_dropped_and_gets_the_first_id(tmp_path, clock):
    log = tmp_path / "sms.log"
    first, second = DevSmsSender(log, clock), DevSmsSender(log, clock)
    provider_id = first.send("13800000000", "您的預約已確認", "notify:1:sms")
    assert second.send("13800000000", "您的預約已確認", "notify:1:sms") == provider_id
    assert first.send("13800000000", "您的預約已確認", "notify:1:sms") == provider_id
    assert log_keys(log) == {"notify:1:sms": 1}
    assert [(r["key"], r["id"]) for r in repeats(first)] == [("notify:1:sms", provider_id)] * 2


def test_a_key_another_sender_logged_after_our_last_read_is_recognised(tmp_path, clock):
    """Our cache of seen keys is not the whole truth: a miss re-reads what others appended."""
    log = tmp_path / "sms.log"
    ours, theirs = DevSmsSender(log, clock), DevSmsSender(log, clock)
    ours.send("13800000000", "一", "k1")  # ours has read the log up to here
    late = theirs.send("13900000000", "二", "k2")
    assert ours.send("13900000000", "二", "k2") == late
    assert log_keys(log) == {"k1": 1, "k2": 1}


def test_a_key_sent_by_another_process_is_recognised(tmp_path, clock):
    log = tmp_path / "sms.log"
    here = DevSmsSender(log, clock)
    mine = here.send("13800000000", "您的預約已確認", "k-mine")
    # The other process sends a key of its own twice, and then ours once.
    theirs = send_in_another_process(log, "k-theirs")
    assert theirs == [_logged_id(log, "k-theirs")] * 2
    assert send_in_another_process(log, "k-mine") == [mine, mine]
    assert here.send("13800000000", "您的預約已確認", "k-theirs") == theirs[0]
    assert log_keys(log) == {"k-mine": 1, "k-theirs": 1}
    assert Counter(r["key"] for r in repeats(here)) == {"k-theirs": 2, "k-mine": 2}


def test_processes_racing_over_the_same_keys_log_each_once(tmp_path):
    log = tmp_path / "sms.log"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", SEND_MANY, str(log), "200"],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for racer in racers:
        racer.stdin.write("go\n")
        racer.stdin.flush()
    answers = []
    for racer in racers:
        out, _ = racer.communicate(timeout=60)
        assert racer.returncode == 0
        answers.append(dict(line.split() for line in out.splitlines()))
    assert log_keys(log) == {f"k{i}": 1 for i in range(200)}
    assert answers[0] == answers[1] == answers[2]  # every process got the accepted id back
    assert len(repeats(DevSmsSender(log))) == 400


def _logged_id(log: Path, key: str) -> str:
    [entry] = [json.loads(x) for x in log.read_text("utf-8").splitlines() if key in x]
    return entry["id"]


def test_a_torn_last_line_does_not_break_later_sends(tmp_path, clock):
    """A process killed in the middle of writing leaves a fragment without its newline."""
    log = tmp_path / "sms.log"
    before = DevSmsSender(log, clock).send("13800000000", "一", "k1")
    with log.open("ab") as file:
        # ... cut off in the middle of a character, too.
        file.write('{"id": "dev-0000", "key": "k-torn", "body": "王'.encode()[:-1])
    after = DevSmsSender(log, clock)
    assert after.send("13800000000", "一", "k1") == before
    new = after.send("13900000000", "二", "k2")
    # The fragment became a line of its own that no reader takes for a message.
    lines = log.read_bytes().splitlines()
    assert lines[1].startswith(b'{"id": "dev-0000"') and len(lines) == 3
    assert [json.loads(lines[i])["key"] for i in (0, 2)] == ["k1", "k2"]
    fresh = DevSmsSender(log, clock)
    assert fresh.send("13900000000", "二", "k2") == new
    assert fresh.send("13700000000", "三", "k-torn") != "dev-0000"  # never accepted
    assert log.read_bytes().endswith(b"\n") and len(log.read_bytes().splitlines()) == 4


def test_lines_that_are_not_messages_are_ignored(tmp_path, clock):
    log = tmp_path / "sms.log"
    log.write_text('not json\n[1, 2]\n{"key": ["x"], "id": "y"}\n{"id": "dev-1"}\n', "utf-8")
    sender = DevSmsSender(log, clock)
    provider_id = sender.send("13800000000", "一", "k1")
    assert sender.send("13800000000", "一", "k1") == provider_id
    assert len(log.read_text("utf-8").splitlines()) == 5


def test_a_new_log_file_is_read_afresh(tmp_path, clock):
    """A log moved away (rotated or cleared by hand) is no longer what the cache describes."""
    log = tmp_path / "sms.log"
    sender = DevSmsSender(log, clock)
    sender.send("13800000000", "一", "k1")
    log.rename(tmp_path / "sms.log.1")
    sender.send("13800000000", "一", "k1")
    assert log_keys(log) == {"k1": 1}
