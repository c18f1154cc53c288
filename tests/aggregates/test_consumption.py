"""Daily consumption from register reads: a pure function, checked with properties and cases."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from meterhub.aggregates.consumption import (
    Read,
    at_same_time,
    daily_consumption,
    is_rollover,
    local_midnight,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


def read(ts, value, quality="actual", multiplier=1):
    value, multiplier = D(value), D(multiplier)
    return Read(ts, value * multiplier, value, multiplier, quality)


def at(day, hour=0, minute=0, tz=UTC):
    return datetime(2026, 3, day, hour, minute, tzinfo=tz)


def test_midnight_reads_give_the_difference_and_the_day_is_complete():
    days = daily_consumption([read(at(1), 100), read(at(1, 12), 104), read(at(2), 110)], UTC,
                             date(2026, 3, 1), date(2026, 3, 1))
    assert len(days) == 1
    assert (days[0].start, days[0].end, days[0].consumption, days[0].complete) == (100, 110, 10, True)
    assert days[0].reads == 2  # the read at the next midnight belongs to the next day


def test_midnight_without_a_read_is_interpolated_between_its_neighbours():
    # 23:00 -> 100, 01:00 -> 102: midnight is 101
    days = daily_consumption([read(at(1, 23), 100), read(at(2, 1), 102), read(at(2, 23), 120), read(at(3, 1), 122)],
                             UTC, date(2026, 3, 2), date(2026, 3, 2))
    assert days[0].start == D(101) and days[0].end == D(121) and days[0].consumption == 20
    assert days[0].complete


def test_a_boundary_with_reads_on_one_side_only_is_unknown_and_the_day_counts_what_it_saw():
    days = daily_consumption([read(at(2, 6), 10), read(at(2, 18), 16)], UTC, date(2026, 3, 2), date(2026, 3, 2))
    assert days[0].consumption == 6 and not days[0].complete


def test_the_same_reads_fall_on_different_days_in_shanghai_and_in_utc():
    # 2026-03-01 20:00 UTC is 2026-03-02 04:00 in Shanghai
    reads = [read(at(1, 15), 0), read(at(1, 20), 50), read(at(2, 15), 60)]
    utc = {d.day: d.consumption for d in daily_consumption(reads, UTC, date(2026, 3, 1), date(2026, 3, 2))}
    local = {d.day: d.consumption for d in daily_consumption(reads, SHANGHAI, date(2026, 3, 1), date(2026, 3, 2))}
    # UTC: day 1 from 15:00 to midnight (interpolated 50 + 10*4/19), day 2 the rest
    assert utc[date(2026, 3, 1)] == D("52.105263")
    # Shanghai midnight 2 March = 1 March 16:00 UTC: 0 + 50 * 1/5 = 10
    assert local[date(2026, 3, 1)] == D(10)
    assert sum(utc.values()) == sum(local.values()) == 60


def test_rollover_counts_the_wrap():
    reads = [read(at(1), "999990"), read(at(1, 12), "999998.5"), read(at(2), "4")]
    (day,) = daily_consumption(reads, UTC, date(2026, 3, 1), date(2026, 3, 1))
    assert day.consumption == D(14) and day.rollover and not day.backwards


def test_rollover_is_in_raw_units_times_the_multiplier():
    reads = [read(at(1), "9990", multiplier=D(50)), read(at(2), "5", multiplier=D(50))]
    (day,) = daily_consumption(reads, UTC, date(2026, 3, 1), date(2026, 3, 1))
    assert day.consumption == D(15 * 50) and day.rollover


def test_a_fall_that_is_not_a_rollover_counts_nothing_and_is_flagged():
    assert not is_rollover(D(5000), D(4000))
    reads = [read(at(1), 5000), read(at(1, 6), 5010), read(at(1, 12), 4000), read(at(2), 4020)]
    (day,) = daily_consumption(reads, UTC, date(2026, 3, 1), date(2026, 3, 1))
    assert day.consumption == D(30) and day.backwards and not day.rollover


def test_suspect_reads_do_not_count():
    reads = [read(at(1), 100), read(at(1, 12), 900, "suspect"), read(at(2), 110)]
    (day,) = daily_consumption(reads, UTC, date(2026, 3, 1), date(2026, 3, 1))
    assert day.consumption == 10 and day.reads == 1


def test_share_of_estimated_input():
    reads = [read(at(1), 100), read(at(1, 6), 101, "estimated"), read(at(1, 12), 102, "edited"), read(at(2), 110)]
    (day,) = daily_consumption(reads, UTC, date(2026, 3, 1), date(2026, 3, 1))
    assert day.estimated_share == 0.5 and day.actual_reads == 1


def test_meter_exchange_old_meter_to_its_last_read_new_meter_from_its_first():
    swap = at(1, 10)
    old = [read(at(1), 500), read(at(1, 9), 509), read(at(1, 11), 530)]  # the 11:00 read is after removal
    new = [read(at(1, 10, 30), 0), read(at(2), 14)]
    (old_day,) = daily_consumption(old, UTC, date(2026, 3, 1), date(2026, 3, 1), (None, swap))
    (new_day,) = daily_consumption(new, UTC, date(2026, 3, 1), date(2026, 3, 1), (swap, None))
    assert (old_day.consumption, old_day.complete, old_day.exchange) == (9, True, True)
    assert (new_day.consumption, new_day.complete, new_day.exchange) == (14, True, True)


def test_no_figure_outside_service():
    reads = [read(at(1), 1), read(at(3), 3)]
    days = daily_consumption(reads, UTC, date(2026, 3, 1), date(2026, 3, 3), (at(2, 12), None))
    assert [d.day for d in days] == [date(2026, 3, 3)]


def test_by_hour_and_same_time_yesterday():
    reads = [read(at(1), 0), read(at(2), 24)]
    (day,) = daily_consumption(reads, UTC, date(2026, 3, 1), date(2026, 3, 1))
    assert day.by_hour[:3] == [1.0, 2.0, 3.0] and len(day.by_hour) == 24 and day.by_hour[-1] == 24.0
    assert at_same_time(day.by_hour, timedelta(hours=2, minutes=30)) == 2.5
    assert at_same_time([None, None], timedelta(minutes=90)) is None


def test_a_dst_day_has_23_hours():
    paris = ZoneInfo("Europe/Paris")
    d = date(2026, 3, 29)
    reads = [read(local_midnight(d, paris), 0), read(local_midnight(d + timedelta(days=1), paris), 23)]
    (day,) = daily_consumption(reads, paris, d, d)
    assert len(day.by_hour) == 23 and day.consumption == 23


# --- properties ----------------------------------------------------------------------------

START = datetime(2026, 3, 1, tzinfo=UTC)
steps = st.lists(st.tuples(st.integers(1, 3 * 24 * 60), st.decimals(0, 500, places=3)), min_size=2, max_size=40)
zones = st.sampled_from([UTC, SHANGHAI, ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris")])


def series(increments, origin=1000):
    reads, ts, value = [], START, D(origin)
    for minutes, delta in increments:
        ts += timedelta(minutes=minutes)
        value += delta
        reads.append(read(ts, value))
    return reads


def day_range(reads, tz):
    return reads[0].ts.astimezone(tz).date(), reads[-1].ts.astimezone(tz).date()


@settings(max_examples=200, deadline=None)
@given(steps, zones)
def test_days_sum_to_the_total_difference(increments, tz):
    reads = series(increments)
    days = daily_consumption(reads, tz, *day_range(reads, tz))
    assert sum(d.consumption for d in days) == reads[-1].value - reads[0].value
    assert all(d.consumption >= 0 for d in days)
    assert all(d.complete for d in days[1:-1])
    for earlier, later in zip(days, days[1:], strict=False):
        if later.day == earlier.day + timedelta(days=1) and earlier.complete:
            assert earlier.end == later.start  # the same midnight, the same value


@settings(max_examples=100, deadline=None)
@given(steps, zones)
def test_a_rollover_anywhere_does_not_change_the_total(increments, tz):
    capacity = D(1_000_000)
    reads = series(increments, origin=capacity - 2000)
    wrapped = [Read(r.ts, r.value % capacity, r.raw_value % capacity, r.multiplier) for r in reads]
    days = daily_consumption(wrapped, tz, *day_range(reads, tz))
    assert sum(d.consumption for d in days) == reads[-1].value - reads[0].value


@settings(max_examples=100, deadline=None)
@given(steps, st.integers(0, 39), zones)
def test_an_exchange_counts_both_meters_up_to_and_from_the_swap(increments, cut, tz):
    reads = series(increments)
    cut = min(cut, len(reads) - 2)
    swap = reads[cut].ts + timedelta(seconds=1)
    old, new = reads[:cut + 1], [Read(r.ts, r.value - D(1000), r.raw_value - D(1000)) for r in reads[cut + 1:]]
    first, last = day_range(reads, tz)
    total = sum(d.consumption for d in daily_consumption(old, tz, first, last, (None, swap))) + \
        sum(d.consumption for d in daily_consumption(new, tz, first, last, (swap, None)))
    # what flowed between the old meter's last read and the new meter's first is measured by neither
    assert total == (reads[cut].value - reads[0].value) + (reads[-1].value - reads[cut + 1].value)
