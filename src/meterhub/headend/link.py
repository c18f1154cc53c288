"""The collector link around the bus bytes: registration and heartbeat packets.

Sans-IO. See docs/protocols/collector-link.md for the contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkSpec:
    """What a collector model sends to say who it is and that it is alive."""

    name: str = "meterhub"
    registration: re.Pattern = re.compile(rb"REG:([\x21-\x39\x3b-\x7e]{1,64})(?::(\d{1,2}))?\r\n")
    heartbeat: bytes = b"HB\r\n"
    max_registration_bytes: int = 96


DEFAULT_LINK = LinkSpec()


class RegistrationError(ValueError):
    """The first bytes on a connection are not a registration packet."""


@dataclass(frozen=True)
class Registration:
    registration_id: str
    port: int


class RegistrationParser:
    """Feed the first bytes of a connection; get the Registration and any bytes after it."""

    def __init__(self, spec: LinkSpec = DEFAULT_LINK):
        self.spec = spec
        self._buf = bytearray()

    def feed(self, data: bytes) -> tuple[Registration, bytes] | None:
        self._buf += data
        match = self.spec.registration.search(self._buf)
        if match:
            if match.start() and self._buf[: match.start()].strip(b"\xfe\xff\r\n\x00"):
                raise RegistrationError(f"garbage before the registration packet: {bytes(self._buf[:32])!r}")
            reg = Registration(match.group(1).decode("ascii"), int(match.group(2) or 1))
            return reg, bytes(self._buf[match.end():])
        if len(self._buf) > self.spec.max_registration_bytes:
            raise RegistrationError(f"no registration packet in the first {len(self._buf)} bytes: "
                                    f"{bytes(self._buf[:32])!r}")
        return None


def strip_heartbeats(data: bytes, spec: LinkSpec = DEFAULT_LINK) -> tuple[bytes, int]:
    """Remove heartbeat packets from a chunk read while no frame is half-received.

    Returns the remaining bytes and how many heartbeats there were. A heartbeat that
    arrives in the middle of a frame is left for the protocol parser to skip as noise.
    """
    count = data.count(spec.heartbeat)
    return (data.replace(spec.heartbeat, b""), count) if count else (data, 0)
