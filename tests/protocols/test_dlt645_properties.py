"""Hypothesis properties of the DL/T 645 codec.

* build -> bytes -> parse gives the same message, for every request and reply kind
  of both editions, and the bytes re-encode identically;
* every data-identifier format round-trips its values;
* the stream parser never raises on any bytes, only yields Frames and typed
  errors, finds every frame hidden in noise, and is blind to chunking.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.protocols.dlt645 import (
    ITEMS_1997,
    ITEMS_2007,
    Dlt645Error,
    Frame,
    Noise,
    StreamParser,
    decode,
    decode_frame,
    item_table,
    parse,
    parse_stream,
)
from meterhub.protocols.dlt645.seal import SealItemSpec

from .dlt645_strategies import messages, values_for

ALL_ITEMS = sorted(ITEMS_2007.items.values(), key=lambda i: i.di) + sorted(
    ITEMS_1997.items.values(), key=lambda i: i.di
)
# one representative item per distinct format object keeps the search focused
BY_FORMAT = list({id(i.fmt): i for i in ALL_ITEMS}.values())
SEAL_ASCII = SealItemSpec(di=0x04FE0101, asset_bytes=12, asset_encoding="ascii",
                          sealed_value=0x5A, open_value=0xA5)


@given(messages, st.integers(0, 4))
def test_message_round_trip(vm, preamble):
    version, msg = vm
    raw = msg.encode(preamble)
    frame = decode_frame(raw)
    assert frame.preamble == preamble
    back = parse(frame, version)
    assert back == msg
    assert back.encode(preamble) == raw
    assert decode(raw, version) == msg


@given(st.data())
@settings(max_examples=400)
def test_every_format_round_trips(data):
    item = data.draw(st.sampled_from(BY_FORMAT), label="item")
    value = data.draw(values_for(item.fmt), label="value")
    raw = item.fmt.encode(value)
    assert len(raw) == item.fmt.size
    assert item.fmt.decode(raw) == value
    assert item.fmt.encode(item.fmt.decode(raw)) == raw


@given(st.data())
def test_every_item_decodes_what_it_encodes_through_a_reply(data):
    """Through the table and a full reply frame, for any DI in either table."""
    from meterhub.protocols.dlt645 import ReadReply

    item = data.draw(st.sampled_from(ALL_ITEMS), label="item")
    value = data.draw(values_for(item.fmt), label="value")
    reply = ReadReply.of("000000000001", item.di, value, version=item.version)
    back = decode(reply.encode(), item.version)
    assert back.value() == value


@given(st.data())
def test_custom_seal_spec_round_trips(data):
    table = item_table("2007", SEAL_ASCII)
    item = table.get(SEAL_ASCII.di)
    value = data.draw(values_for(item.fmt))
    assert table.decode(SEAL_ASCII.di, table.encode(SEAL_ASCII.di, value))[1] == value


@given(st.binary(max_size=2000), st.integers(0, 255))
@settings(max_examples=500)
def test_stream_parser_only_yields_frames_and_typed_errors(blob, max_data):
    for ev in parse_stream(blob, max_data=max_data):
        assert isinstance(ev, Frame | Dlt645Error)


def _key(ev):
    if isinstance(ev, Frame):
        return ("frame", ev.address, ev.control, ev.data, ev.preamble)
    return (type(ev).__name__, str(ev), getattr(ev, "raw", b""), getattr(ev, "count", None))


def _chunked(blob, cuts):
    p = StreamParser()
    out = []
    points = sorted({c % (len(blob) + 1) for c in cuts} | {0, len(blob)})
    for a, b in zip(points, points[1:], strict=False):
        p.feed(blob[a:b])
        out.extend(p)
        # after draining, only an unfinished frame may stay buffered
        assert p.buffered <= 12 + 255
    p.feed(b"")
    out.extend(p)
    return out


def _frames_blob():
    return st.lists(messages, max_size=4).map(
        lambda ms: [m.encode(p) for p, (_, m) in zip([0, 4, 1, 2], ms, strict=False)]
    )


noise = st.binary(max_size=40)
clean_noise = noise.map(lambda b: b.replace(b"\x68", b"\x00"))


@given(st.binary(max_size=600) | _frames_blob().map(b"".join), st.lists(st.integers(0, 700)))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_stream_events_do_not_depend_on_chunking(blob, cuts):
    whole = [_key(e) for e in parse_stream(blob, chunk=len(blob) or 1)]
    assert [_key(e) for e in _chunked(blob, cuts)] == whole


@given(_frames_blob(), st.lists(clean_noise, min_size=5, max_size=5), st.lists(st.integers(0, 800)))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_finds_every_frame_in_noise(frames, noises, cuts):
    """Noise without a 68 byte can never start a frame, so every frame must come
    out, whatever the noise and however the stream is cut."""
    noises = noises[: len(frames) + 1]
    blob = noises[0] + b"".join(f + n for f, n in zip(frames, noises[1:], strict=True))
    found = [e for e in _chunked(blob, cuts) if isinstance(e, Frame)]
    want = [decode_frame(f) for f in frames]
    assert [(f.address, f.control, f.data) for f in found] == [
        (f.address, f.control, f.data) for f in want
    ]
    noise_count = sum(e.count for e in parse_stream(blob) if isinstance(e, Noise))
    fill = sum(n.count(0xFE) + n.count(0xFF) for n in noises)
    assert noise_count == sum(len(n) for n in noises) - fill


@given(_frames_blob(), st.lists(noise, min_size=5, max_size=5))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_finds_frames_in_arbitrary_noise(frames, noises):
    """With arbitrary noise (68 bytes included, false headers, bad lengths) every
    real frame still comes out, in order, after any false starts."""
    blob = noises[0] + b"".join(f + n for f, n in zip(frames, noises[1:], strict=False))
    found = [(e.address, e.control, e.data) for e in parse_stream(blob) if isinstance(e, Frame)]
    it = iter(found)
    for f in frames:
        d = decode_frame(f)
        assert (d.address, d.control, d.data) in it  # subsequence, in order


junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                 st.binary(max_size=20), st.dictionaries(st.text(max_size=8), st.integers(),
                                                         max_size=3))


@given(st.sampled_from(BY_FORMAT), junk)
@settings(max_examples=400)
def test_format_encode_fails_only_with_encode_error(item, value):
    from meterhub.protocols.dlt645 import EncodeError

    try:
        raw = item.fmt.encode(value)
    except EncodeError:
        return
    assert isinstance(raw, bytes)


@given(st.sampled_from(BY_FORMAT), st.binary(max_size=70))
@settings(max_examples=400)
def test_format_decode_fails_only_with_decode_error(item, raw):
    from meterhub.protocols.dlt645 import DecodeError

    try:
        item.fmt.decode(raw)
    except DecodeError:
        pass


def _classes():
    from meterhub.protocols.dlt645 import replies, requests

    return [c for c in (*requests.REQUEST_CLASSES.values(), replies.ReadReply,
                        replies.ReadFollowUpReply1997, replies.AddressReply, replies.Ack,
                        replies.BaudReply, replies.PasswordReply, replies.ErrorReply)]


@given(st.data())
@settings(max_examples=500)
def test_builders_fail_only_with_encode_error(data):
    """Any junk in any field of any message: EncodeError or valid bytes, nothing else."""
    import dataclasses

    from meterhub.protocols.dlt645 import EncodeError

    cls = data.draw(st.sampled_from(_classes()))
    fields = [f for f in dataclasses.fields(cls) if f.init]
    kwargs = {f.name: data.draw(junk | st.just(f.default), label=f.name) for f in fields
              if f.default is not dataclasses.MISSING}
    args = [data.draw(junk | st.just("123456789012"), label=f.name) for f in fields
            if f.default is dataclasses.MISSING]
    msg = cls(*args, **kwargs)
    try:
        raw = msg.encode(data.draw(st.integers(-1, 5) | junk, label="preamble"))
    except EncodeError:
        return
    assert isinstance(raw, bytes)
    decode_frame(raw)  # whatever was accepted is a well-formed frame


@given(st.binary(max_size=300) | messages.map(lambda vm: vm[1].encode()), st.binary(max_size=2))
@settings(max_examples=500)
def test_decode_fast_path_matches_the_careful_path(raw, tweak):
    """decode() skips building a Frame; it must agree with parse(decode_frame())
    on every input, errors included (same class)."""
    if tweak and raw:  # sometimes corrupt one byte
        i = tweak[0] % len(raw)
        raw = raw[:i] + bytes((raw[i] ^ (tweak[-1] or 1),)) + raw[i + 1 :]
    for version in ("2007", "1997"):
        try:
            want = parse(decode_frame(raw), version)
        except Dlt645Error as exc:
            want = type(exc)
        try:
            got = decode(raw, version)
        except Dlt645Error as exc:
            got = type(exc)
        assert got == want


COVER_ITEMS = [ITEMS_2007.get(di) for di in (0x03300D00, 0x03300D01, 0x03300D0A, 0x03300E00, 0x03300E01, 0x03300E0A)]


@given(st.data())
@settings(max_examples=300)
def test_cover_counts_and_records_round_trip_through_a_read_reply(data):
    """What the head-end reads after a cover opens (headend/covers.py): counts and records,
    through a full reply frame and back, byte for byte."""
    from meterhub.protocols.dlt645 import ReadReply

    item = data.draw(st.sampled_from(COVER_ITEMS), label="item")
    value = data.draw(values_for(item.fmt), label="value")
    raw = ReadReply.of("240101000001", item.di, value).encode(preamble=4)
    back = decode(raw, "2007")
    assert back.value() == value and back.encode(preamble=4) == raw
