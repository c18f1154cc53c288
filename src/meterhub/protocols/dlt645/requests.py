"""Master-station requests, both editions: one dataclass per kind.

Each has `to_frame()` / `encode()` (the master builds it) and a `from_data()`
classmethod (the meter, or a simulator playing one, parses it); `parse_request`
dispatches on the control code.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from . import _fields as f
from .codes import BAUD_BITS, BAUD_FROM_BITS, Code1997, Code2007, RelayAction
from .errors import DecodeError, EncodeError
from .frame import BROADCAST, WILDCARD, Frame, encode_frame
from .values import _MISUSE

#: kind -> control code, per edition
REQUEST_CODES = {
    "2007": {
        "read": Code2007.READ,
        "read follow-up": Code2007.READ_FOLLOW_UP,
        "read address": Code2007.READ_ADDRESS,
        "write": Code2007.WRITE,
        "write address": Code2007.WRITE_ADDRESS,
        "broadcast time": Code2007.BROADCAST_TIME,
        "freeze": Code2007.FREEZE,
        "change baud": Code2007.CHANGE_BAUD,
        "change password": Code2007.CHANGE_PASSWORD,
        "max-demand clear": Code2007.CLEAR_DEMAND,
        "meter clear": Code2007.CLEAR_METER,
        "event clear": Code2007.CLEAR_EVENT,
        "relay control": Code2007.RELAY_CONTROL,
    },
    "1997": {
        "read": Code1997.READ,
        "read follow-up": Code1997.READ_FOLLOW_UP,
        "reread": Code1997.REREAD,
        "write": Code1997.WRITE,
        "write address": Code1997.WRITE_ADDRESS,
        "broadcast time": Code1997.BROADCAST_TIME,
        "change baud": Code1997.CHANGE_BAUD,
        "change password": Code1997.CHANGE_PASSWORD,
        "max-demand clear": Code1997.CLEAR_DEMAND,
    },
}


# plain ints for the hot path (IntEnum arithmetic and lookups cost more)
_CODES = {v: {k: int(c) for k, c in table.items()} for v, table in REQUEST_CODES.items()}


class Request:
    """Behaviour shared by the request dataclasses."""

    __slots__ = ()
    KIND: ClassVar[str] = ""
    address: str
    version: str

    def payload(self) -> bytes:
        return b""

    def to_frame(self, preamble: int = 0) -> Frame:
        return Frame(self.address, self._code(), self._payload(), preamble)

    def encode(self, preamble: int = 0) -> bytes:
        # _code() and _payload() inlined: every request goes through here
        try:
            code = _CODES[self.version][self.KIND]
        except (KeyError, TypeError):
            raise EncodeError(f"DL/T 645-{self.version} has no {self.KIND!r} frame") from None
        try:
            data = self.payload()
        except EncodeError:
            raise
        except _MISUSE as exc:
            raise EncodeError(f"{type(self).__name__}: {exc}") from exc
        return encode_frame(self.address, code, data, preamble)

    def _code(self) -> int:
        try:
            return _CODES[self.version][self.KIND]
        except (KeyError, TypeError):
            raise EncodeError(f"DL/T 645-{self.version} has no {self.KIND!r} frame") from None

    def _payload(self) -> bytes:
        try:
            return self.payload()
        except EncodeError:
            raise
        except _MISUSE as exc:
            raise EncodeError(f"{type(self).__name__}: {exc}") from exc


@dataclass(slots=True)
class Read(Request):
    """11 / 1997: 01. DI, optionally N (block count) and a start time (load profile)."""

    address: str
    di: int
    count: int | None = None
    since: datetime | None = None
    version: str = "2007"
    KIND: ClassVar[str] = "read"

    def encode(self, preamble: int = 0) -> bytes:
        # the frame a head-end sends most: no dispatch, no intermediate calls
        if self.count is None and self.since is None and self.version == "2007":
            try:
                data = self.di.to_bytes(4, "little")
            except (OverflowError, AttributeError, TypeError):
                raise EncodeError(f"data identifier {self.di!r} does not fit 4 bytes") from None
            return encode_frame(self.address, 0x11, data, preamble)
        return Request.encode(self, preamble)

    def payload(self) -> bytes:
        if self.count is None and self.since is None:
            return f.di_bytes(self.di, self.version)
        out = f.di_bytes(self.di, self.version)
        if self.version == "2007":
            if self.count is not None:
                out += bytes((self.count,))
                if self.since is not None:
                    out += f.STAMP5.encode(self.since)
            elif self.since is not None:
                raise EncodeError("a start time needs a record count")
        return out

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> Read:
        if len(data) == (4 if version == "2007" else 2):  # the common case: DI only
            return cls(address, int.from_bytes(data, "little"), None, None, version)
        di, rest = f.di_from(data, version)
        if version == "1997" or not rest:
            if rest:
                raise DecodeError("1997 read carries only the data identifier")
            return cls(address, di, version=version)
        if len(rest) == 1:
            return cls(address, di, rest[0], version=version)
        f.need(rest, 6, "read with count and start time")
        return cls(address, di, rest[0], f.STAMP5.decode(rest[1:]), version)


@dataclass(slots=True)
class ReadFollowUp(Request):
    """12: DI + SEQ (2007); 1997: 02 with the DI only."""

    address: str
    di: int
    seq: int | None = None
    version: str = "2007"
    KIND: ClassVar[str] = "read follow-up"

    def payload(self) -> bytes:
        out = f.di_bytes(self.di, self.version)
        if self.version == "2007":
            out += bytes((self.seq or 0,))
        return out

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> ReadFollowUp:
        di, rest = f.di_from(data, version)
        if version == "2007":
            f.need(rest, 1, "read follow-up SEQ")
            return cls(address, di, rest[0], version)
        f.need(rest, 0, "1997 read follow-up")
        return cls(address, di, None, version)


@dataclass(slots=True)
class ReadAddress(Request):
    """13, sent to the wildcard address when the meter's address is unknown."""

    address: str = WILDCARD
    version: str = "2007"
    KIND: ClassVar[str] = "read address"

    def encode(self, preamble: int = 0) -> bytes:
        if self.version == "2007":  # no data field: nothing to look up or build
            return encode_frame(self.address, 0x13, b"", preamble)
        return Request.encode(self, preamble)

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> ReadAddress:
        if data:  # f.need() only when it will raise
            f.need(data, 0, "read address")
        return cls(address, version)


