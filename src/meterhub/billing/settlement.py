"""The monthly bill run: settle every account of a site for a period, exactly once.

Set-based: accounts are taken in batches; per batch a handful of queries load the
accounts, their settlement reads and the previous bills, the pure tariff code prices
each account, and the bills, their lines and the ledger entries are inserted in bulk,
in one transaction with the accounts locked. A bill is unique per (account, period)
and its ledger entry has the key `bill:<account>:<period>`: a re-run (after a crash, or
by mistake) bills only the accounts not billed yet. An account that cannot be settled
(no read, a register running backwards, no tariff) is listed in the run's problems and
left for the next run; nothing is guessed.

Postpaid accounts get the period's charges as one `bill` entry. Prepaid accounts were
charged for consumption as reads arrived (billing.prepaid); their bill posts the
standing charge only and shows the consumption already deducted, as a statement.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, connections, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from meterhub.assets.models import Meter, Site
from meterhub.billing import bulk, determinants, ledger, tariffs
from meterhub.billing.models import (
    Account,
    Bill,
    BillingSettings,
    BillLine,
    BillRun,
    Holiday,
    LedgerEntry,
    Reminder,
    Tariff,
)

BATCH = 1000


def settings_for(site: Site) -> BillingSettings:
    found = BillingSettings.objects.filter(site=site).first()
    return found or BillingSettings(site=site)


def parse_period(period: str) -> tuple[int, int]:
    try:
        year, month = (int(x) for x in period.split("-"))
        date(year, month, 1)
    except ValueError:
        raise ValueError(f"a period is YYYY-MM, not {period!r}") from None
    return year, month


def period_bounds(period: str, settlement_day: int = 1) -> tuple[date, date]:
    """Local days [start, end) of a period: from its settlement day to the next month's."""
    year, month = parse_period(period)
    nxt = (year + month // 12, month % 12 + 1)
    return date(year, month, settlement_day), date(*nxt, settlement_day)


def previous_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year - (month == 1)}-{12 if month == 1 else month - 1:02d}"


def local_midnight(day: date, time_zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(time_zone))


@dataclass
class RunResult:
    run: BillRun
    billed: int = 0
    already_billed: int = 0
    problems: list[dict] = field(default_factory=list)


def load_versions(site: Site) -> list[tariffs.Version]:
    return [tariffs.Version(t.utility, t.customer_class, t.valid_from, t.valid_to, tariffs.parse(t.definition))
            for t in Tariff.objects.filter(site=site)]


@dataclass
class Context:
    """What every account of a run shares, loaded once."""

    site: Site
    period: str
    start: date
    end: date
    versions: list[tariffs.Version]
    holidays: set[date]
    due_days: int
    _segments: dict = field(default_factory=dict)

    @property
    def month(self) -> int:
        return parse_period(self.period)[1]

    def utc(self, day: date) -> datetime:
        return local_midnight(day, self.site.time_zone)

    def segments(self, utility: str, customer_class: str, start: date, end: date) -> list[tariffs.Segment]:
        key = (utility, customer_class, start, end)
        if key not in self._segments:
            self._segments[key] = tariffs.segments(self.versions, utility, customer_class, start, end)
        return self._segments[key]


def context_for(site: Site, period: str) -> Context:
    conf = settings_for(site)
    start, end = period_bounds(period, conf.settlement_day)
    return Context(site, period, start, end, load_versions(site),
                   set(Holiday.objects.filter(site=site).values_list("day", flat=True)), conf.due_days)


def accounts_to_bill(site: Site, start: date, end: date):
    return (Account.objects.filter(site=site, opened_on__lt=end)
            .filter(Q(closed_on__isnull=True) | Q(closed_on__gt=start)))


def run(site: Site, period: str, *, batch_size: int = BATCH, started_by: str = "",
        progress: Callable[[int], None] | None = None, after_batch: Callable[[int], None] | None = None
        ) -> RunResult:
    """Bill every account of `site` for `period` that has no bill for it yet."""
    ctx = context_for(site, period)
    ids = list(accounts_to_bill(site, ctx.start, ctx.end).order_by("pk").values_list("pk", flat=True))
    done = set(Bill.objects.filter(period=period, account__site=site).values_list("account_id", flat=True))
    result = RunResult(BillRun.objects.create(site=site, period=period, accounts=len(ids), started_by=started_by))
    result.already_billed = len(done)
    todo = [i for i in ids if i not in done]
    if progress and done:
        progress(len(done))
    batches = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
    for n, (batch, prepared) in enumerate(_prepared(ctx, batches)):
        with transaction.atomic():
            billed, problems = write(ctx, prepared, result.run)
        result.billed += billed
        result.problems.extend(problems)
        if progress:
            progress(len(batch))
        if after_batch:
            after_batch(n)
    run_row = result.run
    run_row.billed, run_row.already_billed, run_row.problems = result.billed, result.already_billed, result.problems
    run_row.finished_at = timezone.now()
    run_row.save(update_fields=["billed", "already_billed", "problems", "finished_at"])
    return result


