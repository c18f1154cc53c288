"""How long the bus takes, from the protocol's timing rules.

A frame on RS-485/M-Bus is 11 bits a byte (start, 8 data, even parity, stop). A DL/T 645
meter may take up to 500 ms to start answering; the link (4G, a DTU's buffering) adds
its own latency, configured per collector.
"""

from __future__ import annotations

BITS_PER_BYTE = 11
MAX_RESPONSE_DELAY_S = 0.5
MAX_REPLY_BYTES = 4 + 12 + 200 + 2  # preamble, header, largest data field, CS and 16


def wire_time(nbytes: int, baud: int) -> float:
    return nbytes * BITS_PER_BYTE / baud


def reply_deadline(request_bytes: int, baud: int, link_latency_s: float) -> float:
    """Seconds from writing a request until a missing reply is declared missing."""
    return (wire_time(request_bytes, baud) + MAX_RESPONSE_DELAY_S
            + wire_time(MAX_REPLY_BYTES, baud) + link_latency_s)