@dataclass(slots=True)
class Reread(Request):
    """1997 03: ask the meter to repeat its last reply."""

    address: str
    version: str = "1997"
    KIND: ClassVar[str] = "reread"

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> Reread:
        f.need(data, 0, "reread")
        return cls(address, version)


@dataclass(slots=True)
class Write(Request):
    """14: DI, PA P0P1P2, operator C0..C3, data. 1997 (04): DI, PA P0P1P2, data."""

    address: str
    di: int
    data: bytes
    password_level: int = 2
    password: str = "000000"
    operator: str = "00000000"
    version: str = "2007"
    KIND: ClassVar[str] = "write"

    def payload(self) -> bytes:
        out = f.di_bytes(self.di, self.version) + f.password(self.password_level, self.password)
        if self.version == "2007":
            out += f.operator(self.operator)
        return out + self.data

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> Write:
        di, rest = f.di_from(data, version)
        n = 8 if version == "2007" else 4
        if len(rest) < n:
            raise DecodeError("write: data field too short for password/operator")
        level, pw = f.password_from(rest)
        op = f.operator_from(rest[4:8]) if version == "2007" else "00000000"
        return cls(address, di, bytes(rest[n:]), level, pw, op, version)


@dataclass(slots=True)
class WriteAddress(Request):
    """15 (2007, to AAAAAAAAAAAA) / 0A (1997, to 999999999999): the new address."""

    address: str
    new_address: str
    version: str = "2007"
    KIND: ClassVar[str] = "write address"

    def payload(self) -> bytes:
        return f.ADDRESS12.encode(self.new_address)

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> WriteAddress:
        f.need(data, 6, "write address")
        return cls(address, data[::-1].hex().upper(), version)


