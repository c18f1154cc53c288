"""Read plans: when each runs, and running it across every bus with jitter.

A plan's cron is read in its own time zone (the site's), so "0 0 * * *" is local
midnight through DST changes. A head-end that was down for six slots runs the plan
once for the latest slot, not six times.

A run's readings are stamped with its slot, so a re-read of a slot is idempotent and
interval reads sit on the grid VEE expects. A run that starts late (beyond its jitter
and LATE_GRACE_S) stamps each reading with the time it was read instead: registers read
at 08:45 by a head-end that was down at midnight are not the midnight values, and
stamping them so would move the morning's use into the day before.

With several head-ends, each runs every plan for the buses it holds: the last slot run
is kept per (plan, node), and a node reads only the buses with a live session on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from meterhub.headend import quantities
from meterhub.headend.covers import COUNT_DIS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanSpec:
    id: int
    name: str
    cron: str
    time_zone: str
    items: str  # "instant" | "daily" | "status"
    jitter_s: int
    meters: frozenset[str]  # serials the plan covers
    last_slot: datetime | None


def latest_slot(cron: str, now: datetime, time_zone: str) -> datetime:
    """The most recent scheduled instant at or before `now` (aware, UTC)."""
    # get_prev is strictly before its start: start one second on so a slot at `now` counts.
    local_now = now.astimezone(ZoneInfo(time_zone)).replace(microsecond=0) + timedelta(seconds=1)
    return croniter(cron, local_now).get_prev(datetime).astimezone(now.tzinfo)


def due_slot(plan: PlanSpec, now: datetime) -> datetime | None:
    slot = latest_slot(plan.cron, now, plan.time_zone)
    if plan.last_slot is not None and slot <= plan.last_slot:
        return None
    return slot


LATE_GRACE_S = 300  # beyond its jitter, a run starting this late reads another instant's values


def stamp_for(plan: PlanSpec, slot: datetime, now: datetime) -> datetime | None:
    """The instant a run of `plan` for `slot`, starting at `now`, stamps its readings with:
    the slot, or None (each reading's own time) when the run starts late."""
    return slot if now - slot <= timedelta(seconds=plan.jitter_s + LATE_GRACE_S) else None


def jitter_for(key: str, jitter_s: int) -> float:
    """A stable offset per bus, so 10,000 collectors spread out and each keeps its place."""
    if jitter_s <= 0:
        return 0.0
    digest = hashlib.blake2s(key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % (jitter_s * 1000) / 1000


def _buses_of(headend, plan: PlanSpec) -> dict:
    buses: dict = {}
    for meter in (headend.fleet.meters.get(s) for s in plan.meters):
        if meter is not None and meter.collector and meter.protocol.startswith("dlt645"):
            buses.setdefault((meter.collector, meter.bus_port), []).append(meter)
    return buses


def items_for(preset: str):
    def dis(meter) -> list[int]:
        v1997 = meter.version == "1997"
        chip = [meter.seal_di] if meter.seal_di is not None and not v1997 else []
        if preset == "status":
            return [] if v1997 else [quantities.STATUS_WORD_3, *chip, *COUNT_DIS]
        if preset == "daily":
            # The live energy registers, read right after midnight (the plan keeps its jitter
            # short). Reading the meter's own frozen records (DL/T 645-2007 0506xxxx) would
            # give the exact midnight values: future work, the codec and simulator lack them.
            return quantities.INSTANT_1997[:5] if v1997 else quantities.INSTANT_2007[:5]
        return quantities.INSTANT_1997 if v1997 else [*quantities.INSTANT_2007, *chip, *COUNT_DIS]

    return dis


class Scheduler:
    """Runs due plans on a HeadEnd's buses.

    `load_plans(node)` and `mark(plan_id, slot, node)` run in the database thread; `node`
    is the head-end's, so each node keeps its own last slot per plan.
    """

    def __init__(self, headend, load_plans: Callable, mark: Callable, *, tick_s: float = 5.0,
                 clock: Callable[[], datetime] | None = None):
        self.headend, self._load, self._mark = headend, load_plans, mark
        self.tick_s = tick_s
        self._clock = clock
        self._active: dict[int, asyncio.Task] = {}

    def now(self) -> datetime:
        from datetime import UTC

        return self._clock() if self._clock else datetime.now(UTC)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.tick_s)

    async def tick(self) -> list[asyncio.Task]:
        node = self.headend.node
        started = []
        for plan in await self.headend.blocking.run(self._load, node):
            slot = due_slot(plan, self.now())
            running = self._active.get(plan.id)
            if slot is None or (running and not running.done()):
                continue  # a plan still running when its next slot comes skips that slot
            # Marked before running: a crash cannot repeat it.
            await self.headend.blocking.run(self._mark, plan.id, slot, node)
            # A head-end task: cancelled when the head-end closes.
            task = self.headend._spawn(self.run_plan(plan, slot), f"plan {plan.name} {slot:%H:%M}")
            self._active[plan.id] = task
            started.append(task)
        return started

    def _live(self, key: tuple[str, int]) -> bool:
        """This node holds the bus now (another head-end may hold it, or nobody)."""
        session = self.headend.sessions.get(key)
        return session is not None and not session.closed

    async def run_plan(self, plan: PlanSpec, slot: datetime) -> int:
        if plan.items == "clock":
            return await self.run_clock_plan(plan, slot)
        dis_for = items_for(plan.items)
        started = self.now()
        stamp = stamp_for(plan, slot, started)
        if stamp is None:
            log.warning("plan %s slot %s runs late (%s): readings stamped with the time they are read",
                        plan.name, slot.isoformat(), started - slot)
        buses: dict = {}
        for meter in self.headend.fleet.meters.values():  # the fleet's order: by bus, then address
            # A meter the plan asks nothing of (status words of a 1997 meter) is not read:
            # a "read" without an exchange would record it as a success.
            if meter.serial in plan.meters and meter.collector and dis_for(meter):
                buses.setdefault((meter.collector, meter.bus_port), []).append(meter)
        attempted = 0

        async def one_bus(key, meters):
            nonlocal attempted
            await asyncio.sleep(jitter_for(f"{key[0]}:{key[1]}", plan.jitter_s))
            ok = 0
            for meter in meters:
                if not self._live(key):
                    break  # not (or no longer) on this node: its holder reads it, no failures here
                if meter.serial not in self.headend.fleet.meters:
                    continue  # removed by a fleet refresh while the plan ran
                attempted += 1
                try:
                    values = await self.headend.read_meter(meter.serial, dis_for(meter), source="scheduled",
                                                           ts=stamp)
                except Exception:
                    log.exception("plan %s: reading meter %s failed", plan.name, meter.serial)
                    continue
                ok += any(not isinstance(v, Exception) for v in values.values())
            return ok

        keys = list(buses)
        results = await asyncio.gather(*(one_bus(k, buses[k]) for k in keys), return_exceptions=True)
        read = 0
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, BaseException):
                log.error("plan %s: bus %s:%s failed", plan.name, key[0], key[1],
                          exc_info=(type(result), result, result.__traceback__))
            else:
                read += result
        log.info("plan %s slot %s on %s: %d of %d meters read", plan.name, slot.isoformat(), self.headend.node,
                 read, attempted)
        return read

    async def run_clock_plan(self, plan: PlanSpec, slot: datetime) -> int:
        """Check every clock, correct those off by more than the tolerance, record each."""
        from meterhub.headend.clock import as_event, calibrate_bus

        async def one_bus(key, meters):
            await asyncio.sleep(jitter_for(f"{key[0]}:{key[1]}", plan.jitter_s))
            session = self.headend.sessions.get(key)
            if session is None or session.closed:
                return 0
            checks = await calibrate_bus(session, meters, self.now(), plan.time_zone, clock=self.now)
            for check in checks:
                self.headend.sink.put(as_event(check, slot))
            return sum(c.action in ("broadcast", "write") for c in checks)

        corrected = await asyncio.gather(*(one_bus(k, m) for k, m in _buses_of(self.headend, plan).items()))
        log.info("clock plan %s: %d clocks corrected", plan.name, sum(corrected))
        return sum(corrected)
