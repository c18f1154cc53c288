"""The link layer shared by DL/T 645-2007 and -1997.

    [FE..FE] 68 A0 A1 A2 A3 A4 A5 68 C L DATA(L bytes, each +0x33) CS 16

* The address is 6 BCD bytes sent low byte first: meter 123456789012 goes on the
  wire as 12 90 78 56 34 12. We keep addresses as the 12-character string printed
  on the nameplate and reverse only at the wire.
* Every data byte is sent +0x33 (mod 256) so that an all-zero field is not a run
  of 00 on the line; that is one `bytes.translate` each way.
* CS is the modulo-256 sum from the first 68 to the last data byte; the FE
  preamble (wake-up bytes for the receiver's UART) is outside it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from zlib import adler32

from .codes import ABNORMAL_BIT, DIRECTION_BIT, FOLLOW_UP_BIT, FUNCTION_MASK
from .errors import ChecksumError, EncodeError, FrameError, LengthError

START = 0x68
END = 0x16
PREAMBLE = b"\xfe\xfe\xfe\xfe"
HEADER_LEN = 10  # 68 A0..A5 68 C L
MIN_FRAME = 12  # header + CS + 16
MAX_DATA = 255  # the length byte's own limit; the stream parser can be stricter

BROADCAST = "999999999999"  # broadcast time sync / freeze
WILDCARD = "AAAAAAAAAAAA"  # read/write address when the meter's address is unknown

# +0x33 scrambling tables: one C-level translate per direction.
SCRAMBLE = bytes((i + 0x33) & 0xFF for i in range(256))
UNSCRAMBLE = bytes((i - 0x33) & 0xFF for i in range(256))

_HEX = frozenset("0123456789abcdefABCDEF")


def scramble(data: bytes) -> bytes:
    return data.translate(SCRAMBLE)


def unscramble(data: bytes) -> bytes:
    return data.translate(UNSCRAMBLE)


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


# A head-end talks to the same few thousand meters all day: remembering each
# address's wire form (and the header's partial checksum) makes framing a couple
# of C calls. Bounded so a scan of random addresses cannot grow it forever.
_CACHE_MAX = 65536
_HEAD: dict[str, tuple[bytes, int]] = {}
_ADDR_STR: dict[bytes, str] = {}
#: b'\x68' + wire address + b'\x68' -> (address, byte sum): one lookup checks both
#: start bytes, names the meter and pre-sums the header on the decode side
HEADERS: dict[bytes, tuple[str, int]] = {}


def _head(address: str) -> tuple[bytes, int]:
    """b'\x68' + wire address + b'\x68', and its byte sum."""
    try:
        return _HEAD[address]
    except KeyError:
        pass
    except TypeError:
        raise EncodeError(f"address must be 12 hex digits, got {address!r}") from None
    if not isinstance(address, str) or len(address) != 12 or not _HEX.issuperset(address):
        raise EncodeError(f"address must be 12 hex digits, got {address!r}")
    head = b"\x68" + bytes.fromhex(address)[::-1] + b"\x68"
    if len(_HEAD) >= _CACHE_MAX:
        _HEAD.clear()
    _HEAD[address] = entry = (head, sum(head))
    header(head)
    return entry


def header(head: bytes) -> tuple[str, int] | None:
    """(address, byte sum) of an 8-byte '68 A0..A5 68' header, or None if it is not one."""
    entry = HEADERS.get(head)
    if entry is None:
        if len(head) != 8 or head[0] != START or head[7] != START:
            return None
        if len(HEADERS) >= _CACHE_MAX:
            HEADERS.clear()
        HEADERS[bytes(head)] = entry = (head[6:0:-1].hex().upper(), sum(head))
    return entry


def address_to_wire(address: str) -> bytes:
    """'123456789012' -> b'\\x12\\x90\\x78\\x56\\x34\\x12' (low byte first)."""
    try:  # a known address without the call into _head
        return _HEAD[address][0][1:7]
    except (KeyError, TypeError):
        return _head(address)[0][1:7]


def address_from_wire(raw: bytes) -> str:
    try:
        return _ADDR_STR[raw]
    except KeyError:
        pass
    s = raw[::-1].hex().upper()
    if len(_ADDR_STR) >= _CACHE_MAX:
        _ADDR_STR.clear()
    _ADDR_STR[bytes(raw)] = s
    return s


@dataclass(slots=True)
class Frame:
    """One link-layer frame: address, control byte, unscrambled data.

    `preamble` is the number of FE bytes seen before (or to send before) the
    frame, so that a parsed frame re-encodes byte for byte.
    """

    address: str
    control: int
    data: bytes = b""
    preamble: int = 0

    @property
    def function(self) -> int:
        return self.control & FUNCTION_MASK

    @property
    def is_reply(self) -> bool:
        return bool(self.control & DIRECTION_BIT)

    @property
    def is_abnormal(self) -> bool:
        return bool(self.control & ABNORMAL_BIT)

    @property
    def has_follow_up(self) -> bool:
        return bool(self.control & FOLLOW_UP_BIT)

    def encode(self) -> bytes:
        return encode_frame(self.address, self.control, self.data, self.preamble)


# The byte sum of a data field in one C pass: Adler-32's low half is 1 + the byte
# sum, exact while that is below 65521, so for up to 256 bytes (a data field is at
# most 255) the checksum's low byte is that of adler32(data) - 1. And one
# precompiled layout per data length: a single C call packs the whole frame.
_LAYOUT = tuple(struct.Struct(f"<8sBB{n}sBB") for n in range(MAX_DATA + 1))


def encode_frame(address: str, control: int, data: bytes = b"", preamble: int = 0) -> bytes:
    # fast path for a known address: no range checks, because _LAYOUT[n] and the
    # "B" field reject what they would; on any error the checked path below runs
    # from scratch and raises the precise EncodeError
    try:
        head, head_sum = _HEAD[address]
        n = len(data)
        scrambled = data.translate(SCRAMBLE)
        out = _LAYOUT[n].pack(head, control, n, scrambled,
                              (head_sum + control + n + adler32(scrambled) - 1) & 0xFF, END)
        return b"\xfe" * preamble + out if preamble else out
    except Exception:
        return _encode_frame(address, control, data, preamble)


def _encode_frame(address: str, control: int, data: bytes, preamble: int) -> bytes:
    try:
        head, head_sum = _HEAD.get(address) or _head(address)
        n = len(data)
        if n > MAX_DATA or not 0 <= control <= 0xFF:
            raise EncodeError(f"control {control!r} or data length {n} out of range")
        data = data.translate(SCRAMBLE)
        cs = (head_sum + control + n + sum(data)) & 0xFF
        out = _LAYOUT[n].pack(head, control, n, data, cs, END)
        return b"\xfe" * preamble + out if preamble else out
    except EncodeError:
        raise
    except (TypeError, ValueError, AttributeError, OverflowError, struct.error) as exc:
        raise EncodeError(f"cannot frame {address!r}, {control!r}, {data!r}: {exc}") from exc


def decode_frame(raw: bytes) -> Frame:
    """Decode exactly one frame (FE preamble allowed, nothing after it).

    Raises `FrameError` (or its `ChecksumError` / `LengthError` subclasses).
    For a byte stream with noise, partial frames or several frames use
    `StreamParser` instead.
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    if raw[:1] != b"\x68":
        pre = len(raw) - len(raw.lstrip(b"\xfe"))
        if not pre or raw[pre : pre + 1] != b"\x68":
            raise FrameError("no 68 start byte (after any FE preamble)", raw)
        frame = decode_frame(raw[pre:])
        frame.preamble = pre
        return frame
    n = len(raw)
    if n < MIN_FRAME:
        raise FrameError(f"frame too short: {n} bytes", raw)
    if raw[7] != START:
        raise FrameError("no 68 ... 68 header", raw)
    length = raw[9]
    if n != MIN_FRAME + length:
        raise LengthError(f"length byte says {length} data bytes, frame has {n - MIN_FRAME}", raw)
    if raw[-1] != END:
        raise FrameError(f"end byte is {raw[-1]:02X}, not 16", raw)
    expected = sum(raw[:-2]) & 0xFF
    if raw[-2] != expected:
        raise ChecksumError(f"checksum {raw[-2]:02X}, expected {expected:02X}", raw)
    a = raw[1:7]
    return Frame(_ADDR_STR.get(a) or address_from_wire(a), raw[8], raw[10:-2].translate(UNSCRAMBLE), 0)
