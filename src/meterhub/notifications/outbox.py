"""The outbox: claim messages to send, record what happened. Exactly once, across restarts.

claim() takes due messages with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite
serialises writers) and marks them `sending` under a lease for this node, in one short
transaction. finish() records the outcome of that attempt. A worker stopped cleanly
finishes what it handed over before it stops (worker.py), so nothing is sent twice; a
worker killed between a gateway's acceptance and finish() leaves a `sending` row whose
lease runs out: it is sent again with the same delivery key, which the gateway (and an
integrator, by event id) recognises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from meterhub.notifications.models import Attempt, Message, Status

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
BACKOFF_S = (5.0, 3600.0)  # first retry after 5 s, doubling, at most an hour apart


@dataclass(frozen=True)
class Outcome:
    message_id: int
    attempt: int
    ok: bool
    detail: str  # gateway reference, or why it failed
    permanent: bool = False


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_S[0] * 2 ** (attempt - 1), BACKOFF_S[1]))


def _lock(query):
    if connection.features.has_select_for_update_skip_locked:
        return query.select_for_update(skip_locked=True, of=("self",))
    return query


@transaction.atomic
def claim(node: str, limit: int = 20, now: datetime | None = None) -> list[Message]:
    now = now or timezone.now()
    due = Q(status=Status.QUEUED, next_attempt_at__lte=now) | Q(status=Status.SENDING, lease_until__lt=now)
    messages = list(_lock(Message.objects.filter(due).order_by("next_attempt_at", "id"))[:limit])
    for message in messages:
        message.status, message.claimed_by, message.lease_until = Status.SENDING, node, now + LEASE
        message.attempts += 1
        message.save(update_fields=["status", "claimed_by", "lease_until", "attempts"])
    return list(Message.objects.select_related("endpoint").filter(pk__in=[m.pk for m in messages])
                .order_by("next_attempt_at", "id"))


@transaction.atomic
def release(message_ids: list[int], node: str) -> int:
    """Hand back claimed messages not yet given to any gateway (the worker is stopping)."""
    released = 0
    for message in Message.objects.select_for_update().filter(pk__in=message_ids, status=Status.SENDING,
                                                              claimed_by=node):
        message.status, message.lease_until, message.attempts = Status.QUEUED, None, message.attempts - 1
        message.save(update_fields=["status", "lease_until", "attempts"])
        released += 1
    return released


@transaction.atomic
def finish(outcome: Outcome, node: str = "", now: datetime | None = None) -> Message | None:
    """Record one attempt. Ignored if the message was taken over since (its lease ran out
    and another worker claimed it): that worker's attempt is the one that counts. If the
    gateway's delivery report came before the gateway's answer did (receipts.py), the
    report's status stands and the attempt is only recorded."""
    now = now or timezone.now()
    message = Message.objects.select_for_update().filter(pk=outcome.message_id).first()
    if message is None or message.status == Status.QUEUED or message.attempts != outcome.attempt:
        return None
    Attempt.objects.create(message=message, node=node, ok=outcome.ok, detail=outcome.detail[:300])
    message.lease_until = None
    if message.status != Status.SENDING:  # reported on already
        if outcome.ok:
            message.sent_at, message.provider_ref = message.sent_at or now, message.provider_ref or outcome.detail[:120]
    elif outcome.ok:
        message.status, message.sent_at, message.provider_ref, message.error = (
            Status.SENT, now, outcome.detail[:120], "")
    elif outcome.permanent or message.attempts >= MAX_ATTEMPTS:
        message.status, message.error = Status.FAILED, outcome.detail[:300]
    else:
        message.status, message.error = Status.QUEUED, outcome.detail[:300]
        message.next_attempt_at = now + backoff(message.attempts)
    message.save()
    return message
