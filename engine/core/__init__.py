"""Errors, status rules, clock, settings, calendar, the data codec: no I/O, imports nothing of engine above it."""
