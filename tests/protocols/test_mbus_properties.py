"""Hypothesis properties: encode -> decode round trips, no untyped exception on any
input, and a stream parser whose output does not depend on how the bytes arrive."""

from __future__ import annotations

import json
from datetime import date, datetime, time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.protocols.mbus import (
    DataField,
    Function,
    LongFrame,
    MBusError,
    MBusStreamParser,
    ShortHeader,
    VariableHeader,
    decode,
    decode_records,
    describe,
    encode_record,
    encode_rsp_ud,
    record,
    snd_nke,
)

INT_WIDTH = {DataField.INT8: 1, DataField.INT16: 2, DataField.INT24: 3, DataField.INT32: 4,
             DataField.INT48: 6, DataField.INT64: 8}
BCD_DIGITS = {DataField.BCD2: 2, DataField.BCD4: 4, DataField.BCD6: 6, DataField.BCD8: 8,
              DataField.BCD12: 12}
# numeric VIBs: primary units, a combinable VIFE, both extension tables, plain text
NUMERIC_VIFS = st.sampled_from([
    (0x03, None), (0x06, None), (0x13, None), (0x16, None), (0x2B, None), (0x3B, None),
    (0x5A, None), (0x61, None), (0x22, None), (0xFD, None), (bytes((0x84, 0x3B)), None),
    (bytes((0x93, 0x74)), None), (bytes((0xFD, 0x48)), None), (bytes((0xFD, 0x59)), None),
    (bytes((0xFB, 0x00)), None), (bytes((0x7C,)), "kvarh"), (bytes((0xFC, 0x74)), "%RH"),
])
DIB = st.fixed_dictionaries({
    "function": st.sampled_from(list(Function)),
    "storage": st.integers(0, 2**41 - 1),
    "tariff": st.integers(0, 2**20 - 1),
    "subunit": st.integers(0, 2**10 - 1),
})
years = st.integers(1981, 2080)


@st.composite
def records(draw):
    kind = draw(st.sampled_from(["int", "bcd", "real", "text", "date", "datetime",
                                 "datetime_s", "time", "none"]))
    dib = draw(DIB)
    if kind == "int":
        fld = draw(st.sampled_from(list(INT_WIDTH)))
        bits = 8 * INT_WIDTH[fld]
        raw = draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    elif kind == "bcd":
        fld = draw(st.sampled_from(list(BCD_DIGITS)))
        digits = BCD_DIGITS[fld]
        raw = draw(st.integers(-(10 ** (digits - 1) - 1), 10**digits - 1))
    elif kind == "real":
        fld = DataField.REAL32
        raw = draw(st.floats(width=32, allow_nan=False, allow_infinity=False))
    elif kind == "text":
        fld = DataField.VARIABLE
        raw = draw(st.text(st.characters(max_codepoint=255), max_size=191))
    elif kind == "date":
        raw = draw(st.dates(date(1981, 1, 1), date(2080, 12, 31)))
        return record(0x6C, raw, DataField.INT16, **dib)
    elif kind == "datetime":
        raw = draw(st.datetimes(datetime(1981, 1, 1), datetime(2080, 12, 31))).replace(
            second=0, microsecond=0)
        return record(0x6D, raw, DataField.INT32, **dib)
    elif kind == "datetime_s":
        raw = draw(st.datetimes(datetime(1981, 1, 1), datetime(2080, 12, 31))).replace(
            microsecond=0)
        return record(0x6D, raw, DataField.INT48, **dib)
    elif kind == "time":
        raw = draw(st.times()).replace(microsecond=0)
        return record(0x6D, raw, DataField.INT24, **dib)
    else:
        return record(0x13, None, DataField.NONE, **dib)
    vif, text = draw(NUMERIC_VIFS)
    if vif == 0xFD:  # an FD extension code chosen at random, any of them
        vif = bytes((0xFD, draw(st.integers(0x40, 0x5F))))
    return record(vif, raw, fld, plain_text=text, **dib)


@given(records())
@settings(max_examples=400, deadline=None)
def test_record_round_trip(rec):
    wire = encode_record(rec)
    (back,) = decode_records(wire)
    assert back == rec
    assert encode_record(back) == wire
    json.dumps(back.to_dict())


@given(st.lists(records(), max_size=8))
@settings(deadline=None)
def test_record_list_round_trip(recs):
    wire = b"".join(encode_record(r) for r in recs) + b"\x2f\x2f"  # idle filler at the end
    assert decode_records(wire) == recs


