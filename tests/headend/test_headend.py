"""The head-end over real loopback TCP, against collectors that play DL/T 645 meters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterhub.headend import meter_io, timing
from meterhub.headend.bus import CollectorGone, NoReply
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.meter_io import MeterRef, MeterRefused
from meterhub.headend.records import CommRecord, LinkRecord, ReadingRecord
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from meterhub.protocols import dlt645
from tests.headend.fake_collector import FakeCollector, FakeMeter

ENERGY = 0x00010000


def fleet(*meters: MeterRef, enabled=True) -> Fleet:
    collectors = [CollectorRef(1, "DTU-1", "REG1", "dialin_tcp", enabled=enabled, link_latency_s=0.05)]
    return Fleet.build(collectors, list(meters))


def meter(n: int, **kw) -> MeterRef:
    defaults = dict(id=n, serial=f"E{n}", address=f"{n:012d}", protocol="dlt645_2007", collector="REG1",
                    baud_rate=9600, password="02123456", operator_code="00000001")
    defaults.update(kw)
    return MeterRef(**defaults)


class Harness:
    def __init__(self, the_fleet: Fleet):
        self.records: list = []
        self.headend = HeadEnd(lambda: the_fleet, BatchSink(self.records.extend, interval_s=0.05), node="test")
        self.port = 0

    async def __aenter__(self):
        self.port = await self.headend.start("127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc):
        await self.headend.close()

    async def online(self, key=("REG1", 1)):
        for _ in range(200):
            if key in self.headend.sessions:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{key} never came online")

    def of(self, kind):
        return [r for r in self.records if isinstance(r, kind)]


def run(coro):
    return asyncio.run(coro)


def test_reads_energy_and_stores_it_with_the_multiplier():
    async def scenario():
        async with Harness(fleet(meter(1, ct_ratio=Decimal(50)))) as h:
            collector = FakeCollector("REG1", [FakeMeter("000000000001", "1234.56")])
            await collector.connect("127.0.0.1", h.port)
            await h.online()
            values = await h.headend.read_meter("E1", [ENERGY])
            await h.headend.sink.flush()
            await collector.drop()
            return values, h.records

    values, records = run(scenario())
    assert values == {ENERGY: Decimal("1234.56")}
    reading = next(r for r in records if isinstance(r, ReadingRecord))
    assert (reading.quantity, reading.raw_value, reading.value, reading.unit) == (
        "energy_import", Decimal("1234.56"), Decimal("61728.00"), "kWh")
    assert any(isinstance(r, CommRecord) and r.ok for r in records)


def test_unknown_and_disabled_collectors_are_refused_and_logged():
    async def scenario():
        async with Harness(fleet(meter(1), enabled=False)) as h:
            for reg in ("NOBODY", "REG1"):
                c = FakeCollector(reg, [])
                await c.connect("127.0.0.1", h.port)
                await asyncio.sleep(0.1)
                await c.drop()
            await h.headend.sink.flush()
            return h.headend.sessions, h.of(LinkRecord)

    sessions, links = run(scenario())
    assert sessions == {}
    assert [(r.registration_id, r.kind, r.reason) for r in links] == [
        ("NOBODY", "refused", "unknown registration id"), ("REG1", "refused", "collector disabled")]


def test_silent_meter_fails_after_the_deadline_and_does_not_stall_its_bus():
    async def scenario():
        async with Harness(fleet(meter(1), meter(2))) as h:
            c = FakeCollector("REG1", [FakeMeter("000000000001", silent=True), FakeMeter("000000000002", "7")])
            await c.connect("127.0.0.1", h.port)
            await h.online()
            bus = h.headend.sessions[("REG1", 1)]
            loop = asyncio.get_running_loop()
            started = loop.time()
            silent = await h.headend.read_meter("E1", [ENERGY])
            took = loop.time() - started
            timeouts = bus.stats.timeouts
            alive = await h.headend.read_meter("E2", [ENERGY])
            await h.headend.sink.flush()
            await c.drop()
            return silent, took, timeouts, alive, h.of(CommRecord)

    silent, took, timeouts, alive, comms = run(scenario())
    # Each attempt is given the bus timing's deadline and no longer; that it fails exactly
    # then, and the whole read costs exactly the deadlines and backoffs, is proven on a
    # virtual clock in test_bus_session.py. Here: over TCP, bounded attempts and no early give-up.
    deadline = timing.reply_deadline(len(meter_io.read_request("000000000001", ENERGY, "2007")), 9600, 0.05)
    assert isinstance(silent[ENERGY], NoReply)
    assert str(silent[ENERGY]) == f"DTU-1:1: no reply within {deadline:.2f} s"
    assert timeouts == 3, "three attempts, then the read fails"
    assert took >= 3 * deadline + sum(meter_io.RETRY_BACKOFF_S) - 1e-6
    assert alive == {ENERGY: Decimal(7)}
    assert [(c.meter_id, c.ok) for c in comms] == [(1, False), (2, True)]


def test_offline_collector_is_a_clear_failure():
    async def scenario():
        async with Harness(fleet(meter(1))) as h:
            return await h.headend.read_meter("E1", [ENERGY])

    assert isinstance(run(scenario())[ENERGY], CollectorGone)


def test_reconnect_from_a_new_address_replaces_the_old_session():
    async def scenario():
        async with Harness(fleet(meter(1))) as h:
            first = FakeCollector("REG1", [FakeMeter("000000000001")])
            await first.connect("127.0.0.1", h.port)
            await h.online()
            old = h.headend.sessions[("REG1", 1)]
            second = FakeCollector("REG1", [FakeMeter("000000000001", "99")])
            await second.connect("127.0.0.1", h.port)
            for _ in range(100):
                if h.headend.sessions.get(("REG1", 1)) not in (None, old):
                    break
                await asyncio.sleep(0.01)
            values = await h.headend.read_meter("E1", [ENERGY])
            await h.headend.sink.flush()
            kinds = [r.kind for r in h.of(LinkRecord)]
            await first.drop()
            await second.drop()
            return old.closed, values, kinds

    old_closed, values, kinds = run(scenario())
    assert old_closed
    assert values == {ENERGY: Decimal(99)}
    assert kinds == ["online", "replaced", "online"]


def test_garbage_from_a_collector_is_skipped():
    async def scenario():
        async with Harness(fleet(meter(1))) as h:
            c = FakeCollector("REG1", [FakeMeter("000000000001", "5")], garbage=b"\x68\x00garbage\xff\x16HB\r\n")
            await c.connect("127.0.0.1", h.port)
            await h.online()
            values = await h.headend.read_meter("E1", [ENERGY])
            stats = h.headend.sessions[("REG1", 1)].stats
            await c.drop()
            return values, stats

    values, stats = run(scenario())
    assert values == {ENERGY: Decimal(5)}
    assert stats.noise_events + stats.bad_frames >= 1


def test_relay_trip_with_password_and_refusal_with_a_wrong_one():
    async def scenario():
        async with Harness(fleet(meter(1), meter(2, password="02999999"))) as h:
            m1, m2 = FakeMeter("000000000001"), FakeMeter("000000000002")
            c = FakeCollector("REG1", [m1, m2])
            await c.connect("127.0.0.1", h.port)
            await h.online()
            session = h.headend.sessions[("REG1", 1)]
            until = datetime.now(UTC) + timedelta(hours=1)
            await meter_io.relay_control(session, h.headend.fleet.meters["E1"], dlt645.RelayAction.TRIP, until)
            refused = None
            try:
                await meter_io.relay_control(session, h.headend.fleet.meters["E2"], dlt645.RelayAction.TRIP, until)
            except MeterRefused as exc:
                refused = exc
            await c.drop()
            return m1.relay_open, m2.relay_open, refused

    tripped, untouched, refused = run(scenario())
    assert tripped is True and untouched is False
    assert refused is not None and "password wrong / not authorised" in refused.errors


def test_two_callers_never_put_two_frames_on_the_bus():
    """Concurrent reads of one bus are serialised: each completes, none collides."""

    async def scenario():
        async with Harness(fleet(*(meter(n) for n in range(1, 6)))) as h:
            meters = [FakeMeter(f"{n:012d}", str(n)) for n in range(1, 6)]
            c = FakeCollector("REG1", meters, delay_s=0.03)
            await c.connect("127.0.0.1", h.port)
            await h.online()
            results = await asyncio.gather(*(h.headend.read_meter(f"E{n}", [ENERGY]) for n in range(1, 6)))
            busy = h.headend.sessions[("REG1", 1)].stats
            await c.drop()
            return results, busy

    results, stats = run(scenario())
    assert [r[ENERGY] for r in results] == [Decimal(n) for n in range(1, 6)]
    assert stats.requests == 5 and stats.unsolicited == 0


@pytest.mark.django_db
def test_store_is_idempotent_and_tracks_link_state_and_comm_status(collector):
    from meterhub.assets.models import Meter
    from meterhub.comms.models import BusLink, LinkEvent, MeterCommStatus
    from meterhub.comms.store import write_batch
    from meterhub.readings.models import Reading

    m = Meter.objects.create(serial="E1", site=collector.site, address="000000000001", collector=collector)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    batch = [
        LinkRecord(t0, "REG-1", 1, "online", "10.0.0.1:5000"),
        ReadingRecord(m.pk, "energy_import", t0, Decimal("10.5"), Decimal(2), "kWh", "scheduled"),
        CommRecord(m.pk, t0, True),
        CommRecord(m.pk, t0 + timedelta(minutes=15), False, "no reply"),
        LinkRecord(t0 + timedelta(hours=1), "REG-1", 1, "offline"),
    ]
    write_batch(batch)
    write_batch(batch[1:2])  # re-delivery of the same reading
    reading = Reading.objects.get()
    assert (reading.value, reading.raw_value, reading.multiplier) == (Decimal("21"), Decimal("10.5"), 2)
    link = BusLink.objects.get()
    assert (link.online, link.since) == (False, t0 + timedelta(hours=1))
    assert LinkEvent.objects.count() == 2
    status = MeterCommStatus.objects.get()
    assert (status.successes, status.failures, status.consecutive_failures, status.last_error) == (
        1, 1, 1, "no reply")
    assert status.success_rate == 0.5


def test_a_silent_tcp_link_is_closed_but_a_serial_line_is_not():
    async def scenario():
        collectors = [CollectorRef(1, "DTU-1", "REG1", "dialin_tcp", link_latency_s=0.05),
                      CollectorRef(2, "RS485-1", "SER1", "serial")]
        the_fleet = Fleet.build(collectors, [meter(1)])
        headend = HeadEnd(lambda: the_fleet, BatchSink(lambda b: None), node="t", idle_timeout_s=0.2)
        await headend.start("127.0.0.1", 0)

        class Quiet:
            def write(self, data):
                pass

            def close(self):
                pass

        serial = headend.attach(the_fleet.collectors["SER1"], 1, Quiet(), peer="/dev/ttyUSB0")
        tcp = headend.attach(the_fleet.collectors["REG1"], 1, Quiet(), peer="10.0.0.1:1")
        await asyncio.sleep(0.5)
        result = (tcp.closed, serial.closed)
        await headend.close()
        return result

    tcp_closed, serial_closed = run(scenario())
    assert tcp_closed and not serial_closed


def test_a_late_reply_is_not_taken_for_the_next_items_answer():
    """The reply to item A arrives after A's deadline, while item B is being waited for."""
    tariff_1 = 0x00010100

    async def scenario():
        async with Harness(fleet(meter(1))) as h:
            fake = FakeMeter("000000000001", "1234.56")
            fake.late[ENERGY] = 1.2  # past the ~0.85 s deadline at 9600 baud...
            fake.late[tariff_1] = 0.5  # ...and lands while tariff 1 (asked at ~1.0 s) is awaited
            c = FakeCollector("REG1", [fake])
            await c.connect("127.0.0.1", h.port)
            await h.online()
            values = await h.headend.read_meter("E1", [ENERGY, tariff_1])
            stats = h.headend.sessions[("REG1", 1)].stats
            await c.drop()
            return values, stats

    values, stats = run(scenario())
    assert values[ENERGY] == Decimal("1234.56")  # the retry got its own answer
    assert values[tariff_1] == Decimal("11.11"), "the late energy reply must not pass for tariff 1"
    assert stats.unsolicited >= 1


