"""The durable command queue: persisted before sending, executed once, every step kept.

Head-end processes claim work with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) and a
lease: a process that dies mid-command lets its lease run out and another (or itself,
restarted) takes the command up again; the executor checks the meter's state before
acting twice (headend.commands).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.assets.models import Meter
from meterhub.comms.fleet import meter_ref
from meterhub.comms.models import Command, CommandStep
from meterhub.headend.commands import CommandTask, Outcome

MAX_ATTEMPTS = 5
LEASE = timedelta(seconds=60)
RELAY_KINDS = {Command.Kind.RELAY_TRIP, Command.Kind.RELAY_CLOSE_ALLOWED, Command.Kind.RELAY_DIRECT_CLOSE}
VALVE_KINDS = {Command.Kind.VALVE_CLOSE, Command.Kind.VALVE_OPEN}


def _step(command: Command, step: str, detail: dict | None = None, node: str = "", at=None) -> CommandStep:
    return CommandStep.objects.create(command=command, step=step, detail=detail or {}, node=node,
                                      at=at or timezone.now())


@transaction.atomic
def request_command(meter: Meter, kind: str, *, actor=None, requested_by: str = "", valid_for=timedelta(hours=1),
                    params: dict | None = None, reason: str = "") -> Command:
    if kind not in Command.Kind.values:
        raise ValidationError(_("Unknown command %(k)s") % {"k": kind})
    if kind in RELAY_KINDS and meter.switch != Meter.Switch.RELAY:
        raise ValidationError(_("Meter %(m)s has no relay") % {"m": meter})
    if kind in VALVE_KINDS and meter.switch != Meter.Switch.VALVE:
        raise ValidationError(_("Meter %(m)s has no valve") % {"m": meter})
    if not meter.collector_id:
        raise ValidationError(_("Meter %(m)s is not on a collector") % {"m": meter})
    who = getattr(actor, "username", "") or requested_by or "system"
    command = Command.objects.create(meter=meter, kind=kind, params=params or {}, requested_by=who,
                                     reason=reason, valid_until=timezone.now() + valid_for)
    _step(command, "queued", {"by": who, "reason": reason})
    audit.record("command", meter, {"command": [None, kind], "reason": [None, reason]}, actor=actor)
    return command


def _lock(query):
    # SQLite serialises writers already; PostgreSQL lets several head-ends share the queue.
    if connection.features.has_select_for_update_skip_locked:
        return query.select_for_update(skip_locked=True, of=("self",))
    return query


@transaction.atomic
def expire_overdue(now: datetime | None = None) -> int:
    now = now or timezone.now()
    overdue = list(_lock(Command.objects.filter(status__in=[Command.Status.PENDING, Command.Status.SENDING],
                                                valid_until__lt=now)))
    for command in overdue:
        command.status, command.finished_at = Command.Status.EXPIRED, now
        command.save(update_fields=["status", "finished_at"])
        _step(command, "expired", {"valid_until": command.valid_until.isoformat()}, at=now)
    return len(overdue)


@transaction.atomic
def claim(node: str, buses: set[tuple[str, int]], *, limit: int = 100, now: datetime | None = None
          ) -> list[CommandTask]:
    """Take up to `limit` runnable commands for meters on buses this head-end holds."""
    now = now or timezone.now()
    if not buses:
        return []
    runnable = (Q(status=Command.Status.PENDING) | Q(status=Command.Status.SENDING, lease_until__lt=now))
    query = _lock(Command.objects.filter(runnable, valid_until__gte=now)
                  .select_related("meter__collector", "meter__site").order_by("created_at", "id"))
    tasks = []
    for command in query[: limit * 4]:
        meter = command.meter
        if (meter.collector.registration_id, meter.bus_port) not in buses:
            continue
        command.status, command.node, command.lease_until = Command.Status.SENDING, node, now + LEASE
        command.attempts += 1
        command.save(update_fields=["status", "node", "lease_until", "attempts"])
        _step(command, "claimed", {"attempt": command.attempts}, node=node, at=now)
        tasks.append(CommandTask(command.pk, command.kind, meter_ref(meter), command.valid_until,
                                 meter.site.time_zone, command.attempts, command.params))
        if len(tasks) >= limit:
            break
    return tasks


@transaction.atomic
def finish(command_id: int, outcome: Outcome, node: str = "") -> Command:
    command = Command.objects.select_for_update().get(pk=command_id)
    now = timezone.now()
    for step, detail in outcome.steps:
        _step(command, step, detail, node=node, at=now)
    command.result = outcome.result
    if outcome.status == "done":
        command.status, command.finished_at = Command.Status.DONE, now
    elif outcome.status == "failed" or command.attempts >= MAX_ATTEMPTS:
        command.status, command.finished_at = Command.Status.FAILED, now
    else:
        command.status, command.lease_until = Command.Status.PENDING, None
    command.save(update_fields=["result", "status", "finished_at", "lease_until"])
    return command
