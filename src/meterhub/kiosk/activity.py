"""What a terminal did today, for its console page: lookups (found, not found, refused) and the
payments started at it. Orders name their terminal in `requested_by` (Terminal.audit_name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum
from django.utils import timezone

from meterhub.billing.models import PaymentOrder
from meterhub.billing.settlement import local_midnight
from meterhub.kiosk.models import Terminal

RECENT_ORDERS = 20


@dataclass(frozen=True)
class Activity:
    lookups: int
    not_found: int
    refused: int
    paid: Decimal  # paid today through orders started here
    orders: list[PaymentOrder]  # the latest, today or earlier


def orders_of(terminal: Terminal):
    return PaymentOrder.objects.filter(channel=PaymentOrder.Channel.KIOSK, requested_by=terminal.audit_name)


def today(terminal: Terminal, now: datetime | None = None) -> Activity:
    now = now or timezone.now()
    since = local_midnight(now.astimezone(ZoneInfo(terminal.site.time_zone)).date(), terminal.site.time_zone)
    counts = terminal.lookups.filter(at__gte=since).aggregate(
        lookups=Count("id", filter=Q(refused=False)),
        not_found=Count("id", filter=Q(refused=False, by="")),
        refused=Count("id", filter=Q(refused=True)))
    paid = orders_of(terminal).filter(status=PaymentOrder.Status.PAID, paid_at__gte=since).aggregate(s=Sum("amount"))
    return Activity(counts["lookups"], counts["not_found"], counts["refused"], paid["s"] or Decimal("0.00"),
                    list(orders_of(terminal).select_related("account")[:RECENT_ORDERS]))
