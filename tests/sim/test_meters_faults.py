"""Fault injection and determinism of simulated meters."""

from __future__ import annotations

from datetime import datetime

import pytest

from meterhub.protocols import dlt645 as d
from meterhub.protocols import mbus
from meterhub.sim.electricity import ElectricityMeter
from meterhub.sim.faults import Faults
from meterhub.sim.meter import local_seconds
from meterhub.sim.water import GasMeter, WaterMeter

T0 = local_seconds(datetime(2026, 3, 2)) - 8 * 3600
ADDR = "000011112222"


def read_req(di=0x00010000):
    return d.Read(ADDR, di).encode(preamble=4)


def test_faults_are_off_until_set_and_lazy():
    m = ElectricityMeter(ADDR, 1)
    assert m._faults is None  # no Faults object until someone asks
    assert m.respond(read_req(), T0) is not None
    assert not m.faults.active


def test_no_reply():
    m = ElectricityMeter(ADDR, 1)
    m.faults.no_reply = True
    assert m.respond(read_req(), T0) is None
    m.faults.clear()
    assert m.respond(read_req(), T0) is not None


def test_late_reply():
    m = ElectricityMeter(ADDR, 1)
    m.faults.late_reply_s = 0.9
    r = m.respond(read_req(), T0)
    assert r.delay_s > 0.5
    d.decode(r.data)  # late, but intact


@pytest.mark.parametrize("seed", range(40))
def test_corrupt_byte_gives_the_codec_s_typed_error(seed):
    m = ElectricityMeter(ADDR, seed)
    m.faults.corrupt_byte = True
    r = m.respond(read_req(), T0)
    with pytest.raises(d.Dlt645Error):
        d.decode(r.data)
    # and the stream parser reports it as an error event, never a frame
    events = list(d.parse_stream(r.data))
    assert not any(isinstance(e, d.Frame) for e in events)


@pytest.mark.parametrize("seed", range(20))
def test_corrupt_mbus_reply(seed):
    m = WaterMeter("4", seed)
    m.faults.corrupt_byte = True
    r = m.respond(mbus.req_ud2(4), T0)
    with pytest.raises(mbus.MBusError):
        mbus.decode(r.data)
    ack = m.respond(mbus.snd_nke(4), T0)
    assert ack.data != b"\xe5"
    with pytest.raises(mbus.MBusError):
        mbus.decode_frame(ack.data)


def test_bad_checksum():
    m = ElectricityMeter(ADDR, 2)
    m.faults.bad_checksum = True
    with pytest.raises(d.ChecksumError):
        d.decode(m.respond(read_req(), T0).data)
    w = GasMeter("9", 2)
    w.faults.bad_checksum = True
    with pytest.raises(mbus.MBusChecksumError):
        mbus.decode(w.respond(mbus.req_ud2(9), T0).data)


def test_fault_probabilities_validate():
    f = Faults(1)
    with pytest.raises(ValueError):
        f.no_reply = 1.5
    with pytest.raises(ValueError):
        f.late_reply_s = -1
    f.corrupt_byte = 0.25
    assert f.to_dict()["corrupt_byte"] == 0.25


def test_meter_replaced_and_clock_far_off():
    m = ElectricityMeter(ADDR, 3)
    m.respond(read_req(), T0)
    m.replace("000011113333", T0 + 60)
    assert m.respond(read_req(), T0 + 120) is None
    m.set_clock_offset(-40 * 86400, T0 + 180)
    r = m.respond(d.Read("000011113333", 0x04000101).encode(), T0 + 240)
    assert d.decode(r.data).value() == datetime(2026, 1, 21).date()


def _session(meter, requests, times):
    out = []
    for req, t in zip(requests, times, strict=True):
        r = meter.respond(req, t)
        out.append(None if r is None else (r.data, r.delay_s))
    return out


def _dlt_requests():
    return [read_req(di) for di in (0x00010000, 0x0001FF00, 0x02010100, 0x02030000,
                                   0x04000102, 0x01010000, 0x04FE0001, 0x03300D00)] * 3


@pytest.mark.parametrize("phases", [1, 3])
def test_same_seed_same_bytes(phases):
    times = [T0 + 977.0 * i for i in range(24)]
    a = ElectricityMeter(ADDR, 99, phases=phases)
    b = ElectricityMeter(ADDR, 99, phases=phases)
    for m in (a, b):
        m.faults.corrupt_byte = 0.3
        m.faults.no_reply = 0.2
    assert _session(a, _dlt_requests(), times) == _session(b, _dlt_requests(), times)
    c = ElectricityMeter(ADDR, 100, phases=phases)
    assert _session(c, _dlt_requests(), times) != _session(
        ElectricityMeter(ADDR, 99, phases=phases), _dlt_requests(), times)


def test_same_seed_same_bytes_mbus():
    times = [T0 + 3600.0 * i for i in range(12)]
    reqs = [mbus.snd_nke(7)] + [mbus.req_ud2(7, bool(i % 2)) for i in range(11)]
    a, b = WaterMeter("7", 5), WaterMeter("7", 5)
    a.faults.bad_checksum = b.faults.bad_checksum = 0.5
    assert _session(a, reqs, times) == _session(b, reqs, times)


def test_delays_are_per_meter_and_in_range():
    delays = []
    for s in range(200):
        r = ElectricityMeter(ADDR, s).respond(read_req(), T0)
        delays.append(r.delay_s)
    assert min(delays) >= 0.02 and max(delays) <= 0.5
    assert len({round(x, 3) for x in delays}) > 100
