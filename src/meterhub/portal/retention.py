"""What the portal keeps only for a while, and when it goes.

Sessions (with the address and browser they were used from), one-time codes (with the phone
and the address that asked for them) and binding attempts (with the address) are needed
for minutes to a day: a session's 12 hours, a code's 5 minutes and the send limits' hour,
the binding lockout's 24 hours. Each is kept `RETENTION` after that, for questions to
customer service, then deleted by the head-end's hourly housekeeping
(runtime.run_housekeeping). The audit log keeps the sign-ins, bindings and refusals.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from meterhub.portal import sessions
from meterhub.portal.models import BindAttempt, OneTimeCode

RETENTION = timedelta(days=90)
PURGE_BATCH = 5000  # rows deleted a statement, so SQLite's write lock is never held long


def purge(now: datetime | None = None) -> int:
    """Delete what is past its retention; how many rows went."""
    cutoff = (now or timezone.now()) - RETENTION
    return sum(_delete_in_batches(rows) for rows in (
        sessions.past_retention(cutoff),
        OneTimeCode.objects.filter(expires_at__lt=cutoff),
        BindAttempt.objects.filter(at__lt=cutoff),
    ))


def _delete_in_batches(rows: QuerySet) -> int:
    removed = 0
    while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH]):
        removed += rows.model.objects.filter(pk__in=ids).delete()[0]
    return removed
