"""A fleet of simulated collectors and meters, from a YAML file.

    spec = load_fleet("examples/demo-fleet.yaml")        # or parse_fleet(dict)
    async with Fleet(spec) as fleet:                     # start(): all links up
        fleet.meter("E240101000001").open_seal()
        fleet.storm()                                    # every collector drops at once

    export_csv(spec, "out/")      # collectors.csv + meters.csv for `meterhub import`

Two forms of file (docs/simulator.md, "Collectors and fleets"): the full form lists
collectors, their buses and meters; the compact form generates them for benchmarks:

    collectors: 2000
    meters_per_collector: 8

Deterministic: the fleet seed gives every meter (and every collector's jitter and
junk) its own seed, derived from the seed and the meter's serial or collector code,
so adding a meter does not change the others.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import hashlib
import inspect
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from .bus import Bus, MeterSlot
from .collector import TRANSPORTS, BusSpec, Collector, CollectorFaults, CollectorSpec, MeterSpec


class FleetError(ValueError):
    """A fleet file that cannot be run; the message says where."""


@dataclass
class FleetSpec:
    collectors: list[CollectorSpec] = field(default_factory=list)
    seed: int = 0
    site: str = "sunrise"
    headend_host: str = "127.0.0.1"
    headend_port: int = 9100
    control_host: str = "127.0.0.1"
    control_port: int = 9190
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    clock_start: float | None = None  # POSIX seconds; None: now
    clock_speed: float = 1.0
    time_scale: float = 1.0  # multiplies wire times and meter delays (1.0: real physics)
    connect_concurrency: int = 100
    storm_every_s: float = 0.0  # a reconnect storm this often (0: never)
    storm_fraction: float = 1.0  # share of the collectors that drop in a storm
    storm_reconnect_in: float = 0.0  # they all come back after this many seconds

    @property
    def links(self) -> int:
        """Bus connections (one socket per bus)."""
        return sum(max(1, len(c.buses)) for c in self.collectors)

    @property
    def meter_count(self) -> int:
        return sum(len(b.meters) for c in self.collectors for b in c.buses)


def derive_seed(seed: int, *parts: str) -> int:
    """A stable 63-bit seed for one part of the fleet."""
    text = ":".join((str(seed), *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") >> 1


# --- reading the file -------------------------------------------------------------------

_COLLECTOR_KEYS = {f.name for f in fields(CollectorSpec)} - {"buses", "faults"}
_METER_KEYS = {f.name for f in fields(MeterSpec)}
_FAULT_KEYS = {f.name for f in fields(CollectorFaults)}
_PREFIX = {"electricity": "E", "water": "W", "gas": "G"}


def load_fleet(path: str | os.PathLike, **overrides) -> FleetSpec:
    """A FleetSpec from a YAML file; keyword overrides win over the file's top level."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise FleetError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise FleetError(f"{path}: the top level must be a mapping")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_fleet(data, where=str(path))


def parse_fleet(data: dict, where: str = "fleet") -> FleetSpec:
    spec = FleetSpec(seed=int(data.get("seed", 0)), site=str(data.get("site", "sunrise")))
    _endpoint(data.get("headend"), spec, "headend", where)
    _endpoint(data.get("control"), spec, "control", where)
    _endpoint(data.get("mqtt"), spec, "mqtt", where)
    clock = data.get("clock") or {}
    if clock.get("start") is not None:
        spec.clock_start = _timestamp(clock["start"], where)
    spec.clock_speed = float(clock.get("speed", 1.0))
    spec.time_scale = float(data.get("time_scale", 1.0))
    spec.connect_concurrency = int(data.get("connect_concurrency", 100))
    storm = data.get("storm") or {}
    if not isinstance(storm, dict) or set(storm) - {"every_s", "fraction", "reconnect_in"}:
        raise FleetError(f"{where}: storm takes every_s, fraction and reconnect_in")
    spec.storm_every_s = float(storm.get("every_s", 0.0))
    spec.storm_fraction = float(storm.get("fraction", 1.0))
    spec.storm_reconnect_in = float(storm.get("reconnect_in", 0.0))
    if not 0.0 < spec.storm_fraction <= 1.0:
        raise FleetError(f"{where}: storm fraction is more than 0 and at most 1")
    defaults = data.get("defaults") or {}
    collectors = data.get("collectors", [])
    if isinstance(collectors, int):
        spec.collectors = _generate(collectors, data, defaults, where)
    elif isinstance(collectors, list):
        spec.collectors = [_collector(c, defaults, f"{where}: collectors[{i}]")
                           for i, c in enumerate(collectors)]
    else:
        raise FleetError(f"{where}: collectors must be a list or a number")
    _check_unique(spec, where)
    return spec