@given(st.binary(max_size=40), st.booleans())
@settings(deadline=None)
def test_manufacturer_data_round_trip(data, more):
    wire = encode_record(record(0x13, 1, DataField.INT8)) + (b"\x1f" if more else b"\x0f") + data
    recs = decode_records(wire)
    assert recs[-1].raw == data and recs[-1].more_records_follow == more
    assert b"".join(encode_record(r) for r in recs) == wire


headers = st.builds(
    VariableHeader,
    identification=st.integers(0, 99_999_999),
    manufacturer=st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=3,
                         max_size=3),
    version=st.integers(0, 255),
    medium=st.integers(0, 255),
    access_number=st.integers(0, 255),
    status=st.integers(0, 255),
    signature=st.integers(0, 0xFFFF),
)


@given(headers, st.integers(0, 250), st.lists(records(), max_size=3), st.booleans(),
       st.booleans())
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_rsp_ud_round_trip(header, address, recs, acd, dfc):
    try:
        wire = encode_rsp_ud(address, header, recs, acd=acd, dfc=dfc)
    except MBusError:  # only "does not fit one frame" is allowed here
        assert sum(len(encode_record(r)) for r in recs) > 240
        return
    out = decode(wire)
    assert out.header == header and list(out.records) == recs
    assert out.header.secondary_address.startswith(f"{header.identification:08d}")


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF))
@settings(deadline=None)
def test_short_header_round_trip(access, status, signature):
    h = ShortHeader(access, status, signature)
    assert decode(encode_rsp_ud(1, h, [])).header == h


# --- never anything but MBusError ------------------------------------------------------


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_record_decoder_only_raises_typed_errors(data):
    try:
        for rec in decode_records(data):
            rec.to_dict()
    except MBusError:
        pass


@given(st.sampled_from([0x70, 0x71, 0x72, 0x73, 0x76, 0x78, 0x7A, 0x52, 0x00]),
       st.binary(max_size=240))
@settings(max_examples=500, deadline=None)
def test_decode_only_raises_typed_errors(ci, data):
    wire = LongFrame(0x08, 1, ci, data).encode()
    try:
        decode(wire)
    except MBusError:
        pass
    json.dumps(describe(wire))


@given(st.binary(max_size=400))
@settings(max_examples=500, deadline=None)
def test_stream_parser_never_raises(data):
    parser = MBusStreamParser()
    for event in parser.feed(data):
        assert isinstance(event, MBusError) or hasattr(event, "encode")
    out = describe(data)
    assert all(not isinstance(d.get("error"), str) or d["error"].startswith("MBus") for d in out)
    json.dumps(out)


# --- chunking independence -------------------------------------------------------------

pieces = st.one_of(
    st.binary(max_size=12),  # noise
    st.just(b"\xe5"),
    st.integers(0, 250).map(snd_nke),
    st.builds(lambda a, d: LongFrame(0x08, a, 0x78, d).encode(), st.integers(0, 250),
              st.binary(min_size=1, max_size=30)),
    st.builds(lambda a, d: LongFrame(0x08, a, 0x78, d).encode()[:-2] + b"\x00\x16",
              st.integers(0, 250), st.binary(min_size=1, max_size=30)),  # bad checksum
)


def _key(event):
    return (type(event).__name__, str(event)) if isinstance(event, MBusError) else event


@given(st.lists(pieces, max_size=10), st.lists(st.integers(1, 50), max_size=20))
@settings(max_examples=300, deadline=None)
def test_stream_chunking_independence(parts, cuts):
    stream = b"".join(parts)
    whole = MBusStreamParser()
    expected = [_key(e) for e in whole.feed(stream)]
    chunked = MBusStreamParser()
    got = []
    pos = 0
    for size in cuts:
        got += [_key(e) for e in chunked.feed(stream[pos:pos + size])]
        pos += size
    got += [_key(e) for e in chunked.feed(stream[pos:])]
    assert got == expected
    assert chunked.pending == whole.pending and chunked.discarded == whole.discarded
    byte_by_byte = MBusStreamParser()
    got = []
    for b in stream:
        got += [_key(e) for e in byte_by_byte.feed(bytes((b,)))]
    assert got == expected


@given(st.lists(st.builds(lambda a, d: LongFrame(0x08, a, 0x78, d).encode(),
                          st.integers(0, 250), st.binary(min_size=1, max_size=30)),
                min_size=1, max_size=5),
       st.binary(max_size=20).filter(lambda b: not set(b) & {0xE5, 0x10, 0x68}))
@settings(deadline=None)
def test_stream_finds_every_frame_in_noise(frames, noise):
    events = MBusStreamParser().feed(noise + noise.join(frames))
    assert [e.encode() for e in events] == frames


def test_time_types_examples():
    assert decode_records(encode_record(record(0x6D, time(13, 14, 15), DataField.INT24)))[0].raw \
        == time(13, 14, 15)
