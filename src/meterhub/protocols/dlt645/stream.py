"""Sans-IO stream parser for the byte stream a collector relays from the bus.

    p = StreamParser()
    p.feed(chunk)                # whatever the socket gave us
    for event in p:              # stops when it needs more bytes
        if isinstance(event, Frame): ...
        else: ...                # a Dlt645Error *instance*: Noise, ChecksumError, ...
    p.feed(b"")                  # end of stream: flush noise, report a cut-off frame

Design (pick one and keep it): errors are *events*, never raised while parsing.
Every event is either a `Frame` or an instance of a `Dlt645Error` subclass, so a
loop can log, count or re-raise them. The only exception `feed()` raises is
`BufferFull` (also a `Dlt645Error`) when a caller stuffs more than `max_buffer`
bytes in without draining events.

Rules, all decided from the bytes alone so the events are the same however the
stream is chunked:
* FE/FF bytes are line fill and preamble, never noise; the FE run right before a
  frame is kept as its preamble count.
* A 68 not followed by a second 68 seven bytes on is noise.
* A header with a length byte over `max_data` is a `LengthError`; a frame
  whose end byte is not where the length says is a `LengthError`; a wrong sum is
  a `ChecksumError`. In every case the parser steps one byte past that 68 and
  hunts again, so a good frame hidden inside a bad one is still found.
* Bytes inside a reported bad frame are searched again but not counted as noise.
* Noise is reported as one `Noise` event (exact count, a short sample) just
  before the next frame or error, or at end of stream.
* The buffer only ever holds one unfinished frame after events are drained.
"""

from __future__ import annotations

from .errors import (
    BufferFull,
    ChecksumError,
    Dlt645Error,
    LengthError,
    Noise,
    TruncatedFrame,
)
from .frame import MAX_DATA, UNSCRAMBLE, Frame


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: next_event(): feed me more bytes
NEED_DATA = _Sentinel("NEED_DATA")
#: next_event(): end of stream reached and everything reported
END = _Sentinel("END")

_FILL = b"\xfe\xff"
_MAX_PREAMBLE = 16


