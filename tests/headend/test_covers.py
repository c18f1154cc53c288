"""Cover openings from the meter's own event records: which records the head-end reads after a
count, and the events they give -- pure logic, then against the simulated meter over TCP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from meterhub.headend.bus import NoReply
from meterhub.headend.covers import MAX_RECORDS, CoverWatch, newest_numbers, records_wanted
from meterhub.headend.meter_io import MeterRef
from tests.headend.test_headend_with_sim import running

COUNT, TCOUNT = 0x03300D00, 0x03300E00
METER = MeterRef(1, "E1", "000000000001", "dlt645_2007", "REG-1", time_zone="Asia/Shanghai")


def rec(start: datetime | None, end: datetime | None = None, before="100.00", after="100.50") -> dict:
    return {"start": start, "end": end, "forward_active_before": Decimal(before),
            "forward_active_after": Decimal(after), "reverse_active_before": Decimal("0.00"),
            "reverse_active_after": Decimal("0.00")}


@given(st.integers(0, 999_999), st.none() | st.integers(0, 999_999), st.booleans(), st.booleans())
def test_records_wanted_reads_what_is_new_and_never_more_than_the_meter_keeps(count, known, first, watching):
    n = records_wanted(count, known, first_sight=first, watching_open=watching)
    assert 0 <= n <= min(count, MAX_RECORDS)
    if count and (first or watching or known is None):
        assert n >= 1, "the newest record is read on first sight and while it is open"
    if known is not None and count >= known and not (first or watching):
        assert n == min(count - known, MAX_RECORDS)
    if known is not None and count < known:
        assert n == min(count, MAX_RECORDS), "the meter's records were cleared: all it has is new"


def test_a_count_that_goes_up_asks_for_the_new_records_and_gives_an_event_each():
    watch = CoverWatch()
    assert watch.records_to_read(METER, {COUNT: 0, TCOUNT: 0}) == []
    assert watch.observe(METER, {COUNT: 0, TCOUNT: 0}) == []
    assert watch.records_to_read(METER, {COUNT: 2, TCOUNT: 0}) == [0x03300D01, 0x03300D02]
    values = {COUNT: 2, TCOUNT: 0, 0x03300D01: rec(datetime(2026, 5, 1, 2, 13), datetime(2026, 5, 1, 2, 19)),
              0x03300D02: rec(datetime(2026, 5, 1, 1, 0), datetime(2026, 5, 1, 1, 5))}
    events = watch.observe(METER, values)
    assert [(e.kind, e.ts, e.detail["number"]) for e in events] == [
        ("cover_open", datetime(2026, 4, 30, 18, 13, tzinfo=UTC), 2),  # the meter's clock is Shanghai time
        ("cover_closed", datetime(2026, 4, 30, 18, 19, tzinfo=UTC), 2),
        ("cover_open", datetime(2026, 4, 30, 17, 0, tzinfo=UTC), 1),
        ("cover_closed", datetime(2026, 4, 30, 17, 5, tzinfo=UTC), 1)]
    assert events[0].detail == {"number": 2, "count": 2, "record": "03300D01", "start": "2026-05-01T02:13:00",
                                "end": "2026-05-01T02:19:00", "forward_active_before": "100.00",
                                "forward_active_after": "100.50", "reverse_active_before": "0.00",
                                "reverse_active_after": "0.00"}
    assert watch.records_to_read(METER, {COUNT: 2, TCOUNT: 0}) == [], "nothing new"


def test_an_open_cover_is_read_until_its_record_has_an_end():
    watch = CoverWatch()
    watch.observe(METER, {COUNT: 0, TCOUNT: 0})
    opened = {TCOUNT: 1, 0x03300E01: rec(datetime(2026, 5, 1, 2, 0))}
    assert [e.kind for e in watch.observe(METER, opened)] == ["terminal_cover_open"]
    assert watch.records_to_read(METER, {TCOUNT: 1}) == [0x03300E01]
    assert [e.kind for e in watch.observe(METER, opened)] == ["terminal_cover_open"]  # stored once by the store
    closed = {TCOUNT: 1, 0x03300E01: rec(datetime(2026, 5, 1, 2, 0), datetime(2026, 5, 1, 3, 0))}
    assert [e.kind for e in watch.observe(METER, closed)] == ["terminal_cover_open", "terminal_cover_closed"]
    assert watch.records_to_read(METER, {TCOUNT: 1}) == []


def test_a_failed_record_read_changes_nothing_and_is_asked_again():
    watch = CoverWatch()
    watch.observe(METER, {COUNT: 0})
    assert watch.observe(METER, {COUNT: 1, 0x03300D01: NoReply("timeout")}) == []
    assert watch.observe(METER, {COUNT: 1}) == [], "a count alone (an operator's read) is not enough"
    assert watch.records_to_read(METER, {COUNT: 1}) == [0x03300D01]


def test_after_a_restart_it_resumes_from_the_newest_record_stored():
    seeded = MeterRef(**{**METER.__dict__, "cover_numbers": (("cover_open", 3),)})
    watch = CoverWatch()
    assert watch.records_to_read(seeded, {COUNT: 5, TCOUNT: 2}) == [0x03300D01, 0x03300D02, 0x03300E01]
    assert CoverWatch().records_to_read(seeded, {COUNT: 3}) == [0x03300D01], "the newest again: it may have closed"


def test_cleared_records_count_again_from_the_start():
    watch = CoverWatch()
    watch.observe(METER, {COUNT: 7, 0x03300D01: rec(datetime(2026, 5, 1, 2, 0), datetime(2026, 5, 1, 2, 5))})
    assert watch.records_to_read(METER, {COUNT: 2}) == [0x03300D01, 0x03300D02]


def test_an_empty_record_slot_gives_no_event():
    watch = CoverWatch()
    assert watch.observe(METER, {COUNT: 1, 0x03300D01: rec(None)}) == []


def test_newest_numbers_per_meter_and_kind():
    rows = [(1, "cover_open", {"number": 3}), (1, "terminal_cover_open", {"number": 1}), (2, "cover_open", {}),
            (3, "cover_open", "not a dict")]
    assert newest_numbers(rows) == {1: (("cover_open", 3), ("terminal_cover_open", 1))}


def test_the_head_end_reads_a_cover_opened_in_the_simulated_field():
    """Counts in the plan's read, then the newest record, as events with the meter's times."""

    async def body(headend, sim, records):
        serial, dis = "E240101000001", [0x00010000, COUNT, TCOUNT]
        await headend.read_meter(serial, dis)
        sim.meter("240101000001").open_cover(break_seal=False)
        await asyncio.sleep(0.2)
        first = await headend.read_meter(serial, dis)
        await asyncio.sleep(0.2)
        sim.meter("240101000001").close_cover()
        await asyncio.sleep(0.2)
        second = await headend.read_meter(serial, dis)
        await headend.sink.flush(backoff=False)
        return first, second, [r for r in records if getattr(r, "kind", "").startswith("cover")]

    first, second, events = asyncio.run(running(body))
    assert first[COUNT] == 1 and first[0x03300D01]["end"] is None
    assert second[0x03300D01]["end"] is not None, "read again while open"
    assert [e.kind for e in events] == ["cover_open", "cover_open", "cover_closed"]
    assert events[0].ts == events[1].ts and events[0].detail["number"] == 1
    assert events[2].ts >= events[0].ts  # the meter's clock counts whole seconds
