"""An event loop whose clock moves only when the loop has nothing left to do but wait.

Timing tests on it check what the code decides, not how busy the machine is: a request
given a 0.4 s deadline fails exactly 0.4 s of loop time after it was sent, however long
the machine took to get there. When every callback has run and no socket has anything to
read, the clock jumps straight to the next timer instead of sleeping.

I/O stays real and is always polled before the clock moves, so this suits sockets whose
bytes arrive as they are written (`socket.socketpair()`), not loopback TCP (a busy kernel
may hand a packet over later, and the clock would have jumped past its deadline), and
code that runs no threads (the clock would jump while a thread works).
"""

from __future__ import annotations

import asyncio
import selectors


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualClockLoop):
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None):
        ready = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if timeout is None:
            # Nothing ready, nothing to read, no timer: with no threads nothing can ever
            # happen again; a real loop would wait forever, this one says so.
            raise RuntimeError("the loop is idle with no timer set: the test would wait forever")
        self._loop.jump_to_next_timer()
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        self._now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._now

    def jump_to_next_timer(self) -> None:
        # To the timer's own time: now + timeout can miss it by a rounding error. The head
        # of asyncio's timer heap is the live timer the select timeout was computed from.
        self._now = max(self._now, self._scheduled[0].when())

    def run_in_executor(self, executor, func, *args):
        raise RuntimeError("no threads on a virtual clock: it would jump while they work")


def run(coro):
    """asyncio.run() on a virtual clock."""
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(coro)
