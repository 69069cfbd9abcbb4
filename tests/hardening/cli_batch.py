"""Run several `caseflow` commands one after another in this (fresh) process and print their
exit codes and output as JSON: a test's reload-and-drive sequence pays for one interpreter
start instead of one per command. Each command builds its own runtime, as `caseflow` does, so
every case is loaded from its saved state.

    python -m tests.hardening.cli_batch '[["--now", "...", "case", "BK-1", "--json"], ...]'
"""

from __future__ import annotations

import json
import sys

from click.testing import CliRunner

from caseflow.cli import main


def run(commands: list[list[str]]) -> list[dict[str, object]]:
    runner = CliRunner()
    results = []
    for args in commands:
        outcome = runner.invoke(main, args, catch_exceptions=True)
        error = ""
        if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
            error = f"{type(outcome.exception).__name__}: {outcome.exception}"
        results.append({"returncode": outcome.exit_code, "stdout": outcome.stdout, "stderr": error})
    return results


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
