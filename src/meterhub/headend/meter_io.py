"""Talking to one meter over its bus session: reads with retries, relay control, time sync.

Failures are typed so operators see *why*: the collector is offline, the meter did not
answer, the meter refused (and which ERR bits it set), or the answer was unreadable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from meterhub.headend.bus import BusError, BusSession, CollectorGone, NoReply
from meterhub.protocols import dlt645, mbus

RETRY_BACKOFF_S = (0.1, 0.3)  # waits before the 2nd and 3rd attempt


class MeterRefused(BusError):
    kind = "refused"

    def __init__(self, message: str, errors: list[str]):
        super().__init__(message)
        self.errors = errors


class BadReply(BusError):
    kind = "bad_reply"


@dataclass(frozen=True)
class MeterRef:
    """What the head-end needs to know about a meter (a snapshot, no database)."""

    id: int
    serial: str
    address: str
    protocol: str
    collector: str = ""  # registration id
    bus_port: int = 1
    password: str = ""
    operator_code: str = ""
    ct_ratio: Decimal = Decimal(1)
    pt_ratio: Decimal = Decimal(1)
    baud_rate: int = 2400
    kind: str = "electricity"
    time_zone: str = "UTC"  # the site's: meter clocks keep local time
    seal_di: int | None = None  # the smart seal chip item, when a smart seal is installed
    # (event kind, number) of the newest cover-open record stored: where cover watching resumes
    cover_numbers: tuple[tuple[str, int], ...] = ()

    def ratio(self, scale: str) -> Decimal:
        """The multiplier for a quantity scaled by "ctpt", "ct", "pt" or "none"."""
        return {"ctpt": self.ct_ratio * self.pt_ratio, "ct": self.ct_ratio, "pt": self.pt_ratio}.get(
            scale, Decimal(1))

    @property
    def version(self) -> str:
        return "1997" if self.protocol == "dlt645_1997" else "2007"

    @property
    def password_parts(self) -> tuple[int, str]:
        """(level, 6-digit password). Stored as 8 digits, level first ("02123456"),
        as meter makers print it; 6 digits alone mean level 02."""
        text = self.password or "02000000"
        if len(text) == 6:
            return 2, text
        return int(text[:2], 16), text[2:8]


def meter_clock_utc(local: datetime, time_zone: str) -> datetime:
    """A time a meter recorded by its own clock (local time at its site, naive) as UTC."""
    return local.replace(tzinfo=ZoneInfo(time_zone or "UTC")).astimezone(UTC)


@lru_cache(maxsize=1 << 16)
def read_request(address: str, di: int, version: str) -> bytes:
    """The bytes of a read request: the same every cycle, so built once per (meter, item)."""
    return dlt645.Read(address, di, version=version).encode(preamble=4)


async def _with_retries(attempt, attempts: int):
    last: BusError | None = None
    for n in range(attempts):
        if n:
            await asyncio.sleep(RETRY_BACKOFF_S[min(n - 1, len(RETRY_BACKOFF_S) - 1)])
        try:
            return await attempt()
        except (NoReply, BadReply) as exc:  # worth another try; offline and refused are not
            last = exc
    raise last


async def _dlt645_exchange(session: BusSession, meter: MeterRef, request: dlt645.Request | bytes):
    frame = await session.transact(request if isinstance(request, bytes) else request.encode(preamble=4))
    try:
        reply = dlt645.parse_reply(frame, meter.version)
    except dlt645.Dlt645Error as exc:
        raise BadReply(f"{meter.serial}: {exc}") from exc
    if isinstance(reply, dlt645.ErrorReply):
        raise MeterRefused(f"{meter.serial} refused: {', '.join(reply.errors) or 'unspecified'}", reply.errors)
    return reply


async def read_item(session: BusSession, meter: MeterRef, di: int, *, attempts: int = 3):
    """One data item's decoded value, following up until the meter has sent it all."""

    async def attempt():
        reply = await _dlt645_exchange(session, meter, read_request(meter.address, di, meter.version))
        data, seq = bytearray(reply.data), 0
        while reply.follow_up:
            seq += 1
            reply = await _dlt645_exchange(
                session, meter, dlt645.ReadFollowUp(meter.address, di, seq, version=meter.version))
            data += reply.data
        try:
            return dlt645.ReadReply(meter.address, di, bytes(data), version=meter.version).value()
        except dlt645.Dlt645Error as exc:
            raise BadReply(f"{meter.serial}: item {di:08X}: {exc}") from exc

    return await _with_retries(attempt, attempts)


async def read_items(session: BusSession, meter: MeterRef, dis: list[int]) -> dict[int, object]:
    """Each item's value, or the BusError that stopped it. Stops early if the collector goes."""
    out: dict[int, object] = {}
    for di in dis:
        try:
            out[di] = await read_item(session, meter, di)
        except CollectorGone as exc:
            for rest in dis[len(out):]:
                out[rest] = exc
            break
        except BusError as exc:
            out[di] = exc
    return out


