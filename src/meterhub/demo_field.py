"""The simulated field for a site, built from the asset registry.

`meterhub demo` runs the console, the head-end and this simulator in one process, so
every registered collector dials in and every meter answers with its registered
address, password and operator code.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from datetime import datetime

from meterhub.assets.models import Collector, Meter, Transport
from meterhub.seals.demo import chip_assets

PROFILES = {"residential": "household", "commercial": "shop", "industrial": "shop", "common": "household"}


def meter_options(meter: Meter) -> dict:
    """What a simulated meter must know to accept the head-end's commands."""
    if not meter.protocol.startswith("dlt645"):
        return {}
    secret = meter.password or "02000000"
    level, password = (2, secret) if len(secret) == 6 else (int(secret[:2], 16), secret[2:8])
    options = {"password": password, "password_level": level}
    if meter.operator_code:
        options["operators"] = (meter.operator_code,)
    return options


def fleet_for_site(site_code: str, *, headend: tuple[str, int], control_port: int = 9190, seed: int = 1) -> dict:
    """A fleet description (the simulator's YAML form, as a dict) of a site's dial-in collectors."""
    meters = (Meter.objects.filter(site__code=site_code, active=True, collector__transport=Transport.DIAL_IN_TCP)
              .select_related("collector", "site").prefetch_related("installations__premise"))
    buses: dict[int, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    bauds: dict[tuple[int, int], int] = {}
    offset_s = None
    chips = chip_assets(site_code)
    for m in meters:
        if offset_s is None:
            offset_s = int(datetime.now(zoneinfo.ZoneInfo(m.site.time_zone)).utcoffset().total_seconds())
        current = next((i for i in m.installations.all() if i.valid_to is None), None)
        spec = {"serial": m.serial, "address": m.address, "protocol": m.protocol, "kind": m.kind,
                "phase": m.phase, "payment_mode": m.payment_mode, "switch": m.switch,
                "profile": PROFILES.get(current.premise.kind if current else "", "") if m.kind == "electricity"
                else ""}
        options = meter_options(m)
        if options and offset_s is not None:
            options["utc_offset_s"] = offset_s
        if m.serial in chips:  # the simulated chip is the smart seal registered on the meter
            options["seal_asset"] = chips[m.serial].zfill(16)
        if options:
            spec["options"] = options
        buses[m.collector_id][m.bus_port].append(spec)
        bauds[(m.collector_id, m.bus_port)] = m.baud_rate
    collectors = []
    for c in Collector.objects.filter(pk__in=list(buses)):
        collectors.append({
            "code": c.code, "name": c.name, "registration_id": c.registration_id, "transport": "dialin_tcp",
            "buses": [{"port": port, "baud": bauds[(c.pk, port)], "meters": ms}
                      for port, ms in sorted(buses[c.pk].items())],
        })
    return {"seed": seed, "site": site_code, "headend": {"host": headend[0], "port": headend[1]},
            "control": {"host": "127.0.0.1", "port": control_port}, "collectors": collectors}
