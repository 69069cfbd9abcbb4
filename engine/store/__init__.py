"""Tables and migrations, records read from the tables, SQLite locking and checkpoints, backup, the audit trail."""