@dataclass(frozen=True)
class Billable:
    """What the bill run needs of an account (rows, not model instances: 100,000 of them)."""

    pk: int
    number: str
    utility: str
    payment_mode: str
    opened_on: date
    closed_on: date | None
    meter_id: int
    customer_class: str

    FIELDS = ("pk", "number", "utility", "payment_mode", "opened_on", "closed_on", "meter_id",
              "customer__customer_class")


@dataclass
class Priced:
    account: Billable
    lines: list[tariffs.Line]
    volume: Decimal
    reads: dict
    estimated: bool
    prepaid_consumption: Decimal = Decimal(0)


def _prepared(ctx: Context, batches: list[list[int]]):
    """(batch, its priced accounts), in order. On PostgreSQL, outside a transaction, the next
    batch is priced in a second thread (its own connection) while this one is written, so
    Python and the database work at the same time. Pricing only reads; the writer locks."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or len(batches) < 2:
        for batch in batches:
            yield batch, prepare(ctx, batch)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="bill-run-pricing") as pool:
        try:
            ahead = pool.submit(prepare, ctx, batches[0])
            for n, batch in enumerate(batches):
                prepared = ahead.result()
                if n + 1 < len(batches):
                    ahead = pool.submit(prepare, ctx, batches[n + 1])
                yield batch, prepared
        finally:
            pool.submit(connections.close_all)  # the pricing thread's connection


@dataclass
class Prepared:
    priced: list[Priced]
    problems: list[dict]


def prepare(ctx: Context, account_ids: list[int]) -> Prepared:
    """Determinants and prices for the accounts of a batch not billed yet (reads only)."""
    billed_already = set(Bill.objects.filter(period=ctx.period, account_id__in=account_ids)
                         .values_list("account_id", flat=True))
    accounts = [Billable(*row) for row in
                Account.objects.filter(pk__in=[i for i in account_ids if i not in billed_already])
                .order_by("pk").values_list(*Billable.FIELDS)]
    problems: list[dict] = []
    return Prepared(price_accounts(ctx, accounts, problems), problems)


def bill_batch(ctx: Context, account_ids: list[int], run_row: BillRun | None = None) -> tuple[int, list[dict]]:
    with transaction.atomic():
        return write(ctx, prepare(ctx, account_ids), run_row)


def write(ctx: Context, prepared: Prepared, run_row: BillRun | None) -> tuple[int, list[dict]]:
    """Bills, lines and ledger entries for priced accounts, with the accounts locked (call
    inside a transaction). An account billed meanwhile is skipped; a prepaid account is
    priced again under the lock (a late read may have charged it since)."""
    problems = list(prepared.problems)
    ids = [p.account.pk for p in prepared.priced]
    balances = ledger.lock_balances(ids)
    billed_already = set(Bill.objects.filter(period=ctx.period, account_id__in=ids).values_list("account_id",
                                                                                                flat=True))
    priced = [p for p in prepared.priced if p.account.pk not in billed_already]
    prepaid = [p.account for p in priced if p.account.payment_mode == Meter.PaymentMode.PREPAID]
    if prepaid:
        again = {p.account.pk: p for p in price_accounts(ctx, prepaid, problems)}
        priced = [again.get(p.account.pk) if p.account.payment_mode == Meter.PaymentMode.PREPAID else p
                  for p in priced]
        priced = [p for p in priced if p is not None]
    if not priced:
        return 0, problems
    bills, entries = [], []
    billed_at = ctx.utc(ctx.end)
    for p in priced:
        account = p.account
        balance = balances[account.pk]
        charges = tariffs.total(p.lines) - p.prepaid_consumption
        closing = balance - charges
        bills.append({"account_id": account.pk, "period": ctx.period, "period_start": ctx.start,
                      "period_end": ctx.end, "issued_on": ctx.end, "due_on": ctx.end + timedelta(days=ctx.due_days),
                      "opening_balance": balance, "charges": charges, "closing_balance": closing,
                      "amount_due": max(Decimal(0), -closing), "volume": p.volume, "reads": p.reads,
                      "estimated": p.estimated, "late_fee_charged": False,
                      "run_id": run_row.pk if run_row else None})
        if charges:
            kind = LedgerEntry.Kind.BILL if account.payment_mode == Meter.PaymentMode.POSTPAID \
                else LedgerEntry.Kind.STANDING
            entries.append({"account_id": account.pk, "kind": kind, "amount": -charges, "at": billed_at,
                            "source": "bill-run", "key": f"bill:{account.pk}:{ctx.period}", "reference": ctx.period,
                            "memo": ""})
    bill_ids = bulk.insert(Bill, bills, return_ids=True)
    bulk.insert(BillLine, [{"bill_id": bill_id, "position": position, "code": line.code, "quantity": line.quantity,
                            "unit": line.unit, "unit_price": line.unit_price, "amount": line.amount,
                            "valid_from": line.valid_from}
                           for bill_id, p in zip(bill_ids, priced, strict=True)
                           for position, line in enumerate(p.lines, start=1)])
    bulk.insert(LedgerEntry, entries)
    ledger.refresh_balances([p.account.pk for p in priced])
    return len(bills), problems


def price_accounts(ctx: Context, accounts: list[Billable], problems: list[dict]) -> list[Priced]:
    """Determinants and prices for a batch of accounts (the set-based part)."""
    if not accounts:
        return []
    quantities = {q for a in accounts for q in determinants.quantities_for(a.utility)}
    meter_ids = [a.meter_id for a in accounts]
    closing = determinants.reads_at(meter_ids, quantities, ctx.utc(ctx.end))
    opening = _opening_reads(ctx, accounts, quantities)
    prepaid_used = _prepaid_consumption(ctx, [a.pk for a in accounts if a.payment_mode == Meter.PaymentMode.PREPAID])
    prior = _annual_prior(ctx, accounts)
    out = []
    for account in accounts:
        try:
            out.append(_price_one(ctx, account, opening, closing, prepaid_used, prior))
        except (determinants.NoDeterminants, tariffs.TariffError) as exc:
            problems.append({"account": account.number, "problem": str(exc)})
    return out


def _opening_reads(ctx: Context, accounts: list[Billable], quantities: set[str]) -> dict[tuple[int, str], determinants.Read]:
    """The previous bill's closing reads (so no consumption falls between two bills), else
    the latest read at the period start, else the first read in the period."""
    opening: dict[tuple[int, str], determinants.Read] = {}
    previous = Bill.objects.filter(period=previous_period(ctx.period), account_id__in=[a.pk for a in accounts]).values_list(
        "account__meter_id", "reads")
    for meter_id, reads in previous:
        for quantity, pair in reads.items():
            if isinstance(pair, list) and len(pair) == 2 and pair[1]:
                opening[(meter_id, quantity)] = determinants.Read.from_json(pair[1])
    missing = [a.meter_id for a in accounts if (a.meter_id, determinants.TOTAL_REGISTER[a.utility]) not in opening]
    if missing:
        opening.update(determinants.reads_at(missing, quantities, ctx.utc(ctx.start)))
    missing = [a.meter_id for a in accounts if (a.meter_id, determinants.TOTAL_REGISTER[a.utility]) not in opening]
    if missing:
        opening.update(determinants.first_reads(missing, quantities, ctx.utc(ctx.start), ctx.utc(ctx.end)))
    return opening


def _prepaid_consumption(ctx: Context, account_ids: list[int]) -> dict[int, Decimal]:
    if not account_ids:
        return {}
    rows = (LedgerEntry.objects.filter(account_id__in=account_ids, kind=LedgerEntry.Kind.CONSUMPTION,
                                       at__gt=ctx.utc(ctx.start), at__lte=ctx.utc(ctx.end))
            .values("account_id").annotate(s=Sum("amount")).values_list("account_id", "s"))
    return {a: -ledger.cents(s) for a, s in rows}


def _annual_prior(ctx: Context, accounts: list[Billable]) -> dict[int, Decimal]:
    """This year's billed volume before the period, for annual tiers."""
    if not any(v.plan.tier_basis == "annual" for v in ctx.versions):
        return {}
    year = ctx.period[:4]
    rows = (Bill.objects.filter(account_id__in=[a.pk for a in accounts], period__startswith=f"{year}-", period__lt=ctx.period)
            .values("account_id").annotate(s=Sum("volume")).values_list("account_id", "s"))
    return {a: Decimal(s).quantize(Decimal("0.000001")) for a, s in rows}


