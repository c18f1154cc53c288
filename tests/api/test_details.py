"""One meter, site, alarm and seal: the list's item and what an integrator needs about it; 404 for an id that
names nothing, 403 without the capability, and a seal's free-text fields only with customers.personal.
(Every operation refuses a token without its scope: test_resources.py; every role: tests/accounts/test_roles.py.)"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from meterhub.accounts.roles import ALARMS_VIEW, ASSETS_VIEW, CUSTOMERS_PERSONAL, SEALS_VIEW, Role
from meterhub.alarms import services as alarms
from meterhub.assets.models import Collector, Meter
from meterhub.comms import switch_state
from meterhub.comms.models import BusLink
from meterhub.comms.store import record_comm
from meterhub.headend.records import CommRecord, ReadingRecord
from meterhub.readings.ingest import store_readings
from meterhub.seals import custody
from tests.api.test_resources import bearer, token_for

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def admin(make_operator):
    return make_operator(Role.ADMINISTRATOR, username="boss")


@pytest.fixture
def tech(make_operator):
    return make_operator(Role.TECHNICIAN, username="tina")


@pytest.fixture
def meter(collector):
    return Meter.objects.create(serial="E1", site=collector.site, address="240101000001", collector=collector,
                                switch=Meter.Switch.RELAY, ct_ratio=Decimal(10))


@pytest.fixture
def sealed(meter, admin, tech):
    """Seal S000001 received, issued to tina and installed on the meter's cover, with notes and a location."""
    custody.receive_batch("B-1", "plastic", 1, 2, custody.Where(admin, at=T0, location="store 2"), prefix="S")
    custody.issue(["S000001"], tech, custody.Where(admin, at=T0 + timedelta(hours=1)))
    return custody.install("S000001", custody.Where(tech, at=T0 + timedelta(hours=2), location="7 Elm Street",
                                                    notes="customer Mr Wang let us in"),
                           meter=meter, position="meter_cover", job="WO-9")


@pytest.mark.parametrize("url,capability", [("/api/v1/meters/{}", ASSETS_VIEW), ("/api/v1/sites/{}", ASSETS_VIEW),
                                            ("/api/v1/alarms/{}", ALARMS_VIEW), ("/api/v1/seals/{}", SEALS_VIEW)])
def test_an_id_that_names_nothing_is_404_with_a_detail(client, admin, url, capability):
    auth = token_for(admin, capability)
    for missing in ("999999", "abc", "99999999999999999999", "-1", "a%00b", "x" * 41):
        response = client.get(url.format(missing), **auth)
        assert response.status_code == 404, (missing, response.content)
        assert response.json() == {"detail": "Not Found"}


def test_a_bad_query_parameter_is_still_422_with_its_reason(client, admin):
    response = client.get("/api/v1/alarms?meter_id=abc", **token_for(admin, ALARMS_VIEW))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "meter_id"]


@pytest.mark.parametrize("url,capability", [("/api/v1/meters/1", ASSETS_VIEW), ("/api/v1/sites/north", ASSETS_VIEW),
                                            ("/api/v1/alarms/1", ALARMS_VIEW), ("/api/v1/seals/1", SEALS_VIEW)])
def test_a_detail_needs_its_lists_capability(client, admin, site, url, capability):
    others = [c for c in (ASSETS_VIEW, ALARMS_VIEW, SEALS_VIEW, CUSTOMERS_PERSONAL) if c != capability]
    refused = client.get(url, **token_for(admin, *others))
    assert refused.status_code == 403 and refused.json()["detail"] == f"needs the {capability} capability"
    assert client.get(url).status_code == 401
    assert client.get(url, **bearer("mh_not-a-token")).status_code == 401


