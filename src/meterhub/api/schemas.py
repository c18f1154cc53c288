"""What the API sends. Decimal values travel as strings, exactly as stored."""

from __future__ import annotations

from datetime import UTC, date, datetime
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
# What a site's code (a slug of at most 40) can be: anything else names no site, and never reaches the
# database (PostgreSQL refuses a NUL byte in text).
SiteCode = Annotated[str, Field(pattern=r"^[-a-zA-Z0-9_]{1,40}$")]


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


class CommStatusOut(Schema):
    last_attempt: datetime | None  # the last read tried; a failure when consecutive_failures > 0
    last_success: datetime | None
    consecutive_failures: int
    successes: int
    failures: int
    success_rate: float | None  # successes / (successes + failures); null before the first read
    last_error: str


class SwitchOut(Schema):
    switch: str  # relay | valve
    state: str  # open | closed
    supply: str  # on | off (an open relay cuts supply; an open valve lets it through)
    since: datetime  # when it was first seen in this position
    seen_at: datetime  # the last sighting (a status read or a command's read-back)
    command_id: int | None  # the command that moved it there, if one did


class LatestReadingOut(Schema):
    quantity: str
    ts: datetime
    value: Decimal  # primary side
    raw_value: Decimal
    multiplier: Decimal
    unit: str
    quality: str
    source: str


class MeterSealOut(Schema):
    id: int
    serial: str
    seal_type: str
    position: str
    state: str


class MeterDetail(MeterOut):
    switch: str  # none | relay | valve: what the meter has
    comm: CommStatusOut | None  # null: never read
    switch_state: SwitchOut | None  # null: never seen by a status read or a command
    latest_readings: list[LatestReadingOut]  # the newest of each quantity it has sent
    open_alarms: int  # raised or acknowledged
    seals: list[MeterSealOut]  # installed now, by position
    seals_ok: bool  # no open seal alarm (seal opened, foreign seal, unreadable)


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


class KindCountOut(Schema):
    kind: str  # electricity | water | gas
    meters: int
    active: int


class CollectorCountOut(Schema):
    total: int  # enabled collectors
    online: int  # any of its bus links up now
    offline: int
    disabled: int


class SiteDetail(SiteOut):
    meters_by_kind: list[KindCountOut]
    collectors: CollectorCountOut


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


class TenancyOut(Schema):
    premise_id: int
    site: str
    building: str | None
    unit: str
    address: str | None  # null unless the caller has customers.personal
    valid_from: datetime
    valid_to: datetime | None  # null: still living there


class CustomerAccountOut(Schema):
    id: int
    number: str
    site: str
    meter_id: int
    meter: str
    utility: str
    payment_mode: str
    closed_on: date | None


class CustomerDetail(CustomerOut):
    tenancies: list[TenancyOut]
    accounts: list[CustomerAccountOut]


class AccountOut(Schema):
    id: int
    number: str
    site: str
    currency: str
    customer_id: int
    customer: str  # the customer's account number
    premise_id: int | None
    meter_id: int
    meter: str  # serial
    utility: str  # electricity | water | gas
    payment_mode: str  # prepaid | postpaid
    balance: Decimal  # + the customer's money, - what they owe
    credit_limit: Decimal  # how far below zero a prepaid balance may go before cut-off
    supply: str  # on | off
    vulnerable: bool  # never cut off automatically
    opened_on: date
    closed_on: date | None


class AccountPage(Schema):
    items: list[AccountOut]
    next_after: int | None


class SupplyActionOut(Schema):
    action: str  # cut | restore | held | failed
    at: datetime
    reason: str
    command_id: int | None
    balance: Decimal


class AccountDetail(AccountOut):
    customer_name: str
    premise: str | None  # building-unit
    last_supply_action: SupplyActionOut | None
    month_volume: Decimal | None  # prepaid: volume charged so far this month
    charged_up_to: datetime | None  # prepaid: the read consumption has been charged up to


class LedgerEntryOut(Schema):
    id: int
    kind: str  # recharge | payment | consumption | standing | bill | refund | correction | late_fee
    amount: Decimal  # + the customer's money, - a charge
    at: datetime
    source: str
    reference: str
    memo: str


class LedgerPage(Schema):
    items: list[LedgerEntryOut]
    next_after: int | None


class PaymentOut(Schema):
    id: int
    receipt_no: str
    kind: str  # payment | refund
    method: str  # cash | pos | online
    account_id: int
    account: str  # account number
    site: str
    amount: Decimal
    currency: str
    received_at: datetime
    provider: str | None  # payment provider code
    reference: str  # the provider's or integrator's reference
    operator: str | None  # who took it (a token's owner for the API)
    refund_of: int | None  # the payment a refund pays back
    note: str


