"""Fault injection for one simulated meter, settable at run time.

Each fault is a probability per reply (True = always, False/0 = never), except
`late_reply_s`, which is the delay to use instead of the meter's own (None = off).
Every random choice comes from a `random.Random` seeded from the meter's seed, so a
run with the same seed and the same calls gives the same bytes.

    meter.faults.no_reply = True        # the meter is dead on the bus
    meter.faults.late_reply_s = 0.8     # answers, but after the 500 ms the master waits
    meter.faults.corrupt_byte = 0.1     # one byte in ten replies has a flipped bit
    meter.faults.bad_checksum = True    # frame intact, checksum byte wrong
    meter.faults.clear()

"Meter replaced" and "clock far off" change the meter itself, not its replies:
see the meters' `replace(new_address)` and `set_clock_offset(seconds)`.
"""

from __future__ import annotations

import random


def _prob(value) -> float:
    if value is True:
        return 1.0
    if value is False or value is None:
        return 0.0
    p = float(value)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a fault probability is 0..1 (or True/False), got {value!r}")
    return p


class Faults:
    __slots__ = ("_no_reply", "_corrupt_byte", "_bad_checksum", "_late_reply_s", "_rng")

    def __init__(self, seed: int = 0, *, no_reply=0.0, late_reply_s: float | None = None,
                 corrupt_byte=0.0, bad_checksum=0.0):
        self._rng = random.Random(f"faults:{seed}")
        self.no_reply = no_reply
        self.late_reply_s = late_reply_s
        self.corrupt_byte = corrupt_byte
        self.bad_checksum = bad_checksum

    # --- settable fields -------------------------------------------------------------
    @property
    def no_reply(self) -> float:
        return self._no_reply

    @no_reply.setter
    def no_reply(self, value) -> None:
        self._no_reply = _prob(value)

    @property
    def corrupt_byte(self) -> float:
        return self._corrupt_byte

    @corrupt_byte.setter
    def corrupt_byte(self, value) -> None:
        self._corrupt_byte = _prob(value)

    @property
    def bad_checksum(self) -> float:
        return self._bad_checksum

    @bad_checksum.setter
    def bad_checksum(self, value) -> None:
        self._bad_checksum = _prob(value)

    @property
    def late_reply_s(self) -> float | None:
        return self._late_reply_s

    @late_reply_s.setter
    def late_reply_s(self, value) -> None:
        if value is not None and (value is True or float(value) < 0):
            raise ValueError("late_reply_s is a delay in seconds (or None)")
        self._late_reply_s = None if value is None else float(value)

    # --- use ---------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return bool(self._no_reply or self._corrupt_byte or self._bad_checksum
                    or self._late_reply_s is not None)

    def clear(self) -> None:
        self._no_reply = self._corrupt_byte = self._bad_checksum = 0.0
        self._late_reply_s = None

    def _hit(self, p: float) -> bool:
        if p <= 0.0:
            return False
        if p >= 1.0:
            return True
        return self._rng.random() < p

    def silent(self) -> bool:
        """Does the meter stay silent this time? (asked before it handles the request)"""
        return self._hit(self._no_reply)

    def apply(self, data: bytes, delay_s: float) -> tuple[bytes, float]:
        """The reply as the faults leave it: (bytes, delay)."""
        if self._late_reply_s is not None:
            delay_s = self._late_reply_s
        if self._hit(self._bad_checksum) and len(data) >= 5 and data[-1] == 0x16:
            b = bytearray(data)
            b[-2] = (b[-2] + self._rng.randrange(1, 256)) & 0xFF
            data = bytes(b)
        if self._hit(self._corrupt_byte) and data:
            b = bytearray(data)
            start = len(b) - len(b.lstrip(b"\xfe"))  # the FE wake-up bytes are not the frame
            if start >= len(b):
                start = 0
            i = self._rng.randrange(start, len(b))
            b[i] ^= 1 << self._rng.randrange(8)  # one flipped bit: line noise
            data = bytes(b)
        return data, delay_s

    def to_dict(self) -> dict:
        return {"no_reply": self._no_reply, "late_reply_s": self._late_reply_s,
                "corrupt_byte": self._corrupt_byte, "bad_checksum": self._bad_checksum}

    def __repr__(self) -> str:
        return f"Faults({self.to_dict()})"
