"""The verbs (start, complete, claim, message, cancel, migrate) as steps of one transaction; projection of tasks and timers; views returned to callers; version migration."""
