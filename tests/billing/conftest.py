"""Billing fixtures: a site with a tariff, a customer with a meter and an account, and reads."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOU = {"sharp": "1.2", "peak": "0.9", "flat": "0.6", "valley": "0.3"}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def store(meter, at: datetime, quality="actual", again=False, **registers) -> None:
    """Store register reads of `meter` at `at` through the ingest path (`again`: a re-delivery)."""
    from meterhub.headend.records import ReadingRecord
    from meterhub.readings.ingest import store_readings

    result = store_readings([ReadingRecord(meter.pk, q, at, Decimal(str(v)), Decimal(1), "kWh", "scheduled",
                                           quality) for q, v in registers.items()])
    assert result.stored == (0 if again else len(registers)), result


def make_account(site, number: str, *, mode="postpaid", customer_class="residential", switch="none", collector=None,
                 opened_on=date(2026, 1, 1), **fields):
    from meterhub.assets.models import Customer, Meter, Premise
    from meterhub.billing.models import Account

    customer = Customer.objects.create(account_no=number, name=f"Customer {number}", customer_class=customer_class)
    premise = Premise.objects.create(site=site, unit=number)
    meter = Meter.objects.create(serial=f"M{number}", site=site, address=f"{abs(hash(number)) % 10**12:012d}",
                                 collector=collector, payment_mode=mode, switch=switch)
    return Account.objects.create(number=number, site=site, customer=customer, premise=premise, meter=meter,
                                  utility="electricity", payment_mode=mode, opened_on=opened_on, **fields)


@pytest.fixture
def flat_tariff(site):
    from meterhub.billing.models import Tariff

    return Tariff.objects.create(site=site, code="res", name="Residential", utility="electricity",
                                 valid_from=date(2026, 1, 1), definition={"energy": {"price": "0.5"},
                                                                          "standing_charge": "10"})


@pytest.fixture
def tou_tiered_tariff(site):
    from meterhub.billing.models import Tariff

    return Tariff.objects.create(site=site, code="res-tou", name="Residential TOU", utility="electricity",
                                 valid_from=date(2026, 1, 1), definition={
                                     "energy": {"periods": TOU},
                                     "tiers": [{"up_to": "200", "price": "0"}, {"price": "0.3"}]})
