"""Bulk import of meters: our importer against a row-at-a-time ORM baseline, same run.

Runs inside a transaction that is rolled back, so it leaves the database as it was.
The baseline does what a naive importer does (validate, then `create` each meter
and its installation), which is what our two-pass bulk importer must beat.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

SITE, COLLECTORS = "bench", 100


class _Rollback(Exception):
    pass


def meter_csv(rows: int) -> bytes:
    lines = ["serial,site,address,collector,bus_port,building,unit,password,installed_on"]
    lines += [f"B{i:07d},{SITE},{i:012d},BC{i % COLLECTORS:03d},{1 + i // COLLECTORS % 4},"
              f"T{i % 40},{i},00123456,2025-01-01" for i in range(rows)]
    return "\n".join(lines).encode()


def _fixture():
    from meterhub.assets.models import Collector, Site

    site = Site.objects.create(code=SITE, name="Benchmark", time_zone="Asia/Shanghai")
    Collector.objects.bulk_create(Collector(code=f"BC{i:03d}", site=site, registration_id=f"BENCH{i:03d}")
                                  for i in range(COLLECTORS))


def _in_rollback(work: Callable[[], float]) -> float:
    result = 0.0
    try:
        with transaction.atomic():
            _fixture()
            result = work()
            raise _Rollback
    except _Rollback:
        pass
    return result


def _ours(rows: int) -> float:
    from meterhub.assets.importing import import_file

    data = meter_csv(rows)

    def work():
        start = time.perf_counter()
        report = import_file("meters", data, "bench.csv", dry_run=False)
        elapsed = time.perf_counter() - start
        if not report.ok or report.created != rows:
            raise RuntimeError(f"benchmark import failed: {report.errors[:3]}")
        return elapsed

    return _in_rollback(work)


def _baseline(rows: int) -> float:
    from meterhub.assets.models import Collector, Meter, MeterInstallation, Premise, Site

    def work():
        start = time.perf_counter()
        site = Site.objects.get(code=SITE)
        for i in range(rows):
            collector = Collector.objects.get(code=f"BC{i % COLLECTORS:03d}")
            meter = Meter(serial=f"B{i:07d}", site=site, address=f"{i:012d}", collector=collector,
                          bus_port=1 + i // COLLECTORS % 4, password="00123456")
            meter.full_clean()
            meter.save()
            premise, _ = Premise.objects.get_or_create(site=site, building=None, unit=str(i))
            MeterInstallation.objects.create(meter=meter, premise=premise, valid_from=timezone.now())
        return time.perf_counter() - start

    return _in_rollback(work)


def measure(rows: int = 10_000, baseline_rows: int = 1_000) -> dict:
    print(f"importing {rows} meters with the bulk importer ...", file=sys.stderr)
    ours = _ours(rows)
    print(f"importing {baseline_rows} meters row by row (baseline) ...", file=sys.stderr)
    base = _baseline(baseline_rows)
    ours_rate, base_rate = rows / ours, baseline_rows / base
    return {
        "import_rows": rows,
        "import_seconds": round(ours, 3),
        "import_meters_per_s": round(ours_rate, 1),
        "baseline_rows": baseline_rows,
        "baseline_meters_per_s": round(base_rate, 1),
        "import_ratio": round(ours_rate / base_rate, 2),
    }
