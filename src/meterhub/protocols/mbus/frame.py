"""EN 13757-2 link layer: the four frame formats, the C field and the checksum.

    single character   E5
    short frame        10 C A CS 16
    control frame      68 03 03 68 C A CI CS 16
    long frame         68 L L 68 C A CI data... CS 16     (L = 3 + len(data))

CS is the arithmetic sum, modulo 256, of the bytes from C to the last data byte.
Parsing is strict (start, repeated length, stop and checksum must all agree); the
stream parser in ``stream.py`` is what copes with noise between frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import MBusChecksumError, MBusEncodeError, MBusFrameError, MBusIncompleteError

ACK = 0xE5
SHORT_START = 0x10
LONG_START = 0x68
STOP = 0x16

# C field: bit 6 PRM (1 = from master), bit 5 FCB (master) / ACD (slave),
# bit 4 FCV (master) / DFC (slave), bits 3..0 the function.
C_PRM = 0x40
C_FCB = 0x20
C_FCV = 0x10
C_ACD = 0x20
C_DFC = 0x10

SND_NKE = 0x40  # link reset; also clears the slave's FCB expectation
SND_UD = 0x53  # send user data (FCV set: the FCB toggles between transfers)
REQ_UD2 = 0x5B  # request class 2 data (the meter readings)
REQ_UD1 = 0x5A  # request class 1 data (alarms)
RSP_UD = 0x08  # slave response with user data

BROADCAST_REPLY = 0xFE  # every slave answers: only safe with one slave on the bus
BROADCAST_NO_REPLY = 0xFF
NETWORK_LAYER = 0xFD  # address used after secondary selection

_MASTER_NAMES = {0x0: "SND_NKE", 0x3: "SND_UD", 0xA: "REQ_UD1", 0xB: "REQ_UD2"}
_SLAVE_NAMES = {0x8: "RSP_UD", 0x0: "ACK", 0x1: "NACK", 0xB: "STATUS"}


@dataclass(frozen=True, slots=True)
class CField:
    """The decoded control field. ``fcb``/``fcv`` apply from master, ``acd``/``dfc`` from slave."""

    raw: int

    @property
    def from_master(self) -> bool:
        return bool(self.raw & C_PRM)

    @property
    def function(self) -> int:
        return self.raw & 0x0F

    @property
    def fcb(self) -> bool:
        return self.from_master and bool(self.raw & C_FCB)

    @property
    def fcv(self) -> bool:
        return self.from_master and bool(self.raw & C_FCV)

    @property
    def acd(self) -> bool:
        return not self.from_master and bool(self.raw & C_ACD)

    @property
    def dfc(self) -> bool:
        return not self.from_master and bool(self.raw & C_DFC)

    @property
    def name(self) -> str:
        names = _MASTER_NAMES if self.from_master else _SLAVE_NAMES
        return names.get(self.function, f"C_{self.raw:02X}")

    def to_dict(self) -> dict:
        d = {"raw": self.raw, "name": self.name, "from_master": self.from_master}
        if self.from_master:
            d.update(fcb=self.fcb, fcv=self.fcv)
        else:
            d.update(acd=self.acd, dfc=self.dfc)
        return d


@dataclass(frozen=True, slots=True)
class SingleChar:
    """E5: the slave's positive acknowledgement."""

    def encode(self) -> bytes:
        return b"\xe5"


@dataclass(frozen=True, slots=True)
class ShortFrame:
    c: int
    address: int

    @property
    def control(self) -> CField:
        return CField(self.c)

    def encode(self) -> bytes:
        _check_byte("C", self.c)
        _check_byte("address", self.address)
        return bytes((SHORT_START, self.c, self.address, (self.c + self.address) & 0xFF, STOP))


@dataclass(frozen=True, slots=True)
class ControlFrame:
    """A long frame without data (L = 3), e.g. an application reset or baud-rate switch."""

    c: int
    address: int
    ci: int

    @property
    def control(self) -> CField:
        return CField(self.c)

    def encode(self) -> bytes:
        return _encode_long(self.c, self.address, self.ci, b"")


@dataclass(frozen=True, slots=True)
class LongFrame:
    c: int
    address: int
    ci: int
    data: bytes

    @property
    def control(self) -> CField:
        return CField(self.c)

    def encode(self) -> bytes:
        return _encode_long(self.c, self.address, self.ci, self.data)


Frame = SingleChar | ShortFrame | ControlFrame | LongFrame


def checksum(data: bytes) -> int:
    """Arithmetic sum modulo 256 (sum() runs in C; no per-byte Python loop)."""
    return sum(data) & 0xFF


