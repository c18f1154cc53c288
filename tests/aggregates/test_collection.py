"""Collection statistics per site and local day: who was read, who was missed and why."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meterhub.aggregates import collection
from meterhub.aggregates.models import CollectionDay, Why
from meterhub.assets.models import Collector
from meterhub.comms.models import LinkEvent, MeterCommStatus

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 12, tzinfo=SHANGHAI)
LATER = datetime(2026, 3, 5, tzinfo=UTC)


def test_was_online():
    assert collection.was_online("online", [])
    assert collection.was_online("offline", ["refused", "online"])
    assert not collection.was_online(None, ["offline"])
    assert not collection.was_online("offline", [])


def test_why_missing_order():
    online = {1: True, 2: False}
    assert collection.why_missing(ever_read=False, collector_id=1, online=online) == Why.NEVER_READ
    assert collection.why_missing(ever_read=True, collector_id=None, online=online) == Why.NO_COLLECTOR
    assert collection.why_missing(ever_read=True, collector_id=2, online=online) == Why.COLLECTOR_OFFLINE
    assert collection.why_missing(ever_read=True, collector_id=1, online=online) == Why.METER_SILENT


def link(collector, kind, at):
    LinkEvent.objects.create(collector=collector, registration_id=collector.registration_id, kind=kind, at=at)


def test_read_missing_and_why(site, collector, make_meter, feed):
    read = make_meter("E1")
    silent = make_meter("E2")
    never = make_meter("E3")
    far = Collector.objects.create(code="DTU-2", site=site, registration_id="REG-2")
    offline = make_meter("E4")
    offline.collector = far
    offline.save()
    make_meter("E5", installed=None)  # not installed: not expected
    link(collector, "online", datetime(2026, 3, 1, tzinfo=UTC))
    link(far, "online", datetime(2026, 3, 1, tzinfo=UTC))
    link(far, "offline", datetime(2026, 3, 1, 12, tzinfo=UTC))  # down before the local day began
    for m in (silent, offline):
        MeterCommStatus.objects.create(meter=m, last_success=datetime(2026, 2, 28, tzinfo=UTC))
    feed(read, [(NOON - timedelta(hours=1), 10), (NOON, 11)])
    figures = CollectionDay.objects.get(site=site, day=DAY)
    assert (figures.expected, figures.read, figures.share) == (4, 1, 0.25)
    reasons = {m.meter.serial: m.reason for m in figures.missing.all()}
    assert reasons == {"E2": Why.METER_SILENT, "E3": Why.NEVER_READ, "E4": Why.COLLECTOR_OFFLINE}
    assert never.pk not in (read.pk, silent.pk)


def test_estimated_reads_do_not_count_as_read(site, make_meter, feed):
    meter = make_meter("E1")
    feed(meter, [(NOON - timedelta(hours=1), 10), (NOON, 11)], quality="estimated")
    assert CollectionDay.objects.get(site=site, day=DAY).read == 0


def test_a_link_event_refreshes_its_sites_day(site, collector, make_meter, django_capture_on_commit_callbacks):
    meter = make_meter("E1")
    MeterCommStatus.objects.create(meter=meter, last_success=datetime(2026, 2, 28, tzinfo=UTC))
    at = datetime(2026, 3, 2, 1, tzinfo=UTC)  # 09:00 in Shanghai
    with django_capture_on_commit_callbacks(execute=True):
        link(collector, "offline", at)
    day = CollectionDay.objects.get(site=site, day=DAY)
    assert [m.reason for m in day.missing.all()] == [Why.COLLECTOR_OFFLINE]
    with django_capture_on_commit_callbacks(execute=True):
        link(collector, "online", at + timedelta(hours=2))
    assert [m.reason for m in day.missing.all()] == [Why.METER_SILENT]


def test_the_head_ends_link_records_refresh_the_day(site, collector, make_meter, django_capture_on_commit_callbacks):
    from meterhub.comms.store import record_links
    from meterhub.headend.records import LinkRecord

    meter = make_meter("E1")
    MeterCommStatus.objects.create(meter=meter, last_success=datetime(2026, 2, 28, tzinfo=UTC))
    at = datetime(2026, 3, 2, 1, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        record_links([LinkRecord(at, collector.registration_id, 1, "online")])
    day = CollectionDay.objects.get(site=site, day=DAY)
    assert [m.reason for m in day.missing.all()] == [Why.METER_SILENT]


def test_today_is_judged_up_to_now(site, collector, make_meter):
    meter = make_meter("E1")
    MeterCommStatus.objects.create(meter=meter, last_success=datetime(2026, 2, 28, tzinfo=UTC))
    link(collector, "offline", datetime(2026, 3, 1, tzinfo=UTC))
    link(collector, "online", datetime(2026, 3, 2, 10, tzinfo=SHANGHAI))
    assert collection.compute(site, DAY, now=datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)).missing == \
        [(meter.pk, Why.COLLECTOR_OFFLINE)]
    assert collection.compute(site, DAY, now=LATER).missing == [(meter.pk, Why.METER_SILENT)]


def test_no_collection_figures_for_a_day_not_begun(site, make_meter, feed, monkeypatch):
    from meterhub.aggregates import maintain

    monkeypatch.setattr(maintain.timezone, "now", lambda: NOON)  # 04:00 UTC on 2 March
    meter = make_meter("E1")
    # UTC 2 March runs into local 3 March (from 16:00 UTC), which has not begun at NOON
    feed(meter, [(NOON - timedelta(hours=2), 1), (NOON - timedelta(hours=1), 2)])
    assert CollectionDay.objects.get(site=site, day=DAY).read == 1
    assert not CollectionDay.objects.filter(site=site, day=date(2026, 3, 3)).exists()


def test_todays_counts_take_each_site_on_its_own_local_day_as_compute_does(site, make_meter, feed):
    """The dashboard's one query for every site agrees with the per-site computation, also where
    the sites' local days differ."""
    from meterhub.assets.models import Site

    new_york = Site.objects.create(code="ny", name="New York", time_zone="America/New_York")
    now = datetime(2026, 3, 2, 3, tzinfo=UTC)  # 11:00 on 2 March in Shanghai, 22:00 on 1 March in New York
    read_last_night = make_meter("E1")
    read_this_morning = make_meter("E2")
    make_meter("E3", installed=datetime(2026, 3, 2, 6, tzinfo=UTC))  # 14:00 in Shanghai: expected today
    read_in_new_york = make_meter("N1", site=new_york)
    make_meter("N2", site=new_york, installed=datetime(2026, 3, 2, 6, tzinfo=UTC))  # 01:00 on 2 March there
    hours = [datetime(2026, 3, 1, 14, tzinfo=UTC), datetime(2026, 3, 1, 15, tzinfo=UTC)]  # 22:00, 23:00 in Shanghai
    feed(read_last_night, [(ts, v) for v, ts in enumerate(hours)])
    for meter in (read_this_morning, read_in_new_york):  # 09:00, 10:00 in Shanghai; 20:00, 21:00 in New York
        feed(meter, [(ts + timedelta(hours=11), v) for v, ts in enumerate(hours)])

    counts = collection.counts_today([site, new_york], now)

    assert {s: (c.day, c.expected, c.read) for s, c in counts.items()} == {
        site.pk: (date(2026, 3, 2), 3, 1), new_york.pk: (date(2026, 3, 1), 1, 1)}
    for s in (site, new_york):
        each = collection.compute(s, counts[s.pk].day, now)
        assert (each.expected, each.read) == (counts[s.pk].expected, counts[s.pk].read)
    assert collection.counts_today([], now) == {}
