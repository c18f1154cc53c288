"""Relay and valve positions as seen in the field, and the relay.changed webhook when one moves.

Two kinds of sighting: a status read (the head-end hands over a relay_state / valve_state event
when a read differs from the one before it in that process) and a command's read-back (a relay
or valve command is done only when the meter confirms it). Each is compared with the meter's
SwitchState row, under its lock, in the transaction that stores the sighting, so a move is told
once whoever sees it first. A first status read only sets the baseline; a sighting older than
the last one is history, not news.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from meterhub.assets.models import Meter
from meterhub.comms.models import Command, SwitchState
from meterhub.notifications import dispatch

EVENT = "relay.changed"
# The position a command leaves the switch in (close-allowed leaves closing to the customer's button).
AIMS = {Command.Kind.RELAY_TRIP: True, Command.Kind.RELAY_DIRECT_CLOSE: False,
        Command.Kind.VALVE_CLOSE: False, Command.Kind.VALVE_OPEN: True}
SIGHTINGS = {"relay_state": (SwitchState.Switch.RELAY, "relay_open"),
             "valve_state": (SwitchState.Switch.VALVE, "valve_open")}


def supplied(switch: str, is_open: bool) -> bool:
    """An open relay cuts supply; an open valve lets it through."""
    return is_open if switch == SwitchState.Switch.VALVE else not is_open


def _position(is_open: bool | None) -> str | None:
    return None if is_open is None else ("open" if is_open else "closed")


def last_seen(meter: Meter) -> dict | None:
    """Where the meter's relay or valve was last seen, and whether that lets supply through; None if never seen."""
    state = SwitchState.objects.filter(meter=meter).first()
    if state is None:
        return None
    return {"switch": state.switch, "state": _position(state.open),
            "supply": "on" if supplied(state.switch, state.open) else "off", "since": state.since,
            "seen_at": state.seen_at, "command_id": state.command_id}


def observe(meter: Meter, is_open: bool, at: datetime, *, switch: str, command: Command | None = None) -> bool:
    """Record a sighting; publish relay.changed when the switch moved. True if it did."""
    state = SwitchState.objects.select_for_update().filter(meter=meter).first()
    if state is not None and at < state.seen_at:
        return False
    if state is not None and state.open == is_open:
        state.seen_at = at
        state.save(update_fields=["seen_at"])
        return False
    old = None if state is None else state.open
    SwitchState.objects.update_or_create(meter=meter, defaults={
        "switch": switch, "open": is_open, "since": at, "seen_at": at, "command": command})
    if old is None and (command is None or AIMS.get(command.kind) != is_open):
        return False  # the first sighting: where it stands, not a move
    dispatch.publish(EVENT, {
        "meter_id": meter.pk, "meter": meter.serial, "site": meter.site.code, "switch": switch,
        "old_state": _position(old), "new_state": _position(is_open), "supply": "on" if supplied(switch, is_open)
        else "off", "at": at, "seen_by": "command" if command else "status_read",
        "command_id": command.pk if command else None, "command": command.kind if command else None,
        "requested_by": command.requested_by if command else None, "reason": command.reason if command else None,
    }, site=meter.site)
    return True


def observe_command(command: Command, at: datetime) -> bool:
    """A relay or valve command the meter confirmed: its read-back is a sighting."""
    switch = (SwitchState.Switch.VALVE if command.kind.startswith("valve") else SwitchState.Switch.RELAY)
    is_open = command.result.get(f"{switch}_open")
    if not isinstance(is_open, bool):
        return False
    return observe(command.meter, is_open, at, switch=switch, command=command)


def observe_events(records: Iterable) -> int:
    """The head-end's relay_state / valve_state events (in its batch's transaction); how many moved."""
    wanted = [r for r in records if r.kind in SIGHTINGS]
    meters = Meter.objects.select_related("site").in_bulk({r.meter_id for r in wanted})
    moved = 0
    for record in sorted(wanted, key=lambda r: r.ts):
        switch, field = SIGHTINGS[record.kind]
        is_open = record.detail.get(field)
        if record.meter_id in meters and isinstance(is_open, bool):
            moved += observe(meters[record.meter_id], is_open, record.ts, switch=switch)
    return moved