@dataclass(slots=True)
class BroadcastTime(Request):
    """08 to 999999999999: ss mm hh DD MM YY; meters do not reply."""

    time: datetime
    address: str = BROADCAST
    version: str = "2007"
    KIND: ClassVar[str] = "broadcast time"

    def payload(self) -> bytes:
        return f.stamp6(self.time)

    def encode(self, preamble: int = 0) -> bytes:
        # every meter hears one of these a day or more: skip the code-table dispatch
        if self.version == "2007":
            return encode_frame(self.address, 0x08, f.stamp6(self.time), preamble)
        return Request.encode(self, preamble)

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> BroadcastTime:
        t = f.stamp6_from(data)  # checks the length
        if t is None:
            raise DecodeError("broadcast time of all zeros")
        return cls(t, address, version)


@dataclass(slots=True)
class Freeze(Request):
    """16: when to freeze as 'MMDDhhmm' digits; 99 in a field makes it periodic
    (99DDhhmm monthly, 9999hhmm daily, 999999mm hourly), 99999999 = now."""

    address: str
    when: str = "99999999"
    version: str = "2007"
    KIND: ClassVar[str] = "freeze"

    def payload(self) -> bytes:
        if len(self.when) != 8 or not (self.when.isascii() and self.when.isdigit()):
            raise EncodeError(f"freeze time must be 8 digits MMDDhhmm, got {self.when!r}")
        return bytes.fromhex(self.when)[::-1]

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> Freeze:
        f.need(data, 4, "freeze")
        when = data[::-1].hex()
        if not when.isdigit():
            raise DecodeError(f"freeze time is not BCD: {when}")
        return cls(address, when, version)


@dataclass(slots=True)
class ChangeBaud(Request):
    """17 / 1997 0C: the feature word Z, one bit per rate."""

    address: str
    baud: int
    version: str = "2007"
    KIND: ClassVar[str] = "change baud"

    def payload(self) -> bytes:
        try:
            return bytes((BAUD_BITS[self.baud],))
        except KeyError:
            raise EncodeError(f"unsupported baud rate {self.baud}") from None

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> ChangeBaud:
        f.need(data, 1, "change baud")
        return cls(address, baud_from(data[0]), version)


def baud_from(z: int) -> int:
    try:
        return BAUD_FROM_BITS[z]
    except KeyError:
        raise DecodeError(f"baud feature word {z:02X} is not one rate") from None


@dataclass(slots=True)
class ChangePassword(Request):
    """18: DI 04000C01+level, old PA P0P1P2, new PA P0P1P2. 1997 0F: without the DI."""

    address: str
    old_level: int
    old_password: str
    new_level: int
    new_password: str
    version: str = "2007"
    KIND: ClassVar[str] = "change password"

    def payload(self) -> bytes:
        out = f.password(self.old_level, self.old_password) + f.password(
            self.new_level, self.new_password
        )
        if self.version == "2007":
            if not 0 <= self.new_level <= 9:
                raise EncodeError("2007 password levels are 0..9")
            out = (0x04000C01 + self.new_level).to_bytes(4, "little") + out
        return out

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> ChangePassword:
        if version == "2007":
            f.need(data, 12, "change password")
            di = int.from_bytes(data[:4], "little")
            data = data[4:]
        else:
            f.need(data, 8, "change password")
        ol, op = f.password_from(data)
        nl, np_ = f.password_from(data[4:])
        if version == "2007" and di != 0x04000C01 + nl:
            raise DecodeError(f"change password: DI {di:08X} does not match new level {nl}")
        return cls(address, ol, op, nl, np_, version)


@dataclass(slots=True)
class _Authorised(Request):
    """PA P0P1P2 + operator C0..C3 (2007); 1997 max-demand clear: password only."""

    address: str
    password_level: int = 2
    password: str = "000000"
    operator: str = "00000000"
    version: str = "2007"

    def payload(self) -> bytes:
        if self.version == "2007":
            return f.auth(self.password_level, self.password, self.operator)
        return f.password(self.password_level, self.password)

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str):
        f.need(data, 8 if version == "2007" else 4, cls.KIND)
        if version == "2007":
            return cls(address, *f.auth_from(data), version)
        level, pw = f.password_from(data)
        return cls(address, level, pw, "00000000", version)


@dataclass(slots=True)
class ClearDemand(_Authorised):
    """19 / 1997 10."""

    KIND: ClassVar[str] = "max-demand clear"


@dataclass(slots=True)
class ClearMeter(_Authorised):
    """1A: clears energy, demand, freezes, events and load profile."""

    KIND: ClassVar[str] = "meter clear"


