"""Billing accounts follow the asset history: one account per tenancy and meter.

A customer who moves into a premise gets an account for each meter installed there
(electricity, water, gas; prepaid or postpaid as the meter is), numbered
`<customer account>-<E|W|G><meter id>`; when the tenancy or the installation ends, the
account closes on that local day and is billed up to it. Running this again changes
nothing that is already right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from meterhub.assets.models import MeterInstallation, Site, Tenancy
from meterhub.billing.models import Account


@dataclass
class Sync:
    opened: list[str]
    closed: list[str]


def _local_day(at, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


@transaction.atomic
def sync_accounts(site: Site, now=None) -> Sync:
    now = now or timezone.now()
    zone = ZoneInfo(site.time_zone)
    result = Sync([], [])
    tenancies = Tenancy.objects.filter(premise__site=site, valid_from__lte=now).select_related("customer", "premise")
    installs = list(MeterInstallation.objects.filter(premise__site=site, valid_from__lte=now).select_related("meter"))
    existing = {(a.customer_id, a.premise_id, a.meter_id): a for a in Account.objects.filter(site=site)}
    for tenancy in tenancies:
        for install in installs:
            if install.premise_id != tenancy.premise_id:
                continue
            start = max(tenancy.valid_from, install.valid_from)
            ends = [e for e in (tenancy.valid_to, install.valid_to) if e is not None]
            end = min(ends) if ends else None
            if end is not None and end <= start:
                continue  # the meter and the customer were never there together
            meter = install.meter
            key = (tenancy.customer_id, tenancy.premise_id, meter.pk)
            account = existing.get(key)
            if account is None:
                account = Account.objects.create(
                    number=f"{tenancy.customer.account_no}-{meter.kind[0].upper()}{meter.pk}", site=site,
                    customer=tenancy.customer, premise=tenancy.premise, meter=meter, utility=meter.kind,
                    payment_mode=meter.payment_mode, opened_on=_local_day(start, zone),
                    closed_on=_local_day(end, zone) if end else None)
                existing[key] = account
                result.opened.append(account.number)
            elif end is not None and account.closed_on is None:
                account.closed_on = _local_day(end, zone)
                account.save(update_fields=["closed_on"])
                result.closed.append(account.number)
    return result
