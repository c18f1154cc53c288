"""Simulated M-Bus water and gas meters, driven and checked through the project's codec."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from meterhub.protocols import mbus
from meterhub.protocols.mbus import DataField, encode_record, record, snd_ud
from meterhub.sim.meter import SimMeter, local_seconds
from meterhub.sim.water import ERR_LEAK, ERR_VALVE_BY_ALARM, GasMeter, WaterMeter

T0 = local_seconds(datetime(2026, 1, 5)) - 8 * 3600  # Monday 00:00 local (UTC+8)
H = 3600.0


def valve_cmd(address: int, open_: bool, fcb: bool = False) -> bytes:
    rec = record(b"\xfd\x1a", 1 if open_ else 0, DataField.INT8)
    return snd_ud(address, 0x51, encode_record(rec), fcb=fcb)


class Reader:
    """A master that toggles FCB like EN 13757-2 says."""

    def __init__(self, meter, address=None):
        self.m = meter
        self.fcb = mbus.FrameCountBit(meter.primary if address is None else address)

    def reset(self, now):
        return self.m.respond(self.fcb.reset(), now)

    def read(self, now):
        r = self.m.respond(self.fcb.req_ud2(), now)
        assert r is not None and 0.02 <= r.delay_s <= 0.5
        self.fcb.answered()
        return mbus.decode(r.data)

    def valve(self, open_, now):
        """The valve command with this master's FCB (one FCB per link, SND_UD included)."""
        r = self.m.respond(valve_cmd(self.fcb.address, open_, self.fcb.fcb), now)
        self.fcb.answered()
        return r

    def req_ud1(self, now):
        r = self.m.respond(mbus.req_ud1(self.fcb.address, self.fcb.fcb), now)
        self.fcb.answered()
        return r

    def values(self, now):
        vd = self.read(now)
        return vd, {(x.quantity, x.storage): x.value for x in vd.records}


def test_water_meter_answers_snd_nke_and_req_ud2():
    m = WaterMeter("5", 1)
    assert isinstance(m, SimMeter) and m.protocol == "mbus" and m.address == "5"
    r = m.respond(mbus.snd_nke(5), T0)
    assert r.data == b"\xe5"
    vd, v = Reader(m).values(T0)
    assert vd.header.identification == m.ident and vd.header.medium == 0x07
    assert vd.header.manufacturer == "MHS"
    assert v[("volume", 0)] > 0 and v[("volume", 1)] <= v[("volume", 0)]
    assert v[("digital_output", 0)] == 1  # valve open
    assert v[("error_flags", 0)] == 0 and vd.header.status == 0
    assert v[("datetime", 0)] == datetime(2026, 1, 5, 0, 0)
    assert m.respond(mbus.req_ud2(6), T0) is None  # someone else's address
    assert m.respond(mbus.snd_nke(0xFF), T0) is None  # broadcast without reply


def test_volume_grows_with_the_flow_profile():
    m = WaterMeter("5", 2, scale=0.02)
    rd = Reader(m)
    rd.reset(T0)
    v0 = rd.values(T0)[1][("volume", 0)]
    v1 = rd.values(T0 + 24 * H)[1][("volume", 0)]
    sums = m.profile_table.integrate(T0 + 8 * H, T0 + 32 * H, 0)[0]
    assert abs((v1 - v0) - Decimal(str(0.02 * sums[0]))) <= Decimal("0.002")
    assert Decimal("0.2") < v1 - v0 < Decimal("1.0")  # about half a cubic metre a day
    night = rd.values(T0 + 28 * H)[1][("volume", 0)] - v1  # 00:00-04:00 local
    v5 = rd.values(T0 + 29 * H)[1][("volume", 0)]
    morning = rd.values(T0 + 33 * H)[1][("volume", 0)] - v5  # 05:00-09:00 local
    assert morning > 3 * night


def test_valve_close_stops_the_volume_and_open_restores():
    m = WaterMeter("7", 3)
    rd = Reader(m)
    rd.reset(T0)
    r = rd.valve(False, T0 + 6 * H)
    assert r.data == b"\xe5" and not m.valve_open
    vd, v = rd.values(T0 + 6 * H)
    assert v[("digital_output", 0)] == 0 and v[("volume_flow", 0)] == 0
    closed_at = v[("volume", 0)]
    assert rd.values(T0 + 20 * H)[1][("volume", 0)] == closed_at
    assert rd.valve(True, T0 + 20 * H).data == b"\xe5"
    assert m.valve_open
    assert rd.values(T0 + 23 * H)[1][("volume", 0)] > closed_at


def test_fcb_repeat_gives_the_last_answer_again():
    m = WaterMeter("9", 4)
    m.respond(mbus.snd_nke(9), T0)
    first = m.respond(mbus.req_ud2(9, fcb=True), T0 + H).data
    again = m.respond(mbus.req_ud2(9, fcb=True), T0 + 5 * H).data  # same FCB: a retry
    assert again == first
    fresh = m.respond(mbus.req_ud2(9, fcb=False), T0 + 5 * H).data
    assert fresh != first
    a1 = mbus.decode(first).header.access_number
    a2 = mbus.decode(fresh).header.access_number
    assert a2 == (a1 + 1) % 256
    assert mbus.decode(fresh).records[0].value > mbus.decode(first).records[0].value
    # SND_NKE resets: the next request is new whatever its FCB
    m.respond(mbus.snd_nke(9), T0 + 6 * H)
    after = m.respond(mbus.req_ud2(9, fcb=False), T0 + 6 * H).data
    assert mbus.decode(after).header.access_number == (a2 + 1) % 256


