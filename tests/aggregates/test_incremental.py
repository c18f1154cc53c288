"""Incremental upkeep equals a computation from scratch, whatever order the readings arrive in."""

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterhub.aggregates.consumption import Read, daily_consumption
from meterhub.aggregates.models import MeterDay, MeterMonth, TotalDay

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 28, 5, tzinfo=SHANGHAI)  # runs over a month end


def random_series(rng: random.Random):
    """Irregular reads over ~10 days with gaps of up to 3 days, now and then an estimate."""
    reads, ts, value = [], START, Decimal(rng.randint(0, 5000))
    while ts < START + timedelta(days=10):
        ts += timedelta(minutes=rng.choice([15, 15, 60, 240, 24 * 60, 3 * 24 * 60]))
        value += Decimal(rng.randint(0, 4000)) / 100
        reads.append((ts, value, rng.choice(["actual"] * 5 + ["estimated"])))
    return reads


@pytest.mark.parametrize("seed", range(12))
def test_shuffled_chunked_delivery_converges_on_the_full_computation(seed, make_meter, feed, site):
    rng = random.Random(seed)
    meter = make_meter("E1")
    series = random_series(rng)
    chunks, rest = [], list(series)
    rng.shuffle(rest)
    while rest:
        n = rng.randint(1, 8)
        chunks.append(rest[:n])
        rest = rest[n:]
    for chunk in chunks:  # late data, out of order, each chunk processed before the next arrives
        for quality in ("actual", "estimated"):
            part = [(ts, v) for ts, v, q in chunk if q == quality]
            if part:
                feed(meter, part, quality=quality)
    feed(meter, [(ts, v) for ts, v, q in series[:3] if q == "actual"])  # and a re-delivery
    expected = daily_consumption([Read(ts, v, v, Decimal(1), q) for ts, v, q in series], SHANGHAI,
                                 series[0][0].astimezone(SHANGHAI).date(), series[-1][0].astimezone(SHANGHAI).date())
    stored = {r.day: r for r in MeterDay.objects.filter(meter=meter, quantity="energy_import")}
    assert sorted(stored) == [d.day for d in expected]
    for d in expected:
        row = stored[d.day]
        assert (row.consumption, row.complete, row.start_value, row.end_value, row.estimated_share) == \
            (d.consumption, d.complete, d.start, d.end, d.estimated_share), d.day
    months = {m.month: m.consumption for m in MeterMonth.objects.filter(meter=meter)}
    for month in months:
        assert months[month] == sum(d.consumption for d in expected if d.day.replace(day=1) == month)
    site_days = {t.day: t.consumption for t in TotalDay.objects.filter(site=site, building=None)}
    assert site_days == {d.day: d.consumption for d in expected}
    assert sum(months.values()) == sum(d.consumption for d in expected)
    assert min(months) == date(2026, 3, 1)


@pytest.mark.parametrize("seed", range(6))
def test_many_meters_in_one_batch_each_get_their_own_figures(seed, make_meter, feed, site):
    """Meters read at the same instants share dirty days and are recomputed together."""
    from meterhub.assets.models import Site

    rng = random.Random(100 + seed)
    utc_site = Site.objects.create(code="greenwich", name="Greenwich", time_zone="UTC")
    meters = [make_meter(f"E{n}") for n in range(3)] + [make_meter(f"U{n}", site=utc_site) for n in range(2)]
    instants = [ts for ts, _v, _q in random_series(rng)]
    series = {m: [] for m in meters}
    for m in meters:
        value = Decimal(rng.randint(0, 5000))
        for ts in instants:
            value += Decimal(rng.randint(0, 4000)) / 100
            series[m].append((ts, value))
    order = list(range(len(instants)))
    rng.shuffle(order)
    while order:  # each batch: the same instants for every meter, processed together
        n = rng.randint(1, 6)
        batch, order = order[:n], order[n:]
        for m in meters:
            feed(m, [series[m][i] for i in batch], process=False)
        feed(meters[0], [])
    for m in meters:
        tz = SHANGHAI if m.site_id == site.pk else ZoneInfo("UTC")
        reads = [Read(ts, v, v) for ts, v in series[m]]
        expected = {d.day: d.consumption for d in daily_consumption(
            reads, tz, reads[0].ts.astimezone(tz).date(), reads[-1].ts.astimezone(tz).date())}
        assert {r.day: r.consumption for r in MeterDay.objects.filter(meter=m, quantity="energy_import")} == expected
