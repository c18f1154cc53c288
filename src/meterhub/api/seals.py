"""Seals: where each is (meter, collector, position) and its state, and one seal with its custody history.
The seal code itself is not sent."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Query, Router

from meterhub.accounts import roles
from meterhub.api import paging
from meterhub.api.auth import caller_has
from meterhub.api.filters import given
from meterhub.api.registry import IdPageQuery
from meterhub.api.routes import get
from meterhub.api.schemas import DbInt, SealDetail, SealPage
from meterhub.seals import custody
from meterhub.seals.models import Seal, SealEvent

router = Router(tags=["seals"])


class SealQuery(IdPageQuery):
    serial: str | None = None
    state: str | None = None
    meter_id: DbInt | None = None
    site: str | None = None  # site code of the meter the seal is on


def _seal(s: Seal) -> dict:
    return {"id": s.pk, "serial": s.serial, "seal_type": s.seal_type, "state": s.state, "meter_id": s.meter_id,
            "collector": s.collector.code if s.collector else None, "position": s.position,
            "updated_at": s.updated_at}


def _username(user) -> str | None:
    return user.username if user is not None else None


def _event(e: SealEvent, personal: bool) -> dict:
    """One custody step. Where and the notes are free text typed in the field (a customer's address, say):
    only to a caller with customers.personal."""
    return {"action": e.action, "from_state": e.from_state, "to_state": e.to_state, "at": e.at,
            "by": _username(e.actor), "technician": _username(e.technician), "meter_id": e.meter_id,
            "meter": e.meter.serial if e.meter else None, "collector": e.collector.code if e.collector else None,
            "position": e.position, "reason": e.reason, "job": e.job, "photo": e.photo_id is not None,
            "location": e.location if personal else None, "notes": e.notes if personal else None}


@get(router, "/seals", roles.SEALS_VIEW, url_name="api-seals", response=SealPage, summary="Seals")
def seal_list(request, q: Query[SealQuery]):
    rows = given(Seal.objects.select_related("collector"), serial=q.serial, state=q.state, meter_id=q.meter_id,
                 meter__site__code=q.site)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [_seal(s) for s in items], "next_after": next_after}


@get(router, "/seals/{seal_id}", roles.SEALS_VIEW, url_name="api-seal", response=SealDetail,
     summary="One seal and its custody history (where and notes only with customers.personal)")
def seal_detail(request, seal_id: DbInt):
    seal = get_object_or_404(Seal.objects.select_related("collector", "batch", "holder"), pk=seal_id)
    personal = caller_has(request, roles.CUSTOMERS_PERSONAL)
    return _seal(seal) | {
        "batch": seal.batch.reference if seal.batch else None, "chip_asset": seal.chip_asset,
        "holder": _username(seal.holder), "history": [_event(e, personal) for e in custody.history(seal)]}
