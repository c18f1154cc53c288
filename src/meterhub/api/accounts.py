"""Billing accounts (balance, supply, credit limit) and each account's ledger, id-ordered keyset pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Query, Router

from meterhub.accounts import roles
from meterhub.api import paging
from meterhub.api.filters import given
from meterhub.api.registry import IdPageQuery
from meterhub.api.routes import get
from meterhub.api.schemas import AccountDetail, AccountPage, AwareTime, DbInt, LedgerPage
from meterhub.billing.models import Account, PrepaidCursor

router = Router(tags=["billing"])


class AccountQuery(IdPageQuery):
    number: str | None = None
    site: str | None = None  # site code
    customer: str | None = None  # the customer's account number
    meter: str | None = None  # meter serial
    utility: str | None = None  # electricity | water | gas
    payment_mode: str | None = None  # prepaid | postpaid
    supply: str | None = None  # on | off
    open: bool | None = None  # true: not closed


def _account(a: Account) -> dict:
    return {"id": a.pk, "number": a.number, "site": a.site.code, "currency": a.site.currency,
            "customer_id": a.customer_id, "customer": a.customer.account_no, "premise_id": a.premise_id,
            "meter_id": a.meter_id, "meter": a.meter.serial, "utility": a.utility, "payment_mode": a.payment_mode,
            "balance": a.balance, "credit_limit": a.credit_limit, "supply": a.supply, "vulnerable": a.vulnerable,
            "opened_on": a.opened_on, "closed_on": a.closed_on}


@get(router, "/accounts", roles.BILLING_VIEW, url_name="api-accounts", response=AccountPage,
     summary="Billing accounts with balance, supply and credit limit")
def account_list(request, q: Query[AccountQuery]):
    rows = given(Account.objects.select_related("site", "customer", "meter"), number=q.number, site__code=q.site,
                 customer__account_no=q.customer, meter__serial=q.meter, utility=q.utility,
                 payment_mode=q.payment_mode, supply=q.supply, closed_on__isnull=q.open)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [_account(a) for a in items], "next_after": next_after}


@get(router, "/accounts/{account_id}", roles.BILLING_VIEW, url_name="api-account", response=AccountDetail,
     summary="One billing account: balance, supply and its last change, prepaid charging progress")
def account_detail(request, account_id: DbInt):
    account = get_object_or_404(Account.objects.select_related("site", "customer", "meter", "premise__building"),
                                pk=account_id)
    action = account.supply_actions.first()
    cursor = PrepaidCursor.objects.filter(account=account).first()
    return _account(account) | {
        "customer_name": account.customer.name, "premise": str(account.premise) if account.premise_id else None,
        "last_supply_action": action and {"action": action.action, "at": action.at, "reason": action.reason,
                                          "command_id": action.command_id, "balance": action.balance},
        "month_volume": cursor and cursor.month_volume, "charged_up_to": cursor and cursor.last_ts}


class EntryQuery(IdPageQuery):
    kind: str | None = None  # recharge | payment | consumption | standing | bill | refund | correction | late_fee
    at_from: AwareTime | None = None
    at_to: AwareTime | None = None  # excluded


@get(router, "/accounts/{account_id}/entries", roles.BILLING_VIEW, url_name="api-account-entries",
     response=LedgerPage, summary="An account's ledger entries (append-only; the balance is their sum)")
def account_entries(request, account_id: DbInt, q: Query[EntryQuery]):
    account = get_object_or_404(Account, pk=account_id)
    rows = given(account.entries.all(), kind=q.kind, at__gte=q.at_from, at__lt=q.at_to)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [{"id": e.pk, "kind": e.kind, "amount": e.amount, "at": e.at, "source": e.source,
                       "reference": e.reference, "memo": e.memo} for e in items], "next_after": next_after}
