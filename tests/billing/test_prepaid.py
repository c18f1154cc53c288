"""Prepaid: consumption charged once per register interval, warnings, humane cut-off, restore."""

from datetime import date, time
from decimal import Decimal

import pytest

from meterhub.billing import ledger, prepaid
from meterhub.billing.models import (
    BalanceAlert,
    BillingSettings,
    Holiday,
    LedgerEntry,
    SupplyAction,
)
from meterhub.comms.models import Command
from meterhub.readings import processing
from meterhub.readings.models import DirtyDay
from tests.billing.conftest import local, make_account, store

D = Decimal
pytestmark = pytest.mark.django_db
TUESDAY_NOON = local(2026, 11, 17, 12)


@pytest.fixture
def conf(site):
    return BillingSettings.objects.create(site=site, low_balance_thresholds=["50", "20"])


@pytest.fixture
def account(site, collector, flat_tariff, conf):
    account = make_account(site, "P1", mode="prepaid", switch="relay", collector=collector)
    ledger.post(account, "recharge", D(100), key="r0", source="test")
    return account


def consumption(account):
    return sorted(LedgerEntry.objects.filter(account=account, kind="consumption").values_list("amount", flat=True))


def test_consumption_is_charged_as_reads_arrive_and_once_under_reprocessing(account):
    store(account.meter, local(2026, 11, 17, 0), energy_import=1000)  # where charging starts
    store(account.meter, local(2026, 11, 17, 1), energy_import=1010)
    processing.process_dirty()
    assert consumption(account) == [D("-5.00")]
    # the same day processed again, the same reads delivered again: nothing more
    DirtyDay.objects.create(meter_id=account.meter_id, day=date(2026, 11, 16))
    processing.process_dirty()
    store(account.meter, local(2026, 11, 17, 1), energy_import=1010, again=True)
    processing.process_dirty()
    prepaid.charge_account(account.pk)
    assert consumption(account) == [D("-5.00")]
    store(account.meter, local(2026, 11, 17, 2), energy_import=1014)
    processing.process_dirty()
    assert consumption(account) == [D("-5.00"), D("-2.00")]
    account.refresh_from_db()
    assert account.balance == D(93) == ledger.balance_of(account)


def test_estimates_are_not_charged_and_small_charges_do_not_drift(account):
    store(account.meter, local(2026, 11, 17, 0), energy_import=0)
    store(account.meter, local(2026, 11, 17, 0, 15), energy_import=3, quality="estimated")
    prepaid.charge_account(account.pk, now=TUESDAY_NOON)
    assert consumption(account) == []
    for n in range(1, 31):  # 0.013 kWh x 0.5 = 0.0065 each: 30 of them are 0.195 -> 0.20, not 30 x 0.01
        store(account.meter, local(2026, 11, 17, 1, n), energy_import=D("0.013") * n)
        prepaid.charge_account(account.pk, now=TUESDAY_NOON)
    assert sum(consumption(account)) == D("-0.20")


def test_low_balance_warnings_at_each_threshold_crossed(account):
    store(account.meter, local(2026, 11, 17, 0), energy_import=0)
    store(account.meter, local(2026, 11, 17, 1), energy_import=110)  # 100 -> 45: crosses 50
    prepaid.charge_account(account.pk, now=TUESDAY_NOON)
    store(account.meter, local(2026, 11, 17, 2), energy_import=170)  # 45 -> 15: crosses 20
    prepaid.charge_account(account.pk, now=TUESDAY_NOON)
    assert sorted(BalanceAlert.objects.values_list("threshold", "balance")) == [(D(20), D(15)), (D(50), D(45))]
    assert not BalanceAlert.objects.filter(notified_at__isnull=False).exists()


def run_down(account, now):
    store(account.meter, local(2026, 11, 17, 0), energy_import=0)
    store(account.meter, local(2026, 11, 17, 1), energy_import=250)  # 125.00 > 100.00
    prepaid.charge_account(account.pk, now=now)
    account.refresh_from_db()


def test_at_zero_the_relay_is_tripped_and_a_recharge_closes_it(account):
    run_down(account, TUESDAY_NOON)
    assert account.balance == D(-25) and account.supply == "off"
    trip = Command.objects.get()
    assert (trip.kind, trip.meter_id, trip.requested_by) == ("relay_trip", account.meter_id, "billing")
    prepaid.charge_account(account.pk, now=TUESDAY_NOON)  # nothing new: no second trip
    assert Command.objects.count() == 1
    from meterhub.billing import payments

    payments.take_payment(account, D(20), method="cash", operator=None)  # -5.00: still at the limit
    assert Command.objects.count() == 1
    payments.take_payment(account, D(10), method="cash", operator=None)
    account.refresh_from_db()
    assert account.supply == "on"
    assert list(Command.objects.order_by("id").values_list("kind", flat=True)) == ["relay_trip", "relay_direct_close"]
    assert list(SupplyAction.objects.order_by("id").values_list("action", flat=True)) == ["cut", "restore"]


def test_credit_limit_lets_the_balance_go_below_zero(account):
    type(account).objects.filter(pk=account.pk).update(credit_limit=D(30))
    run_down(account, TUESDAY_NOON)
    assert account.supply == "on" and not Command.objects.exists()


@pytest.mark.parametrize("now, why", [
    (local(2026, 11, 17, 23), "night"),
    (local(2026, 11, 17, 7, 59), "night"),
    (local(2026, 11, 21, 12), "weekend"),
    (local(2026, 10, 1, 12), "holiday"),
])
def test_no_cut_off_in_friendly_hours(account, now, why):
    Holiday.objects.create(site=account.site, day=date(2026, 10, 1), name="National Day")
    run_down(account, now)
    assert account.supply == "on" and not Command.objects.exists()
    held = SupplyAction.objects.get()
    assert (held.action, held.reason) == ("held", f"held: {why}")
    prepaid.charge_account(account.pk, now=now)
    assert SupplyAction.objects.count() == 1  # recorded once, not every read cycle
    prepaid.charge_account(account.pk, now=TUESDAY_NOON)  # friendly hours over: now it goes
    assert Command.objects.get().kind == "relay_trip"


def test_vulnerable_customers_are_never_cut_off_automatically(account):
    type(account).objects.filter(pk=account.pk).update(vulnerable=True)
    run_down(account, TUESDAY_NOON)
    assert account.supply == "on" and not Command.objects.exists()
    assert SupplyAction.objects.get().reason == "held: vulnerable customer"


def test_friendly_hours_rules_are_configurable():
    conf = BillingSettings(quiet_from=time(0), quiet_until=time(0), no_cutoff_weekends=False,
                           no_cutoff_holidays=False)
    assert prepaid.cutoff_held_because(conf, local(2026, 11, 21, 3), {date(2026, 11, 21)}, False) is None
    conf.quiet_from, conf.quiet_until = time(12), time(14)
    assert prepaid.cutoff_held_because(conf, local(2026, 11, 21, 13), set(), False) == "night"


def test_a_meter_off_its_collector_records_why_it_could_not_be_cut(account):
    type(account.meter).objects.filter(pk=account.meter_id).update(collector=None)
    account.meter.refresh_from_db()
    run_down(account, TUESDAY_NOON)
    failed = SupplyAction.objects.get()
    assert failed.action == "failed" and "not on a collector" in failed.reason
    prepaid.charge_account(account.pk, now=TUESDAY_NOON)
    assert SupplyAction.objects.count() == 1
