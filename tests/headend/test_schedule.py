import asyncio
import logging
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from meterhub.headend.bus import CollectorGone
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.meter_io import MeterRef
from meterhub.headend.schedule import (
    LATE_GRACE_S,
    PlanSpec,
    Scheduler,
    due_slot,
    jitter_for,
    latest_slot,
    stamp_for,
)
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink


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


# --- running a plan on one head-end ------------------------------------------------------------

SLOT = datetime(2025, 3, 1, 4, 15, tzinfo=UTC)


def meter(n: int, reg="REG1", **kw) -> MeterRef:
    return MeterRef(id=n, serial=f"E{n}", address=f"{n:012d}", protocol=kw.pop("protocol", "dlt645_2007"),
                    collector=reg, **kw)


def field(*meters: MeterRef) -> Fleet:
    regs = sorted({m.collector for m in meters})
    return Fleet.build([CollectorRef(i, f"DTU-{r}", r, "dialin_tcp") for i, r in enumerate(regs)], list(meters))


class Live:
    closed = False

    async def close(self):
        self.closed = True


class Dead(Live):
    closed = True


class FakeHeadEnd(HeadEnd):
    """A real HeadEnd (tasks, shutdown) whose buses are stand-ins and whose reads are recorded."""

    def __init__(self, fleet: Fleet, live=("REG1",), node="A"):
        super().__init__(lambda: fleet, BatchSink(lambda batch: None), node=node)
        self.fleet = fleet
        self.sessions = {(reg, 1): Live() for reg in live}
        self.reads: list[tuple[str, list[int]]] = []
        self.stamps: list[datetime | None] = []
        self.before_read = None  # called with the serial, before the meter is looked up

    async def read_meter(self, serial, dis, *, source="on_demand", ts=None):
        if self.before_read is not None:
            self.before_read(serial)
        if serial not in self.fleet.meters:
            raise KeyError(f"unknown meter {serial!r}")  # as HeadEnd.read_meter does
        self.reads.append((serial, dis))
        self.stamps.append(ts)
        await asyncio.sleep(0)
        return dict.fromkeys(dis, 1)


def spec(meters, items="instant", jitter_s=0, last=None):
    return PlanSpec(7, "p", "*/15 * * * *", "UTC", items, jitter_s, frozenset(m.serial for m in meters), last)


def run_plan(headend, plan, started=SLOT):
    async def go():
        try:
            return await Scheduler(headend, lambda node="": [], lambda *a: None,
                                   clock=lambda: started).run_plan(plan, SLOT)
        finally:
            await headend.close()

    return asyncio.run(go())


def test_a_plan_reads_only_the_buses_live_on_this_node():
    meters = [meter(1, "REG1"), meter(2, "REG1"), meter(3, "REG2"), meter(4, "REG3")]
    headend = FakeHeadEnd(field(*meters), live=("REG1",))
    headend.sessions[("REG3", 1)] = Dead()  # this node's link to REG3 went down
    # REG2 is held by another head-end: reading it here would write failures for its meters
    assert run_plan(headend, spec(meters)) == 2
    assert [serial for serial, _ in headend.reads] == ["E1", "E2"]


def test_a_run_on_time_stamps_its_readings_with_the_slot_and_a_late_one_with_the_time_read(caplog):
    meters = [meter(1), meter(2)]
    on_time = SLOT + timedelta(seconds=LATE_GRACE_S)  # no jitter (a bus waits out its share of it for real)
    headend = FakeHeadEnd(field(*meters))
    assert run_plan(headend, spec(meters), started=on_time) == 2
    assert headend.stamps == [SLOT, SLOT]

    late = FakeHeadEnd(field(*meters))  # a head-end that was down at the slot, up hours later
    with caplog.at_level(logging.WARNING, logger="meterhub.headend.schedule"):
        assert run_plan(late, spec(meters), started=SLOT + timedelta(hours=8, minutes=45)) == 2
    assert late.stamps == [None, None]  # HeadEnd.read_meter stamps each with the time it reads
    assert "runs late (8:45:00)" in caplog.text


