"""Raising, acknowledging and clearing alarms.

raise_alarm is idempotent for a re-delivered report: the same occurrence (same time or
older than the last one counted) does not raise the count again. A condition that comes
back within the site's flapping window after it cleared by itself reopens that alarm
(flaps + 1) instead of opening a new one, and nobody is told again. Every change that
people hear about writes its notifications (notifications.dispatch) in the same
transaction as the alarm, so an alarm and its messages exist together or not at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.alarms.models import SEVERITY, Alarm, AlarmSettings, State
from meterhub.notifications import dispatch

AUTO_CLEAR_REASON = "condition ended"


def open_alarms(**where):
    """Alarms not cleared (raised or acknowledged), narrowed by `where` (meter=..., site=...)."""
    return Alarm.objects.filter(**where).exclude(state=State.CLEARED)


def lifecycle(alarm: Alarm) -> list[dict]:
    """What happened to the alarm, as its row keeps it, in time order: raised, escalated, acknowledged and
    cleared, each with who (None: the system) and, for clearing, why. A reopened alarm (flapping) keeps only
    its latest cycle; `count` and `flaps` say how often it came."""
    events = [{"event": "raised", "at": alarm.raised_at, "by": None, "reason": ""}]
    if alarm.escalated_at:
        events.append({"event": "escalated", "at": alarm.escalated_at, "by": None, "reason": ""})
    if alarm.acknowledged_at:
        events.append({"event": "acknowledged", "at": alarm.acknowledged_at, "by": _username(alarm.acknowledged_by),
                       "reason": ""})
    if alarm.state == State.CLEARED and alarm.cleared_at:
        events.append({"event": "cleared", "at": alarm.cleared_at, "by": _username(alarm.cleared_by),
                       "reason": alarm.clear_reason})
    return sorted(events, key=lambda e: e["at"])  # stable: raised stays first on a tie


def _username(user) -> str | None:
    return user.username if user is not None else None


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
        flapping = _recently_cleared_by_itself(kind, at, meter, collector, site)
        if flapping is not None:
            return _reopen(flapping, at, detail), False
        try:
            with transaction.atomic():
                alarm = Alarm.objects.create(
                    kind=kind, severity=severity or SEVERITY.get(kind, "major"), meter=meter,
                    collector=collector, site=site, raised_at=at, last_at=at, detail=detail or {})
        except IntegrityError:  # raised by another writer a moment ago: count it there
            return raise_alarm(kind, at, meter=meter, collector=collector, site=site, severity=severity,
                               detail=detail)
        dispatch.alarm_raised(alarm)
    return alarm, True


def _recently_cleared_by_itself(kind, at, meter, collector, site) -> Alarm | None:
    window = timedelta(minutes=AlarmSettings.for_site(site.pk).flap_window_min)
    last = (Alarm.objects.select_for_update()
            .filter(kind=kind, meter=meter, collector=collector, state=State.CLEARED, cleared_by__isnull=True)
            .order_by("-cleared_at").first())
    if last is not None and last.cleared_at is not None and last.cleared_at <= at <= last.cleared_at + window:
        return last
    return None


def _reopen(alarm: Alarm, at: datetime, detail: dict | None) -> Alarm:
    alarm.state, alarm.cleared_at, alarm.clear_reason = State.RAISED, None, ""
    alarm.acknowledged_by, alarm.acknowledged_at = None, None
    alarm.count, alarm.flaps, alarm.last_at = alarm.count + 1, alarm.flaps + 1, at
    alarm.detail = {**alarm.detail, **(detail or {})}
    alarm.save()
    return alarm


def resolve(kind: str, at: datetime, *, meter=None, collector=None) -> Alarm | None:
    """The condition has ended: clear its open alarm by itself (nobody's hand, no reason
    needed); None if there was none."""
    with transaction.atomic():
        alarm = open_alarm(kind, meter=meter, collector=collector)
        if alarm is None:
            return None
        alarm.state, alarm.cleared_at, alarm.clear_reason = State.CLEARED, max(at, alarm.last_at), AUTO_CLEAR_REASON
        alarm.save(update_fields=["state", "cleared_at", "clear_reason"])
        dispatch.alarm_cleared(alarm)
    return alarm


def escalate_overdue(now: datetime | None = None) -> list[Alarm]:
    """Raised alarms nobody acknowledged within their site's escalation time: mark them and
    tell the second line on duty. Each alarm escalates once."""
    now = now or timezone.now()
    escalated = []
    with transaction.atomic():
        candidates = Alarm.objects.select_for_update().filter(state=State.RAISED, escalated_at__isnull=True)
        settings_by_site: dict[int, AlarmSettings] = {}
        for alarm in candidates:
            limits = settings_by_site.setdefault(alarm.site_id, AlarmSettings.for_site(alarm.site_id))
            if alarm.raised_at + timedelta(minutes=limits.escalate_after_min) > now:
                continue
            alarm.escalated_at = now
            alarm.save(update_fields=["escalated_at"])
            dispatch.alarm_escalated(alarm)
            escalated.append(alarm)
    return escalated


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
        dispatch.alarm_cleared(alarm)
    return alarm


def clear_for_meter(meter, kinds: tuple[str, ...], user, reason: str) -> list[Alarm]:
    """Clear every open alarm of these kinds on a meter (an authorised job fixed it)."""
    return [clear(a, user, reason) for a in Alarm.objects.filter(meter=meter, kind__in=kinds)
            .exclude(state=State.CLEARED)]
