"""Alarms, newest last in id order, filterable by site, meter, state, kind, severity and time raised."""

from __future__ import annotations

from ninja import Query, Router

from meterhub.accounts import roles
from meterhub.alarms.models import Alarm
from meterhub.api import paging
from meterhub.api.filters import given
from meterhub.api.registry import IdPageQuery
from meterhub.api.routes import get
from meterhub.api.schemas import AlarmPage, AwareTime, DbInt

router = Router(tags=["alarms"])


class AlarmQuery(IdPageQuery):
    site: str | None = None
    meter_id: DbInt | None = None
    state: str | None = None  # raised | acknowledged | cleared
    kind: str | None = None
    severity: str | None = None
    raised_from: AwareTime | None = None
    raised_to: AwareTime | None = None  # excluded


@get(router, "/alarms", roles.ALARMS_VIEW, url_name="api-alarms", response=AlarmPage, summary="Alarms")
def alarm_list(request, q: Query[AlarmQuery]):
    rows = given(Alarm.objects.select_related("site", "collector"), site__code=q.site, meter_id=q.meter_id,
                 state=q.state, kind=q.kind, severity=q.severity, raised_at__gte=q.raised_from,
                 raised_at__lt=q.raised_to)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [{"id": a.pk, "kind": a.kind, "severity": a.severity, "state": a.state, "site": a.site.code,
                       "meter_id": a.meter_id, "collector": a.collector.code if a.collector else None,
                       "raised_at": a.raised_at, "last_at": a.last_at, "count": a.count, "detail": a.detail,
                       "acknowledged_at": a.acknowledged_at, "cleared_at": a.cleared_at} for a in items],
            "next_after": next_after}
