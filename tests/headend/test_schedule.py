from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from meterhub.headend.schedule import PlanSpec, due_slot, jitter_for, latest_slot


def plan(cron="*/15 * * * *", last=None, tz="Asia/Shanghai"):
    return PlanSpec(1, "p", cron, tz, "instant", 60, frozenset(), last)


def test_latest_slot_includes_now_and_respects_the_local_zone():
    now = datetime(2025, 3, 1, 4, 15, 0, tzinfo=UTC)
    assert latest_slot("*/15 * * * *", now, "UTC") == now
    assert latest_slot("*/15 * * * *", now + timedelta(seconds=59), "UTC") == now
    # local midnight in Shanghai is 16:00 UTC the day before
    assert latest_slot("0 0 * * *", now, "Asia/Shanghai") == datetime(2025, 2, 28, 16, 0, tzinfo=UTC)


def test_missed_slots_are_caught_up_once():
    last = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
    now = last + timedelta(hours=2, minutes=7)  # head-end was down for 8 slots
    slot = due_slot(plan(last=last, tz="UTC"), now)
    assert slot == datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    assert due_slot(plan(last=slot, tz="UTC"), now) is None


def test_daily_plan_at_local_midnight_across_dst():
    p = plan("0 0 * * *", tz="Europe/Berlin")
    after_change = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)  # CEST began on 30 March
    assert due_slot(p, after_change) == datetime(2025, 3, 30, 22, 0, tzinfo=UTC)
    before_change = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)
    assert due_slot(p, before_change) == datetime(2025, 3, 28, 23, 0, tzinfo=UTC)


@given(st.text(min_size=1, max_size=20), st.integers(min_value=1, max_value=900))
def test_jitter_is_stable_and_within_the_window(key, window):
    assert jitter_for(key, window) == jitter_for(key, window)
    assert 0 <= jitter_for(key, window) < window


def test_jitter_spreads_many_collectors():
    offsets = [jitter_for(f"REG{n}", 120) for n in range(10_000)]
    per_10s = [sum(1 for o in offsets if b <= o < b + 10) for b in range(0, 120, 10)]
    assert max(per_10s) < 2 * 10_000 / 12  # no window gets twice its share
