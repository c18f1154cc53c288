"""Cross-checks against an independent implementation: the PyPI `dlt645` package
(3.2.x, test-only). We test what it gets right (framing, checksum, +0x33, DI
order, BCD numbers with sign, its item table) and pin down, in one test, the
places docs/protocols/dlt645.md says it gets wrong.

Mind its address: `Frame.addr` and `build_frame(addr=...)` are wire order, but
its client's `set_address("123456789012")` packs the nameplate digits big-endian,
i.e. reversed on the wire.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterhub.protocols.dlt645 import (
    ITEMS_2007,
    BroadcastTime,
    ChangePassword,
    ClearDemand,
    ClearMeter,
    Frame,
    Freeze,
    Read,
    RelayAction,
    RelayControl,
    address_to_wire,
    decode_frame,
    encode_frame,
    parse_stream,
)
from meterhub.protocols.dlt645.values import Number, Record

from .dlt645_strategies import addresses, messages, values_for

peer = pytest.importorskip("dlt645", reason="the PyPI dlt645 peer is a dev dependency")
from dlt645 import DLT645Protocol as P  # noqa: E402
from dlt645.common.transform import bcd_to_value, float_to_bcd, string_to_bcd  # noqa: E402
from dlt645.model.data.define import DIMap  # noqa: E402

A = "123456789012"


def _same(ours: Frame, theirs) -> None:
    assert bytes(theirs.addr) == address_to_wire(ours.address)  # wire order on both sides
    assert theirs.ctrl_code == ours.control
    assert bytes(theirs.data) == ours.data


@given(messages, st.integers(0, 4))
@settings(max_examples=300)
def test_peer_parses_every_frame_we_build(vm, preamble):
    _, msg = vm
    raw = msg.encode(preamble)
    theirs = P.deserialize(raw)
    _same(decode_frame(raw), theirs)
    assert len(theirs.preamble) == preamble


@given(st.binary(min_size=6, max_size=6), st.integers(0, 255), st.binary(max_size=200),
       st.integers(0, 4))
@settings(max_examples=300)
def test_we_parse_every_frame_the_peer_builds(addr, control, data, preamble):
    raw = bytes(P.build_frame(addr, control, data, preamble))
    ours = decode_frame(raw)
    assert ours.address == addr[::-1].hex().upper()
    assert ours.control == control and ours.data == data and ours.preamble == preamble
    assert ours.encode() == raw


@given(st.lists(messages, max_size=5))
def test_same_frames_from_a_stream(ms):
    blob = b"".join(m.encode() for _, m in ms)
    ours = [e for e in parse_stream(blob) if isinstance(e, Frame)]
    theirs = []
    rest = blob
    while True:
        rest, fr = P.deserialize_with_remaining(rest)
        if fr is None:
            break
        theirs.append(fr)
    assert len(ours) == len(theirs) == len(ms)
    for o, t in zip(ours, theirs, strict=True):
        _same(o, t)


def test_peer_parses_the_shared_frames(testdata_dir):
    frames = json.loads((testdata_dir / "dlt645" / "frames.json").read_text())["frames"]
    for spec in frames:
        raw = bytes.fromhex(spec["hex"])
        _same(decode_frame(raw), P.deserialize(raw))


# --- values: both tables, both BCD codecs -----------------------------------------

_SHARED_NUMBERS = sorted(
    (di, item)
    for di, item in ITEMS_2007.items.items()
    if isinstance(item.fmt, Number) and not isinstance(DIMap.get(di), list | type(None))
)


def test_item_tables_agree():
    """Every numeric item both tables know has the same pattern (scale and width);
    the cover-open records have the same fields in the same order."""
    assert len(_SHARED_NUMBERS) > 1000
    for di, item in _SHARED_NUMBERS:
        assert item.fmt.pattern == DIMap[di].data_format, f"{di:08X}"
        assert item.unit == DIMap[di].unit.strip() or di in _PEER_UNIT_WRONG, f"{di:08X}"
    for di in (0x03300D01, 0x03300E0A):
        ours = ITEMS_2007.get(di).fmt
        assert isinstance(ours, Record)
        assert [f.pattern for _, f in ours.fields] == [x.data_format for x in DIMap[di]]


# power factor is dimensionless (the peer says kW); temperature spelt ℃ there; the
# rest the peer leaves blank (phase angle °, demand kW, minutes, meter constants)
_PEER_UNIT_WRONG = {0x02060000, 0x02060100, 0x02060200, 0x02060300, 0x02070100, 0x02070200,
                    0x02070300, 0x02800004, 0x02800007, 0x0280000A, 0x04000409, 0x0400040A}


@given(st.data())
@settings(max_examples=300)
def test_bcd_numbers_agree_with_the_peer(data):
    di, item = data.draw(st.sampled_from(_SHARED_NUMBERS))
    value = data.draw(values_for(item.fmt))
    ours = item.fmt.encode(value)
    if ours[-1] & 0x80 and not item.fmt.signed:
        return  # the peer reads D7 as a sign even in unsigned formats (documented below)
    pattern = DIMap[di].data_format
    if item.fmt.decimals:
        assert bytes(float_to_bcd(float(value), pattern, "little")) == ours
        assert bcd_to_value(bytearray(ours), pattern, "little") == float(value)
    else:  # the peer returns undecorated digit strings for integer formats
        assert int(bcd_to_value(bytearray(ours), pattern, "little")) == value


# --- where the peer is wrong (documented in docs/protocols/dlt645.md) ----------------


class _Capture:
    """Stands in for the peer's TCP/RTU client and keeps what it would send."""

    def __init__(self):
        self.sent: list[bytes] = []

    def _ensure_connection(self):
        return True

    def send_only(self, raw):
        self.sent.append(bytes(raw))
        return True

    def send_request(self, raw):
        self.sent.append(bytes(raw))
        return None  # no meter: the peer gives up quietly


