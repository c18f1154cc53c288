"""Alarm rules over instantaneous readings: voltage loss / phase failure, reverse energy
flow, current imbalance. A processing step (order 70, after validation and aggregation):
for each meter in the batch, the latest instant read in its dirty days decides -- the
condition raises its alarm at that reading's time, a later normal reading clears it.
Idempotent: the same reading again counts nothing (raise_alarm, resolve).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from meterhub.alarms.models import AlarmSettings
from meterhub.alarms.services import raise_alarm, resolve
from meterhub.assets.models import Meter, MeterKind
from meterhub.readings.models import Reading

PHASES = ("a", "b", "c")
INSTANT = [f"voltage_{p}" for p in PHASES] + [f"current_{p}" for p in PHASES] + ["power_active"]


def evaluate_days(meter_days) -> None:
    days_by_meter = defaultdict(list)
    for meter_id, day in meter_days:
        days_by_meter[meter_id].append(day)
    meters = Meter.objects.select_related("site").filter(kind=MeterKind.ELECTRICITY).in_bulk(list(days_by_meter))
    for meter_id, meter in meters.items():
        days = days_by_meter[meter_id]
        start = datetime.combine(min(days), time(), UTC)
        end = datetime.combine(max(days), time(), UTC) + timedelta(days=1)
        rows = list(Reading.objects.filter(meter_id=meter_id, quantity__in=INSTANT, ts__gte=start, ts__lt=end)
                    .order_by("-ts").values_list("ts", "quantity", "value")[:50])
        if not rows:
            continue
        latest = rows[0][0]
        values = {q: v for ts, q, v in rows if ts == latest}
        check(meter, latest, values, AlarmSettings.for_site(meter.site_id))


def conditions(values: dict[str, Decimal], limits: AlarmSettings) -> dict[str, dict | None]:
    """Which conditions these simultaneous values show: {kind: detail if present else None};
    kinds the values say nothing about are left out. Pure: the property tests call it."""
    out: dict[str, dict | None] = {}
    volts = {p: values[f"voltage_{p}"] for p in PHASES if f"voltage_{p}" in values}
    if volts:
        low = sorted(p for p, v in volts.items() if v < limits.voltage_loss_v)
        out["voltage_loss"] = {"phases": low, "volts": {p: str(v) for p, v in volts.items()}} if low else None
    if "power_active" in values:
        power = values["power_active"]
        out["reverse_flow"] = {"power_kw": str(power)} if power < -limits.reverse_power_kw else None
    amps = {p: values[f"current_{p}"] for p in PHASES if f"current_{p}" in values}
    if len(amps) >= 2:
        high, low_a = max(amps.values()), min(amps.values())
        imbalance = (high - low_a) / high * 100 if high > 0 else Decimal(0)
        out["current_imbalance"] = ({"percent": str(round(imbalance, 1)), "amps": {p: str(v) for p, v in amps.items()}}
                                    if high >= limits.imbalance_min_a and imbalance > limits.imbalance_pct else None)
    return out


def check(meter, at: datetime, values: dict[str, Decimal], limits: AlarmSettings) -> None:
    for kind, detail in conditions(values, limits).items():
        if detail is not None:
            raise_alarm(kind, at, meter=meter, detail=detail)
        else:
            resolve(kind, at, meter=meter)
