"""What the console shows about a meter's or collector's life in the field."""

from __future__ import annotations

from meterhub.comms.models import BusLink, Command, LinkEvent, MeterCommStatus
from meterhub.readings import latest
from meterhub.readings.models import Reading

COMMANDS_SHOWN = 10


def latest_readings(meter) -> list[Reading]:
    """The newest reading of each quantity the meter has sent."""
    return latest.latest_per_quantity(meter.pk)


def comm_status(meter) -> MeterCommStatus | None:
    """How reading the meter has gone: None before the first attempt."""
    return MeterCommStatus.objects.filter(meter=meter).first()


def meter_state(meter) -> dict:
    return {
        "comm": comm_status(meter),
        "readings": latest_readings(meter),
        "commands": Command.objects.filter(meter=meter).prefetch_related("steps")[:COMMANDS_SHOWN],
        "command_kinds": [(k, label) for k, label in Command.Kind.choices
                          if not k.startswith(("relay", "valve")) or k.startswith(meter.switch)],
    }


def collector_state(collector) -> dict:
    return {
        "bus_links": BusLink.objects.filter(collector=collector).order_by("port"),
        "link_events": LinkEvent.objects.filter(collector=collector)[:20],
    }
