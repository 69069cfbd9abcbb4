"""The import contracts in `.importlinter`: the engine's layers import only downward, the engine
imports neither webui, the entry points nor Flask, and webui uses only `engine`'s public surface.
Each contract is shown to hold on the tree and to fail when a module breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(tree / ".importlinter"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy_of_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in ("engine", "webui", "caseflow"):
        shutil.copytree(
            ROOT / name,
            tree / name,
            ignore=shutil.ignore_patterns("static", "templates", "translations", "__pycache__"),
        )
    shutil.copy(ROOT / ".importlinter", tree / ".importlinter")
    return tree


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # a lower layer reaching up: the clock importing the timer worker
        ("engine/core/clock.py", "from engine.worker import timers", "each layer imports only"),
        # the store importing the runtime
        ("engine/store/records.py", "import engine.runtime.verbs", "each layer imports only"),
        # siblings of one layer are independent: definitions importing identity
        ("engine/definitions/starting.py", "from engine.identity import users", "only"),
        # the engine importing Flask or the web layer
        ("engine/casework/queries.py", "import flask", "engine imports neither"),
        ("engine/runtime/views.py", "import webui.filters", "engine imports neither"),
        # the web layer going around the engine's surface
        ("webui/cases/listing.py", "from engine.store.tables import Case", "public surface"),
    ],
)
def test_an_import_against_a_contract_fails(
    copy_of_tree: Path, module: str, line: str, contract: str
) -> None:
    path = copy_of_tree / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # noqa\n")
        result = _lint(copy_of_tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = [ln for ln in result.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(contract in ln for ln in broken), result.stdout


def test_every_name_of_the_public_surface_resolves() -> None:
    import engine

    missing = [name for name in engine.__all__ if getattr(engine, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError):
        engine.no_such_name  # noqa: B018