def test_unknown_collectors_redialling_do_not_flood_fleet_reloads():
    loads = []

    def load():
        loads.append(1)
        return fleet(meter(1))

    async def scenario():
        headend = HeadEnd(load, BatchSink(lambda b: None), node="t")
        port = await headend.start("127.0.0.1", 0)
        for _ in range(8):
            c = FakeCollector("DECOMMISSIONED", [])
            await c.connect("127.0.0.1", port)
            await asyncio.sleep(0.02)
            await c.drop()
        await asyncio.sleep(0.1)
        await headend.close()

    run(scenario())
    assert len(loads) <= 2, "one load at start and at most one refresh for the burst"


def test_time_sync_on_a_1997_meter_fails_at_once_with_the_reason():
    from meterhub.headend.commands import CommandTask, execute

    task = CommandTask(1, "time_sync", meter(1, protocol="dlt645_1997"), datetime.now(UTC), "Asia/Shanghai", 1)
    outcome = run(execute(None, task, datetime.now(UTC)))
    assert outcome.status == "failed" and "1997" in outcome.result["error"]


def test_read_now_without_items_reads_the_energy_register_of_either_edition():
    from meterhub.headend.commands import CommandTask, execute

    asked = []

    class Session:
        async def transact(self, request, **kw):
            frame = dlt645.decode_frame(request)
            asked.append(dlt645.parse_request(frame, "1997").di)
            return dlt645.ReadReply.of(frame.address, 0x9010, Decimal("5.5"), version="1997").to_frame()

    task = CommandTask(1, "read_now", meter(1, protocol="dlt645_1997"), datetime.now(UTC), "Asia/Shanghai", 1)
    outcome = run(execute(Session(), task, datetime.now(UTC)))
    assert asked == [0x9010]
    assert outcome.status == "done" and outcome.result["values"] == {"00009010": "5.50"}