def _check_byte(name: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise MBusEncodeError(f"{name} must be a byte (0..255), got {value!r}")


def _encode_long(c: int, address: int, ci: int, data: bytes) -> bytes:
    _check_byte("C", c)
    _check_byte("address", address)
    _check_byte("CI", ci)
    length = 3 + len(data)
    if length > 0xFF:
        raise MBusEncodeError(f"user data too long for one frame: {len(data)} bytes (max 252)")
    body = bytes((c, address, ci)) + bytes(data)
    return bytes((LONG_START, length, length, LONG_START)) + body + bytes((checksum(body), STOP))


def parse_frame(buf: bytes, start: int = 0) -> tuple[Frame, int]:
    """Parse exactly one frame beginning at ``buf[start]``; return it and the end offset.

    Raises MBusIncompleteError when the buffer ends inside the frame, MBusChecksumError
    on a checksum mismatch and MBusFrameError for anything else that is not a frame.
    """
    n = len(buf)
    if start >= n:
        raise MBusIncompleteError("no data", start)
    first = buf[start]
    if first == ACK:
        return SingleChar(), start + 1
    if first == SHORT_START:
        if n - start < 5:
            raise MBusIncompleteError(f"short frame cut after {n - start} bytes", start)
        c, a, cs, stop = buf[start + 1], buf[start + 2], buf[start + 3], buf[start + 4]
        if stop != STOP:
            raise MBusFrameError(f"short frame: stop byte {stop:02X}, expected 16", start + 4)
        if (c + a) & 0xFF != cs:
            raise MBusChecksumError(
                f"short frame: checksum {cs:02X}, computed {(c + a) & 0xFF:02X}",
                start + 3, expected=(c + a) & 0xFF, actual=cs)
        return ShortFrame(c, a), start + 5
    if first == LONG_START:
        if n - start < 4:
            raise MBusIncompleteError("long frame header cut", start)
        length, length2, start2 = buf[start + 1], buf[start + 2], buf[start + 3]
        if length != length2 or start2 != LONG_START:
            raise MBusFrameError(
                f"long frame: header 68 {length:02X} {length2:02X} {start2:02X} is not 68 L L 68",
                start)
        if length < 3:
            raise MBusFrameError(f"long frame: L={length} is below the minimum 3", start + 1)
        end = start + 6 + length
        if n < end:
            raise MBusIncompleteError(f"long frame: {n - start} of {end - start} bytes", start)
        if buf[end - 1] != STOP:
            raise MBusFrameError(
                f"long frame: stop byte {buf[end - 1]:02X}, expected 16", end - 1)
        body = buf[start + 4:end - 2]
        cs = checksum(body)
        if cs != buf[end - 2]:
            raise MBusChecksumError(
                f"long frame: checksum {buf[end - 2]:02X}, computed {cs:02X}", end - 2,
                expected=cs, actual=buf[end - 2])
        c, a, ci = body[0], body[1], body[2]
        if length == 3:
            return ControlFrame(c, a, ci), end
        return LongFrame(c, a, ci, bytes(body[3:])), end
    raise MBusFrameError(f"byte {first:02X} does not start an M-Bus frame", start)


def decode_frame(data: bytes) -> Frame:
    """Parse a buffer holding exactly one frame (trailing bytes are an error)."""
    frame, end = parse_frame(bytes(data))
    if end != len(data):
        raise MBusFrameError(f"{len(data) - end} trailing bytes after the frame", end)
    return frame


# --- master requests --------------------------------------------------------------


def snd_nke(address: int) -> bytes:
    """Link reset (SND_NKE); after it the slave expects FCB = 1 on the next REQ_UD2."""
    return ShortFrame(SND_NKE, address).encode()


def req_ud2(address: int, fcb: bool = True) -> bytes:
    """Request class 2 data; FCV is set, so a slave that missed our ACK resends on same FCB."""
    return ShortFrame(REQ_UD2 | (C_FCB if fcb else 0), address).encode()


def req_ud1(address: int, fcb: bool = True) -> bytes:
    return ShortFrame(REQ_UD1 | (C_FCB if fcb else 0), address).encode()


def snd_ud(address: int, ci: int, data: bytes = b"", fcb: bool = False) -> bytes:
    c = SND_UD | (C_FCB if fcb else 0)
    if not data:
        return ControlFrame(c, address, ci).encode()
    return LongFrame(c, address, ci, bytes(data)).encode()


def rsp_ud_frame(address: int, ci: int, data: bytes, acd: bool = False,
                 dfc: bool = False) -> bytes:
    c = RSP_UD | (C_ACD if acd else 0) | (C_DFC if dfc else 0)
    return LongFrame(c, address, ci, bytes(data)).encode()


@dataclass(slots=True)
class FrameCountBit:
    """The master's FCB for one slave (EN 13757-2 5.4).

    After SND_NKE the slave expects FCB = 1. The bit toggles after each request the
    slave answered; a retry after a timeout repeats the same FCB, so a slave whose
    answer was lost resends it instead of moving on (e.g. to the next telegram of a
    multi-telegram readout).
    """

    address: int
    fcb: bool = field(default=True)

    def reset(self) -> bytes:
        """SND_NKE for this slave; the next request carries FCB = 1."""
        self.fcb = True
        return snd_nke(self.address)

    def req_ud2(self) -> bytes:
        """REQ_UD2 with the current FCB (call again for a retry: same bytes)."""
        return req_ud2(self.address, self.fcb)

    def answered(self) -> None:
        """The slave answered the last request: toggle for the next one."""
        self.fcb = not self.fcb
