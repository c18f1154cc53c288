"""One interface over the protocols' stream parsers, so a bus session is protocol-blind.

An adapter turns received bytes into frames (and typed error events), and says whether
a frame answers the request in flight.
"""

from __future__ import annotations

from meterhub.protocols import dlt645, mbus


class Dlt645Framing:
    """DL/T 645-2007 and -1997 share framing; the edition matters only to the payload."""

    name = "dlt645"

    def __init__(self):
        self._parser = dlt645.StreamParser()

    def events(self, data: bytes) -> list:
        self._parser.feed(data)
        return list(self._parser)

    @staticmethod
    def is_frame(event) -> bool:
        return isinstance(event, dlt645.Frame)

    @staticmethod
    def expectation(request: bytes) -> str:
        """What to match replies against, worked out once per request: its address."""
        return dlt645.decode_frame(request).address.upper()

    @staticmethod
    def answers(asked: str, frame: dlt645.Frame) -> bool:
        if not frame.control & 0x80:  # a request echoed by the bus, not a reply
            return False
        if asked == frame.address:
            return True
        # AA bytes are wildcards: a request to AAAAAA123456 is answered by any ...123456.
        return "A" in asked and all(a == "A" or a == b for a, b in zip(asked, frame.address.upper(), strict=True))


class MBusFraming:
    name = "mbus"

    def __init__(self):
        self._parser = mbus.MBusStreamParser()

    def events(self, data: bytes) -> list:
        return self._parser.feed(data)

    @staticmethod
    def is_frame(event) -> bool:
        return not isinstance(event, Exception)

    @staticmethod
    def expectation(request: bytes) -> None:
        return None

    @staticmethod
    def answers(expected, frame) -> bool:
        # M-Bus is strictly master/slave on one bus: the next slave frame is the answer.
        control = getattr(frame, "control", None)
        return control is None or not control.from_master


def framing_for(protocol: str):
    if protocol.startswith("dlt645"):
        return Dlt645Framing()
    if protocol == "mbus":
        return MBusFraming()
    raise ValueError(f"no bus framing for protocol {protocol!r}")
