"""`meterhub bench polling`: read every meter of a simulated fleet once, over loopback TCP.

Three figures for the same fleet, in the same run:
* our head-end (asyncio, one BusSession per bus) reading every meter for N items;
* the bus physics bound: what a perfect master would take, from the frame lengths,
  the baud rate and each simulated meter's own reply delay (the slowest bus decides);
* a baseline: a blocking poller with one thread per collector connection, same codec.

The simulated field runs in a separate process so the head-end's CPU and memory are its
own; its meters are built before the cycle (a real field's meters exist before they are
polled), and its CPU during the cycle is reported too, because on a small machine the
two processes share the cores. Nothing touches the database: the head-end's records go
to a counting sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import resource
import socket
import sys
import threading
import time
from datetime import UTC, datetime

from meterhub.gc_tuning import settle_long_lived
from meterhub.headend import timing
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.link import RegistrationParser
from meterhub.headend.meter_io import MeterRef
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from meterhub.protocols import dlt645

ITEMS = [0x00010000, 0x02010100, 0x02020100, 0x02030000]  # energy, voltage, current, power


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def fleet_description(collectors: int, meters: int, baud: int, port: int, seed: int = 7) -> dict:
    return {"seed": seed, "collectors": collectors, "meters_per_collector": meters, "baud": baud,
            "headend": f"127.0.0.1:{port}", "control": "127.0.0.1:0",
            "defaults": {"heartbeat_s": 3600, "reconnect_min_s": 0.2, "reconnect_max_s": 2},
            "connect_concurrency": 200}


def _run_simulator(description: dict, stop) -> None:
    """In the child process: run the fleet until told to stop."""
    _raise_fd_limit()
    from meterhub.sim.fleet import Fleet as SimFleet
    from meterhub.sim.fleet import parse_fleet

    async def main():
        fleet = SimFleet(parse_fleet(description))
        fleet.build_meters()  # the field exists before the head-end polls it
        settle_long_lived()  # as `meterhub simulate run` does
        await fleet.start(wait=False)
        while not stop.is_set():
            await asyncio.sleep(0.2)
        await fleet.stop()

    asyncio.run(main())


class Simulator:
    def __init__(self, description: dict):
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.process = ctx.Process(target=_run_simulator, args=(description, self.stop), daemon=True)

    def __enter__(self):
        self.process.start()
        return self

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the simulator process has used so far."""
        with open(f"/proc/{self.process.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc):
        self.stop.set()
        self.process.join(20)
        if self.process.is_alive():
            self.process.kill()


def expected_refs(description: dict) -> tuple[list[CollectorRef], list[MeterRef], float]:
    """The head-end's view of the generated fleet, and the physics-bound cycle time."""
    from meterhub.sim.clock import SimClock
    from meterhub.sim.fleet import default_meter_factory, parse_fleet

    spec = parse_fleet(description)
    build = default_meter_factory(spec.seed, SimClock())
    collectors, meters, slowest = [], [], 0.0
    now = time.time()
    n = 0
    for c in spec.collectors:
        collectors.append(CollectorRef(len(collectors) + 1, c.code, c.registration_id, c.transport,
                                       link_latency_s=0.05))
        for bus in c.buses:
            bus_time = 0.0
            for m in bus.meters:
                n += 1
                meters.append(MeterRef(n, m.serial, m.address, m.protocol, c.registration_id, bus.port,
                                       baud_rate=bus.baud))
                sim_meter = build(m)
                for di in ITEMS:
                    request = dlt645.Read(m.address, di).encode(preamble=4)
                    answer = sim_meter.respond(request, now)
                    bus_time += (timing.wire_time(len(request), bus.baud) + answer.delay_s
                                 + timing.wire_time(len(answer.data), bus.baud))
            slowest = max(slowest, bus_time)
    return collectors, meters, slowest


async def _ours(description: dict, collectors, meters, port: int) -> dict:
    counted = []
    fleet = Fleet.build(collectors, meters)
    headend = HeadEnd(lambda: fleet, BatchSink(lambda batch: counted.append(len(batch)), interval_s=0.5),
                      node="bench")
    rss_before = _rss_bytes()
    await headend.start("127.0.0.1", port)
    with Simulator(description) as simulator:
        await _until(lambda: len(headend.sessions) >= len(fleet.buses), "collectors to dial in")
        rss_connected = _rss_bytes()
        sim_cpu0, cpu0, t0 = simulator.cpu_s(), time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(headend.poll_bus(key, lambda m: ITEMS, ts=datetime.now(UTC))
                                         for key in fleet.buses))
        cycle = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        sim_cpu = simulator.cpu_s() - sim_cpu0
        rss_cycle = _rss_bytes()
        await headend.close()
    return {"cycle_s": round(cycle, 3), "meters_read": sum(results), "cpu_s": round(cpu, 3),
            "simulator_cpu_s": round(sim_cpu, 3),
            "memory_per_collector_bytes": int((max(rss_connected, rss_cycle) - rss_before) / len(collectors)),
            "records": sum(counted)}


