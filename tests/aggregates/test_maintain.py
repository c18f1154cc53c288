"""The processing step keeps meter days, months, totals and collection figures current."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterhub.aggregates.models import MasterMeter, MeterDay, MeterMonth, TotalDay, TotalMonth
from meterhub.assets import history
from meterhub.assets.models import Site
from meterhub.readings import processing

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


def local(day, hour=0, tz=SHANGHAI):
    return datetime(2026, 3, day, hour, tzinfo=tz)


def every_6h(first_day, last_day, per_hour=1, origin=0, tz=SHANGHAI):
    """Reads at 00, 06, 12, 18 local time, consumption `per_hour` per hour."""
    start = local(first_day, tz=tz)
    out, ts = [], start
    while ts <= local(last_day, tz=tz):
        out.append((ts, origin + per_hour * (ts - start) / timedelta(hours=1)))
        ts += timedelta(hours=6)
    return out


def days_of(meter, quantity="energy_import"):
    return {r.day: r for r in MeterDay.objects.filter(meter=meter, quantity=quantity)}


def test_the_aggregation_step_is_registered_after_validation_and_estimation():
    assert "aggregates" in processing.steps()


def test_daily_rows_monthly_rows_and_totals_from_readings(make_meter, feed, site):
    meter = make_meter("E1")
    feed(meter, every_6h(1, 4, per_hour=2))
    days = days_of(meter)
    assert sorted(days) == [date(2026, 3, d) for d in (1, 2, 3, 4)]
    assert [days[date(2026, 3, d)].consumption for d in (1, 2, 3)] == [48, 48, 48]
    assert all(days[date(2026, 3, d)].complete for d in (1, 2, 3))
    assert not days[date(2026, 3, 4)].complete  # only its midnight read so far
    month = MeterMonth.objects.get(meter=meter, quantity="energy_import")
    assert (month.consumption, month.days, month.complete_days, month.complete) == (144, 4, 3, False)
    site_total = TotalDay.objects.get(site=site, building=None, kind="electricity", day=date(2026, 3, 2))
    assert (site_total.consumption, site_total.meters, site_total.complete_meters) == (48, 1, 1)
    assert TotalDay.objects.get(building=meter_building(meter), day=date(2026, 3, 2)).consumption == 48
    assert TotalMonth.objects.get(site=site, building=None, kind="electricity").consumption == 144


def meter_building(meter):
    return meter.installations.get().premise.building


def test_tariff_registers_are_aggregated_per_tariff_period(make_meter, feed):
    meter = make_meter("E1")
    feed(meter, every_6h(1, 2, per_hour=1), quantity="energy_import_t2")
    assert days_of(meter, "energy_import_t2")[date(2026, 3, 1)].consumption == 24


def snapshot():
    return sorted((r.meter_id, r.quantity, r.day, r.consumption, r.complete, r.start_value)
                  for r in MeterDay.objects.all()), \
        sorted((t.building_id or 0, t.kind, t.day, t.consumption) for t in TotalDay.objects.all())


def test_re_delivery_changes_nothing(make_meter, feed):
    meter = make_meter("E1")
    reads = every_6h(1, 5)
    feed(meter, reads)
    before = snapshot()
    feed(meter, reads)
    feed(meter, reads[3:7])
    assert snapshot() == before


def test_late_data_for_last_week_updates_last_weeks_rows(make_meter, feed, site):
    meter = make_meter("E1")
    # reads at 1 March 00:00 and 8 March 00:00 only: a week's gap, 7 interpolated days of 24
    feed(meter, [(local(1), 0), (local(8), 168)])
    assert {d.day: d.consumption for d in days_of(meter).values()}[date(2026, 3, 3)] == 24
    untouched = MeterDay.objects.get(meter=meter, day=date(2026, 3, 8)).pk
    # late: 3 March 00:00 -> 20 and 4 March 00:00 -> 100 (a busy 3rd)
    feed(meter, [(local(3), 20), (local(4), 100)])
    days = {d.day: d.consumption for d in days_of(meter).values()}
    assert days[date(2026, 3, 1)] == 10 and days[date(2026, 3, 2)] == 10
    assert days[date(2026, 3, 3)] == 80
    assert days[date(2026, 3, 4)] == 17 and days[date(2026, 3, 7)] == 17
    assert sum(days.values()) == 168
    total = TotalDay.objects.get(site=site, building=None, day=date(2026, 3, 3))
    assert total.consumption == 80
    assert MeterMonth.objects.get(meter=meter, quantity="energy_import").consumption == 168
    # the 8th's row was not rewritten: only the days between the neighbouring reads were
    assert MeterDay.objects.get(meter=meter, day=date(2026, 3, 8)).pk == untouched


def test_only_the_days_around_the_change_are_recomputed(make_meter, feed):
    meter = make_meter("E1")
    feed(meter, every_6h(1, 10))
    ids = {d.day: d.pk for d in days_of(meter).values()}
    feed(meter, [(local(5, 3), 4 * 24 + 3)])  # a new read at 5 March 03:00 = UTC day 4 March
    after = {d.day: d.pk for d in days_of(meter).values()}
    changed = sorted(day for day in ids if ids[day] != after[day])
    # the local days overlapping UTC 4 March (08:00 on the 4th to 08:00 on the 5th)
    assert changed == [date(2026, 3, 4), date(2026, 3, 5)]


def test_day_boundaries_in_utc_and_in_shanghai(collector, make_meter, feed):
    utc_site = Site.objects.create(code="greenwich", name="Greenwich", time_zone="UTC")
    here = make_meter("E1")
    there = make_meter("E2", site=utc_site)
    # constant 1 kWh per hour, reads every 6 h from Shanghai midnight (16:00 UTC)
    reads = every_6h(1, 4)
    feed(here, reads)
    feed(there, reads)
    assert days_of(here)[date(2026, 3, 2)].consumption == 24
    # In UTC, 2 March runs 08:00 to 08:00 Shanghai: same 24 kWh but the 1st UTC day starts
    # at the first read (16:00 UTC) and holds only 8 hours.
    utc_days = days_of(there)
    assert utc_days[date(2026, 2, 28)].consumption == 8 and not utc_days[date(2026, 2, 28)].complete
    assert utc_days[date(2026, 3, 1)].consumption == 24 and utc_days[date(2026, 3, 1)].complete
    assert sum(d.consumption for d in utc_days.values()) == sum(d.consumption for d in days_of(here).values()) == 72


def test_meter_exchange_counts_old_meter_to_its_last_read_and_new_from_its_first(make_meter, feed, site, building):
    old = make_meter("E1")
    new = make_meter("E2", installed=None)
    swap = local(2, 10)
    feed(old, [(local(1), 1000), (local(2), 1024), (local(2, 9), 1033)])
    history.exchange_meter(old, new, swap)
    feed(new, [(local(2, 11), 0), (local(3), 13)])
    feed(old, [(local(2, 12), 1040)])  # read after removal (the meter on the bench): not counted
    assert days_of(old)[date(2026, 3, 2)].consumption == 9 and days_of(old)[date(2026, 3, 2)].exchange
    assert days_of(new)[date(2026, 3, 2)].consumption == 13 and days_of(new)[date(2026, 3, 2)].exchange
    day = TotalDay.objects.get(building=building, day=date(2026, 3, 2))
    assert (day.consumption, day.meters) == (22, 2)


def test_master_meter_gives_line_loss(make_meter, feed, site, building):
    master = make_meter("M1", unit="feed")
    MasterMeter.objects.create(meter=master, site=site, building=building)
    a, b = make_meter("E1"), make_meter("E2")
    feed(master, every_6h(1, 2, per_hour=5))
    feed(a, every_6h(1, 2, per_hour=2))
    feed(b, every_6h(1, 2, per_hour=2))
    day = TotalDay.objects.get(building=building, day=date(2026, 3, 1))
    assert (day.consumption, day.master, day.loss, day.meters) == (96, 120, 24, 2)
    assert day.loss_share == 0.2
    site_day = TotalDay.objects.get(site=site, building=None, day=date(2026, 3, 1))
    assert site_day.consumption == 96 and site_day.master is None
