"""Raising, acknowledging and clearing alarms.

raise_alarm is idempotent for a re-delivered report: the same occurrence (same time or
older than the last one counted) does not raise the count again.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.alarms.models import Alarm, State

SEVERITY = {"seal_open": "critical", "foreign_seal": "critical", "seal_unknown": "major"}


def open_alarm(kind: str, *, meter=None, collector=None) -> Alarm | None:
    return (Alarm.objects.select_for_update()
            .filter(kind=kind, meter=meter, collector=collector).exclude(state=State.CLEARED).first())


def raise_alarm(kind: str, at: datetime, *, meter=None, collector=None, site=None,
                severity: str | None = None, detail: dict | None = None) -> tuple[Alarm, bool]:
    """The open alarm for this condition, counted once more if `at` is a new occurrence;
    (alarm, created)."""
    if meter is None and collector is None and site is None:
        raise ValueError("an alarm needs a meter, a collector or a site")
    site = site or (meter.site if meter is not None else collector.site)
    with transaction.atomic():
        alarm = open_alarm(kind, meter=meter, collector=collector)
        if alarm is not None:
            if at > alarm.last_at:
                alarm.count += 1
                alarm.last_at = at
                alarm.detail = {**alarm.detail, **(detail or {})}
                alarm.save(update_fields=["count", "last_at", "detail"])
            return alarm, False
        try:
            with transaction.atomic():
                alarm = Alarm.objects.create(
                    kind=kind, severity=severity or SEVERITY.get(kind, "major"), meter=meter,
                    collector=collector, site=site, raised_at=at, last_at=at, detail=detail or {})
        except IntegrityError:  # raised by another writer a moment ago: count it there
            return raise_alarm(kind, at, meter=meter, collector=collector, site=site, severity=severity,
                               detail=detail)
    return alarm, True


def acknowledge(alarm: Alarm, user) -> Alarm:
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
        if alarm.state != State.RAISED:
            raise ValidationError(_("Only a raised alarm can be acknowledged; this one is %(s)s.")
                                  % {"s": alarm.get_state_display()})
        alarm.state, alarm.acknowledged_by, alarm.acknowledged_at = State.ACKNOWLEDGED, user, timezone.now()
        alarm.save(update_fields=["state", "acknowledged_by", "acknowledged_at"])
        audit.record("acknowledge", alarm, actor=user)
    return alarm


def clear(alarm: Alarm, user, reason: str) -> Alarm:
    if not reason.strip():
        raise ValidationError(_("Say why the alarm is cleared."))
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
        if alarm.state == State.CLEARED:
            raise ValidationError(_("This alarm is already cleared."))
        alarm.state, alarm.cleared_by, alarm.cleared_at = State.CLEARED, user, timezone.now()
        alarm.clear_reason = reason[:200]
        alarm.save(update_fields=["state", "cleared_by", "cleared_at", "clear_reason"])
        audit.record("clear", alarm, {"reason": [None, alarm.clear_reason]}, actor=user)
    return alarm


def clear_for_meter(meter, kinds: tuple[str, ...], user, reason: str) -> list[Alarm]:
    """Clear every open alarm of these kinds on a meter (an authorised job fixed it)."""
    return [clear(a, user, reason) for a in Alarm.objects.filter(meter=meter, kind__in=kinds)
            .exclude(state=State.CLEARED)]