def _timestamp(value, where: str) -> float:
    """POSIX seconds from a number, an ISO date/time or a YAML timestamp; a time
    without a zone is UTC (not the machine's zone: the same file, the same run)."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value))
        except ValueError:
            raise FleetError(f"{where}: clock start {value!r} is not an ISO date/time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _endpoint(value, spec: FleetSpec, name: str, where: str) -> None:
    if value is None:
        return
    if isinstance(value, str):  # "host:port"
        host, _, port = value.rpartition(":")
        value = {"host": host, "port": port}
    if not isinstance(value, dict):
        raise FleetError(f"{where}: {name} must be host:port or a mapping with host and port")
    if value.get("host"):
        setattr(spec, f"{name}_host", str(value["host"]))
    if value.get("port"):
        setattr(spec, f"{name}_port", int(value["port"]))


def _collector(c: dict, defaults: dict, where: str) -> CollectorSpec:
    if not isinstance(c, dict) or not c.get("code"):
        raise FleetError(f"{where}: a collector needs a code")
    unknown = set(c) - _COLLECTOR_KEYS - {"buses", "faults", "meters", "baud"}
    if unknown:
        raise FleetError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    kw = {k: defaults[k] for k in _COLLECTOR_KEYS if k in defaults and k != "code"}
    kw.update({k: v for k, v in c.items() if k in _COLLECTOR_KEYS})
    kw["code"] = str(kw["code"])
    kw["registration_id"] = str(kw.get("registration_id") or kw["code"])
    if kw.get("transport", "dialin_tcp") not in TRANSPORTS:
        raise FleetError(f"{where}: transport must be one of {', '.join(TRANSPORTS)}")
    if kw.get("transport") == "dialout_tcp" and not kw.get("port"):
        raise FleetError(f"{where}: a dial-out collector needs the port it listens on")
    faults = {**(defaults.get("faults") or {}), **(c.get("faults") or {})}
    bad = set(faults) - _FAULT_KEYS
    if bad:
        raise FleetError(f"{where}: unknown fault(s) {', '.join(sorted(bad))}")
    baud = int(c.get("baud", defaults.get("baud", 2400)))
    buses_in = c.get("buses")
    if buses_in is None:  # shorthand: one bus, meters straight under the collector
        buses_in = [{"port": 1, "baud": baud, "meters": c.get("meters") or []}]
    buses = []
    for j, b in enumerate(buses_in):
        bw = f"{where}.buses[{j}]"
        meters = [_meter(m, defaults, f"{bw}.meters[{k}]") for k, m in enumerate(b.get("meters") or [])]
        buses.append(BusSpec(port=int(b.get("port", j + 1)), baud=int(b.get("baud", baud)), meters=meters))
    try:
        return CollectorSpec(**kw, buses=buses, faults=CollectorFaults(**faults))
    except (TypeError, ValueError) as exc:
        raise FleetError(f"{where}: {exc}") from None


def _meter(m: dict, defaults: dict, where: str) -> MeterSpec:
    if not isinstance(m, dict) or not m.get("address"):
        raise FleetError(f"{where}: a meter needs an address")
    meter_defaults = defaults.get("meter") or {}
    kw = {**meter_defaults, **m}
    options = dict(kw.pop("options", None) or {})
    for k in list(kw):
        if k not in _METER_KEYS:
            options[k] = kw.pop(k)  # anything else goes to the meter's constructor
    kw["address"] = str(kw["address"])
    kind = kw.setdefault("kind", "electricity")
    if kind not in _PREFIX:
        raise FleetError(f"{where}: kind must be electricity, water or gas")
    kw.setdefault("protocol", "dlt645_2007" if kind == "electricity" else "mbus")
    if kw["protocol"].startswith("dlt645"):
        if not (kw["address"].isdigit() and len(kw["address"]) <= 12):
            raise FleetError(f"{where}: DL/T 645 address {kw['address']} must be up to 12 digits")
        kw["address"] = kw["address"].zfill(12)
    kw["serial"] = str(kw.get("serial") or f"{_PREFIX[kind]}{kw['address']}")
    return MeterSpec(**kw, options=options)


def _generate(n: int, data: dict, defaults: dict, where: str) -> list[CollectorSpec]:
    """The compact form: n collectors with meters_per_collector meters each."""
    per = int(data.get("meters_per_collector", 8))
    buses_per = max(1, int(data.get("buses_per_collector", 1)))
    transport = data.get("transport", "dialin_tcp")
    if transport not in TRANSPORTS:
        raise FleetError(f"{where}: transport must be one of {', '.join(TRANSPORTS)}")
    kind = data.get("kind", "electricity")
    protocol = data.get("protocol", "dlt645_2007" if kind == "electricity" else "mbus")
    baud = int(data.get("baud", defaults.get("baud", 2400 if protocol != "mbus" else 2400)))
    prefix = str(data.get("code_prefix", "SIM-"))
    first = int(str(data.get("first_address", "240101000001")))
    port_base = int(data.get("port_base", 0))
    profile = data.get("profile", "")
    ckw = {k: defaults[k] for k in _COLLECTOR_KEYS if k in defaults}
    faults = defaults.get("faults") or {}
    out = []
    width = max(5, len(str(n)))
    for i in range(n):
        code = f"{prefix}{i + 1:0{width}d}"
        buses = []
        for b in range(buses_per):
            meters = []
            for k in range(b, per, buses_per):
                addr = first + i * per + k
                if protocol == "mbus":
                    address = f"{addr % 10**8:08d}"
                else:
                    address = f"{addr:012d}"
                meters.append(MeterSpec(serial=f"{_PREFIX.get(kind, 'M')}{address}", address=address,
                                        protocol=protocol, kind=kind, profile=profile))
            buses.append(BusSpec(port=b + 1, baud=baud, meters=meters))
        extra = {}
        if transport == "dialout_tcp":
            if not port_base:
                raise FleetError(f"{where}: generated dial-out collectors need port_base")
            extra = {"host": "127.0.0.1", "port": port_base + i * buses_per}
        out.append(CollectorSpec(**{**ckw, **extra}, code=code, registration_id=f"86{i + 1:013d}",
                                 transport=transport, buses=buses, faults=CollectorFaults(**faults)))
    return out


def _check_unique(spec: FleetSpec, where: str) -> None:
    codes, ids, serials = set(), set(), set()
    for c in spec.collectors:
        if c.code in codes:
            raise FleetError(f"{where}: collector {c.code} appears twice")
        if c.registration_id in ids:
            raise FleetError(f"{where}: registration id {c.registration_id} appears twice "
                             "(use faults: impersonate to make a collector send another's id)")
        codes.add(c.code)
        ids.add(c.registration_id)
        ports = set()
        for b in c.buses:
            if b.port in ports:
                raise FleetError(f"{where}: collector {c.code} has bus port {b.port} twice")
            ports.add(b.port)
            addrs = set()
            for m in b.meters:
                if m.serial in serials:
                    raise FleetError(f"{where}: meter {m.serial} appears twice")
                if (m.protocol, m.address) in addrs:
                    raise FleetError(f"{where}: address {m.address} twice on {c.code} port {b.port}")
                serials.add(m.serial)
                addrs.add((m.protocol, m.address))


# --- building meters ----------------------------------------------------------------------


def default_meter_factory(fleet_seed: int = 0, clock: Any = None) -> Callable[[MeterSpec], Any]:
    """MeterSpec -> a meter from meterhub.sim.electricity / water, with its seed, the
    fleet's clock and the faults the file sets. `options` go to the constructor as
    they are; the other fields only where the constructor takes them."""

    def build(spec: MeterSpec):
        seed = spec.seed if spec.seed is not None else derive_seed(fleet_seed, "meter", spec.serial)
        kw = {"address": spec.address, "seed": seed, "clock": clock,
              "profile": profile_for(spec.kind, spec.profile), "protocol": spec.protocol}
        cls = meter_class(spec.kind)
        if spec.kind == "electricity":
            kw.update(phases=3 if spec.phase == "three" else 1, phase=spec.phase,
                      version=spec.protocol.rsplit("_", 1)[-1])
        meter = cls(**_accepted(cls, kw), **spec.options)
        apply_faults(meter, spec.faults)
        return meter

    return build


def meter_class(kind: str):
    if kind == "electricity":
        from .electricity import ElectricityMeter

        return ElectricityMeter
    from .water import GasMeter, WaterMeter

    return WaterMeter if kind == "water" else GasMeter


def check_meters(spec: FleetSpec) -> None:
    """Fail now, not at the first read, on a meter the default factory cannot build:
    an unknown constructor keyword, profile or fault."""
    from .faults import Faults

    params = {}
    for c in spec.collectors:
        for b in c.buses:
            for m in b.meters:
                if m.profile:
                    profile_for(m.kind, m.profile)
                bad = [k for k in m.faults if not isinstance(getattr(Faults, k, None), property)]
                if bad:
                    raise FleetError(f"meter {m.serial}: unknown fault(s) {', '.join(bad)}")
                if m.options:
                    if m.kind not in params:
                        params[m.kind] = set(inspect.signature(meter_class(m.kind)).parameters)
                    unknown = set(m.options) - params[m.kind]
                    if unknown:
                        raise FleetError(f"meter {m.serial}: unknown key(s) {', '.join(sorted(unknown))}")


def profile_for(kind: str, name: str):
    """A load profile by name from meterhub.sim.profiles ("household", "shop";
    "household" on a water meter is "water household"); None: the meter's default."""
    if not name:
        return None
    from .profiles import PROFILES

    for key in (name, f"{kind} {name}"):
        if key in PROFILES:
            return PROFILES[key]
    raise FleetError(f"unknown load profile {name!r}; known: {', '.join(sorted(PROFILES))}")


