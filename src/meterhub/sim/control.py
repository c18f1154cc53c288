"""The control channel of a running simulator: JSON lines over TCP on 127.0.0.1.

One JSON object per line in, one per line out (`{"ok": true, ...}` or
`{"ok": false, "error": "..."}`). The port is the fleet file's `control.port`
(default 9190). Commands:

    {"cmd": "tamper", "meter": "E240101000001", "kind": "seal-open"}
    {"cmd": "tamper", "meter": "240101000001", "kind": "bypass", "value": 0.6}
    {"cmd": "fault", "meter": "E240101000001", "kind": "no-reply"}          # value false clears
    {"cmd": "fault", "collector": "DTU-0001", "kind": "drop"}
    {"cmd": "fault", "collector": "*", "kind": "storm", "value": 2.0}       # all drop, back in 2 s
    {"cmd": "status"}  /  {"cmd": "status", "meter": "..."}  /  {"cmd": "status", "collector": "..."}

Tamper kinds (call the meter's control method): seal-open, seal-close, cover-open,
cover-close, terminal-cover-open, terminal-cover-close, bypass [fraction, default 0.5],
foreign-seal [asset number], magnet, leak, clear-leak.

Meter fault kinds: no-reply, late [seconds, default 2.0], corrupt, bad-checksum
(value: probability, default 1; false or 0 clears), clock-off [seconds, default
600], replace [new address], clear.

Collector fault kinds: drop [reconnect after s], garbage [bytes], impersonate
[registration id; default: the next collector's], clear, storm (collector "*" or a
comma-separated list) [reconnect after s, default 0].
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

DEFAULT_PORT = 9190

TAMPER_KINDS = ("seal-open", "seal-close", "cover-open", "cover-close", "terminal-cover-open",
                "terminal-cover-close", "bypass", "foreign-seal", "magnet", "leak", "clear-leak")
METER_FAULT_KINDS = ("no-reply", "late", "corrupt", "bad-checksum", "clock-off", "replace", "clear")
COLLECTOR_FAULT_KINDS = ("drop", "garbage", "impersonate", "storm", "clear")


class CommandError(Exception):
    pass


def _call(meter, name: str, *args):
    fn = getattr(meter, name, None)
    if fn is None:
        raise CommandError(f"meter {meter.address} ({type(meter).__name__}) has no {name}()")
    return fn(*args)


# tamper kinds that are one control method without arguments
SIMPLE_TAMPER = {"seal-open": "open_seal", "seal-close": "close_seal", "cover-open": "open_cover",
                 "cover-close": "close_cover", "terminal-cover-open": "open_terminal_cover",
                 "terminal-cover-close": "close_terminal_cover", "magnet": "apply_magnet",
                 "leak": "trigger_leak", "clear-leak": "clear_leak"}


def tamper(meter, kind: str, value: Any = None) -> None:
    """Apply one tamper scenario to a meter object."""
    if kind in SIMPLE_TAMPER:
        _call(meter, SIMPLE_TAMPER[kind])
    elif kind == "bypass":
        _call(meter, "set_bypass", 0.5 if value is None else float(value))
    elif kind == "foreign-seal":
        # default: a 16-digit number no chip of ours has (ours come from the meter's seed)
        _call(meter, "swap_seal", str(value) if value else f"99{meter.address[-14:]:0>14}")
    else:
        raise CommandError(f"unknown tamper kind {kind!r}; one of {', '.join(TAMPER_KINDS)}")


def meter_fault(meter, kind: str, value: Any = None) -> None:
    faults = getattr(meter, "faults", None)
    prob = True if value is None else value
    if kind == "no-reply":
        faults.no_reply = prob
    elif kind == "late":
        faults.late_reply_s = None if value is False else (2.0 if value is None else float(value))
    elif kind == "corrupt":
        faults.corrupt_byte = prob
    elif kind == "bad-checksum":
        faults.bad_checksum = prob
    elif kind == "clock-off":
        _call(meter, "set_clock_offset", 600.0 if value is None else float(value))
    elif kind == "replace":
        new = str(value) if value else f"{(int(meter.address) + 1) % 10**12:012d}" \
            if meter.address.isdigit() else None
        if not new:
            raise CommandError("replace needs the new meter's address as value")
        _call(meter, "replace", new)
    elif kind == "clear":
        faults.clear()
    else:
        raise CommandError(f"unknown meter fault {kind!r}; one of {', '.join(METER_FAULT_KINDS)}")


_STATE_ATTRS = ("protocol", "energy_kwh", "true_energy_kwh", "relay_open", "valve_open", "locked",
                "leak", "volume_m3", "balance", "magnet_effect")


def meter_state(meter) -> dict:
    """What a person debugging a scenario wants to see of a meter, as JSON-ready data."""
    out: dict = {"address": meter.address, "type": type(meter).__name__}
    for name in _STATE_ATTRS:
        with contextlib.suppress(Exception):
            v = getattr(meter, name)
            if not callable(v):
                out[name] = v
    seal = getattr(meter, "seal", None)
    if seal is not None and not callable(seal):
        out["seal"] = {"asset_number": getattr(seal, "asset_number", None),
                       "sealed": getattr(seal, "sealed", None),
                       "opened_count": getattr(seal, "opened_count", None)}
    for name in ("events", "status"):
        fn = getattr(meter, name, None)
        if callable(fn):
            with contextlib.suppress(Exception):
                v = fn()
                if isinstance(v, dict):
                    out[name] = v
    faults = getattr(meter, "faults", None)
    if hasattr(faults, "to_dict"):
        out["faults"] = faults.to_dict()
    return _jsonable(out)


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


class ControlServer:
    """Serves the control commands for a running Fleet."""

    def __init__(self, fleet, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        self.fleet = fleet
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if not line.strip():
                    continue
                writer.write(json.dumps(self.handle_line(line), default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def handle_line(self, line: bytes | str) -> dict:
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise CommandError("a command is a JSON object")
            return {"ok": True, **self.handle(cmd)}
        except json.JSONDecodeError as exc:
            return {"ok": False, "error": f"not JSON: {exc}"}
        except (CommandError, KeyError, ValueError, TypeError, AttributeError) as exc:
            return {"ok": False, "error": str(exc).strip("'\"")}

    def handle(self, cmd: dict) -> dict:
        fleet = self.fleet
        name = cmd.get("cmd")
        kind = cmd.get("kind", "")
        value = cmd.get("value")
        if name == "status":
            if cmd.get("meter"):
                c, b, slot = fleet.find_meter(cmd["meter"])
                return {"meter": slot.serial, "collector": c.code, "bus_port": b.port,
                        "state": meter_state(slot.meter)}
            if cmd.get("collector"):
                return {"collector": fleet.collector(cmd["collector"]).status()}
            return {"status": fleet.status()}
        if name == "tamper":
            if not cmd.get("meter"):
                raise CommandError("tamper needs a meter")
            _, _, slot = fleet.find_meter(cmd["meter"])
            tamper(slot.meter, kind, value)
            return {"meter": slot.serial, "kind": kind, "state": meter_state(slot.meter)}
        if name == "fault":
            if cmd.get("meter"):
                _, _, slot = fleet.find_meter(cmd["meter"])
                meter_fault(slot.meter, kind, value)
                return {"meter": slot.serial, "kind": kind, "state": meter_state(slot.meter)}
            if cmd.get("collector"):
                return self._collector_fault(cmd["collector"], kind, value)
            raise CommandError("fault needs a meter or a collector")
        raise CommandError(f"unknown command {name!r}: tamper, fault or status")

    def _collector_fault(self, key: str, kind: str, value) -> dict:
        fleet = self.fleet
        if kind == "storm" or key in ("*", "all") or "," in key:
            if kind not in ("storm", "drop"):
                raise CommandError("several collectors at once: only storm or drop")
            codes = None if key in ("*", "all") else [k.strip() for k in key.split(",")]
            n = fleet.storm(codes, reconnect_in=float(value or 0.0))
            return {"kind": "storm", "links_dropped": n}
        c = fleet.collector(key)
        if kind == "drop":
            n = c.drop(None if value is None else float(value))
            return {"collector": c.code, "kind": kind, "links_dropped": n}
        if kind == "garbage":
            n = c.inject_garbage(int(value) if value else None)
            return {"collector": c.code, "kind": kind, "links": n}
        if kind == "impersonate":
            other = value
            if not other:
                codes = list(fleet.collectors)
                other = fleet.collectors[codes[(codes.index(c.code) + 1) % len(codes)]].spec.registration_id
            c.impersonate(str(other))
            return {"collector": c.code, "kind": kind, "sends_id": c.sent_id}
        if kind == "clear":
            c.impersonate(None)
            c.spec.faults.drop_every_s = c.spec.faults.garbage_every_s = 0.0
            return {"collector": c.code, "kind": kind}
        raise CommandError(f"unknown collector fault {kind!r}; one of {', '.join(COLLECTOR_FAULT_KINDS)}")


# --- clients ------------------------------------------------------------------------------


def send_command(cmd: dict, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 timeout: float = 5.0) -> dict:
    """Send one command to a running simulator and return its answer (blocking)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(json.dumps(cmd).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    if not buf:
        raise ConnectionError("the simulator closed the control connection without answering")
    return json.loads(buf)


async def send_command_async(cmd: dict, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> dict:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(json.dumps(cmd).encode() + b"\n")
        await writer.drain()
        return json.loads(await reader.readline())
    finally:
        writer.close()
