"""Roles and what each may do.

A role is a fixed bundle of capabilities; every view and API route names the one
capability it needs (web.access.requires), and a test walks every route to prove it.
Kept in code, not in the database, so a role means the same on every installation.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    OPERATOR = "operator", _("Operator")
    FINANCE = "finance", _("Finance")
    TECHNICIAN = "technician", _("Field technician")
    ANALYST = "analyst", _("Revenue-protection analyst")
    READONLY = "readonly", _("Read-only")


# Capabilities, named "<area>.<verb>".
ASSETS_VIEW = "assets.view"
ASSETS_CHANGE = "assets.change"
ASSETS_IMPORT = "assets.import"
BILLING_VIEW = "billing.view"
BILLING_CHANGE = "billing.change"
PAYMENTS_TAKE = "payments.take"  # cashiers: take cash/card payments and print receipts
SEALS_VIEW = "seals.view"
SEALS_CHANGE = "seals.change"
ALARMS_VIEW = "alarms.view"
ALARMS_CHANGE = "alarms.change"
COMMANDS_SEND = "commands.send"
REPORTS_VIEW = "reports.view"
OPERATORS_MANAGE = "operators.manage"
AUDIT_VIEW = "audit.view"
READINGS_EDIT = "readings.edit"  # correct or supply readings, judge validation findings
CUSTOMERS_PERSONAL = "customers.personal"  # customers' phone and e-mail in the API (never the ID number)
TERMINALS_MANAGE = "terminals.manage"  # register self-service terminals, enable/disable them, issue their keys
CONSOLE = "console"  # any signed-in, active operator

_VIEW_ALL = {CONSOLE, ASSETS_VIEW, BILLING_VIEW, SEALS_VIEW, ALARMS_VIEW, REPORTS_VIEW}

CAPABILITIES: dict[str, frozenset[str]] = {
    Role.ADMINISTRATOR: frozenset(
        _VIEW_ALL
        | {ASSETS_CHANGE, ASSETS_IMPORT, BILLING_CHANGE, PAYMENTS_TAKE, SEALS_CHANGE, ALARMS_CHANGE,
           COMMANDS_SEND, OPERATORS_MANAGE, AUDIT_VIEW, READINGS_EDIT, CUSTOMERS_PERSONAL, TERMINALS_MANAGE}
    ),
    Role.OPERATOR: frozenset(_VIEW_ALL | {ASSETS_CHANGE, ASSETS_IMPORT, COMMANDS_SEND, ALARMS_CHANGE, READINGS_EDIT,
                                          PAYMENTS_TAKE, CUSTOMERS_PERSONAL, TERMINALS_MANAGE}),
    Role.FINANCE: frozenset(_VIEW_ALL | {BILLING_CHANGE, PAYMENTS_TAKE, CUSTOMERS_PERSONAL}),
    Role.TECHNICIAN: frozenset({CONSOLE, ASSETS_VIEW, SEALS_VIEW, SEALS_CHANGE, ALARMS_VIEW}),
    Role.ANALYST: frozenset(_VIEW_ALL | {ALARMS_CHANGE, SEALS_CHANGE, AUDIT_VIEW, READINGS_EDIT}),
    Role.READONLY: frozenset(_VIEW_ALL),
}

ALL_CAPABILITIES = frozenset().union(*CAPABILITIES.values())


def capabilities_of(role: str) -> frozenset[str]:
    return CAPABILITIES.get(role, frozenset())
