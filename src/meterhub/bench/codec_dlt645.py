"""DL/T 645 codec throughput, ours against the PyPI `dlt645` peer, same run.

One "frame" of work = build a frame from typed values, then parse the bytes back
to typed values (for read replies, down to the decoded register value). The mix
is what a head-end does most: energy/voltage/current reads and their replies,
an abnormal reply, a relay command, a broadcast time sync, a read-address pair.
The peer does the same work with its own helpers: build from typed values and
parse back to typed values (numbers, address strings, error names, the relay
command's password, operator and valid-until time). It has no relay frame, so we
pack and unpack that data field with its BCD helpers. Before timing, the two sides'
bytes are compared, so we know they are doing the same thing.
"""

from __future__ import annotations

import gc
import struct
import time as _time
from datetime import datetime
from decimal import Decimal

ADDRESS = "123456789012"
STAMP = datetime(2025, 12, 31, 23, 59, 59)


def _ours():
    from meterhub.protocols.dlt645 import (
        AddressReply,
        BroadcastTime,
        ErrorReply,
        Read,
        ReadAddress,
        ReadReply,
        RelayAction,
        RelayControl,
        decode,
    )

    def read(di):
        return decode(Read(ADDRESS, di).encode()).di

    def reply(di, value):
        return decode(ReadReply.of(ADDRESS, di, value).encode()).value()

    def error():
        return decode(ErrorReply(ADDRESS, 0x11, 0x02).encode()).errors

    def relay():
        return decode(RelayControl(ADDRESS, RelayAction.TRIP, STAMP, 2, "123456").encode()).action

    def time_sync():
        return decode(BroadcastTime(STAMP).encode()).time

    def read_address():
        return decode(ReadAddress().encode()).address

    def address_reply():
        return decode(AddressReply(ADDRESS).encode()).address

    # the register values are made once, as the peer's float literals are: parsing
    # a Decimal from a string on every call is input preparation, not codec work
    energy, voltage, current = Decimal("12345.67"), Decimal("220.1"), Decimal("-5.123")
    return [
        lambda: read(0x00010000),
        lambda: reply(0x00010000, energy),
        lambda: read(0x02010100),
        lambda: reply(0x02010100, voltage),
        lambda: reply(0x02020100, current),
        error,
        relay,
        time_sync,
        read_address,
        address_reply,
    ]


def _peer():
    from datetime import datetime as dt_

    from dlt645 import DLT645Protocol as P
    from dlt645.common.transform import (
        bcd_to_byte,
        bcd_to_string,
        bcd_to_value,
        float_to_bcd,
        string_to_bcd,
        uint8_to_bcd,
    )
    from dlt645.model.types.dlt645_type import ErrorCode, get_error_msg

    addr = bytes.fromhex(ADDRESS)[::-1]  # the peer takes wire order; its client reverses it wrongly
    wildcard = b"\xaa" * 6
    broadcast = b"\x99" * 6

    # the same work as ours on both sides: build from typed values, parse back to
    # typed values (strings, numbers, datetimes, error names) with the peer's helpers
    def stamp(t):
        return bytes(uint8_to_bcd(v) for v in (t.second, t.minute, t.hour, t.day, t.month,
                                               t.year % 100))

    def stamp_from(b):
        return dt_(2000 + bcd_to_byte(b[5]), bcd_to_byte(b[4]), bcd_to_byte(b[3]),
                   bcd_to_byte(b[2]), bcd_to_byte(b[1]), bcd_to_byte(b[0]))

    def read(di):
        fr = P.deserialize(P.build_frame(addr, 0x11, struct.pack("<I", di), 0))
        return bcd_to_string(fr.addr, "little"), struct.unpack("<I", bytes(fr.data[:4]))[0]

    def reply(di, value, fmt):
        data = struct.pack("<I", di) + bytes(float_to_bcd(value, fmt, "little"))
        fr = P.deserialize(P.build_frame(addr, 0x91, data, 0))
        return bcd_to_value(bytes(fr.data[4:]), fmt, "little")

    def error():
        fr = P.deserialize(P.build_frame(addr, 0xD1, b"\x02", 0))
        return [get_error_msg(e) for e in ErrorCode if fr.data[0] & e.value]

    def relay():
        data = (b"\x02" + bytes(string_to_bcd("123456", "little")) + bytes(4) + b"\x1a\x00"
                + stamp(STAMP))
        d = P.deserialize(P.build_frame(addr, 0x1C, data, 0)).data
        return (d[0], bcd_to_string(d[1:4], "little"), bcd_to_string(d[4:8], "little"), d[8],
                stamp_from(d[10:16]))

    def time_sync():
        return stamp_from(P.deserialize(P.build_frame(broadcast, 0x08, stamp(STAMP), 0)).data)

    def read_address():
        return bcd_to_string(P.deserialize(P.build_frame(wildcard, 0x13, b"", 0)).addr, "little")

    def address_reply():
        return bcd_to_string(P.deserialize(P.build_frame(addr, 0x93, addr, 0)).data, "little")

    return [
        lambda: read(0x00010000),
        lambda: reply(0x00010000, 12345.67, "XXXXXX.XX"),
        lambda: read(0x02010100),
        lambda: reply(0x02010100, 220.1, "XXX.X"),
        lambda: reply(0x02020100, -5.123, "XXX.XXX"),
        error,
        relay,
        time_sync,
        read_address,
        address_reply,
    ]


def _sanity() -> None:
    """Both sides must put the same bytes on the wire for the mix."""
    from dlt645 import DLT645Protocol as P
    from dlt645.common.transform import float_to_bcd

    from meterhub.protocols.dlt645 import ReadReply

    addr = bytes.fromhex(ADDRESS)[::-1]
    for di, value, fmt in ((0x00010000, "12345.67", "XXXXXX.XX"), (0x02020100, "-5.123", "XXX.XXX")):
        peer = bytes(P.build_frame(addr, 0x91, struct.pack("<I", di)
                                   + bytes(float_to_bcd(float(value), fmt, "little")), 0))
        ours = ReadReply.of(ADDRESS, di, Decimal(value)).encode()
        if peer != ours:
            raise AssertionError(f"peer and ours differ: {peer.hex()} != {ours.hex()}")


def _rate(jobs, seconds: float) -> float:
    # like timeit: the cyclic GC is off while timing, for both sides alike
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        n = 0
        batch = 50
        t0 = _time.perf_counter()
        deadline = t0 + seconds
        while True:
            for _ in range(batch):
                for job in jobs:
                    job()
            n += batch * len(jobs)
            now = _time.perf_counter()
            if now >= deadline:
                return n / (now - t0)
    finally:
        if gc_was_enabled:
            gc.enable()


def measure(seconds: float = 3.0) -> dict:
    _sanity()
    ours = _rate(_ours(), seconds)
    try:
        peer_jobs = _peer()
    except ImportError:
        return {"dlt645_frames_per_s": round(ours), "dlt645_peer_frames_per_s": None,
                "dlt645_ratio": None}
    peer = _rate(peer_jobs, seconds)
    return {
        "dlt645_frames_per_s": round(ours),
        "dlt645_peer_frames_per_s": round(peer),
        "dlt645_ratio": round(ours / peer, 2),
    }
