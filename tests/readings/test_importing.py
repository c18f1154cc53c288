"""`meterhub import readings`: checked first, then through ingest (no doubles)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterhub.assets.importing import import_file
from meterhub.readings.models import Reading

pytestmark = pytest.mark.django_db


@pytest.fixture
def ct_meter(meter):
    meter.ct_ratio = Decimal(50)
    meter.save()
    return meter


CSV = ("表号,数据项,时间,读数\n"
       "E1,energy_import,2026-11-01 00:00,100.5\n"
       "E1,energy_import,2026-11-01T00:15:00+00:00,100.75\n")


def test_readings_import_applies_the_multiplier_and_the_site_zone_and_skips_what_is_stored(ct_meter):
    report = import_file("readings", CSV.encode(), "reads.csv", dry_run=False)
    assert report.ok and report.created == 2
    rows = list(Reading.objects.order_by("ts").values_list("ts", "raw_value", "value", "source"))
    # the site is in Asia/Shanghai: local midnight is 16:00 UTC the day before
    assert rows[0] == (datetime(2026, 10, 31, 16, tzinfo=UTC), Decimal("100.5"), Decimal("5025"), "import")
    assert rows[1][0] == datetime(2026, 11, 1, 0, 15, tzinfo=UTC)
    again = import_file("readings", CSV.encode(), "reads.csv", dry_run=False)
    assert again.ok and again.created == 0 and Reading.objects.count() == 2


def test_bad_rows_are_listed_and_nothing_is_imported(ct_meter):
    bad = ("meter,quantity,time,value\n"
           "E1,energy_import,2026-11-01 00:00,1\n"
           "NOPE,energy_import,2026-11-01 00:00,1\n"
           "E1,energy_imprt,2026-11-01 00:00,1\n"
           "E1,energy_import,yesterday,1\n"
           "E1,energy_import,2026-11-01 00:15,\"12,5\"\n"
           "E1,energy_import,2026-11-01 00:00,2\n")
    report = import_file("readings", bad.encode(), "bad.csv", dry_run=False)
    problems = [(e.line, e.column) for e in report.errors]
    assert problems == [(3, "meter"), (4, "quantity"), (5, "time"), (6, "value"), (7, "time")]
    assert not Reading.objects.exists()
