"""Little field packers shared by requests and replies (wire order: low byte first)."""

from __future__ import annotations

import struct
from datetime import datetime

from .errors import DecodeError, EncodeError
from .values import FROM_BCD, TO_BCD, Digits, Stamp

STAMP6 = Stamp("YYMMDDhhmmss")
ADDRESS12 = Digits("NNNNNNNNNNNN")
STAMP5 = Stamp("YYMMDDhhmm")


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


_CREDENTIALS: dict = {}


def password(level: int, pw: str) -> bytes:
    """PA P0 P1 P2: the level byte, then the 6-digit password low byte first."""
    # a head-end sends the same few credentials all day: remember their bytes
    out = _CREDENTIALS.get((level, pw))
    if out is not None:
        return out
    out = _password(level, pw)
    if len(_CREDENTIALS) < 1024:
        _CREDENTIALS[(level, pw)] = out
    return out


def _password(level: int, pw: str) -> bytes:
    try:
        if len(pw) == 6:
            return bytes((level,)) + bytes.fromhex(pw)[::-1]
    except (ValueError, TypeError):
        pass
    raise EncodeError(f"password must be level 0-255 and 6 hex digits, got {level!r}, {pw!r}")


def password_from(data: bytes) -> tuple[int, str]:
    return data[0], data[3:0:-1].hex().upper()


def operator(code: str) -> bytes:
    try:
        if len(code) == 8:
            return bytes.fromhex(code)[::-1]
    except (ValueError, TypeError):
        pass
    raise EncodeError(f"operator code must be 8 hex digits, got {code!r}")


def operator_from(data: bytes) -> str:
    return data[::-1].hex().upper()


_PACK6 = struct.Struct("6B").pack
# BCD byte -> 0..99, None for a byte that is not BCD: datetime() then raises
# TypeError, so the hot path needs no separate validity check
BCD_OR_NONE = tuple(None if v < 0 else v for v in FROM_BCD)


def stamp6(dt: datetime) -> bytes:
    """ss mm hh DD MM YY (unrolled: relay commands and time syncs all carry one)."""
    if type(dt) is datetime and 2000 <= dt.year <= 2099:
        T = TO_BCD
        return _PACK6(T[dt.second], T[dt.minute], T[dt.hour], T[dt.day], T[dt.month],
                      T[dt.year - 2000])
    return STAMP6.encode(dt)


def stamp6_from(data: bytes) -> datetime | None:
    """Inverse of `stamp6`; None for all zeros; DecodeError otherwise."""
    if len(data) == 6:
        F = BCD_OR_NONE
        try:
            return datetime(2000 + F[data[5]], F[data[4]], F[data[3]], F[data[2]], F[data[1]],
                            F[data[0]])
        except (TypeError, ValueError):  # not BCD, all zeros, or no such date
            pass
    return STAMP6.decode(data)  # the careful path: None, or the precise error


def need(data: bytes, n: int, what: str) -> None:
    if len(data) != n:
        raise DecodeError(f"{what}: data field is {len(data)} bytes, expected {n}")


# password + operator code together, both ways: the credentials of write, clear and
# control frames (2007). Bounded caches; a head-end uses a handful of credentials.
_AUTH: dict = {}
_AUTH_FROM: dict = {}


def auth(level: int, pw: str, op: str) -> bytes:
    """PA P0 P1 P2 C0 C1 C2 C3."""
    key = (level, pw, op)
    try:
        return _AUTH[key]
    except KeyError:
        pass
    except TypeError:  # unhashable junk: let the packers say what is wrong
        return password(level, pw) + operator(op)
    out = password(level, pw) + operator(op)
    if len(_AUTH) < 1024:
        _AUTH[key] = out
    return out


def auth_from(data: bytes) -> tuple[int, str, str]:
    """(level, password, operator) from the first 8 data bytes."""
    raw = data[:8]
    out = _AUTH_FROM.get(raw)
    if out is None:
        out = (data[0], data[3:0:-1].hex().upper(), data[7:3:-1].hex().upper())
        if len(_AUTH_FROM) < 1024:
            _AUTH_FROM[raw] = out
    return out
