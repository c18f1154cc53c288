"""M-Bus (EN 13757-2 link layer, EN 13757-3 application layer), pure and sans-IO.

    frame.py     E5 / short / control / long frames, C field, checksum, master requests
    stream.py    stream parser: resynchronises on noise, waits on partial frames
    header.py    variable (CI 72h), short (7Ah) and fixed (73h) headers; manufacturer, medium
    vif.py       VIF/VIFE tables in canonical units (kWh, m3, kW, m3/h, °C, s...)
    records.py   DIF/DIFE/VIF/VIFE data records, decode and encode
    telegram.py  RSP_UD decode by CI, and the RSP_UD encoder the simulator uses
    select.py    secondary address selection (SND_UD CI 52h, wildcards)
    describe.py  describe(data) -> list of JSON-ready dicts, one per frame
"""

from .describe import describe
from .errors import (
    MBusApplicationError,
    MBusChecksumError,
    MBusEncodeError,
    MBusError,
    MBusFrameError,
    MBusHeaderError,
    MBusIncompleteError,
    MBusRecordError,
    MBusUnsupportedError,
)
from .frame import (
    CField,
    ControlFrame,
    FrameCountBit,
    LongFrame,
    ShortFrame,
    SingleChar,
    checksum,
    decode_frame,
    parse_frame,
    req_ud1,
    req_ud2,
    rsp_ud_frame,
    snd_nke,
    snd_ud,
)
from .header import (
    MEDIA,
    FixedData,
    ShortHeader,
    VariableHeader,
    decode_manufacturer,
    encode_manufacturer,
)
from .records import DataField, DataRecord, Function, decode_records, encode_record, record
from .select import SecondaryAddress, parse_selection, select_secondary
from .stream import MBusStreamParser
from .telegram import AlarmStatus, VariableData, decode, decode_rsp_ud, encode_rsp_ud
from .vif import ValueInfo, value_info

__all__ = [
    "MEDIA",
    "AlarmStatus",
    "CField",
    "ControlFrame",
    "DataField",
    "DataRecord",
    "FixedData",
    "FrameCountBit",
    "Function",
    "LongFrame",
    "MBusApplicationError",
    "MBusChecksumError",
    "MBusEncodeError",
    "MBusError",
    "MBusFrameError",
    "MBusHeaderError",
    "MBusIncompleteError",
    "MBusRecordError",
    "MBusStreamParser",
    "MBusUnsupportedError",
    "SecondaryAddress",
    "ShortFrame",
    "ShortHeader",
    "SingleChar",
    "ValueInfo",
    "VariableData",
    "VariableHeader",
    "checksum",
    "decode",
    "decode_frame",
    "decode_manufacturer",
    "decode_records",
    "decode_rsp_ud",
    "describe",
    "encode_manufacturer",
    "encode_record",
    "encode_rsp_ud",
    "parse_frame",
    "parse_selection",
    "record",
    "req_ud1",
    "req_ud2",
    "rsp_ud_frame",
    "select_secondary",
    "snd_nke",
    "snd_ud",
    "value_info",
]
