"""Timers, the outbox and its providers, notifications."""
