"""Writing what the head-end hands over: one batch, one transaction, idempotent.

Called in a worker thread by the head-end's BatchSink. Records of different kinds
arrive mixed; each kind goes to its table.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from meterhub.alarms import rules as alarm_rules
from meterhub.assets.models import Collector
from meterhub.comms import switch_state
from meterhub.comms.models import BusLink, LinkEvent, MeterCommStatus
from meterhub.headend.records import CommRecord, EventRecord, LinkRecord, ReadingRecord
from meterhub.readings import ingest
from meterhub.seals import chips


def write_batch(batch: list, node: str = "") -> None:
    by_kind = defaultdict(list)
    for record in batch:
        by_kind[type(record)].append(record)
    with transaction.atomic():
        if by_kind[ReadingRecord]:
            ingest.store_readings(by_kind[ReadingRecord])
        fresh = ingest.store_events(by_kind[EventRecord]) if by_kind[EventRecord] else []
        if fresh:  # events delivered again (a re-read cover record, a retried batch) raise nothing again
            chips.handle_events(fresh)
            switch_state.observe_events(fresh)
            alarm_rules.handle_events(fresh)
        if by_kind[LinkRecord]:
            record_links(by_kind[LinkRecord], node)
        if by_kind[CommRecord]:
            record_comm(by_kind[CommRecord])


def record_links(records: list[LinkRecord], node: str = "") -> None:
    ids = dict(Collector.objects.filter(registration_id__in={r.registration_id for r in records})
               .values_list("registration_id", "pk"))
    LinkEvent.objects.bulk_create(
        LinkEvent(at=r.at, collector_id=ids.get(r.registration_id), registration_id=r.registration_id,
                  port=r.port, kind=r.kind, peer=r.peer, reason=r.reason[:200], node=node)
        for r in records
    )
    for r in records:  # in order: the last transition of a bus wins
        collector_id = ids.get(r.registration_id)
        if collector_id is None or r.kind == "refused":
            continue
        online = r.kind == "online"
        link, created = BusLink.objects.get_or_create(
            collector_id=collector_id, port=r.port,
            defaults={"online": online, "since": r.at, "last_seen": r.at, "peer": r.peer, "node": node})
        if created:
            continue
        if r.kind == "replaced":
            continue  # an "online" for the new connection follows
        if link.online != online:
            link.since = r.at
        link.online, link.last_seen, link.peer, link.node = online, r.at, r.peer or link.peer, node
        link.save()


def record_comm(records: list[CommRecord]) -> None:
    by_meter = defaultdict(list)
    for r in records:
        by_meter[r.meter_id].append(r)
    existing = MeterCommStatus.objects.select_for_update().in_bulk(list(by_meter))
    for meter_id, results in by_meter.items():
        status = existing.get(meter_id) or MeterCommStatus(meter_id=meter_id)
        for r in sorted(results, key=lambda x: x.at):
            status.last_attempt = r.at
            if r.ok:
                status.successes += 1
                status.last_success = r.at
                status.consecutive_failures = 0
            else:
                status.failures += 1
                status.consecutive_failures += 1
                status.last_error = r.error[:200]
        status.save()
