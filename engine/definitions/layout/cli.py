"""Give BPMN files a diagram layout (BPMN DI) that bpmn-js draws legibly.

The command line: `python -m engine.definitions.layout [--check] FILE...` rewrites the files in
place, or with --check lists elements without DI and exits 1 when there are any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lxml import etree

from engine.definitions.layout.document import layout, missing_di


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="BPMN files")
    parser.add_argument(
        "--check", action="store_true", help="only list elements without DI; exit 1 if any"
    )
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            data = path.read_bytes()
            if args.check:
                missing = missing_di(data)
                for kind, ident in missing:
                    print(f"{path}: {kind} {ident} has no diagram layout (DI)")
                status = max(status, 1 if missing else 0)
                continue
            new = layout(data)
        except (OSError, etree.XMLSyntaxError, ValueError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 2
            continue
        if new != data:
            path.write_bytes(new)
            print(f"{path}: layout written")
        else:
            print(f"{path}: unchanged")
    return status
