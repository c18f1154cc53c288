"""Collectors that listen: the head-end dials out to each of their buses and keeps the link up.

Bus n of a dial-out collector listens on its port + n - 1 (one TCP connection per bus, as
for dial-in). The collector still sends its registration packet first, so the same
CollectorConnection checks who answered.
"""

from __future__ import annotations

import asyncio
import logging

from meterhub.headend.server import CollectorConnection

log = logging.getLogger(__name__)
BACKOFF_S = (1.0, 60.0)
CONNECT_TIMEOUT_S = 10.0


class _DialOutConnection(CollectorConnection):
    def __init__(self, headend):
        super().__init__(headend)
        self.gone = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        if not self.gone.done():
            self.gone.set_result(exc)


class DialOut:
    def __init__(self, headend, *, refresh_s: float = 30.0, backoff_s: tuple[float, float] = BACKOFF_S):
        self.headend = headend
        self.refresh_s, self.backoff_s = refresh_s, backoff_s
        self._links: dict[tuple[str, int], tuple[asyncio.Task, tuple[str, int]]] = {}

    def targets(self) -> dict[tuple[str, int], tuple[str, int]]:
        """(registration id, bus port) -> (host, TCP port) for every dial-out bus."""
        out = {}
        for collector in self.headend.fleet.collectors.values():
            if collector.transport != "dialout_tcp" or not collector.enabled or not collector.host:
                continue
            ports = sorted(p for (rid, p) in self.headend.fleet.buses if rid == collector.registration_id) or [1]
            for bus_port in ports:
                out[(collector.registration_id, bus_port)] = (collector.host, collector.port + bus_port - 1)
        return out

    async def run(self) -> None:
        try:
            while True:
                wanted = self.targets()
                for key, (task, address) in list(self._links.items()):
                    if wanted.get(key) != address:  # removed, disabled, or moved to another address
                        task.cancel()
                        del self._links[key]
                for key, address in wanted.items():
                    if key not in self._links or self._links[key][0].done():
                        task = asyncio.create_task(self._keep(key, address), name=f"dial-out {key}")
                        self._links[key] = (task, address)
                await asyncio.sleep(self.refresh_s)
        finally:
            for task, _address in self._links.values():
                task.cancel()

    async def _keep(self, key, address) -> None:
        loop = asyncio.get_running_loop()
        delay = self.backoff_s[0]
        failures = 0
        while True:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    _transport, conn = await loop.create_connection(lambda: _DialOutConnection(self.headend),
                                                                    *address)
            except (OSError, TimeoutError) as exc:
                failures += 1
                if failures == 1:
                    log.warning("dial-out to %s bus %s at %s:%s failed: %s", key[0], key[1], *address, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            failures, delay = 0, self.backoff_s[0]
            try:
                await conn.gone
            except asyncio.CancelledError:
                conn.transport.close()  # the collector was removed or moved: hang up
                raise
            await asyncio.sleep(self.backoff_s[0])
