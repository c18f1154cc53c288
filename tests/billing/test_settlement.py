"""The monthly bill run: bills with lines, balance carried forward, idempotent, problems listed."""

from datetime import date
from decimal import Decimal

import pytest

from meterhub.billing import ledger, settlement
from meterhub.billing.models import Bill, BillingSettings, LedgerEntry, Reminder, Tariff
from tests.billing.conftest import local, make_account, store

D = Decimal
pytestmark = pytest.mark.django_db


def test_period_bounds_follow_the_settlement_day():
    assert settlement.period_bounds("2026-11") == (date(2026, 11, 1), date(2026, 12, 1))
    assert settlement.period_bounds("2026-12", 15) == (date(2026, 12, 15), date(2027, 1, 15))
    assert settlement.previous_period("2027-01") == "2026-12"
    with pytest.raises(ValueError, match="YYYY-MM"):
        settlement.parse_period("2026-13")


def test_postpaid_bill_with_lines_and_balance_carried_forward(site, flat_tariff):
    account = make_account(site, "A1")
    store(account.meter, local(2026, 10, 31, 23, 45), energy_import=1000)
    store(account.meter, local(2026, 11, 30, 23, 45), energy_import=1100)
    store(account.meter, local(2026, 12, 31, 23, 45), energy_import=1150)
    result = settlement.run(site, "2026-11")
    assert (result.billed, result.problems) == (1, [])
    bill = Bill.objects.get(account=account, period="2026-11")
    assert [(li.code, li.quantity, li.amount) for li in bill.lines.all()] == [
        ("energy", D(100), D("50.00")), ("standing", D(1), D("10.00"))]
    assert (bill.opening_balance, bill.charges, bill.closing_balance, bill.amount_due) == (0, D(60), D(-60), D(60))
    assert bill.due_on == date(2026, 12, 16)
    account.refresh_from_db()
    assert account.balance == D(-60) == ledger.balance_of(account)
    # a payment larger than the bill leaves a credit that reduces the next one
    ledger.post(account, "payment", D(100), key="pay-1", source="test")
    settlement.run(site, "2026-12")
    december = Bill.objects.get(account=account, period="2026-12")
    assert december.reads["energy_import"][0][1] == "1100.000000"  # opening = November's closing read
    assert (december.opening_balance, december.charges, december.amount_due) == (D(40), D("35.00"), 0)
    assert december.closing_balance == D(5)


def test_running_twice_bills_once(site, flat_tariff):
    accounts = [make_account(site, f"A{i}") for i in range(5)]
    for a in accounts:
        store(a.meter, local(2026, 11, 1), energy_import=10)
        store(a.meter, local(2026, 12, 1), energy_import=20)
    first = settlement.run(site, "2026-11", batch_size=2)
    second = settlement.run(site, "2026-11", batch_size=2)
    assert (first.billed, second.billed, second.already_billed) == (5, 0, 5)
    assert Bill.objects.count() == 5
    assert LedgerEntry.objects.filter(kind="bill").count() == 5
    assert ledger.mismatched_balances() == []


def test_accounts_that_cannot_be_settled_are_listed_and_billed_by_a_later_run(site, flat_tariff):
    good, unread, backwards = (make_account(site, n) for n in ("G", "U", "B"))
    for a, closing in ((good, 20), (backwards, 5)):
        store(a.meter, local(2026, 11, 1), energy_import=10)
        store(a.meter, local(2026, 12, 1), energy_import=closing)
    result = settlement.run(site, "2026-11")
    assert result.billed == 1
    assert {p["account"]: p["problem"] for p in result.problems} == {
        "U": "no settlement read of energy_import", "B": "energy_import ran backwards (10.000000 to 5.000000)"}
    store(unread.meter, local(2026, 11, 1), energy_import=0)
    store(unread.meter, local(2026, 11, 30), energy_import=3, quality="estimated")
    again = settlement.run(site, "2026-11")
    assert again.billed == 1 and Bill.objects.get(account=unread).estimated


def test_tou_bill_from_tariff_registers(site, tou_tiered_tariff):
    account = make_account(site, "T1")
    store(account.meter, local(2026, 11, 1), energy_import=0, energy_import_t1=0, energy_import_t2=0,
          energy_import_t3=0, energy_import_t4=0)
    store(account.meter, local(2026, 12, 1), energy_import=300, energy_import_t1=10, energy_import_t2=90,
          energy_import_t3=100, energy_import_t4=100)
    settlement.run(site, "2026-11")
    bill = Bill.objects.get()
    assert {li.code: li.amount for li in bill.lines.all()} == {
        "energy:sharp": D(12), "energy:peak": D(81), "energy:flat": D(60), "energy:valley": D(30),
        "tier:1": D(0), "tier:2": D(30)}
    assert bill.charges == D(213)


