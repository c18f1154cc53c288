"""Alarms, newest last in id order, filterable by site, meter, state, kind, severity and time raised; and one
alarm with its lifecycle."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Query, Router

from meterhub.accounts import roles
from meterhub.alarms import services
from meterhub.alarms.models import Alarm
from meterhub.api import paging
from meterhub.api.filters import given
from meterhub.api.registry import IdPageQuery
from meterhub.api.routes import get
from meterhub.api.schemas import AlarmDetail, AlarmPage, AwareTime, DbInt

router = Router(tags=["alarms"])


class AlarmQuery(IdPageQuery):
    site: str | None = None
    meter_id: DbInt | None = None
    state: str | None = None  # raised | acknowledged | cleared
    kind: str | None = None
    severity: str | None = None
    raised_from: AwareTime | None = None
    raised_to: AwareTime | None = None  # excluded


def _alarm(a: Alarm) -> dict:
    return {"id": a.pk, "kind": a.kind, "severity": a.severity, "state": a.state, "site": a.site.code,
            "meter_id": a.meter_id, "collector": a.collector.code if a.collector else None,
            "raised_at": a.raised_at, "last_at": a.last_at, "count": a.count, "detail": a.detail,
            "acknowledged_at": a.acknowledged_at, "cleared_at": a.cleared_at}


@get(router, "/alarms", roles.ALARMS_VIEW, url_name="api-alarms", response=AlarmPage, summary="Alarms")
def alarm_list(request, q: Query[AlarmQuery]):
    rows = given(Alarm.objects.select_related("site", "collector"), site__code=q.site, meter_id=q.meter_id,
                 state=q.state, kind=q.kind, severity=q.severity, raised_at__gte=q.raised_from,
                 raised_at__lt=q.raised_to)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [_alarm(a) for a in items], "next_after": next_after}


@get(router, "/alarms/{alarm_id}", roles.ALARMS_VIEW, url_name="api-alarm", response=AlarmDetail,
     summary="One alarm: raised, escalated, acknowledged and cleared, by whom and why")
def alarm_detail(request, alarm_id: DbInt):
    alarm = get_object_or_404(Alarm.objects.select_related("site", "collector", "acknowledged_by", "cleared_by"),
                              pk=alarm_id)
    return _alarm(alarm) | {
        "flaps": alarm.flaps, "escalated_at": alarm.escalated_at, "clear_reason": alarm.clear_reason,
        "acknowledged_by": alarm.acknowledged_by.username if alarm.acknowledged_by else None,
        "cleared_by": alarm.cleared_by.username if alarm.cleared_by else None,
        "history": services.lifecycle(alarm)}
