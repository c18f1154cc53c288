"""Recording changes in the append-only audit log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from meterhub.accounts import context
from meterhub.accounts.models import AuditEntry

# Field values never written to the audit log in clear.
SECRET_FIELDS = frozenset({"password", "password_encrypted", "operator_code", "id_number", "key_hash"})


@dataclass(frozen=True)
class Typed:
    """What an entry names when typed text matches no record (an unknown terminal code, a number
    looked up that is no account): the text as typed, under the type it was meant to be."""

    audit_type: str
    text: str
    pk = ""

    def __str__(self):
        return self.text


def _plain(value):
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


def diff(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields that changed; secrets shown as '***'."""
    out = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new and _plain(old) != _plain(new):  # Decimal("1.00") == Decimal("1"): no change
            out[key] = ["***", "***"] if key in SECRET_FIELDS else [_plain(old), _plain(new)]
    return out


def entry(action: str, obj, changes: dict | None = None, actor=None, actor_name: str | None = None) -> AuditEntry:
    """An unsaved entry for obj (use record() to save one, or bulk_create many).

    `actor_name` names someone who is not an operator (a portal customer, "customer:138****0001"):
    the entry then has no operator, whoever may be signed in to the console in the same browser."""
    acting = context.current.get()
    if actor_name is not None:
        actor = None
    else:
        actor = actor if actor is not None else acting.user
        actor_name = getattr(actor, "username", None) or "system"
    return AuditEntry(
        actor=actor,
        actor_name=actor_name[:150],
        action=action,
        object_type=obj._meta.model_name if hasattr(obj, "_meta") else getattr(obj, "audit_type", "other"),
        object_id=str(getattr(obj, "pk", "") or ""),
        object_repr=str(obj)[:200],
        changes=changes or {},
        ip=acting.ip,
    )


def record(action: str, obj, changes: dict | None = None, actor=None, actor_name: str | None = None) -> AuditEntry:
    item = entry(action, obj, changes, actor, actor_name)
    item.save()
    return item


def record_many(entries: Iterable[AuditEntry]) -> None:
    AuditEntry.objects.bulk_create(list(entries), batch_size=2000)