def test_a_meter_shows_its_communication_relay_latest_registers_alarms_and_seals(client, admin, meter, sealed):
    record_comm([CommRecord(meter.pk, T0, ok=True), CommRecord(meter.pk, T0 + timedelta(minutes=15), ok=False,
                                                              error="timeout")])
    store_readings([ReadingRecord(meter.pk, "energy_import", T0 + timedelta(hours=h), Decimal(h), Decimal(10), "kWh",
                                  "scheduled") for h in range(250)]  # more than a page's worth: voltage_a is long ago
                   + [ReadingRecord(meter.pk, "voltage_a", T0, Decimal("229.5"), Decimal(1), "V", "scheduled",
                                    quality="suspect")])
    switch_state.observe(meter, True, T0 + timedelta(hours=1), switch="relay")
    alarms.raise_alarm("meter_silent", T0, meter=meter)
    cleared, _ = alarms.raise_alarm("clock_drift", T0, meter=meter)
    alarms.clear(cleared, admin, "clock set")
    listed = client.get("/api/v1/meters", **token_for(admin, ASSETS_VIEW)).json()["items"][0]

    response = client.get(f"/api/v1/meters/{meter.pk}", **token_for(admin, ASSETS_VIEW))

    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in listed} == listed and body["switch"] == "relay"
    assert body["comm"] == {"last_attempt": "2026-03-01T00:15:00Z", "last_success": "2026-03-01T00:00:00Z",
                            "consecutive_failures": 1, "successes": 1, "failures": 1, "success_rate": 0.5,
                            "last_error": "timeout"}
    assert body["switch_state"] == {"switch": "relay", "state": "open", "supply": "off",
                                    "since": "2026-03-01T01:00:00Z", "seen_at": "2026-03-01T01:00:00Z",
                                    "command_id": None}
    assert [(r["quantity"], r["ts"], r["value"], r["raw_value"], r["unit"], r["quality"])
            for r in body["latest_readings"]] == [
        ("energy_import", "2026-03-11T09:00:00Z", "2490.000000", "249.000000", "kWh", "actual"),
        ("voltage_a", "2026-03-01T00:00:00Z", "229.500000", "229.500000", "V", "suspect")]
    assert body["open_alarms"] == 1
    assert body["seals"] == [{"id": sealed.pk, "serial": "S000001", "seal_type": "plastic",
                              "position": "meter_cover", "state": "installed"}] and body["seals_ok"] is True
    assert sealed.code and sealed.code not in response.content.decode()


def test_a_meter_never_read_has_no_communication_no_switch_state_and_no_readings(client, admin, meter):
    body = client.get(f"/api/v1/meters/{meter.pk}", **token_for(admin, ASSETS_VIEW)).json()
    assert (body["comm"], body["switch_state"], body["latest_readings"]) == (None, None, [])
    assert (body["open_alarms"], body["seals"], body["seals_ok"]) == (0, [], True)


def test_a_site_by_its_code_counts_meters_by_kind_and_collectors_online(client, admin, meter, collector):
    site = meter.site
    Meter.objects.create(serial="W1", site=site, kind="water", address="1", active=False)
    Meter.objects.create(serial="W2", site=site, kind="water", address="2")
    Collector.objects.create(code="DTU-2", site=site, registration_id="REG-2")
    off = Collector.objects.create(code="DTU-3", site=site, registration_id="REG-3", enabled=False)
    now = timezone.now()
    for c, port, online in ((collector, 1, True), (collector, 2, False), (off, 1, True)):
        BusLink.objects.create(collector=c, port=port, online=online, since=now, last_seen=now)
    listed = client.get("/api/v1/sites?code=north", **token_for(admin, ASSETS_VIEW)).json()["items"][0]

    response = client.get("/api/v1/sites/north", **token_for(admin, ASSETS_VIEW))

    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in listed} == listed and body["meters"] == 3
    assert body["meters_by_kind"] == [{"kind": "electricity", "meters": 1, "active": 1},
                                      {"kind": "water", "meters": 2, "active": 1}]
    assert body["collectors"] == {"total": 2, "online": 1, "offline": 1, "disabled": 1}
    assert client.get(f"/api/v1/sites/{site.pk}", **token_for(admin, ASSETS_VIEW)).status_code == 404


