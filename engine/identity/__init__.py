"""Users, roles, sessions, API tokens and the limits against guessing (throttle)."""
