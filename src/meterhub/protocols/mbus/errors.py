"""Typed errors for the M-Bus codec.

Every failure the codec can detect on bytes from the wire is an ``MBusError``; callers
catch that one base and nothing else. ``offset`` points into the buffer that was being
decoded, when it is known, so an operator can find the bad byte in a hex dump.
"""

from __future__ import annotations


class MBusError(Exception):
    """Base of every error raised (or reported) by the M-Bus codec."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": self.message, "offset": self.offset}


class MBusIncompleteError(MBusError):
    """The buffer ends inside a frame: wait for more bytes (or the frame was cut)."""


class MBusFrameError(MBusError):
    """The bytes are not a well-formed EN 13757-2 frame (start/stop/length fields)."""


class MBusChecksumError(MBusFrameError):
    """The frame is well formed but its checksum does not match its contents."""

    def __init__(self, message: str, offset: int | None = None, *, expected: int = 0,
                 actual: int = 0):
        super().__init__(message, offset)
        self.expected = expected
        self.actual = actual


class MBusHeaderError(MBusError):
    """The application-layer header (fixed or variable data structure) is malformed."""


class MBusRecordError(MBusError):
    """A variable data record is malformed (truncated, too many DIFE/VIFE, bad LVAR)."""


class MBusUnsupportedError(MBusError):
    """A well-formed telegram uses a CI field or feature this codec does not implement."""


class MBusApplicationError(MBusError):
    """The slave answered with an application error (CI 70h) instead of data."""

    def __init__(self, message: str, offset: int | None = None, *, code: int | None = None):
        super().__init__(message, offset)
        self.code = code


class MBusEncodeError(MBusError, ValueError):
    """A value given to an encoder cannot be represented on the wire."""
