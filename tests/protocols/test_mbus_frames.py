"""Link layer: frame formats, C field, master requests, secondary selection, encoder."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from meterhub.protocols.mbus import (
    CField,
    ControlFrame,
    DataField,
    Function,
    LongFrame,
    MBusChecksumError,
    MBusEncodeError,
    MBusFrameError,
    MBusIncompleteError,
    MBusStreamParser,
    MBusUnsupportedError,
    SecondaryAddress,
    ShortFrame,
    ShortHeader,
    SingleChar,
    VariableData,
    VariableHeader,
    checksum,
    decode,
    decode_frame,
    decode_manufacturer,
    describe,
    encode_manufacturer,
    encode_rsp_ud,
    parse_frame,
    parse_selection,
    record,
    req_ud2,
    select_secondary,
    snd_nke,
)


def test_single_char_ack():
    assert decode_frame(b"\xe5") == SingleChar()
    assert SingleChar().encode() == b"\xe5"


def test_snd_nke_bytes():
    # 10 40 A CS 16, CS = 40 + A
    assert snd_nke(1) == bytes.fromhex("10 40 01 41 16")
    assert snd_nke(0xFE) == bytes.fromhex("10 40 FE 3E 16")


def test_req_ud2_fcb_toggles():
    assert req_ud2(5, fcb=True) == bytes.fromhex("10 7B 05 80 16")
    assert req_ud2(5, fcb=False) == bytes.fromhex("10 5B 05 60 16")
    c = decode_frame(req_ud2(5, fcb=True)).control
    assert c.name == "REQ_UD2" and c.fcb and c.fcv and c.from_master
    assert not decode_frame(req_ud2(5, fcb=False)).control.fcb


def test_c_field_slave_bits():
    c = CField(0x08 | 0x20 | 0x10)
    assert c.name == "RSP_UD" and c.acd and c.dfc and not c.from_master and not c.fcb


def test_short_frame_checksum_error():
    with pytest.raises(MBusChecksumError) as info:
        decode_frame(bytes.fromhex("10 7B 05 81 16"))
    assert info.value.expected == 0x80 and info.value.actual == 0x81


def test_long_frame_errors():
    good = encode_rsp_ud(1, None, [record(0x13, 5, DataField.INT8)])
    with pytest.raises(MBusIncompleteError):
        parse_frame(good[:-1])
    with pytest.raises(MBusFrameError):
        decode_frame(good[:-1] + b"\x17")
    with pytest.raises(MBusFrameError):
        decode_frame(good[:1] + bytes((good[1] + 1,)) + good[2:])
    with pytest.raises(MBusChecksumError):
        decode_frame(good[:-2] + bytes(((good[-2] + 1) & 0xFF,)) + good[-1:])
    with pytest.raises(MBusFrameError):
        decode_frame(good + b"\x00")
    with pytest.raises(MBusFrameError):
        decode_frame(b"\x42")


def test_control_frame_round_trip():
    raw = ControlFrame(0x53, 0x01, 0x50).encode()
    assert raw == bytes.fromhex("68 03 03 68 53 01 50 A4 16")
    assert decode_frame(raw) == ControlFrame(0x53, 0x01, 0x50)


def test_checksum_is_mod_256():
    assert checksum(bytes([0xFF, 0x02])) == 0x01


def test_manufacturer_codes():
    assert decode_manufacturer(0x2C2D) == "KAM"
    assert encode_manufacturer("KAM") == 0x2C2D
    assert decode_manufacturer(encode_manufacturer("ELS")) == "ELS"
    with pytest.raises(MBusEncodeError):
        encode_manufacturer("K4M")


def test_secondary_selection_frame_and_wildcards():
    raw = select_secondary(SecondaryAddress.of(12345678, "KAM", 0x01, 0x07))
    frame = decode_frame(raw)
    assert isinstance(frame, LongFrame)
    assert frame.address == 0xFD and frame.ci == 0x52 and frame.control.name == "SND_UD"
    assert frame.data == bytes.fromhex("78 56 34 12 2D 2C 01 07")
    wild = parse_selection(decode_frame(select_secondary("1234FFFFFFFFFFFF")).data)
    assert wild.id_mask == "1234FFFF" and wild.manufacturer == 0xFFFF
    header = VariableHeader(12345678, "KAM", 1, 7, 0)
    assert wild.matches(header)
    assert SecondaryAddress.of(12345678, "KAM", 0x01, 0x07).matches(header)
    assert not SecondaryAddress.of("1235FFFF").matches(header)
    assert not SecondaryAddress.of(12345678, medium=0x03).matches(header)
    assert describe(raw)[0]["selection"]["mask"] == "123456782D2C0107"
    with pytest.raises(MBusEncodeError):
        select_secondary("12G4FFFFFFFFFFFF")


def test_rsp_ud_encoder_plays_a_water_meter():
    header = VariableHeader(12345678, "ABC", 0x01, 0x07, access_number=0x2A, status=0)
    records = [
        record(0x13, 123456, DataField.BCD8),  # volume, litres
        record(0x13, 120000, DataField.BCD8, storage=1),  # due-date volume
        record(0x6D, datetime(2024, 3, 31, 23, 45), DataField.INT32),
        record(0x6C, date(2024, 3, 31), DataField.INT16, storage=1),
        record(0x3B, 850, DataField.INT16, function=Function.MAXIMUM),  # l/h
        record(b"\xfd\x17", 0x0004, DataField.INT8),  # error flags
        record(0x5A, 123, DataField.INT16, tariff=1, subunit=1),
    ]
    raw = encode_rsp_ud(3, header, records)
    frame = decode_frame(raw)
    assert frame.control.name == "RSP_UD" and frame.address == 3 and frame.ci == 0x72
    decoded = decode(raw)
    assert isinstance(decoded, VariableData)
    assert decoded.header == header
    assert list(decoded.records) == records
    assert decoded.records[0].value == Decimal("123.456") and decoded.records[0].unit == "m3"
    assert decoded.records[4].value == Decimal("0.850")
    assert decoded.records[6].tariff == 1 and decoded.records[6].subunit == 1
    assert decoded.records[6].value == Decimal("12.3")


def test_short_and_no_header_variants():
    rec = [record(0x03, 7, DataField.INT8)]
    assert decode(encode_rsp_ud(1, ShortHeader(5, 0, 0), rec)).header == ShortHeader(5)
    assert decode(encode_rsp_ud(1, None, rec)).records[0].value == Decimal("0.007")


def test_frame_too_long_for_one_telegram():
    recs = [record(0x13, 1, DataField.BCD8)] * 60
    with pytest.raises(MBusEncodeError):
        encode_rsp_ud(1, VariableHeader(1, "ABC", 1, 7, 0), recs)


def test_unknown_ci_is_unsupported():
    with pytest.raises(MBusUnsupportedError):
        decode(LongFrame(0x08, 1, 0x99, b"\x00").encode())


def test_stream_resynchronises_and_reports_bad_checksum():
    good = encode_rsp_ud(1, None, [record(0x13, 5, DataField.INT8)])
    bad = good[:-2] + bytes(((good[-2] + 1) & 0xFF,)) + good[-1:]
    noise = b"\xff\xfe\xfe\x00\x68\x01\x02\x10\x11"
    parser = MBusStreamParser()
    events = parser.feed(noise + good + b"\xe5" + bad + snd_nke(2) + good[:10])
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["LongFrame", "SingleChar", "MBusChecksumError", "ShortFrame"]
    assert parser.pending == 10 and parser.discarded > 0
    assert [type(e).__name__ for e in parser.feed(good[10:])] == ["LongFrame"]
    assert parser.pending == 0


def test_stream_false_long_start_then_real_frame():
    good = encode_rsp_ud(1, None, [record(0x13, 5, DataField.INT8)])
    events = MBusStreamParser().feed(b"\x68\x05\x05\x68\x00" + good)
    assert isinstance(events[-1], LongFrame)
    assert any(isinstance(e, MBusFrameError) for e in events[:-1])


def test_describe_accepts_hex_text_and_reports_partial():
    good = encode_rsp_ud(1, None, [record(0x13, 5, DataField.INT8)])
    out = describe(good.hex(" ").encode())
    assert out[0]["records"][0]["value"] == 0.005
    out = describe(good[:-1])
    assert out[-1]["error"] == "MBusIncompleteError"
    assert describe(snd_nke(1))[0]["control"]["name"] == "SND_NKE"
    assert describe(b"\xe5") == [{"frame": "single_char", "meaning": "ACK"}]


def test_short_frame_type():
    assert decode_frame(snd_nke(1)) == ShortFrame(0x40, 1)


# --- records and VIF tables: spot checks against EN 13757-3 ------------------------------

from meterhub.protocols.mbus import (  # noqa: E402
    MBusRecordError,
    decode_records,
    encode_record,
    value_info,
)


@pytest.mark.parametrize(("vib", "quantity", "unit", "exponent", "mult"), [
    ((0x07,), "energy", "kWh", 1, 1),  # 10 kWh
    ((0x03,), "energy", "kWh", -3, 1),  # Wh
    ((0x0E,), "energy", "MJ", 0, 1),  # MJ
    ((0x13,), "volume", "m3", -3, 1),  # litre
    ((0x26,), "operating_time", "s", 0, 3600),
    ((0x2E,), "power", "kW", 0, 1),
    ((0x44,), "volume_flow", "m3/h", -3, 60),  # 10^-3 m3/min
    ((0x67,), "external_temperature", "°C", 0, 1),
    ((0xFD, 0x48), "voltage", "V", -1, 1),
    ((0xFD, 0x5C), "current", "A", 0, 1),
    ((0xFD, 0x17), "error_flags", "", 0, 1),
    ((0xFB, 0x01), "energy", "kWh", 3, 1),  # MWh
    ((0xFB, 0x09), "energy", "MJ", 3, 1),  # GJ
    ((0x93, 0x74), "volume", "m3", -5, 1),  # litre x 10^-2 (multiplicative VIFE)
    ((0x93, 0x7D), "volume", "m3", 0, 1),  # litre x 1000
])
def test_vif_table(vib, quantity, unit, exponent, mult):
    info = value_info(vib[0], tuple(vib[1:]))
    assert (info.quantity, info.unit, info.exponent, info.multiplier) == (
        quantity, unit, exponent, mult)


def test_forward_backward_modifiers():
    assert value_info(0x83, (0x3B,)).modifiers == ("forward",)
    assert value_info(0x83, (0x3C,)).modifiers == ("backward",)


@pytest.mark.parametrize(("wire", "raw"), [
    ("0D 13 C2 34 12", 1234),  # LVAR C2h: 4-digit positive BCD
    ("0D 13 D2 34 12", -1234),  # LVAR D2h: negative BCD
    ("0D 13 E3 01 02 03", 0x030201),  # LVAR E3h: 3-byte binary
    ("0D 78 03 43 42 41", "ABC"),  # text, sent last character first
])
def test_lvar(wire, raw):
    (rec,) = decode_records(bytes.fromhex(wire))
    assert rec.raw == raw


def test_reserved_lvar_and_dif_are_typed_errors():
    with pytest.raises(MBusRecordError):
        decode_records(bytes.fromhex("0D 13 F8 00"))
    with pytest.raises(MBusRecordError):
        decode_records(bytes.fromhex("3F 13"))


def test_invalid_values_are_none_never_numbers():
    rec = decode_records(bytes.fromhex("0C 13 DD B4 EB DD"))[0]  # hex nibbles in BCD
    assert rec.raw is None and rec.value is None and rec.to_dict()["invalid"] == "ddb4ebdd"
    rec = decode_records(bytes.fromhex("04 6D 80 00 00 00"))[0]  # type F, IV bit set
    assert rec.raw is None
    rec = decode_records(bytes.fromhex("05 13 00 00 C0 7F"))[0]  # REAL32 NaN
    assert rec.to_dict()["value"] is None
    assert encode_record(decode_records(bytes.fromhex("0C 13 DD B4 EB DD"))[0]) == bytes.fromhex(
        "0C 13 DD B4 EB DD")


def test_negative_bcd_and_summer_time():
    assert decode_records(bytes.fromhex("0A 13 34 F2"))[0].raw == -234
    rec = decode_records(bytes.fromhex("04 6D 1E 8D 14 33"))[0]
    assert rec.summer_time and rec.raw == datetime(2024, 3, 20, 13, 30)


def test_frame_count_bit_sequence():
    from meterhub.protocols.mbus import FrameCountBit

    fcb = FrameCountBit(5)
    assert fcb.reset() == snd_nke(5)
    first = fcb.req_ud2()
    assert decode_frame(first).control.fcb
    assert fcb.req_ud2() == first  # a retry repeats the same FCB
    fcb.answered()
    assert not decode_frame(fcb.req_ud2()).control.fcb
    fcb.answered()
    assert fcb.req_ud2() == first
    fcb.answered()
    fcb.reset()
    assert fcb.req_ud2() == first