def _accepted(cls, kw: dict) -> dict:
    """The keywords cls names (empty ones dropped): a file may give a profile to a
    meter class that has no use for one."""
    params = _parameters(cls)
    if params is None:
        return kw
    return {k: v for k, v in kw.items() if k in params and v not in ("", None)}


@functools.cache
def _parameters(cls) -> frozenset[str] | None:
    """The keyword names cls takes (None: unknown). Cached: meters are built lazily, at
    their first request, and inspecting the signature cost more than building the meter."""
    try:
        return frozenset(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return None


def apply_faults(meter, faults: dict) -> None:
    target = getattr(meter, "faults", None)
    for k, v in (faults or {}).items():
        if target is None or not hasattr(target, k):
            raise FleetError(f"meter {getattr(meter, 'address', '?')}: unknown fault {k}")
        setattr(target, k, v)


def make_clock(spec: FleetSpec):
    from .clock import SimClock

    return SimClock(start=spec.clock_start, speed=spec.clock_speed)


# --- the running fleet ------------------------------------------------------------------


class Fleet:
    """Every collector of a FleetSpec, running on the current event loop.

    meter_factory: MeterSpec -> meter (default: the real simulated meters).
    headend: (host, port) overriding the file's head-end for dial-in collectors.
    time_scale: overrides the file's (wire times and meter delays are multiplied by it).
    """

    def __init__(self, spec: FleetSpec, *, meter_factory: Callable[[MeterSpec], Any] | None = None,
                 clock: Any = None, headend: tuple[str, int] | None = None,
                 time_scale: float | None = None):
        self.spec = spec
        self.clock = clock if clock is not None else make_clock(spec)
        self.headend = headend or (spec.headend_host, spec.headend_port)
        self.time_scale = spec.time_scale if time_scale is None else time_scale
        if meter_factory is None:
            check_meters(spec)
        self._factory = meter_factory or default_meter_factory(spec.seed, self.clock)
        self._limit: asyncio.Semaphore | None = None
        self._up_once: set[tuple[str, int]] = set()
        self._all_up: asyncio.Event | None = None
        self._progress: Callable[[int, int], None] | None = None
        self._index: dict[str, tuple[Collector, Bus, MeterSlot]] | None = None
        self.control = None
        self.collectors: dict[str, Collector] = {}
        for c in spec.collectors:
            self.collectors[c.code] = Collector(
                c, headend=self.headend, mqtt=(spec.mqtt_host, spec.mqtt_port), clock=self.clock,
                seed=derive_seed(spec.seed, "collector", c.code), meter_factory=self._factory,
                time_scale=self.time_scale, on_up=self._on_up,
            )
        self.total_links = sum(len(c.buses) for c in self.collectors.values())
        self._rng = random.Random(derive_seed(spec.seed, "fleet"))
        self._storm_timer: asyncio.TimerHandle | None = None
        self.storms = 0

    def build_meters(self) -> int:
        """Build every meter now rather than at its first request; returns how many.

        For benchmarks: a real field's meters exist before the head-end polls them, so
        building one (its profile, its seeded state) must not be charged to the cycle."""
        return sum(len(bus.meters) for c in self.collectors.values() for bus in c.buses)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **kwargs) -> Fleet:
        """Fleet(load_fleet(path), **kwargs)."""
        return cls(load_fleet(path), **kwargs)

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # -- life cycle ----------------------------------------------------------------------

    async def start(self, *, wait: bool = True, timeout: float = 120.0,
                    progress: Callable[[int, int], None] | None = None,
                    control: bool = False) -> float:
        """Start every collector; with wait, return once every bus link has come up
        (registered with the head-end, listening for dial-out, or on the broker).
        progress(up, total) is called as links come up. Returns the seconds taken."""
        t0 = time.perf_counter()
        self._limit = asyncio.Semaphore(self.spec.connect_concurrency)
        self._all_up = asyncio.Event()
        self._progress = progress
        if len(self._up_once) >= self.total_links:
            self._all_up.set()
        for c in self.collectors.values():
            c._limit = self._limit
            await c.start()
        if self.spec.storm_every_s > 0:
            self._arm_storm()
        if control:
            from .control import ControlServer

            self.control = ControlServer(self, self.spec.control_host, self.spec.control_port)
            await self.control.start()
        if wait:
            await self.wait_up(timeout)
        return time.perf_counter() - t0

    async def wait_up(self, timeout: float = 120.0) -> None:
        """Until every bus link has come up at least once."""
        try:
            await asyncio.wait_for(self._all_up.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"{len(self._up_once)} of {self.total_links} links up after {timeout} s") from None

    def _arm_storm(self) -> None:
        def fire():
            n = len(self.collectors)
            k = max(1, round(n * self.spec.storm_fraction))
            codes = self._rng.sample(sorted(self.collectors), k) if k < n else None
            self.storm(codes, reconnect_in=self.spec.storm_reconnect_in)
            self._arm_storm()

        self._storm_timer = asyncio.get_running_loop().call_later(self.spec.storm_every_s, fire)

    async def stop(self) -> None:
        if self._storm_timer is not None:
            self._storm_timer.cancel()
            self._storm_timer = None
        if self.control is not None:
            await self.control.stop()
            self.control = None
        await asyncio.gather(*(c.stop() for c in self.collectors.values()), return_exceptions=True)

    def _on_up(self, collector: Collector, port: int) -> None:
        key = (collector.code, port)
        if key in self._up_once:
            return
        self._up_once.add(key)
        if self._progress:
            self._progress(len(self._up_once), self.total_links)
        if len(self._up_once) >= self.total_links and self._all_up is not None:
            self._all_up.set()

    @property
    def links_up(self) -> int:
        """Bus links connected right now."""
        return sum(len(c.links) if c.spec.transport != "mqtt" else
                   (len(c.buses) if c._mqtt_client else 0) for c in self.collectors.values())

    # -- finding things --------------------------------------------------------------------

    def collector(self, key: str) -> Collector:
        """By code or registration id."""
        c = self.collectors.get(key)
        if c is None:
            for c2 in self.collectors.values():
                if c2.spec.registration_id == key:
                    return c2
            raise KeyError(f"no collector {key}")
        return c

    def find_meter(self, key: str) -> tuple[Collector, Bus, MeterSlot]:
        """By serial or address (the address it has now, if it was replaced)."""
        if self._index is None:
            self._index = {}
            for c in self.collectors.values():
                for b in c.buses:
                    for s in b.slots:
                        self._index[s.serial] = (c, b, s)
                        self._index.setdefault(s.spec.address, (c, b, s))
        hit = self._index.get(key)
        if hit is not None:
            return hit
        for c in self.collectors.values():
            found = c.find(key)
            if found:
                return (c, *found)
        raise KeyError(f"no meter {key}")

    def meter(self, key: str):
        """The meter object (built now if it was not yet)."""
        return self.find_meter(key)[2].meter

    # -- faults ----------------------------------------------------------------------------

    def storm(self, codes: list[str] | None = None, reconnect_in: float = 0.0) -> int:
        """A reconnect storm: the collectors (all by default) drop at the same moment
        and all come back `reconnect_in` seconds later, together."""
        targets = [self.collector(k) for k in codes] if codes else list(self.collectors.values())
        self.storms += 1
        return sum(c.drop(reconnect_in=reconnect_in) for c in targets)

    def status(self) -> dict:
        built = sum(s.built for c in self.collectors.values() for b in c.buses for s in b.slots)
        totals: dict[str, int] = {}
        for c in self.collectors.values():
            for b in c.buses:
                for k, v in b.stats.as_dict().items():
                    totals[k] = totals.get(k, 0) + v
        return {
            "collectors": len(self.collectors), "links": self.total_links, "links_up": self.links_up,
            "meters": self.spec.meter_count, "meters_built": built,
            "connects": sum(c.connects for c in self.collectors.values()),
            "drops": sum(c.drops for c in self.collectors.values()), "storms": self.storms, **totals,
        }


