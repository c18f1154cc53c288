"""Unit tests of the DL/T 645 codec: wire details worked out by hand from the
standard, typed errors, the item table, status words, records and the seal item."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from meterhub.protocols.dlt645 import (
    ITEMS_1997,
    ITEMS_2007,
    Ack,
    AddressReply,
    BaudReply,
    BroadcastTime,
    BufferFull,
    ChangeBaud,
    ChangePassword,
    ChecksumError,
    ClearDemand,
    ClearEvent,
    DecodeError,
    Dlt645Error,
    EncodeError,
    ErrorReply,
    Frame,
    FrameError,
    Freeze,
    LengthError,
    Noise,
    PasswordReply,
    Read,
    ReadAddress,
    ReadReply,
    RelayAction,
    RelayControl,
    StreamParser,
    TruncatedFrame,
    Write,
    WriteAddress,
    address_to_wire,
    checksum,
    decode,
    decode_frame,
    describe,
    encode_frame,
    error_bits,
    error_byte,
    item_table,
    parse_reply,
    parse_request,
    parse_stream,
    scramble,
    seal_spec_for,
    unscramble,
)
from meterhub.protocols.dlt645.seal import (
    DEFAULT_SEAL_SPEC,
    SealItemSpec,
    SealStatus,
    register_seal_spec,
)

A = "123456789012"


def h(s: str) -> bytes:
    return bytes.fromhex(s)


# --- link layer ---------------------------------------------------------------


def test_address_goes_low_byte_first():
    assert address_to_wire(A) == h("12 90 78 56 34 12")
    assert encode_frame(A, 0x11)[1:7] == h("12 90 78 56 34 12")


def test_scramble_is_plus_33_mod_256():
    assert scramble(h("00 CD FF 12")) == h("33 00 32 45")
    assert unscramble(scramble(bytes(range(256)))) == bytes(range(256))


def test_checksum_excludes_preamble():
    raw = encode_frame(A, 0x11, h("00 00 01 00"), preamble=4)
    assert raw[:4] == b"\xfe" * 4
    assert raw[-2] == checksum(raw[4:-2])
    assert raw[-1] == 0x16


@pytest.mark.parametrize(
    "raw, err",
    [
        ("68 12 90 78 56 34 12 68 11 04 33 33 34 33 69 16", ChecksumError),
        ("68 12 90 78 56 34 12 68 11 05 33 33 34 33 68 16", LengthError),
        ("68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 17", FrameError),
        ("68 12 90 78 56 34 12 67 11 04 33 33 34 33 68 16", FrameError),
        ("68 12 90", FrameError),
        ("", FrameError),
    ],
)
def test_decode_frame_typed_errors(raw, err):
    with pytest.raises(err) as info:
        decode_frame(h(raw))
    assert isinstance(info.value, Dlt645Error)


def test_control_bits():
    f = Frame(A, 0xB1)
    assert f.is_reply and f.has_follow_up and not f.is_abnormal and f.function == 0x11
    assert Frame(A, 0xD1).is_abnormal


@pytest.mark.parametrize("bad", ["12345678901", "12345678901G", 123456789012, ""])
def test_bad_address_is_an_encode_error(bad):
    with pytest.raises(EncodeError):
        encode_frame(bad, 0x11)


# --- requests, bytes worked out by hand -------------------------------------------


def test_write_layout_di_password_operator_data():
    raw = Write(A, 0x04000401, h("11 22"), 2, "123456", "87654321").encode()
    data = decode_frame(raw).data
    #            DI0..DI3     PA P0 P1 P2   C0 C1 C2 C3   data
    assert data == h("01 04 00 04  02 56 34 12  21 43 65 87  11 22")


def test_write_1997_has_no_operator_code():
    data = decode_frame(Write(A, 0xC032, h("AA"), 2, "123456", version="1997").encode()).data
    assert data == h("32 C0 02 56 34 12 AA")
    assert decode_frame(Write(A, 0xC032, b"", version="1997").encode()).control == 0x04


def test_change_password_di_follows_new_level():
    data = decode_frame(ChangePassword(A, 2, "000000", 4, "123456").encode()).data
    assert data == h("05 0C 00 04  02 00 00 00  04 56 34 12")
    d97 = decode_frame(ChangePassword(A, 2, "000000", 4, "123456", "1997").encode())
    assert d97.control == 0x0F and d97.data == h("02 00 00 00 04 56 34 12")


def test_change_password_rejects_mismatched_di():
    raw = encode_frame(A, 0x18, h("01 0C 00 04 02 00 00 00 04 56 34 12"))
    with pytest.raises(DecodeError):
        decode(raw)


def test_relay_actions_and_valid_until():
    until = datetime(2025, 12, 31, 23, 59, 59)
    for action, n1 in [("TRIP", 0x1A), ("CLOSE_ALLOWED", 0x1B), ("DIRECT_CLOSE", 0x1C),
                       ("ALARM", 0x2A), ("ALARM_RELEASE", 0x2B), ("POWER_HOLD", 0x3A),
                       ("POWER_HOLD_RELEASE", 0x3B)]:
        msg = RelayControl(A, RelayAction[action], until, 2, "123456", "00000001")
        data = decode_frame(msg.encode()).data
        assert data[8] == n1 and data[9] == 0
        assert data[10:] == h("59 59 23 31 12 25")
        assert data[4:8] == h("01 00 00 00")
        assert decode(msg.encode()) == msg
    with pytest.raises(DecodeError):
        decode(encode_frame(A, 0x1C, h("02 56 34 12 00 00 00 00 99 00 59 59 23 31 12 25")))
    with pytest.raises(EncodeError):
        RelayControl(A, 0x99, until).encode()


def test_freeze_and_baud_and_clears():
    assert decode_frame(Freeze(A, "12312359").encode()).data == h("59 23 31 12")
    assert decode_frame(Freeze("999999999999").encode()).data == h("99 99 99 99")
    assert decode_frame(ChangeBaud(A, 9600).encode()).data == h("20")
    assert decode_frame(ChangeBaud(A, 2400, "1997").encode()).control == 0x0C
    with pytest.raises(EncodeError):
        ChangeBaud(A, 1234).encode()
    assert decode_frame(ClearDemand(A, 2, "123456").encode()).data == h("02 56 34 12 00 00 00 00")
    assert decode_frame(ClearDemand(A, 2, "123456", version="1997").encode()).data == h(
        "02 56 34 12")
    assert decode_frame(ClearEvent(A).encode()).data[-4:] == h("FF FF FF FF")
    assert decode_frame(ClearEvent(A, 0x03300D00).encode()).data[-4:] == h("00 0D 30 03")


def test_read_block_and_load_profile_forms():
    raw = Read(A, 0x06000001, 5, datetime(2025, 1, 2, 3, 4)).encode()
    assert decode_frame(raw).data == h("01 00 00 06 05 04 03 02 01 25")
    assert decode(raw) == Read(A, 0x06000001, 5, datetime(2025, 1, 2, 3, 4))
    assert decode_frame(Read(A, 0x0001FF00, 1).encode()).data == h("00 FF 01 00 01")


def test_write_address_and_read_address():
    assert decode_frame(WriteAddress("AAAAAAAAAAAA", A).encode()).data == h("12 90 78 56 34 12")
    assert decode_frame(WriteAddress("999999999999", A, "1997").encode()).control == 0x0A
    assert decode_frame(ReadAddress().encode()).address == "AAAAAAAAAAAA"


def test_time_sync_1997_matches_2007_layout():
    t = datetime(2025, 1, 2, 3, 4, 5)
    assert BroadcastTime(t).encode() == BroadcastTime(t, version="1997").encode()
    with pytest.raises(EncodeError):
        BroadcastTime(datetime(1999, 1, 1)).encode()


def test_requests_and_replies_do_not_cross():
    with pytest.raises(DecodeError):
        parse_request(Frame(A, 0x91, h("00 00 01 00")))
    with pytest.raises(DecodeError):
        parse_reply(Frame(A, 0x11, h("00 00 01 00")))
    with pytest.raises(DecodeError):
        parse_request(Frame(A, 0x01, h("10 90")), "2007")  # 1997 code in a 2007 parser
    with pytest.raises(EncodeError):
        ReadAddress(version="1997").encode()


# --- replies ----------------------------------------------------------------------


def test_follow_up_replies():
    first = ReadReply.of(A, 0x00010000, Decimal("1.00"), follow_up=True)
    assert first.to_frame().control == 0xB1
    nxt = ReadReply.of(A, 0x00010000, Decimal("2.00"), seq=1)
    f = decode_frame(nxt.encode())
    assert f.control == 0x92 and f.data[-1] == 1
    back = parse_reply(f)
    assert back.seq == 1 and back.value() == Decimal("2.00")
    last_with_more = ReadReply.of(A, 0x00010000, Decimal("3"), seq=2, follow_up=True)
    assert last_with_more.to_frame().control == 0xB2


def test_error_reply_names_and_builder():
    r = ErrorReply.named(A, 0x14, ["password wrong / not authorised", "other error"])
    assert r.err == 0x05 and r.to_frame().control == 0xD4
    assert error_bits(0x80) == ["bit 7"]
    assert error_byte(error_bits(0x7F)) == 0x7F
    assert error_bits(0x02, "1997") == ["data identifier wrong"]


def test_other_replies():
    assert decode_frame(AddressReply(A).encode()).data == h("12 90 78 56 34 12")
    assert decode_frame(Ack(A, 0x1C).encode()).control == 0x9C
    assert decode_frame(BaudReply(A, 9600).encode()).data == h("20")
    assert decode_frame(PasswordReply(A, 4, "123456").encode()).data == h("04 56 34 12")
    with pytest.raises(DecodeError):  # address in data differs from header
        parse_reply(Frame(A, 0x93, h("13 90 78 56 34 12")))
    with pytest.raises(DecodeError):
        parse_reply(Frame(A, 0xD1, b""))


# --- values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "di, data, value",
    [
        (0x00010000, "67 45 23 01", Decimal("12345.67")),
        (0x00000000, "67 45 23 81", Decimal("-12345.67")),  # combined active: signed
        (0x0001010C, "00 00 00 00", Decimal("0")),
        (0x02010100, "01 22", Decimal("220.1")),
        (0x02020100, "23 51 80", Decimal("-5.123")),
        (0x02030000, "00 50 81", Decimal("-1.5")),
        (0x02060000, "00 10", Decimal("1.000")),
        (0x02800002, "00 50", Decimal("50.00")),
        (0x03300D00, "12 00 00", 12),
        (0x04000401, "12 90 78 56 34 12", A),
        (0x04000102, "05 04 03", time(3, 4, 5)),
        (0x04000101, "04 02 01 25", date(2025, 1, 2)),
    ],
)
def test_item_values(di, data, value):
    item, got = ITEMS_2007.decode(di, h(data))
    assert got == value
    assert item.fmt.encode(value) == h(data)


def test_units_and_formats():
    assert ITEMS_2007.get(0x00010000).unit == "kWh"
    assert ITEMS_2007.get(0x02010100).unit == "V"
    assert ITEMS_2007.get(0x02020100).fmt.signed
    assert ITEMS_2007.get(0x01010000).unit == "kW"
    assert ITEMS_2007.get(0x00010401).name == "forward active energy tariff 4, settlement -1"
    assert ITEMS_1997.get(0x9010).unit == "kWh"


def test_max_demand_with_time():
    value = {"demand": Decimal("12.3456"), "time": datetime(2025, 6, 7, 8, 9)}
    raw = ITEMS_2007.encode(0x01010000, value)
    assert raw == h("56 34 12 09 08 07 06 25")
    assert ITEMS_2007.decode(0x01010000, raw)[1] == value


def test_bad_bcd_is_a_decode_error():
    with pytest.raises(DecodeError):
        ITEMS_2007.decode(0x00010000, h("6A 45 23 01"))
    with pytest.raises(DecodeError):
        ITEMS_2007.decode(0x00010000, h("67 45 23"))
    with pytest.raises(DecodeError):
        ITEMS_2007.decode(0x04000102, h("05 04 25"))  # hour 25


def test_encode_range_errors():
    fmt = ITEMS_2007.get(0x02010100).fmt  # XXX.X unsigned
    for bad in ("1000.0", "-1", "abc", None):
        with pytest.raises(EncodeError):
            fmt.encode(bad)
    assert fmt.encode("220.14") == fmt.encode("220.1")  # rounds to the format


def test_block_reads():
    data = h("01 00 00 00 02 00 00 00 03 00 00 00")
    item, value = ITEMS_2007.decode(0x0001FF00, data)
    assert item is None
    assert value == {"00010000": Decimal("0.01"), "00010100": Decimal("0.02"),
                     "00010200": Decimal("0.03")}
    assert ITEMS_2007.decode(0x0201FF00, h("01 22 02 22 03 22"))[1] == {
        "02010100": Decimal("220.1"), "02010200": Decimal("220.2"), "02010300": Decimal("220.3")}
    assert ITEMS_1997.decode(0x901F, data)[1]["9012"] == Decimal("0.03")
    with pytest.raises(DecodeError):
        ITEMS_2007.decode(0x0001FF00, data[:-1])
    assert ITEMS_2007.encode(0x0001FF00, ITEMS_2007.decode(0x0001FF00, data)[1]) == data


def test_unknown_di_is_hex():
    assert ITEMS_2007.decode(0x0E000001, h("01 02"))[1] == "0102"


def test_status_word_3_relay_and_prepay():
    # bit4 relay open, bit6 trip commanded, bits1-2 = 10 battery, bits8-9 = 10 money
    word = (1 << 4) | (1 << 6) | (0b10 << 1) | (0b10 << 8)
    flags = ITEMS_2007.decode(0x04000503, word.to_bytes(2, "little"))[1]
    assert flags["relay_open"] is True
    assert flags["relay_trip_commanded"] is True
    assert flags["supply_source"] == "battery"
    assert flags["prepay_type"] == "money"
    assert flags["pre_trip_alarm"] is False
    assert ITEMS_2007.encode(0x04000503, flags) == word.to_bytes(2, "little")


def test_status_words_4_to_7_per_phase_faults():
    for n, di in ((4, 0x04000504), (5, 0x04000505), (6, 0x04000506)):
        flags = ITEMS_2007.decode(di, (0b1_1000_0001).to_bytes(2, "little"))[1]
        assert flags["loss_of_voltage"] and flags["phase_break"] and flags["current_break"]
        assert not flags["overvoltage"], n
    f7 = ITEMS_2007.decode(0x04000507, ((1 << 5) | (1 << 9)).to_bytes(2, "little"))[1]
    assert f7["power_down"] and not f7["voltage_imbalance"] and f7["raw"] == "0220"
    assert set(ITEMS_2007.decode(0x04000501, b"\0\0")[1]) >= {"clock_battery_low", "raw"}
    assert ITEMS_2007.decode(0x04000502, b"\x01\0")[1]["phase_a_active_reversed"]


def test_cover_open_records():
    rec = {
        "start": datetime(2025, 3, 1, 10, 0, 0), "end": datetime(2025, 3, 1, 10, 5, 0),
        **{k: Decimal("1.00") for k in ITEMS_2007.get(0x03300D01).fmt.decode(bytes(60))
           if k not in ("start", "end")},
    }
    for di in (0x03300D01, 0x03300D0A, 0x03300E01, 0x03300E0A):
        item = ITEMS_2007.get(di)
        raw = item.fmt.encode(rec)
        assert len(raw) == 60 and raw[:6] == h("00 00 10 01 03 25")
        assert item.fmt.decode(raw) == rec
    empty = ITEMS_2007.decode(0x03300E02, bytes(60))[1]
    assert empty["start"] is None and empty["forward_active_before"] == 0
    assert "terminal-cover-open count" == ITEMS_2007.get(0x03300E00).name


# --- seal vendor extension -----------------------------------------------------


def test_default_seal_item():
    item = ITEMS_2007.get(DEFAULT_SEAL_SPEC.di)
    assert DEFAULT_SEAL_SPEC.di == 0x04FE0001 and item is not None
    status = SealStatus("0000000012345678", True, datetime(2025, 1, 2, 3, 4, 5))
    raw = item.fmt.encode(status)
    assert raw == h("78 56 34 12 00 00 00 00 00 05 04 03 02 01 25")
    assert item.fmt.decode(raw) == status
    assert item.fmt.decode(raw[:8] + b"\x01" + raw[9:]).sealed is False
    unknown = item.fmt.decode(raw[:8] + b"\x07" + raw[9:])
    assert unknown.sealed is None and unknown.to_dict()["state"] == "unknown"


def test_seal_spec_per_model():
    spec = SealItemSpec(di=0x04FE0201, asset_bytes=10, asset_encoding="ascii",
                        sealed_value=0x55, open_value=0xAA)
    register_seal_spec("acme-dds666", spec)
    assert seal_spec_for("acme-dds666") is spec
    assert seal_spec_for("unknown-model") is DEFAULT_SEAL_SPEC
    table = item_table("2007", spec)
    assert spec.di in table and DEFAULT_SEAL_SPEC.di not in table
    status = SealStatus("SEAL-42", False, None, 0xAA)
    raw = table.encode(spec.di, status)
    assert len(raw) == 17 and raw[10] == 0xAA
    assert table.decode(spec.di, raw)[1] == status
    # a reply carrying it, described with the model's table
    reply = ReadReply.of(A, spec.di, status, table=table)
    assert reply.value(table) == status
    with pytest.raises(ValueError):
        SealItemSpec(asset_encoding="utf-16")


def test_no_seal_table():
    assert DEFAULT_SEAL_SPEC.di not in item_table("2007", None)


# --- stream parser -------------------------------------------------------------


def test_stream_skips_preamble_and_fill_without_noise():
    raw = b"\xff\xff" + Read(A, 0x00010000).encode(preamble=3)
    events = parse_stream(raw)
    assert len(events) == 1 and events[0].preamble == 3


def test_stream_partial_frame_waits():
    raw = Read(A, 0x00010000).encode()
    p = StreamParser()
    p.feed(raw[:-1])
    assert list(p) == []
    p.feed(raw[-1:])
    (frame,) = list(p)
    assert frame.encode() == raw


def test_stream_reports_typed_errors_and_resyncs():
    good = Read(A, 0x00010000).encode()
    bad_cs = bytearray(good)
    bad_cs[-2] ^= 0xFF
    events = parse_stream(b"\x01\x02" + bytes(bad_cs) + good + good[:9])
    kinds = [type(e) for e in events]
    # the bad frame's bytes are searched again but not reported twice as noise
    assert kinds == [Noise, ChecksumError, Frame, TruncatedFrame]
    assert events[0].count == 2


def test_stream_length_limit_and_bad_end():
    header = h("68 12 90 78 56 34 12 68 91 C9")  # L = 201
    events = parse_stream(header, max_data=200)
    assert isinstance(events[0], LengthError)
    good = Read(A, 0x00010000).encode()
    events = parse_stream(good[:-1] + b"\x17")
    assert isinstance(events[0], LengthError)


def test_stream_frame_hidden_inside_a_false_header_is_found():
    good = Read(A, 0x00010000).encode()
    false = h("68 00 00 00 00 00 00 68 11 30")  # claims 48 data bytes
    frames = [e for e in parse_stream(false + good) if isinstance(e, Frame)]
    assert [f.encode() for f in frames] == [good]


def test_stream_buffer_is_bounded():
    p = StreamParser(max_buffer=1024)
    with pytest.raises(BufferFull):
        p.feed(bytes(2000))
    p.feed(bytes(1000))
    list(p)
    assert p.buffered == 0
    p.feed(b"\x68" * 1000)  # every 68 a candidate: still drains to a bounded tail
    list(p)
    assert p.buffered <= 12 + 255
    with pytest.raises(Dlt645Error):
        p.feed(b"")
        p.feed(b"x")


def test_describe_reports_errors_as_entries():
    good = Read(A, 0x00010000).encode()
    out = describe(b"\x00" + good + b"\x68\x01")
    assert [d.get("error") for d in out] == ["noise", None, "noise"]
    assert out[1]["function"] == "read"
    out = describe(encode_frame(A, 0x91, h("00 00 01 00 6A 45 23 01")))
    assert "value_error" in out[0]
    out = describe(encode_frame(A, 0x7F, b""))
    assert out[0]["error"] == "decode"


def test_describe_seal_and_status():
    status = SealStatus("0000000012345678", False, datetime(2025, 1, 2, 3, 4, 5), 1)
    (d,) = describe(ReadReply.of(A, DEFAULT_SEAL_SPEC.di, status).encode())
    assert d["value"]["state"] == "open"
    assert d["value"]["changed_at"] == "2025-01-02T03:04:05"
    (d,) = describe(ReadReply.of(A, 0x04000503, 1 << 4).encode())
    assert d["value"]["relay_open"] is True


# --- timing ------------------------------------------------------------------------


def test_wire_time_and_reply_timeout():
    from meterhub.protocols.dlt645 import REPLY_DELAY_MAX, reply_timeout, wire_time

    raw = Read(A, 0x00010000).encode(4)  # 20 bytes
    assert wire_time(len(raw), 2400) == pytest.approx(20 * 11 / 2400)  # 91.7 ms
    assert REPLY_DELAY_MAX == 0.5
    t = reply_timeout(len(raw), 2400, reply_bytes=24)
    assert t == pytest.approx((20 + 24) * 11 / 2400 + 0.5)
    assert reply_timeout(20, 9600) < reply_timeout(20, 1200)
