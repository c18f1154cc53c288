"""The meter list."""

from __future__ import annotations

from ninja import Query, Router, Schema
from ninja.errors import HttpError

from meterhub.accounts import roles
from meterhub.api.routes import get
from meterhub.api.schemas import DbInt, MeterPage
from meterhub.assets.models import Meter

router = Router(tags=["meters"])


class MeterQuery(Schema):
    site: str | None = None  # site code
    kind: str | None = None  # electricity | water | gas
    active: bool | None = None
    page: DbInt = 1
    page_size: DbInt = 100


@get(router, "/meters", roles.ASSETS_VIEW, url_name="api-meters", response=MeterPage, summary="Meters")
def meter_list(request, q: Query[MeterQuery]):
    if not 1 <= q.page <= 1_000_000 or not 1 <= q.page_size <= 1000:
        raise HttpError(400, "page must be between 1 and 1000000 and page_size between 1 and 1000")
    meters = Meter.objects.select_related("site", "collector").order_by("pk")
    if q.site:
        meters = meters.filter(site__code=q.site)
    if q.kind:
        meters = meters.filter(kind=q.kind)
    if q.active is not None:
        meters = meters.filter(active=q.active)
    found = list(meters[(q.page - 1) * q.page_size:q.page * q.page_size + 1])
    items = [{"id": m.pk, "serial": m.serial, "site": m.site.code, "time_zone": m.site.time_zone, "kind": m.kind,
              "protocol": m.protocol, "address": m.address, "collector": m.collector.code if m.collector else None,
              "bus_port": m.bus_port, "ct_ratio": m.ct_ratio, "pt_ratio": m.pt_ratio, "multiplier": m.multiplier,
              "active": m.active} for m in found[:q.page_size]]
    return {"items": items, "page": q.page, "next_page": q.page + 1 if len(found) > q.page_size else None}