def test_an_alarm_shows_who_acknowledged_and_cleared_it_and_why(client, admin, meter):
    alarm, _ = alarms.raise_alarm("seal_open", T0, meter=meter, detail={"position": "meter_cover"})
    alarms.raise_alarm("seal_open", T0 + timedelta(minutes=5), meter=meter)
    alarms.acknowledge(alarm, admin)
    alarms.clear(alarm, admin, "resealed on site")
    auth = token_for(admin, ALARMS_VIEW)
    listed = client.get("/api/v1/alarms", **auth).json()["items"][0]

    response = client.get(f"/api/v1/alarms/{alarm.pk}", **auth)

    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in listed} == listed and body["count"] == 2 and body["state"] == "cleared"
    assert (body["acknowledged_by"], body["cleared_by"], body["clear_reason"], body["flaps"]) == (
        "boss", "boss", "resealed on site", 0)
    assert [(e["event"], e["by"], e["reason"]) for e in body["history"]] == [
        ("raised", None, ""), ("acknowledged", "boss", ""), ("cleared", "boss", "resealed on site")]
    assert body["history"][0]["at"] == "2026-03-01T00:00:00Z"


def test_an_alarm_cleared_by_itself_names_nobody(client, admin, meter):
    alarm, _ = alarms.raise_alarm("meter_silent", T0, meter=meter)
    alarms.resolve("meter_silent", T0 + timedelta(hours=1), meter=meter)
    body = client.get(f"/api/v1/alarms/{alarm.pk}", **token_for(admin, ALARMS_VIEW)).json()
    assert body["cleared_by"] is None and body["clear_reason"] == alarms.AUTO_CLEAR_REASON
    assert [(e["event"], e["at"], e["by"]) for e in body["history"]] == [
        ("raised", "2026-03-01T00:00:00Z", None), ("cleared", "2026-03-01T01:00:00Z", None)]


def test_a_seal_shows_its_custody_history_and_its_free_text_only_to_the_entitled(client, admin, sealed):
    listed = client.get("/api/v1/seals?serial=S000001", **token_for(admin, SEALS_VIEW)).json()["items"][0]

    plain = client.get(f"/api/v1/seals/{sealed.pk}", **token_for(admin, SEALS_VIEW))

    assert plain.status_code == 200, plain.content
    body = plain.json()
    assert {k: body[k] for k in listed} == listed
    assert (body["batch"], body["holder"], body["state"]) == ("B-1", None, "installed")
    assert [(e["action"], e["from_state"], e["to_state"], e["by"], e["technician"]) for e in body["history"]] == [
        ("receive", "", "in_stock", "boss", None), ("issue", "in_stock", "issued", "boss", "tina"),
        ("install", "issued", "installed", "tina", "tina")]
    install = body["history"][-1]
    assert (install["meter"], install["position"], install["job"], install["photo"]) == (
        "E1", "meter_cover", "WO-9", False)
    assert all(e["location"] is None and e["notes"] is None for e in body["history"])
    text = plain.content.decode()
    assert "Elm Street" not in text and "Mr Wang" not in text and sealed.code not in text

    full = client.get(f"/api/v1/seals/{sealed.pk}", **token_for(admin, SEALS_VIEW, CUSTOMERS_PERSONAL)).json()
    assert [e["location"] for e in full["history"]] == ["store 2", "", "7 Elm Street"]
    assert full["history"][-1]["notes"] == "customer Mr Wang let us in"


def test_a_console_session_without_customers_personal_sees_no_seal_free_text(client, tech, sealed):
    client.force_login(tech)  # technicians have seals.view, not customers.personal
    body = client.get(f"/api/v1/seals/{sealed.pk}").json()
    assert body["history"][-1]["location"] is None and body["history"][-1]["notes"] is None


def test_the_schema_describes_each_detail(admin):
    from meterhub.api.urls import api
    paths = api.get_openapi_schema()["paths"]
    for path, schema, capability in (("/api/v1/meters/{meter_id}", "MeterDetail", ASSETS_VIEW),
                                     ("/api/v1/sites/{site_code}", "SiteDetail", ASSETS_VIEW),
                                     ("/api/v1/alarms/{alarm_id}", "AlarmDetail", ALARMS_VIEW),
                                     ("/api/v1/seals/{seal_id}", "SealDetail", SEALS_VIEW)):
        operation = paths[path]["get"]
        assert operation["x-capability"] == capability
        assert operation["responses"][200]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
