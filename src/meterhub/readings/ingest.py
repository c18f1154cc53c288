"""Bulk ingest of readings and events; a record delivered twice is stored once."""

from __future__ import annotations

from meterhub.readings.models import MeterEvent, Reading

BATCH = 2000


def store_readings(records) -> None:
    Reading.objects.bulk_create(
        (Reading(meter_id=r.meter_id, quantity=r.quantity, ts=r.ts, value=r.value, raw_value=r.raw_value,
                 multiplier=r.multiplier, unit=r.unit, source=r.source) for r in records),
        batch_size=BATCH, ignore_conflicts=True,
    )


def store_events(records) -> None:
    MeterEvent.objects.bulk_create(
        (MeterEvent(meter_id=r.meter_id, kind=r.kind, ts=r.ts, detail=r.detail, source=r.source)
         for r in records),
        batch_size=BATCH, ignore_conflicts=True,
    )
