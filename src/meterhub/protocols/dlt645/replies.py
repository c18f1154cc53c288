"""Meter replies, both editions: normal replies with data, abnormal replies with
the ERR byte, and follow-up replies. The master parses them with `parse_reply`;
a simulator playing the meter builds them with the same classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import _fields as f
from .codes import (
    _ERR_TABLE,
    ABNORMAL_BIT,
    BAUD_BITS,
    DIRECTION_BIT,
    FOLLOW_UP_BIT,
    FUNCTION_MASK,
    Code1997,
    Code2007,
    error_byte,
)
from .errors import DecodeError, EncodeError
from .frame import Frame, address_to_wire, encode_frame
from .items import ITEMS_1997, ITEMS_2007, ItemTable
from .requests import _CODES, baud_from
from .values import _MISUSE


class Reply:
    __slots__ = ()
    KIND: ClassVar[str] = ""
    address: str
    version: str

    def control(self) -> int:
        return _CODES[self.version][self.KIND] | DIRECTION_BIT

    def payload(self) -> bytes:
        return b""

    def to_frame(self, preamble: int = 0) -> Frame:
        return Frame(self.address, *self._parts(), preamble)

    def encode(self, preamble: int = 0) -> bytes:
        try:
            control, data = self.control(), self.payload()
        except EncodeError:
            raise
        except _MISUSE as exc:
            raise EncodeError(f"{type(self).__name__}: {exc}") from exc
        return encode_frame(self.address, control, data, preamble)

    def _parts(self) -> tuple[int, bytes]:
        try:
            return self.control(), self.payload()
        except EncodeError:
            raise
        except _MISUSE as exc:
            raise EncodeError(f"{type(self).__name__}: {exc}") from exc


@dataclass(slots=True)
class ReadReply(Reply):
    """91 (B1 when more follows): DI + data. Follow-up 92/B2: DI + data + SEQ.
    1997: 81/A1 and 82/A2, DI + data, no SEQ.

    `data` is the raw value bytes; `value()` decodes them with the item table,
    `ReadReply.of()` encodes a value for a simulated meter.
    """

    address: str
    di: int
    data: bytes
    follow_up: bool = False  # more frames follow: the master sends read follow-up
    seq: int | None = None  # set on replies to read follow-up
    version: str = "2007"
    KIND: ClassVar[str] = "read"

    def control(self) -> int:
        if self.seq is None:
            c = 0x91 if self.version == "2007" else 0x81
        else:
            c = 0x92
        return c | FOLLOW_UP_BIT if self.follow_up else c

    def encode(self, preamble: int = 0) -> bytes:
        # the reply a simulated meter sends most: inlined control() and payload()
        if self.seq is None and self.version == "2007":
            try:
                data = self.di.to_bytes(4, "little") + self.data
            except (OverflowError, AttributeError, TypeError):
                raise EncodeError(f"read reply: bad DI {self.di!r} or data {self.data!r}") from None
            return encode_frame(self.address, 0xB1 if self.follow_up else 0x91, data, preamble)
        return encode_frame(self.address, *self._parts(), preamble)

    def payload(self) -> bytes:
        out = f.di_bytes(self.di, self.version) + self.data
        if self.seq is not None:
            if self.version != "2007":
                raise EncodeError("1997 follow-up replies carry no SEQ")
            out += bytes((self.seq,))
        return out

    def decoded(self, table: ItemTable | None = None):
        """(item or None, value); raises DecodeError on bad BCD or length."""
        if table is None:
            table = ITEMS_2007 if self.version == "2007" else ITEMS_1997
        return table.decode(self.di, self.data)

    def value(self, table: ItemTable | None = None):
        item = (_ITEMS[self.version] if table is None else table.items).get(self.di)
        if item is not None:  # the common case, without the block machinery
            return item.fmt.decode(self.data)
        if table is None:
            table = ITEMS_2007 if self.version == "2007" else ITEMS_1997
        return table.decode(self.di, self.data)[1]

    @classmethod
    def of(cls, address: str, di: int, value, *, table: ItemTable | None = None,
           follow_up: bool = False, seq: int | None = None, version: str = "2007") -> ReadReply:
        """A reply carrying `value` encoded with the item's format (a simulated meter)."""
        item = (_ITEMS[version] if table is None else table.items).get(di)
        if item is None:
            data = (table or (ITEMS_2007 if version == "2007" else ITEMS_1997)).encode(di, value)
        else:
            data = item.fmt.encode(value)
        return cls(address, di, data, follow_up, seq, version)


_ITEMS = {"2007": ITEMS_2007.items, "1997": ITEMS_1997.items}


@dataclass(slots=True)
class ReadFollowUpReply1997(ReadReply):
    """1997 82/A2: like 81 but answering a 02 follow-up request."""

    version: str = "1997"
    KIND: ClassVar[str] = "read follow-up"

    def control(self) -> int:
        return 0xA2 if self.follow_up else 0x82


@dataclass(slots=True)
class AddressReply(Reply):
    """93: the meter's address, in the header and again as data."""

    address: str
    version: str = "2007"
    KIND: ClassVar[str] = "read address"

    def payload(self) -> bytes:
        return address_to_wire(self.address)

    def encode(self, preamble: int = 0) -> bytes:
        if self.version == "2007":
            return encode_frame(self.address, 0x93, address_to_wire(self.address), preamble)
        return Reply.encode(self, preamble)


@dataclass(slots=True)
class Ack(Reply):
    """A normal reply without data: write, write address, freeze, clears, relay."""

    address: str
    function: int
    version: str = "2007"

    def control(self) -> int:
        return self.function | DIRECTION_BIT


