"""One exception tree for the whole codec.

Every failure the codec can report is a `Dlt645Error`. Builders *raise* them
(`EncodeError` is also a `ValueError`, since it means a bad argument). The stream
parser never raises while parsing: it hands bad frames and noise back as *events*
that are instances of these classes, so a collector loop can log them, count them
or `raise` them as it sees fit.
"""

from __future__ import annotations


class Dlt645Error(Exception):
    """Base of every error this codec reports."""

    #: short machine-readable name, used in JSON output
    kind = "error"

    def to_dict(self) -> dict:
        return {"error": self.kind, "message": str(self)}


class FrameError(Dlt645Error):
    """The bytes are not a well-formed DL/T 645 frame."""

    kind = "frame"

    def __init__(self, message: str, raw: bytes = b""):
        super().__init__(message)
        #: the offending bytes (bounded: at most one frame's worth)
        self.raw = bytes(raw)

    def to_dict(self) -> dict:
        d = super().to_dict()
        if self.raw:
            d["hex"] = self.raw.hex(" ").upper()
        return d


class ChecksumError(FrameError):
    """Header and end byte are right but the modulo-256 sum is not."""

    kind = "checksum"


class LengthError(FrameError):
    """The length byte points somewhere other than a checksum + 0x16 end byte,
    or exceeds the largest data field the standard allows."""

    kind = "length"


class TruncatedFrame(FrameError):
    """The stream ended in the middle of a frame."""

    kind = "truncated"


class Noise(FrameError):
    """Bytes skipped while hunting for a frame start (FE/FF fill is not noise).

    `count` is exact; `raw` keeps only the first bytes as a sample.
    """

    kind = "noise"

    def __init__(self, count: int, sample: bytes):
        super().__init__(f"skipped {count} byte(s) of noise", sample)
        self.count = count

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["count"] = self.count
        return d


class BufferFull(Dlt645Error):
    """`feed()` was called with more than the bounded buffer holds; drain events first."""

    kind = "buffer-full"


class DecodeError(Dlt645Error):
    """A well-formed frame whose content does not make sense (bad BCD, short data,
    unknown control code, ...)."""

    kind = "decode"


class EncodeError(Dlt645Error, ValueError):
    """A builder was given something it cannot put on the wire."""

    kind = "encode"