@pytest.fixture
def peer_client():
    from dlt645 import MeterClientService

    cap = _Capture()
    client = MeterClientService(cap)
    client.set_address(A)
    return client, cap


def test_peer_client_reverses_the_address(peer_client):
    client, cap = peer_client
    client.read_00(0x00010000)
    theirs = decode_frame(cap.sent[-1])
    assert theirs.address == "129078563412"  # 123456789012 with its bytes reversed
    assert bytes(string_to_bcd(A)) == bytes.fromhex(A) != address_to_wire(A)
    # with the address fixed by hand the frame is right
    fixed = encode_frame(A, theirs.control, theirs.data, 4)
    assert fixed == Read(A, 0x00010000).encode(4)


def test_peer_client_password_and_clear_layouts(peer_client):
    client, cap = peer_client
    client.clear_meter("02123456")
    client.clear_demand(0x01010000, "02123456")
    client.change_password("02123456", "04654321")
    meter, demand, password = (decode_frame(x).data for x in cap.sent)
    # standard: PA P0 P1 P2 (password low byte first) then the operator code C0..C3
    assert ClearMeter(A, 2, "123456").payload() == bytes.fromhex("02563412 00000000")
    assert meter == bytes.fromhex("00000000 02123456")  # DI instead of operator, password big-endian
    assert ClearDemand(A, 2, "123456").payload() == bytes.fromhex("02563412 00000000")
    assert demand == bytes.fromhex("00000101 02123456")
    # change password: DI should be 04000C05 (level 4 + 1), sent 05 0C 00 04
    assert ChangePassword(A, 2, "123456", 4, "654321").payload()[:4] == bytes.fromhex("050C0004")
    assert password[:4] == bytes.fromhex("040C0040")  # 0x40000C04: DI3/DI2 swapped, off by one


def test_peer_client_time_orders(peer_client):
    client, cap = peer_client
    client.broadcast_time_sync(datetime(2025, 1, 2, 3, 4, 5))
    client.freeze(12, 31, 23, 59)
    sync, freeze = (decode_frame(x).data for x in cap.sent)
    # standard: low byte first (ss mm hh DD MM YY / mm hh DD MM), as in frames.json
    assert BroadcastTime(datetime(2025, 1, 2, 3, 4, 5)).payload() == bytes.fromhex("050403020125")
    assert sync == bytes.fromhex("250102030405")
    assert Freeze(A, "12312359").payload() == bytes.fromhex("59233112")
    assert freeze == bytes.fromhex("12312359")


def test_peer_reads_every_format_as_signed():
    # a forward-active register at 800000.00 kWh (unsigned XXXXXX.XX) comes out -0.0
    raw = ITEMS_2007.encode(0x00010000, 800000)
    assert bcd_to_value(bytearray(raw), "XXXXXX.XX", "little") == 0.0
    assert ITEMS_2007.decode(0x00010000, raw)[1] == Decimal("800000.00")


def test_peer_has_no_relay_control_but_carries_ours():
    from dlt645 import MeterClientService

    assert not any("relay" in n or "trip" in n or "switch" in n for n in dir(MeterClientService))
    raw = RelayControl(A, RelayAction.TRIP, datetime(2025, 1, 1)).encode()
    assert bytes(P.deserialize(raw).data)[8] == 0x1A


@given(addresses)
def test_peer_frames_match_ours_once_the_address_is_reversed(addr):
    data = bytes.fromhex("00000100")
    assert bytes(P.build_frame(address_to_wire(addr), 0x11, data, 0)) == encode_frame(
        addr, 0x11, data
    )


def test_peer_agrees_on_a_signed_reply_value():
    assert bcd_to_value(bytearray.fromhex("235180"), "XXX.XXX", "little") == -5.123
    assert ITEMS_2007.decode(0x02020100, bytes.fromhex("235180"))[1] == Decimal("-5.123")


# --- cover-open event records (the head-end reads them: headend/covers.py) -----------------

COVER_RECORDS = [0x03300D01, 0x03300D0A, 0x03300E01, 0x03300E0A]


@given(st.data())
@settings(max_examples=200)
def test_the_peer_reads_our_cover_records_field_by_field(data):
    from meterhub.protocols.dlt645 import ReadReply

    di = data.draw(st.sampled_from(COVER_RECORDS))
    fmt = ITEMS_2007.get(di).fmt
    record = data.draw(values_for(fmt))
    raw = ReadReply.of(A, di, record).encode()
    theirs = P.deserialize(raw)
    body, offset = bytes(theirs.data)[4:], 0  # after the identifier
    for (name, field), spec in zip(fmt.fields, DIMap[di], strict=True):
        chunk = bytearray(body[offset:offset + field.size])
        offset += field.size
        peer = bcd_to_value(chunk, spec.data_format, "little")
        if spec.data_format == "YYMMDDhhmmss":
            expected = "000000000000" if record[name] is None else record[name].strftime("%y%m%d%H%M%S")
            assert peer == expected, name
        elif not chunk[-1] & 0x80:  # the peer reads D7 as a sign even when unsigned (documented below)
            assert Decimal(str(peer)) == record[name], name
    assert offset == len(body) == 60


def test_the_peer_reads_our_cover_counts():
    from meterhub.protocols.dlt645 import ReadReply

    for di in (0x03300D00, 0x03300E00):
        raw = ReadReply.of(A, di, 12).encode()
        assert int(bcd_to_value(bytearray(bytes(P.deserialize(raw).data)[4:]), DIMap[di][0].data_format,
                                "little")) == 12
