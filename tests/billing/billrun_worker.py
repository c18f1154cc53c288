"""A separate process for the bill-run crash test.

    python -m tests.billing.billrun_worker setup ACCOUNTS   # schema, a site, a tariff, accounts, reads
    python -m tests.billing.billrun_worker run BATCH_SIZE   # settle 2026-11, "batch N" after each commit
    python -m tests.billing.billrun_worker check            # bills, bill entries, balances: one line of JSON
"""

import json
import sys
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

PERIOD = "2026-11"


def setup(accounts: int) -> None:
    from django.core.management import call_command

    from meterhub.assets.models import Customer, Meter, Site
    from meterhub.billing.models import Account, Tariff
    from meterhub.headend.records import ReadingRecord
    from meterhub.readings.ingest import store_readings

    call_command("migrate", interactive=False, verbosity=0)
    site = Site.objects.create(code="crash", name="Crash test")
    Tariff.objects.create(site=site, code="t", name="T", utility="electricity", valid_from=date(2026, 1, 1),
                          definition={"tiers": [{"up_to": "50", "price": "0.5"}, {"price": "0.8"}],
                                      "standing_charge": "5"})
    customers = Customer.objects.bulk_create(Customer(account_no=f"C{i}", name=f"C{i}") for i in range(accounts))
    meters = Meter.objects.bulk_create(Meter(serial=f"M{i}", site=site, address=f"{i:012d}") for i in range(accounts))
    Account.objects.bulk_create(Account(number=f"A{i:05d}", site=site, customer=c, meter=m, utility="electricity",
                                        payment_mode="postpaid", opened_on=date(2026, 1, 1))
                                for i, (c, m) in enumerate(zip(customers, meters, strict=True)))
    zone = ZoneInfo("Asia/Shanghai")
    records = []
    for i, m in enumerate(meters):
        for when, value in ((datetime(2026, 11, 1, tzinfo=zone), 100), (datetime(2026, 12, 1, tzinfo=zone), 100 + i)):
            records.append(ReadingRecord(m.pk, "energy_import", when, Decimal(value), Decimal(1), "kWh", "import"))
    store_readings(records)


def run(batch_size: int) -> None:
    from meterhub.assets.models import Site
    from meterhub.billing import settlement

    settlement.run(Site.objects.get(code="crash"), PERIOD, batch_size=batch_size,
                   after_batch=lambda n: print(f"batch {n}", flush=True))


def check() -> None:
    from django.db.models import Count

    from meterhub.billing import ledger
    from meterhub.billing.models import Account, Bill, LedgerEntry

    per_account = Bill.objects.filter(period=PERIOD).values("account").annotate(n=Count("id"))
    print(json.dumps({
        "accounts": Account.objects.count(),
        "billed_accounts": per_account.count(),
        "max_bills_per_account": max((r["n"] for r in per_account), default=0),
        "bill_entries": LedgerEntry.objects.filter(kind="bill").count(),
        "bills_without_entry": Bill.objects.exclude(account__entries__kind="bill").count(),
        "mismatched_balances": len(ledger.mismatched_balances()),
        "total_billed": str(-ledger.cents(sum(e.amount for e in LedgerEntry.objects.filter(kind="bill")))),
    }))


def main(argv):
    from meterhub.cli import setup_django

    setup_django()
    {"setup": lambda: setup(int(argv[1])), "run": lambda: run(int(argv[1])), "check": check}[argv[0]]()


if __name__ == "__main__":
    main(sys.argv[1:])
