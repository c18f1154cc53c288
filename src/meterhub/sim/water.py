"""Simulated M-Bus water and gas meters (EN 13757-2/-3), with a valve and a leak alarm.

`WaterMeter` and `GasMeter` are one class, `MBusMeter`, with different defaults:

* a volume register (litres, BCD 8 digits) that grows by integrating a shared flow
  profile (`profiles.py`) times the meter's seeded scale, and really stops while the
  valve is closed; instantaneous flow; the volume at the last month end (storage 1)
  with its date; the meter's clock (type F date-time, seeded drift);
* a valve opened and closed by command (see VALVE COMMAND) or locally;
* a leak alarm (`trigger_leak()` / `clear_leak()`): status byte bits 0-1 = 11
  ("abnormal situation") and bit 0 of the error-flags record. On a water meter it
  also adds a steady leak flow behind the meter; a gas meter with
  `close_on_leak=True` (default) shuts its valve, as gas meters with a detector input do.

Link layer (what it answers):
    SND_NKE (10 40 A CS 16)       -> E5, resets the FCB state (and deselects, at FDh)
    REQ_UD2 (10 5B/7B A CS 16)    -> RSP_UD (CI 72h); FCV set and the same FCB as
                                     last time: the previous RSP_UD again, byte for byte
    REQ_UD1                       -> E5 without an alarm; CI 71h alarm telegram with one
    SND_UD  CI 52h to FDh         -> E5 if the mask matches: the meter is selected;
                                     otherwise it deselects and stays silent
    SND_UD  CI 51h                -> E5; records acted upon: valve, primary address
    SND_UD  CI 50h (app. reset)   -> E5
Addresses: its primary address (0 = factory default), FDh when selected, FEh
(broadcast, answered), FFh (broadcast, not answered: SND_NKE/SND_UD still acted on).

VALVE COMMAND (the M-Bus codec has none; meterhub defines this one):
    SND_UD, CI 51h, one data record: DIF 01 (8-bit integer), VIF FD 1A
    ("digital output", EN 13757-3 table 14), value 00 = close the valve, 01 = open it.
    Build it with snd_ud(address, 0x51, encode_record(record(b"\\xfd\\x1a", 0, DataField.INT8))).
The same record in every RSP_UD reports the valve's state (1 open, 0 closed).
Primary address: SND_UD CI 51h with DIF 01 VIF 7A (bus address) = new address.
"""

from __future__ import annotations

import random
from datetime import date

from meterhub.protocols.mbus import (
    DataField,
    MBusError,
    ShortFrame,
    SingleChar,
    VariableHeader,
    decode_frame,
    decode_records,
    encode_rsp_ud,
    parse_selection,
    record,
    rsp_ud_frame,
)

from .meter import (
    DEFAULT_UTC_OFFSET_S,
    BaseMeter,
    local_datetime,
    month_start,
    next_month_start,
    unit,
)
from .profiles import GAS_HOUSEHOLD, SINGLE, WATER_HOUSEHOLD, Profile, draw_scale, table

ACK = b"\xe5"
FD, FE, FF = 0xFD, 0xFE, 0xFF
CI_SELECT, CI_DATA, CI_RESET, CI_ALARM = 0x52, 0x51, 0x50, 0x71
VIF_VALVE = b"\xfd\x1a"  # digital output: the valve
VIF_ERRORS = b"\xfd\x17"  # error flags
# error-flags bits (manufacturer-defined, documented in docs/simulator.md)
ERR_LEAK = 0x01
ERR_VALVE_BY_ALARM = 0x02
ERR_MAGNET = 0x04
STATUS_ALARM = 0x03  # EN 13757-3 status bits 1..0 = 11: abnormal situation

# _flags bits
_VALVE_CLOSED = 0x01
_LEAK = 0x02
_SELECTED = 0x04
_CLOSED_BY_ALARM = 0x08
_MAGNET = 0x10
_CLOSE_ON_LEAK = 0x20


