"""Who hears of what: turns an event into queued messages (called inside the caller's
transaction, so the event and its messages commit together).

`publish(event, data, site=...)` is the one call for integrators' webhooks: alarms publish
alarm.raised / alarm.cleared / alarm.escalated, billing payment.credited / payment.refunded,
comms relay.changed, and the readings pipeline reading.arrived (docs/api.md, Webhooks).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone, translation

from meterhub.notifications.models import (
    Channel,
    ContactPreference,
    DutyShift,
    Message,
    WebhookEndpoint,
)
from meterhub.notifications.templates import language_of, render

OPERATOR_LANGUAGE = "zh-hans"


def enqueue(channel: str, recipient: str, event: str, *, body: str, subject: str = "", name: str = "",
            language: str = "en", payload: dict | None = None, site=None, alarm=None, endpoint=None,
            event_id: uuid.UUID | None = None, not_before: datetime | None = None, held_reason: str = "") -> Message:
    return Message.objects.create(
        channel=channel, recipient=recipient, recipient_name=name[:150], event=event,
        event_id=event_id or uuid.uuid4(), language=language, subject=subject[:200], body=body,
        payload=payload or {}, site=site, alarm=alarm, endpoint=endpoint,
        next_attempt_at=not_before or timezone.now(), held_reason=held_reason)


def publish(event: str, data: dict, *, site=None, alarm=None, event_id: uuid.UUID | None = None) -> list[Message]:
    """Queue a signed webhook delivery of this event to every active endpoint subscribed to it.
    `data` may hold Decimals, dates and times: they travel as the API writes them (strings)."""
    event_id = event_id or uuid.uuid4()
    endpoints = [e for e in WebhookEndpoint.objects.filter(active=True).filter(
        Q(site__isnull=True) | Q(site=site) if site is not None else Q(site__isnull=True)) if event in e.events]
    if not endpoints:
        return []
    envelope = {"id": str(event_id), "type": event, "created": timezone.now().isoformat(),
                "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder))}
    return [enqueue(Channel.WEBHOOK, endpoint.url, event, body="", name=endpoint.name, payload=envelope, site=site,
                    alarm=alarm, endpoint=endpoint, event_id=event_id)
            for endpoint in endpoints]


# --- alarms --------------------------------------------------------------------------------

def alarm_data(alarm) -> dict:
    return {"alarm_id": alarm.pk, "kind": alarm.kind, "severity": alarm.severity, "state": alarm.state,
            "site": alarm.site.code, "meter": alarm.meter.serial if alarm.meter_id else None,
            "collector": alarm.collector.code if alarm.collector_id else None,
            "raised_at": alarm.raised_at.isoformat(), "count": alarm.count,
            "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
            "clear_reason": alarm.clear_reason, "detail": alarm.detail}


def _values(alarm, language: str, at: datetime) -> dict:
    where = alarm.meter.serial if alarm.meter_id else (alarm.collector.code if alarm.collector_id else "")
    with translation.override(language):
        kind = str(alarm.get_kind_display())
    local = at.astimezone(ZoneInfo(alarm.site.time_zone or "UTC"))
    return {"kind": kind, "where": where or alarm.site.name, "site": alarm.site.name, "severity": alarm.severity,
            "time": local.strftime("%Y-%m-%d %H:%M"), "alarm_id": alarm.pk}


def on_duty(site, at: datetime, level: int = 1):
    shifts = (DutyShift.objects.select_related("user")
              .filter(Q(site__isnull=True) | Q(site=site), level=level, starts_at__lte=at, ends_at__gt=at,
                      user__is_active=True))
    return list({s.user_id: s.user for s in shifts}.values())


def _to_operators(alarm, template: str, event: str, at: datetime, level: int, event_id) -> list[Message]:
    subject, body = render(template, OPERATOR_LANGUAGE, **_values(alarm, OPERATOR_LANGUAGE, at))
    out = []
    for user in on_duty(alarm.site, at, level):
        common = {"subject": subject, "body": body, "name": user.display_name, "language": OPERATOR_LANGUAGE,
                  "site": alarm.site, "alarm": alarm, "event_id": event_id}
        if user.phone:
            out.append(enqueue(Channel.SMS, user.phone, event, **common))
        if user.email:
            out.append(enqueue(Channel.EMAIL, user.email, event, **common))
    return out


def quiet_until(pref: ContactPreference | None, at: datetime, time_zone: str) -> datetime | None:
    """The end of the customer's quiet hours if `at` falls inside them, else None."""
    if pref is None or pref.quiet_from is None or pref.quiet_until is None:
        return None
    local = at.astimezone(ZoneInfo(time_zone or "UTC"))
    start, end, now = pref.quiet_from, pref.quiet_until, local.time()
    inside = start <= now < end if start < end else (now >= start or now < end)
    if not inside:
        return None
    wake = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake


def _to_customer(alarm, template: str, event: str, at: datetime, event_id) -> list[Message]:
    from meterhub.assets.history import served_by

    if not alarm.meter_id:
        return []
    _premise, customer = served_by(alarm.meter, at)
    if customer is None or not customer.active:
        return []
    pref = ContactPreference.objects.filter(customer=customer).first()
    language = language_of(customer.language)
    subject, body = render(template, language, **_values(alarm, language, at))
    # A critical alarm (a gas leak) is not held for quiet hours.
    hold = None if alarm.severity == "critical" else quiet_until(pref, at, alarm.site.time_zone)
    common = {"subject": subject, "body": body, "name": customer.name, "language": language, "site": alarm.site,
              "alarm": alarm, "event_id": event_id, "not_before": hold,
              "held_reason": "quiet hours" if hold else ""}
    out = []
    if customer.phone and (pref is None or pref.sms):
        out.append(enqueue(Channel.SMS, customer.phone, event, **common))
    if customer.email and pref is not None and pref.email:
        out.append(enqueue(Channel.EMAIL, customer.email, event, **common))
    if pref is not None and pref.wechat_openid:
        values = _values(alarm, language, at)
        data = {"first": {"value": subject}, "keyword1": {"value": values["kind"]},
                "keyword2": {"value": values["where"]}, "keyword3": {"value": values["time"]},
                "remark": {"value": body}}
        out.append(enqueue(Channel.WECHAT, pref.wechat_openid, event, **{**common, "payload": {"data": data}}))
    return out


def alarm_raised(alarm) -> list[Message]:
    from meterhub.alarms.models import CUSTOMER_KINDS

    event_id = uuid.uuid4()
    out = publish("alarm.raised", alarm_data(alarm), site=alarm.site, alarm=alarm, event_id=event_id)
    out += _to_operators(alarm, "alarm_raised", "alarm.raised", alarm.raised_at, 1, event_id)
    if alarm.kind in CUSTOMER_KINDS:
        out += _to_customer(alarm, "alarm_raised", "alarm.raised", alarm.raised_at, event_id)
    return out


def alarm_escalated(alarm) -> list[Message]:
    event_id = uuid.uuid4()
    out = publish("alarm.escalated", alarm_data(alarm), site=alarm.site, alarm=alarm, event_id=event_id)
    return out + _to_operators(alarm, "alarm_escalated", "alarm.escalated", alarm.raised_at, 2, event_id)


def alarm_cleared(alarm) -> list[Message]:
    return publish("alarm.cleared", alarm_data(alarm), site=alarm.site, alarm=alarm)
