"""Keeping meter clocks right: measure each meter's offset, correct the ones too far off.

Meters bill time-of-use by their own clock, so a clock that drifts moves energy between
tariffs. DL/T 645 broadcast time sync (08) reaches every meter on a bus at once but
meters accept it only for small corrections (a few minutes, once a day); beyond that
the clock is written per meter with its password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from meterhub.headend import meter_io
from meterhub.headend.bus import BusError
from meterhub.headend.commands import clock_offset_s

TOLERANCE_S = 60.0  # within this, leave the clock alone
BROADCAST_LIMIT_S = 300.0  # a broadcast corrects at most this much


@dataclass(frozen=True)
class ClockCheck:
    meter: meter_io.MeterRef
    offset_s: float | None
    action: str  # "ok" | "broadcast" | "write" | "failed" | "unsupported"
    detail: str = ""


async def calibrate_bus(session, meters, now, time_zone: str, *, tolerance_s: float = TOLERANCE_S,
                        clock=None) -> list[ClockCheck]:
    """Check every meter on one bus; one broadcast for the small offsets, writes for the rest."""
    checks: list[ClockCheck] = []
    needs_broadcast = []
    for meter in meters:
        if meter.version != "2007":
            checks.append(ClockCheck(meter, None, "unsupported", "1997 meters: no date/time items here"))
            continue
        try:
            offset = await clock_offset_s(session, meter, clock or now, time_zone)
        except BusError as exc:
            checks.append(ClockCheck(meter, None, "failed", str(exc)))
            continue
        if offset is None or abs(offset) <= tolerance_s:
            checks.append(ClockCheck(meter, offset, "ok"))
        elif abs(offset) <= BROADCAST_LIMIT_S:
            needs_broadcast.append((meter, offset))
        else:
            local = (clock() if clock else now).astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)
            try:
                await meter_io.write_clock(session, meter, local)
                checks.append(ClockCheck(meter, offset, "write"))
            except BusError as exc:
                checks.append(ClockCheck(meter, offset, "failed", str(exc)))
    if needs_broadcast:
        local = (clock() if clock else now).astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)
        await meter_io.broadcast_time(session, local)
        checks.extend(ClockCheck(m, off, "broadcast") for m, off in needs_broadcast)
    return checks


def as_event(check: ClockCheck, ts: datetime):
    from meterhub.headend.records import EventRecord

    return EventRecord(check.meter.id, f"clock_{check.action}", ts,
                       {"offset_s": None if check.offset_s is None else round(check.offset_s, 1),
                        "detail": check.detail[:200]}, "scheduled")
