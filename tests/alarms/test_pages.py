"""The Alarms page as history (per meter, collector, site) and the message log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from meterhub.alarms import services
from meterhub.notifications.dispatch import enqueue
from meterhub.notifications.models import Message

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def meters(site, collector):
    from meterhub.assets.models import Meter

    return [Meter.objects.create(serial=f"E{n}", site=site, address=f"00000000000{n}", collector=collector)
            for n in (1, 2)]


def test_alarm_history_of_one_meter_includes_cleared_ones(meters, collector, signed_in):
    one, two = meters
    services.raise_alarm("voltage_loss", T0, meter=one)
    services.resolve("voltage_loss", T0 + timedelta(minutes=5), meter=one)
    services.raise_alarm("seal_open", T0, meter=one)
    services.raise_alarm("seal_open", T0, meter=two)
    services.raise_alarm("collector_offline", T0, collector=collector)
    client, _user = signed_in("operator")
    page = client.get("/alarms/", {"state": "all", "meter": "E1"}).content.decode()
    assert page.count('data-alarm="') == 2 and "cleared by itself" in page
    page = client.get("/alarms/", {"state": "all", "collector": "DTU-1"}).content.decode()
    assert page.count('data-alarm="') == 1 and 'data-alarm="collector_offline"' in page
    page = client.get("/alarms/", {"kind": "seal_open", "site": "north"}).content.decode()
    assert page.count('data-alarm="seal_open"') == 2
    assert client.get("/alarms/").content.decode().count('data-alarm="') == 3, "open ones by default"


def test_an_escalated_alarm_is_marked(meters, signed_in):
    services.raise_alarm("seal_open", T0, meter=meters[0])
    services.escalate_overdue(T0 + timedelta(hours=1))
    client, _user = signed_in("operator")
    assert "data-escalated" in client.get("/alarms/").content.decode()


def test_the_message_log_finds_messages_by_number_status_and_alarm(meters, signed_in):
    alarm, _ = services.raise_alarm("seal_open", T0, meter=meters[0])
    enqueue("sms", "13800000001", "alarm.raised", body="seal opened at E1", alarm=alarm)
    failed = enqueue("sms", "13900000009", "alarm.raised", body="other")
    Message.objects.filter(pk=failed.pk).update(status="failed", error="HTTP 400: bad number")
    client, _user = signed_in("readonly")
    page = client.get("/alarms/messages/", {"q": "138000"}).content.decode()
    assert "13800000001" in page and "13900000009" not in page
    page = client.get("/alarms/messages/", {"status": "failed"}).content.decode()
    assert "HTTP 400: bad number" in page and "13800000001" not in page
    page = client.get("/alarms/messages/", {"alarm": str(alarm.pk)}).content.decode()
    assert page.count('data-message-status="') == 1


def test_the_message_log_as_excel(meters, signed_in, tmp_path):
    enqueue("email", "li@example.test", "alarm.raised", body="text", subject="s")
    client, _user = signed_in("operator")
    response = client.get("/alarms/messages/", {"channel": "email", "format": "xlsx"})
    assert response["Content-Disposition"].startswith("attachment;")
    path = tmp_path / "m.xlsx"
    path.write_bytes(response.content)
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert rows[0][2] == "Recipient" and rows[1][2] == "li@example.test" and len(rows) == 2


def test_thresholds_are_set_per_site_and_used_by_the_rules(site, signed_in):
    from meterhub.alarms.models import AlarmSettings

    client, _user = signed_in("operator")
    assert 'data-thresholds="north"' in client.get("/alarms/settings/").content.decode()
    form = {f: getattr(AlarmSettings(), f) for f in (
        "collector_offline_min", "meter_silent_cycles", "clock_drift_s", "voltage_loss_v", "reverse_power_kw",
        "imbalance_pct", "imbalance_min_a", "relay_open_kwh", "drop_pct", "drop_baseline_days", "drop_min_kwh",
        "drop_min_m3", "escalate_after_min", "flap_window_min")}
    form.update(collector_offline_min=5, drop_pct=20, close_valve_on_gas_leak="on")
    response = client.post("/alarms/settings/site/north/", form)
    assert response.status_code == 302
    assert (AlarmSettings.for_site(site.pk).collector_offline_min, AlarmSettings.for_site(site.pk).drop_pct) == (5, 20)
    for bad_value in ({"clock_drift_s": "-1"}, {"drop_pct": "0"}, {"drop_baseline_days": "2"}, {"drop_min_kwh": "0"}):
        bad = client.post("/alarms/settings/site/north/", {**form, **bad_value})
        assert bad.status_code == 200 and "error" in bad.content.decode(), bad_value


def test_duty_shifts_and_webhooks_are_managed_on_the_settings_page(site, signed_in, make_operator):
    from meterhub.notifications.models import DutyShift, WebhookEndpoint

    olga = make_operator("operator", "olga")
    client, _admin = signed_in("administrator")
    client.post("/alarms/settings/shifts/", {"user": olga.pk, "site": site.pk, "level": 1,
                                             "starts_at": "2026-05-01T08:00", "ends_at": "2026-05-01T20:00"})
    client.post("/alarms/settings/shifts/", {"user": olga.pk, "level": 1,
                                             "starts_at": "2026-05-02T08:00", "ends_at": "2026-05-01T20:00"})
    [shift] = DutyShift.objects.all()
    assert shift.user == olga and shift.site == site
    client.post("/alarms/settings/webhooks/", {"name": "ERP", "url": "https://erp.example.test/hook",
                                               "events": ["alarm.raised", "alarm.cleared"]})
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["alarm.raised", "alarm.cleared"] and len(endpoint.secret) > 30
    client.post(f"/alarms/settings/webhooks/{endpoint.pk}/toggle/")
    endpoint.refresh_from_db()
    assert endpoint.active is False
    operator_client, _op = signed_in("operator")
    assert operator_client.post("/alarms/settings/webhooks/", {"name": "x"}).status_code == 403
    page = operator_client.get("/alarms/settings/").content.decode()
    assert endpoint.secret not in page, "only administrators see webhook secrets"
