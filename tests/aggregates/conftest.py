from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterhub.headend.records import ReadingRecord

INSTALLED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def building(site):
    from meterhub.assets.models import Building

    return Building.objects.create(site=site, code="B1")


@pytest.fixture
def make_meter(collector, building):
    """An electricity (or other) meter installed at a new premise of the building."""
    from meterhub.assets import history
    from meterhub.assets.models import Meter, Premise

    def make(serial, kind="electricity", *, site=None, installed=INSTALLED, on=None, unit=None):
        site = site or collector.site
        meter = Meter.objects.create(serial=serial, site=site, kind=kind, address=serial[-12:].zfill(12),
                                     collector=collector if site == collector.site else None)
        if installed is not None:
            premise = Premise.objects.create(site=site, building=on if on is not None else
                                             (building if site == building.site else None), unit=unit or serial)
            history.install_meter(meter, premise, installed)
        return meter

    return make


@pytest.fixture
def feed():
    """Store register reads [(ts, value)] for a meter and run the processing pipeline."""
    from meterhub.readings import processing
    from meterhub.readings.ingest import store_readings

    def store(meter, reads, quantity="energy_import", quality="actual", process=True):
        unit = "kWh" if meter.kind == "electricity" else "m³"
        store_readings([ReadingRecord(meter.pk, quantity, ts, Decimal(str(v)), Decimal(1), unit, "scheduled", quality)
                        for ts, v in reads])
        if process:
            while processing.process_dirty():
                pass

    return store
