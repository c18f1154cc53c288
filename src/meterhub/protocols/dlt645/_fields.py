"""Little field packers shared by requests and replies (wire order: low byte first)."""

from __future__ import annotations

from datetime import datetime

from .errors import DecodeError, EncodeError
from .values import Digits, Stamp

STAMP6 = Stamp("YYMMDDhhmmss")
STAMP5 = Stamp("YYMMDDhhmm")
_PASSWORD = Digits("NNNNNN")
_OPERATOR = Digits("NNNNNNNN")


def di_bytes(di: int, version: str) -> bytes:
    try:
        return di.to_bytes(4 if version == "2007" else 2, "little")
    except (OverflowError, AttributeError) as exc:
        raise EncodeError(f"data identifier {di!r} does not fit DL/T 645-{version}") from exc


def di_from(data: bytes, version: str) -> tuple[int, bytes]:
    n = 4 if version == "2007" else 2
    if len(data) < n:
        raise DecodeError(f"data field too short for a {n}-byte data identifier")
    return int.from_bytes(data[:n], "little"), data[n:]


def di_hex(di: int, version: str) -> str:
    return f"{di:08X}" if version == "2007" else f"{di:04X}"


def password(level: int, pw: str) -> bytes:
    """PA P0 P1 P2: the level byte, then the 6-digit password low byte first."""
    if not 0 <= level <= 0xFF:
        raise EncodeError(f"password level out of range: {level}")
    return bytes((level,)) + _PASSWORD.encode(pw)


def password_from(data: bytes) -> tuple[int, str]:
    return data[0], _PASSWORD.decode(data[1:4])


def operator(code: str) -> bytes:
    return _OPERATOR.encode(code)


def operator_from(data: bytes) -> str:
    return _OPERATOR.decode(data)


def stamp6(dt: datetime) -> bytes:
    return STAMP6.encode(dt)


def need(data: bytes, n: int, what: str) -> None:
    if len(data) != n:
        raise DecodeError(f"{what}: data field is {len(data)} bytes, expected {n}")
