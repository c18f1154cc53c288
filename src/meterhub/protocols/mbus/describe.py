"""``describe(data)``: every frame found in a buffer, as JSON-ready dicts (for the CLI).

Accepts raw bytes, or hex text (``68 1f 1f 68 ...``) as typed on a command line.
Never raises: an undecodable frame becomes ``{"error": ..., "message": ...}``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from .errors import MBusError, MBusIncompleteError
from .frame import LongFrame, ShortFrame, SingleChar
from .header import FixedData
from .stream import MBusStreamParser
from .telegram import AlarmStatus, VariableData, decode_rsp_ud

_HEX_TEXT = re.compile(rb"^[\s0-9a-fA-F:,-]*$")
_NON_HEX = re.compile(rb"[^0-9a-fA-F]")


def _maybe_hex(data: bytes) -> bytes:
    if data and _HEX_TEXT.match(data):
        digits = _NON_HEX.sub(b"", data)
        if digits and len(digits) % 2 == 0:
            return bytes.fromhex(digits.decode("ascii"))
    return data


def _num(v):
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v


def describe_frame(frame) -> dict:
    if isinstance(frame, SingleChar):
        return {"frame": "single_char", "meaning": "ACK"}
    out: dict = {"frame": type(frame).__name__.replace("Frame", "").lower(),
                 "control": frame.control.to_dict(), "address": frame.address}
    if isinstance(frame, ShortFrame):
        return out
    out["ci"] = frame.ci
    if frame.control.from_master:
        if isinstance(frame, LongFrame):
            out["data"] = frame.data.hex()
        if frame.ci == 0x52 and isinstance(frame, LongFrame):
            from .select import parse_selection

            try:
                out["selection"] = parse_selection(frame.data).to_dict()
            except MBusError as exc:
                out.update(exc.to_dict())
        return out
    try:
        app = decode_rsp_ud(frame)
    except MBusError as exc:
        out.update(exc.to_dict())
        return out
    if isinstance(app, VariableData):
        out["header"] = None if app.header is None else app.header.to_dict()
        out["records"] = [r.to_dict() for r in app.records]
    elif isinstance(app, FixedData):
        out["fixed"] = {
            "id": app.identification, "access_number": app.access_number,
            "status": app.status, "medium": app.medium, "medium_name": app.medium_name,
            "counters": [{"quantity": c.quantity, "unit": c.unit, "value": _num(c.value),
                          "stored": c.stored} for c in app.counters],
        }
    elif isinstance(app, AlarmStatus):
        out["alarm_status"] = app.status
    return out


def describe(data: bytes) -> list[dict]:
    """One dict per frame (or framing error) found in ``data``."""
    try:
        data = _maybe_hex(bytes(data))
        parser = MBusStreamParser()
        out = []
        for event in parser.feed(data):
            if isinstance(event, MBusError):
                out.append(event.to_dict())
            else:
                out.append(describe_frame(event))
        if parser.pending:
            out.append(MBusIncompleteError(
                f"{parser.pending} bytes at the end are an unfinished frame").to_dict())
        return out
    except Exception as exc:  # noqa: BLE001 - the CLI contract: never raise
        return [{"error": type(exc).__name__, "message": str(exc), "offset": None}]