async def _until(condition, what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _baseline(description: dict, collectors, meters, port: int, give_up_s: float) -> dict:
    """One thread per collector connection, blocking sockets: the straightforward design.

    Given up after `give_up_s` (then reported as not completed, with what it managed)."""
    by_bus: dict[tuple[str, int], list[MeterRef]] = {}
    for m in meters:
        by_bus.setdefault((m.collector, m.bus_port), []).append(m)
    done, read_ok, lock = [], [0], threading.Lock()
    server = socket.create_server(("127.0.0.1", port), backlog=4096)
    server.settimeout(0.5)
    start = threading.Event()
    threads = []

    def serve(conn: socket.socket):
        # A poller given up on sees its collector vanish with the simulator: it just stops.
        with contextlib.suppress(OSError), conn:
            _serve(conn)

    def _serve(conn: socket.socket):
        conn.settimeout(5)
        parser, buffered = RegistrationParser(), b""
        result = None
        while result is None:
            data = conn.recv(256)
            if not data:
                return
            result = parser.feed(data)
        registration, buffered = result
        bus = by_bus[(registration.registration_id, registration.port)]
        start.wait()
        stream = dlt645.StreamParser()
        ok = 0
        for meter in bus:
            good = True
            for di in ITEMS:
                conn.sendall(dlt645.Read(meter.address, di).encode(preamble=4))
                deadline = time.monotonic() + timing.reply_deadline(20, meter.baud_rate, 0.05)
                frame = None
                while frame is None and time.monotonic() < deadline:
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        break
                    stream.feed(data)
                    frame = next((e for e in stream if isinstance(e, dlt645.Frame)), None)
                good = good and frame is not None
            ok += good
        with lock:
            read_ok[0] += ok
            done.append(1)

    def accept_all():
        while len(threads) < len(by_bus):
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=serve, args=(conn,), daemon=True)
            thread.start()
            threads.append(thread)

    with Simulator(description):
        acceptor = threading.Thread(target=accept_all, daemon=True)
        acceptor.start()
        acceptor.join(300)
        time.sleep(0.5)  # let every thread read its registration
        t0 = time.perf_counter()
        start.set()
        for thread in threads:
            thread.join(max(0.0, give_up_s - (time.perf_counter() - t0)))
        cycle = time.perf_counter() - t0
        completed = all(not t.is_alive() for t in threads)
    server.close()
    return {"baseline_cycle_s": round(cycle, 3), "baseline_meters_read": read_ok[0],
            "baseline_completed": completed}


def measure(collectors: int = 2000, meters: int = 8, baud: int = 2400, baseline: bool = True) -> dict:
    _raise_fd_limit()
    port = _free_port()
    description = fleet_description(collectors, meters, baud, port)
    print(f"building the expected fleet ({collectors} x {meters}) and its physics bound ...", file=sys.stderr)
    collector_refs, meter_refs, physics = expected_refs(description)
    print(f"our head-end: polling {len(meter_refs)} meters for {len(ITEMS)} items ...", file=sys.stderr)
    ours = asyncio.run(_ours(description, collector_refs, meter_refs, port))
    reads = ours["meters_read"] * len(ITEMS)
    out = {"collectors": collectors, "meters": len(meter_refs), "baud": baud, "items_per_meter": len(ITEMS),
           "cycle_s": ours["cycle_s"], "physics_cycle_s": round(physics, 3),
           "cycle_vs_physics": round(ours["cycle_s"] / physics, 3),
           "reads_per_s": round(ours["meters_read"] * len(ITEMS) / ours["cycle_s"], 1),
           "meters_read": ours["meters_read"], "cpu_s": ours["cpu_s"],
           "cpu_per_collector_ms": round(ours["cpu_s"] * 1000 / collectors, 3),
           "cpu_per_read_us": round(ours["cpu_s"] * 1e6 / max(1, reads), 1),
           "simulator_cpu_s": ours["simulator_cpu_s"],
           "simulator_cpu_per_read_us": round(ours["simulator_cpu_s"] * 1e6 / max(1, reads), 1),
           "memory_per_collector_bytes": ours["memory_per_collector_bytes"]}
    print(f"ours: {out}", file=sys.stderr)
    if baseline:
        port = _free_port()
        description = fleet_description(collectors, meters, baud, port)
        print("baseline: one thread per collector, blocking sockets ...", file=sys.stderr)
        base = _baseline(description, collector_refs, meter_refs, port, give_up_s=5 * ours["cycle_s"])
        out.update(base)
        out["baseline_ratio"] = round(base["baseline_cycle_s"] / ours["cycle_s"], 3)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
