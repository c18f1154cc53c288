"""M-Bus decode throughput, ours against pyMeterBus (import ``meterbus``), same run.

One "telegram" of work = bytes of an RSP_UD long frame in, every record's value out
(ours: ``decode(data)`` then ``record.value`` for each record, which is the scaled
Decimal/float/date; peer: ``meterbus.load(data)`` then ``record.value`` for each,
which is where the peer scales). The telegrams are the libmbus captures from the
shared test data (52 meters from many makers) when they can be found, else a
synthetic set built with our encoder; only telegrams both sides decode are timed.
"""

from __future__ import annotations

import os
import time as _time
from pathlib import Path


def _capture_dir() -> Path | None:
    env = os.environ.get("METERHUB_TESTDATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [here.parents[3].parent / "shared" / "testdata",
                   Path.cwd().parent / "shared" / "testdata"]
    for c in candidates:
        if (c / "mbus-libmbus").is_dir():
            return c / "mbus-libmbus"
    return None


def _synthetic() -> list[bytes]:
    from datetime import date, datetime

    from meterhub.protocols.mbus import DataField, Function, VariableHeader, encode_rsp_ud
    from meterhub.protocols.mbus import record as r

    out = []
    for i in range(20):
        header = VariableHeader(10000000 + i, "ABC", 1, (0x07, 0x03, 0x02, 0x04)[i % 4], i)
        out.append(encode_rsp_ud(i + 1, header, [
            r(0x13, 123456 + i, DataField.BCD8),
            r(0x13, 120000 + i, DataField.BCD8, storage=1),
            r(0x6D, datetime(2024, 3, 31, 23, 45), DataField.INT32),
            r(0x6C, date(2024, 3, 31), DataField.INT16, storage=1),
            r(0x3B, 850, DataField.INT16, function=Function.MAXIMUM),
            r(0x06, 6613 + i, DataField.INT32, tariff=1),
            r(0x2B, 951, DataField.INT32),
            r(0x5A, 123, DataField.INT16),
            r(0x5E, 101, DataField.INT16),
            r(b"\xfd\x17", 0, DataField.INT8),
        ]))
    return out


def _telegrams() -> tuple[list[bytes], str]:
    folder = _capture_dir()
    if folder is None:
        return _synthetic(), "synthetic"
    return [bytes.fromhex(p.read_text()) for p in sorted(folder.glob("*.hex"))], "libmbus"


def _ours_job(data: bytes):
    from meterhub.protocols.mbus import decode

    def job():
        app = decode(data)
        return [rec.value for rec in app.records]

    return job


def _peer_job(data: bytes):
    import meterbus

    def job():
        return [rec.value for rec in meterbus.load(data).body.bodyPayload.records]

    return job


def _usable(telegrams: list[bytes], with_peer: bool) -> list[bytes]:
    from meterhub.protocols.mbus import MBusError, VariableData, decode

    keep = []
    for data in telegrams:
        try:
            if not isinstance(decode(data), VariableData):
                continue  # fixed data (CI 73h): the peer has no decoder for it
            if with_peer:
                _peer_job(data)()
        except (MBusError, Exception):  # noqa: BLE001 - a peer crash excludes the telegram
            continue
        keep.append(data)
    return keep


def _rate(jobs, seconds: float) -> float:
    n = 0
    t0 = _time.perf_counter()
    deadline = t0 + seconds
    while True:
        for job in jobs:
            job()
        n += len(jobs)
        now = _time.perf_counter()
        if now >= deadline:
            return n / (now - t0)


def measure(seconds: float = 3.0) -> dict:
    telegrams, source = _telegrams()
    try:
        import meterbus  # noqa: F401

        have_peer = True
    except ImportError:
        have_peer = False
    usable = _usable(telegrams, have_peer)
    ours = _rate([_ours_job(d) for d in usable], seconds)
    result = {
        "mbus_telegrams": len(usable),
        "mbus_telegrams_source": source,
        "mbus_telegrams_per_s": round(ours),
        "mbus_peer_telegrams_per_s": None,
        "mbus_ratio": None,
    }
    if have_peer:
        peer = _rate([_peer_job(d) for d in usable], seconds)
        result["mbus_peer_telegrams_per_s"] = round(peer)
        result["mbus_ratio"] = round(ours / peer, 2)
    return result
