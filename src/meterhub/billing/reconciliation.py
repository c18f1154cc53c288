"""Daily reconciliation: what each operator and each provider took in on a local day,
checked against the ledger (every payment is exactly one entry of the same amount, and
no payment-kind entry lacks its payment), and the payment references refused that day because
they had been credited before to another account or amount (for finance to review)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from meterhub.accounts.models import AuditEntry
from meterhub.assets.models import Site
from meterhub.billing import payments as billing_payments
from meterhub.billing.ledger import cents
from meterhub.billing.models import LedgerEntry, Payment
from meterhub.billing.settlement import local_midnight

MONEY_KINDS = (LedgerEntry.Kind.RECHARGE, LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REFUND)


@dataclass(frozen=True)
class Row:
    method: str
    provider: str
    operator: str
    payments: int
    received: Decimal
    refunds: int
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded


@dataclass
class Report:
    site: Site
    day: date
    rows: list[Row] = field(default_factory=list)
    ledger_net: Decimal = Decimal(0)
    unmatched_entries: list[LedgerEntry] = field(default_factory=list)
    refused_references: list[AuditEntry] = field(default_factory=list)  # credited nothing: not in the sums

    @property
    def net(self) -> Decimal:
        return sum((r.net for r in self.rows), Decimal(0))

    @property
    def balanced(self) -> bool:
        return self.net == self.ledger_net and not self.unmatched_entries


def day_bounds(day: date, time_zone: str) -> tuple[datetime, datetime]:
    return local_midnight(day, time_zone), local_midnight(day + timedelta(days=1), time_zone)


def daily(site: Site, day: date) -> Report:
    start, end = day_bounds(day, site.time_zone)
    payments = Payment.objects.filter(account__site=site, received_at__gte=start, received_at__lt=end)
    grouped = (payments.values("method", "provider__name", "operator__username").order_by(
        "method", "provider__name", "operator__username").annotate(
        n_pay=Count("id", filter=Q(kind=Payment.Kind.PAYMENT)),
        received=Sum("amount", filter=Q(kind=Payment.Kind.PAYMENT)),
        n_ref=Count("id", filter=Q(kind=Payment.Kind.REFUND)),
        refunded=Sum("amount", filter=Q(kind=Payment.Kind.REFUND))))
    report = Report(site, day, [Row(g["method"], g["provider__name"] or "", g["operator__username"] or "",
                                    g["n_pay"], cents(g["received"]), g["n_ref"], cents(g["refunded"]))
                                for g in grouped])
    entries = LedgerEntry.objects.filter(account__site=site, kind__in=MONEY_KINDS, at__gte=start, at__lt=end)
    report.ledger_net = cents(entries.aggregate(s=Sum("amount"))["s"])
    report.unmatched_entries = list(entries.filter(payment__isnull=True))
    report.refused_references = refused_references(site, start, end)
    return report


def refused_references(site: Site, start: datetime, end: datetime) -> list[AuditEntry]:
    """References refused in [start, end) that concern the site (the account credited before or the
    one tried now), oldest first. Each entry's changes hold [before, now] for account, amount, site,
    and the sender (`api`, `webhook:<provider>`)."""
    concerns_site = Q(changes__site__0=site.code) | Q(changes__site__1=site.code)
    return list(AuditEntry.objects.filter(concerns_site, action=billing_payments.REFUSED, at__gte=start, at__lt=end)
                .order_by("at", "id"))
