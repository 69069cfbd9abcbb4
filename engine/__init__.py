"""Caseflow engine: deploys BPMN processes and runs cases on SpiffWorkflow.

The engine is a library in layers, each a subpackage that imports only the layers below it
(checked by the import contracts in `.importlinter`, run by `make test`):

    worker/       timers, the outbox and its providers, notifications
    casework/     portal bookings, personal data, attachments, KPIs, supervisor queries
    runtime/      the verbs as steps of one transaction, projection, views, version migration
    definitions/  validation of BPMN, DMN, timers and forms; deploy; start rules; diagram layout
    identity/     users, roles, sessions, API tokens, limits against guessing
    spiff/        the SpiffWorkflow adapter, restricted scripts and their evaluator, templating
    store/        tables, migrations, records, SQLite locking and checkpoints, backup, audit
    core/         errors, status rules, clock, settings, calendar, the data codec

This module names the public surface the web layer uses (`from engine import Runtime`). The
names are resolved on first use, so importing one layer (an evaluator process imports only
`engine.spiff`) does not load the others. Nothing in this package imports Flask, webui or the
entry points (`caseflow`).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> (module, whether the name is that module itself)
_SURFACE: dict[str, tuple[str, bool]] = {
    "attachments": ("engine.runtime.attachments", True),
    "portal": ("engine.casework.portal", True),
    "staff": ("engine.casework.staff", True),
    "InboxFilter": ("engine.runtime.inbox", False),
    "links": ("engine.casework.links", True),
    "MonthKpi": ("engine.casework.metrics", False),
    "monthly_kpis": ("engine.casework.metrics", False),
    "recent_months": ("engine.casework.kpi_periods", False),
    "quarter_of": ("engine.casework.kpi_periods", False),
    "StaffKpi": ("engine.casework.metrics", False),
    "CategoryReport": ("engine.casework.reports", False),
    "SummaryRow": ("engine.casework.reports", False),
    "SUMMARY_COLUMNS": ("engine.casework.reports", False),
    "record_view": ("engine.casework.privacy", False),
    "Desk": ("engine.casework.desk", False),
    "dry_run": ("engine.casework.dryrun", False),
    "dry_run_diagram": ("engine.casework.dryrun", False),
    "simplest_start_data": ("engine.casework.dryrun_draft", False),
    "DryRunReport": ("engine.casework.dryrun_report", False),
    "ScenarioError": ("engine.casework.scenario", False),
    "CaseFilter": ("engine.casework.case_filter", False),
    "list_cases": ("engine.casework.queries", False),
    "process_keys": ("engine.casework.process_catalogue", False),
    "version_source": ("engine.casework.process_catalogue", False),
    "COUNT_CAP": ("engine.casework.queries", False),
    "Supervision": ("engine.casework.supervision", False),
    "datacodec": ("engine.core.datacodec", True),
    "OUTCOMES": ("engine.core.outcomes", False),
    "SUMMARIES": ("engine.core.summaries", False),
    "DATE_HELPERS": ("engine.definitions.timers", False),
    "version_parameters": ("engine.definitions.parameters", False),
    "CaseflowError": ("engine.core.errors", False),
    "Conflict": ("engine.core.errors", False),
    "Forbidden": ("engine.core.errors", False),
    "InvalidState": ("engine.core.errors", False),
    "NotFound": ("engine.core.errors", False),
    "ValidationFailed": ("engine.core.errors", False),
    "load_settings": ("engine.core.settings", False),
    "model_refusal": ("engine.core.rules", False),
    "secret_key": ("engine.core.secrets", False),
    "DefinitionError": ("engine.definitions.sources", False),
    "SourceFile": ("engine.definitions.sources", False),
    "coerce_form_data": ("engine.definitions.coercion", False),
    "EXTRAS_DROP": ("engine.definitions.submission", False),
    "form_fields": ("engine.definitions.forms", False),
    "FormError": ("engine.definitions.forms", False),
    "load_form_schema": ("engine.definitions.forms", False),
    "prefilled_values": ("engine.definitions.forms", False),
    "with_case_limits": ("engine.definitions.forms", False),
    "undeclared_posted": ("engine.definitions.submission", False),
    "validate_submission": ("engine.definitions.submission", False),
    "layout": ("engine.definitions.layout", False),
    "tokens": ("engine.identity.tokens", True),
    "Backoff": ("engine.identity.throttle", False),
    "RateLimiter": ("engine.identity.throttle", False),
    "Throttle": ("engine.identity.throttle", False),
    "authenticate": ("engine.identity.users", False),
    "end_sessions": ("engine.identity.users", False),
    "get_user": ("engine.identity.users", False),
    "UserInfo": ("engine.identity.users", False),
    "RECENT_HISTORY": ("engine.runtime.step", False),
    "Runtime": ("engine.runtime.verbs", False),
    "blank_diagram": ("engine.runtime.versions", False),
    "check_decision": ("engine.runtime.versions", False),
    "check_diagram": ("engine.runtime.versions", False),
    "DecisionTable": ("engine.runtime.versions", False),
    "decision_table": ("engine.runtime.versions", False),
    "process_keys_in": ("engine.runtime.versions", False),
    "compare_versions": ("engine.runtime.compare", False),
    "deploy_decision": ("engine.runtime.versions", False),
    "deploy_diagram": ("engine.runtime.versions", False),
    "deployed_forms": ("engine.runtime.versions", False),
    "form_text": ("engine.runtime.versions", False),
    "form_users": ("engine.runtime.versions", False),
    "get_process": ("engine.runtime.versions", False),
    "list_processes": ("engine.runtime.versions", False),
    "migrate_case": ("engine.runtime.migration", False),
    "deploy_template": ("engine.runtime.template_preview", False),
    "message_template": ("engine.runtime.template_preview", False),
    "preview_template": ("engine.runtime.template_preview", False),
    "sample_cases": ("engine.runtime.preview_sample", False),
    "sample_data": ("engine.runtime.preview_sample", False),
    "sms_count": ("engine.runtime.template_preview", False),
    "version_message_templates": ("engine.runtime.template_preview", False),
    "deploy_instructions": ("engine.runtime.instructions", False),
    "preview_instructions": ("engine.runtime.instructions", False),
    "task_instruction": ("engine.runtime.instructions", False),
    "task_instructions": ("engine.runtime.instructions", False),
    "migration_candidates": ("engine.runtime.migration", False),
    "templating": ("engine.spiff.templating", True),
    "Database": ("engine.store.database", False),
    "WorkerHeartbeat": ("engine.store.tables", False),
    "Worker": ("engine.worker.timers", False),
}

__all__ = sorted(_SURFACE)


def __getattr__(name: str) -> Any:
    try:
        module, is_module = _SURFACE[name]
    except KeyError:
        raise AttributeError(f"module 'engine' has no attribute {name!r}") from None
    value = (
        importlib.import_module(module)
        if is_module
        else getattr(importlib.import_module(module), name)
    )
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