@dataclass(slots=True)
class ClearEvent(Request):
    """1B: password, operator, then the event DI (FFFFFFFF = all events)."""

    address: str
    di: int = 0xFFFFFFFF
    password_level: int = 2
    password: str = "000000"
    operator: str = "00000000"
    version: str = "2007"
    KIND: ClassVar[str] = "event clear"

    def payload(self) -> bytes:
        return f.auth(self.password_level, self.password, self.operator) + f.di_bytes(
            self.di, "2007")

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> ClearEvent:
        f.need(data, 12, "event clear")
        level, pw, op = f.auth_from(data)
        return cls(address, int.from_bytes(data[8:12], "little"), level, pw, op, version)


_ACTIONS = {a.value: a for a in RelayAction}
_RELAY = struct.Struct("<8sBB6s").pack  # PA P0P1P2 C0..C3, N1, N2, N3..N8


@dataclass(slots=True)
class RelayControl(Request):
    """1C: PA P0P1P2, C0..C3, N1 action, N2 reserved, N3..N8 valid-until ssmmhhDDMMYY.

    The command is void after `valid_until` (meter time), so a queued trip
    cannot fire days late.
    """

    address: str
    action: RelayAction
    valid_until: datetime
    password_level: int = 2
    password: str = "000000"
    operator: str = "00000000"
    reserved: int = 0
    version: str = "2007"
    KIND: ClassVar[str] = "relay control"

    def encode(self, preamble: int = 0) -> bytes:
        # one C call packs N1..N8 after the credentials; anything odd takes the
        # generic path, which raises the precise error
        if self.version == "2007":
            try:
                if self.action in _ACTIONS:
                    data = _RELAY(f.auth(self.password_level, self.password, self.operator),
                                  self.action, self.reserved, f.stamp6(self.valid_until))
                    return encode_frame(self.address, 0x1C, data, preamble)
            except (struct.error, *_MISUSE):  # EncodeError is a ValueError
                pass
        return Request.encode(self, preamble)

    def payload(self) -> bytes:
        if self.action not in _ACTIONS:
            raise EncodeError(f"unknown relay action {self.action!r}")
        return (
            f.auth(self.password_level, self.password, self.operator)
            + bytes((self.action, self.reserved))
            + f.stamp6(self.valid_until)
        )

    @classmethod
    def from_data(cls, address: str, data: bytes, version: str) -> RelayControl:
        if len(data) != 16:
            f.need(data, 16, "relay control")
        level, pw, op = f.auth_from(data)
        action = _ACTIONS.get(data[8])
        if action is None:
            raise DecodeError(f"relay control: unknown action N1={data[8]:02X}")
        F = f.BCD_OR_NONE  # stamp6_from(data[10:16]) inlined: no slice, no call
        try:
            until = datetime(2000 + F[data[15]], F[data[14]], F[data[13]], F[data[12]],
                             F[data[11]], F[data[10]])
        except (TypeError, ValueError):
            until = f.stamp6_from(data[10:16])  # None for all zeros, or the precise error
        if until is None:
            raise DecodeError("relay control: valid-until of all zeros")
        return cls(address, action, until, level, pw, op, data[9], version)


REQUEST_CLASSES: dict[str, type] = {
    c.KIND: c
    for c in (
        Read, ReadFollowUp, ReadAddress, Reread, Write, WriteAddress, BroadcastTime,
        Freeze, ChangeBaud, ChangePassword, ClearDemand, ClearMeter, ClearEvent, RelayControl,
    )
}
_BY_CODE = {
    v: {code: REQUEST_CLASSES[kind] for kind, code in REQUEST_CODES[v].items()}
    for v in REQUEST_CODES
}


def parse_request(frame: Frame, version: str = "2007") -> Request:
    """The meter's side: what does this master frame ask for?"""
    cls = _BY_CODE[version].get(frame.control)  # a reply's D7 keeps it out of this table
    if cls is None:
        if frame.control & 0x80:
            raise DecodeError(f"control {frame.control:02X} is a reply, not a request")
        raise DecodeError(f"control {frame.control:02X} is no DL/T 645-{version} request")
    return cls.from_data(frame.address, frame.data, version)