def test_fcb_is_one_per_link_snd_ud_included():
    m = WaterMeter("9", 4)
    m.respond(mbus.snd_nke(9), T0)
    m.respond(mbus.req_ud2(9, fcb=True), T0)
    assert m.respond(valve_cmd(9, False, fcb=False), T0).data == b"\xe5"
    assert not m.valve_open
    # a REQ_UD2 with the FCB of the valve command is its retry: the E5 again
    assert m.respond(mbus.req_ud2(9, fcb=False), T0).data == b"\xe5"


def test_repeated_snd_ud_is_not_executed_twice():
    m = WaterMeter("9", 4)
    m.respond(mbus.snd_nke(9), T0)
    assert m.respond(valve_cmd(9, False, fcb=True), T0).data == b"\xe5"
    m.open_valve(T0 + 1)  # opened locally in between
    assert m.respond(valve_cmd(9, False, fcb=True), T0 + 2).data == b"\xe5"  # a retry
    assert m.valve_open


def test_secondary_address_selection():
    m = WaterMeter("12345678", 5)
    assert m.primary == 0 and m.address == "12345678"
    other = mbus.SecondaryAddress.of(87654321)
    assert m.respond(mbus.select_secondary(other), T0) is None
    assert m.respond(mbus.req_ud2(0xFD), T0) is None  # not selected
    mask = mbus.SecondaryAddress.of("1234FFFF", "MHS", medium=0x07)
    assert m.respond(mbus.select_secondary(mask), T0).data == b"\xe5"
    assert m.selected
    vd = mbus.decode(m.respond(mbus.req_ud2(0xFD), T0).data)
    assert vd.header.identification == 12345678
    assert mask.matches(vd.header)
    # a selection that does not match deselects
    m.respond(mbus.select_secondary(other), T0)
    assert not m.selected and m.respond(mbus.req_ud2(0xFD), T0) is None
    m.respond(mbus.select_secondary(mask), T0)
    assert m.respond(mbus.snd_nke(0xFD), T0).data == b"\xe5" and not m.selected


def test_gas_leak_alarm_shows_in_status_and_shuts_the_valve():
    m = GasMeter("3", 6)
    rd = Reader(m)
    rd.reset(T0)
    assert rd.req_ud1(T0).data == b"\xe5"  # no alarm: nothing to report
    m.trigger_leak(T0 + H)
    vd, v = rd.values(T0 + H)
    assert vd.header.medium == 0x03
    assert vd.header.status & 0x03 == 0x03
    assert int(v[("error_flags", 0)]) & ERR_LEAK and int(v[("error_flags", 0)]) & ERR_VALVE_BY_ALARM
    assert v[("digital_output", 0)] == 0 and not m.valve_open
    alarm = mbus.decode(rd.req_ud1(T0 + H).data)
    assert isinstance(alarm, mbus.AlarmStatus) and alarm.status & ERR_LEAK
    stopped = v[("volume", 0)]
    m.clear_leak(T0 + 2 * H)
    vd, v = rd.values(T0 + 5 * H)
    assert vd.header.status == 0 and not int(v[("error_flags", 0)]) & ERR_LEAK
    assert v[("volume", 0)] == stopped  # the valve stays shut until opened
    m.open_valve(T0 + 5 * H)
    assert rd.values(T0 + 9 * H)[1][("volume", 0)] > stopped


def test_water_leak_flows_at_night():
    a, b = WaterMeter("1", 8), WaterMeter("1", 8)
    ra, rb = Reader(a), Reader(b)
    ra.reset(T0)
    rb.reset(T0)
    va, vb = ra.values(T0)[1][("volume", 0)], rb.values(T0)[1][("volume", 0)]
    b.trigger_leak(T0)
    da = ra.values(T0 + 4 * H)[1][("volume", 0)] - va
    db = rb.values(T0 + 4 * H)[1][("volume", 0)] - vb
    assert abs((db - da) - Decimal("0.080")) <= Decimal("0.002")  # 4 h at 0.02 m3/h
    assert rb.read(T0 + 4 * H).header.status & 0x03 == 0x03


def test_set_primary_address():
    m = WaterMeter("5", 9)
    rec = record(0x7A, 42, DataField.INT8)
    assert m.respond(snd_ud(5, 0x51, encode_record(rec)), T0).data == b"\xe5"
    assert m.address == "42" and m.primary == 42
    assert m.respond(mbus.req_ud2(42), T0) is not None


def test_due_date_value_after_month_end():
    m = WaterMeter("5", 10)
    rd = Reader(m)
    rd.reset(T0)
    end = local_seconds(datetime(2026, 2, 1)) - 8 * H
    before = rd.values(end - 60)[1][("volume", 0)]
    v = rd.values(end + 3 * 86400)[1]
    assert before <= v[("volume", 1)] <= v[("volume", 0)]
    assert v[("date", 1)] == datetime(2026, 1, 31).date()


def test_replace_water_meter():
    m = WaterMeter("5", 11)
    rd = Reader(m)
    rd.reset(T0)
    m.replace("6", T0 + H)
    assert m.respond(mbus.req_ud2(5), T0 + H) is None
    v = Reader(m).values(T0 + 2 * H)[1]
    assert v[("volume", 0)] < 1


def test_status_for_the_control_channel():
    m = GasMeter("3", 6)
    m.trigger_leak(T0)
    st = m.status()
    assert st["leak"] and not st["valve_open"] and st["error_flags"] == ERR_LEAK | ERR_VALVE_BY_ALARM
