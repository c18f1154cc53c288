"""Simulated DL/T 645 electricity meters (2007 and 1997, single and three phase).

One class, `ElectricityMeter`, plays a static electronic meter with:

* energy registers per tariff (1 sharp, 2 peak, 3 flat, 4 valley, by the *meter's*
  clock and a `TouSchedule`) that grow by integrating a shared load profile
  (`profiles.py`) times the meter's seeded scale; the total is always the sum of the
  tariff registers as the meter reports them (each truncated to 0.01 kWh);
* the previous 12 settlement periods (frozen at the meter's month end) and max demand
  (15-minute blocks) with its time, per tariff;
* instantaneous voltage, current, active/reactive/apparent power, power factor, phase
  angle (per phase on three-phase meters), neutral current, grid frequency;
* a clock with a seeded drift of a few ppm, settable far off;
* a relay (2007 control code 1C with password, operator code and valid-until checks)
  that really cuts the load: power and current go to zero and the registers stop;
* status words 1-7 (relay open, trip commanded, pre-trip alarm, power hold, covers);
* meter-cover-open and terminal-cover-open event counts and records (03300D00..,
  03300E00..), and the smart seal chip as the vendor-extension seal item;
* theft: a bypass (the load keeps flowing, the register under-counts by the fraction)
  and a magnet (meters that are not immune under-count).

See docs/simulator.md for every frame it answers and how.
"""

from __future__ import annotations

import math
import random
from array import array
from datetime import datetime, time

from meterhub.protocols.dlt645 import (
    BROADCAST,
    Ack,
    AddressReply,
    BaudReply,
    BroadcastTime,
    ChangeBaud,
    ChangePassword,
    ClearDemand,
    ClearEvent,
    ClearMeter,
    Dlt645Error,
    ErrorReply,
    Freeze,
    PasswordReply,
    Read,
    ReadAddress,
    ReadFollowUp,
    ReadReply,
    RelayAction,
    RelayControl,
    Reread,
    Write,
    WriteAddress,
    decode_frame,
    item_table,
    parse_request,
)
from meterhub.protocols.dlt645.seal import DEFAULT_SEAL_SPEC, SealItemSpec

from .meter import (
    DEFAULT_UTC_OFFSET_S,
    BaseMeter,
    local_datetime,
    local_seconds,
    month_start,
    next_month_start,
    unit,
)
from .profiles import CN_4, HOUSEHOLD, SHOP, Profile, TouSchedule, draw_scale, table
from .seal_chip import SealChip, asset_number_for

# ERR bits of abnormal replies
ERR_OTHER = 0x01  # 2007 "other error"; 1997 "illegal data"
ERR_NO_DATA = 0x02  # 2007 "no requested data"; 1997 "data identifier wrong"
ERR_AUTH = 0x04  # both: "password wrong / not authorised"
ERR_BAUD = 0x08  # 2007 "baud rate cannot be changed"

# _flags bits
F_RELAY_OPEN = 0x001
F_TRIP_CMD = 0x002
F_ALARM = 0x004
F_HOLD = 0x008
F_MANUAL_CLOSE = 0x010  # model: "close allowed" (1B) waits for the customer's button
F_CLOSE_PENDING = 0x020
F_COVER = 0x040
F_TCOVER = 0x080
F_MAGNET = 0x100

_OWN, _WILD, _BCAST = 1, 2, 3
_DEFAULT_PW = {2: "000000"}
_CENTS_WRAP = 10**8  # registers roll over after 999999.99 kWh
_SYNC_WINDOW_S = 300  # broadcast time sync corrects at most 5 minutes...
LOCKOUT_AFTER = 3  # ...and wrong passwords lock the meter for the rest of its day
NOMINAL_V = 220.0


_E97 = (0x901, 0x902, 0x911, 0x912, 0x941, 0x942, 0x951, 0x952)  # 1997 energy groups


class _NoData(Exception):
    pass


def _cents(kwh: float) -> int:
    return int(kwh * 100.0) % _CENTS_WRAP


def _kwh_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _fmt(value: float, decimals: int, limit: float) -> str:
    v = max(-limit, min(limit, value))
    return f"{v:.{decimals}f}"


