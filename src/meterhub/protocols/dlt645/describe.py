"""JSON-ready descriptions of frames, for `meterhub decode` and for logs.

`describe(data)` takes raw bytes (a single frame or a whole capture) and returns
one dict per event: decoded frames, and typed errors as {"error": kind, ...}.
Values keep their exactness: decimals are strings ("12345.67"), times ISO 8601.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from .codes import FUNCTION_NAMES, RelayAction
from .errors import Dlt645Error
from .frame import Frame
from .items import ItemTable, item_table
from .replies import AddressReply, ErrorReply, ReadReply, parse_reply
from .requests import Write, parse_request
from .stream import parse_stream
from .values import to_json

_RENAME = {"action": "relay_action"}
_LEVELS = {"password_level", "old_level", "new_level", "level"}


def _field(name: str, value):
    if name in _LEVELS:
        return f"{value:02X}"
    if isinstance(value, RelayAction):
        return value.label
    if isinstance(value, datetime):
        return value.isoformat()
    return to_json(value)


def _item_fields(out: dict, di: int, data: bytes, table: ItemTable) -> None:
    try:
        item, value = table.decode(di, data)
    except Dlt645Error as exc:
        out["value_error"] = str(exc)
        return
    if item is not None:
        out["item"] = item.name
        if item.unit:
            out["unit"] = item.unit
    else:
        out["item"] = "block" if isinstance(value, dict) else "unknown"
    out["value"] = value.to_dict() if hasattr(value, "to_dict") else to_json(value)


def describe_frame(frame: Frame, version: str = "2007", table: ItemTable | None = None) -> dict:
    table = table or item_table(version)
    out: dict = {
        "standard": version,
        "hex": frame.encode().hex(" ").upper(),
        "address": frame.address,
        "control": f"{frame.control:02X}",
        "direction": "reply" if frame.is_reply else "request",
        "function": FUNCTION_NAMES[version].get(frame.function, f"unknown {frame.function:02X}"),
    }
    if frame.is_reply:
        out["abnormal"] = frame.is_abnormal
        out["follow_up"] = frame.has_follow_up
    try:
        msg = parse_reply(frame, version) if frame.is_reply else parse_request(frame, version)
    except Dlt645Error as exc:
        out["error"] = exc.kind
        out["message"] = str(exc)
        out["data"] = frame.data.hex().upper()
        return out
    out["message_type"] = type(msg).__name__
    if isinstance(msg, ErrorReply):
        out["err"] = f"{msg.err:02X}"
        out["error_bits"] = msg.errors
        return out
    if isinstance(msg, AddressReply):
        out["value"] = msg.address
        return out
    for fld in dataclasses.fields(msg):
        name = fld.name
        if name in ("address", "version", "function", "follow_up", "data"):
            continue
        v = getattr(msg, name)
        if v is None:
            continue
        if name == "di":
            out["di"] = f"{v:08X}" if version == "2007" else f"{v:04X}"
        else:
            out[_RENAME.get(name, name)] = _field(name, v)
    if isinstance(msg, ReadReply):
        out["data"] = msg.data.hex().upper()
        _item_fields(out, msg.di, msg.data, table)
    elif isinstance(msg, Write):
        out["data"] = msg.data.hex().upper()
        _item_fields(out, msg.di, msg.data, table)
    return out


def describe(data: bytes, version: str = "2007", table: ItemTable | None = None) -> list[dict]:
    """Every frame and every error in `data`, described. Never raises on bad bytes."""
    if version not in ("2007", "1997"):
        raise ValueError(f"unknown DL/T 645 version {version!r}")
    out = []
    for ev in parse_stream(bytes(data)):
        if isinstance(ev, Frame):
            out.append(describe_frame(ev, version, table))
        else:
            out.append(ev.to_dict())
    return out
