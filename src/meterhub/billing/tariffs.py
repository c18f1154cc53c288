"""Tariffs: pure pricing of billing determinants. No database, no clock.

A tariff definition (the JSON kept in `Tariff.definition`)::

    {"unit": "kWh",
     "standing_charge": "12.00",                       # per month, prorated by days
     "energy": {"price": "0.56"}                       # flat, or time-of-use:
             | {"periods": {"sharp": "1.2", "peak": "0.9", "flat": "0.6", "valley": "0.3"}},
     "tiers": [{"up_to": "200", "price": "0"},         # blocks of the month's (or year's) volume;
               {"up_to": "400", "price": "0.05"},      # with "energy" they are surcharges on
               {"price": "0.30"}],                     # top of it, without it the whole price
     "tier_basis": "monthly" | "annual",
     "seasons": [{"months": [7, 8, 9], "energy": {...}, "tiers": [...]}],
     "schedule": {"workday": [["00:00", "valley"], ["08:00", "flat"], ["10:00", "peak"], ...],
                  "rest_day": [["00:00", "valley"], ["08:00", "flat"]]}}

The energy charge is the sum over periods of volume x period price, plus the sum over
tier blocks of the volume falling in the block x block price: flat, tiered, time-of-use
and tiered time-of-use (China's 阶梯 + 峰谷) are all this one rule. Seasons replace
"energy"/"tiers" for the months they name (the month a billing period is labelled by).
`schedule` says which period a local time falls in (weekends and holidays are rest
days); it is only used for meters without tariff registers (interval data).

Rounding: every line is computed exactly (fractions) and rounded once, half-up to the
currency's minor unit (四舍五入, as Chinese utilities do); the bill is the sum of its
lines. A tariff change inside a period splits it by local days: each version prices
volume x days/period_days, with its tier limits and standing charge scaled the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation, localcontext
from fractions import Fraction

PERIODS = ("sharp", "peak", "flat", "valley")  # DL/T 645 tariff registers 1..4
PERIOD_REGISTER = {p: f"energy_import_t{i}" for i, p in enumerate(PERIODS, start=1)}
TOTAL = "total"
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3,
               "TND": 3}


WIDE = Context(prec=80)  # for rounding: far more digits than any amount or volume has
EXACT = Context(prec=80, traps=[Inexact, InvalidOperation])  # decimal pricing must never round silently


class TariffError(ValueError):
    """A tariff definition that cannot be priced, with the reason."""


def minor_unit(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def round_money(value: Fraction | Decimal, currency: str) -> Decimal:
    """Half-up (away from zero on a tie) to the currency's minor unit."""
    places = minor_unit(currency)
    if isinstance(value, Decimal):
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=WIDE)
    scaled = Fraction(value) * 10 ** places
    magnitude = int(abs(scaled) + Fraction(1, 2))  # floor(|x| + 1/2)
    units = magnitude if scaled >= 0 else -magnitude
    return Decimal(units).scaleb(-places)


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class Prices:
    flat: Decimal | None = None  # one price for every period
    periods: dict[str, Decimal] = field(default_factory=dict)
    tiers: tuple[Tier, ...] = ()

    @property
    def time_of_use(self) -> bool:
        return bool(self.periods)


@dataclass(frozen=True)
class Plan:
    unit: str
    standing_charge: Decimal
    prices: Prices
    seasons: tuple[tuple[frozenset[int], Prices], ...]
    tier_basis: str
    schedule: dict[str, tuple[tuple[time, str], ...]]

    def prices_for(self, month: int) -> Prices:
        for months, prices in self.seasons:
            if month in months:
                return prices
        return self.prices

    @property
    def kind(self) -> str:
        p = self.prices
        return ("tou" if p.time_of_use else "flat" if p.flat is not None else "") + ("+tiered" if p.tiers else "")


@dataclass(frozen=True)
class Line:
    code: str  # "energy", "energy:peak", "tier:2", "standing"
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    valid_from: date | None = None  # set when the period was split between tariff versions


@dataclass(frozen=True)
class Segment:
    """Part of a billing period priced by one tariff version."""

    plan: Plan
    days: int
    valid_from: date | None = None


# --- parsing --------------------------------------------------------------------------------

def _decimal(value, what: str, *, positive: bool = False) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise TariffError(f"{what} must be a number, not {value!r}") from None
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise TariffError(f"{what} must be a {'positive' if positive else 'non-negative'} number, not {value!r}")
    return number


