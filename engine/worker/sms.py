"""Text messages: the sender protocol, the development sender, and the one place where a real
provider is plugged in.

A provider is a class with `from_settings(settings)` and `send(to, body, key) -> provider_id`,
listed in PROVIDERS under the name that `[sms] provider` in settings.toml selects. `send` raises
on failure (the outbox retries with back-off) or `PermanentFailure` from engine.worker.outgoing when a
retry cannot help (e.g. the number does not exist).

`key` is the outbox idempotency key, and it is what makes a resend harmless. The outbox hands a
message to its sender again when a worker died after the provider accepted it but before the
row said "sent" (see engine.worker.outbox). A real provider adapter MUST therefore pass `key` as the
provider's client message id / dedupe token (Aliyun `OutId`, Tencent Cloud `SessionContext`),
and where the provider does not itself drop a repeated token, keep the same check on our side
as DevSmsSender does: a key already accepted is not sent again, and `send` returns the provider
id given the first time. (E-mail does the same with a stable Message-ID derived from the key,
`engine.worker.mail.message_id`, so receiving servers and clients can drop a repeat.)
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Protocol

from engine.core.clock import Clock, SystemClock
from engine.core.settings import Settings, SettingsError


class SmsSender(Protocol):
    def send(self, to: str, body: str, key: str) -> str:
        """Send one text message; returns the provider's id for it. `key` is the outbox
        idempotency key: an adapter MUST hand it to the provider as its client message id /
        dedupe token (Aliyun `OutId`, Tencent Cloud `SessionContext`), and unless the provider
        drops a repeated token itself, must recognise a key it already sent (in any process)
        and return the first provider id instead of sending again."""
        ...


class DevSmsSender:
    """Development sender: appends each message as one JSON line to a log file (UTF-8, Chinese
    kept readable) and returns a made-up provider id. Nothing leaves the machine.

    Like a provider with client message ids, it accepts each `key` once, whichever process or
    sender object sends it: a repeat is not logged again but noted in `<log>.repeats`, and gets
    the first provider id back. Senders in all processes take an exclusive `flock` on the log
    while they look a key up and append, so two workers cannot both accept one key."""

    def __init__(self, log_path: Path, clock: Clock | None = None):
        self.log_path = Path(log_path)
        self.repeats_path = self.log_path.with_name(self.log_path.name + ".repeats")
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        # Keys seen in the log -> their provider ids, and how far the log has been read. Only
        # keys found in the log are cached, so a miss re-reads what was appended since.
        self._accepted: dict[str, str] = {}
        self._read_to = 0
        self._file_id: tuple[int, int] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> DevSmsSender:
        return cls(settings.sms.dev_log, clock)

    def send(self, to: str, body: str, key: str) -> str:
        at = self.clock.now().isoformat()
        with self._lock:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.log_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
                torn_tail = self._catch_up(fd, key)
                first_id = self._accepted.get(key)
                if first_id is not None:
                    repeat = {"id": first_id, "key": key, "to": to, "at": at}
                    _append(self.repeats_path, _line(repeat))
                    return first_id
                provider_id = f"dev-{uuid.uuid4().hex[:16]}"
                entry = {"id": provider_id, "key": key, "to": to, "body": body, "at": at}
                # A fragment left by a process killed mid-write is closed off as a line of its
                # own (which no reader parses), so it cannot swallow this one.
                data = (b"\n" if torn_tail else b"") + _line(entry)
                _write_once(fd, data)
                self._read_to = os.fstat(fd).st_size
                self._accepted[key] = provider_id
                return provider_id
            finally:
                os.close(fd)

    def _catch_up(self, fd: int, key: str) -> bool:
        """Read the log lines appended since our last read (all of them after the file was
        replaced or truncated) unless `key` is already known. Returns whether the log ends in
        an unterminated fragment."""
        stat = os.fstat(fd)
        file_id = (stat.st_dev, stat.st_ino)
        if file_id != self._file_id or stat.st_size < self._read_to:
            self._accepted.clear()
            self._read_to = 0
            self._file_id = file_id
        if key in self._accepted:
            return False  # the log only grows: a key seen once stays accepted
        tail = os.pread(fd, stat.st_size - self._read_to, self._read_to)
        whole = tail.rfind(b"\n") + 1  # an unterminated last fragment is left unread
        for raw in tail[:whole].splitlines():
            try:
                entry = json.loads(raw)
                self._accepted.setdefault(entry["key"], entry["id"])
            except (ValueError, TypeError, KeyError):
                continue  # a torn or foreign line
        self._read_to += whole
        return whole < len(tail)


def _line(entry: dict[str, str]) -> bytes:
    return (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")


def _write_once(fd: int, data: bytes) -> None:
    # One write call per line: a process killed mid-write leaves at most one torn fragment.
    written = os.write(fd, data)
    if written != len(data):
        raise OSError(f"short write to the SMS log ({written} of {len(data)} bytes)")


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _write_once(fd, data)
    finally:
        os.close(fd)


# Provider name (settings `[sms] provider`) -> class. Add a real provider here.
PROVIDERS: dict[str, type] = {"dev": DevSmsSender}


def sms_sender(settings: Settings, clock: Clock | None = None) -> SmsSender:
    """The SMS sender that settings.toml selects."""
    name = settings.sms.provider
    provider = PROVIDERS.get(name)
    if provider is None:
        raise SettingsError(
            f"[sms] provider {name!r} in {settings.path} is not one of {', '.join(PROVIDERS)}"
        )
    return provider.from_settings(settings, clock)
