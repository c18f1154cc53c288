"""The size the issue asks for: 2,000 collectors x 8 meters all come up, with one asyncio
task per bus connection, no thread and no meter built. How fast and in how much memory is
printed, a figure for docs/simulator.md ("Size and speed"), not a pass mark."""

from __future__ import annotations

import asyncio
import resource
import threading
import time

from meterhub.sim.fleet import Fleet, Sink, parse_fleet

from .test_collector import run

COLLECTORS, PER = 2000, 8


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def test_2000_collectors_by_8_meters_come_up_with_a_task_per_link_and_no_meter_built():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * COLLECTORS + 200  # both ends of every link live in this process
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    n = min(COLLECTORS, (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200) // 2)
    assert n >= 500, "not enough file descriptors for a meaningful fleet"

    async def go():
        sink = await Sink().start("127.0.0.1", 0)
        spec = parse_fleet({"seed": 9, "collectors": n, "meters_per_collector": PER,
                            "headend": f"127.0.0.1:{sink.port}", "defaults": {"heartbeat_s": 60}})
        before = _rss_mb()
        t0 = time.perf_counter()
        fleet = Fleet(spec)
        took = await fleet.start(timeout=60)
        total = time.perf_counter() - t0
        for _ in range(100):  # the sink may still be reading the last packets
            if sink.registrations == n:
                break
            await asyncio.sleep(0.01)
        grew = _rss_mb() - before
        tasks = len(asyncio.all_tasks())
        threads = threading.active_count()
        status = fleet.status()
        await fleet.stop()
        await sink.stop()
        return took, total, grew, tasks, threads, status, sink.registrations

    threads_before = threading.active_count()
    took, total, grew, tasks, threads, status, registrations = run(go())
    print(f"\n{n} collectors x {PER} meters: links up in {took:.2f} s (with set-up {total:.2f} s), "
          f"RSS +{grew:.0f} MB, {tasks} tasks")
    assert registrations == n and status["links_up"] == n
    assert status["meters"] == n * PER and status["meters_built"] == 0
    assert tasks <= n + 5  # one per bus connection (plus the test's own)
    assert threads == threads_before  # no threads
    assert grew < 150  # both ends of 2,000 sockets, 16,000 meter specs
