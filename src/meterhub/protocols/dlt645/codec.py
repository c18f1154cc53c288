"""`parse` (Frame -> message) and `decode` (bytes -> message), the one-call entry
points. `decode` is the hot path of a head-end, so it checks the frame and
dispatches on the control byte without building an intermediate `Frame`."""

from __future__ import annotations

from .frame import _ADDR_STR, UNSCRAMBLE, Frame, address_from_wire, decode_frame
from .replies import _HANDLERS, parse_reply
from .requests import _BY_CODE, parse_request


def parse(frame: Frame, version: str = "2007"):
    """A Request or Reply from a frame, by its direction bit."""
    if frame.control & 0x80:
        return parse_reply(frame, version)
    return parse_request(frame, version)


def decode(raw: bytes, version: str = "2007"):
    """One complete frame's bytes -> Request or Reply (raises Dlt645Error)."""
    if type(raw) is not bytes:
        raw = bytes(raw)
    n = len(raw)
    if (
        n < 12
        or raw[0] != 0x68
        or raw[7] != 0x68
        or n != 12 + raw[9]
        or raw[-1] != 0x16
        or raw[-2] != sum(raw[:-2]) & 0xFF
    ):
        # a preamble, or something wrong: the careful path decodes or raises precisely
        frame = decode_frame(raw)
        return parse(frame, version)
    a = raw[1:7]
    address = _ADDR_STR.get(a) or address_from_wire(a)
    c = raw[8]
    data = raw[10:-2].translate(UNSCRAMBLE)
    if c & 0x80:
        handler = _HANDLERS[version].get(c)
        if handler is not None:
            return handler(address, c, data, version)
        return parse_reply(Frame(address, c, data), version)  # raises the precise error
    cls = _BY_CODE[version].get(c)
    if cls is not None:
        return cls.from_data(address, data, version)
    return parse_request(Frame(address, c, data), version)  # raises the precise error
