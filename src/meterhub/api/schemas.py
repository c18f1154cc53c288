"""What the API sends. Decimal values travel as strings, exactly as stored."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, Field

# An id or count the database can hold (64-bit): anything larger is a 422, not an overflow deep in a query.
DbInt = Annotated[int, Field(ge=0, le=2**63 - 1)]


def _storable_time(value: datetime) -> datetime:
    """A time with its offset, that still exists in UTC between years 1 and 9999 (found by the fuzzer:
    0001-01-01T00:00+23:46 is valid ISO 8601 yet has no UTC value, and the database refused it)."""
    if value.tzinfo is None:
        raise ValueError("the time needs an offset, e.g. 2026-03-01T00:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time is out of range") from exc


AwareTime = Annotated[datetime, AfterValidator(_storable_time)]


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


class SiteOut(Schema):
    id: int
    code: str
    name: str
    time_zone: str
    currency: str
    address: str
    meters: int


class SitePage(Schema):
    items: list[SiteOut]
    next_after: int | None  # pass as ?after= for the next page; null on the last page


class CustomerOut(Schema):
    id: int
    account_no: str
    name: str
    customer_class: str
    language: str
    active: bool
    phone: str | None  # null unless the caller has customers.personal
    email: str | None  # likewise; the ID number is never sent


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_after: int | None


class AlarmOut(Schema):
    id: int
    kind: str
    severity: str
    state: str
    site: str
    meter_id: int | None
    collector: str | None
    raised_at: datetime
    last_at: datetime
    count: int
    detail: dict
    acknowledged_at: datetime | None
    cleared_at: datetime | None


class AlarmPage(Schema):
    items: list[AlarmOut]
    next_after: int | None


class SealOut(Schema):
    id: int
    serial: str
    seal_type: str
    state: str
    meter_id: int | None
    collector: str | None
    position: str
    updated_at: datetime


class SealPage(Schema):
    items: list[SealOut]
    next_after: int | None


class CommandOut(Schema):
    id: int
    meter_id: int
    kind: str
    params: dict
    status: str
    requested_by: str
    reason: str
    created_at: datetime
    valid_until: datetime
    attempts: int
    finished_at: datetime | None
    result: dict


class CommandPage(Schema):
    items: list[CommandOut]
    next_after: int | None


class CommandIn(Schema):
    meter_id: DbInt
    kind: str  # relay_trip | relay_close_allowed | relay_direct_close | valve_close | valve_open | time_sync | read_now
    params: dict = {}
    reason: str = ""
