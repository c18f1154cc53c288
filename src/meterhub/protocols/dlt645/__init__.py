"""DL/T 645-2007 and DL/T 645-1997, sans-IO: bytes in, typed frames out, and back.

Layers, each usable alone:
    frame    68 A0..A5 68 C L DATA CS 16, address order, +0x33, checksum
    stream   StreamParser: feed() bytes, iterate Frames and typed error events
    requests master-station frames (build for the head-end, parse for a simulator)
    replies  meter replies (parse for the head-end, build for a simulator)
    items    the data-identifier tables; values: BCD formats; seal: vendor item
    describe JSON-ready description for `meterhub decode`

Errors: everything is a `Dlt645Error`; see errors.py for which are raised and
which come out of the stream parser as events.
"""

from __future__ import annotations

from .codec import decode, parse
from .codes import (
    BAUD_BITS,
    ERR_BITS,
    FUNCTION_NAMES,
    Code1997,
    Code2007,
    RelayAction,
    error_bits,
    error_byte,
)
from .describe import describe, describe_frame
from .errors import (
    BufferFull,
    ChecksumError,
    DecodeError,
    Dlt645Error,
    EncodeError,
    FrameError,
    LengthError,
    Noise,
    TruncatedFrame,
)
from .frame import (
    BROADCAST,
    WILDCARD,
    Frame,
    address_from_wire,
    address_to_wire,
    checksum,
    decode_frame,
    encode_frame,
    scramble,
    unscramble,
)
from .items import ITEMS_1997, ITEMS_2007, Item, ItemTable, item_table
from .replies import (
    Ack,
    AddressReply,
    BaudReply,
    ErrorReply,
    PasswordReply,
    ReadFollowUpReply1997,
    ReadReply,
    Reply,
    parse_reply,
)
from .requests import (
    BroadcastTime,
    ChangeBaud,
    ChangePassword,
    ClearDemand,
    ClearEvent,
    ClearMeter,
    Freeze,
    Read,
    ReadAddress,
    ReadFollowUp,
    RelayControl,
    Request,
    Reread,
    Write,
    WriteAddress,
    parse_request,
)
from .seal import (
    DEFAULT_SEAL_SPEC,
    SEAL_SPECS,
    SealItemSpec,
    SealStatus,
    register_seal_spec,
    seal_spec_for,
)
from .stream import END, NEED_DATA, StreamParser, parse_stream
from .timing import REPLY_DELAY_MAX, reply_timeout, wire_time

__all__ = [
    "Ack", "AddressReply", "BAUD_BITS", "BROADCAST", "BaudReply", "BroadcastTime",
    "BufferFull", "ChangeBaud", "ChangePassword", "ChecksumError", "ClearDemand",
    "ClearEvent", "ClearMeter", "Code1997", "Code2007", "DEFAULT_SEAL_SPEC", "DecodeError",
    "Dlt645Error", "END", "ERR_BITS", "EncodeError", "ErrorReply", "FUNCTION_NAMES", "Frame",
    "FrameError", "Freeze", "ITEMS_1997", "ITEMS_2007", "Item", "ItemTable", "LengthError",
    "NEED_DATA", "Noise", "PasswordReply", "Read", "ReadAddress", "ReadFollowUp",
    "ReadFollowUpReply1997", "ReadReply", "RelayAction", "RelayControl", "Reply", "Request",
    "Reread", "SEAL_SPECS", "SealItemSpec", "SealStatus", "StreamParser", "TruncatedFrame",
    "WILDCARD", "Write", "WriteAddress", "address_from_wire", "address_to_wire", "checksum",
    "decode", "decode_frame", "describe", "describe_frame", "encode_frame", "error_bits",
    "error_byte", "item_table", "parse", "parse_reply", "parse_request", "parse_stream",
    "register_seal_spec", "scramble", "seal_spec_for", "unscramble",
    "REPLY_DELAY_MAX", "reply_timeout", "wire_time",
]
