"""Prepaid: charge consumption as reads arrive, warn on low balance, cut off and restore.

Charging is a readings processing step (order 60, after validation and estimation):
for each prepaid account on a dirty meter it prices the register intervals after its
cursor (`PrepaidCursor`: the last charged reads) and moves the cursor, in the same
transaction as the ledger entry, so each interval is charged once however often a day
is re-processed. Only actual and edited reads are charged: an estimate could be
replaced by a lower actual, and money taken on a guess is hard to give back. The month's
exact amount is carried unrounded; each charge is round(exact so far) - charged so far,
so many small charges add up to the rounded month total, never drifting a cent.

Cut-off and restore go through the head-end's durable command queue. Cut-off waits for
friendly hours (not at night, at weekends or on holidays, as the site configures, and
never automatically for a customer flagged vulnerable); restore is immediate. Every
cut-off, restore and held-back cut-off is recorded (`SupplyAction`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from meterhub.assets.models import Meter
from meterhub.billing import determinants, ledger, settlement, tariffs
from meterhub.billing.models import (
    Account,
    BalanceAlert,
    BillingSettings,
    Holiday,
    LedgerEntry,
    PrepaidCursor,
    SupplyAction,
    Tariff,
)
from meterhub.comms.models import Command
from meterhub.readings.models import Quality, Reading

log = logging.getLogger(__name__)
CHARGEABLE = (Quality.ACTUAL, Quality.EDITED)
CUT = {Meter.Switch.RELAY: Command.Kind.RELAY_TRIP, Meter.Switch.VALVE: Command.Kind.VALVE_CLOSE}
RESTORE = {Meter.Switch.RELAY: Command.Kind.RELAY_DIRECT_CLOSE, Meter.Switch.VALVE: Command.Kind.VALVE_OPEN}


# --- friendly hours -------------------------------------------------------------------------

def cutoff_held_because(conf: BillingSettings, local_now: datetime, holidays: set[date], vulnerable: bool
                        ) -> str | None:
    """Why a cut-off must wait now, or None when it may go ahead."""
    if vulnerable:
        return "vulnerable customer"
    if conf.no_cutoff_holidays and local_now.date() in holidays:
        return "holiday"
    if conf.no_cutoff_weekends and local_now.weekday() >= 5:
        return "weekend"
    start, end, now = _as_time(conf.quiet_from), _as_time(conf.quiet_until), local_now.time()
    if start != end and ((start <= now < end) if start < end else (now >= start or now < end)):
        return "night"
    return None


def _as_time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)


# --- charging -------------------------------------------------------------------------------

def charge_meter_days(meter_days: list[tuple[int, date]]) -> None:
    """The processing step: charge and enforce every prepaid account on these meters."""
    meter_ids = sorted({m for m, _day in meter_days})
    accounts = list(Account.objects.filter(meter_id__in=meter_ids, payment_mode=Meter.PaymentMode.PREPAID,
                                           closed_on__isnull=True).values_list("pk", flat=True))
    for account_id in accounts:
        charge_account(account_id)


@transaction.atomic
def charge_account(account_id: int, now: datetime | None = None) -> list[LedgerEntry]:
    """Charge the intervals after the cursor, warn, and cut off or restore if needed."""
    account = ledger.lock_accounts([account_id])[account_id]
    account = Account.objects.select_related("site", "customer", "meter").get(pk=account.pk)
    site = account.site
    conf = settlement.settings_for(site)
    zone = ZoneInfo(site.time_zone)
    total = determinants.TOTAL_REGISTER[account.utility]
    cursor = PrepaidCursor.objects.filter(account=account).first()
    since = cursor.last_ts if cursor else settlement.local_midnight(account.opened_on, site.time_zone)
    groups = _reads_after(account.meter_id, determinants.quantities_for(account.utility), since, total)
    if not groups:
        entries = []
    else:
        if cursor is None:  # the first read after opening is where charging starts
            ts, registers = groups.pop(0)
            cursor = PrepaidCursor.objects.create(account=account, meter_id=account.meter_id, last_ts=ts,
                                                  registers={q: str(v) for q, v in registers.items()},
                                                  month=_period_of(ts, zone, conf.settlement_day))
        entries = _charge(account, cursor, groups, zone, conf)
    enforce(account, now=now, conf=conf)
    return entries


def _reads_after(meter_id: int, quantities, since: datetime, total: str) -> list[tuple[datetime, dict]]:
    rows = (Reading.objects.filter(meter_id=meter_id, quantity__in=quantities, ts__gt=since, quality__in=CHARGEABLE)
            .order_by("ts").values_list("ts", "quantity", "value"))
    by_ts: dict[datetime, dict[str, Decimal]] = {}
    for ts, quantity, value in rows:
        by_ts.setdefault(ts, {})[quantity] = value
    return [(ts, regs) for ts, regs in by_ts.items() if total in regs]


def _period_of(ts: datetime, zone: ZoneInfo, settlement_day: int) -> str:
    """The billing period an interval ending at `ts` belongs to (start < ts <= end)."""
    local = (ts - timedelta(microseconds=1)).astimezone(zone)
    year, month = local.year, local.month
    if local.day < settlement_day:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return f"{year}-{month:02d}"


def _versions(site) -> list[tariffs.Version]:
    return [tariffs.Version(t.utility, t.customer_class, t.valid_from, t.valid_to, tariffs.parse(t.definition))
            for t in Tariff.objects.filter(site=site)]


def _charge(account: Account, cursor: PrepaidCursor, groups, zone: ZoneInfo, conf: BillingSettings
            ) -> list[LedgerEntry]:
    site = account.site
    total = determinants.TOTAL_REGISTER[account.utility]
    versions = _versions(site)
    holidays = set(Holiday.objects.filter(site=site).values_list("day", flat=True))
    posted: list[LedgerEntry] = []
    exact = Fraction(cursor.month_exact)
    pending_ts = None
    for ts, registers in groups:
        previous = {q: Decimal(v) for q, v in cursor.registers.items()}
        used = registers[total] - previous.get(total, registers[total])
        if used < 0:
            log.error("account %s: %s ran backwards at %s; charging stops until it is resolved",
                      account.number, total, ts.isoformat())
            break
        local = ts.astimezone(zone)
        month = _period_of(ts, zone, conf.settlement_day)
        if month != cursor.month:  # a new billing period: post what the old one owes first
            posted += _post_charge(account, cursor, exact, pending_ts)
            cursor.month, cursor.month_volume, cursor.month_charged, exact = month, Decimal(0), Decimal(0), Fraction(0)
            pending_ts = None
        day = local.date()
        plan = tariffs.segments(versions, account.utility, account.customer.customer_class, day,
                                day + timedelta(days=1))[0].plan
        volumes = _interval_volumes(plan, previous, registers, used, cursor.last_ts.astimezone(zone), holidays,
                                    int(month[5:]))
        exact += tariffs.interval_charge(plan, volumes, month=int(month[5:]), month_volume_before=cursor.month_volume)
        cursor.month_volume += used
        cursor.last_ts, cursor.registers = ts, {q: str(v) for q, v in registers.items()}
        pending_ts = ts
    posted += _post_charge(account, cursor, exact, pending_ts)
    cursor.month_exact = Decimal(exact.numerator) / Decimal(exact.denominator)
    cursor.save()
    return posted


def _interval_volumes(plan: tariffs.Plan, previous: dict, registers: dict, used: Decimal, start_local: datetime,
                      holidays: set[date], month: int) -> dict[str, Decimal]:
    if not plan.prices_for(month).time_of_use:
        return {tariffs.TOTAL: used}
    by_register = {p: registers[r] - previous[r] for p, r in tariffs.PERIOD_REGISTER.items()
                   if r in registers and r in previous}
    if by_register and all(v >= 0 for v in by_register.values()):
        return by_register
    return {tariffs.period_at(plan, start_local, holidays): used}  # no tariff registers: the interval's period


def _post_charge(account: Account, cursor: PrepaidCursor, exact: Fraction, ts: datetime | None) -> list[LedgerEntry]:
    if ts is None:
        return []
    charged_so_far = tariffs.round_money(exact, account.site.currency)
    charge = charged_so_far - cursor.month_charged
    cursor.month_charged = charged_so_far
    if charge == 0:
        return []
    result = ledger.post(account, LedgerEntry.Kind.CONSUMPTION, -charge, key=f"use:{account.pk}:{ts.isoformat()}",
                         source="prepaid", at=ts, reference=cursor.month)
    if result.created:
        warn_if_low(account, result)
    return [result.entry]


def warn_if_low(account: Account, posted: ledger.Posted) -> list[BalanceAlert]:
    """Record a low-balance warning for each threshold this posting crossed downwards."""
    conf = settlement.settings_for(account.site)
    crossed = [Decimal(str(t)) for t in conf.low_balance_thresholds
               if posted.balance_before >= Decimal(str(t)) > posted.balance]
    return [BalanceAlert.objects.get_or_create(account=account, entry=posted.entry, threshold=t,
                                               defaults={"balance": posted.balance})[0] for t in crossed]


# --- cut-off and restore --------------------------------------------------------------------

def enforce(account: Account, *, now: datetime | None = None, conf: BillingSettings | None = None
            ) -> SupplyAction | None:
    """Cut off a prepaid account at its limit (outside friendly hours), restore it above.
    Call with the account locked (inside the transaction that moved its balance)."""
    if account.payment_mode != Meter.PaymentMode.PREPAID:
        return None
    account.refresh_from_db(fields=["balance", "supply"])
    meter = account.meter
    if meter.switch not in CUT:
        return None
    limit = -account.credit_limit
    if account.supply == Account.Supply.ON and account.balance <= limit:
        conf = conf or settlement.settings_for(account.site)
        now = now or timezone.now()
        local = now.astimezone(ZoneInfo(account.site.time_zone))
        holidays = set(Holiday.objects.filter(site=account.site, day=local.date()).values_list("day", flat=True))
        held = cutoff_held_because(conf, local, holidays, account.vulnerable)
        if held:
            last = account.supply_actions.first()
            if last is None or last.action != SupplyAction.Action.HELD or last.reason != f"held: {held}":
                return SupplyAction.objects.create(account=account, meter=meter, action=SupplyAction.Action.HELD,
                                                   balance=account.balance, reason=f"held: {held}", at=now)
            return None
        return switch_supply(account, CUT[meter.switch], SupplyAction.Action.CUT, Account.Supply.OFF, now,
                       f"balance {account.balance} at or below the limit {limit}")
    if account.supply == Account.Supply.OFF and account.balance > limit:
        return switch_supply(account, RESTORE[meter.switch], SupplyAction.Action.RESTORE, Account.Supply.ON,
                       now or timezone.now(), f"balance {account.balance} above the limit {limit}")
    return None


def switch_supply(account: Account, kind: str, action: str, supply: str, now: datetime, reason: str
                  ) -> SupplyAction:
    """Queue the cut or restore command and record it (or record why it could not be queued)."""
    from meterhub.comms.commands import request_command

    try:
        with transaction.atomic():
            command = request_command(account.meter, kind, requested_by="billing", reason=f"prepaid {account.number}: "
                                      f"{reason}"[:200])
    except ValidationError as exc:
        last = account.supply_actions.first()
        if last is not None and last.action == SupplyAction.Action.FAILED:
            return last  # recorded already; not again every read cycle
        return SupplyAction.objects.create(account=account, meter=account.meter, action=SupplyAction.Action.FAILED,
                                           balance=account.balance, reason="; ".join(exc.messages)[:200], at=now)
    Account.objects.filter(pk=account.pk).update(supply=supply)
    account.supply = supply
    return SupplyAction.objects.create(account=account, meter=account.meter, action=action, command=command,
                                       balance=account.balance, reason=reason[:200], at=now)
