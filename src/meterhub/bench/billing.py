"""Monthly settlement of N accounts on a tiered + time-of-use tariff: the bill run
(`billing.settlement.run`, set-based) against a straightforward per-account ORM
implementation on a sample, in one run, on a fresh database.

Set-up (not timed): a site, the tariff, N customers, meters and postpaid accounts, and
each meter's total and four tariff registers at both ends of the period (10 reads per
account), written through the ingest path. The baseline runs first, on a sample, inside
a transaction that is rolled back, so both settle the same untouched data.
"""

from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction

PERIOD = "2026-11"
ZONE = ZoneInfo("Asia/Shanghai")
DEFINITION = {"energy": {"periods": {"sharp": "1.0224", "peak": "0.8659", "flat": "0.5283", "valley": "0.2913"}},
              "tiers": [{"up_to": "230", "price": "0"}, {"up_to": "400", "price": "0.05"}, {"price": "0.3"}],
              "standing_charge": "5.00"}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def setup(accounts: int, chunk: int = 10_000):
    from meterhub.assets.models import Customer, Meter, Site
    from meterhub.billing.models import Account, Tariff
    from meterhub.headend.records import ReadingRecord
    from meterhub.readings.ingest import store_readings

    site = Site.objects.create(code="bench", name="Benchmark", time_zone="Asia/Shanghai", currency="CNY")
    Tariff.objects.create(site=site, code="tou", name="Tiered TOU", utility="electricity",
                          valid_from=date(2026, 1, 1), definition=DEFINITION)
    opening, closing = datetime(2026, 11, 1, tzinfo=ZONE), datetime(2026, 12, 1, tzinfo=ZONE)
    one = Decimal(1)
    for start in range(0, accounts, chunk):
        n = range(start, min(accounts, start + chunk))
        customers = Customer.objects.bulk_create(Customer(account_no=f"B{i:07d}", name=f"Customer {i}") for i in n)
        meters = Meter.objects.bulk_create(Meter(serial=f"BM{i:07d}", site=site, address=f"{i:012d}") for i in n)
        Account.objects.bulk_create(
            Account(number=f"A{i:07d}", site=site, customer=c, meter=m, utility="electricity",
                    payment_mode="postpaid", opened_on=date(2026, 1, 1))
            for i, c, m in zip(n, customers, meters, strict=True))
        records = []
        for i, m in zip(n, meters, strict=True):
            used = [Decimal(10 + i % 40), Decimal(60 + i % 90), Decimal(80 + i % 120), Decimal(50 + i % 70)]
            base = Decimal(1000 + i % 5000)
            for when, factor in ((opening - timedelta(minutes=3), 0), (closing - timedelta(minutes=2), 1)):
                records.append(ReadingRecord(m.pk, "energy_import", when, base + factor * sum(used), one, "kWh",
                                             "scheduled"))
                for t, u in enumerate(used, start=1):
                    records.append(ReadingRecord(m.pk, f"energy_import_t{t}", when, base / 4 + factor * u, one,
                                                 "kWh", "scheduled"))
        store_readings(records)
        _log(f"set-up: {min(accounts, start + chunk)} of {accounts} accounts")
    return site


