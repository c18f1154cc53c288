"""`meterhub aggregates`: master meters and rebuilding."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from meterhub.aggregates.models import MasterMeter, MeterDay, TotalDay
from meterhub.cli import main

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def reads(rate):
    start = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    return [(start + timedelta(hours=6 * n), rate * 6 * n) for n in range(9)]


def test_marking_a_master_meter_recomputes_the_totals(site, building, make_meter, feed):
    master, flat = make_meter("M1"), make_meter("E1")
    feed(master, reads(5))
    feed(flat, reads(4))
    day = TotalDay.objects.get(building=building, day="2026-03-01")
    assert (day.consumption, day.master) == (216, None)  # both counted as premises' meters
    result = CliRunner().invoke(main, ["aggregates", "master", "M1", "--building", "B1"])
    assert result.exit_code == 0, result.output
    day = TotalDay.objects.get(building=building, day="2026-03-01")
    assert (day.consumption, day.master, day.loss) == (96, 120, 24)
    assert CliRunner().invoke(main, ["aggregates", "master", "M1", "--building", "B9"]).exit_code != 0
    assert CliRunner().invoke(main, ["aggregates", "master", "M1", "--remove"]).exit_code == 0
    assert not MasterMeter.objects.exists()
    assert TotalDay.objects.get(building=building, day="2026-03-01").consumption == 216


def test_rebuild_recreates_what_was_lost(site, make_meter, feed):
    meter = make_meter("E1")
    feed(meter, reads(1))
    before = sorted(MeterDay.objects.values_list("day", "consumption", "complete"))
    MeterDay.objects.all().delete()
    TotalDay.objects.all().delete()
    result = CliRunner().invoke(main, ["aggregates", "rebuild", "--site", "north", "--from", "2026-02-28",
                                       "--to", "2026-03-03"])
    assert result.exit_code == 0, result.output
    assert sorted(MeterDay.objects.values_list("day", "consumption", "complete")) == before
    assert TotalDay.objects.filter(building=None, day="2026-03-01").get().consumption == 24