def _prices(energy: dict | None, tiers: list | None, where: str) -> Prices:
    flat, periods = None, {}
    if energy is not None:
        if not isinstance(energy, dict) or ("price" in energy) == ("periods" in energy):
            raise TariffError(f"{where}energy needs either a price or periods")
        if "price" in energy:
            flat = _decimal(energy["price"], f"{where}energy price")
        else:
            raw = energy["periods"]
            if not isinstance(raw, dict) or not raw or set(raw) - set(PERIODS):
                raise TariffError(f"{where}periods are some of {', '.join(PERIODS)}")
            periods = {p: _decimal(v, f"{where}{p} price") for p, v in raw.items()}
    parsed: list[Tier] = []
    for n, tier in enumerate(tiers or [], start=1):
        if not isinstance(tier, dict) or "price" not in tier:
            raise TariffError(f"{where}tier {n} needs a price")
        up_to = tier.get("up_to")
        limit = None if up_to is None else _decimal(up_to, f"{where}tier {n} limit", positive=True)
        if parsed and (parsed[-1].up_to is None or (limit is not None and limit <= parsed[-1].up_to)):
            raise TariffError(f"{where}tier limits must rise, and only the last tier is open-ended")
        parsed.append(Tier(limit, _decimal(tier["price"], f"{where}tier {n} price")))
    if parsed and parsed[-1].up_to is not None:
        raise TariffError(f"{where}the last tier must be open-ended (no up_to)")
    if flat is None and not periods and not parsed:
        raise TariffError(f"{where}a tariff needs an energy price or tiers")
    return Prices(flat, periods, tuple(parsed))


def _schedule(raw) -> dict[str, tuple[tuple[time, str], ...]]:
    out = {}
    for day_type in ("workday", "rest_day"):
        rows = (raw or {}).get(day_type) or (raw or {}).get("workday")
        if not rows:
            continue
        try:
            parsed = tuple(sorted((time.fromisoformat(start), period) for start, period in rows))
        except (TypeError, ValueError):
            raise TariffError(f"schedule {day_type}: rows are [\"HH:MM\", period]") from None
        if parsed[0][0] != time(0) or any(p not in PERIODS for _t, p in parsed):
            raise TariffError(f"schedule {day_type} must start at 00:00 and name periods of {', '.join(PERIODS)}")
        out[day_type] = parsed
    return out


def parse(definition: dict) -> Plan:
    if not isinstance(definition, dict):
        raise TariffError("a tariff definition is a JSON object")
    unknown = set(definition) - {"unit", "standing_charge", "energy", "tiers", "tier_basis", "seasons", "schedule"}
    if unknown:
        raise TariffError(f"unknown tariff keys: {', '.join(sorted(unknown))}")
    basis = definition.get("tier_basis", "monthly")
    if basis not in ("monthly", "annual"):
        raise TariffError("tier_basis is monthly or annual")
    seasons = []
    for n, season in enumerate(definition.get("seasons") or [], start=1):
        months = frozenset(season.get("months") or [])
        if not months or not months <= set(range(1, 13)):
            raise TariffError(f"season {n} needs months 1-12")
        seasons.append((months, _prices(season.get("energy"), season.get("tiers"), f"season {n} ")))
    plan = Plan(unit=str(definition.get("unit", "kWh")),
                standing_charge=_decimal(definition.get("standing_charge", 0), "standing charge"),
                prices=_prices(definition.get("energy"), definition.get("tiers"), ""),
                seasons=tuple(seasons), tier_basis=basis, schedule=_schedule(definition.get("schedule")))
    return plan


# --- time-of-use classification (interval data) ---------------------------------------------

def period_at(plan: Plan, local: datetime, holidays: Iterable[date] = ()) -> str:
    """The time-of-use period a site-local time falls in (weekends and holidays: rest-day table)."""
    if not plan.schedule:
        return "flat"
    rest = local.weekday() >= 5 or local.date() in set(holidays)
    table = plan.schedule.get("rest_day" if rest else "workday") or plan.schedule["workday"]
    current = table[0][1]
    for start, period in table:
        if local.time() >= start:
            current = period
    return current


# --- pricing --------------------------------------------------------------------------------

def _tier_blocks(tiers: tuple[Tier, ...], start, volume, scale):
    """(tier number, tier, volume in that block) for volume placed on top of `start`,
    the tier limits scaled by `scale` (a prorated part of a month)."""
    low = 0
    for n, tier in enumerate(tiers, start=1):
        high = None if tier.up_to is None else type(scale)(tier.up_to) * scale
        a = max(start, low)
        b = start + volume if high is None else min(start + volume, high)
        if b > a:
            yield n, tier, b - a
        if high is None:
            break
        low = high


def price(segments: list[Segment], volumes: dict[str, Decimal], *, month: int, currency: str,
          prior_volume: Decimal = Decimal(0), month_days: int | None = None) -> list[Line]:
    """Lines for one billing period.

    `volumes` are the period's determinants: per time-of-use period ("sharp".."valley"),
    or {"total": v} for a meter without tariff registers on a non-time-of-use tariff.
    `prior_volume` is this year's volume before the period (annual tiers only).
    Segments are the tariff versions in force over the period, in order, with their days.
    `month_days` is the whole period's length when the account was open for only part of
    it (the standing charge is for the days it was open; the volume is all its own).
    """
    total_days = sum(s.days for s in segments)
    if total_days <= 0:
        raise TariffError("a billing period has at least one day")
    # Exact either way: fractions when the period is split (shares like 10/31), else decimals,
    # whose products of decimals are exact (the Inexact trap proves it), and much faster.
    prorated = sum(1 for s in segments if s.days) > 1 or month_days not in (None, total_days)
    num = Fraction if prorated else Decimal
    with localcontext(EXACT):
        return _price(segments, volumes, month, currency, prior_volume, month_days or total_days, total_days, num)


