"""Hypothesis properties of simulated meters: registers, robustness, determinism."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.protocols import dlt645 as d
from meterhub.protocols import mbus
from meterhub.sim.electricity import ElectricityMeter
from meterhub.sim.meter import local_seconds
from meterhub.sim.water import GasMeter, WaterMeter

T0 = local_seconds(datetime(2026, 1, 1)) - 8 * 3600
ADDR = "314159265358"
SETTINGS = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])

steps = st.lists(st.floats(min_value=0.0, max_value=40 * 86400.0, allow_nan=False),
                 min_size=1, max_size=12)
actions = st.lists(st.sampled_from(["none", "trip", "close", "bypass", "magnet", "unmagnet",
                                    "clock", "cover", "seal", "clear-demand"]),
                   min_size=12, max_size=12)
kinds = st.sampled_from([(1, "dlt645_2007"), (3, "dlt645_2007"), (1, "dlt645_1997"),
                         (3, "dlt645_1997")])


def _registers(m, now):
    """(total, tariffs) as read over the bus, current and last settlement."""
    out = []
    if m.version == "2007":
        for p in (0, 1):
            r = m.respond(d.Read(ADDR, 0x0001FF00 | p).encode(), now)
            blk = d.decode(r.data).decoded()[1]
            out.append((blk[f"000100{p:02d}"], [blk[f"0001{t:02d}{p:02d}"] for t in range(1, 5)]))
    else:
        for base in (0x901F, 0x941F):
            r = m.respond(d.Read(ADDR, base, version="1997").encode(), now)
            blk = d.decode(r.data, "1997").decoded()[1]
            hi = f"{base >> 4:03X}"
            out.append((blk[f"{hi}0"], [blk[f"{hi}{t}"] for t in range(1, 5)]))
    return out


@SETTINGS
@given(seed=st.integers(0, 2**32), kind=kinds, deltas=steps, acts=actions)
def test_registers_never_decrease_and_tariffs_sum_to_total(seed, kind, deltas, acts):
    phases, protocol = kind
    m = ElectricityMeter(ADDR, seed, phases=phases, protocol=protocol, password="000000")
    now = T0
    prev = None
    for delta, act in zip(deltas, acts, strict=False):
        now += delta
        if act == "trip":
            m.trip(now)
        elif act == "close":
            m.close_relay(now)
        elif act == "bypass":
            m.set_bypass(0.5, now)
        elif act == "magnet":
            m.apply_magnet(now)
        elif act == "unmagnet":
            m.remove_magnet(now)
        elif act == "clock":
            m.set_clock_offset(delta % 7200 - 3600, now)
        elif act == "cover":
            m.open_cover(now)
        elif act == "seal":
            m.close_seal(now)
        elif act == "clear-demand" and m.version == "2007":
            m.respond(d.ClearDemand(ADDR, 2, "000000").encode(), now)
        regs = _registers(m, now)
        for total, tariffs in regs:
            assert total == sum(tariffs)
        if prev is not None:
            (t_now, tar_now), (t_prev, tar_prev) = regs[0], prev[0]
            assert t_now >= t_prev
            assert all(a >= b for a, b in zip(tar_now, tar_prev, strict=True))
        prev = regs
    assert m.true_energy_kwh >= 0


@SETTINGS
@given(seed=st.integers(0, 2**32), gas=st.booleans(), deltas=steps,
       acts=st.lists(st.sampled_from(["none", "close", "open", "leak", "clear"]),
                     min_size=12, max_size=12))
def test_volume_never_decreases(seed, gas, deltas, acts):
    m = (GasMeter if gas else WaterMeter)("3", seed)
    fcb = mbus.FrameCountBit(3)
    m.respond(fcb.reset(), T0)
    now, prev = T0, None
    for delta, act in zip(deltas, acts, strict=False):
        now += delta
        {"close": m.close_valve, "open": m.open_valve, "leak": m.trigger_leak,
         "clear": m.clear_leak}.get(act, lambda now: None)(now)
        r = m.respond(fcb.req_ud2(), now)
        fcb.answered()
        recs = mbus.decode(r.data).records
        vol = next(x.value for x in recs if x.quantity == "volume" and x.storage == 0)
        due = next(x.value for x in recs if x.quantity == "volume" and x.storage == 1)
        assert due <= vol
        if prev is not None:
            assert vol >= prev
        prev = vol


def _dlt_reply_ok(m, raw: bytes, now: float) -> None:
    r = m.respond(raw, now)
    if r is None:
        return
    assert 0.02 <= r.delay_s <= 0.5
    frame = d.decode_frame(r.data)
    assert frame.is_reply
    d.parse_reply(frame, m.version)


@SETTINGS
@given(raw=st.binary(max_size=64), seed=st.integers(0, 1000), v97=st.booleans())
def test_random_bytes_never_raise_dlt645(raw, seed, v97):
    m = ElectricityMeter(ADDR, seed, protocol="dlt645_1997" if v97 else "dlt645_2007")
    _dlt_reply_ok(m, raw, T0)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(control=st.one_of(st.sampled_from([0x01, 0x02, 0x03, 0x04, 0x08, 0x0A, 0x0C, 0x0F, 0x10,
                                          0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
                                          0x19, 0x1A, 0x1B, 0x1C]), st.integers(0, 255)),
       data=st.binary(max_size=40), seed=st.integers(0, 1000),
       address=st.sampled_from([ADDR, d.WILDCARD, d.BROADCAST, "AAAAAA265358", "000000000001"]),
       v97=st.booleans(), when=st.floats(0, 3e8, allow_nan=False))
def test_random_frames_to_the_meter_never_raise(control, data, seed, address, v97, when):
    m = ElectricityMeter(ADDR, seed, protocol="dlt645_1997" if v97 else "dlt645_2007")
    raw = d.encode_frame(address, control, data, preamble=seed % 5)
    _dlt_reply_ok(m, raw, T0 + when)
    _dlt_reply_ok(m, raw, T0 + when + 1)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(c=st.one_of(st.sampled_from([0x40, 0x53, 0x73, 0x5B, 0x7B, 0x5A, 0x7A]),
                  st.integers(0, 255)),
       a=st.sampled_from([0, 3, 0xFD, 0xFE, 0xFF, 7]),
       ci=st.one_of(st.sampled_from([0x50, 0x51, 0x52]), st.integers(0, 255)),
       data=st.one_of(st.sampled_from([b"\x01\xfd\x1a\x00", b"\x01\xfd\x1a\x01",
                                       b"\x01\x7a\x03", b"\x0f\x01\x02", b"\x1f"]),
                      st.binary(max_size=30)),
       raw=st.binary(max_size=40),
       seed=st.integers(0, 1000), select_first=st.booleans())
def test_random_mbus_frames_never_raise(c, a, ci, data, raw, seed, select_first):
    m = WaterMeter("3", seed, ident=12345678)
    if select_first:
        m.respond(mbus.select_secondary("12345678FFFFFFFF"), T0)
    frames = [raw, mbus.ShortFrame(c, a).encode(), mbus.LongFrame(c, a, ci, data).encode(),
              mbus.ControlFrame(c, a, ci).encode()]
    for f in frames:
        r = m.respond(f, T0)
        if r is not None:
            mbus.decode_frame(r.data)
            assert 0.02 <= r.delay_s <= 0.5


@SETTINGS
@given(seed=st.integers(0, 2**40), deltas=steps)
def test_determinism(seed, deltas):
    def run():
        m = ElectricityMeter(ADDR, seed, phases=3)
        w = WaterMeter("3", seed)
        out, now = [], T0
        for i, delta in enumerate(deltas):
            now += delta
            out.append(m.respond(d.Read(ADDR, [0x0001FF00, 0x0203FF00, 0x01010000][i % 3])
                                 .encode(), now))
            out.append(w.respond(mbus.req_ud2(3, bool(i % 2)), now))
        return out

    assert run() == run()
