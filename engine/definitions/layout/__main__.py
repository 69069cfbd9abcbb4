"""`python -m engine.definitions.layout [--check] FILE...` (see engine.definitions.layout.cli)."""

import sys

from engine.definitions.layout.cli import main

sys.exit(main())
