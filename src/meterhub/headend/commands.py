"""Carrying out queued commands on meters, confirmed by reading the meter back.

The queue itself is in the database (comms.commands); this module only executes a
claimed task on a live bus and says what happened. A task that was sent before a
crash is re-claimed later: relay commands check the meter's state first, so the
meter ends where it was asked to be without a second operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from meterhub.headend import meter_io
from meterhub.headend.bus import BusError
from meterhub.headend.quantities import STATUS_WORD_3
from meterhub.protocols import dlt645

RELAY = {
    "relay_trip": (dlt645.RelayAction.TRIP, lambda s: s.get("relay_open") is True),
    "relay_direct_close": (dlt645.RelayAction.DIRECT_CLOSE, lambda s: s.get("relay_open") is False),
    # close-allowed leaves closing to the customer's button: confirmed when no trip is commanded
    "relay_close_allowed": (dlt645.RelayAction.CLOSE_ALLOWED, lambda s: s.get("relay_trip_commanded") is False),
}
TIME_ITEMS = (0x04000101, 0x04000102)


@dataclass
class CommandTask:
    id: int
    kind: str
    meter: meter_io.MeterRef
    valid_until: datetime
    time_zone: str
    attempt: int
    params: dict = field(default_factory=dict)


@dataclass
class Outcome:
    status: str  # "done" | "retry" | "failed"
    result: dict
    steps: list[tuple[str, dict]]


async def execute(session, task: CommandTask, now: datetime) -> Outcome:
    steps: list[tuple[str, dict]] = []
    try:
        if task.kind in RELAY:
            return await _relay(session, task, steps)
        if task.kind == "time_sync":
            if task.meter.version != "2007":
                return Outcome("failed", {"error": "DL/T 645-1997 meters cannot report their clock"}, steps)
            return await _time_sync(session, task, now, steps)
        if task.kind == "read_now":
            return await _read_now(session, task, steps)
        if task.kind in ("valve_open", "valve_close"):
            return await _valve(session, task, steps)
        return Outcome("failed", {"error": f"unknown command {task.kind}"}, steps)
    except meter_io.MeterRefused as exc:
        steps.append(("refused", {"errors": exc.errors}))
        return Outcome("failed", {"error": str(exc), "errors": exc.errors}, steps)
    except BusError as exc:
        steps.append(("no_answer", {"error": str(exc), "kind": exc.kind}))
        return Outcome("retry", {"error": str(exc)}, steps)


async def _status(session, task) -> dict:
    return await meter_io.read_item(session, task.meter, STATUS_WORD_3)


async def _relay(session, task, steps) -> Outcome:
    action, reached = RELAY[task.kind]
    if task.attempt > 1:  # it may have been sent before a restart: look before acting again
        before = await _status(session, task)
        if reached(before):
            steps.append(("confirmed", {"status_word_3": before.get("raw"), "already": True}))
            return Outcome("done", {"relay_open": before.get("relay_open")}, steps)
    meter_time = task.valid_until.astimezone(ZoneInfo(task.time_zone)).replace(tzinfo=None)
    steps.append(("sent", {"action": action.name, "valid_until": meter_time.isoformat()}))
    await meter_io.relay_control(session, task.meter, action, meter_time)
    steps.append(("acknowledged", {}))
    after = await _status(session, task)
    if reached(after):
        steps.append(("confirmed", {"status_word_3": after.get("raw")}))
        return Outcome("done", {"relay_open": after.get("relay_open")}, steps)
    steps.append(("not_confirmed", {"status_word_3": after.get("raw")}))
    return Outcome("retry", {"error": "the meter acknowledged but its status word does not show it"}, steps)


async def _time_sync(session, task, now: datetime, steps) -> Outcome:
    local = now.astimezone(ZoneInfo(task.time_zone)).replace(tzinfo=None)
    await meter_io.broadcast_time(session, local, task.meter.version)
    steps.append(("sent", {"time": local.isoformat(timespec="seconds")}))
    offset = await clock_offset_s(session, task.meter, now, task.time_zone)
    if offset is not None and abs(offset) <= task.params.get("tolerance_s", 30):
        steps.append(("confirmed", {"offset_s": offset}))
        return Outcome("done", {"offset_s": offset}, steps)
    steps.append(("not_confirmed", {"offset_s": offset}))
    return Outcome("retry", {"error": f"clock still off by {offset} s"}, steps)


async def clock_offset_s(session, meter: meter_io.MeterRef, now, time_zone: str) -> float | None:
    """Meter clock minus true time, in seconds (2007 meters: date item + time item).

    `now` is the true time, or a callable giving it: taken when the meter's time is
    read, so a long bus does not make later meters look slow. The time is read before
    and after the date; if it wrapped past midnight in between, it is read again.
    """
    if meter.version != "2007":
        return None
    for _ in range(2):
        before = await meter_io.read_item(session, meter, TIME_ITEMS[1])
        truth = now() if callable(now) else now
        day = await meter_io.read_item(session, meter, TIME_ITEMS[0])
        after = await meter_io.read_item(session, meter, TIME_ITEMS[1])
        if day is None or before is None or after is None:
            return None
        if after >= before:  # no midnight between the reads
            meter_time = datetime.combine(day, before)
            return (meter_time.replace(tzinfo=ZoneInfo(time_zone)) - truth).total_seconds()
    return None


async def _read_now(session, task, steps) -> Outcome:
    default = 0x9010 if task.meter.version == "1997" else 0x00010000  # forward active energy, total
    dis = [int(d, 16) for d in task.params.get("items", [])] or [default]
    values = await meter_io.read_items(session, task.meter, dis)
    result = {f"{di:08X}": (str(v) if not isinstance(v, BusError) else {"error": v.kind, "detail": str(v)})
              for di, v in values.items()}
    steps.append(("answered", {"items": len(values)}))
    failed = all(isinstance(v, BusError) for v in values.values())
    outcome = {"values": result}
    status = values.get(STATUS_WORD_3)
    if isinstance(status, dict) and "relay_open" in status:  # the relay as the meter reports it, for its reader
        outcome["relay_open"] = bool(status["relay_open"])
    return Outcome("retry" if failed else "done", outcome, steps)


async def _valve(session, task, steps) -> Outcome:
    want_open = task.kind == "valve_open"
    if task.attempt > 1 and meter_io.valve_open(await meter_io.read_mbus(session, task.meter)) == want_open:
        steps.append(("confirmed", {"valve_open": want_open, "already": True}))
        return Outcome("done", {"valve_open": want_open}, steps)
    steps.append(("sent", {"valve_open": want_open}))
    await meter_io.valve_control(session, task.meter, want_open)
    steps.append(("acknowledged", {}))
    state = meter_io.valve_open(await meter_io.read_mbus(session, task.meter))
    if state == want_open:
        steps.append(("confirmed", {"valve_open": state}))
        return Outcome("done", {"valve_open": state}, steps)
    steps.append(("not_confirmed", {"valve_open": state}))
    return Outcome("retry", {"error": "the meter acknowledged but reports the valve unchanged"}, steps)
