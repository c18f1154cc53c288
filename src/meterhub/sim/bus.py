"""One simulated RS-485 / M-Bus bus: the wire between a collector and its meters.

The physics (docs/protocols/collector-link.md, "Bus physics"):

* a frame of n bytes is on the wire for n x 11 / baud seconds (8E1), one byte after
  the other: bytes the collector gets while it is still sending queue behind them;
* a meter starts its reply `Response.delay_s` after the end of the request
  (20-500 ms, decided by the meter);
* multi-drop: every request reaches every meter on the bus; each meter decides for
  itself whether it is addressed (a meter that answers only its own address, wildcards
  and broadcasts says so with `ignores_other_addresses`, and the bus spares it the
  frames it would drop);
* one frame at a time: the bus is busy from the end of a request until the end of
  the last reply it caused. A master frame put on the wire while the bus is busy
  collides, and so do replies from two meters that overlap in time. Every frame in
  a collision is garbled: meters ignore a garbled request, and a garbled reply goes
  up to the head-end as noise of the same length.

Nothing here owns a socket: `feed()` takes the bytes the head-end sent, and the
bus calls `on_up(bytes)` when a reply has finished on the wire (that is when a
transparent DTU forwards it). Timing runs on the event loop's clock, with
`loop.call_at` callbacks: no task or thread per bus.

`time_scale` multiplies every wire time and reply delay. 1.0 is real time (the
physics); tests that are not about physics use a small factor.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

BITS_PER_BYTE = 11
#: a master frame still incomplete after this many bytes is line noise
MAX_PENDING = 1024
_FILL = (0xFE, 0xFF)


def wire_time(nbytes: int, baud: int) -> float:
    """Seconds `nbytes` take on the line at `baud` (8E1: 11 bits a byte)."""
    return nbytes * BITS_PER_BYTE / baud


def family_of(protocol: str) -> str:
    """'dlt645' or 'mbus': the framing a bus carries."""
    return "mbus" if protocol.startswith("mbus") else "dlt645"


def next_frame(buf: bytes | bytearray, family: str = "dlt645") -> tuple[int, int] | None:
    """(start, end) of the first complete master frame in `buf`, FE preamble included.

    start is where junk before the frame ends (buf[:start] is noise); end is 0 when a
    frame has started but is not complete yet. None: nothing that starts a frame.
    """
    n = len(buf)
    i = 0
    while i < n:
        b = buf[i]
        if b in _FILL:
            # preamble: belongs to the frame that follows it
            j = i
            while j < n and buf[j] in _FILL:
                j += 1
            if j == n:
                return (i, 0)
            end = _frame_end(buf, j, family)
            if end is None:
                i = j + 1  # a FE run before junk is junk
                continue
            return (i, end)
        end = _frame_end(buf, i, family)
        if end is not None:
            return (i, end)
        i += 1
    return None


def _frame_end(buf, j: int, family: str) -> int | None:
    """End offset of the frame starting at j; 0 if incomplete; None if no frame starts here."""
    n = len(buf)
    b = buf[j]
    if family == "mbus":
        if b == 0x10:  # short frame 10 C A CS 16
            return j + 5 if n >= j + 5 else 0
        if b == 0x68:  # long frame 68 L L 68 C A CI ... CS 16
            if n < j + 4:
                return 0
            if buf[j + 3] == 0x68 and buf[j + 1] == buf[j + 2]:
                end = j + 6 + buf[j + 1]
                return end if n >= end else 0
            return None
        if b == 0xE5:
            return j + 1
        return None
    if b != 0x68:
        return None
    if n < j + 8:
        return 0
    if buf[j + 7] != 0x68:
        return None
    if n < j + 10:
        return 0
    end = j + 12 + buf[j + 9]
    return end if n >= end else 0


def dlt645_target(frame: bytes) -> str | None:
    """The nameplate address a DL/T 645 frame is sent to, or None when every meter
    must look at it (wildcard AA, broadcast 99, or not a frame)."""
    i = 0
    while i < len(frame) and frame[i] in _FILL:
        i += 1
    if len(frame) < i + 8 or frame[i] != 0x68:
        return None
    wire = frame[i + 1 : i + 7]
    text = wire[::-1].hex().upper()
    if "A" in text or text == "999999999999":
        return None
    return text


# --- meters on the bus --------------------------------------------------------------


class MeterSlot:
    """A meter's place on a bus. The meter object is built on first use, so a fleet
    of 16,000 meters costs a spec each until the head-end talks to them."""

    __slots__ = ("spec", "factory", "_meter")

    def __init__(self, spec: Any, factory: Callable[[Any], Any] | None = None, meter: Any = None):
        self.spec = spec
        self.factory = factory
        self._meter = meter

    @property
    def built(self) -> bool:
        return self._meter is not None

    @property
    def meter(self):
        if self._meter is None:
            if self.factory is None:
                raise RuntimeError(f"no factory to build meter {self.address}")
            self._meter = self.factory(self.spec)
        return self._meter

    @property
    def address(self) -> str:
        if self._meter is not None:
            return self._meter.address
        return self.spec.address if self.spec is not None else ""

    @property
    def serial(self) -> str:
        return getattr(self.spec, "serial", "") or self.address


@dataclass(slots=True)
class _Reply:
    start: float
    end: float
    data: bytes
    garbled: bool = False
    delivered: bool = False


@dataclass(slots=True)
class BusStats:
    requests: int = 0  # master frames that reached the meters
    replies: int = 0  # replies delivered intact
    collisions: int = 0  # collision events
    garbled_replies: int = 0
    garbled_requests: int = 0
    noise_bytes: int = 0  # master bytes that were not part of any frame

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(eq=False)
class Bus:
    """One bus: `port` (1-based, as the head-end and the registration packet count
    them), its baud rate and its meters. Attach an uplink with `attach(on_up)`."""

    port: int = 1
    baud: int = 2400
    slots: list[MeterSlot] = field(default_factory=list)
    clock: Any = None  # .now() -> simulated POSIX time, passed to meters
    time_scale: float = 1.0
    family: str = "dlt645"
    seed: int = 0
    stats: BusStats = field(default_factory=BusStats)

    def __post_init__(self):
        self._on_up: Callable[[bytes], None] | None = None
        self._buf = bytearray()
        self._buf_end = 0.0  # wire time at which the last buffered master byte ends
        self._garbled = 0  # buffered bytes (from the front) that were sent into a collision
        self._tx_end = 0.0  # the master's transmission ends on the wire at this time
        self._busy_until = 0.0  # end of the last reply of the current exchange
        self._pending: list[_Reply] = []
        self._rng: random.Random | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- meters --------------------------------------------------------------------

    @classmethod
    def with_meters(cls, meters, **kwargs) -> Bus:
        """A bus with ready-built meter objects (tests, small scripts)."""
        bus = cls(slots=[MeterSlot(None, None, m) for m in meters], **kwargs)
        if meters and "family" not in kwargs:
            bus.family = family_of(meters[0].protocol)
        return bus

    @property
    def meters(self) -> list:
        """Every meter on the bus (builds them)."""
        return [s.meter for s in self.slots]

    @property
    def char_time(self) -> float:
        return BITS_PER_BYTE / self.baud * self.time_scale

    # -- the uplink ------------------------------------------------------------------

    def attach(self, on_up: Callable[[bytes], None]) -> None:
        """Connect the bus to an uplink (a socket or an MQTT topic)."""
        self._on_up = on_up

    def detach(self) -> None:
        """The uplink went away: what was in flight is lost."""
        self._on_up = None
        self._buf.clear()
        self._garbled = 0
        for r in self._pending:
            r.delivered = True
        self._pending.clear()

    @property
    def busy(self) -> bool:
        loop = self._loop
        return bool(loop) and max(self._busy_until, self._tx_end) > loop.time()

    # -- master side -----------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the head-end, to go out on the bus now (or as soon as the
        collector's own transmission ahead of them is done)."""
        if not data:
            return
        loop = self._loop = self._loop or asyncio.get_running_loop()
        now = loop.time()
        ct = self.char_time
        start = max(now, self._tx_end)
        if not self._buf:
            self._garbled = 0
        self._buf += data
        self._tx_end = self._buf_end = start + len(data) * ct
        if start < self._busy_until:
            # junk or the start of a frame while a reply is pending: collision
            self._collide(start)
            self._garbled = len(self._buf)
        self._scan()

    def _scan(self) -> None:
        buf = self._buf
        ct = self.char_time
        while buf:
            found = next_frame(buf, self.family)
            if found is None:
                self._drop_noise(len(buf))
                return
            start, end = found
            if start:
                self._drop_noise(start)
                continue
            if not end:
                if len(buf) > MAX_PENDING:
                    self._drop_noise(len(buf))
                return
            # a complete frame: its last byte leaves the wire at f_end
            f_end = self._buf_end - (len(buf) - end) * ct
            f_start = f_end - end * ct
            frame = bytes(buf[:end])
            garbled = self._garbled > 0
            del buf[:end]
            self._garbled = max(0, self._garbled - end)
            self._on_request(frame, f_start, f_end, garbled)

    def _drop_noise(self, n: int) -> None:
        self.stats.noise_bytes += n
        del self._buf[:n]
        self._garbled = max(0, self._garbled - n)

    def _on_request(self, frame: bytes, f_start: float, f_end: float, garbled: bool) -> None:
        if f_start < self._busy_until and not garbled:
            self._collide(f_start)
            garbled = True
        if garbled:
            self.stats.garbled_requests += 1
            self._busy_until = max(self._busy_until, f_end)
            return
        self.stats.requests += 1
        now_sim = self.clock.now() if self.clock is not None else self._loop.time()
        ct = self.char_time
        replies: list[_Reply] = []
        for slot in self._addressed(frame):
            try:
                resp = slot.meter.respond(frame, now_sim)
            except Exception:  # a broken meter must not take the collector down
                log.exception("bus %s: meter %s failed on %s", self.port, slot.address, frame.hex())
                continue
            if resp is None or not resp.data:
                continue
            r_start = f_end + max(0.0, resp.delay_s) * self.time_scale
            replies.append(_Reply(r_start, r_start + len(resp.data) * ct, bytes(resp.data)))
        if not replies:
            self._busy_until = max(self._busy_until, f_end)
            return
        # two meters talking at once: every overlapping reply is garbled
        if len(replies) > 1:
            replies.sort(key=lambda r: r.start)
            collided = False
            for a in range(len(replies)):
                for b in range(a + 1, len(replies)):
                    if replies[b].start < replies[a].end:
                        replies[a].garbled = replies[b].garbled = collided = True
            self.stats.collisions += collided
        loop = self._loop
        for r in replies:
            self._pending.append(r)
            loop.call_at(r.end, self._deliver, r)
        self._busy_until = max(r.end for r in replies)

    def _addressed(self, frame: bytes):
        """The meters that must see this frame. A meter not yet built is built only
        when the frame could be for it (its address, a wildcard or a broadcast), and a
        meter that says it `ignores_other_addresses` is not handed a frame sent to
        another address (it would decode it only to drop it)."""
        if self.family != "dlt645":
            return self.slots
        target = dlt645_target(frame)
        if target is None:
            return self.slots
        hearing = []
        for slot in self.slots:
            meter = slot._meter
            if meter is None:
                if slot.address == target:
                    hearing.append(slot)
            elif meter.address == target or not getattr(meter, "ignores_other_addresses", False):
                hearing.append(slot)
        return hearing

    def _collide(self, at: float) -> None:
        """A master frame went on the wire while the bus was busy: every reply still
        pending (or on the wire) at `at` is garbled."""
        self.stats.collisions += 1
        for r in self._pending:
            if r.end > at:
                r.garbled = True

    def _deliver(self, r: _Reply) -> None:
        if r.delivered:
            return
        r.delivered = True
        try:
            self._pending.remove(r)
        except ValueError:
            pass
        data = r.data
        if r.garbled:
            self.stats.garbled_replies += 1
            data = self.garble(data)
        else:
            self.stats.replies += 1
        if self._on_up is not None:
            self._on_up(data)

    def garble(self, data: bytes) -> bytes:
        """What a collision leaves of a frame: as many bytes, none of them right."""
        if self._rng is None:
            self._rng = random.Random(self.seed)
        rng = self._rng
        return bytes(b ^ rng.randrange(1, 256) for b in data)

    # -- lookup ----------------------------------------------------------------------

    def find(self, key: str) -> MeterSlot | None:
        for s in self.slots:
            if key in (s.serial, s.address):
                return s
        return None
