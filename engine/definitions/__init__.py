"""Validation of BPMN, DMN, timers and forms; deploy of immutable process versions; start rules."""
