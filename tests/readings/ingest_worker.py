"""A separate process that ingests readings batch by batch and says "ack N" after each
commit; the kill test below stops it with SIGKILL in the middle of a batch.

    python -m tests.readings.ingest_worker setup
    python -m tests.readings.ingest_worker ingest BATCHES SIZE
"""

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def records(batch: int, size: int, meter_id: int):
    from meterhub.headend.records import ReadingRecord

    quantities = ("energy_import", "energy_import_t1", "energy_import_t2", "energy_import_t3")
    for i in range(batch * size, (batch + 1) * size):
        slot, q = divmod(i, len(quantities))
        yield ReadingRecord(meter_id, quantities[q], T0 + timedelta(minutes=15 * slot), Decimal(i) / 100,
                            Decimal(1), "kWh", "import")


def main(argv):
    from django.core.management import call_command

    from meterhub.cli import setup_django

    setup_django()
    from meterhub.assets.models import Collector, Meter, Site

    if argv[0] == "setup":
        call_command("migrate", interactive=False, verbosity=0)
        site = Site.objects.create(code="kill", name="Kill test", time_zone="UTC")
        collector = Collector.objects.create(code="K", site=site, registration_id="KILL")
        Meter.objects.create(serial="K1", site=site, address="000000000001", collector=collector)
        return
    from meterhub.readings.ingest import store_readings

    batches, size = int(argv[1]), int(argv[2])
    meter_id = Meter.objects.get(serial="K1").pk
    for b in range(batches):
        result = store_readings(list(records(b, size, meter_id)))
        print(f"ack {b} stored {result.stored}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