class MBusMeter(BaseMeter):
    """An M-Bus volume meter with a valve.

    address        primary address "0".."250", or the 8-digit secondary id (primary 0)
    seed           everything random about the meter comes from it
    medium         EN 13757-3 medium code (07 water, 03 gas...)
    ident          8-digit identification (secondary address; default from the seed)
    manufacturer   three letters (default "MHS", a made-up simulator code)
    version        the header's version byte
    profile        flow `Profile` (m3/h); scale: mean flow m3/h (default from the seed)
    leak_m3h       leak flow a water leak adds (default 0.02 m3/h)
    close_on_leak  shut the valve when the leak alarm trips (gas default True)
    """

    __slots__ = ("primary", "ident", "medium", "manufacturer", "version", "_table", "_scale",
                 "_vol", "_true", "_age", "_flags", "_access", "_fcb", "_last", "_due",
                 "_next_settle", "leak_m3h")

    protocol = "mbus"

    def __init__(self, address: str, seed: int, *, medium: int = 0x07,
                 ident: int | None = None, manufacturer: str = "MHS", version: int = 1,
                 profile: Profile | None = None, scale: float | None = None,
                 leak_m3h: float = 0.02, close_on_leak: bool = False,
                 utc_offset_s: int = DEFAULT_UTC_OFFSET_S, clock=None):
        profile = profile or (GAS_HOUSEHOLD if medium == 0x03 else WATER_HOUSEHOLD)
        rng = random.Random(seed)
        super().__init__(str(address), seed, utc_offset_s=utc_offset_s, clock=clock, rng=rng)
        a = str(address)
        if len(a) == 8 and a.isdigit():
            self.primary = 0
            self.ident = int(a)
        elif a.isdigit() and 0 <= int(a) <= 250:
            self.primary = int(a)
            self.ident = ident if ident is not None else rng.randrange(10_000_000, 99_999_999)
            self.address = str(self.primary)
        else:
            raise ValueError(f"M-Bus address is a primary 0..250 or an 8-digit id, got {a!r}")
        self.medium = medium
        self.manufacturer = manufacturer
        self.version = version
        self._table = table(profile, rng.randint(-4, 4), SINGLE)
        self._scale = float(scale) if scale is not None else draw_scale(profile, rng)
        self._age = rng.uniform(30.0, 6 * 365.0)
        self._vol = 0.0
        self._true = 0.0
        self._flags = _CLOSE_ON_LEAK if close_on_leak else 0
        self._access = rng.randrange(256)
        self._fcb: bool | None = None
        self._last: bytes | None = None
        self._due: tuple[float, float] | None = None  # (volume, meter-local time)
        self._next_settle = 0.0
        self.leak_m3h = leak_m3h

    # --- state ---------------------------------------------------------------------------
    @property
    def valve_open(self) -> bool:
        return not self._flags & _VALVE_CLOSED

    @property
    def leak(self) -> bool:
        return bool(self._flags & _LEAK)

    @property
    def selected(self) -> bool:
        return bool(self._flags & _SELECTED)

    @property
    def volume_m3(self) -> float:
        """The register as reported (m3, 1 litre resolution)."""
        return self._litres() / 1000

    @property
    def true_volume_m3(self) -> float:
        return self._true

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def profile_table(self):
        return self._table

    def _litres(self, vol: float | None = None) -> int:
        return int((self._vol if vol is None else vol) * 1000.0) % 100_000_000

    def _start(self, now: float) -> None:
        self._t = now
        self._clk_ref = now
        self._vol = self._scale * self._table.daily_share[0] * self._age
        self._reschedule(now)

    def _reschedule(self, now: float, margin: float = 0.0) -> None:
        local = self.meter_local(now)
        self._next_settle = now + (next_month_start(local + margin) - local)

    def _advance(self, now: float) -> None:
        t = self._t
        if t is None:
            self._start(now)
            return
        if not now > t:
            return
        while self._next_settle <= now:
            nb = self._next_settle
            self._integrate(t, nb)
            self._due = (self._vol, self.meter_local(nb))
            t = nb
            self._reschedule(nb, 86400.0)
        self._integrate(t, now)
        self._t = now

    def _integrate(self, t0: float, t1: float) -> None:
        if self._flags & _VALVE_CLOSED or not t1 > t0:
            return  # a closed valve stops everything, a leak behind it included
        tz = self.utc_offset_s
        sums = self._table.integrate(t0 + tz, t1 + tz, 0)[0]
        flow = self._scale * sums[0]
        if self._flags & _LEAK:
            flow += self.leak_m3h * (t1 - t0) / 3600.0
        self._true += flow
        if self._flags & _MAGNET:
            flow *= 1.0 - self.magnet_effect
        self._vol += flow

    @property
    def magnet_effect(self) -> float:
        u = unit(self.seed, -11)
        return 0.0 if u < 0.5 else 0.5 + 0.5 * (u - 0.5) / 0.5

    def flow_m3h(self, now: float) -> float:
        """Instantaneous flow through the meter at `now`."""
        if self._flags & _VALVE_CLOSED:
            return 0.0
        jitter = 1.0 + (unit(self.seed, int(now // 60)) - 0.5) * 0.1
        f = self._scale * self._table.level(now + self.utc_offset_s) * jitter
        if self._flags & _LEAK:
            f += self.leak_m3h
        if self._flags & _MAGNET:
            f *= 1.0 - self.magnet_effect
        return f

    def _due_value(self) -> tuple[float, float]:
        if self._due is not None:
            return self._due
        local0 = self.meter_local(self._t)
        boundary = month_start(local0)
        days = (local0 - boundary) / 86400.0
        vol = max(0.0, self._vol - self._scale * self._table.daily_share[0] * days)
        return vol, boundary

    # --- telegram ---------------------------------------------------------------------------
    def status_byte(self) -> int:
        return STATUS_ALARM if self._flags & _LEAK else 0

    def error_flags(self) -> int:
        fl = self._flags
        return ((fl & _LEAK and ERR_LEAK) | (fl & _CLOSED_BY_ALARM and ERR_VALVE_BY_ALARM)
                | (fl & _MAGNET and ERR_MAGNET))

    def header(self) -> VariableHeader:
        return VariableHeader(self.ident, self.manufacturer, self.version, self.medium,
                              self._access, self.status_byte())

    def records(self, now: float) -> list:
        due_vol, due_at = self._due_value()
        mt = self.meter_time(now).replace(second=0)
        # the last day of the settled month (the boundary is midnight, give or take drift)
        due = local_datetime(round(due_at / 86400) * 86400 - 86400).date()
        return [
            record(0x13, self._litres(), DataField.BCD8),  # volume, litres
            record(0x3B, min(999_999, int(self.flow_m3h(now) * 1000)), DataField.BCD6),  # l/h
            record(0x6D, mt, DataField.INT32),  # type F date and time
            record(0x13, self._litres(due_vol), DataField.BCD8, storage=1),
            record(0x6C, date(due.year, due.month, due.day), DataField.INT16, storage=1),
            record(VIF_ERRORS, self.error_flags(), DataField.INT8),
            record(VIF_VALVE, 0 if self._flags & _VALVE_CLOSED else 1, DataField.INT8),
        ]

    def rsp_ud(self, now: float) -> bytes:
        """A fresh RSP_UD (the access number moves on)."""
        self._access = (self._access + 1) & 0xFF
        return encode_rsp_ud(self.primary, self.header(), self.records(now))

    # --- the bus ------------------------------------------------------------------------------
    def respond(self, request: bytes, now: float):
        try:
            frame = decode_frame(bytes(request).lstrip(b"\xfe"))
        except (MBusError, TypeError, ValueError, IndexError):
            return None
        if isinstance(frame, SingleChar):
            return None
        c = frame.c
        if not c & 0x40:
            return None  # a slave's frame, not ours to answer
        a = frame.address
        fl = self._flags
        if a == FD:
            # a selection reaches every slave; anything else at FDh only the selected one
            if not fl & _SELECTED and not (c & 0x0F == 0x3 and getattr(frame, "ci", 0) == CI_SELECT):
                return None
        elif a not in (FE, FF) and a != self.primary:
            return None
        if self._silent():
            return None  # a dead meter: it does not act either
        fn = c & 0x0F
        fcv, fcb = bool(c & 0x10), bool(c & 0x20)
        answer = a != FF
        now = float(now)
        self._advance(now)
        if fn == 0x0:  # SND_NKE
            self._fcb = None
            if a == FD:
                self._flags &= ~_SELECTED
            return self._response(ACK) if answer else None
        repeat = fcv and self._fcb is not None and fcb == self._fcb and self._last is not None
        if fn == 0xB:  # REQ_UD2
            if not isinstance(frame, ShortFrame):
                return None
            if repeat:
                return self._response(self._last)
            data = self.rsp_ud(now)
            return self._remember(data, fcv, fcb, answer)
        if fn == 0xA:  # REQ_UD1
            if not isinstance(frame, ShortFrame):
                return None
            if repeat:
                return self._response(self._last)
            if self._flags & _LEAK:
                data = rsp_ud_frame(self.primary, CI_ALARM,
                                    bytes((self.error_flags(),)))
            else:
                data = ACK
            return self._remember(data, fcv, fcb, answer)
        if fn == 0x3:  # SND_UD
            if isinstance(frame, ShortFrame):
                return None  # SND_UD carries a CI field: a short frame is not one
            ci = frame.ci
            if ci == CI_SELECT:
                if a != FD:
                    return None
                return self._select(getattr(frame, "data", b""))
            if repeat:
                return self._response(ACK) if answer else None  # the master missed our E5
            if ci == CI_DATA:
                self._apply(getattr(frame, "data", b""), now)
            elif ci != CI_RESET:
                pass  # other application data: acknowledged at the link layer, ignored
            return self._remember(ACK, fcv, fcb, answer)
        return None

    def _remember(self, data: bytes, fcv: bool, fcb: bool, answer: bool):
        if fcv:
            self._fcb = fcb
            self._last = data
        return self._response(data) if answer else None

    def _select(self, data: bytes):
        try:
            mask = parse_selection(data)
        except MBusError:
            return None
        if mask.matches(self.header()):
            self._flags |= _SELECTED
            self._fcb = None
            return self._response(ACK)
        self._flags &= ~_SELECTED
        return None

    def _apply(self, data: bytes, now: float) -> None:
        try:
            recs = decode_records(data)
        except MBusError:
            return
        for r in recs:
            if r.vib.vif < 0:
                continue  # manufacturer data (DIF 0Fh/1Fh): not ours to act on
            wire = bytes((r.vib.vif,)) + bytes(r.vib.vifes)
            if wire == VIF_VALVE and isinstance(r.raw, int):
                if r.raw & 1:
                    self.open_valve(now)
                else:
                    self.close_valve(now)
            elif r.vib.vif & 0x7F == 0x7A and isinstance(r.raw, int) and 0 <= r.raw <= 250:
                self.primary = r.raw
                self.address = str(r.raw)

    # --- control channel ----------------------------------------------------------------------
    def _at(self, now: float | None) -> float:
        t = self._when(now)
        self._advance(t)
        return t

    def close_valve(self, now: float | None = None) -> None:
        self._at(now)
        self._flags |= _VALVE_CLOSED

    def open_valve(self, now: float | None = None) -> None:
        self._at(now)
        self._flags &= ~(_VALVE_CLOSED | _CLOSED_BY_ALARM)

    def trigger_leak(self, now: float | None = None) -> None:
        self._at(now)
        self._flags |= _LEAK
        if self._flags & _CLOSE_ON_LEAK and not self._flags & _VALVE_CLOSED:
            self._flags |= _VALVE_CLOSED | _CLOSED_BY_ALARM

    def clear_leak(self, now: float | None = None) -> None:
        """The alarm input goes quiet; a valve the alarm shut stays shut until opened."""
        self._at(now)
        self._flags &= ~_LEAK

    def apply_magnet(self, now: float | None = None) -> None:
        self._at(now)
        self._flags |= _MAGNET

    def remove_magnet(self, now: float | None = None) -> None:
        self._at(now)
        self._flags &= ~_MAGNET

    def set_clock_offset(self, seconds: float, now: float | None = None) -> None:
        super().set_clock_offset(seconds, now)
        if self._t is not None:
            self._reschedule(self._t)

    def replace(self, new_address: str, now: float | None = None) -> None:
        """A new meter in the same place: new primary address (or new 8-digit id with
        primary 0), volume from zero, valve open, no alarm, clock right."""
        t = self._at(now)
        a = str(new_address)
        if len(a) == 8 and a.isdigit():
            self.ident, self.primary = int(a), 0
        elif a.isdigit() and 0 <= int(a) <= 250:
            self.primary = int(a)
            self.ident = 10_000_000 + int(unit(self.seed, int(t)) * 89_999_999)
        else:
            raise ValueError("M-Bus address is a primary 0..250 or an 8-digit id")
        self.address = a
        self._vol = 0.0
        self._age = 0.0
        self._due = None
        self._flags &= _CLOSE_ON_LEAK
        self._fcb = None
        self._last = None
        self._clk_off = 0.0
        self._clk_ref = t
        self._reschedule(t)

    def status(self) -> dict:
        """The meter's state at a glance (JSON-ready), for the control channel."""
        t = self._t
        return {
            "primary": self.primary, "ident": f"{self.ident:08d}", "valve_open": self.valve_open,
            "leak": self.leak, "selected": self.selected, "magnet": bool(self._flags & _MAGNET),
            "error_flags": self.error_flags(), "volume_m3": self.volume_m3,
            "clock_error_s": None if t is None else round(self.clock_error(t), 1),
        }

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.address!r}, id={self.ident:08d}, "
                f"medium={self.medium:02X}, scale={self._scale:.4f} m3/h)")


class WaterMeter(MBusMeter):
    """M-Bus water meter (medium 07h, household water profile, valve)."""

    __slots__ = ()

    def __init__(self, address: str, seed: int, *, medium: int = 0x07,
                 ident: int | None = None, manufacturer: str = "MHS", version: int = 1,
                 profile: Profile | None = None, scale: float | None = None,
                 leak_m3h: float = 0.02, close_on_leak: bool = False,
                 utc_offset_s: int = DEFAULT_UTC_OFFSET_S, clock=None):
        super().__init__(address, seed, medium=medium, ident=ident, manufacturer=manufacturer,
                         version=version, profile=profile or WATER_HOUSEHOLD, scale=scale,
                         leak_m3h=leak_m3h, close_on_leak=close_on_leak,
                         utc_offset_s=utc_offset_s, clock=clock)


class GasMeter(MBusMeter):
    """M-Bus gas meter (medium 03h, gas profile with winter heating, valve that the
    leak alarm shuts)."""

    __slots__ = ()

    def __init__(self, address: str, seed: int, *, medium: int = 0x03,
                 ident: int | None = None, manufacturer: str = "MHS", version: int = 1,
                 profile: Profile | None = None, scale: float | None = None,
                 leak_m3h: float = 0.0, close_on_leak: bool = True,
                 utc_offset_s: int = DEFAULT_UTC_OFFSET_S, clock=None):
        super().__init__(address, seed, medium=medium, ident=ident, manufacturer=manufacturer,
                         version=version, profile=profile or GAS_HOUSEHOLD, scale=scale,
                         leak_m3h=leak_m3h, close_on_leak=close_on_leak,
                         utc_offset_s=utc_offset_s, clock=clock)


__all__ = ["ERR_LEAK", "ERR_MAGNET", "ERR_VALVE_BY_ALARM", "STATUS_ALARM", "VIF_VALVE",
           "GasMeter", "MBusMeter", "WaterMeter"]
