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

from dataclasses import dataclass

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


def address_to_wire(address: str) -> bytes:
    """'123456789012' -> b'\\x12\\x90\\x78\\x56\\x34\\x12' (low byte first)."""
    if len(address) != 12 or not _HEX.issuperset(address):
        raise EncodeError(f"address must be 12 hex digits, got {address!r}")
    return bytes.fromhex(address)[::-1]


def address_from_wire(raw: bytes) -> str:
    return raw[::-1].hex().upper()


@dataclass(frozen=True, slots=True)
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


def encode_frame(address: str, control: int, data: bytes = b"", preamble: int = 0) -> bytes:
    if not 0 <= control <= 0xFF:
        raise EncodeError(f"control byte out of range: {control}")
    if len(data) > MAX_DATA:
        raise EncodeError(f"data field is {len(data)} bytes, the length byte holds at most 255")
    head = b"\x68" + address_to_wire(address) + bytes((START, control, len(data)))
    body = head + data.translate(SCRAMBLE)
    return b"\xfe" * preamble + body + bytes((sum(body) & 0xFF, END))


def decode_frame(raw: bytes) -> Frame:
    """Decode exactly one frame (FE preamble allowed, nothing after it).

    Raises `FrameError` (or its `ChecksumError` / `LengthError` subclasses).
    For a byte stream with noise, partial frames or several frames use
    `StreamParser` instead.
    """
    raw = bytes(raw)
    pre = len(raw) - len(raw.lstrip(b"\xfe"))
    n = len(raw) - pre
    if n < MIN_FRAME:
        raise FrameError(f"frame too short: {n} bytes after the preamble", raw)
    if raw[pre] != START or raw[pre + 7] != START:
        raise FrameError("no 68 ... 68 header", raw)
    length = raw[pre + 9]
    if n != MIN_FRAME + length:
        raise LengthError(f"length byte says {length} data bytes, frame has {n - MIN_FRAME}", raw)
    if raw[-1] != END:
        raise FrameError(f"end byte is {raw[-1]:02X}, not 16", raw)
    cs_at = len(raw) - 2
    expected = sum(raw[pre:cs_at]) & 0xFF
    if raw[cs_at] != expected:
        raise ChecksumError(f"checksum {raw[cs_at]:02X}, expected {expected:02X}", raw)
    return Frame(
        raw[pre + 1 : pre + 7][::-1].hex().upper(),
        raw[pre + 8],
        raw[pre + 10 : cs_at].translate(UNSCRAMBLE),
        pre,
    )
