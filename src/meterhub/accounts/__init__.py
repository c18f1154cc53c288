"""Operators, roles and the audit trail (logins and every change)."""