async def relay_control(session: BusSession, meter: MeterRef, action: dlt645.RelayAction,
                        valid_until: datetime, *, attempts: int = 3) -> None:
    level, password = meter.password_parts
    request = dlt645.RelayControl(meter.address, action, valid_until, password_level=level,
                                  password=password, operator=meter.operator_code or "00000000",
                                  version=meter.version)

    async def attempt():
        reply = await _dlt645_exchange(session, meter, request)
        if not isinstance(reply, dlt645.Ack):
            raise BadReply(f"{meter.serial}: relay control answered with {type(reply).__name__}")

    await _with_retries(attempt, attempts)


async def broadcast_time(session: BusSession, when: datetime, version: str = "2007") -> None:
    """Set every meter's clock on the bus; broadcasts get no reply."""
    await session.transact(dlt645.BroadcastTime(when, version=version).encode(preamble=4), expect_reply=False)


# --- M-Bus ------------------------------------------------------------------------------

VALVE_RECORD_VIF = b"\xfd\x1a"  # digital output: meterhub's valve record (docs/simulator.md)


def _mbus_target(meter: MeterRef) -> tuple[int, bytes | None]:
    """(address to talk to, selection frame or None): secondary ids are selected first."""
    if len(meter.address) == 8:
        return 0xFD, mbus.select_secondary(f"{meter.address}FFFFFFFF")
    return int(meter.address), None


def _fcb(session: BusSession, meter: MeterRef, target: int) -> tuple[mbus.FrameCountBit, bool]:
    """One frame count bit per meter, kept with the bus (a retry repeats it); True if new."""
    fcb = session.meter_state.get(meter.address)
    if fcb is None:
        fcb = session.meter_state[meter.address] = mbus.FrameCountBit(target)
        return fcb, True
    return fcb, False


async def _expect_ack(session: BusSession, meter: MeterRef, request: bytes, what: str) -> None:
    frame = await session.transact(request)
    if not isinstance(frame, mbus.SingleChar):
        raise BadReply(f"{meter.serial}: {what} answered with {type(frame).__name__}, not E5")


async def _link_up(session: BusSession, meter: MeterRef) -> mbus.FrameCountBit:
    """Address the meter and know its frame count bit.

    A secondary address is selected first (selection starts a new FCB sequence). A
    primary address gets SND_NKE the first time this bus talks to it, so the meter does
    not answer our first REQ_UD2 with the telegram it sent someone before a reconnect.
    """
    target, selection = _mbus_target(meter)
    fcb, new = _fcb(session, meter, target)
    if selection is not None:
        await _expect_ack(session, meter, selection, "selection")
        fcb.fcb = True
    elif new:
        await _expect_ack(session, meter, fcb.reset(), "SND_NKE")
    return fcb


async def read_mbus(session: BusSession, meter: MeterRef, *, attempts: int = 3) -> list:
    """The meter's current data records (RSP_UD to REQ_UD2)."""

    async def attempt():
        fcb = await _link_up(session, meter)
        frame = await session.transact(fcb.req_ud2())
        if not isinstance(frame, mbus.LongFrame | mbus.ControlFrame):
            raise BadReply(f"{meter.serial}: REQ_UD2 answered with {type(frame).__name__}, not RSP_UD")
        try:
            data = mbus.decode_rsp_ud(frame)
        except mbus.MBusError as exc:
            raise BadReply(f"{meter.serial}: {exc}") from exc
        fcb.answered()
        return list(data.records)

    return await _with_retries(attempt, attempts)


async def valve_control(session: BusSession, meter: MeterRef, open_valve: bool, *, attempts: int = 3) -> None:
    payload = mbus.encode_record(mbus.record(VALVE_RECORD_VIF, 1 if open_valve else 0, mbus.DataField.INT8))

    async def attempt():
        fcb = await _link_up(session, meter)
        # SND_UD carries the same FCB sequence: a repeated bit would be taken as a retry and not acted on.
        await _expect_ack(session, meter, mbus.snd_ud(fcb.address, 0x51, payload, fcb=fcb.fcb), "valve command")
        fcb.answered()

    await _with_retries(attempt, attempts)


LEAK_FLAG = 0x01  # bit 0 of the error-flags record: the leak/gas detector input (docs/simulator.md)


def leak(records) -> bool | None:
    """The meter's leak alarm input, from its error-flags record; None if it has none."""
    for rec in records:
        if rec.quantity == "error_flags" and rec.storage == 0:
            return bool(int(rec.value) & LEAK_FLAG)
    return None


def valve_open(records) -> bool | None:
    for rec in records:
        if rec.quantity == "digital_output" and rec.storage == 0:
            return bool(rec.value)
    return None


async def write_clock(session: BusSession, meter: MeterRef, local: datetime, *, attempts: int = 3) -> None:
    """Set one meter's date and time with its password (broadcast sync only corrects a few
    minutes; a clock further off needs this)."""
    level, password = meter.password_parts
    items = dlt645.ITEMS_2007
    for di, value in ((0x04000101, local.date()), (0x04000102, local.time().replace(microsecond=0))):
        request = dlt645.Write(meter.address, di, items.encode(di, value), level, password,
                               meter.operator_code or "00000000", version=meter.version)

        async def attempt(request=request):
            reply = await _dlt645_exchange(session, meter, request)
            if not isinstance(reply, dlt645.Ack):
                raise BadReply(f"{meter.serial}: clock write answered with {type(reply).__name__}")

        await _with_retries(attempt, attempts)
