"""A small collector for head-end tests: registers, then plays DL/T 645 meters with the codec.

Deliberately simple (fixed values, instant relay); the full simulated field is meterhub.sim.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from meterhub.protocols import dlt645


class FakeMeter:
    def __init__(self, address: str, energy: str = "1234.56", silent: bool = False, password: str = "123456"):
        self.address, self.energy, self.silent, self.password = address, Decimal(energy), silent, password
        self.late: dict[int, float] = {}  # DI -> extra delay for its next reply only
        self.relay_open = False
        self.trip_commanded = False
        self.relay_operations = 0
        self.requests = 0

    def answer(self, frame: dlt645.Frame) -> bytes | None:
        if frame.address != self.address or self.silent:
            return None
        self.requests += 1
        request = dlt645.parse_request(frame)
        if isinstance(request, dlt645.Read):
            if request.di == 0x00010100:
                return dlt645.ReadReply.of(self.address, request.di, Decimal("11.11")).encode()
            if request.di == 0x04000503:
                return dlt645.ReadReply.of(self.address, request.di, {
                    "relay_open": self.relay_open, "relay_trip_commanded": self.trip_commanded}).encode()
            if request.di >> 16 == 0x0001:
                return dlt645.ReadReply.of(self.address, request.di, self.energy).encode()
            if request.di == 0x02010100:
                return dlt645.ReadReply.of(self.address, request.di, Decimal("220.1")).encode()
            return dlt645.ErrorReply.named(self.address, 0x11, ["no requested data"]).encode()
        if isinstance(request, dlt645.RelayControl):
            if request.password != self.password:
                return dlt645.ErrorReply.named(self.address, 0x1C, ["password wrong / not authorised"]).encode()
            self.relay_operations += 1
            self.trip_commanded = request.action == dlt645.RelayAction.TRIP
            self.relay_open = self.trip_commanded
            return dlt645.Ack(self.address, 0x1C).encode()
        return None


class FakeCollector:
    def __init__(self, registration: str, meters: list[FakeMeter], port: int = 1, delay_s: float = 0.02,
                 garbage: bytes = b""):
        self.registration, self.meters, self.port = registration, meters, port
        self.delay_s, self.garbage = delay_s, garbage
        self.task: asyncio.Task | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, host: str, port: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        self.writer = writer
        suffix = f":{self.port}" if self.port > 1 else ""
        writer.write(f"REG:{self.registration}{suffix}\r\n".encode() + self.garbage)
        await writer.drain()
        self.task = asyncio.create_task(self._serve(reader, writer))

    async def _serve(self, reader, writer) -> None:
        parser = dlt645.StreamParser()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                parser.feed(data)
                for event in parser:
                    if not isinstance(event, dlt645.Frame):
                        continue
                    for meter in self.meters:
                        reply = meter.answer(event)
                        if reply:
                            di = int.from_bytes(event.data[:4], "little") if len(event.data) >= 4 else None
                            delay = self.delay_s + meter.late.pop(di, 0.0)
                            # replies are scheduled, so a late one overtakes nothing on its own
                            asyncio.get_running_loop().call_later(delay, writer.write, b"\xfe\xfe" + reply)

    async def drop(self) -> None:
        if self.writer:
            self.writer.close()
        if self.task:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
