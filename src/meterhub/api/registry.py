"""Sites and customers, id-ordered keyset pages (`after` = the last id seen, `next_after` for the next page)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from meterhub.accounts import roles
from meterhub.aggregates import dashboard
from meterhub.api import paging
from meterhub.api.auth import caller_has
from meterhub.api.filters import given
from meterhub.api.routes import get
from meterhub.api.schemas import CustomerDetail, CustomerPage, DbInt, SiteCode, SiteDetail, SitePage
from meterhub.assets.models import Customer, Meter, Site
from meterhub.billing.models import Account

router = Router(tags=["sites and customers"])


class IdPageQuery(Schema):
    after: DbInt | None = None  # the last id of the previous page
    limit: DbInt = 100  # 1 to 1000


class SiteQuery(IdPageQuery):
    code: str | None = None


def _sites():
    """Sites with their meter count (every meter, active or not) in the same query."""
    return Site.objects.annotate(meter_count=dashboard.count_per_site(Meter.objects.all()))


@get(router, "/sites", roles.ASSETS_VIEW, url_name="api-sites", response=SitePage, summary="Sites")
def site_list(request, q: Query[SiteQuery]):
    rows = _sites()
    if q.code:
        rows = rows.filter(code=q.code)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [_site(s) for s in items], "next_after": next_after}


def _site(s: Site) -> dict:
    return {"id": s.pk, "code": s.code, "name": s.name, "time_zone": s.time_zone, "currency": s.currency,
            "address": s.address, "meters": s.meter_count}


@get(router, "/sites/{site_code}", roles.ASSETS_VIEW, url_name="api-site", response=SiteDetail,
     summary="One site, by its code: its meters by kind and its collectors online and offline")
def site_detail(request, site_code: SiteCode):
    site = get_object_or_404(_sites(), code=site_code)
    return _site(site) | {"meters_by_kind": dashboard.meters_by_kind(site),
                          "collectors": dashboard.collector_counts(site)}


class CustomerQuery(IdPageQuery):
    account_no: str | None = None
    name: str | None = None  # part of the name, any case
    customer_class: str | None = None
    active: bool | None = None
    site: str | None = None  # site code: customers with a tenancy at one of its premises
    meter: str | None = None  # meter serial: customers with a billing account on it


def _customer(c: Customer, personal: bool) -> dict:
    return {"id": c.pk, "account_no": c.account_no, "name": c.name, "customer_class": c.customer_class,
            "language": c.language, "active": c.active, "phone": c.phone if personal else None,
            "email": c.email if personal else None}


@get(router, "/customers", roles.BILLING_VIEW, url_name="api-customers", response=CustomerPage,
     summary="Customers (phone and e-mail only with customers.personal; never the ID number)")
def customer_list(request, q: Query[CustomerQuery]):
    rows = given(Customer.objects.all(), account_no=q.account_no, name__icontains=q.name,
                 customer_class=q.customer_class, active=q.active)
    if q.site:
        rows = rows.filter(pk__in=Customer.objects.filter(tenancies__premise__site__code=q.site).values("pk"))
    if q.meter:
        rows = rows.filter(pk__in=Account.objects.filter(meter__serial=q.meter).values("customer_id"))
    items, next_after = paging.by_id(rows, q.limit, q.after)
    personal = caller_has(request, roles.CUSTOMERS_PERSONAL)
    return {"items": [_customer(c, personal) for c in items], "next_after": next_after}


@get(router, "/customers/{customer_id}", roles.BILLING_VIEW, url_name="api-customer", response=CustomerDetail,
     summary="One customer: where they live or lived, and their billing accounts")
def customer_detail(request, customer_id: DbInt):
    customer = get_object_or_404(Customer, pk=customer_id)
    personal = caller_has(request, roles.CUSTOMERS_PERSONAL)
    tenancies = customer.tenancies.select_related("premise__site", "premise__building").order_by("valid_from", "pk")
    accounts = customer.billing_accounts.select_related("site", "meter").order_by("pk")
    return _customer(customer, personal) | {
        "tenancies": [{"premise_id": t.premise_id, "site": t.premise.site.code,
                       "building": t.premise.building.code if t.premise.building_id else None,
                       "unit": t.premise.unit, "address": t.premise.address if personal else None,
                       "valid_from": t.valid_from, "valid_to": t.valid_to} for t in tenancies],
        "accounts": [{"id": a.pk, "number": a.number, "site": a.site.code, "meter_id": a.meter_id,
                      "meter": a.meter.serial, "utility": a.utility, "payment_mode": a.payment_mode,
                      "closed_on": a.closed_on} for a in accounts]}
