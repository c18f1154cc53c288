"""Meters: the list, and one meter with how reading it goes, its relay or valve, its latest registers,
open alarms and seals (what the console's meter page shows)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from meterhub.accounts import roles
from meterhub.alarms import services as alarms
from meterhub.api.routes import get
from meterhub.api.schemas import DbInt, MeterDetail, MeterPage
from meterhub.assets.models import Meter
from meterhub.comms import field_state, switch_state
from meterhub.seals import custody

router = Router(tags=["meters"])


class MeterQuery(Schema):
    site: str | None = None  # site code
    kind: str | None = None  # electricity | water | gas
    active: bool | None = None
    page: DbInt = 1
    page_size: DbInt = 100


def meter_item(m: Meter) -> dict:
    """A meter as the list sends it (site and collector selected with it)."""
    return {"id": m.pk, "serial": m.serial, "site": m.site.code, "time_zone": m.site.time_zone, "kind": m.kind,
            "protocol": m.protocol, "address": m.address, "collector": m.collector.code if m.collector else None,
            "bus_port": m.bus_port, "ct_ratio": m.ct_ratio, "pt_ratio": m.pt_ratio, "multiplier": m.multiplier,
            "active": m.active}


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
    items = [meter_item(m) for m in found[:q.page_size]]
    return {"items": items, "page": q.page, "next_page": q.page + 1 if len(found) > q.page_size else None}


@get(router, "/meters/{meter_id}", roles.ASSETS_VIEW, url_name="api-meter", response=MeterDetail,
     summary="One meter: communication, relay or valve, latest registers, open alarms and seals")
def meter_detail(request, meter_id: DbInt):
    meter = get_object_or_404(Meter.objects.select_related("site", "collector"), pk=meter_id)
    seals = custody.seal_status(meter)
    return meter_item(meter) | {
        "switch": meter.switch, "comm": field_state.comm_status(meter), "switch_state": switch_state.last_seen(meter),
        "latest_readings": field_state.latest_readings(meter),
        "open_alarms": alarms.open_alarms(meter=meter).count(),
        "seals": seals["seals"], "seals_ok": seals["ok"]}
