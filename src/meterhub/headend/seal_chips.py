"""Smart seal chips as the head-end sees them: a chip read becomes an event when it changes.

The meter answers its seal item (protocols.dlt645.seal) with the chip's asset number,
sealed/open and the time of the last change by the meter's clock (local time at the
meter's site). The head-end keeps the last state it saw per meter and hands over an
EventRecord only when something changed, stamped with the chip's own time, so the
same opening read on every cycle is one event (and a repeat after a restart is stored
once: events are unique per meter, kind and time).
"""

from __future__ import annotations

from datetime import datetime

from meterhub.headend.meter_io import meter_clock_utc
from meterhub.headend.records import EventRecord
from meterhub.protocols.dlt645.seal import SealStatus

OPEN, CLOSED, SEEN, UNKNOWN = "seal_open", "seal_closed", "seal_seen", "seal_unknown"


def chip_time_utc(status: SealStatus, time_zone: str) -> datetime | None:
    return None if status.changed_at is None else meter_clock_utc(status.changed_at, time_zone)


def event_kind(status: SealStatus) -> str:
    if status.sealed is None:
        return UNKNOWN
    if not status.sealed:
        return OPEN
    return CLOSED if status.changed_at is not None else SEEN


class ChipWatch:
    """The last chip state seen per meter (by id), in memory."""

    def __init__(self):
        self._last: dict[int, tuple] = {}

    def observe(self, meter, status: SealStatus, read_at: datetime, source: str = "scheduled") -> EventRecord | None:
        key = (status.asset_number, status.sealed, status.changed_at, status.state_raw)
        if self._last.get(meter.id) == key:
            return None
        self._last[meter.id] = key
        at = chip_time_utc(status, meter.time_zone)
        detail = {**status.to_dict(), "chip_time": status.changed_at.isoformat() if status.changed_at else None}
        return EventRecord(meter.id, event_kind(status), at or read_at, detail, source)
