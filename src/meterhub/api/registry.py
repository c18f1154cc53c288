"""Sites and customers, id-ordered keyset pages (`after` = the last id seen, `next_after` for the next page)."""

from __future__ import annotations

from ninja import Query, Router, Schema

from meterhub.accounts import roles
from meterhub.api import paging
from meterhub.api.routes import get
from meterhub.api.schemas import CustomerPage, DbInt, SitePage
from meterhub.assets.models import Customer, Site

router = Router(tags=["sites and customers"])


class IdPageQuery(Schema):
    after: DbInt | None = None  # the last id of the previous page
    limit: DbInt = 100  # 1 to 1000


class SiteQuery(IdPageQuery):
    code: str | None = None


@get(router, "/sites", roles.ASSETS_VIEW, url_name="api-sites", response=SitePage, summary="Sites")
def site_list(request, q: Query[SiteQuery]):
    rows = Site.objects.all()
    if q.code:
        rows = rows.filter(code=q.code)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [{"id": s.pk, "code": s.code, "name": s.name, "time_zone": s.time_zone, "currency": s.currency,
                       "address": s.address, "meters": s.meters.count()} for s in items], "next_after": next_after}


class CustomerQuery(IdPageQuery):
    account_no: str | None = None
    customer_class: str | None = None
    active: bool | None = None
    site: str | None = None  # site code: customers with a tenancy at one of its premises


@get(router, "/customers", roles.BILLING_VIEW, url_name="api-customers", response=CustomerPage,
     summary="Customers (phone and e-mail only with customers.personal; never the ID number)")
def customer_list(request, q: Query[CustomerQuery]):
    rows = Customer.objects.all()
    if q.account_no:
        rows = rows.filter(account_no=q.account_no)
    if q.customer_class:
        rows = rows.filter(customer_class=q.customer_class)
    if q.active is not None:
        rows = rows.filter(active=q.active)
    if q.site:
        rows = rows.filter(pk__in=Customer.objects.filter(tenancies__premise__site__code=q.site).values("pk"))
    items, next_after = paging.by_id(rows, q.limit, q.after)
    personal = request.user.has_capability(roles.CUSTOMERS_PERSONAL) and (
        getattr(request, "api_token", None) is None or request.api_token.allows(roles.CUSTOMERS_PERSONAL))
    out = []
    for c in items:
        row = {"id": c.pk, "account_no": c.account_no, "name": c.name, "customer_class": c.customer_class,
               "language": c.language, "active": c.active, "phone": None, "email": None}
        if personal:
            row |= {"phone": c.phone, "email": c.email}
        out.append(row)
    return {"items": out, "next_after": next_after}
