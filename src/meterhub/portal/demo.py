"""The customer portal in the demo: one household that can sign in, bind and recharge.

Customer SR00002 (李芳, flat B1-102, phone 13800000001) gets an ID number, a prepaid
electricity account on meter E240101000001 (the one with a relay and a smart seal) and a
postpaid water account; the electricity account owes a little, so billing cuts it off as
soon as the simulated meter is online, and a recharge through the sandbox provider switches
it back on. The site may cut off at any hour (a demo should not wait for the morning).
Usage history before the demo started is generated as daily aggregates up to the day
before yesterday (there were no readings then), so the charts have something to show from
the first minute; from then on the simulated meter's readings make the figures.
Loading twice changes nothing.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from meterhub.aggregates.maintain import refresh_meter_months
from meterhub.aggregates.models import MeterDay
from meterhub.aggregates.quantities import MAIN, UNITS
from meterhub.assets.models import Customer, MeterInstallation, Site
from meterhub.billing import ledger, prepaid
from meterhub.billing.models import Account, BillingSettings, LedgerEntry, PaymentProvider, Tariff

CUSTOMER = "SR00002"
ID_NUMBER = "110101199001011234"
HISTORY_DAYS = 400
DAILY = {"electricity": (5.0, 11.0), "water": (0.15, 0.45), "gas": (0.3, 1.2)}
PRICES = {"electricity": "0.60", "water": "3.50", "gas": "2.80"}
OWED = Decimal("3.40")


@dataclass(frozen=True)
class DemoCustomer:
    phone: str
    name: str
    id_number: str
    accounts: list[str]


def _history(meter, today: date, rng: random.Random) -> set[date]:
    low, high = DAILY[meter.kind]
    # up to the day before yesterday: live readings recompute yesterday and today (aggregates.maintain)
    days = [today - timedelta(days=back) for back in range(HISTORY_DAYS, 1, -1)]
    register, rows = Decimal(1000), []
    for day in days:
        weekend = 1.25 if day.weekday() >= 5 else 1.0
        used = Decimal(f"{rng.uniform(low, high) * weekend:.3f}")
        rows.append(MeterDay(meter=meter, quantity=MAIN[meter.kind], day=day, site=meter.site, kind=meter.kind,
                             start_value=register, end_value=register + used, consumption=used,
                             unit=UNITS[meter.kind], reads=1, actual_reads=1, complete=True))
        register += used
    MeterDay.objects.bulk_create(rows, ignore_conflicts=True)
    return set(days)


@transaction.atomic
def load_demo_portal(site_code: str) -> DemoCustomer | None:
    site = Site.objects.filter(code=site_code).first()
    customer = Customer.objects.filter(account_no=CUSTOMER).first()
    if site is None or customer is None:
        return None
    if not customer.id_number:
        customer.id_number = ID_NUMBER
        customer.save(update_fields=["id_number"])
    BillingSettings.objects.update_or_create(site=site, defaults={
        "quiet_from": "00:00", "quiet_until": "00:00", "no_cutoff_weekends": False, "no_cutoff_holidays": False})
    if not PaymentProvider.objects.filter(sandbox=True).exists():
        PaymentProvider.objects.create(code="sandbox", name="Sandbox Pay", secret=secrets.token_hex(24),
                                       sandbox=True)
    today = timezone.now().astimezone(ZoneInfo(site.time_zone)).date()
    tenancy = customer.tenancies.filter(valid_to__isnull=True).select_related("premise").first()
    installs = MeterInstallation.objects.filter(premise=tenancy.premise, valid_to__isnull=True).select_related("meter")
    numbers = []
    for install in installs:
        meter = install.meter
        if not Tariff.objects.filter(site=site, utility=meter.kind).exists():
            Tariff.objects.create(site=site, code=f"demo-{meter.kind}", name=f"Demo {meter.kind}",
                                  utility=meter.kind, valid_from=date(2024, 1, 1),
                                  definition={"energy": {"price": PRICES[meter.kind]}})
        account, created = Account.objects.get_or_create(
            site=site, customer=customer, premise=tenancy.premise, meter=meter,
            defaults={"number": f"{customer.account_no}-{meter.kind[0].upper()}{meter.pk}", "utility": meter.kind,
                      "payment_mode": meter.payment_mode, "opened_on": today - timedelta(days=HISTORY_DAYS)})
        numbers.append(account.number)
        if not created:
            continue
        refresh_meter_months({meter: _history(meter, today, random.Random(meter.pk))})
        if account.payment_mode == "prepaid":
            ledger.post(account, LedgerEntry.Kind.CONSUMPTION, -OWED, key=f"demo:owed:{account.pk}", source="demo",
                        memo="demo: the balance ran out")
            prepaid.enforce(account)  # cut off, through the command queue, as soon as the meter is online
    return DemoCustomer(customer.phone, customer.name, customer.id_number, sorted(numbers))