class ElectricityMeter(BaseMeter):
    """A DL/T 645 electricity meter.

    address       12 digits, as on the nameplate
    seed          everything random about the meter comes from it
    phases        1 or 3
    protocol      "dlt645_2007" (default) or "dlt645_1997"
    profile       a `Profile` (default: HOUSEHOLD for single phase, SHOP for three phase)
    scale         mean load in kW (default: drawn from the profile and the seed)
    schedule      `TouSchedule` (default CN_4)
    password, password_level   the write/relay password (default level 02, "000000")
    operators     operator codes accepted (None: any, as most meters)
    seal_spec     `SealItemSpec` of the model (None: the meter has no seal chip)
    seal_asset    the chip's asset number (default: from the seed)
    manual_close  "close allowed" (1C action 1B) waits for press_button()
    utc_offset_s  the meter's local time zone (default +8 h)
    clock         a SimClock used by control methods called without `now`
    """

    __slots__ = ("_v", "phases", "_table", "_items", "_scale", "_energy", "_true", "_age",
                 "_t0", "_next_settle", "_hist", "_md", "_flags", "_bypass", "_events",
                 "_seal", "_pw", "_operators", "_last", "_sync_day", "_bad_pw", "_lock_day",
                 "_baud")

    ignores_other_addresses = True  # _match(): its own address, wildcards and broadcasts only

    def __init__(self, address: str, seed: int, *, phases: int = 1,
                 protocol: str = "dlt645_2007", profile: Profile | None = None,
                 scale: float | None = None, schedule: TouSchedule = CN_4,
                 password: str = "000000", password_level: int = 2,
                 operators: tuple[str, ...] | None = None,
                 seal_spec: SealItemSpec | None = DEFAULT_SEAL_SPEC,
                 seal_asset: str | None = None, manual_close: bool = False,
                 utc_offset_s: int = DEFAULT_UTC_OFFSET_S, clock=None):
        if len(address) != 12 or not address.isdigit():
            raise ValueError(f"a DL/T 645 address is 12 digits, got {address!r}")
        if phases not in (1, 3):
            raise ValueError("phases must be 1 or 3")
        if protocol not in ("dlt645_2007", "dlt645_1997"):
            raise ValueError(f"unknown protocol {protocol!r}")
        rng = random.Random(seed)
        super().__init__(address, seed, utc_offset_s=utc_offset_s, clock=clock, rng=rng)
        self._v = protocol[-4:]
        self.phases = phases
        profile = profile or (HOUSEHOLD if phases == 1 else SHOP)
        self._table = table(profile, rng.randint(-4, 4), schedule)
        self._scale = float(scale) if scale is not None else draw_scale(profile, rng)
        self._age = rng.uniform(30.0, 8 * 365.0)  # days in service before the simulation
        if self._v == "1997":
            seal_spec = None  # 1997 meters predate the chips
        self._items = item_table(self._v, seal_spec) if self._v == "2007" else item_table("1997")
        self._seal = None
        if seal_spec is not None:
            self._seal = SealChip(seal_asset or asset_number_for(self.seed, seal_spec))
        self._energy = array("d", bytes(32))
        self._true = 0.0
        self._t0 = 0.0
        self._next_settle = 0.0
        self._hist: array | None = None
        self._md: array | None = None
        self._flags = F_MANUAL_CLOSE if manual_close else 0
        self._bypass = 0.0
        self._events: list | None = None
        if password == "000000" and password_level == 2:
            self._pw = _DEFAULT_PW
        else:
            self._pw = {password_level: password}
        self._operators = tuple(operators) if operators is not None else None
        self._last: bytes | None = None
        self._sync_day = -1
        self._bad_pw = 0
        self._lock_day = -1
        self._baud = 2400

    # --- identity -------------------------------------------------------------------------
    @property
    def protocol(self) -> str:
        return "dlt645_" + self._v

    @property
    def version(self) -> str:
        return self._v

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def profile_table(self):
        return self._table

    @property
    def seal(self) -> SealChip | None:
        return self._seal

    @property
    def seal_spec(self) -> SealItemSpec | None:
        return self._items.seal

    def _preamble(self) -> int:
        u = unit(self.seed, -7)
        return 4 if u < 0.7 else 2 if u < 0.8 else 0

    # --- evolution -------------------------------------------------------------------------
    def _factor(self) -> float:
        """Share of the real load the meter registers."""
        if self._flags & F_RELAY_OPEN:
            return 0.0
        f = 1.0 - self._bypass
        if self._flags & F_MAGNET:
            f *= 1.0 - self.magnet_effect
        return f

    @property
    def magnet_effect(self) -> float:
        """How much a magnet makes this meter under-count (0 = immune; seeded)."""
        u = unit(self.seed, -11)
        return 0.0 if u < 0.4 else 0.3 + 0.7 * (u - 0.4) / 0.6

    def _start(self, now: float) -> None:
        self._t = self._t0 = now
        self._clk_ref = now
        share = self._table.daily_share
        for k in range(4):
            self._energy[k] = self._scale * share[k] * self._age
        self._reschedule(now)

    def _reschedule(self, now: float, margin: float = 0.0) -> None:
        """When (true time) the meter's clock next reaches a month start. `margin`
        skips a boundary just settled (drift moves it by seconds over a month)."""
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
            self._settle(nb)
            t = nb
            self._reschedule(nb, 86400.0)
        self._integrate(t, now)
        self._t = now

    def _integrate(self, t0: float, t1: float) -> None:
        if self._flags & F_RELAY_OPEN or not t1 > t0:
            return  # nothing flows through an open relay
        err = self.clock_error(t0)
        tz = self.utc_offset_s
        sums, mx, mxt = self._table.integrate(t0 + tz, t1 + tz, round(err / 900.0))
        sc = self._scale
        self._true += sc * (sums[0] + sums[1] + sums[2] + sums[3])
        f = self._factor()
        if f <= 0.0:
            return
        e = self._energy
        g = sc * f
        md = self._md
        if md is None:
            md = self._md = array("d", bytes(80))
        for k in range(4):
            e[k] += g * sums[k]
            v = g * mx[k]
            if v > md[k + 1]:
                md[k + 1] = v
                md[k + 6] = mxt[k] + err
                if v > md[0]:
                    md[0] = v
                    md[5] = mxt[k] + err

    def _settle(self, tb: float) -> None:
        """Month end by the meter's clock: freeze energy and demand into settlement -1."""
        snap = array("d", self._energy)
        snap.extend(self._md if self._md is not None else array("d", bytes(80)))
        h = self._hist
        if h is None:
            h = self._hist = array("d")
        h[0:0] = snap
        del h[12 * 14:]
        self._md = None

    # --- register views ---------------------------------------------------------------------
    def tariff_cents(self, period: int = 0) -> tuple[int, int, int, int]:
        """The four tariff registers as the meter reports them, in 0.01 kWh."""
        if period == 0:
            e = self._energy
            return (_cents(e[0]), _cents(e[1]), _cents(e[2]), _cents(e[3]))
        return tuple(_cents(v) for v in self._period(period)[:4])

    def total_cents(self, period: int = 0) -> int:
        return sum(self.tariff_cents(period)) % _CENTS_WRAP

    @property
    def energy_kwh(self) -> float:
        """Total forward active energy as reported (kWh, 0.01 resolution)."""
        return self.total_cents() / 100

    @property
    def true_energy_kwh(self) -> float:
        """Energy that really flowed since the simulation started (what a bypass steals from)."""
        return self._true

    def _period(self, p: int):
        """Settlement period p (1 = last month end): 4 energies + 10 demand values."""
        h = self._hist
        n = 0 if h is None else len(h) // 14
        if p <= n:
            return h[(p - 1) * 14: p * 14]
        if self._t is None:
            raise _NoData
        # before the simulation: extrapolate back from the registers at the start
        j = p - n
        t0 = self._t0
        local0 = self.meter_local(t0)
        boundary = month_start(local0, j - 1)
        days = (local0 - boundary) / 86400.0
        share = self._table.daily_share
        sc = self._scale
        energies = [max(0.0, sc * share[k] * (self._age - days)) for k in range(4)]
        if self._age <= days:
            return energies + [0.0] * 10
        peak = sc * max(max(self._table.day(d, 0)[1]) for d in range(3)) * 0.9
        when = month_start(boundary, 1) + 17 * 86400 + 19.75 * 3600
        return energies + [peak, peak * 0.5, peak * 0.8, peak * 0.6, peak * 0.3,
                           when, when - 2 * 86400, when - 86400 + 3 * 3600, when + 3600,
                           when - 3 * 86400 - 16 * 3600]

    def _demand(self, t: int, p: int) -> tuple[float, float]:
        if p == 0:
            md = self._md
            if md is None:
                return 0.0, 0.0
            return md[t], md[5 + t]
        row = self._period(p)
        return row[4 + t], row[9 + t]

    # --- instantaneous values ----------------------------------------------------------------
    def power_kw(self, now: float) -> float:
        """Active power the meter measures at `now` (0 with the relay open)."""
        f = self._factor()
        if f <= 0.0:
            return 0.0
        minute = int(now // 60)
        jitter = 1.0 + (unit(self.seed, minute) - 0.5) * 0.06
        return self._scale * self._table.level(now + self.utc_offset_s) * jitter * f

    @property
    def power_factor(self) -> float:
        return 0.85 + 0.13 * unit(self.seed, -3)

    def _phases(self, now: float):
        """Per phase (U, I, P, Q, S, pf), plus frequency."""
        p = self.power_kw(now)
        minute = int(now // 60)
        level = self._table.level(now + self.utc_offset_s)
        pf = self.power_factor if p > 0.0 else 1.0
        tan = math.tan(math.acos(pf))
        if self.phases == 1:
            weights = (1.0,)
        else:
            w = [1.0 + (unit(self.seed, 200 + k) - 0.5) * 0.4 for k in range(3)]
            s = sum(w)
            weights = tuple(x / s for x in w)
        out = []
        for k, wk in enumerate(weights):
            dev = (unit(self.seed, 100 + k) - 0.5) * 0.06
            u = NOMINAL_V * (1.0 + dev - 0.01 * (min(level, 3.0) - 1.0))
            u += (unit(self.seed, minute * 7 + k) - 0.5) * 0.8
            pk = p * wk
            ik = pk * 1000.0 / (u * pf) if pk > 0 else 0.0
            out.append((u, ik, pk, pk * tan, pk / pf if pk > 0 else 0.0, pf))
        return out

    @staticmethod
    def frequency(now: float) -> float:
        """The grid's frequency: the same for every meter at a given minute."""
        return 50.0 + (unit(0, int(now // 60)) - 0.5) * 0.1

    # --- the bus -------------------------------------------------------------------------------
    def _match(self, a: str) -> int:
        if a == self.address:
            return _OWN
        if a == BROADCAST:
            return _BCAST
        if "A" in a:
            own = self.address
            for i in range(0, 12, 2):
                x = a[i:i + 2]
                if x != "AA" and x != own[i:i + 2]:
                    return 0
            return _WILD
        return 0

    def respond(self, request: bytes, now: float):
        try:
            frame = decode_frame(request)
        except Dlt645Error:
            return None  # garbled: a meter ignores what it cannot frame
        except (TypeError, IndexError, ValueError):
            return None
        if frame.control & 0x80:
            return None  # another meter's reply
        mode = self._match(frame.address)
        if not mode or self._silent():
            return None  # not for us; or a dead meter, which does not act either
        v = self._v
        fn = frame.control & 0x1F
        try:
            req = parse_request(frame, v)
        except Dlt645Error:
            if mode != _OWN or frame.control & 0x60:
                return None
            return self._send(ErrorReply(self.address, fn, ERR_OTHER, v))
        if isinstance(req, Reread):
            if mode != _OWN:
                return None
            if self._last is None:
                return self._send(ErrorReply(self.address, fn, ERR_NO_DATA, v))
            return self._response(self._last)
        now = float(now)
        self._advance(now)
        if mode == _BCAST:
            if isinstance(req, BroadcastTime):
                self._broadcast_time(req, now)
                return None
            if isinstance(req, WriteAddress) and v == "1997":
                return self._send(self._write_address(req, now))
            return None  # broadcast freeze and others: done, never answered
        if mode == _WILD and not isinstance(req, Read | ReadAddress | WriteAddress):
            return None
        try:
            reply = self._handle(req, fn, now)
        except Dlt645Error:
            reply = ErrorReply(self.address, fn, ERR_OTHER, v)
        return self._send(reply)

    def _send(self, reply):
        if reply is None:
            return None
        data = reply.encode(self._preamble())
        if self._v == "1997":
            self._last = data
        return self._response(data)

    def _err(self, fn: int, err: int):
        return ErrorReply(self.address, fn, err, self._v)

    def _handle(self, req, fn: int, now: float):
        v = self._v
        if isinstance(req, Read):
            if req.count is not None or req.since is not None:
                return self._err(fn, ERR_NO_DATA)  # no load-profile records kept
            try:
                data = self._read_data(req.di, now)
            except _NoData:
                return self._err(fn, ERR_NO_DATA)
            return ReadReply(self.address, req.di, data, version=v)
        if isinstance(req, ReadAddress):
            return AddressReply(self.address, v)
        if isinstance(req, ReadFollowUp):
            return self._err(fn, ERR_NO_DATA)  # every reply fits one frame
        if isinstance(req, Write):
            return self._write(req, fn, now)
        if isinstance(req, WriteAddress):
            return self._write_address(req, now)
        if isinstance(req, RelayControl):
            return self._relay(req, fn, now)
        if isinstance(req, Freeze):
            return Ack(self.address, fn, v)
        if isinstance(req, ChangeBaud):
            if req.baud not in (1200, 2400, 4800, 9600):
                return self._err(fn, ERR_BAUD if v == "2007" else ERR_OTHER)
            self._baud = req.baud
            return BaudReply(self.address, req.baud, v)
        if isinstance(req, ChangePassword):
            if not self._auth(req.old_level, req.old_password, None, now):
                return self._err(fn, ERR_AUTH)
            if req.new_level < req.old_level:
                return self._err(fn, ERR_AUTH)  # cannot grant more than one holds
            pw = dict(self._pw)
            pw[req.new_level] = req.new_password
            self._pw = pw
            return PasswordReply(self.address, req.new_level, req.new_password, v)
        if isinstance(req, ClearDemand | ClearMeter | ClearEvent):
            operator = req.operator if v == "2007" else None  # 1997 frames carry none
            if not self._auth(req.password_level, req.password, operator, now):
                return self._err(fn, ERR_AUTH)
            if isinstance(req, ClearDemand):
                self._md = None
            elif isinstance(req, ClearMeter):
                self._clear_meter()
            else:
                if req.di == 0xFFFFFFFF:
                    self._events = None
                elif req.di in (0x03300D00, 0x03300E00) or req.di in (0x03300DFF, 0x03300EFF):
                    if self._events is not None:
                        i = 0 if req.di >> 8 & 0xFF == 0x0D else 2
                        self._events[i] = 0
                        self._events[i + 1] = []
                else:
                    return self._err(fn, ERR_OTHER)
            return Ack(self.address, fn, v)
        return self._err(fn, ERR_OTHER)

    # --- authorisation ----------------------------------------------------------------------
    def _auth(self, level: int, password: str, operator: str | None, now: float) -> bool:
        """Password (and operator code, if the meter keeps a list) check. LOCKOUT_AFTER
        wrong passwords lock the meter until its midnight, right password or not."""
        day = int(self.meter_local(now) // 86400)
        if self._lock_day != day:
            self._lock_day = day
            self._bad_pw = 0
        if self._bad_pw >= LOCKOUT_AFTER:
            return False
        if self._pw.get(level) != password:
            self._bad_pw += 1
            return False
        return operator is None or self._operators is None or operator in self._operators

    @property
    def locked(self) -> bool:
        """True while wrong passwords have locked the meter (until its midnight)."""
        return (self._t is not None and self._bad_pw >= LOCKOUT_AFTER
                and self._lock_day == int(self.meter_local(self._t) // 86400))

    # --- commands ------------------------------------------------------------------------------
    def _relay(self, req: RelayControl, fn: int, now: float):
        if not self._auth(req.password_level, req.password, req.operator, now):
            return self._err(fn, ERR_AUTH)
        if req.valid_until < self.meter_time(now):
            return self._err(fn, ERR_OTHER)  # the command expired (by the meter's clock)
        a = req.action
        fl = self._flags
        if a == RelayAction.TRIP:
            if fl & F_HOLD:
                return self._err(fn, ERR_OTHER)  # power hold: no trip
            fl |= F_RELAY_OPEN | F_TRIP_CMD
            fl &= ~F_CLOSE_PENDING
        elif a == RelayAction.CLOSE_ALLOWED:
            fl &= ~F_TRIP_CMD
            if fl & F_MANUAL_CLOSE and fl & F_RELAY_OPEN:
                fl |= F_CLOSE_PENDING
            else:
                fl &= ~F_RELAY_OPEN
        elif a == RelayAction.DIRECT_CLOSE:
            fl &= ~(F_TRIP_CMD | F_RELAY_OPEN | F_CLOSE_PENDING)
        elif a == RelayAction.ALARM:
            fl |= F_ALARM
        elif a == RelayAction.ALARM_RELEASE:
            fl &= ~F_ALARM
        elif a == RelayAction.POWER_HOLD:
            fl |= F_HOLD
            fl &= ~(F_TRIP_CMD | F_RELAY_OPEN | F_CLOSE_PENDING)
        elif a == RelayAction.POWER_HOLD_RELEASE:
            fl &= ~F_HOLD
        self._flags = fl
        return Ack(self.address, fn, self._v)

    def _write(self, req: Write, fn: int, now: float):
        if not self._auth(req.password_level, req.password,
                          req.operator if self._v == "2007" else None, now):
            return self._err(fn, ERR_AUTH)
        di = req.di
        cur = self.meter_time(now)
        date_di, time_di = (0x04000101, 0x04000102) if self._v == "2007" else (0xC010, 0xC011)
        if di not in (date_di, time_di):
            return self._err(fn, ERR_OTHER)  # read-only or unknown here
        item = self._items.get(di)
        if item is None or len(req.data) != item.fmt.size:
            return self._err(fn, ERR_OTHER)
        value = item.fmt.decode(req.data)
        if value is None:
            return self._err(fn, ERR_OTHER)
        if di == date_di:
            new = datetime.combine(value, cur.time())
        else:
            new = datetime.combine(cur.date(), value if isinstance(value, time) else value.time())
        self._set_meter_time(local_seconds(new), now)
        self._reschedule(now)
        return Ack(self.address, fn, self._v)

    def _write_address(self, req: WriteAddress, now: float):
        new = req.new_address
        if len(new) != 12 or not new.isdigit():
            return self._err(0x15 if self._v == "2007" else 0x0A, ERR_OTHER)
        self.address = new
        return Ack(new, 0x15 if self._v == "2007" else 0x0A, self._v)

    def _broadcast_time(self, req: BroadcastTime, now: float) -> None:
        """Accepted once per meter day and only within +-5 minutes, as meters do: a
        clock further off needs a password write of date and time."""
        local = self.meter_local(now)
        day = int(local // 86400)
        delta = local_seconds(req.time) - local
        if abs(delta) > _SYNC_WINDOW_S or self._sync_day == day:
            return
        self._set_meter_time(local_seconds(req.time), now)
        self._sync_day = day
        self._reschedule(now)

    def _clear_meter(self) -> None:
        self._energy = array("d", bytes(32))
        self._md = None
        self._hist = None
        self._events = None
        self._age = 0.0

    # --- reads -------------------------------------------------------------------------------
    def _read_data(self, di: int, now: float) -> bytes:
        items = self._items
        item = items.items.get(di)
        if item is not None:
            return item.fmt.encode(self._value(di, now))
        elements = items.block(di)
        if not elements:
            raise _NoData
        parts = []
        size = 0
        for e in elements:
            try:
                raw = e.fmt.encode(self._value(e.di, now))
            except _NoData:
                break
            if size + len(raw) > 196:
                break
            parts.append(raw)
            size += len(raw)
        if not parts:
            raise _NoData
        return b"".join(parts)

    def _value(self, di: int, now: float):
        if self._v == "1997":
            return self._value_1997(di, now)
        seal = self._items.seal
        if seal is not None and di == seal.di and self._seal is not None:
            return self._seal.status(seal)
        top = di >> 24
        if top == 0x00:
            kind, t, p = di >> 16 & 0xFF, di >> 8 & 0xFF, di & 0xFF
            if t > 4 or p > 12 or kind > 8:
                raise _NoData
            return self._energy_text(kind, t, p)
        if top == 0x01:
            kind, t, p = di >> 16 & 0xFF, di >> 8 & 0xFF, di & 0xFF
            if t > 4 or p > 12 or not 1 <= kind <= 8:
                raise _NoData
            if kind != 1:
                return {"demand": "0", "time": None}
            v, at = self._demand(t, p)
            return {"demand": _fmt(v, 4, 99.9999),
                    "time": None if not at else self._dt(at)}
        if top == 0x02:
            return self._instant(di, now)
        if di & 0xFFFFFF00 in (0x03300D00, 0x03300E00):
            return self._cover_value(0 if di >> 8 & 0xFF == 0x0D else 2, di & 0xFF)
        if di == 0x04000101:
            return self.meter_time(now)
        if di == 0x04000102:
            return self.meter_time(now).time()
        if di in (0x04000401, 0x04000402):
            return self.address
        if di == 0x04000403:
            return f"MH-{self.address}"
        if di in (0x04000409, 0x0400040A):
            return 1200 if self.phases == 1 else 400
        if 0x04000501 <= di <= 0x04000507:
            return self._status_word(di & 0xF)
        raise _NoData

    def _energy_text(self, kind: int, t: int, p: int) -> str:
        if kind in (2, 4, 6, 7, 8):
            return "0.00"  # no export, no capacitive load
        if p == 0:
            e = self._energy
            vals = (e[0], e[1], e[2], e[3])
        else:
            vals = tuple(self._period(p)[:4])
        if kind in (3, 5):
            tan = math.tan(math.acos(self.power_factor))
            vals = tuple(x * tan for x in vals)
        cents = [_cents(x) for x in vals]
        return _kwh_text(sum(cents) % _CENTS_WRAP if t == 0 else cents[t - 1])

    def _dt(self, local_s: float) -> datetime:
        return local_datetime(local_s)

    def _instant(self, di: int, now: float):
        if di >> 16 == 0x0280:
            n = di & 0xFFFF
            if n == 1:
                ph = self._phases(now)
                if len(ph) == 1:
                    return _fmt(ph[0][1], 3, 799.999)
                a, b, c = (x[1] for x in ph)
                return _fmt(math.sqrt(max(0.0, a * a + b * b + c * c - a * b - b * c - c * a)),
                            3, 799.999)
            if n == 2:
                return _fmt(self.frequency(now), 2, 99.99)
            if n in (3, 4):
                return _fmt(self.power_kw(now), 4, 79.9999)
            if n == 5:
                return _fmt(self.power_kw(now) * math.tan(math.acos(self.power_factor)), 4,
                            79.9999)
            if n == 7:
                hour = (self.meter_local(now) % 86400) / 3600
                return _fmt(24.0 + 6.0 * math.cos(2 * math.pi * (hour - 15) / 24)
                            + 2.0 * self._table.level(now + self.utc_offset_s), 1, 799.9)
            if n == 8:
                return _fmt(3.60 - 0.02 * (self._age / 365.0), 2, 99.99)
            if n == 0x0A:
                return 0
            raise _NoData
        q = di >> 16 & 0xFF
        idx = di >> 8 & 0xFF
        if di & 0xFF or not 1 <= q <= 7:
            raise _NoData
        ph = self._phases(now)
        if q in (1, 2, 7):
            if not 1 <= idx <= len(ph):
                raise _NoData
            u, i, _p, _q, _s, pf = ph[idx - 1]
            if q == 1:
                return _fmt(u, 1, 999.9)
            if q == 2:
                return _fmt(i, 3, 799.999)
            return _fmt(math.degrees(math.acos(pf)), 1, 999.9)
        if idx > len(ph):
            raise _NoData
        col = {3: 2, 4: 3, 5: 4}.get(q)
        if col is not None:
            v = sum(x[col] for x in ph) if idx == 0 else ph[idx - 1][col]
            return _fmt(v, 4, 79.9999)
        pf = ph[0][5] if idx == 0 else ph[idx - 1][5]
        return _fmt(pf, 3, 1.0)

    def _status_word(self, n: int) -> int:
        fl = self._flags
        if n == 3:
            return ((fl & F_RELAY_OPEN and 1 << 4) | (fl & F_TRIP_CMD and 1 << 6)
                    | (fl & F_ALARM and 1 << 7) | (fl & F_HOLD and 1 << 12))
        if n == 7:
            return (fl & F_COVER and 1 << 9) | (fl & F_TCOVER and 1 << 10)
        return 0

    def _cover_value(self, i: int, n: int):
        ev = self._events
        if n == 0:
            return 0 if ev is None else ev[i]
        if n > 10:
            raise _NoData
        recs = [] if ev is None else ev[i + 1]
        tan = math.tan(math.acos(self.power_factor))
        if n > len(recs):
            start = end = None
            before = after = 0
        else:
            start_s, end_s, before, after = recs[n - 1]
            start = self._dt(start_s)
            end = self._dt(end_s) if end_s else None
            if after < 0:
                after = 0
        out = {"start": start, "end": end}
        for when, c in (("before", before), ("after", after)):
            out[f"forward_active_{when}"] = _kwh_text(int(c))
            out[f"reverse_active_{when}"] = "0.00"
            out[f"q1_reactive_{when}"] = _kwh_text(int(c * tan) % _CENTS_WRAP)
            for q in (2, 3, 4):
                out[f"q{q}_reactive_{when}"] = "0.00"
        return out

    def _value_1997(self, di: int, now: float):
        hi, t = di >> 4, di & 0xF
        if hi in _E97:
            if t > 4:
                raise _NoData
            kind = {0x901: 1, 0x902: 2, 0x911: 5, 0x912: 2}[hi & ~0x040]
            return self._energy_text(kind, t, 1 if hi & 0x040 else 0)
        if hi >> 8 in (0xA, 0xB) and (hi - (0x100 if hi >> 8 == 0xA else 0x200)) in _E97:
            if t > 4:
                raise _NoData
            ehi = hi - (0x100 if hi >> 8 == 0xA else 0x200)
            v, at = self._demand(t, 1 if ehi & 0x040 else 0) if ehi & ~0x040 == 0x901 else (0, 0)
            if hi >> 8 == 0xA:
                return _fmt(v, 4, 99.9999)
            return self._dt(at).strftime("%m-%dT%H:%M") if at else "00-00T00:00"
        if di in (0xB611, 0xB612, 0xB613, 0xB621, 0xB622, 0xB623):
            ph = self._phases(now)
            k = (di & 0xF) - 1
            if k >= len(ph):
                raise _NoData
            return str(round(ph[k][0])) if di >> 4 == 0xB61 else _fmt(ph[k][1], 2, 99.99)
        if 0xB630 <= di <= 0xB653 and di & 0xF <= 3 and di >> 4 in (0xB63, 0xB64, 0xB65):
            ph = self._phases(now)
            idx = di & 0xF
            if idx > len(ph):
                raise _NoData
            g = di >> 4
            if g == 0xB65:
                return _fmt(ph[0][5] if idx == 0 else ph[idx - 1][5], 3, 1.0)
            col = 2 if g == 0xB63 else 3
            v = sum(x[col] for x in ph) if idx == 0 else ph[idx - 1][col]
            return _fmt(v, 4 if g == 0xB63 else 2, 79.9999 if g == 0xB63 else 99.99)
        if di == 0xC010:
            return self.meter_time(now)
        if di == 0xC011:
            return self.meter_time(now).time()
        if di in (0xC020, 0xC021):
            return 0
        if di in (0xC030, 0xC031):
            return 1200 if self.phases == 1 else 400
        if di in (0xC032, 0xC033, 0xC034):
            return self.address
        raise _NoData

    # --- control channel ------------------------------------------------------------------
    def _at(self, now: float | None) -> float:
        t = self._when(now)
        self._advance(t)
        return t

    def trip(self, now: float | None = None) -> None:
        """Open the relay locally (e.g. a prepaid meter out of credit)."""
        self._at(now)
        self._flags |= F_RELAY_OPEN | F_TRIP_CMD

    def close_relay(self, now: float | None = None) -> None:
        self._at(now)
        self._flags &= ~(F_RELAY_OPEN | F_TRIP_CMD | F_CLOSE_PENDING)

    def press_button(self, now: float | None = None) -> None:
        """The customer presses the meter's button: closes a relay left 'close allowed'."""
        self._at(now)
        if self._flags & F_CLOSE_PENDING:
            self._flags &= ~(F_RELAY_OPEN | F_CLOSE_PENDING)

    @property
    def relay_open(self) -> bool:
        return bool(self._flags & F_RELAY_OPEN)

    def _event(self, i: int, opening: bool, t: float) -> None:
        local = self.meter_local(t)
        cents = float(self.total_cents())
        ev = self._events
        if ev is None:
            ev = self._events = [0, [], 0, []]
        if opening:
            ev[i] = min(ev[i] + 1, 999999)
            ev[i + 1].insert(0, [local, 0.0, cents, -1.0])
            del ev[i + 1][10:]
        elif ev[i + 1] and not ev[i + 1][0][1]:
            ev[i + 1][0][1] = local
            ev[i + 1][0][3] = cents

    def open_cover(self, now: float | None = None, *, break_seal: bool = True) -> None:
        """Open the meter cover: a cover-open event starts; the seal on it breaks."""
        t = self._at(now)
        if not self._flags & F_COVER:
            self._flags |= F_COVER
            self._event(0, True, t)
        if break_seal and self._seal is not None:
            self._seal.open(self.meter_local(t))

    def close_cover(self, now: float | None = None) -> None:
        t = self._at(now)
        if self._flags & F_COVER:
            self._flags &= ~F_COVER
            self._event(0, False, t)

    def open_terminal_cover(self, now: float | None = None) -> None:
        t = self._at(now)
        if not self._flags & F_TCOVER:
            self._flags |= F_TCOVER
            self._event(2, True, t)

    def close_terminal_cover(self, now: float | None = None) -> None:
        t = self._at(now)
        if self._flags & F_TCOVER:
            self._flags &= ~F_TCOVER
            self._event(2, False, t)

    def open_seal(self, now: float | None = None) -> None:
        """Break the seal. The seal closes the meter cover, so the meter also records
        a meter-cover-open event (03300D00 count + 1, record with the time)."""
        t = self._at(now)
        if self._seal is not None:
            self._seal.open(self.meter_local(t))
        if not self._flags & F_COVER:
            self._flags |= F_COVER
            self._event(0, True, t)

    def close_seal(self, now: float | None = None) -> None:
        """Re-seal (cover closed first): the cover-open record gets its end time."""
        t = self._at(now)
        self.close_cover(t)
        if self._seal is not None:
            self._seal.close(self.meter_local(t))

    def swap_seal(self, asset_no: str, now: float | None = None) -> None:
        """A foreign chip, sealed, replaces ours: the asset number changes. (A BCD seal
        item reports only its digits: see seal_chip.reported_asset.)"""
        t = self._at(now)
        self.close_cover(t)
        if self._seal is None:
            self._seal = SealChip(asset_no, True, self.meter_local(t))
        else:
            self._seal.swap(asset_no, self.meter_local(t))

    def set_bypass(self, fraction: float, now: float | None = None) -> None:
        """Share of the load that goes around the meter (0 = none)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("bypass fraction is 0..1")
        self._at(now)
        self._bypass = float(fraction)

    def apply_magnet(self, now: float | None = None) -> None:
        self._at(now)
        self._flags |= F_MAGNET

    def remove_magnet(self, now: float | None = None) -> None:
        self._at(now)
        self._flags &= ~F_MAGNET

    def set_clock_offset(self, seconds: float, now: float | None = None) -> None:
        super().set_clock_offset(seconds, now)
        if self._t is not None:
            self._reschedule(self._t)

    def replace(self, new_address: str, now: float | None = None) -> None:
        """A new meter at the same premises: new address, registers from zero, no
        events or history, clock right, relay closed, magnet gone. The load (and any
        bypass wiring in the installation) stays."""
        if len(new_address) != 12 or not new_address.isdigit():
            raise ValueError("a DL/T 645 address is 12 digits")
        t = self._at(now)
        self.address = new_address
        self._clear_meter()
        self._flags &= F_MANUAL_CLOSE
        self._clk_off = 0.0
        self._clk_ref = t
        self._pw = _DEFAULT_PW
        self._bad_pw = 0
        self._sync_day = -1
        self._lock_day = -1
        self._last = None
        self._reschedule(t)

    def status(self) -> dict:
        """The meter's state at a glance (JSON-ready), for the control channel."""
        fl = self._flags
        t = self._t
        return {
            "relay_open": bool(fl & F_RELAY_OPEN), "relay_trip_commanded": bool(fl & F_TRIP_CMD),
            "pre_trip_alarm": bool(fl & F_ALARM), "power_hold": bool(fl & F_HOLD),
            "close_pending": bool(fl & F_CLOSE_PENDING), "meter_cover_open": bool(fl & F_COVER),
            "terminal_cover_open": bool(fl & F_TCOVER), "magnet": bool(fl & F_MAGNET),
            "bypass": self._bypass, "locked": self.locked,
            "clock_error_s": None if t is None else round(self.clock_error(t), 1),
            "tariffs_kwh": [c / 100 for c in self.tariff_cents()],
        }

    def events(self) -> dict:
        ev = self._events or [0, [], 0, []]
        return {"meter_cover_open": ev[0], "terminal_cover_open": ev[2]}

    def __repr__(self) -> str:
        return (f"ElectricityMeter({self.address!r}, {self.protocol}, phases={self.phases}, "
                f"scale={self._scale:.3f} kW)")


__all__ = ["ERR_AUTH", "ERR_NO_DATA", "ERR_OTHER", "LOCKOUT_AFTER", "ElectricityMeter"]
