"""Creating and changing registry records, every change audited.

Views and importers call these; nothing else saves an asset.
"""

from __future__ import annotations

from django.db import transaction
from django.forms.models import model_to_dict

from meterhub.accounts import audit


def snapshot(obj) -> dict:
    return model_to_dict(obj) if obj.pk else {}


@transaction.atomic
def save(obj, *, before: dict | None = None, actor=None):
    """Validate and save obj; audit a create or the changed fields of an update.

    `before` is the snapshot taken before the caller changed obj (forms change the
    instance in place, so the caller must take it first).
    """
    creating = obj.pk is None
    obj.full_clean()
    obj.save()
    changes = audit.diff(before or {}, model_to_dict(obj))
    if creating or changes:
        audit.record("create" if creating else "update", obj, changes, actor=actor)
    return obj
