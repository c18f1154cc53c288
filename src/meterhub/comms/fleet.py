"""The head-end's fleet snapshot, built from the asset registry."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from meterhub.assets.models import Collector, Meter
from meterhub.headend.covers import COVERS, newest_numbers
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.meter_io import MeterRef
from meterhub.protocols.dlt645.seal import seal_spec_for
from meterhub.readings.models import MeterEvent
from meterhub.seals import chips


def meter_ref(meter: Meter, smart_sealed: frozenset[int] = frozenset(),
              cover_numbers: tuple[tuple[str, int], ...] = ()) -> MeterRef:
    return MeterRef(
        id=meter.pk, serial=meter.serial, address=meter.address, protocol=meter.protocol,
        collector=meter.collector.registration_id if meter.collector_id else "", bus_port=meter.bus_port,
        password=meter.password, operator_code=meter.operator_code, ct_ratio=meter.ct_ratio,
        pt_ratio=meter.pt_ratio, baud_rate=meter.baud_rate, kind=meter.kind, time_zone=meter.site.time_zone,
        seal_di=seal_spec_for(meter.model).di if meter.pk in smart_sealed else None, cover_numbers=cover_numbers,
    )


def newest_cover_numbers() -> dict[int, tuple[tuple[str, int], ...]]:
    """Per meter, the number of the newest cover opening stored of each kind (headend.covers).

    One lookup per meter and kind, newest first down the index of one_event_per_instant
    (meter, kind, ts), which stops at the first entry: the work grows with the fleet, not
    with the openings each meter has on record (docs/decisions.md)."""
    kinds = [c.opened for c in COVERS]
    newest = {f"newest_{n}": Subquery(MeterEvent.objects.filter(meter=OuterRef("pk"), kind=kind)
                                      .order_by("-ts").values("detail")[:1])
              for n, kind in enumerate(kinds)}
    rows = Meter.objects.order_by().annotate(**newest).values_list("pk", *newest)
    return newest_numbers((meter_id, kind, detail) for meter_id, *details in rows
                          for kind, detail in zip(kinds, details, strict=True) if detail is not None)


def load_fleet() -> Fleet:
    """Every collector, and every active meter: on its bus, or by device id for MQTT feeds."""
    collectors = [
        CollectorRef(id=c.pk, code=c.code, registration_id=c.registration_id, transport=c.transport,
                     host=c.host, port=c.port, enabled=c.enabled, serial_device=c.serial_device)
        for c in Collector.objects.all()
    ]
    smart_sealed, covers = chips.meters_with_smart_seals(), newest_cover_numbers()
    meters = [meter_ref(m, smart_sealed, covers.get(m.pk, ())) for m in Meter.objects.filter(active=True)
              .select_related("collector", "site").order_by("collector_id", "bus_port", "address")]
    return Fleet.build(collectors, meters)
