"""Who may start a process: the one rule the API, the command line and the web use.

A process names the roles that may start it in its `startRoles` property (role ids or lane
names, comma-separated; checked at deploy). Without it, the role of its first user task may,
and supervisors. Customers booking online are a separate channel (engine.casework.portal) and are not
asked.

The roles are not a column of their own: they are derived from what every version already
stores (its BPMN source and parsed spec) when the version is first asked, and cached by the
version's content hash (which covers the source), so old versions answer too.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from lxml import etree

from engine.core.errors import Forbidden
from engine.core.settings import Settings
from engine.definitions.properties import process_properties
from engine.definitions.sources import BPMN_NS, Validation
from engine.spiff.xmlsafe import UnsafeXML, parse_xml

_CACHE_SIZE = 512
_cache: OrderedDict[tuple[Any, ...], tuple[str, ...]] = OrderedDict()
_lock = threading.Lock()

SUPERVISOR_ROLE = "supervisor"


def start_roles(
    props: dict[str, str], spec: Any, subprocess_specs: dict[str, Any], settings: Settings
) -> tuple[list[str], list[str]]:
    """(the roles that may start the process, the names in its `startRoles` that are no role).

    Process property `startRoles`: role ids or lane names, comma-separated. Without it: the
    role of the process's first user task (the lane of the first one reached from the start
    event, looking into called and embedded subprocesses) and supervisor."""
    written = (props.get("startRoles") or "").strip()
    if written:
        roles: list[str] = []
        unknown: list[str] = []
        for name in (n.strip() for n in re.split(r"[,，]", written)):
            if not name:
                continue
            role = settings.role_for_lane(name)
            if role is None:
                unknown.append(name)
            elif role not in roles:
                roles.append(role)
        return roles, unknown
    first = _first_user_task(spec, subprocess_specs)
    roles = [] if first is None else [settings.role_for_lane(first.lane) or settings.default_role]
    return list(dict.fromkeys([*roles, SUPERVISOR_ROLE])), []


def _first_user_task(spec: Any, subprocess_specs: dict[str, Any]) -> Any | None:
    """The first user task reached from the start, breadth first (None when there is none)."""
    queue, seen = [spec.start], set()
    while queue:
        task_spec = queue.pop(0)
        if id(task_spec) in seen:
            continue
        seen.add(id(task_spec))
        if getattr(task_spec, "manual", False):
            return task_spec
        called = getattr(task_spec, "spec", None)
        if isinstance(called, str) and called in subprocess_specs:
            queue.append(subprocess_specs[called].start)
        queue.extend(task_spec.outputs)
    return None


def check_start_roles(
    v: Validation, filename: str, root: etree._Element, key: str, spec: Any, subs: dict[str, Any]
) -> None:
    """Refuse a `startRoles` that names no known role (as an unknown lane is refused)."""
    roles, unknown = start_roles(process_properties(root, key), spec, subs, v.settings)
    known = ", ".join(f"{k} ({n})" for k, n in v.settings.roles.items())
    for name in unknown:
        v.add(
            filename,
            key,
            f"startRoles: {name!r} is not a known role; known roles: {known}",
            "startRoles",
        )
    if not roles and not unknown:
        v.add(
            filename, key, "startRoles names no role (leave it out for the default)", "startRoles"
        )


def may_start(allowed: Collection[str], roles: Collection[str]) -> bool:
    """Whether someone holding `roles` may start a process that `allowed` roles may start."""
    return any(role in allowed for role in roles)


def check_may_start(key: str, allowed: Collection[str], user: str, roles: Collection[str]) -> None:
    """Forbidden, naming the roles, unless `user` holding `roles` may start process `key`."""
    if may_start(allowed, roles):
        return
    held = ", ".join(sorted(roles)) or "(none)"
    word = "role" if len(roles) <= 1 else "roles"
    raise Forbidden(
        f"{user}: {word} {held} may not start process {key!r}; allowed: {', '.join(allowed)}",
        reason="start_role_missing",
        user=user,
        roles=sorted(roles),
        process=key,
        allowed=list(allowed),
    )


def roles_of_version(
    *,
    key: str,
    content_hash: str,
    sources: Any,
    spec: Any,
    subprocess_specs: dict[str, Any],
    settings: Settings,
) -> tuple[str, ...]:
    """The roles that may start this version (see the module's description)."""
    cache_key = (
        content_hash,
        key,
        settings.default_role,
        tuple(sorted(settings.roles.items())),
    )
    with _lock:
        found = _cache.get(cache_key)
        if found is not None:
            _cache.move_to_end(cache_key)
            return found
    props = _properties(key, sources() if callable(sources) else sources)
    roles, _unknown = start_roles(props, spec, subprocess_specs, settings)
    found = tuple(roles)
    with _lock:
        _cache[cache_key] = found
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def _properties(key: str, sources: list[dict[str, str]] | None) -> dict[str, str]:
    for source in sources or []:
        if source.get("kind") != "bpmn" or f'id="{key}"' not in source.get("text", ""):
            continue
        try:
            root = parse_xml(source["text"].encode("utf-8"), 50_000_000)
        except (UnsafeXML, etree.XMLSyntaxError):
            continue
        if any(p.get("id") == key for p in root.findall(f"{{{BPMN_NS}}}process")):
            return process_properties(root, key)
    return {}
