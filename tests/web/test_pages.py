"""Console pages through Django's test client: thin views over the domain."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from meterhub.accounts.models import AuditEntry, User
from meterhub.assets import history
from meterhub.assets.models import Customer, Meter, Premise


@pytest.fixture
def meter(collector):
    return Meter.objects.create(serial="E1", site=collector.site, address="240101000001", collector=collector,
                                password="00123456", operator_code="00000001")


def meter_form(on, **overrides):
    collector = on
    data = {"serial": "E2", "site": collector.site.pk, "kind": "electricity", "protocol": "dlt645_2007",
            "address": "240101000002", "collector": collector.pk, "bus_port": 1, "baud_rate": 2400,
            "phase": "single", "ct_ratio": "1", "pt_ratio": "1", "payment_mode": "prepaid", "switch": "relay",
            "password": "", "operator_code": "", "active": "on"}
    data.update(overrides)
    return data


def test_creating_a_meter_is_audited_without_the_secret(signed_in, collector):
    client, user = signed_in("operator")
    response = client.post(reverse("meter-new"), meter_form(collector, password="99999999"))
    assert response.status_code == 302
    meter = Meter.objects.get(serial="E2")
    assert meter.password == "99999999"
    entry = AuditEntry.objects.get(action="create", object_type="meter")
    assert entry.actor == user
    assert entry.changes["password"] == ["***", "***"]
    assert "99999999" not in str(entry.changes)


def test_editing_with_blank_secrets_keeps_them_and_records_the_change(signed_in, collector, meter):
    client, _ = signed_in("operator")
    data = meter_form(collector, serial="E1", address="240101000001", ct_ratio="100")
    assert client.post(reverse("meter-edit", args=[meter.pk]), data).status_code == 302
    meter.refresh_from_db()
    assert (meter.password, meter.operator_code, meter.multiplier) == ("00123456", "00000001", 100)
    entry = AuditEntry.objects.get(action="update")
    assert [Decimal(v) for v in entry.changes["ct_ratio"]] == [1, 100]
    assert "password" not in entry.changes


def test_collector_from_another_site_is_refused(signed_in, collector):
    from meterhub.assets.models import Collector, Site

    other = Collector.objects.create(code="FAR", site=Site.objects.create(code="far", name="Far"),
                                     registration_id="FAR")
    client, _ = signed_in("operator")
    response = client.post(reverse("meter-new"), meter_form(collector, collector=other.pk))
    assert response.status_code == 200
    assert "another site" in response.content.decode()
    assert not Meter.objects.filter(serial="E2").exists()


def test_meter_list_search_and_filters(signed_in, collector, meter):
    Meter.objects.create(serial="W7", site=collector.site, kind="water", protocol="mbus", address="7",
                         collector=collector, bus_port=2)
    client, _ = signed_in("readonly")
    # serials as cell text, so a random token on the page cannot contain them by chance
    page = client.get(reverse("meter-list"), {"q": "2401"}).content.decode()
    assert ">E1<" in page and ">W7<" not in page
    page = client.get(reverse("meter-list"), {"kind": "water"}).content.decode()
    assert ">W7<" in page and ">E1<" not in page


def test_install_and_move_in_through_the_pages(signed_in, collector, meter):
    client, _ = signed_in("operator")
    premise = Premise.objects.create(site=collector.site, unit="101")
    customer = Customer.objects.create(account_no="A1", name="Ann")
    client.post(reverse("meter-install", args=[meter.pk]), {"premise": premise.pk, "at": "2025-01-01T08:00"})
    client.post(reverse("premise-move-in", args=[premise.pk]), {"customer": customer.pk, "at": "2025-01-02T08:00"})
    at = datetime(2025, 3, 1, tzinfo=UTC)
    assert history.served_by(meter, at) == (premise, customer)
    page = client.get(reverse("premise-detail", args=[premise.pk])).content.decode()
    assert "E1" in page and "A1 Ann" in page


def test_refused_history_action_shows_the_reason(signed_in, collector, meter):
    client, _ = signed_in("operator")
    response = client.post(reverse("meter-remove", args=[meter.pk]), {"at": "2025-01-01T08:00"}, follow=True)
    assert "not installed anywhere" in response.content.decode()


def test_meter_register_export_is_a_real_workbook(signed_in, collector, meter):
    client, _ = signed_in("readonly")
    response = client.get(reverse("report-meter-register"), {"site": "north"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Meter number"
    assert rows[1][0] == "E1" and rows[1][4] == "240101000001"


def test_administrator_adds_and_disables_an_operator_from_the_page(signed_in):
    client, _ = signed_in("administrator")
    response = client.post(reverse("operator-new"), {"username": "bob", "role": "finance",
                                                     "password": "a long enough pass"})
    assert response.status_code == 302
    bob = User.objects.get(username="bob")
    assert bob.role == "finance"
    client.post(reverse("operator-disable", args=[bob.pk]))
    bob.refresh_from_db()
    assert not bob.is_active
    client.post(reverse("operator-enable", args=[bob.pk]))
    bob.refresh_from_db()
    assert bob.is_active


def test_audit_log_is_searchable(signed_in, collector, meter):
    client, _ = signed_in("administrator")
    client.post(reverse("meter-edit", args=[meter.pk]),
                meter_form(collector, serial="E1", address="240101000001", model="DDZY666"))
    page = client.get(reverse("audit-log"), {"object_type": "meter", "q": "E1"}).content.decode()
    assert "DDZY666" in page
    assert "DDZY666" not in client.get(reverse("audit-log"), {"object_type": "customer"}).content.decode()


def test_dashboard_counts(signed_in, collector, meter):
    from django.utils import timezone

    from meterhub.comms.models import BusLink, MeterCommStatus

    now = timezone.now()
    BusLink.objects.create(collector=collector, port=1, online=True, since=now, last_seen=now)
    BusLink.objects.create(collector=collector, port=2, online=True, since=now, last_seen=now)
    MeterCommStatus.objects.create(meter=meter, last_success=now, successes=1)
    client, _ = signed_in("readonly")
    response = client.get(reverse("dashboard"))
    assert response.context["meter_count"] == 1 and response.context["collector_count"] == 1
    assert response.context["collectors_online"] == 1  # two buses, one collector
    assert response.context["meters_online"] == 1


def a_site_with_figures(i: int, now):
    """Site i: two enabled collectors (one online), i % 3 + 1 installed meters of which the first was
    read now (online, collected today, an open alarm), in one of three time zones."""
    from meterhub.alarms import services as alarms
    from meterhub.assets.models import Collector, Site
    from meterhub.comms.models import BusLink, MeterCommStatus
    from meterhub.headend.records import ReadingRecord
    from meterhub.readings import processing
    from meterhub.readings.ingest import store_readings

    site = Site.objects.create(code=f"s{i:02}", name=f"Site {i}",
                               time_zone=("Asia/Shanghai", "UTC", "America/New_York")[i % 3])
    online, _offline = (Collector.objects.create(code=f"C{i}-{n}", site=site, registration_id=f"R{i}-{n}")
                        for n in (1, 2))
    BusLink.objects.create(collector=online, port=1, online=True, since=now, last_seen=now)
    meters = [Meter.objects.create(serial=f"E{i}-{n}", site=site, address=f"{i:06}{n:06}", collector=online)
              for n in range(i % 3 + 1)]
    for meter in meters:
        history.install_meter(meter, Premise.objects.create(site=site, unit=meter.serial), datetime(2026, 1, 1, tzinfo=UTC))
    Meter.objects.create(serial=f"OLD{i}", site=site, address=f"{i:06}999999", active=False)
    store_readings([ReadingRecord(meters[0].pk, "energy_import", now, Decimal(5), Decimal(1), "kWh", "scheduled",
                                  "actual")])
    while processing.process_dirty():
        pass
    MeterCommStatus.objects.create(meter=meters[0], last_success=now, successes=1)
    alarms.raise_alarm("seal_open", now, meter=meters[0])
    return site


def test_the_dashboard_costs_as_many_queries_for_ten_sites_as_for_three(signed_in):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    client, _ = signed_in("readonly")

    def dashboard():
        client.get(reverse("dashboard"))  # what a new site invalidates (the default time zone) is cached again
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("dashboard"))
        return response, [q["sql"] for q in queries.captured_queries]

    now = timezone.now()
    for i in range(3):
        a_site_with_figures(i, now)
    _, three = dashboard()
    for i in range(3, 10):
        a_site_with_figures(i, now)
    response, ten = dashboard()

    assert len(ten) == len(three), "\n".join(ten)
    shown = [(s.site.code, s.meters, s.meters_online, s.collectors, s.collectors_online, s.collection.expected,
              s.collection.read, s.open_alarms, [u.kind for u in s.usage]) for s in response.context["sites"]]
    assert shown == [(f"s{i:02}", i % 3 + 1, 1, 2, 1, i % 3 + 1, 1, 1, ["electricity"]) for i in range(10)]
    totals = ("meter_count", "meters_online", "collector_count", "collectors_online", "expected_today",
              "read_today", "open_alarms")
    assert [response.context[k] for k in totals] == [19, 10, 20, 10, 19, 10, 10]


def test_a_disabled_collector_online_counts_neither_online_nor_in_the_total(signed_in, collector):
    """The head-end does not serve a disabled collector, so "online / total" is over enabled ones only."""
    from django.utils import timezone

    from meterhub.assets.models import Collector
    from meterhub.comms.models import BusLink

    now = timezone.now()
    Collector.objects.create(code="DTU-2", site=collector.site, registration_id="REG-2")  # enabled, offline
    disabled = Collector.objects.create(code="DTU-3", site=collector.site, registration_id="REG-3", enabled=False)
    for c in (collector, disabled):
        BusLink.objects.create(collector=c, port=1, online=True, since=now, last_seen=now)
    client, _ = signed_in("readonly")
    response = client.get(reverse("dashboard"))
    assert (response.context["collectors_online"], response.context["collector_count"]) == (1, 2)
    [north] = response.context["sites"]
    assert (north.collectors_online, north.collectors) == (1, 2)
    assert '<strong>1 / 2</strong><span>Collectors online' in response.content.decode()


def test_times_show_in_the_site_zone_and_forms_read_it(signed_in, collector, meter):
    client, user = signed_in("operator")  # no zone of their own: the site's (Asia/Shanghai, UTC+8)
    premise = Premise.objects.create(site=collector.site, unit="101")
    client.post(reverse("meter-install", args=[meter.pk]), {"premise": premise.pk, "at": "2025-03-01T00:00"})
    assert meter.installations.get().valid_from == datetime(2025, 2, 28, 16, 0, tzinfo=UTC)
    assert "2025-03-01 00:00" in client.get(reverse("meter-detail", args=[meter.pk])).content.decode()
    user.time_zone = "Europe/London"
    user.save()
    assert "2025-02-28 16:00" in client.get(reverse("meter-detail", args=[meter.pk])).content.decode()


@pytest.mark.parametrize("kind", ["collectors", "meters", "customers"])
def test_import_template_round_trips_through_the_importer(signed_in, collector, kind):
    """The downloadable template, with its example row, is itself a valid import file."""
    from meterhub.assets.importing import import_file

    Collector = type(collector)
    Collector.objects.filter(pk=collector.pk).update(code="DTU-0001")
    client, _ = signed_in("operator")
    response = client.get(reverse("import-template", args=[kind]))
    assert response.status_code == 200
    report = import_file(kind, response.content, f"{kind}.xlsx", dry_run=True)
    if kind == "collectors":  # the example collector id is taken by the fixture: reported, not crashed
        assert [e.column for e in report.errors] == ["code"]
    else:
        assert report.ok, report.errors


def test_operator_queues_a_command_and_sees_it_on_the_meter_page(signed_in, collector):
    from meterhub.comms.models import Command

    relay = Meter.objects.create(serial="E5", site=collector.site, address="240101000005", collector=collector,
                                 switch="relay")
    client, user = signed_in("operator")
    response = client.post(reverse("meter-command", args=[relay.pk]), {"kind": "relay_trip", "reason": "arrears"},
                           follow=True)
    command = Command.objects.get()
    assert (command.kind, command.requested_by, command.reason, command.status) == (
        "relay_trip", user.username, "arrears", "pending")
    assert 'data-command="relay_trip"' in response.content.decode()
    # a water meter has no relay: refused with the reason, nothing queued
    water = Meter.objects.create(serial="W5", site=collector.site, address="5", protocol="mbus",
                                 collector=collector, switch="valve")
    response = client.post(reverse("meter-command", args=[water.pk]), {"kind": "relay_trip"}, follow=True)
    assert "no relay" in response.content.decode()
    assert Command.objects.count() == 1


def test_finance_cannot_send_commands(signed_in, collector):
    relay = Meter.objects.create(serial="E6", site=collector.site, address="240101000006", collector=collector,
                                 switch="relay")
    client, _ = signed_in("finance")
    assert client.post(reverse("meter-command", args=[relay.pk]), {"kind": "relay_trip"}).status_code == 403


def test_the_dashboards_recent_changes_are_the_operators_not_the_processes(signed_in, collector, meter):
    """The head-end's own commands (a re-read every few minutes) and customers' downloads
    are in the audit log; the dashboard lists what operators changed."""
    from meterhub.accounts import audit

    client, user = signed_in("administrator")
    audit.record("update", meter, {"ct_ratio": ["1", "40"]}, actor=user)
    for _ in range(12):
        audit.record("command", meter, {"command": [None, "read_now"]}, actor_name="vee")
    audit.record("portal.download", meter, {}, actor_name="customer:138****0001")
    recent = client.get(reverse("dashboard")).context["recent"]
    assert [(e.actor_name, e.action) for e in recent] == [(user.username, "update")]
    assert AuditEntry.objects.count() >= 14, "all of them are still in the audit log"
