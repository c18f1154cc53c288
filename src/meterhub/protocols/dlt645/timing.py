"""Timing rules of the RS-485 link, for whoever schedules requests (head-end,
simulator). Pure arithmetic: nothing here sleeps.

* A character is 11 bits on the wire: start, 8 data, even parity, stop (8E1),
  so a frame of n bytes takes n * 11 / baud seconds.
* The meter starts its reply 20 ms to 500 ms after the end of the request
  (Td); 500 ms is the bound a master must wait before calling it silent.
* Broadcast frames (time sync, broadcast freeze) get no reply.
"""

from __future__ import annotations

BITS_PER_BYTE = 11
REPLY_DELAY_MIN = 0.020
REPLY_DELAY_MAX = 0.500
#: FE preamble + header + checksum/end + the largest data field the standard allows
MAX_REPLY_BYTES = 4 + 12 + 200


def wire_time(nbytes: int, baud: int) -> float:
    """Seconds `nbytes` take on the line at `baud` (8E1)."""
    return nbytes * BITS_PER_BYTE / baud


def reply_timeout(request_bytes: int, baud: int, reply_bytes: int = MAX_REPLY_BYTES,
                  margin: float = 0.0) -> float:
    """How long after starting to send a request a master should wait for the whole
    reply: request on the wire, the meter's worst-case delay, the reply on the
    wire, plus a margin for the collector (a 4G DTU adds its own latency)."""
    return (wire_time(request_bytes, baud) + REPLY_DELAY_MAX
            + wire_time(reply_bytes, baud) + margin)