def test_tou_bill_from_interval_data_when_the_meter_has_no_tariff_registers(site, tou_tiered_tariff):
    Tariff.objects.filter(pk=tou_tiered_tariff.pk).update(definition={
        "energy": {"periods": {"peak": "1", "valley": "0.5"}},
        "schedule": {"workday": [["00:00", "valley"], ["08:00", "peak"], ["22:00", "valley"]],
                     "rest_day": [["00:00", "valley"]]}})
    account = make_account(site, "I1")
    store(account.meter, local(2026, 11, 1), energy_import=0)
    store(account.meter, local(2026, 11, 2, 8), energy_import=5)   # Monday night: valley
    store(account.meter, local(2026, 11, 2, 12), energy_import=15)  # Monday 08-12: peak
    store(account.meter, local(2026, 12, 1), energy_import=20)      # from Monday noon: peak
    settlement.run(site, "2026-11")
    assert {li.code: li.quantity for li in Bill.objects.get().lines.all()} == {"energy:peak": 15, "energy:valley": 5}


def test_class_tariff_and_account_opened_mid_period(site, flat_tariff):
    Tariff.objects.create(site=site, code="com", name="Commercial", utility="electricity", customer_class="commercial",
                          valid_from=date(2026, 1, 1), definition={"energy": {"price": "1"}, "standing_charge": "30"})
    shop = make_account(site, "S1", customer_class="commercial", opened_on=date(2026, 11, 21))
    store(shop.meter, local(2026, 11, 21), energy_import=0)
    store(shop.meter, local(2026, 12, 1), energy_import=10)
    settlement.run(site, "2026-11")
    assert {li.code: li.amount for li in Bill.objects.get().lines.all()} == {"energy": D(10), "standing": D(10)}


def test_late_fee_and_reminder_once_per_overdue_bill(site, flat_tariff):
    BillingSettings.objects.create(site=site, late_fee_percent=D(5), due_days=10)
    account = make_account(site, "L1")
    store(account.meter, local(2026, 11, 1), energy_import=0)
    store(account.meter, local(2026, 12, 1), energy_import=100)
    settlement.run(site, "2026-11")  # 60.00 due on 2026-12-11
    assert settlement.charge_late_fees(site, date(2026, 12, 11)) == 0
    ledger.post(account, "payment", D(20), key="part", source="test")
    assert settlement.remind_overdue(site, date(2026, 12, 12)) == 1
    assert settlement.charge_late_fees(site, date(2026, 12, 12)) == 1
    assert settlement.charge_late_fees(site, date(2026, 12, 13)) == 0
    assert settlement.remind_overdue(site, date(2026, 12, 13)) == 0
    assert LedgerEntry.objects.get(kind="late_fee").amount == D("-2.00")  # 5 % of the 40.00 still overdue
    assert Reminder.objects.get().amount_due == D(40)


@pytest.mark.django_db(transaction=True)
def test_batches_priced_ahead_in_a_second_thread_bill_each_account_once(site, flat_tariff):
    """Outside a transaction on PostgreSQL the next batch is priced while this one is
    written (on SQLite the same run goes batch by batch)."""
    accounts = [make_account(site, f"Q{i}") for i in range(7)]
    for i, a in enumerate(accounts):
        store(a.meter, local(2026, 11, 1), energy_import=0)
        store(a.meter, local(2026, 12, 1), energy_import=i)
    Bill.objects.create(account=accounts[3], period="2026-11", period_start=date(2026, 11, 1),
                        period_end=date(2026, 12, 1), issued_on=date(2026, 12, 1), due_on=date(2026, 12, 16),
                        opening_balance=0, charges=0, closing_balance=0, amount_due=0)  # billed by someone else
    result = settlement.run(site, "2026-11", batch_size=2)
    assert (result.billed, result.already_billed, result.problems) == (6, 1, [])
    assert sorted(LedgerEntry.objects.filter(kind="bill").values_list("amount", flat=True)) == sorted(
        -(D(10) + D(i) / 2) for i in range(7) if i != 3)
    assert ledger.mismatched_balances() == []


@pytest.mark.django_db
def test_bill_run_from_random_reads_equals_an_independent_calculation(site):
    """Random tariffs and register reads, through the ingest path and the whole bill run."""
    from django.db import transaction
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from meterhub.billing.models import Tariff
    from tests.billing.test_tariffs import definitions, expected_bill

    register = st.decimals(min_value=0, max_value=99999, places=2)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(tou=st.booleans(), data=st.data(), opening=st.lists(register, min_size=4, max_size=4),
           used=st.lists(st.decimals(min_value=0, max_value=900, places=2), min_size=4, max_size=4))
    def check(tou, data, opening, used):
        definition = data.draw(definitions(tou))
        sid = transaction.savepoint()
        try:
            Tariff.objects.create(site=site, code="p", name="P", utility="electricity", valid_from=date(2026, 1, 1),
                                  definition=definition)
            account = make_account(site, "R1")
            reads = {f"energy_import_t{i + 1}": v for i, v in enumerate(opening)}
            store(account.meter, local(2026, 10, 31, 23, 55), energy_import=sum(opening), **reads)
            reads = {f"energy_import_t{i + 1}": opening[i] + used[i] for i in range(4)}
            store(account.meter, local(2026, 11, 30, 23, 55), energy_import=sum(opening) + sum(used), **reads)
            settlement.run(site, "2026-11")
            bill = Bill.objects.get(account=account)
            volumes = dict(zip(("sharp", "peak", "flat", "valley"), used, strict=True)) if tou \
                else {"total": sum(used)}
            assert bill.charges == expected_bill(None, [(definition, 30)], volumes)
            assert ledger.balance_of(account) == -bill.charges
        finally:
            transaction.savepoint_rollback(sid)

    check()
