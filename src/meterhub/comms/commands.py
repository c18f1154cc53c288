"""The durable command queue: persisted before sending, executed once, every step kept.

Head-end processes claim work with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) and a
lease: a process that dies mid-command lets its lease run out and another (or itself,
restarted) takes the command up again; the executor checks the meter's state before
acting twice (headend.commands).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.assets.models import Meter, Protocol
from meterhub.comms import switch_state
from meterhub.comms.fleet import meter_ref
from meterhub.comms.models import Command, CommandStep
from meterhub.headend.commands import CommandTask, Outcome

MAX_ATTEMPTS = 5
LEASE = timedelta(seconds=60)
RELAY_KINDS = {Command.Kind.RELAY_TRIP, Command.Kind.RELAY_CLOSE_ALLOWED, Command.Kind.RELAY_DIRECT_CLOSE}
VALVE_KINDS = {Command.Kind.VALVE_CLOSE, Command.Kind.VALVE_OPEN}
DI_HEX = re.compile(r"[0-9A-Fa-f]{8}")
ORPHANED = "the meter is no longer on a collector"


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
    if meter.protocol == Protocol.DLT645_1997:
        if kind in RELAY_KINDS:
            raise ValidationError(_("DL/T 645-1997 meters have no relay control"))
        if kind == Command.Kind.TIME_SYNC:
            raise ValidationError(_("DL/T 645-1997 meters cannot report their clock"))
    if not meter.collector_id:
        raise ValidationError(_("Meter %(m)s is not on a collector") % {"m": meter})
    params = params or {}
    _check_params(meter, kind, params)
    who = getattr(actor, "username", "") or requested_by or "system"
    command = Command.objects.create(meter=meter, kind=kind, params=params, requested_by=who,
                                     reason=reason, valid_until=timezone.now() + valid_for)
    _step(command, "queued", {"by": who, "reason": reason})
    audit.record("command", meter, {"command": [None, kind], "reason": [None, reason]}, actor=actor,
                 actor_name=None if actor is not None else requested_by or None)  # "billing", "kiosk:T01"
    return command


def _check_params(meter: Meter, kind: str, params: dict) -> None:
    """Refuse at request time what the head-end could not carry out (headend.commands)."""
    if not isinstance(params, dict):
        raise ValidationError(_("Command parameters must be a mapping"))
    if kind == Command.Kind.READ_NOW:
        items = params.get("items", [])
        if not isinstance(items, list | tuple) or not all(isinstance(d, str) and DI_HEX.fullmatch(d)
                                                          for d in items):
            raise ValidationError(_("Items to read must be data identifiers of 8 hex digits each"))
        if meter.protocol == Protocol.DLT645_1997 and any(int(d, 16) > 0xFFFF for d in items):
            raise ValidationError(_("DL/T 645-1997 data identifiers are 4 hex digits (0000xxxx)"))
    if kind == Command.Kind.TIME_SYNC and "tolerance_s" in params:
        tolerance = params["tolerance_s"]
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
            raise ValidationError(_("The clock tolerance must be a number of seconds"))


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


def _on_buses(buses: set[tuple[str, int]]) -> Q:
    """Meters on any of these buses, as one SQL condition: an OR per bus port (a handful),
    each with the registration ids held on that port, so thousands of buses stay one query."""
    by_port: dict[int, set[str]] = {}
    for registration_id, port in buses:
        by_port.setdefault(port, set()).add(registration_id)
    condition = Q()
    for port, registration_ids in sorted(by_port.items()):
        condition |= Q(meter__bus_port=port, meter__collector__registration_id__in=sorted(registration_ids))
    return condition


def _fail_orphans(node: str, runnable: Q, now: datetime, limit: int) -> int:
    """Commands whose meter was taken off its collector can never run: fail them, with the reason."""
    orphans = list(_lock(Command.objects.filter(runnable, valid_until__gte=now, meter__collector__isnull=True)
                         .order_by("created_at", "id"))[:limit])
    for command in orphans:
        command.status, command.finished_at, command.lease_until = Command.Status.FAILED, now, None
        command.result = {"error": ORPHANED}
        command.save(update_fields=["status", "finished_at", "lease_until", "result"])
        _step(command, "error", {"error": ORPHANED}, node=node, at=now)
    return len(orphans)


@transaction.atomic
def claim(node: str, buses: set[tuple[str, int]], *, limit: int = 100, now: datetime | None = None
          ) -> list[CommandTask]:
    """Take up to `limit` runnable commands for meters on buses this head-end holds."""
    now = now or timezone.now()
    runnable = (Q(status=Command.Status.PENDING) | Q(status=Command.Status.SENDING, lease_until__lt=now))
    _fail_orphans(node, runnable, now, limit)
    if not buses:
        return []
    query = _lock(Command.objects.filter(runnable, _on_buses(buses), valid_until__gte=now,
                                         meter__collector__isnull=False)
                  .select_related("meter__collector", "meter__site").order_by("created_at", "id"))
    tasks = []
    for command in query[:limit]:
        meter = command.meter
        command.status, command.node, command.lease_until = Command.Status.SENDING, node, now + LEASE
        command.attempts += 1
        command.save(update_fields=["status", "node", "lease_until", "attempts"])
        _step(command, "claimed", {"attempt": command.attempts}, node=node, at=now)
        tasks.append(CommandTask(command.pk, command.kind, meter_ref(meter), command.valid_until,
                                 meter.site.time_zone, command.attempts, command.params))
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
    if command.status == Command.Status.DONE and command.kind in RELAY_KINDS | VALVE_KINDS:
        switch_state.observe_command(command, now)
    return command
