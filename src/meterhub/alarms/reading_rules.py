"""Alarm rules over readings: voltage loss / phase failure, reverse energy flow, current
imbalance (instantaneous values), and consumption while the relay is open (the energy
register against the head-end's last relay_state event). A processing step (order 70, after validation and aggregation):
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
        limits = AlarmSettings.for_site(meter.site_id)
        if meter.switch == Meter.Switch.RELAY:
            check_relay_open(meter, limits)
        if not rows:
            continue
        latest = rows[0][0]
        values = {q: v for ts, q, v in rows if ts == latest}
        check(meter, latest, values, limits)


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


def check_relay_open(meter, limits: AlarmSettings) -> None:
    """Energy registered since the relay was last seen opening: the supply is not cut (a
    bypass, a welded contact). Cleared when the relay is seen closed again."""
    from meterhub.readings.models import MeterEvent

    last = MeterEvent.objects.filter(meter=meter, kind="relay_state").order_by("-ts").first()
    if last is None:
        return
    if not last.detail.get("relay_open"):
        resolve("consumption_relay_open", last.ts, meter=meter)
        return
    energy = Reading.objects.filter(meter=meter, quantity="energy_import", ts__gte=last.ts)
    first, latest = energy.order_by("ts").first(), energy.order_by("-ts").first()
    if first is not None and latest.value - first.value > limits.relay_open_kwh:
        raise_alarm("consumption_relay_open", latest.ts, meter=meter,
                    detail={"since": last.ts.isoformat(), "kwh": str(latest.value - first.value)})