def _price(segments, volumes, month, currency, prior_volume, month_days, total_days, num) -> list[Line]:
    lines: list[Line] = []
    total_volume = sum((num(v) for v in volumes.values()), num(0))
    used = num(prior_volume)
    for segment in segments:
        if segment.days == 0:
            continue
        plan, share = segment.plan, num(segment.days) / num(total_days)
        prices = plan.prices_for(month)
        split = segment.valid_from if len(segments) > 1 else None
        lines.extend(_base_lines(prices, volumes, share, plan.unit, currency, split, num))
        if prices.tiers:
            # monthly limits shrink with the part of the month; annual ones count the year so far
            scale, start = (share, num(0)) if plan.tier_basis == "monthly" else (num(1), used)
            for n, tier, block in _tier_blocks(prices.tiers, start, total_volume * share, scale):
                lines.append(Line(f"tier:{n}", _quantity(block), plan.unit, tier.price,
                                  round_money(block * num(tier.price), currency), split))
        used += total_volume * share
        if plan.standing_charge:
            months = num(segment.days) / num(month_days)
            lines.append(Line("standing", _quantity(months), "month", plan.standing_charge,
                              round_money(months * num(plan.standing_charge), currency), split))
    return lines


def _quantity(value: Fraction | Decimal) -> Decimal:
    if isinstance(value, Fraction):
        value = WIDE.divide(Decimal(value.numerator), Decimal(value.denominator))
    return value.quantize(Decimal("0.000001"), context=WIDE)


def _base_lines(prices: Prices, volumes: dict[str, Decimal], share, unit: str, currency: str,
                split: date | None, num) -> list[Line]:
    if prices.time_of_use:
        missing = set(volumes) - set(prices.periods)
        if TOTAL in volumes or missing:
            raise TariffError("a time-of-use tariff needs volumes per period (tariff registers or interval data)"
                              if TOTAL in volumes else f"no price for period {', '.join(sorted(missing))}")
        return [Line(f"energy:{p}", _quantity(num(volumes[p]) * share), unit, prices.periods[p],
                     round_money(num(volumes[p]) * share * num(prices.periods[p]), currency), split)
                for p in PERIODS if p in volumes]
    if prices.flat is None:
        return []
    volume = sum((num(v) for v in volumes.values()), num(0)) * share
    return [Line("energy", _quantity(volume), unit, prices.flat, round_money(volume * num(prices.flat), currency),
                 split)]


def total(lines: Iterable[Line]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0))


def interval_charge(plan: Plan, volumes: dict[str, Decimal], *, month: int, month_volume_before: Decimal,
                    prior_volume_year: Decimal = Decimal(0)) -> Fraction:
    """The exact (unrounded) price of consumption between two reads, placed on top of
    what the month (or year, for annual tiers) already used: prepaid charging."""
    prices = plan.prices_for(month)
    amount = Fraction(0)
    if prices.time_of_use:
        missing = set(volumes) - set(prices.periods)
        if missing:
            raise TariffError(f"no price for period {', '.join(sorted(missing))}")
        amount += sum((Fraction(v) * Fraction(prices.periods[p]) for p, v in volumes.items()), Fraction(0))
    elif prices.flat is not None:
        amount += sum((Fraction(v) for v in volumes.values()), Fraction(0)) * Fraction(prices.flat)
    volume = sum((Fraction(v) for v in volumes.values()), Fraction(0))
    start = Fraction(month_volume_before) if plan.tier_basis == "monthly" else Fraction(prior_volume_year)
    for _n, tier, block in _tier_blocks(prices.tiers, start, volume, Fraction(1)):
        amount += block * Fraction(tier.price)
    return amount


# --- which version applies ------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    """A tariff row as the pricing needs it."""

    utility: str
    customer_class: str  # "" = every class without its own
    valid_from: date
    valid_to: date | None
    plan: Plan


def segments(versions: Iterable[Version], utility: str, customer_class: str, start: date, end: date
             ) -> list[Segment]:
    """The versions in force over local days [start, end), as runs of days. A class's own
    version beats the generic one on each day. Raises TariffError for a day without one."""
    candidates = [v for v in versions if v.utility == utility and v.customer_class in ("", customer_class)]
    out: list[Segment] = []
    previous = None
    day = start
    while day < end:
        in_force = [v for v in candidates if v.valid_from <= day and (v.valid_to is None or day < v.valid_to)]
        if not in_force:
            raise TariffError(f"no {utility} tariff for class {customer_class or '-'} on {day.isoformat()}")
        chosen = max(in_force, key=lambda v: (v.customer_class == customer_class, v.valid_from))
        if chosen is previous:
            out[-1] = Segment(chosen.plan, out[-1].days + 1, out[-1].valid_from)
        else:
            out.append(Segment(chosen.plan, 1, day))  # valid_from: the day this part of the period begins
        previous = chosen
        day += timedelta(days=1)
    return out
