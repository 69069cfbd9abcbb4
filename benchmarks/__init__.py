"""Caseflow benchmarks: `python -m benchmarks` (or `make bench`). See benchmarks/__main__.py."""
