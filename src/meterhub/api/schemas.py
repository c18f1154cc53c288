"""What the API sends. Decimal values travel as strings, exactly as stored."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ninja import Schema


class ReadingOut(Schema):
    meter_id: int
    quantity: str
    ts: datetime  # UTC
    value: Decimal  # primary side: raw_value x multiplier
    raw_value: Decimal  # what the meter's register said
    multiplier: Decimal  # CT x PT ratio (or CT, PT alone) at the time of the read
    unit: str
    quality: str  # actual | estimated | edited | suspect
    source: str  # scheduled | on_demand | mqtt | manual | import


class ReadingPage(Schema):
    items: list[ReadingOut]
    next_cursor: str | None  # pass as ?cursor= for the next page; null on the last page
    start: datetime
    end: datetime


class MeterOut(Schema):
    id: int
    serial: str
    site: str
    time_zone: str
    kind: str
    protocol: str
    address: str
    collector: str | None
    bus_port: int
    ct_ratio: Decimal
    pt_ratio: Decimal
    multiplier: Decimal
    active: bool


class MeterPage(Schema):
    items: list[MeterOut]
    page: int
    next_page: int | None
