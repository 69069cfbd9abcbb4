"""Caseflow engine: deploys BPMN processes and runs cases on SpiffWorkflow.

Nothing in this package imports Flask or webui/.
"""
