"""Alarm rules over what the head-end reports: events (in the store's transaction), the
state of links and meters (a periodic sweep), and readings (a processing step).

Each rule raises its alarm while the condition holds and clears it by itself
(services.resolve) when the condition ends; tamper alarms (covers) stay until a person
clears them, as seal alarms do. Thresholds come from the site's AlarmSettings.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from meterhub.alarms.models import Alarm, AlarmSettings, State
from meterhub.alarms.services import escalate_overdue, open_alarm, raise_alarm, resolve
from meterhub.assets.models import Collector, Meter, MeterKind

log = logging.getLogger(__name__)

TAMPER_EVENTS = {"cover_open": "cover_open", "terminal_cover_open": "terminal_cover_open"}
CLOSED_EVENTS = {"cover_closed": "cover_open", "terminal_cover_closed": "terminal_cover_open"}
CLOCK_CHECKED = ("clock_ok", "clock_broadcast", "clock_write")
# A smart seal closes the meter cover: the cover opening the meter records within this time
# of the chip's opening is the same act, and goes into the seal's alarm (corroboration).
SEAL_COVER_WINDOW = timedelta(minutes=10)


# --- events ------------------------------------------------------------------------------

def handle_events(records) -> list[tuple[Alarm, bool]]:
    """Alarms from the head-end's events (called in the batch's transaction)."""
    wanted = [r for r in records if r.kind in TAMPER_EVENTS or r.kind in CLOSED_EVENTS or r.kind in CLOCK_CHECKED
              or r.kind in ("leak", "leak_cleared", "relay_state")]
    if not wanted:
        return []
    meters = Meter.objects.select_related("site").in_bulk({r.meter_id for r in wanted})
    out = []
    for record in sorted(wanted, key=lambda r: r.ts):
        meter = meters.get(record.meter_id)
        if meter is None:
            continue
        if record.kind in TAMPER_EVENTS:
            out.append(_cover_opened(meter, record))
        elif record.kind in CLOSED_EVENTS:
            _cover_closed(meter, record)
        elif record.kind in CLOCK_CHECKED:
            out.extend(_clock(meter, record))
        elif record.kind == "leak":
            out.append(_leak(meter, record))
        elif record.kind == "relay_state":
            out.extend(_relay(meter, record))
        else:
            resolve(_leak_kind(meter), record.ts, meter=meter)
    return out


def _cover_opened(meter, record) -> tuple[Alarm, bool]:
    """A cover opening: its own alarm, or evidence on the seal alarm it goes with."""
    if record.kind == "cover_open":
        seal = (Alarm.objects.select_for_update().filter(meter=meter, kind="seal_open").exclude(state=State.CLEARED)
                .filter(raised_at__gte=record.ts - SEAL_COVER_WINDOW, raised_at__lte=record.ts + SEAL_COVER_WINDOW)
                .first())
        if seal is not None:
            seal.detail = {**seal.detail, "cover_record": record.detail}
            seal.save(update_fields=["detail"])
            return seal, False
    return raise_alarm(TAMPER_EVENTS[record.kind], record.ts, meter=meter, detail=record.detail)


def _cover_closed(meter, record) -> None:
    """The cover was closed again: its open alarm says until when (it stays for a person to clear)."""
    alarm = open_alarm(CLOSED_EVENTS[record.kind], meter=meter)
    if alarm is not None and alarm.detail.get("number") == record.detail.get("number"):
        alarm.detail = {**alarm.detail, "end": record.detail.get("end")}
        alarm.save(update_fields=["detail"])


def _clock(meter, record) -> list:
    offset = record.detail.get("offset_s")
    if offset is None:
        return []
    limit = AlarmSettings.for_site(meter.site_id).clock_drift_s
    if abs(offset) > limit:
        return [raise_alarm("clock_drift", record.ts, meter=meter,
                            detail={"offset_s": offset, "limit_s": limit, "action": record.kind})]
    resolve("clock_drift", record.ts, meter=meter)
    return []


# What the last successful relay command leaves the relay in; close-allowed leaves closing
# to the customer's button, so it expects nothing.
RELAY_EXPECTED = {"relay_trip": True, "relay_direct_close": False}


def _relay(meter, record) -> list:
    """The relay as read against the last relay command carried out before the read."""
    from meterhub.comms.models import Command

    last = (Command.objects.filter(meter=meter, kind__in=["relay_trip", "relay_direct_close", "relay_close_allowed"],
                                   status=Command.Status.DONE, finished_at__lte=record.ts)
            .order_by("-finished_at", "-id").first())
    expected = RELAY_EXPECTED.get(last.kind) if last is not None else None
    relay_open = record.detail.get("relay_open")
    if relay_open is False:
        resolve("consumption_relay_open", record.ts, meter=meter)
    if expected is None or relay_open is None:
        return []
    if relay_open != expected:
        return [raise_alarm("relay_mismatch", record.ts, meter=meter,
                            detail={"relay_open": relay_open, "command": last.pk, "commanded": last.kind})]
    resolve("relay_mismatch", record.ts, meter=meter)
    return []


def _leak_kind(meter) -> str:
    return "gas_leak" if meter.kind == MeterKind.GAS else "water_leak"


def _leak(meter, record) -> tuple[Alarm, bool]:
    alarm, created = raise_alarm(_leak_kind(meter), record.ts, meter=meter, detail=record.detail)
    if (created and alarm.kind == "gas_leak" and meter.switch == Meter.Switch.VALVE
            and AlarmSettings.for_site(meter.site_id).close_valve_on_gas_leak):
        _close_valve(meter, alarm)
    return alarm, created


def _close_valve(meter, alarm) -> None:
    """Shut the gas off at once: a valve_close command, ahead of anything the operator does
    (the meter may have shut it by itself already; the command then confirms it)."""
    from meterhub.comms.commands import request_command
    from meterhub.comms.models import Command

    busy = Command.objects.filter(meter=meter, kind=Command.Kind.VALVE_CLOSE,
                                  status__in=[Command.Status.PENDING, Command.Status.SENDING]).first()
    try:
        command = busy or request_command(meter, Command.Kind.VALVE_CLOSE, requested_by="alarm",
                                          reason=f"gas leak, alarm #{alarm.pk}", valid_for=timedelta(hours=6))
        alarm.detail = {**alarm.detail, "valve_command": command.pk}
    except ValidationError as exc:
        alarm.detail = {**alarm.detail, "valve_command_refused": " ".join(exc.messages)}
    alarm.save(update_fields=["detail"])


# --- the sweep ---------------------------------------------------------------------------

def sweep(now: datetime | None = None) -> dict[str, int]:
    """Conditions that are about time passing: collectors offline too long, meters that stopped
    answering, alarms nobody acknowledged. Idempotent; run every half minute."""
    now = now or timezone.now()
    return {"collectors": _collectors(now), "meters": _silent_meters(now), "escalated": len(escalate_overdue(now))}


def _collectors(now: datetime) -> int:
    from meterhub.comms.models import BusLink

    by_collector = defaultdict(list)
    for link in BusLink.objects.all():
        by_collector[link.collector_id].append(link)
    collectors = Collector.objects.select_related("site").in_bulk(list(by_collector))
    raised = 0
    for collector_id, links in by_collector.items():
        collector = collectors[collector_id]
        limit = timedelta(minutes=AlarmSettings.for_site(collector.site_id).collector_offline_min)
        offline = [link for link in links if not link.online]
        if len(offline) == len(links) and min(link.since for link in offline) + limit <= now:
            since = max(link.since for link in offline)
            raise_alarm("collector_offline", since + limit, collector=collector,
                        detail={"offline_since": since.isoformat(), "peer": offline[0].peer})
            raised += 1
        elif any(link.online for link in links):
            resolve("collector_offline", max(link.since for link in links if link.online), collector=collector)
    return raised


def _silent_meters(now: datetime) -> int:
    from meterhub.comms.models import MeterCommStatus

    offline_collectors = set(Alarm.objects.filter(kind="collector_offline").exclude(state=State.CLEARED)
                             .values_list("collector_id", flat=True))
    open_silent = set(Alarm.objects.filter(kind="meter_silent").exclude(state=State.CLEARED)
                      .values_list("meter_id", flat=True))
    limits: dict[int, int] = {}
    raised = 0
    statuses = MeterCommStatus.objects.select_related("meter__site").filter(
        Q(consecutive_failures__gt=0) | Q(meter_id__in=open_silent))
    for status in statuses:
        meter = status.meter
        cycles = limits.setdefault(meter.site_id, AlarmSettings.for_site(meter.site_id).meter_silent_cycles)
        if status.consecutive_failures >= cycles:
            if meter.collector_id in offline_collectors:
                continue  # the collector's alarm says it already; not one per meter behind it
            raise_alarm("meter_silent", status.last_attempt or now, meter=meter,
                        detail={"failures": status.consecutive_failures, "error": status.last_error})
            raised += 1
        elif status.consecutive_failures == 0 and meter.pk in open_silent:
            resolve("meter_silent", status.last_success or now, meter=meter)
    return raised
