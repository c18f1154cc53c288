"""One bus behind one collector connection: exactly one request outstanding at a time.

A `BusSession` is the single owner of its connection. A reader task turns incoming
bytes into frames; `transact()` writes a request and waits for the frame that answers
it, or a deadline from the bus timing rules. Callers queue on a lock, so two frames
are never on the bus at once, whatever asks (read plans, on-demand reads, commands).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from meterhub.headend import timing
from meterhub.headend.framing import framing_for
from meterhub.headend.link import DEFAULT_LINK, LinkSpec, strip_heartbeats

log = logging.getLogger(__name__)


class BusError(Exception):
    """A transaction did not produce an answer."""

    kind = "error"


class NoReply(BusError):
    kind = "no_reply"


class CollectorGone(BusError):
    kind = "offline"


@dataclass
class BusStats:
    requests: int = 0
    replies: int = 0
    timeouts: int = 0
    noise_events: int = 0
    bad_frames: int = 0
    unsolicited: int = 0
    heartbeats: int = 0
    busy_s: float = 0.0
    last_rx: float = field(default_factory=time.monotonic)


class BusSession:
    """The owner of one bus connection. The transport delivers bytes to `receive()`
    (called from the connection's protocol, no reader task); `transact()` is the only
    way a frame goes out."""

    def __init__(self, transport: asyncio.Transport, *, protocol: str, baud: int = 2400,
                 link: LinkSpec = DEFAULT_LINK, link_latency_s: float = 0.3, name: str = ""):
        self.transport = transport
        self.protocol, self.baud, self.link = protocol, baud, link
        self.link_latency_s = link_latency_s
        self.name = name
        self.stats = BusStats()
        self._framing = framing_for(protocol)
        self._lock = asyncio.Lock()
        self._waiting: tuple[object, asyncio.Future] | None = None  # (what answers, its future)
        self._deadline = 0.0  # loop time at which the request in flight has had no reply
        self._deadline_s = 0.0  # ... and how long it was given (for the message)
        self._timer: asyncio.TimerHandle | None = None  # fires at or before _deadline
        self._closed = asyncio.Event()
        self.watch_idle = True  # closed by the head-end after a silence (no byte, no heartbeat)
        self.meter_state: dict = {}  # per-meter protocol state on this bus (M-Bus frame count bits)

    # --- receiving (called by the connection's protocol) ------------------------------------

    def receive(self, data: bytes) -> None:
        self.stats.last_rx = time.monotonic()
        data, beats = strip_heartbeats(data, self.link)
        self.stats.heartbeats += beats
        if not data:
            return
        for event in self._framing.events(data):
            if not self._framing.is_frame(event):
                if type(event).__name__ == "Noise":
                    self.stats.noise_events += 1
                else:
                    self.stats.bad_frames += 1
                log.debug("%s: %s", self.name, event)
                continue
            waiting = self._waiting
            if waiting and not waiting[1].done() and self._framing.answers(waiting[0], event):
                waiting[1].set_result(event)
            else:
                self.stats.unsolicited += 1
                log.debug("%s: unsolicited frame %r", self.name, event)

    def lost(self, reason: str = "collector disconnected") -> None:
        if not self._closed.is_set():
            self._closed.set()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._waiting and not self._waiting[1].done():
                self._waiting[1].set_exception(CollectorGone(f"{self.name}: {reason}"))

    # --- sending -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def transact(self, request: bytes, *, expect_reply: bool = True, timeout: float | None = None):
        """Put one request on the bus and return the frame that answers it.

        Raises NoReply after the deadline the bus timing implies, CollectorGone if the
        connection is lost. With expect_reply=False (broadcasts) waits for the request's
        own wire time so the next frame does not collide with it.
        """
        async with self._lock:
            if self.closed:
                raise CollectorGone(f"{self.name}: collector is offline")
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._waiting = (self._framing.expectation(request), future)
            started = loop.time()
            self.stats.requests += 1
            try:
                self.transport.write(request)
                if not expect_reply:
                    await asyncio.sleep(timing.wire_time(len(request), self.baud) + self.link_latency_s)
                    return None
                self._deadline_s = timeout or timing.reply_deadline(len(request), self.baud, self.link_latency_s)
                self._arm(loop, started + self._deadline_s)
                try:
                    frame = await future
                except NoReply:
                    self.stats.timeouts += 1
                    raise
                self.stats.replies += 1
                return frame
            finally:
                self._waiting = None
                self.stats.busy_s += loop.time() - started

    # One timer per session, not one per request: replies come long before their
    # deadline, so the timer set for an earlier request usually fires first, finds a
    # later deadline in force and sets itself again for that one. A request's deadline
    # is never earlier than the bus timing allows, and never later either.

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        self._deadline = deadline
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._check_deadline, loop)

    def _check_deadline(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        waiting = self._waiting
        if waiting is None or waiting[1].done():
            return  # nothing in flight: the next request sets the timer again
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._check_deadline, loop)
            return
        waiting[1].set_exception(NoReply(f"{self.name}: no reply within {self._deadline_s:.2f} s"))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.transport.close()
        self.lost("session closed")

    async def wait_closed(self) -> None:
        await self._closed.wait()