class PaymentPage(Schema):
    items: list[PaymentOut]
    next_after: int | None


class PaymentIn(Schema):
    account: str = Field(min_length=1, max_length=32)  # account number
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2, allow_inf_nan=False)
    currency: str | None = None  # if given, must be the site's currency
    method: str = "cash"  # cash | pos | online (online names its provider)
    provider: str | None = None  # a payment provider's code
    reference: str = Field(min_length=1, max_length=80)  # your unique reference: the idempotency key
    received_at: AwareTime | None = None  # when the customer paid; default now, never in the future
    note: str = Field("", max_length=200)


class BillOut(Schema):
    id: int
    account_id: int
    account: str
    period: str  # 2026-11
    period_start: date
    period_end: date  # excluded
    issued_on: date
    due_on: date
    opening_balance: Decimal
    charges: Decimal
    closing_balance: Decimal
    amount_due: Decimal
    volume: Decimal
    estimated: bool  # settled on estimated reads


class BillPage(Schema):
    items: list[BillOut]
    next_after: int | None


class BillLineOut(Schema):
    code: str  # energy:peak, tier:2, standing, prepaid:consumption
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    valid_from: date | None  # the tariff version's part of the period, when prorated


class BillDetail(BillOut):
    currency: str
    reads: dict  # {quantity: [opening, closing]}
    lines: list[BillLineOut]


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


class AlarmEventOut(Schema):
    event: str  # raised | escalated | acknowledged | cleared
    at: datetime
    by: str | None  # the operator; null for the system (raised, escalated, cleared by itself)
    reason: str  # why it was cleared; empty otherwise


class AlarmDetail(AlarmOut):
    flaps: int  # times it came back within the flapping window after clearing by itself
    escalated_at: datetime | None
    acknowledged_by: str | None
    cleared_by: str | None  # null when cleared by itself (or not cleared)
    clear_reason: str
    history: list[AlarmEventOut]  # the current cycle, in time order


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


class SealEventOut(Schema):
    action: str  # receive | issue | hand_back | install | remove | return | destroy | lose | void | found
    from_state: str
    to_state: str
    at: datetime
    by: str | None  # who recorded it
    technician: str | None  # who it was issued to
    meter_id: int | None
    meter: str | None  # serial
    collector: str | None
    position: str
    reason: str
    job: str  # work order
    photo: bool  # a photo proves it (the console shows it)
    location: str | None  # free text; null unless the caller has customers.personal
    notes: str | None  # likewise


class SealDetail(SealOut):
    batch: str | None  # batch reference; null for a foreign seal
    chip_asset: str
    holder: str | None  # the technician holding it
    history: list[SealEventOut]  # oldest first


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


class Flags(Schema):
    complete: bool  # both midnights known (a month: every day complete)
    estimated_share: float  # of the reads the figure rests on, the share estimated or edited
    rollover: bool
    backwards: bool
    exchange: bool  # installed, removed or exchanged in the period


class MeterDayOut(Flags):
    meter_id: int
    quantity: str
    day: date  # local day in the site's time zone
    consumption: Decimal
    unit: str
    start_value: Decimal
    end_value: Decimal
    reads: int
    actual_reads: int


class MeterMonthOut(Flags):
    meter_id: int
    quantity: str
    month: str  # 2026-03
    consumption: Decimal
    unit: str
    days: int
    complete_days: int


class MeterDayPage(Schema):
    items: list[MeterDayOut]
    next_cursor: str | None


class MeterMonthPage(Schema):
    items: list[MeterMonthOut]
    next_cursor: str | None


class TotalOut(Schema):
    period: str  # 2026-03-01 (a day) or 2026-03 (a month)
    kind: str  # electricity | water | gas
    building: str | None  # null: the whole site
    consumption: Decimal  # the premises' meters, master meters left out
    unit: str
    meters: int
    complete_meters: int
    completeness: float | None  # complete_meters / meters
    estimated_share: float  # mean of its meters' estimated shares
    master: Decimal | None  # what the master meter measured
    loss: Decimal | None  # master - consumption


class TotalList(Schema):
    items: list[TotalOut]


class CommandIn(Schema):
    meter_id: DbInt
    kind: str  # relay_trip | relay_close_allowed | relay_direct_close | valve_close | valve_open | time_sync | read_now
    params: dict = {}
    reason: str = ""
