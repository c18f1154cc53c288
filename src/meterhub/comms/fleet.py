"""The head-end's fleet snapshot, built from the asset registry."""

from __future__ import annotations

from meterhub.assets.models import Collector, Meter
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.meter_io import MeterRef


def meter_ref(meter: Meter) -> MeterRef:
    return MeterRef(
        id=meter.pk, serial=meter.serial, address=meter.address, protocol=meter.protocol,
        collector=meter.collector.registration_id if meter.collector_id else "", bus_port=meter.bus_port,
        password=meter.password, operator_code=meter.operator_code, ct_ratio=meter.ct_ratio,
        pt_ratio=meter.pt_ratio, baud_rate=meter.baud_rate, kind=meter.kind,
    )


def load_fleet() -> Fleet:
    """Every collector, and every active meter: on its bus, or by device id for MQTT feeds."""
    collectors = [
        CollectorRef(id=c.pk, code=c.code, registration_id=c.registration_id, transport=c.transport,
                     host=c.host, port=c.port, enabled=c.enabled, serial_device=c.serial_device)
        for c in Collector.objects.all()
    ]
    meters = [meter_ref(m) for m in Meter.objects.filter(active=True)
              .select_related("collector").order_by("collector_id", "bus_port", "address")]
    return Fleet.build(collectors, meters)
