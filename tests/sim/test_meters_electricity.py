"""Simulated DL/T 645 electricity meters, driven and checked through the project's codec."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from meterhub.protocols import dlt645 as d
from meterhub.sim.electricity import LOCKOUT_AFTER, ElectricityMeter
from meterhub.sim.meter import SimMeter, local_datetime, local_seconds, make_meter
from meterhub.sim.profiles import CN_4, HOUSEHOLD, table

ADDR = "123456789012"
# 2026-01-05 00:00 local (UTC+8), a Monday
T0 = local_seconds(datetime(2026, 1, 5)) - 8 * 3600
H = 3600.0
PW, OP = "123456", "00001234"
FAR = datetime(2030, 1, 1)


def meter(**kw) -> ElectricityMeter:
    kw.setdefault("password", PW)
    kw.setdefault("operators", (OP,))
    return ElectricityMeter(kw.pop("address", ADDR), kw.pop("seed", 42), **kw)


def ask(m, req, now, version="2007"):
    r = m.respond(req.encode(preamble=2), now)
    if r is None:
        return None
    assert 0.02 <= r.delay_s <= 0.5
    return d.parse_reply(d.decode_frame(r.data), version)


def read(m, di, now, address=None):
    rep = ask(m, d.Read(address or m.address, di), now)
    assert isinstance(rep, d.ReadReply), rep
    return rep.decoded()[1]


def relay(m, action, now, *, password=PW, operator=OP, until=FAR, level=2):
    return ask(m, d.RelayControl(m.address, action, until, level, password, operator), now)


def total(m, now):
    return read(m, 0x00010000, now)


def is_auth_error(rep):
    return isinstance(rep, d.ErrorReply) and rep.errors == ["password wrong / not authorised"]


def test_it_is_a_sim_meter():
    m = meter()
    assert isinstance(m, SimMeter)
    assert m.protocol == "dlt645_2007" and m.address == ADDR


def test_energy_grows_with_the_profile():
    m = meter(scale=0.5)
    e0 = total(m, T0)
    e1 = total(m, T0 + 24 * H)
    sums = m.profile_table.integrate(T0 + 8 * H, T0 + 32 * H, 0)[0]
    expected = Decimal(str(0.5 * sum(sums)))
    assert abs((e1 - e0) - expected) <= Decimal("0.05")
    # a household uses roughly 5-25 kWh a day at 0.5 kW mean in January
    assert Decimal(5) < e1 - e0 < Decimal(25)
    assert m.true_energy_kwh == pytest.approx(float(expected), abs=1e-6)


def test_evening_uses_more_than_the_night():
    m = meter(scale=0.5)
    a = total(m, T0 + 2 * H)  # 02:00 local
    b = total(m, T0 + 4 * H)
    c = total(m, T0 + 19 * H)
    e = total(m, T0 + 21 * H)
    assert e - c > 2 * (b - a) > 0


def test_total_is_the_sum_of_the_tariffs_and_time_of_use_is_right():
    m = meter()
    total(m, T0 + 19 * H)  # 19:00 local, the sharp period starts
    before = read(m, 0x0001FF00, T0 + 19 * H)
    after = read(m, 0x0001FF00, T0 + 21 * H)
    for block in (before, after):
        assert block["00010000"] == sum(block[f"0001{t:02d}00"] for t in range(1, 5))
    grew = {t: after[f"0001{t:02d}00"] - before[f"0001{t:02d}00"] for t in range(1, 5)}
    assert grew[1] > 0 and grew[2] == grew[3] == grew[4] == 0  # 19-21 is sharp only
    night = read(m, 0x0001FF00, T0 + 24 * H + 6 * H)  # to 06:00 next day
    assert night["00010400"] > after["00010400"]  # valley
    assert night["00010100"] == after["00010100"]
    assert CN_4.tariff_at(19) == 1 and CN_4.tariff_at(3) == 4


def test_instantaneous_values_single_phase():
    m = meter(scale=0.6)
    now = T0 + 19.5 * H
    u = read(m, 0x02010100, now)
    i = read(m, 0x02020100, now)
    p = read(m, 0x02030000, now)
    pf = read(m, 0x02060000, now)
    f = read(m, 0x02800002, now)
    assert Decimal(200) < u < Decimal(240)
    assert Decimal("0.85") <= pf <= Decimal("0.98")
    assert Decimal("49.9") <= f <= Decimal("50.1")
    assert p > 0
    assert abs(float(u) * float(i) * float(pf) / 1000 - float(p)) < 0.01 * float(p) + 0.002
    rep = ask(m, d.Read(ADDR, 0x02010200), now)  # phase B on a single-phase meter
    assert isinstance(rep, d.ErrorReply) and rep.errors == ["no requested data"]


def test_three_phase_values():
    m = meter(phases=3)
    now = T0 + 12 * H
    volts = read(m, 0x0201FF00, now)
    amps = read(m, 0x0202FF00, now)
    powers = read(m, 0x0203FF00, now)
    assert len(volts) == len(amps) == 3 and len(powers) == 4
    assert all(Decimal(200) < v < Decimal(240) for v in volts.values())
    phase_sum = sum(powers[f"0203{k:02d}00"] for k in (1, 2, 3))
    assert abs(powers["02030000"] - phase_sum) <= Decimal("0.0003")
    assert read(m, 0x02800001, now) >= 0  # neutral current


def test_unknown_item_is_no_requested_data():
    m = meter()
    rep = ask(m, d.Read(ADDR, 0x0610FFFF), T0)
    assert isinstance(rep, d.ErrorReply) and rep.errors == ["no requested data"]
    rep = ask(m, d.Read(ADDR, 0x00010500), T0)  # tariff 5: this meter has 4
    assert isinstance(rep, d.ErrorReply)


def test_relay_trip_and_close():
    m = meter(scale=0.5)
    ack = relay(m, d.RelayAction.TRIP, T0 + 8 * H)
    assert isinstance(ack, d.Ack) and ack.function == 0x1C
    s3 = read(m, 0x04000503, T0 + 8 * H)
    assert s3["relay_open"] and s3["relay_trip_commanded"]
    e0 = total(m, T0 + 8 * H)
    assert total(m, T0 + 20 * H) == e0  # registers stop
    assert read(m, 0x02030000, T0 + 20 * H) == 0
    assert read(m, 0x02020100, T0 + 20 * H) == 0
    assert read(m, 0x02010100, T0 + 20 * H) > 200  # the line is still live
    assert isinstance(relay(m, d.RelayAction.DIRECT_CLOSE, T0 + 20 * H), d.Ack)
    s3 = read(m, 0x04000503, T0 + 20 * H)
    assert not s3["relay_open"] and not s3["relay_trip_commanded"]
    assert total(m, T0 + 22 * H) > e0
    assert read(m, 0x02030000, T0 + 22 * H) > 0


def test_close_allowed_waits_for_the_button():
    m = meter(manual_close=True)
    relay(m, d.RelayAction.TRIP, T0)
    assert isinstance(relay(m, d.RelayAction.CLOSE_ALLOWED, T0 + H), d.Ack)
    s3 = read(m, 0x04000503, T0 + H)
    assert s3["relay_open"] and not s3["relay_trip_commanded"]
    m.press_button(T0 + 2 * H)
    assert not read(m, 0x04000503, T0 + 2 * H)["relay_open"]


def test_wrong_password_is_refused_and_changes_nothing():
    m = meter()
    e0 = total(m, T0 + 8 * H)
    rep = relay(m, d.RelayAction.TRIP, T0 + 8 * H, password="654321")
    assert is_auth_error(rep)
    assert not read(m, 0x04000503, T0 + 8 * H)["relay_open"]
    assert total(m, T0 + 12 * H) > e0
    rep = relay(m, d.RelayAction.TRIP, T0 + 12 * H, level=4)  # right digits, wrong level
    assert is_auth_error(rep)


def test_wrong_operator_is_refused():
    m = meter()
    assert is_auth_error(relay(m, d.RelayAction.TRIP, T0, operator="99999999"))
    assert not m.relay_open


def test_wrong_passwords_lock_the_meter_until_its_midnight():
    m = meter()
    for _ in range(LOCKOUT_AFTER):
        assert is_auth_error(relay(m, d.RelayAction.TRIP, T0 + H, password="000001"))
    assert m.locked
    assert is_auth_error(relay(m, d.RelayAction.TRIP, T0 + 2 * H))
    assert isinstance(relay(m, d.RelayAction.TRIP, T0 + 25 * H), d.Ack)  # next day
    assert m.relay_open


def test_expired_valid_until_is_refused():
    m = meter()
    now = T0 + 10 * H
    until = m.meter_time(now) - timedelta(minutes=1)
    rep = relay(m, d.RelayAction.TRIP, now, until=until)
    assert isinstance(rep, d.ErrorReply) and rep.errors == ["other error"]
    assert not m.relay_open
    # valid-until is judged by the meter's clock: a meter a day behind still accepts
    m.set_clock_offset(-86400, now)
    assert isinstance(relay(m, d.RelayAction.TRIP, now, until=until), d.Ack)


def test_power_hold_blocks_trip_and_alarm_bits():
    m = meter()
    assert isinstance(relay(m, d.RelayAction.POWER_HOLD, T0), d.Ack)
    rep = relay(m, d.RelayAction.TRIP, T0)
    assert isinstance(rep, d.ErrorReply) and not m.relay_open
    assert read(m, 0x04000503, T0)["power_hold"]
    relay(m, d.RelayAction.POWER_HOLD_RELEASE, T0)
    relay(m, d.RelayAction.ALARM, T0)
    s3 = read(m, 0x04000503, T0)
    assert s3["pre_trip_alarm"] and not s3["power_hold"]


def test_seal_open_close_and_swap():
    m = meter(seal_asset="1234567890123456")
    now = T0 + 9 * H
    s = read(m, 0x04FE0001, now)
    assert s.asset_number == "1234567890123456" and s.sealed is True
    assert read(m, 0x03300D00, now) == 0
    m.open_seal(now + 60)
    s = read(m, 0x04FE0001, now + 120)
    assert s.sealed is False
    assert s.changed_at == m.meter_time(now + 60)
    assert read(m, 0x03300D00, now + 120) == 1
    rec = read(m, 0x03300D01, now + 120)
    assert rec["start"] == m.meter_time(now + 60) and rec["end"] is None
    assert read(m, 0x04000507, now + 120)["raw"] == "0200"  # D9: cover open (maker bit)
    m.close_seal(now + 600)
    rec = read(m, 0x03300D01, now + 700)
    assert rec["end"] == m.meter_time(now + 600)
    assert rec["forward_active_after"] >= rec["forward_active_before"] > 0
    assert read(m, 0x04FE0001, now + 700).sealed is True
    m.swap_seal("9999000011112222", now + 800)
    s = read(m, 0x04FE0001, now + 900)
    assert s.asset_number == "9999000011112222" and s.sealed is True
    assert s.changed_at == m.meter_time(now + 800)


def test_seal_item_follows_the_model_spec():
    spec = d.SealItemSpec(di=0x04FE0201, asset_bytes=10, asset_encoding="ascii",
                          sealed_value=0x55, open_value=0xAA)
    m = meter(seal_spec=spec, seal_asset="SEAL-0042")
    table_ = d.item_table("2007", spec)
    r = m.respond(d.Read(ADDR, 0x04FE0201).encode(), T0)
    rep = d.parse_reply(d.decode_frame(r.data))
    assert rep.value(table_).asset_number == "SEAL-0042"
    assert rep.data[10] == 0x55
    assert isinstance(ask(m, d.Read(ADDR, 0x04FE0001), T0), d.ErrorReply)


def test_cover_events_are_counted_with_times():
    m = meter()
    times = [T0 + 3 * H, T0 + 5 * H, T0 + 30 * H]
    for t in times:
        m.open_cover(t)
        m.close_cover(t + 300)
    m.open_terminal_cover(T0 + 40 * H)
    now = T0 + 41 * H
    assert read(m, 0x03300D00, now) == 3
    assert read(m, 0x03300E00, now) == 1
    for n, t in zip((3, 2, 1), times, strict=True):  # record -1 is the newest
        rec = read(m, 0x03300D00 + n, now)
        assert rec["start"] == m.meter_time(t) and rec["end"] == m.meter_time(t + 300)
    assert read(m, 0x03300D04, now)["start"] is None
    tc = read(m, 0x03300E01, now)
    assert tc["start"] == m.meter_time(T0 + 40 * H) and tc["end"] is None
    assert read(m, 0x04000507, now)["raw"] == "0400"  # D10: terminal cover open
    # event clear needs the password
    assert is_auth_error(ask(m, d.ClearEvent(ADDR, 0xFFFFFFFF, 2, "000000", OP), now))
    assert isinstance(ask(m, d.ClearEvent(ADDR, 0x03300D00, 2, PW, OP), now), d.Ack)
    assert read(m, 0x03300D00, now) == 0 and read(m, 0x03300E00, now) == 1


def test_bypass_under_counts_by_the_fraction():
    m = meter(scale=0.8)
    e0 = total(m, T0)
    m.set_bypass(0.4, T0)
    true0 = m.true_energy_kwh
    e1 = total(m, T0 + 72 * H)
    true = m.true_energy_kwh - true0
    assert float(e1 - e0) == pytest.approx(0.6 * true, abs=0.02)
    assert true > 10


def test_magnet_under_counts_on_a_susceptible_meter():
    seed = next(s for s in range(100) if ElectricityMeter(ADDR, s).magnet_effect > 0.5)
    m = meter(seed=seed, scale=0.8)
    e0 = total(m, T0)
    m.apply_magnet(T0)
    e1 = total(m, T0 + 48 * H)
    assert float(e1 - e0) == pytest.approx((1 - m.magnet_effect) * m.true_energy_kwh, abs=0.02)
    m.remove_magnet(T0 + 48 * H)
    t1 = m.true_energy_kwh
    e2 = total(m, T0 + 72 * H)
    assert float(e2 - e1) == pytest.approx(m.true_energy_kwh - t1, abs=0.02)


def test_settlement_freezes_at_the_month_end():
    m = meter()
    end = local_seconds(datetime(2026, 2, 1)) - 8 * H  # true time of local month end
    total(m, T0)
    before = total(m, end - 600)
    after = total(m, end + 86400)
    frozen = read(m, 0x0001FF01, end + 86400)
    assert before <= frozen["00010001"] <= after
    assert frozen["00010001"] == sum(frozen[f"0001{t:02d}01"] for t in range(1, 5))
    md = read(m, 0x01010001, end + 86400)  # January's max demand, frozen
    assert md["demand"] > 0 and md["time"].month == 1
    cur = read(m, 0x01010000, end + 86400)
    assert cur["time"] is None or cur["time"].month == 2
    older = read(m, 0x00010002, end + 86400)  # before the simulation: extrapolated
    assert older <= frozen["00010001"]


def test_max_demand_and_demand_clear():
    m = meter(scale=0.5)
    total(m, T0)
    md = read(m, 0x01010000, T0 + 48 * H)
    assert md["demand"] > Decimal("0.5")
    assert T0 <= local_seconds(md["time"]) - 8 * H <= T0 + 48 * H
    assert isinstance(ask(m, d.ClearDemand(ADDR, 2, PW, OP), T0 + 48 * H), d.Ack)
    assert read(m, 0x01010000, T0 + 48 * H)["demand"] == 0


def test_meter_clear():
    m = meter()
    assert total(m, T0) > 0
    assert is_auth_error(ask(m, d.ClearMeter(ADDR, 2, "111111", OP), T0))
    assert isinstance(ask(m, d.ClearMeter(ADDR, 2, PW, OP), T0), d.Ack)
    assert total(m, T0) == 0
    assert total(m, T0 + 24 * H) > 0


def test_read_address_with_wildcard_and_addressing():
    m = meter()
    rep = ask(m, d.ReadAddress(), T0)
    assert isinstance(rep, d.AddressReply) and rep.address == ADDR
    assert read(m, 0x00010000, T0, address="AAAAAA789012") > 0  # shortened address
    assert m.respond(d.Read("123456789013", 0x00010000).encode(), T0) is None
    assert m.respond(d.Read(d.BROADCAST, 0x00010000).encode(), T0) is None
    # not a wildcard command
    rep = m.respond(d.RelayControl(d.WILDCARD, d.RelayAction.TRIP, FAR, 2, PW, OP).encode(), T0)
    assert rep is None and not m.relay_open


def test_broadcast_time_sync():
    m = meter()
    now = T0 + 10 * H
    m.set_clock_offset(120, now)  # two minutes fast
    true_local = local_datetime(now + 8 * H)
    assert m.respond(d.BroadcastTime(true_local).encode(), now) is None  # never answered
    assert abs(m.clock_error(now)) < 1
    # far off: broadcast sync is refused, a password write of the time fixes it
    m.set_clock_offset(-3 * 3600, now + 86400)
    later = now + 2 * 86400
    m.respond(d.BroadcastTime(local_datetime(later + 8 * H)).encode(), later)
    assert m.clock_error(later) == pytest.approx(-3 * 3600, abs=2)
    assert read(m, 0x04000102, later) == m.meter_time(later).time()
    assert m.meter_time(later) < local_datetime(later + 8 * H) - timedelta(hours=2.9)
    want = local_datetime(later + 8 * H)
    bad = d.Write(ADDR, 0x04000102, d.ITEMS_2007.get(0x04000102).fmt.encode(want.time()),
                  2, "000000", OP)
    assert is_auth_error(ask(m, bad, later))
    good = d.Write(ADDR, 0x04000102, d.ITEMS_2007.get(0x04000102).fmt.encode(want.time()),
                   2, PW, OP)
    assert isinstance(ask(m, good, later), d.Ack)
    assert abs(m.clock_error(later)) < 2


def test_clock_drifts_a_few_ppm():
    m = meter()
    total(m, T0)
    err = m.clock_error(T0 + 30 * 86400)
    assert abs(err) < 30 * 86400 * 20e-6  # under 20 ppm


def test_write_address_and_replace():
    m = meter()
    rep = ask(m, d.WriteAddress(d.WILDCARD, "000000000077"), T0)
    assert isinstance(rep, d.Ack) and rep.address == "000000000077"
    assert m.address == "000000000077"
    m.replace("210987654321", T0 + H)
    assert m.respond(d.Read("000000000077", 0x00010000).encode(), T0 + 2 * H) is None
    assert total(m, T0 + 2 * H) < 5  # a new meter starts from zero
    assert read(m, 0x03300D00, T0 + 2 * H) == 0


def test_change_password_and_baud():
    m = meter()
    rep = ask(m, d.ChangePassword(ADDR, 2, PW, 2, "777777"), T0)
    assert isinstance(rep, d.PasswordReply) and rep.password == "777777"
    assert is_auth_error(relay(m, d.RelayAction.TRIP, T0))
    assert isinstance(relay(m, d.RelayAction.TRIP, T0, password="777777"), d.Ack)
    assert isinstance(ask(m, d.ChangeBaud(ADDR, 9600), T0), d.BaudReply)
    assert isinstance(ask(m, d.Freeze(ADDR), T0), d.Ack)


def test_date_and_time_follow_the_meter_clock():
    m = meter()
    now = T0 + 10.5 * H
    assert read(m, 0x04000101, now) == datetime(2026, 1, 5).date()
    t = read(m, 0x04000102, now)
    assert (t.hour, t.minute) == (10, 30)
    m.set_clock_offset(400 * 86400, now)  # a year and more ahead
    assert read(m, 0x04000101, now).year == 2027


def test_1997_meter():
    m = ElectricityMeter(ADDR, 3, protocol="dlt645_1997", password=PW)
    assert m.protocol == "dlt645_1997"

    def ask97(req, now):
        r = m.respond(req.encode(), now)
        return None if r is None else d.parse_reply(d.decode_frame(r.data), "1997")

    rep = ask97(d.Read(ADDR, 0x901F, version="1997"), T0)
    block = rep.decoded()[1]
    assert block["9010"] == sum(block[f"901{t}"] for t in range(1, 5)) > 0
    e0 = block["9010"]
    v = ask97(d.Read(ADDR, 0xB611, version="1997"), T0 + 19 * H).decoded()[1]
    assert 200 < v < 240
    assert ask97(d.Read(ADDR, 0x9010, version="1997"), T0 + 24 * H).value() > e0
    last = m.respond(d.Read(ADDR, 0xC010, version="1997").encode(), T0 + 24 * H).data
    assert m.respond(d.Reread(ADDR).encode(), T0 + 25 * H).data == last
    rep = ask97(d.Read(ADDR, 0x1234, version="1997"), T0)
    assert isinstance(rep, d.ErrorReply) and rep.errors == ["data identifier wrong"]
    fmt = d.ITEMS_1997.get(0xC011).fmt
    now = T0 + 30 * H
    bad = d.Write(ADDR, 0xC011, fmt.encode(datetime(2026, 1, 6, 3, 0).time()), 2, "000000",
                  version="1997")
    assert ask97(bad, now).errors == ["password wrong"]
    good = d.Write(ADDR, 0xC011, fmt.encode(datetime(2026, 1, 6, 3, 0).time()), 2, PW,
                   version="1997")
    assert isinstance(ask97(good, now), d.Ack)
    assert ask97(d.Read(ADDR, 0xC011, version="1997"), now).value().hour == 3
    # 2007 frames mean something else to a 1997 meter: no 1C relay control there
    rep = m.respond(d.RelayControl(ADDR, d.RelayAction.TRIP, FAR, 2, PW, OP).encode(), now)
    assert rep is None or d.decode_frame(rep.data).is_abnormal


def test_make_meter_kinds():
    assert make_meter("three_phase", ADDR, 1).phases == 3
    assert make_meter("single_phase_1997", ADDR, 1).protocol == "dlt645_1997"
    with pytest.raises(ValueError):
        make_meter("steam", ADDR, 1)


def test_profile_table_is_shared():
    a, b = ElectricityMeter(ADDR, 1), ElectricityMeter(ADDR, 1)
    assert a.profile_table is b.profile_table
    assert a.profile_table is table(HOUSEHOLD, a.profile_table.shift, CN_4)


def test_1997_demand_clear_needs_only_the_password():
    m = ElectricityMeter(ADDR, 5, protocol="dlt645_1997", password=PW, operators=(OP,))
    m.respond(d.Read(ADDR, 0x9010, version="1997").encode(), T0)
    m.respond(d.Read(ADDR, 0x9010, version="1997").encode(), T0 + 30 * H)
    r = m.respond(d.ClearDemand(ADDR, 2, PW, version="1997").encode(), T0 + 30 * H)
    assert isinstance(d.parse_reply(d.decode_frame(r.data), "1997"), d.Ack)
    r = m.respond(d.Read(ADDR, 0xA010, version="1997").encode(), T0 + 30 * H)
    assert d.parse_reply(d.decode_frame(r.data), "1997").value() == 0


def test_a_dead_meter_does_not_act():
    m = meter()
    m.faults.no_reply = True
    assert relay(m, d.RelayAction.TRIP, T0) is None
    assert not m.relay_open


def test_time_going_back_changes_nothing():
    a, b = meter(seed=8), meter(seed=8)
    e1 = total(a, T0 + 10 * H)
    total(b, T0 + 10 * H)
    assert total(b, T0 + 5 * H) == e1  # an earlier `now`: no time has passed
    assert total(b, T0 + 10 * H) == e1
    assert total(b, T0 + 20 * H) == total(a, T0 + 20 * H)


def test_status_for_the_control_channel():
    m = meter()
    m.open_terminal_cover(T0)
    m.trip(T0)
    st = m.status()
    assert st["relay_open"] and st["terminal_cover_open"] and not st["meter_cover_open"]
    assert sum(st["tariffs_kwh"]) == pytest.approx(m.energy_kwh)
