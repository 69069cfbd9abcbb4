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

import threading
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from lxml import etree

from engine.core.errors import Forbidden
from engine.core.settings import Settings
from engine.definitions.properties import process_properties, start_roles
from engine.definitions.sources import BPMN_NS
from engine.spiff.xmlsafe import UnsafeXML, parse_xml

_CACHE_SIZE = 512
_cache: OrderedDict[tuple[Any, ...], tuple[str, ...]] = OrderedDict()
_lock = threading.Lock()


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
