"""`meterhub simulate ...`: the simulated field (collectors, buses, meters).

    meterhub simulate --site examples/demo-fleet.yaml        # = simulate run FILE
    meterhub simulate run FILE [--duration S] [--sink] [--headend HOST:PORT]
    meterhub simulate export FILE --out DIR                   # collectors.csv, meters.csv
    meterhub simulate tamper --meter M --kind seal-open|cover-open|bypass|foreign-seal|magnet|...
    meterhub simulate fault --collector C --kind drop|garbage|impersonate|storm|clear
    meterhub simulate fault --meter M --kind no-reply|late|corrupt|bad-checksum|clock-off|replace|clear
    meterhub simulate status [--meter M | --collector C]

tamper, fault and status talk to a running simulator over its control channel
(127.0.0.1, the fleet file's control port, default 9190): give --site FILE to use
that file's port, or --port.
"""

from __future__ import annotations

import json

import click

from meterhub.sim.control import (
    COLLECTOR_FAULT_KINDS,
    DEFAULT_PORT,
    METER_FAULT_KINDS,
    TAMPER_KINDS,
)

FILE = click.Path(exists=True, dir_okay=False)


def _hostport(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise click.BadParameter(f"{value}: expected HOST:PORT")
    return host or "127.0.0.1", int(port)


def _run_options(f):
    for opt in reversed((
        click.option("--duration", type=float, default=None,
                     help="Stop after this many seconds (default: until Ctrl-C)."),
        click.option("--headend", default=None, metavar="HOST:PORT",
                     help="Head-end for dial-in collectors (overrides the file)."),
        click.option("--sink", is_flag=True,
                     help="Also serve a do-nothing head-end on that address (benchmark the simulator alone)."),
        click.option("--control-port", type=int, default=None,
                     help="Control channel port (overrides the file; 0 = any free port)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    )):
        f = opt(f)
    return f


@click.group(invoke_without_command=True)
@click.option("--site", "site_file", type=FILE, default=None,
              help="Fleet file to run (same as `simulate run FILE`).")
@_run_options
@click.pass_context
def simulate(ctx, site_file, duration, headend, sink, control_port, quiet):
    """Run a simulated field of collectors and meters, and poke it while it runs."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"site_file": site_file}
        return
    if not site_file:
        click.echo(ctx.get_help())
        ctx.exit(0)
    ctx.invoke(run, file=site_file, duration=duration, headend=headend, sink=sink,
               control_port=control_port, quiet=quiet)


@simulate.command()
@click.argument("file", type=FILE)
@_run_options
def run(file, duration, headend, sink, control_port, quiet):
    """Start the fleet in FILE: connect every collector, serve the control channel."""
    import asyncio

    from meterhub.sim.fleet import FleetError, load_fleet

    try:
        spec = load_fleet(file)
    except FleetError as exc:
        raise click.ClickException(str(exc)) from None
    if control_port is not None:
        spec.control_port = control_port
    he = _hostport(headend)
    if he:
        spec.headend_host, spec.headend_port = he
    try:
        asyncio.run(_run(spec, duration, sink, quiet))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


async def _run(spec, duration, sink, quiet) -> None:
    import asyncio
    import signal
    import sys
    import time

    from meterhub.gc_tuning import settle_long_lived
    from meterhub.sim.fleet import Fleet, Sink

    sink_server = None
    if sink:
        sink_server = await Sink().start(spec.headend_host, spec.headend_port)
    fleet = Fleet(spec)
    settle_long_lived()
    total = fleet.total_links
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    click.echo(f"simulating {len(fleet.collectors)} collectors, {spec.meter_count} meters, {total} bus links; "
               f"dial-in to {spec.headend_host}:{spec.headend_port}", err=True)
    bar = None if quiet else click.progressbar(length=total, label="links up", file=sys.stderr)
    if bar is not None:
        bar.__enter__()
    t0 = time.perf_counter()
    await fleet.start(wait=False, control=True,
                      progress=(lambda up, n: bar.update(1)) if bar is not None else None)
    click.echo(f"control channel on {spec.control_host}:{fleet.control.port}", err=True)
    all_up = asyncio.ensure_future(fleet.wait_up(timeout=10**9))
    stopped = asyncio.ensure_future(stop.wait())
    ended = asyncio.ensure_future(asyncio.sleep(duration)) if duration else None
    waiters = [all_up, stopped] + ([ended] if ended else [])
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if bar is not None:
        bar.__exit__(None, None, None)
    if all_up.done() and not all_up.exception():
        took = time.perf_counter() - t0
        click.echo(f"all {total} links up in {took:.2f} s; memory {_rss_mb():.0f} MB RSS "
                   f"(peak {_peak_mb():.0f} MB)", err=True)
        if sink_server is not None:
            click.echo(f"sink: {sink_server.registrations} registrations on "
                       f"{sink_server.connections} connections", err=True)
    else:
        all_up.cancel()
        click.echo(f"{fleet.links_up} of {total} links up so far", err=True)
    if not stop.is_set() and not (ended and ended.done()):
        waiters = [stopped] + ([ended] if ended else [])
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for f in (stopped, ended):
        if f is not None:
            f.cancel()
    click.echo(json.dumps(fleet.status()), err=True)
    await fleet.stop()
    if sink_server is not None:
        await sink_server.stop()


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _peak_mb()


def _peak_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


@simulate.command()
@click.argument("file", type=FILE)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for collectors.csv and meters.csv.")
@click.option("--site", "site_code", default=None, help="Site code to write (default: the file's `site`).")
def export(file, out_dir, site_code):
    """Write the fleet in FILE as the CSV files `meterhub import` reads."""
    from meterhub.sim.fleet import FleetError, export_csv, load_fleet

    try:
        spec = load_fleet(file)
    except FleetError as exc:
        raise click.ClickException(str(exc)) from None
    cpath, mpath = export_csv(spec, out_dir, site_code)
    click.echo(f"{cpath} ({len(spec.collectors)} collectors)")
    click.echo(f"{mpath} ({spec.meter_count} meters)")


# --- talking to a running simulator ---------------------------------------------------------


def _control_options(f):
    f = click.option("--port", type=int, default=None,
                     help=f"Control channel port (default: the --site file's, else {DEFAULT_PORT}).")(f)
    f = click.option("--host", default=None, help="Control channel host (default 127.0.0.1).")(f)
    return f


def _value(text: str | None):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _send(cmd: dict, host, port) -> dict:
    from meterhub.sim.control import send_command

    ctx = click.get_current_context()
    site_file = ctx.obj.get("site_file") if isinstance(ctx.obj, dict) else None
    if (port is None or host is None) and site_file:
        from meterhub.sim.fleet import load_fleet

        spec = load_fleet(site_file)
        port = spec.control_port if port is None else port
        host = spec.control_host if host is None else host
    host = host or "127.0.0.1"
    port = DEFAULT_PORT if port is None else port
    try:
        answer = send_command(cmd, host, port)
    except OSError as exc:
        raise click.ClickException(f"no simulator on {host}:{port} ({exc}); start one with "
                                   "`meterhub simulate --site FILE`") from None
    click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    if not answer.get("ok"):
        raise click.exceptions.Exit(1)
    return answer


@simulate.command()
@click.option("--meter", required=True, help="Meter serial or address.")
@click.option("--kind", required=True, type=click.Choice(TAMPER_KINDS), help="The tampering to simulate.")
@click.option("--value", default=None, help="bypass: fraction (0.5); foreign-seal: the chip's asset number.")
@_control_options
def tamper(meter, kind, value, host, port):
    """Tamper with a meter in the running simulator."""
    _send({"cmd": "tamper", "meter": meter, "kind": kind, "value": _value(value)}, host, port)


@simulate.command()
@click.option("--meter", default=None, help="Meter serial or address.")
@click.option("--collector", default=None,
              help="Collector code or registration id; '*' or a comma list for storm.")
@click.option("--kind", required=True,
              type=click.Choice(sorted(set(METER_FAULT_KINDS) | set(COLLECTOR_FAULT_KINDS))),
              help="The fault to inject, on the meter or on the collector.")
@click.option("--value", default=None,
              help="late: seconds; no-reply/corrupt/bad-checksum: probability or false; clock-off: "
                   "seconds; replace: new address; drop/storm: reconnect after s; garbage: bytes; "
                   "impersonate: registration id.")
@_control_options
def fault(meter, collector, kind, value, host, port):
    """Inject a fault into a meter or a collector of the running simulator."""
    if bool(meter) == bool(collector):
        raise click.UsageError("give --meter or --collector (one of them)")
    kinds = METER_FAULT_KINDS if meter else COLLECTOR_FAULT_KINDS
    if kind not in kinds:
        raise click.UsageError(f"--kind {kind} is not a {'meter' if meter else 'collector'} fault: "
                               f"{', '.join(kinds)}")
    cmd = {"cmd": "fault", "kind": kind, "value": _value(value)}
    cmd["meter" if meter else "collector"] = meter or collector
    _send(cmd, host, port)


@simulate.command()
@click.option("--meter", default=None, help="One meter's state.")
@click.option("--collector", default=None, help="One collector's links and bus counters.")
@_control_options
def status(meter, collector, host, port):
    """Counters of the running simulator (or one meter / collector)."""
    cmd: dict = {"cmd": "status"}
    if meter:
        cmd["meter"] = meter
    if collector:
        cmd["collector"] = collector
    _send(cmd, host, port)
