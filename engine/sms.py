"""Text messages: the sender protocol, the development sender, and the one place where a real
provider is plugged in.

A provider is a class with `from_settings(settings)` and `send(to, body, key) -> provider_id`,
listed in PROVIDERS under the name that `[sms] provider` in settings.toml selects. `send` raises
on failure (the outbox retries with back-off) or `PermanentFailure` from engine.outbox when a
retry cannot help (e.g. the number does not exist). `key` is the outbox idempotency key: pass
it to the provider as the client's message id where the provider has one (Aliyun `OutId`,
Tencent Cloud `SessionContext`), so a resend after a crash can be recognised.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Protocol

from .clock import Clock, SystemClock
from .settings import Settings, SettingsError


class SmsSender(Protocol):
    def send(self, to: str, body: str, key: str) -> str: ...


class DevSmsSender:
    """Development sender: appends each message as one JSON line to a log file (UTF-8, Chinese
    kept readable) and returns a made-up provider id. Nothing leaves the machine."""

    def __init__(self, log_path: Path, clock: Clock | None = None):
        self.log_path = Path(log_path)
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> DevSmsSender:
        return cls(settings.sms.dev_log, clock)

    def send(self, to: str, body: str, key: str) -> str:
        provider_id = f"dev-{uuid.uuid4().hex[:16]}"
        line = {
            "id": provider_id,
            "key": key,
            "to": to,
            "body": body,
            "at": self.clock.now().isoformat(),
        }
        with self._lock:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(line, ensure_ascii=False) + "\n")
        return provider_id


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