def baseline_bill(site, account_id: int) -> None:
    """Straightforward: one account at a time, a query per register read, a row at a time."""
    from meterhub.billing import determinants, ledger, settlement, tariffs
    from meterhub.billing.models import Account, Bill, BillLine, Tariff
    from meterhub.readings.models import Reading

    account = Account.objects.select_related("customer").get(pk=account_id)
    start, end = settlement.period_bounds(PERIOD)
    start_at, end_at = settlement.local_midnight(start, site.time_zone), settlement.local_midnight(end, site.time_zone)
    tariff = Tariff.objects.filter(site=site, utility=account.utility, valid_from__lte=start).order_by("-valid_from")[0]
    plan = tariffs.parse(tariff.definition)
    opening, closing = {}, {}
    for quantity in determinants.quantities_for(account.utility):
        first = Reading.objects.filter(meter_id=account.meter_id, quantity=quantity, ts__lte=start_at).order_by("-ts")[0]
        last = Reading.objects.filter(meter_id=account.meter_id, quantity=quantity, ts__lte=end_at).order_by("-ts")[0]
        opening[quantity] = determinants.Read(first.ts, first.value, first.quality)
        closing[quantity] = determinants.Read(last.ts, last.value, last.quality)
    volumes = determinants.volumes(account.utility, opening, closing, time_of_use=True)
    lines = tariffs.price([tariffs.Segment(plan, (end - start).days)], volumes, month=11, currency=site.currency)
    charges = tariffs.total(lines)
    balance = account.balance
    bill = Bill.objects.create(account=account, period=PERIOD, period_start=start, period_end=end, issued_on=end,
                               due_on=end + timedelta(days=15), opening_balance=balance, charges=charges,
                               closing_balance=balance - charges, amount_due=max(Decimal(0), charges - balance),
                               volume=sum(volumes.values()))
    for position, line in enumerate(lines, start=1):
        BillLine.objects.create(bill=bill, position=position, code=line.code, quantity=line.quantity, unit=line.unit,
                                unit_price=line.unit_price, amount=line.amount)
    ledger.post(account, "bill", -charges, key=f"bill:{account.pk}:{PERIOD}", source="baseline", at=end_at)


class _Rollback(Exception):
    pass


def measure(accounts: int, baseline_accounts: int, batch_size: int) -> dict:
    from django.db import connection

    from meterhub.billing import settlement
    from meterhub.billing.models import Account, Bill, BillLine, LedgerEntry

    t0 = time.perf_counter()
    site = setup(accounts)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    setup_s = time.perf_counter() - t0
    sample = list(Account.objects.order_by("pk").values_list("pk", flat=True)[:baseline_accounts])
    _log(f"baseline: billing {len(sample)} accounts one by one (rolled back) ...")
    start = time.perf_counter()
    try:
        with transaction.atomic():
            for account_id in sample:
                baseline_bill(site, account_id)
            baseline_s = time.perf_counter() - start
            baseline_total = sum(-e.amount for e in LedgerEntry.objects.filter(kind="bill"))
            raise _Rollback
    except _Rollback:
        pass
    _log(f"bill run: {accounts} accounts in batches of {batch_size} ...")
    done = [0]

    def progress(n):
        done[0] += n
        if done[0] % 20_000 < n:
            _log(f"  {done[0]} of {accounts}")

    start = time.perf_counter()
    result = settlement.run(site, PERIOD, batch_size=batch_size, started_by="bench", progress=progress)
    seconds = time.perf_counter() - start
    ours_sample = sum(-e.amount for e in LedgerEntry.objects.filter(kind="bill", account_id__in=sample))
    if result.problems or result.billed != accounts or ours_sample != baseline_total:
        raise RuntimeError(f"bill run disagrees: billed {result.billed}, {len(result.problems)} problems, "
                           f"sample {ours_sample} vs baseline {baseline_total}")
    per_account = seconds / accounts
    baseline_per_account = baseline_s / len(sample)
    return {
        "accounts": accounts,
        "seconds": round(seconds, 2),
        "accounts_per_s": round(accounts / seconds),
        "bills": Bill.objects.count(),
        "bill_lines": BillLine.objects.count(),
        "batch_size": batch_size,
        "baseline_accounts": len(sample),
        "baseline_seconds_per_account": round(baseline_per_account, 5),
        "baseline_seconds_scaled": round(baseline_per_account * accounts, 1),
        "ratio": round(baseline_per_account / per_account, 1),
        "sample_totals_agree": True,
        "tariff": "tiered + time-of-use (4 periods, 3 blocks), standing charge",
        "setup_seconds": round(setup_s, 1),
    }