class StreamParser:
    def __init__(
        self,
        *,
        max_data: int = MAX_DATA,
        max_buffer: int = 1 << 16,
        noise_sample: int = 32,
    ):
        # the standard caps L at 200 for reads and 50 for writes; 255 (the
        # byte's own limit) accepts vendor extensions, pass 200 to be strict
        self.max_data = max_data
        self.max_buffer = max_buffer
        self.noise_sample = noise_sample
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        self._fe_run = 0
        self._noise = 0
        self._sample = bytearray()
        self._pending: list = []
        # bytes of a reported bad frame are re-scanned (a good frame may hide in
        # them) but not reported a second time as noise
        self._covered = 0
        #: counters for monitoring: frames, errors, noise bytes
        self.stats = {"frames": 0, "errors": 0, "noise_bytes": 0}

    # -- input --------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Add bytes; b'' means the stream has ended."""
        if not data:
            self._eof = True
            return
        if self._eof:
            raise Dlt645Error("data fed after end of stream")
        if self._pos:
            # compact: everything before _pos is consumed
            del self._buf[: self._pos]
            self._covered = max(0, self._covered - self._pos)
            self._pos = 0
        if len(self._buf) + len(data) > self.max_buffer:
            raise BufferFull(
                f"{len(self._buf)} bytes buffered + {len(data)} > {self.max_buffer}; "
                "drain events before feeding more"
            )
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    # -- output -------------------------------------------------------------

    def __iter__(self):
        while True:
            ev = self.next_event()
            if ev is NEED_DATA or ev is END:
                return
            yield ev

    def next_event(self):
        """A `Frame`, a `Dlt645Error` instance, `NEED_DATA` or `END`."""
        if self._pending:
            return self._pending.pop(0)
        buf = self._buf
        n = len(buf)
        while True:
            pos = self._pos
            i = buf.find(b"\x68", pos)
            if i < 0:
                self._skip(pos, n)
                if self._eof:
                    return self._flush_noise() or END
                return NEED_DATA
            if i > pos:
                self._skip(pos, i)
            avail = n - i
            if avail < 10:
                if avail >= 8 and buf[i + 7] != 0x68:
                    self._skip_start(i)
                    continue
                if self._eof:
                    if avail >= 8:  # header ok but cut off before L
                        return self._error(i, TruncatedFrame("stream ended inside a frame header", buf[i:]))
                    self._skip_start(i)
                    continue
                return NEED_DATA
            if buf[i + 7] != 0x68:
                self._skip_start(i)
                continue
            length = buf[i + 9]
            if length > self.max_data:
                return self._error(
                    i, LengthError(f"length byte {length} exceeds {self.max_data}", buf[i : i + 10])
                )
            end = i + 12 + length
            if n < end:
                if self._eof:
                    return self._error(
                        i, TruncatedFrame(f"stream ended {end - n} byte(s) short of a frame", buf[i:n])
                    )
                return NEED_DATA
            if buf[end - 1] != 0x16:
                return self._error(
                    i,
                    LengthError(
                        f"no 16 end byte where length {length} puts it (found {buf[end - 1]:02X})",
                        buf[i:end],
                    ),
                )
            cs = sum(buf[i : end - 2]) & 0xFF
            if buf[end - 2] != cs:
                return self._error(
                    i,
                    ChecksumError(f"checksum {buf[end - 2]:02X}, expected {cs:02X}", buf[i:end]),
                )
            frame = Frame(
                buf[i + 1 : i + 7][::-1].hex().upper(),
                buf[i + 8],
                bytes(buf[i + 10 : end - 2]).translate(UNSCRAMBLE),
                min(self._fe_run, _MAX_PREAMBLE),
            )
            self._pos = end
            self._fe_run = 0
            self.stats["frames"] += 1
            return self._emit(frame)

    # -- internals ----------------------------------------------------------

    def _skip(self, a: int, b: int) -> None:
        """Consume buf[a:b] (no frame start in it): fill is silent, the rest is noise."""
        seg = bytes(self._buf[a:b])
        noise = (seg if a >= self._covered else seg[self._covered - a :]).translate(None, _FILL)
        if noise:
            self._add_noise(noise)
        trailing = len(seg) - len(seg.rstrip(b"\xfe"))
        self._fe_run = self._fe_run + trailing if trailing == len(seg) else trailing
        self._pos = b

    def _skip_start(self, i: int) -> None:
        """A 68 that does not start a frame is noise."""
        if i >= self._covered:
            self._add_noise(b"\x68")
        self._fe_run = 0
        self._pos = i + 1

    def _add_noise(self, noise: bytes) -> None:
        self._noise += len(noise)
        self.stats["noise_bytes"] += len(noise)
        room = self.noise_sample - len(self._sample)
        if room > 0:
            self._sample += noise[:room]

    def _flush_noise(self):
        if not self._noise:
            return None
        ev = Noise(self._noise, bytes(self._sample))
        self._noise = 0
        self._sample.clear()
        return ev

    def _error(self, i: int, err: Dlt645Error):
        # step one byte past the bad 68 and hunt again
        self._pos = i + 1
        self._covered = max(self._covered, i + len(getattr(err, "raw", b"")))
        self._fe_run = 0
        self.stats["errors"] += 1
        return self._emit(err)

    def _emit(self, ev):
        noise = self._flush_noise()
        if noise is None:
            return ev
        self._pending.append(ev)
        return noise


def parse_stream(data: bytes, *, chunk: int = 4096, **kwargs) -> list:
    """Every event in a complete capture (Frames and Dlt645Error instances)."""
    p = StreamParser(**kwargs)
    out: list = []
    for k in range(0, len(data), chunk):
        p.feed(data[k : k + chunk])
        out.extend(p)
    p.feed(b"")
    out.extend(p)
    return out
