"""An account's consumption as its customer sees it: today, the last 30 days, the last 12 months.

From the aggregates (MeterDay, MeterMonth) of the account's meter, limited to the
account's own tenancy: days before it opened or after it closed belonged to someone else
(the previous tenant) and are never shown. A month cut by the opening or closing day is
summed from its days inside the tenancy; whole months come from MeterMonth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from meterhub.aggregates.models import MeterDay, MeterMonth
from meterhub.aggregates.quantities import MAIN, UNITS
from meterhub.billing.models import Account

DAYS = 30
MONTHS = 12


@dataclass(frozen=True)
class Usage:
    unit: str
    today: Decimal | None
    days: list[tuple[date, Decimal | None]]  # oldest first, today last
    months: list[tuple[date, Decimal | None]]  # first days of months, oldest first, this month last


def months_back(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def next_month(month: date) -> date:
    return months_back(month, -1)


def tenancy(account: Account) -> tuple[date, date | None]:
    """[first day, last day] the account's customer used this meter (None: still open)."""
    return account.opened_on, (account.closed_on - timedelta(days=1)) if account.closed_on else None


def usage(account: Account, today: date) -> Usage:
    meter = account.meter
    quantity = MAIN.get(meter.kind, "")
    first, last = tenancy(account)
    last = min(last, today) if last else today
    day_rows = MeterDay.objects.filter(meter_id=meter.pk, quantity=quantity)

    days_wanted = [today - timedelta(days=i) for i in range(DAYS - 1, -1, -1)]
    known = dict(day_rows.filter(day__gte=max(days_wanted[0], first), day__lte=last)
                 .values_list("day", "consumption"))
    days = [(d, known.get(d)) for d in days_wanted]

    this_month = today.replace(day=1)
    months_wanted = [months_back(this_month, i) for i in range(MONTHS - 1, -1, -1)]
    whole = dict(MeterMonth.objects.filter(meter_id=meter.pk, quantity=quantity, month__in=months_wanted)
                 .values_list("month", "consumption"))
    months = []
    for month in months_wanted:
        end = next_month(month) - timedelta(days=1)
        if end < first or month > last:
            months.append((month, None))
        elif month >= first and end <= last and month != this_month:
            months.append((month, whole.get(month)))
        else:  # cut by the tenancy, or this month so far: its days inside the tenancy
            part = day_rows.filter(day__gte=max(month, first), day__lte=min(end, last))
            months.append((month, part.aggregate(s=Sum("consumption"))["s"] if part.exists() else None))
    return Usage(UNITS.get(meter.kind, ""), known.get(today), days, months)