# --- a head-end stand-in for benchmarks ---------------------------------------------------


class Sink:
    """The least a head-end can be: accepts collectors, counts registrations and
    heartbeats, and never sends a byte. `meterhub simulate run --sink` uses it to
    measure the simulator alone."""

    def __init__(self):
        self.connections = 0
        self.registrations = 0
        self.bytes = 0
        self.server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 9100) -> Sink:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _SinkProtocol(self), host, port,
                                               backlog=4096, reuse_address=True)
        return self

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


class _SinkProtocol(asyncio.Protocol):
    __slots__ = ("sink", "registered")

    def __init__(self, sink: Sink):
        self.sink = sink
        self.registered = False

    def connection_made(self, transport):
        self.sink.connections += 1

    def data_received(self, data):
        self.sink.bytes += len(data)
        if not self.registered and data.startswith(b"REG:"):
            self.registered = True
            self.sink.registrations += 1


# --- export for the head-end --------------------------------------------------------------

COLLECTOR_COLUMNS = ("code", "name", "site", "transport", "registration_id", "host", "port", "model")
METER_COLUMNS = ("serial", "site", "kind", "protocol", "address", "collector", "bus_port", "baud_rate",
                 "phase", "payment_mode", "switch", "password", "operator_code")


def export_csv(spec: FleetSpec, out_dir: str | os.PathLike, site: str | None = None) -> tuple[Path, Path]:
    """collectors.csv and meters.csv, in the columns `meterhub import` reads, so the
    head-end knows the fleet. A dial-out collector's port is its bus 1 (bus n listens
    on port + n - 1)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    site = site or spec.site
    cpath, mpath = out / "collectors.csv", out / "meters.csv"
    with cpath.open("w", newline="", encoding="utf-8") as fc, mpath.open("w", newline="", encoding="utf-8") as fm:
        cw = csv.writer(fc)
        mw = csv.writer(fm)
        cw.writerow(COLLECTOR_COLUMNS)
        mw.writerow(METER_COLUMNS)
        for c in spec.collectors:
            dialout = c.transport == "dialout_tcp"
            cw.writerow((c.code, c.name, site, c.transport, c.registration_id,
                         (c.host or "127.0.0.1") if dialout else "", c.port if dialout else "", c.model))
            for b in c.buses:
                for m in b.meters:
                    switch = m.switch
                    mw.writerow((m.serial, site, m.kind, m.protocol, m.address, c.code, b.port, b.baud,
                                 m.phase if m.kind == "electricity" else "single", m.payment_mode, switch,
                                 m.password, m.operator_code))
    return cpath, mpath
