"""Seals: where each is (meter, collector, position) and its state. The seal code itself is not sent."""

from __future__ import annotations

from ninja import Query, Router

from meterhub.accounts import roles
from meterhub.api import paging
from meterhub.api.filters import given
from meterhub.api.registry import IdPageQuery
from meterhub.api.routes import get
from meterhub.api.schemas import DbInt, SealPage
from meterhub.seals.models import Seal

router = Router(tags=["seals"])


class SealQuery(IdPageQuery):
    serial: str | None = None
    state: str | None = None
    meter_id: DbInt | None = None
    site: str | None = None  # site code of the meter the seal is on


@get(router, "/seals", roles.SEALS_VIEW, url_name="api-seals", response=SealPage, summary="Seals")
def seal_list(request, q: Query[SealQuery]):
    rows = given(Seal.objects.select_related("collector"), serial=q.serial, state=q.state, meter_id=q.meter_id,
                 meter__site__code=q.site)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [{"id": s.pk, "serial": s.serial, "seal_type": s.seal_type, "state": s.state,
                       "meter_id": s.meter_id, "collector": s.collector.code if s.collector else None,
                       "position": s.position, "updated_at": s.updated_at} for s in items],
            "next_after": next_after}
