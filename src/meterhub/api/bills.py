"""Bills of the monthly bill run: by account, site or period, and one bill with its lines."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Query, Router
from pydantic import Field

from meterhub.accounts import roles
from meterhub.api import paging
from meterhub.api.filters import given
from meterhub.api.registry import IdPageQuery
from meterhub.api.routes import get
from meterhub.api.schemas import BillDetail, BillPage, DbInt
from meterhub.billing.models import Bill

router = Router(tags=["billing"])
FIELDS = ("period", "period_start", "period_end", "issued_on", "due_on", "opening_balance", "charges",
          "closing_balance", "amount_due", "volume", "estimated")
LINE_FIELDS = ("code", "quantity", "unit", "unit_price", "amount", "valid_from")


class BillQuery(IdPageQuery):
    account: str | None = None  # account number
    site: str | None = None  # site code
    period: str | None = Field(None, pattern=r"^\d{4}-\d{2}$")  # 2026-11


def _bill(b: Bill) -> dict:
    return {"id": b.pk, "account_id": b.account_id, "account": b.account.number} | {f: getattr(b, f) for f in FIELDS}


@get(router, "/bills", roles.BILLING_VIEW, url_name="api-bills", response=BillPage, summary="Bills")
def bill_list(request, q: Query[BillQuery]):
    rows = given(Bill.objects.select_related("account"), account__number=q.account, account__site__code=q.site,
                 period=q.period)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [_bill(b) for b in items], "next_after": next_after}


@get(router, "/bills/{bill_id}", roles.BILLING_VIEW, url_name="api-bill", response=BillDetail,
     summary="One bill with its lines (energy by period and tier, standing charge, ...)")
def bill_detail(request, bill_id: DbInt):
    bill = get_object_or_404(Bill.objects.select_related("account__site"), pk=bill_id)
    return _bill(bill) | {"currency": bill.account.site.currency, "reads": bill.reads,
                          "lines": list(bill.lines.order_by("position").values(*LINE_FIELDS))}
