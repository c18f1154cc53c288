"""The head-end's picture of the field: which collectors may connect and what is on each bus.

A snapshot built by the domain (comms.fleet.load_fleet) and refreshed now and then; the
event loop reads it without touching the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meterhub.headend.meter_io import MeterRef


@dataclass(frozen=True)
class CollectorRef:
    id: int
    code: str
    registration_id: str
    transport: str
    host: str = ""
    port: int | None = None
    enabled: bool = True
    link_latency_s: float = 0.3
    serial_device: str = ""


@dataclass
class BusRef:
    registration_id: str
    port: int
    protocol: str
    baud: int
    meters: list[MeterRef] = field(default_factory=list)


@dataclass
class Fleet:
    collectors: dict[str, CollectorRef] = field(default_factory=dict)  # by registration id
    buses: dict[tuple[str, int], BusRef] = field(default_factory=dict)
    meters: dict[str, MeterRef] = field(default_factory=dict)  # by serial
    glow: dict[str, MeterRef] = field(default_factory=dict)  # MQTT feed meters by device id

    @classmethod
    def build(cls, collectors: list[CollectorRef], meters: list[MeterRef]) -> Fleet:
        fleet = cls(collectors={c.registration_id: c for c in collectors})
        for meter in meters:
            fleet.meters[meter.serial] = meter
            if meter.protocol == "glow_mqtt":
                fleet.glow[meter.address.upper()] = meter
                continue
            if not meter.collector:
                continue
            key = (meter.collector, meter.bus_port)
            bus = fleet.buses.get(key)
            if bus is None:
                family = "mbus" if meter.protocol == "mbus" else "dlt645"
                bus = fleet.buses[key] = BusRef(meter.collector, meter.bus_port, family, meter.baud_rate)
            bus.meters.append(meter)
        return fleet

    def bus(self, registration_id: str, port: int) -> BusRef:
        """The bus, or an empty one (a collector may connect before its meters are registered)."""
        return self.buses.get((registration_id, port)) or BusRef(registration_id, port, "dlt645", 2400)