def _price_one(ctx: Context, account: Billable, opening, closing, prepaid_used, prior) -> Priced:
    start = max(ctx.start, account.opened_on)
    end = min(ctx.end, account.closed_on) if account.closed_on else ctx.end
    segs = ctx.segments(account.utility, account.customer_class, start, end)
    period_days = (ctx.end - ctx.start).days
    prices = segs[0].plan.prices_for(ctx.month)
    tou = prices.time_of_use
    meter = account.meter_id
    quantities = determinants.quantities_for(account.utility)
    open_reads = {q: opening[(meter, q)] for q in quantities if (meter, q) in opening}
    close_reads = {q: closing[(meter, q)] for q in quantities if (meter, q) in closing}
    reads = {q: [open_reads[q].as_json() if q in open_reads else None,
                 close_reads[q].as_json() if q in close_reads else None] for q in quantities
             if q in open_reads or q in close_reads}
    prepaid = account.payment_mode == Meter.PaymentMode.PREPAID
    if prepaid and not close_reads:  # a prepaid statement needs no reads: consumption was charged on arrival
        volumes = {}
    else:
        volumes = determinants.volumes(account.utility, open_reads, close_reads, time_of_use=tou)
        if volumes is None:  # no tariff registers: sort the interval data into periods
            total = determinants.TOTAL_REGISTER[account.utility]
            volumes = determinants.interval_volumes(meter, total, open_reads[total].ts, close_reads[total].ts,
                                                    segs[0].plan, ctx.site.time_zone, ctx.holidays)
    used = sum(volumes.values(), Decimal(0))
    estimated = any(r.quality != "actual" for r in [*open_reads.values(), *close_reads.values()])
    if prepaid:
        lines = tariffs.price(segs, {}, month=ctx.month, currency=ctx.site.currency, month_days=period_days) \
            if any(s.plan.standing_charge for s in segs) else []
        consumed = prepaid_used.get(account.pk, Decimal(0))
        if consumed:
            lines.insert(0, tariffs.Line("prepaid:consumption", used, segs[0].plan.unit, Decimal(0), consumed))
        return Priced(account, lines, used, reads, estimated, consumed)
    lines = tariffs.price(segs, volumes, month=ctx.month, currency=ctx.site.currency,
                          prior_volume=prior.get(account.pk, Decimal(0)), month_days=period_days)
    return Priced(account, lines, used, reads, estimated)