def test_the_slot_stamp_ends_one_second_after_the_jitter_and_grace():
    p = PlanSpec(1, "p", "0 0 * * *", "UTC", "daily", 30, frozenset(), None)
    last_on_time = SLOT + timedelta(seconds=30 + LATE_GRACE_S)
    assert stamp_for(p, SLOT, SLOT) == stamp_for(p, SLOT, last_on_time) == SLOT
    assert stamp_for(p, SLOT, last_on_time + timedelta(seconds=1)) is None


def test_a_bus_lost_mid_plan_is_left_alone():
    meters = [meter(1), meter(2), meter(3)]
    headend = FakeHeadEnd(field(*meters))

    def lose_the_bus_after_e1(serial):
        if serial == "E1":
            headend.sessions[("REG1", 1)] = Dead()

    headend.before_read = lose_the_bus_after_e1
    assert run_plan(headend, spec(meters)) == 1
    assert [serial for serial, _ in headend.reads] == ["E1"]


def test_a_plan_with_nothing_to_ask_a_meter_does_not_read_it():
    meters = [meter(1), meter(2, protocol="dlt645_1997")]
    headend = FakeHeadEnd(field(*meters))
    # DL/T 645-1997 meters have no status word 3: a read without an exchange would look healthy
    assert run_plan(headend, spec(meters, items="status")) == 1
    assert headend.reads == [("E1", [0x04000503, 0x03300D00, 0x03300E00])]  # status word 3, cover-open counts


def test_a_meter_dropped_by_a_fleet_refresh_mid_plan_is_skipped_and_the_bus_goes_on():
    meters = [meter(1), meter(2), meter(3)]
    headend = FakeHeadEnd(field(*meters))

    def refresh_drops_e2(serial):
        if serial == "E1":
            headend.fleet = field(meters[0], meters[2])

    headend.before_read = refresh_drops_e2
    assert run_plan(headend, spec(meters)) == 2
    assert [serial for serial, _ in headend.reads] == ["E1", "E3"]


def test_an_unexpected_error_is_logged_with_its_traceback_and_the_rest_is_read(caplog):
    meters = [meter(1), meter(2), meter(3, "REG2")]
    headend = FakeHeadEnd(field(*meters), live=("REG1", "REG2"))

    def boom(serial):
        if serial == "E1":
            raise RuntimeError("codec bug")

    headend.before_read = boom
    with caplog.at_level(logging.ERROR, logger="meterhub.headend.schedule"):
        assert run_plan(headend, spec(meters)) == 2
    assert sorted(serial for serial, _ in headend.reads) == ["E2", "E3"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info and isinstance(errors[0].exc_info[1], RuntimeError)
    assert "E1" in errors[0].getMessage()


def test_failed_reads_still_count_as_not_read():
    meters = [meter(1), meter(2)]
    headend = FakeHeadEnd(field(*meters))

    async def offline(serial, dis, **kw):
        return dict.fromkeys(dis, CollectorGone("gone"))

    headend.read_meter = offline
    assert run_plan(headend, spec(meters)) == 0


def test_tick_runs_plans_as_this_node_and_shutdown_cancels_them():
    meters = [meter(1)]
    headend = FakeHeadEnd(field(*meters), node="node-b")
    loaded, marked = [], []

    def load(node=""):
        loaded.append(node)
        return [spec(meters, jitter_s=3600, last=None if not marked else marked[-1][1])]

    def mark(plan_id, slot, node=""):
        marked.append((plan_id, slot, node))

    async def go():
        scheduler = Scheduler(headend, load, mark, clock=lambda: SLOT + timedelta(minutes=2))
        (task,) = await scheduler.tick()
        assert await scheduler.tick() == []  # this node's slot is marked
        await asyncio.sleep(0.01)
        assert not task.done()  # waiting out its jitter
        await headend.close()
        await asyncio.wait([task], timeout=2)
        return task.cancelled()  # by the head-end's shutdown, not by asyncio.run's clean-up

    assert asyncio.run(go())
    assert loaded == ["node-b", "node-b"]
    assert marked == [(7, SLOT, "node-b")]
