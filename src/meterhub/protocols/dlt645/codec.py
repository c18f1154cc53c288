"""`parse` (Frame -> message) and `decode` (bytes -> message), the one-call entry
points. `decode` is the hot path of a head-end, so it checks the frame and
dispatches on the control byte without building an intermediate `Frame`."""

from __future__ import annotations

import struct
from zlib import adler32

from .frame import HEADERS, UNSCRAMBLE, Frame, decode_frame, header
from .replies import _HANDLERS, ReadReply, parse_reply
from .requests import _BY_CODE, Read, parse_request

_DI = struct.Struct("<I").unpack_from  # a 2007 DI without slicing it off first
# control code -> the request class's from_data, bound once rather than per frame
_FROM_DATA = {v: {c: cls.from_data for c, cls in codes.items()} for v, codes in _BY_CODE.items()}


def parse(frame: Frame, version: str = "2007"):
    """A Request or Reply from a frame, by its direction bit."""
    if frame.control & 0x80:
        return parse_reply(frame, version)
    return parse_request(frame, version)


def decode(raw: bytes, version: str = "2007"):
    """One complete frame's bytes -> Request or Reply (raises Dlt645Error)."""
    if type(raw) is not bytes:
        raw = bytes(raw)
    try:  # a meter seen before: its address and the header's byte sum
        address, head_sum = HEADERS[raw[:8]]
    except KeyError:
        return _new_header(raw, version)
    n = len(raw)
    if n < 12 or n != 12 + raw[9] or raw[-1] != 0x16:
        # something wrong: the careful path decodes or raises precisely
        return parse(decode_frame(raw), version)
    c = raw[8]
    scrambled = raw[10:-2]
    if (head_sum + c + n - 13 + adler32(scrambled)) & 0xFF != raw[-2]:  # see frame.py
        decode_frame(raw)  # raises ChecksumError
    data = scrambled.translate(UNSCRAMBLE)
    # the two frames a head-end sees most, without the dispatch tables
    if version == "2007":
        if c == 0x91 and n >= 16:
            return ReadReply(address, _DI(data)[0], data[4:], False, None, "2007")
        if c == 0x11 and n == 16:
            return Read(address, _DI(data)[0], None, None, "2007")
    if c & 0x80:
        handler = _HANDLERS[version].get(c)
        if handler is not None:
            return handler(address, c, data, version)
        return parse_reply(Frame(address, c, data), version)  # raises the precise error
    from_data = _FROM_DATA[version].get(c)
    if from_data is not None:
        return from_data(address, data, version)
    return parse_request(Frame(address, c, data), version)  # raises the precise error


def _new_header(raw: bytes, version: str):
    if header(raw[:8]) is None:
        # a preamble, or no 68 A0..A5 68 header: the careful path decodes or raises
        return parse(decode_frame(raw), version)
    return decode(raw, version)  # a meter not seen before, now in HEADERS