# --- after the run: reminders and late fees -------------------------------------------------

def overdue_bills(site: Site, today: date):
    return (Bill.objects.filter(account__site=site, account__payment_mode=Meter.PaymentMode.POSTPAID,
                                due_on__lt=today, amount_due__gt=0)
            .select_related("account"))


def remind_overdue(site: Site, today: date) -> int:
    """Record a reminder for each overdue bill still (partly) unpaid; once per bill."""
    made = 0
    for bill in overdue_bills(site, today).filter(reminders__isnull=True):
        outstanding = min(bill.amount_due, max(Decimal(0), -bill.account.balance))
        if outstanding > 0:
            Reminder.objects.get_or_create(bill=bill, stage=1, defaults={"amount_due": outstanding})
            made += 1
    return made


def charge_late_fees(site: Site, today: date) -> int:
    """A late fee (the site's percentage of what is still overdue) once per overdue bill."""
    conf = settings_for(site)
    if not conf.late_fee_percent:
        return 0
    charged = 0
    for bill in overdue_bills(site, today).filter(late_fee_charged=False):
        if bill.due_on + timedelta(days=conf.late_fee_grace_days) >= today:
            continue
        with transaction.atomic():
            account = ledger.lock_accounts([bill.account_id])[bill.account_id]
            outstanding = min(bill.amount_due, max(Decimal(0), -account.balance))
            fee = tariffs.round_money(outstanding * conf.late_fee_percent / 100, site.currency)
            if fee > 0:
                ledger.post(account, LedgerEntry.Kind.LATE_FEE, -fee, key=f"late:{bill.pk}", source="bill-run",
                            reference=bill.period)
                charged += 1
            Bill.objects.filter(pk=bill.pk).update(late_fee_charged=True)
    return charged