@dataclass(slots=True)
class BaudReply(Reply):
    """97 / 1997 8C: echoes the feature word of the new rate."""

    address: str
    baud: int
    version: str = "2007"
    KIND: ClassVar[str] = "change baud"

    def payload(self) -> bytes:
        try:
            return bytes((BAUD_BITS[self.baud],))
        except KeyError:
            raise EncodeError(f"unsupported baud rate {self.baud}") from None


@dataclass(slots=True)
class PasswordReply(Reply):
    """98 / 1997 8F: the new PA P0P1P2."""

    address: str
    level: int
    password: str
    version: str = "2007"
    KIND: ClassVar[str] = "change password"

    def payload(self) -> bytes:
        return f.password(self.level, self.password)


@dataclass(slots=True)
class ErrorReply(Reply):
    """Abnormal reply (D6 set): one ERR byte, bits named by `errors`."""

    address: str
    function: int
    err: int
    version: str = "2007"

    def control(self) -> int:
        return self.function | DIRECTION_BIT | ABNORMAL_BIT

    def payload(self) -> bytes:
        return bytes((self.err,))

    def encode(self, preamble: int = 0) -> bytes:
        try:
            c = self.function | 0xC0
            data = bytes((self.err,))
        except (TypeError, ValueError) as exc:
            raise EncodeError(f"ErrorReply: {exc}") from exc
        if c > 0xDF:
            raise EncodeError(f"ErrorReply: function {self.function!r} out of range")
        return encode_frame(self.address, c, data, preamble)

    @property
    def errors(self) -> list[str]:
        return list(_ERR_TABLE[self.version][self.err])  # error_bits(), without the call

    @classmethod
    def named(cls, address: str, function: int, names, version: str = "2007") -> ErrorReply:
        return cls(address, function, error_byte(names, version), version)


_READ = {"2007": Code2007.READ, "1997": Code1997.READ}
_FOLLOW = {"2007": Code2007.READ_FOLLOW_UP, "1997": Code1997.READ_FOLLOW_UP}
_ACKED = {
    "2007": {Code2007.WRITE, Code2007.WRITE_ADDRESS, Code2007.FREEZE, Code2007.CLEAR_DEMAND,
             Code2007.CLEAR_METER, Code2007.CLEAR_EVENT, Code2007.RELAY_CONTROL},
    "1997": {Code1997.WRITE, Code1997.WRITE_ADDRESS, Code1997.CLEAR_DEMAND},
}
_BAUD = {"2007": Code2007.CHANGE_BAUD, "1997": Code1997.CHANGE_BAUD}
_PASSWORD = {"2007": Code2007.CHANGE_PASSWORD, "1997": Code1997.CHANGE_PASSWORD}


def _read(address, c, data, version):
    n = 4 if version == "2007" else 2
    if len(data) < n:
        raise DecodeError(f"read reply shorter than its {n}-byte data identifier")
    cls = ReadFollowUpReply1997 if c & 0x1F == 0x02 and version == "1997" else ReadReply
    return cls(address, int.from_bytes(data[:n], "little"), data[n:], bool(c & FOLLOW_UP_BIT),
               None, version)


def _follow_2007(address, c, data, version):
    if len(data) < 5:
        raise DecodeError("follow-up reply shorter than DI + SEQ")
    return ReadReply(address, int.from_bytes(data[:4], "little"), data[4:-1],
                     bool(c & FOLLOW_UP_BIT), data[-1], version)


def _address(address, c, data, version):
    if len(data) != 6:  # f.need() only when it will raise
        f.need(data, 6, "read address reply")
    reported = data[::-1].hex().upper()
    if reported != address:
        raise DecodeError(f"address reply: header {address}, data {reported}")
    return AddressReply(address, version)


def _ack(address, c, data, version):
    if data:  # f.need() only when it will raise
        f.need(data, 0, "acknowledgement")
    return Ack(address, c & FUNCTION_MASK, version)


def _baud(address, c, data, version):
    f.need(data, 1, "change baud reply")
    return BaudReply(address, baud_from(data[0]), version)


def _password(address, c, data, version):
    f.need(data, 4, "change password reply")
    level, pw = f.password_from(data)
    return PasswordReply(address, level, pw, version)


def _error(address, c, data, version):
    if len(data) != 1:  # f.need() only when it will raise
        f.need(data, 1, "abnormal reply ERR")
    return ErrorReply(address, c & FUNCTION_MASK, data[0], version)


def _handlers(version: str) -> dict:
    """control byte -> parser, every valid reply control byte of an edition."""
    out = {}
    read, follow = _READ[version], _FOLLOW[version]
    for fb in (0, FOLLOW_UP_BIT):
        out[read | DIRECTION_BIT | fb] = _read
        out[follow | DIRECTION_BIT | fb] = _follow_2007 if version == "2007" else _read
    if version == "2007":
        out[Code2007.READ_ADDRESS | DIRECTION_BIT] = _address
    for code in _ACKED[version]:
        out[code | DIRECTION_BIT] = _ack
    out[_BAUD[version] | DIRECTION_BIT] = _baud
    out[_PASSWORD[version] | DIRECTION_BIT] = _password
    for fn in range(32):  # an abnormal reply may answer any function
        out[fn | DIRECTION_BIT | ABNORMAL_BIT] = _error
    return out


_HANDLERS = {v: _handlers(v) for v in ("2007", "1997")}


def parse_reply(frame: Frame, version: str = "2007") -> Reply:
    """The master's side: what did the meter answer?"""
    c = frame.control
    handler = _HANDLERS[version].get(c)
    if handler is None:
        if not c & DIRECTION_BIT:
            raise DecodeError(f"control {c:02X} is a request, not a reply")
        raise DecodeError(f"control {c:02X} is no DL/T 645-{version} reply")
    return handler(frame.address, c, frame.data, version)
