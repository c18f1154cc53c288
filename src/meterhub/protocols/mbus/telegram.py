"""RSP_UD user data: CI field dispatch, decode to typed telegrams, and the encoder.

The encoder is what the simulator uses to play a water or gas meter: give it a header
and records, get back the long frame a real meter would put on the bus.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import (
    MBusApplicationError,
    MBusEncodeError,
    MBusError,
    MBusHeaderError,
    MBusUnsupportedError,
)
from .frame import ControlFrame, LongFrame, decode_frame, rsp_ud_frame
from .header import (
    FixedData,
    ShortHeader,
    VariableHeader,
    decode_fixed,
    decode_short_header,
    decode_variable_header,
)
from .records import DataRecord, decode_records, encode_records

CI_APPLICATION_ERROR = 0x70
CI_ALARM = 0x71
CI_VARIABLE = 0x72
CI_FIXED = 0x73
CI_VARIABLE_MSB = 0x76
CI_FIXED_MSB = 0x77
CI_VARIABLE_NO_HEADER = 0x78
CI_VARIABLE_SHORT = 0x7A
CI_DATA_SEND = 0x51
CI_SELECT = 0x52
CI_APPLICATION_RESET = 0x50

APPLICATION_ERRORS = {
    0: "unspecified error",
    1: "unimplemented CI field",
    2: "buffer too long, truncated",
    3: "too many records",
    4: "premature end of record",
    5: "more than 10 DIFE",
    6: "more than 10 VIFE",
    8: "application busy",
    9: "too many readouts",
}


@dataclass(frozen=True, slots=True)
class VariableData:
    """A decoded RSP_UD with variable data records (CI 72h, 7Ah or 78h)."""

    header: VariableHeader | ShortHeader | None
    records: tuple[DataRecord, ...]
    ci: int = CI_VARIABLE

    def encode(self) -> bytes:
        """User data after the CI byte."""
        head = b"" if self.header is None else self.header.encode()
        return head + encode_records(self.records)


@dataclass(frozen=True, slots=True)
class AlarmStatus:
    status: int


def decode_user_data(ci: int, data: bytes, base: int = 0):
    """Decode the application layer of a slave's long frame by its CI field.

    ``base`` is the offset of ``data`` in the frame, for error offsets.
    """
    if ci == CI_VARIABLE:
        if len(data) < 12:
            raise MBusHeaderError(
                f"variable data header needs 12 bytes, got {len(data)}", base + len(data))
        return VariableData(decode_variable_header(data), tuple(decode_records(data[12:],
                                                                                base + 12)), ci)
    if ci == CI_VARIABLE_SHORT:
        header = decode_short_header(data)
        return VariableData(header, tuple(decode_records(data[4:], base + 4)), ci)
    if ci == CI_VARIABLE_NO_HEADER:
        return VariableData(None, tuple(decode_records(data, base)), ci)
    if ci == CI_FIXED:
        return decode_fixed(data)
    if ci == CI_APPLICATION_ERROR:
        code = data[0] if data else 0
        text = APPLICATION_ERRORS.get(code, f"reserved error code {code}")
        raise MBusApplicationError(f"slave reports application error: {text}", base, code=code)
    if ci == CI_ALARM:
        return AlarmStatus(data[0] if data else 0)
    raise MBusUnsupportedError(f"CI field {ci:02X} is not implemented", base - 1)


def decode_rsp_ud(frame: LongFrame | ControlFrame):
    """Decode a slave's RSP_UD frame to VariableData / FixedData / AlarmStatus."""
    data = frame.data if isinstance(frame, LongFrame) else b""
    return decode_user_data(frame.ci, data, 7)


def decode(data: bytes):
    """One whole RSP_UD long frame (bytes) to its decoded application data."""
    frame = decode_frame(data)
    if not isinstance(frame, LongFrame | ControlFrame):
        raise MBusUnsupportedError(f"{type(frame).__name__} carries no user data", 0)
    return decode_rsp_ud(frame)


def encode_rsp_ud(address: int, header: VariableHeader | ShortHeader | None, records,
                  *, acd: bool = False, dfc: bool = False) -> bytes:
    """Build the RSP_UD long frame a meter sends in answer to REQ_UD2.

    The CI follows from the header: VariableHeader -> 72h, ShortHeader -> 7Ah,
    None -> 78h. Raises MBusEncodeError if the result does not fit one frame.
    """
    if isinstance(header, VariableHeader):
        ci = CI_VARIABLE
    elif isinstance(header, ShortHeader):
        ci = CI_VARIABLE_SHORT
    elif header is None:
        ci = CI_VARIABLE_NO_HEADER
    else:
        raise MBusEncodeError(f"unsupported header {header!r}")
    payload = VariableData(header, tuple(records), ci).encode()
    return rsp_ud_frame(address, ci, payload, acd=acd, dfc=dfc)


__all__ = [
    "APPLICATION_ERRORS",
    "AlarmStatus",
    "FixedData",
    "MBusError",
    "VariableData",
    "decode",
    "decode_rsp_ud",
    "decode_user_data",
    "encode_rsp_ud",
]
