"""EN 13757-3 variable data records: DIB (DIF + DIFE), VIB (VIF + VIFE), data; both ways.

A record is ``DIF [DIFE...] VIF [plain text] [VIFE...] data``. The DIF gives the data
type (low nibble), the function (bits 4-5) and the storage number's low bit (bit 6);
each DIFE adds 4 storage bits, 2 tariff bits and 1 subunit bit. ``raw`` is the value
as sent; ``value`` applies the VIF scale in the canonical unit (see ``vif.py``) and is a
Decimal for integers and BCD, so a meter reading is never rounded by a float.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from enum import IntEnum

from .errors import MBusEncodeError, MBusRecordError
from .vif import NO_VIB, ValueInfo, value_info

MAX_DIFE = 10  # EN 13757-3 limit; more means a corrupt telegram, not a big meter
MAX_VIFE = 10
MAX_PLAIN_TEXT = 0x7F


class Function(IntEnum):
    INSTANTANEOUS = 0
    MAXIMUM = 1
    MINIMUM = 2
    ERROR_STATE = 3


class DataField(IntEnum):
    NONE = 0x0
    INT8 = 0x1
    INT16 = 0x2
    INT24 = 0x3
    INT32 = 0x4
    REAL32 = 0x5
    INT48 = 0x6
    INT64 = 0x7
    READOUT = 0x8  # selection for readout (master to slave only)
    BCD2 = 0x9
    BCD4 = 0xA
    BCD6 = 0xB
    BCD8 = 0xC
    VARIABLE = 0xD
    BCD12 = 0xE
    SPECIAL = 0xF  # manufacturer specific data to the end (DIF 0Fh / 1Fh)


# bytes of data per DIF data field; VARIABLE and SPECIAL are sized at run time
FIELD_SIZE = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, 0, 6, 0)
_INT_FIELDS = frozenset((0x1, 0x2, 0x3, 0x4, 0x6, 0x7))
_BCD_FIELDS = frozenset((0x9, 0xA, 0xB, 0xC, 0xE))
_FLOAT = struct.Struct("<f")
# scaling must never round a meter reading (the default context keeps 28 digits)
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)

Raw = int | float | str | bytes | date | datetime | time | None


@dataclass(slots=True)
class DataRecord:
    """One data record. ``raw`` is None for no-data fields and for invalid dates/BCD.

    Treat it as immutable. It is not a frozen dataclass only because frozen __init__
    (object.__setattr__ per field) made decoding a telegram 1.5x slower.
    """

    field: DataField
    vib: ValueInfo
    raw: Raw
    function: Function = Function.INSTANTANEOUS
    storage: int = 0
    tariff: int = 0
    subunit: int = 0
    more_records_follow: bool = False  # only for SPECIAL records (DIF 1Fh)
    dife_count: int = field(default=-1, compare=False)  # -1: as few as needed
    data: bytes = field(default=b"", compare=False, repr=False)  # the data bytes as sent
    summer_time: bool = field(default=False, compare=False)

    @property
    def quantity(self) -> str:
        return self.vib.quantity

    @property
    def unit(self) -> str:
        return self.vib.unit

    @property
    def is_manufacturer_data(self) -> bool:
        return self.field == DataField.SPECIAL

    @property
    def value(self):
        """The raw value scaled to the canonical unit (Decimal for exact types)."""
        raw = self.raw
        kind = type(raw)
        if kind is not int and kind is not float:
            return raw  # None, text, bytes, date/time: nothing to scale
        vib = self.vib
        if kind is float:
            out = raw * vib.multiplier * 10.0 ** vib.exponent
            if vib.offset_exponent is not None:
                out += 10.0 ** vib.offset_exponent
            return out
        out = Decimal(raw).scaleb(vib.exponent, _EXACT)
        if vib.multiplier != 1:
            out = _EXACT.multiply(out, vib.multiplier)
        if vib.offset_exponent is not None:
            out = _EXACT.add(out, Decimal(1).scaleb(vib.offset_exponent, _EXACT))
        return out

    def to_dict(self) -> dict:
        value = self.value
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        elif isinstance(value, float) and not math.isfinite(value):
            value = None  # NaN/inf from a REAL32: not a reading (strict JSON has no NaN)
        elif isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, date | time):
            value = value.isoformat()
        d = {
            "function": self.function.name.lower(),
            "storage": self.storage,
            "tariff": self.tariff,
            "subunit": self.subunit,
            "quantity": self.vib.quantity,
            "unit": self.vib.unit,
            "value": value,
            "data_type": self.field.name,
        }
        if self.vib.modifiers:
            d["modifiers"] = list(self.vib.modifiers)
        if self.more_records_follow:
            d["more_records_follow"] = True
        if (self.raw is None or value is None) and self.data:
            d["invalid"] = self.data.hex()
        return d


# --- time points (data types G, F, I, J) -----------------------------------------------


def _year(lo: int, hi: int) -> int:
    y = ((lo & 0xE0) >> 5) | ((hi & 0xF0) >> 1)
    return 2000 + y if y < 81 else 1900 + y  # two-digit year window used by meters


def _decode_time(data: bytes) -> tuple[Raw, bool]:
    """Return (value or None if invalid, summer time flag)."""
    n = len(data)
    try:
        if n == 2:  # type G
            return date(_year(data[0], data[1]), data[1] & 0x0F, data[0] & 0x1F), False
        if n == 4:  # type F; bit 7 of the minute byte is IV (invalid)
            if data[0] & 0x80:
                return None, False
            return datetime(_year(data[2], data[3]), data[3] & 0x0F, data[2] & 0x1F,
                            data[1] & 0x1F, data[0] & 0x3F), bool(data[1] & 0x80)
        if n == 6:  # type I: seconds first
            if data[1] & 0x80:
                return None, False
            return datetime(_year(data[3], data[4]), data[4] & 0x0F, data[3] & 0x1F,
                            data[2] & 0x1F, data[1] & 0x3F, data[0] & 0x3F), False
        if n == 3:  # type J
            return time(data[2] & 0x1F, data[1] & 0x3F, data[0] & 0x3F), False
    except ValueError:  # day 0, month 13, 25 o'clock...: the meter says "not set"
        return None, False
    return None, False


def _encode_time(value, size: int) -> bytes:
    if size == 2 and isinstance(value, date) and not isinstance(value, datetime):
        y = value.year % 100
        return bytes(((y & 0x07) << 5 | value.day, (y & 0x78) << 1 | value.month))
    if size in (4, 6) and isinstance(value, datetime):
        y = value.year % 100
        dm = bytes(((y & 0x07) << 5 | value.day, (y & 0x78) << 1 | value.month))
        hm = bytes((value.minute, value.hour))
        # type I adds seconds in front and a week/DST byte (left 0: not known) behind
        return hm + dm if size == 4 else bytes((value.second,)) + hm + dm + b"\x00"
    if size == 3 and isinstance(value, time):
        return bytes((value.second, value.minute, value.hour))
    raise MBusEncodeError(f"cannot encode {value!r} as a {size}-byte time point")


# --- decoding ---------------------------------------------------------------------------


def _bcd(data: bytes) -> int | None:
    text = data[::-1].hex()
    if text.isdigit():
        return int(text)
    if text[:1] == "f" and text[1:].isdigit():  # top nibble F: negative (EN 13757-3 annex)
        return -int(text[1:]) if len(text) > 1 else None
    return None


_FIELDS = tuple(DataField)  # index by code: an enum call per record costs more than the rest
_FUNCTIONS = tuple(Function)
_TIME_SIZES = frozenset((2, 3, 4, 6))


def decode_records(data: bytes, base: int = 0) -> list[DataRecord]:
    """Decode the variable data records that follow the header.

    ``base`` is added to error offsets (the records' position in the whole frame).
    Idle filler (2Fh) is skipped; manufacturer data (0Fh/1Fh) ends the list.
    """
    if type(data) is not bytes:
        data = bytes(data)  # slices become the records' data: they must be immutable
    records: list[DataRecord] = []
    append = records.append
    n = len(data)
    i = 0
    while i < n:
        start = i
        dif = data[i]
        i += 1
        if dif == 0x2F:
            continue
        if dif == 0x0F or dif == 0x1F:
            rest = bytes(data[i:])
            append(DataRecord(DataField.SPECIAL, NO_VIB, rest, more_records_follow=dif == 0x1F,
                              dife_count=0, data=rest))
            break
        fld = dif & 0x0F
        if fld == 0x0F:
            raise MBusRecordError(f"reserved special DIF {dif:02X}", base + start)
        storage = (dif >> 6) & 1
        tariff = subunit = 0
        ndife = 0
        ext = dif & 0x80
        while ext:
            if i >= n:
                raise MBusRecordError("premature end of record inside the DIFE", base + i)
            if ndife == MAX_DIFE:
                raise MBusRecordError(f"more than {MAX_DIFE} DIFE", base + i)
            dife = data[i]
            i += 1
            storage |= (dife & 0x0F) << (1 + 4 * ndife)
            tariff |= ((dife >> 4) & 0x03) << (2 * ndife)
            subunit |= ((dife >> 6) & 0x01) << ndife
            ndife += 1
            ext = dife & 0x80
        if i >= n:
            raise MBusRecordError("premature end of record: no VIF", base + i)
        vif = data[i]
        i += 1
        plain = None
        if vif & 0x7F == 0x7C:
            if i >= n:
                raise MBusRecordError("premature end of plain-text VIF", base + i)
            ln = data[i]
            if ln > MAX_PLAIN_TEXT:
                raise MBusRecordError(f"plain-text VIF length {ln} is too long", base + i)
            i += 1
            if i + ln > n:
                raise MBusRecordError("premature end of plain-text VIF", base + i)
            plain = data[i:i + ln][::-1].decode("latin-1")
            i += ln
        vifes: tuple[int, ...] = ()
        if vif & 0x80:
            j = i
            while True:
                if j >= n:
                    raise MBusRecordError("premature end of record inside the VIFE", base + j)
                if j - i == MAX_VIFE:
                    raise MBusRecordError(f"more than {MAX_VIFE} VIFE", base + j)
                more = data[j] & 0x80
                j += 1
                if not more:
                    break
            vifes = tuple(data[i:j])
            i = j
        vib = value_info(vif, vifes, plain)
        if fld == 0x0D:
            if i >= n:
                raise MBusRecordError("premature end of data: no LVAR", base + i)
            lvar = data[i]
            i += 1
            if lvar <= 0xBF:
                size = lvar
            elif lvar <= 0xC9 or 0xD0 <= lvar <= 0xD9:
                size = lvar & 0x0F
            elif 0xE0 <= lvar <= 0xEF:
                size = lvar - 0xE0
            elif 0xF0 <= lvar <= 0xF4:
                size = 4 * (lvar - 0xEC)
            elif lvar == 0xF5:
                size = 6
            elif lvar == 0xF6:
                size = 8
            else:
                raise MBusRecordError(f"reserved LVAR {lvar:02X}", base + i - 1)
            if i + size > n:
                raise MBusRecordError(
                    f"premature end of data: variable field needs {size} bytes", base + i)
            chunk = data[i:i + size]
            i += size
            if lvar <= 0xBF:
                raw: Raw = chunk[::-1].decode("latin-1")
            elif lvar <= 0xC9:
                raw = _bcd(chunk)
            elif lvar <= 0xD9:
                raw = _bcd(chunk)
                raw = -raw if raw is not None else None
            else:
                raw = int.from_bytes(chunk, "little", signed=vib.signed)
            summer = False
        else:
            size = FIELD_SIZE[fld]
            if i + size > n:
                raise MBusRecordError(
                    f"premature end of data: {DataField(fld).name} needs {size} bytes", base + i)
            chunk = data[i:i + size]
            i += size
            summer = False
            if fld in _INT_FIELDS:
                if vib.is_time and size in _TIME_SIZES:
                    raw, summer = _decode_time(chunk)
                else:
                    raw = int.from_bytes(chunk, "little", signed=vib.signed)
            elif fld in _BCD_FIELDS:
                raw = _bcd(chunk)
            elif fld == 0x5:
                raw = _FLOAT.unpack(chunk)[0]
            else:
                raw = None
        append(DataRecord(_FIELDS[fld], vib, raw, _FUNCTIONS[(dif >> 4) & 0x03], storage, tariff,
                          subunit, False, ndife, chunk, summer))
    return records


# --- encoding ---------------------------------------------------------------------------


def encode_record(rec: DataRecord) -> bytes:
    """The wire form of one record; the inverse of ``decode_records`` for one record."""
    fld = int(rec.field)
    if fld == 0x0F:
        raw = rec.raw if isinstance(rec.raw, bytes) else rec.data
        return bytes((0x1F if rec.more_records_follow else 0x0F,)) + bytes(raw)
    if rec.storage < 0 or rec.tariff < 0 or rec.subunit < 0:
        raise MBusEncodeError("storage, tariff and subunit must not be negative")
    need = max(
        -(-(rec.storage >> 1).bit_length() // 4),
        -(-rec.tariff.bit_length() // 2),
        rec.subunit.bit_length(),
    )
    ndife = max(need, rec.dife_count)
    if ndife > MAX_DIFE:
        raise MBusEncodeError("storage/tariff/subunit need more than 10 DIFE")
    out = bytearray()
    out.append((0x80 if ndife else 0) | ((rec.storage & 1) << 6) | (int(rec.function) << 4) | fld)
    storage, tariff, subunit = rec.storage >> 1, rec.tariff, rec.subunit
    for k in range(ndife):
        out.append((0x80 if k < ndife - 1 else 0) | ((subunit & 1) << 6) | ((tariff & 3) << 4)
                   | (storage & 0x0F))
        storage >>= 4
        tariff >>= 2
        subunit >>= 1
    vib = rec.vib
    if vib.vif < 0:
        raise MBusEncodeError("a data record needs a VIF")
    if vib.plain_text is not None and len(vib.plain_text) > MAX_PLAIN_TEXT:
        raise MBusEncodeError("plain-text VIF too long")
    out += vib.encode()
    out += _encode_data(fld, vib, rec)
    return bytes(out)


def _encode_data(fld: int, vib: ValueInfo, rec: DataRecord) -> bytes:
    raw = rec.raw
    if raw is None:
        size = FIELD_SIZE[fld]
        if fld in (0x0, 0x8):
            return b""
        if len(rec.data) == size and fld != 0x0D:
            return rec.data  # an invalid date or BCD goes back out as it came in
        raise MBusEncodeError(f"no value to encode in a {DataField(fld).name} field")
    if fld in _INT_FIELDS:
        size = FIELD_SIZE[fld]
        if isinstance(raw, date | time):
            return _encode_time(raw, size)
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise MBusEncodeError(f"{DataField(fld).name} needs an int, got {raw!r}")
        try:
            return raw.to_bytes(size, "little", signed=not vib.unsigned)
        except OverflowError:
            raise MBusEncodeError(f"{raw} does not fit {DataField(fld).name}") from None
    if fld in _BCD_FIELDS:
        size = FIELD_SIZE[fld]
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise MBusEncodeError(f"BCD needs an int, got {raw!r}")
        digits = 2 * size
        if raw < 0:
            text = "f" + f"{-raw:0{digits - 1}d}"
        else:
            text = f"{raw:0{digits}d}"
        if len(text) != digits:
            raise MBusEncodeError(f"{raw} does not fit {digits} BCD digits")
        return bytes.fromhex(text)[::-1]
    if fld == 0x5:
        if not isinstance(raw, int | float) or isinstance(raw, bool):
            raise MBusEncodeError(f"REAL32 needs a number, got {raw!r}")
        try:
            return _FLOAT.pack(raw)
        except OverflowError:
            raise MBusEncodeError(f"{raw} does not fit a 32-bit real") from None
    if fld == 0x0D:
        if not isinstance(raw, str):
            raise MBusEncodeError(f"VARIABLE records are encoded from text, got {raw!r}")
        try:
            text = raw.encode("latin-1")
        except UnicodeEncodeError:
            raise MBusEncodeError(f"{raw!r} is not latin-1 text") from None
        if len(text) > 0xBF:
            raise MBusEncodeError("text longer than 191 bytes")
        return bytes((len(text),)) + text[::-1]
    raise MBusEncodeError(f"cannot encode a {DataField(fld).name} field with a value")


def encode_records(records) -> bytes:
    return b"".join(encode_record(r) for r in records)


def record(vif: int | bytes, raw: Raw, field: DataField, *, function: Function =
           Function.INSTANTANEOUS, storage: int = 0, tariff: int = 0, subunit: int = 0,
           plain_text: str | None = None) -> DataRecord:
    """Build a record for encoding, e.g. ``record(0x13, 12345, DataField.BCD8)`` (litres).

    ``vif`` is the VIF byte, or the VIF and VIFE bytes together (b"\\xfd\\x17").
    """
    if isinstance(vif, bytes | bytearray):
        if not vif:
            raise MBusEncodeError("empty VIF")
        first, vifes = vif[0], tuple(vif[1:])
    else:
        first, vifes = vif, ()
    if not 0 <= first <= 0xFF:
        raise MBusEncodeError(f"VIF must be a byte, got {first!r}")
    if vifes:  # set the extension bits so the caller cannot get them wrong
        first |= 0x80
        vifes = tuple(v | 0x80 for v in vifes[:-1]) + (vifes[-1] & 0x7F,)
    else:
        first &= 0x7F
    vib = value_info(first, vifes, plain_text)
    return DataRecord(DataField(field), vib, raw, Function(function), storage, tariff, subunit)
