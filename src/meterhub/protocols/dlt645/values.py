"""Value formats of the data field: BCD numbers with scale and sign, BCD dates and
times, digit strings, status words with named flags, and fixed records.

Every multi-byte value goes on the wire low byte first, so decoding is
"reverse, hex(), read the digits" and encoding the reverse of that; both are
C-level operations rather than per-nibble Python loops. Signed formats keep the
sign in D7 of the highest byte (the last one on the wire).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import DecodeError, EncodeError

_MISUSE = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


def typed_encode(fn):
    """Turn a builder's stray TypeError/ValueError/... into an EncodeError."""

    def encode(self, value):
        try:
            return fn(self, value)
        except EncodeError:
            raise
        except _MISUSE as exc:
            raise EncodeError(f"{self.pattern}: cannot encode {value!r}: {exc}") from exc

    encode.__doc__ = fn.__doc__
    return encode


class Format:
    """Base: `size` bytes on the wire, `pattern` as written in the standard."""

    __slots__ = ("pattern", "size")

    def __init__(self, pattern: str, size: int):
        self.pattern = pattern
        self.size = size

    def decode(self, raw: bytes):  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, value) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check(self, raw: bytes) -> None:
        if len(raw) != self.size:
            raise DecodeError(f"{self.pattern}: expected {self.size} bytes, got {len(raw)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pattern!r})"


# top hex digit of a signed value with D7 set -> the digit without it
_UNSIGN = {"8": "0", "9": "1", "a": "2", "b": "3", "c": "4", "d": "5", "e": "6", "f": "7"}


# every valid BCD byte, for bytes.translate(None, _BCD) to delete: what is left is not BCD
_BCD = bytes(b for b in range(256) if b >> 4 < 10 and b & 15 < 10)


def _digits(raw: bytes, pattern: str) -> str:
    h = raw[::-1].hex()
    if not h.isdigit():
        raise DecodeError(f"{pattern}: not BCD: {raw.hex(' ').upper()}")
    return h


class Number(Format):
    """XXXXXX.XX style: BCD, `decimals` implied decimals, optional sign bit.

    Decodes to Decimal (int when there are no decimals); no float ever touches
    a register value, so 12345.67 kWh stays 12345.67.
    """

    __slots__ = ("decimals", "signed", "_width", "_fast", "_sign", "_point", "_top", "_exp",
                 "_dot")

    def __init__(self, pattern: str, size: int | None = None, signed: bool = False):
        int_part, _, frac = pattern.partition(".")
        digits = len(int_part) + len(frac)
        super().__init__(pattern, size if size is not None else (digits + 1) // 2)
        self.decimals = len(frac)
        self.signed = signed
        # the sign takes the top bit of the top nibble, leaving 0-7 for that digit
        self._width = 2 * self.size
        self._fast = self._width - 1 if signed else self._width
        self._sign = 0x80 << (8 * (self.size - 1))
        # top wire byte of a non-negative value is below this
        self._top = 0x80 if signed else 0x100
        self._exp = f"E-{self.decimals}"
        # where the point is when written with exactly `decimals` places (never
        # matches for an integer format)
        self._dot = slice(-self.decimals - 1, -self.decimals) if self.decimals else slice(0, 0)
        # whole decimal bytes: bytes.hex() can put the point in itself, as the one
        # separator, counted from the side that leaves a single one
        frac_bytes, odd = divmod(self.decimals, 2)
        self._point = 0
        if frac_bytes and not odd and frac_bytes < self.size:
            int_bytes = self.size - frac_bytes
            self._point = -int_bytes if frac_bytes <= int_bytes else frac_bytes

    def decode(self, raw: bytes):
        if len(raw) != self.size:
            self._check(raw)
        if raw[-1] < self._top:  # not negative
            # whole decimal bytes (energy): one C call checks the BCD, one writes
            # the digits with the point in place
            if self._point and not raw.translate(None, _BCD):
                return Decimal(raw[::-1].hex(".", self._point))
            h = raw[::-1].hex()
            sign = ""
        else:  # D7 of the top byte is the sign, not part of the top digit
            h = raw[::-1].hex()
            h = _UNSIGN[h[0]] + h[1:]
            sign = "-"
        if not h.isdigit():
            raise DecodeError(f"{self.pattern}: not BCD: {raw.hex(' ').upper()}")
        if self.decimals:
            # digits and an exponent: one exact parse, no slicing around a point
            return Decimal(f"{sign}{h}{self._exp}")
        return -int(h) if sign else int(h)

    def encode(self, value) -> bytes:
        try:  # zero-cost on 3.11 until something raises
            text = str(value)
            # fastest path: non-negative, exactly `decimals` places, short enough that
            # the sign bit cannot be touched
            if text[self._dot] == ".":
                digits = text.replace(".", "", 1)
                if len(digits) <= self._fast and digits.isascii() and digits.isdigit():
                    # BCD digits read as hex are the BCD value: one C call each way
                    return int(digits, 16).to_bytes(self.size, "little")
                if digits[:1] == "-" and self.signed:
                    digits = digits[1:]
                    if (len(digits) <= self._fast and digits.isascii() and digits.isdigit()
                            and digits.strip("0")):  # sign: D7 of the top byte
                        return (int(digits, 16) | self._sign).to_bytes(self.size, "little")
            d = self.decimals
            neg = text[:1] == "-"
            if neg:
                text = text[1:]
            # fast path: written with exactly `decimals` places (or an integer format)
            if d:
                digits = text[: -d - 1] + text[-d:] if text[-d - 1 : -d] == "." else ""
            else:
                digits = text
            if not (digits.isascii() and digits.isdigit()):
                digits = self._digits_slow(value)
                neg = digits[:1] == "-"
                if neg:
                    digits = digits[1:]
            w = self._width
            if len(digits) > w:
                digits = digits.lstrip("0")
            if len(digits) > w or (
                len(digits) == w and digits[0] >= ("8" if self.signed else ":")
            ):
                raise EncodeError(f"{value} does not fit {self.pattern}")
            digits = digits.zfill(w)
            if neg and digits.strip("0"):
                if not self.signed:
                    raise EncodeError(f"{self.pattern} is unsigned, got {value}")
                digits = "89abcdef"[ord(digits[0]) - 48] + digits[1:]  # D7 of the top byte
            return bytes.fromhex(digits)[::-1]
        except EncodeError:
            raise
        except _MISUSE as exc:
            raise EncodeError(f"{self.pattern}: cannot encode {value!r}: {exc}") from exc

    def _digits_slow(self, value) -> str:
        """Any other spelling (floats, exponents, more places): round half up."""
        try:
            v = value if isinstance(value, Decimal) else Decimal(str(value))
            n = int(v.scaleb(self.decimals).to_integral_value(ROUND_HALF_UP))
        except (InvalidOperation, ValueError, TypeError, OverflowError) as exc:
            raise EncodeError(f"{self.pattern}: not a number: {value!r}") from exc
        return str(n)


class Digits(Format):
    """NNNNNNNNNNNN: a BCD digit string (address, meter number, operator code)."""

    __slots__ = ()

    def __init__(self, pattern: str):
        super().__init__(pattern, len(pattern) // 2)

    def decode(self, raw: bytes) -> str:
        self._check(raw)
        return raw[::-1].hex().upper()

    @typed_encode
    def encode(self, value) -> bytes:
        s = str(value)
        if len(s) != 2 * self.size:
            raise EncodeError(f"{self.pattern}: need {2 * self.size} digits, got {s!r}")
        try:
            return bytes.fromhex(s)[::-1]
        except ValueError as exc:
            raise EncodeError(f"{self.pattern}: not hex digits: {s!r}") from exc


class Ascii(Format):
    """ASCII text, sent reversed like every other multi-byte field; NUL-padded."""

    __slots__ = ()

    def decode(self, raw: bytes) -> str:
        self._check(raw)
        return raw[::-1].rstrip(b"\0").decode("latin-1")

    @typed_encode
    def encode(self, value) -> bytes:
        b = str(value).encode("latin-1", "replace")
        if len(b) > self.size:
            raise EncodeError(f"{self.pattern}: text longer than {self.size} bytes")
        return b.ljust(self.size, b"\0")[::-1]


class Hex(Format):
    """Opaque bytes (unknown items): shown as hex, sent as given."""

    __slots__ = ()

    def __init__(self, size: int = 0):
        super().__init__("hex", size)

    def decode(self, raw: bytes) -> str:
        return raw.hex().upper()

    @typed_encode
    def encode(self, value) -> bytes:
        return bytes.fromhex(value) if isinstance(value, str) else bytes(value)


# BCD byte <-> 0..99 by table lookup; -1 marks bytes that are not BCD.
TO_BCD = bytes(int(f"{i:02d}", 16) for i in range(100))
FROM_BCD = tuple(
    (b >> 4) * 10 + (b & 15) if b >> 4 < 10 and b & 15 < 10 else -1 for b in range(256)
)

# pattern field -> (attribute, offset); the wire carries them in reverse order
_FIELDS = {
    "YY": ("year", 2000),
    "MM": ("month", 0),
    "DD": ("day", 0),
    "hh": ("hour", 0),
    "mm": ("minute", 0),
    "ss": ("second", 0),
}


class Stamp(Format):
    """BCD date/time (YYMMDDhhmmss, YYMMDDhhmm, YYMMDD, hhmmss, hhmm). All-zero
    decodes to None: meters fill unused event records with zeros, and that
    means "no event", not 2000-00-00."""

    __slots__ = ("_attrs", "_type")

    def __init__(self, pattern: str):
        super().__init__(pattern, len(pattern) // 2)
        fields = [_FIELDS[pattern[i : i + 2]] for i in range(0, len(pattern), 2)]
        self._attrs = tuple(reversed(fields))  # wire order
        self._type = datetime if pattern[0] == "Y" and len(fields) > 3 else (
            date if pattern[0] == "Y" else time
        )

    def decode(self, raw: bytes):
        if len(raw) != self.size:
            self._check(raw)
        if not any(raw):
            return None
        if self.size == 6:  # YYMMDDhhmmss, the hot one: unrolled
            F = FROM_BCD
            ss, mi, hh, dd, mo, yy = F[raw[0]], F[raw[1]], F[raw[2]], F[raw[3]], F[raw[4]], F[raw[5]]
            if min(ss, mi, hh, dd, mo, yy) >= 0:
                try:
                    return datetime(2000 + yy, mo, dd, hh, mi, ss)
                except ValueError:
                    pass
        vals = [FROM_BCD[b] for b in raw]
        if -1 in vals:
            raise DecodeError(f"{self.pattern}: not BCD: {raw.hex(' ').upper()}")
        vals.reverse()
        if self._type is not time:
            vals[0] += 2000
        try:
            return self._type(*vals)
        except ValueError as exc:
            raise DecodeError(f"{self.pattern}: not a valid date/time: {raw[::-1].hex()}") from exc

    @typed_encode
    def encode(self, value) -> bytes:
        if value is None:
            return bytes(self.size)
        if self.size == 6 and type(value) is datetime and 2000 <= value.year <= 2099:
            T = TO_BCD
            return bytes((T[value.second], T[value.minute], T[value.hour], T[value.day],
                          T[value.month], T[value.year - 2000]))
        try:
            vals = [getattr(value, a) - off for a, off in self._attrs]
            if min(vals) < 0:
                raise ValueError("negative field")
            return bytes([TO_BCD[v] for v in vals])
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise EncodeError(f"{self.pattern}: cannot encode {value!r}") from exc


def _parse_stamp(pattern: str, h: str):
    n = [int(h[i : i + 2]) for i in range(0, len(h), 2)]
    return date(2000 + n[0], n[1], n[2])


class DateWeek(Format):
    """YYMMDDWW (2007 04000101): date plus day of week, 0 = Sunday."""

    __slots__ = ()

    def __init__(self):
        super().__init__("YYMMDDWW", 4)

    def decode(self, raw: bytes) -> date:
        self._check(raw)
        h = _digits(raw, self.pattern)
        try:
            return _parse_stamp("YYMMDD", h[:6])
        except ValueError as exc:
            raise DecodeError(f"YYMMDDWW: not a valid date: {h}") from exc

    @typed_encode
    def encode(self, value) -> bytes:
        if not 2000 <= value.year <= 2099:
            raise EncodeError(f"YYMMDDWW: year {value.year} outside 2000-2099")
        return bytes.fromhex(f"{value:%y%m%d}{value.isoweekday() % 7:02d}")[::-1]


class MonthDayTime(Format):
    """MMDDhhmm (1997 max-demand time): no year, so it stays a string 'MM-DDThh:mm'."""

    __slots__ = ()

    def __init__(self):
        super().__init__("MMDDhhmm", 4)

    def decode(self, raw: bytes) -> str:
        self._check(raw)
        h = _digits(raw, self.pattern)
        return f"{h[0:2]}-{h[2:4]}T{h[4:6]}:{h[6:8]}"

    @typed_encode
    def encode(self, value) -> bytes:
        s = str(value).replace("-", "").replace("T", "").replace(":", "")
        if len(s) != 8 or not (s.isascii() and s.isdigit()):
            raise EncodeError(f"MMDDhhmm: cannot encode {value!r}")
        return bytes.fromhex(s)[::-1]


@dataclass(frozen=True, slots=True)
class Flag:
    """One field of a status word: `width` bits at `shift`; `labels` name the values
    of multi-bit fields (a one-bit field without labels decodes to bool)."""

    name: str
    shift: int
    width: int = 1
    labels: tuple[str, ...] = ()


class Flags(Format):
    """A status word decoded to named flags. Unnamed bits survive a round trip
    through the 'raw' key."""

    __slots__ = ("flags",)

    def __init__(self, pattern: str, size: int, flags: tuple[Flag, ...]):
        super().__init__(pattern, size)
        self.flags = flags

    def decode(self, raw: bytes) -> dict:
        self._check(raw)
        word = int.from_bytes(raw, "little")
        out: dict = {}
        for f in self.flags:
            v = word >> f.shift & ((1 << f.width) - 1)
            if f.labels:
                out[f.name] = f.labels[v] if v < len(f.labels) else f"unknown ({v})"
            else:
                out[f.name] = bool(v)
        out["raw"] = f"{word:0{2 * self.size}X}"
        return out

    def encode(self, value) -> bytes:
        try:
            return self._encode(value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, EncodeError):
                raise
            raise EncodeError(f"{self.pattern}: cannot encode {value!r}: {exc}") from exc

    def _encode(self, value) -> bytes:
        if isinstance(value, int):
            word = value
        else:
            word = int(value.get("raw", "0"), 16)
            for f in self.flags:
                if f.name not in value:
                    continue
                v = value[f.name]
                if f.labels:
                    v = f.labels.index(v) if isinstance(v, str) else int(v)
                mask = ((1 << f.width) - 1) << f.shift
                word = word & ~mask | (int(v) << f.shift & mask)
        try:
            return word.to_bytes(self.size, "little")
        except OverflowError as exc:
            raise EncodeError(f"{self.pattern}: {value!r} does not fit") from exc


class Record(Format):
    """A fixed sequence of named fields (event records)."""

    __slots__ = ("fields",)

    def __init__(self, pattern: str, fields: tuple[tuple[str, Format], ...]):
        super().__init__(pattern, sum(f.size for _, f in fields))
        self.fields = fields

    def decode(self, raw: bytes) -> dict:
        self._check(raw)
        out, at = {}, 0
        for name, f in self.fields:
            out[name] = f.decode(raw[at : at + f.size])
            at += f.size
        return out

    def encode(self, value) -> bytes:
        try:
            return b"".join(f.encode(value[name]) for name, f in self.fields)
        except (KeyError, TypeError, IndexError) as exc:
            raise EncodeError(f"{self.pattern}: missing field {exc}") from exc


def to_json(value):
    """JSON-ready form of a decoded value: Decimal as string (exact), dates ISO."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return value.hex().upper()
    return value
