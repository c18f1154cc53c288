"""A sans-IO stream parser: feed it whatever the serial line or TCP socket gave you.

It yields frames, and typed errors as *values* (a bad checksum must not kill the
connection): ``MBusChecksumError`` for a well-framed frame with a bad sum,
``MBusFrameError`` for a start that turned out not to be a frame. Noise between frames
(line idle FFs, a collector's own chatter) is skipped and counted in ``discarded``.
It waits on a partial frame, and its output does not depend on how the input was
chunked: every decision is taken only once the bytes it depends on have arrived.
"""

from __future__ import annotations

import re

from .errors import MBusChecksumError, MBusError, MBusFrameError
from .frame import LONG_START, STOP, ControlFrame, LongFrame, ShortFrame, SingleChar, checksum

_START = re.compile(rb"[\xe5\x10\x68]")
_MAX_BUFFER = 4096


class MBusStreamParser:
    def __init__(self) -> None:
        self._buf = bytearray()
        self.discarded = 0  # noise bytes skipped so far

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list:
        """Add bytes; return the frames and errors they completed, in order."""
        buf = self._buf
        buf += data
        events: list = []
        i = 0
        n = len(buf)
        while i < n:
            b = buf[i]
            if b == 0xE5:
                events.append(SingleChar())
                i += 1
                continue
            if b == 0x10:
                if n - i < 5:
                    break
                if buf[i + 4] != STOP:
                    self.discarded += 1  # a stray 10h, not a short frame
                    i += 1
                    continue
                c, a = buf[i + 1], buf[i + 2]
                if (c + a) & 0xFF != buf[i + 3]:
                    events.append(MBusChecksumError(
                        f"short frame: checksum {buf[i + 3]:02X}, computed {(c + a) & 0xFF:02X}",
                        None, expected=(c + a) & 0xFF, actual=buf[i + 3]))
                else:
                    events.append(ShortFrame(c, a))
                i += 5
                continue
            if b == LONG_START:
                if n - i < 4:
                    break
                length = buf[i + 1]
                if length != buf[i + 2] or buf[i + 3] != LONG_START or length < 3:
                    self.discarded += 1
                    i += 1
                    continue
                end = i + 6 + length
                if n < end:
                    break
                if buf[end - 1] != STOP:
                    events.append(MBusFrameError(
                        f"long frame (L={length}): stop byte {buf[end - 1]:02X}, expected 16"))
                    self.discarded += 1
                    i += 1  # resynchronise just after the false start
                    continue
                body = bytes(buf[i + 4:end - 2])
                cs = checksum(body)
                if cs != buf[end - 2]:
                    events.append(MBusChecksumError(
                        f"long frame: checksum {buf[end - 2]:02X}, computed {cs:02X}", None,
                        expected=cs, actual=buf[end - 2]))
                elif length == 3:
                    events.append(ControlFrame(body[0], body[1], body[2]))
                else:
                    events.append(LongFrame(body[0], body[1], body[2], body[3:]))
                i = end
                continue
            m = _START.search(buf, i)  # skip noise in one C-level scan
            j = m.start() if m else n
            self.discarded += j - i
            i = j
        del buf[:i]
        if len(buf) > _MAX_BUFFER:  # cannot happen with L <= 255; belt and braces
            self.discarded += len(buf)
            buf.clear()
        return events

    def frames(self, data: bytes) -> list:
        """Like ``feed`` but keep only the frames."""
        return [e for e in self.feed(data) if not isinstance(e, MBusError)]
