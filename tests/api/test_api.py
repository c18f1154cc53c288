"""/api/v1/: readings by meter and site (cursor-paged), meters, the schema; session auth by capability."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.assets.models import Collector, Meter, Site
from meterhub.headend.records import ReadingRecord
from meterhub.readings.ingest import store_readings

T0 = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(collector):
    site = collector.site
    meters = [Meter.objects.create(serial=f"E{i}", site=site, address=f"24010100000{i}", collector=collector,
                                   ct_ratio=Decimal(10)) for i in range(1, 4)]
    south = Site.objects.create(code="south", name="South", time_zone="UTC", currency="CNY")
    far = Meter.objects.create(serial="S1", site=south, address="240101000009",
                               collector=Collector.objects.create(code="DTU-S", site=south, registration_id="S"))
    records = []
    for m in [*meters, far]:
        for i in range(12):
            for quantity, unit in (("energy_import", "kWh"), ("voltage_a", "V")):
                records.append(ReadingRecord(m.pk, quantity, T0 + i * STEP, Decimal(100 + i), Decimal(10), unit,
                                             "scheduled", "estimated" if i == 5 else "actual"))
    store_readings(records)
    return meters, far


def _all_pages(client, url, params):
    items, cursor, pages = [], None, 0
    while True:
        response = client.get(url, params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        body = response.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def test_meter_readings_page_through_every_reading_once_in_key_order(signed_in, fleet):
    client, _user = signed_in("readonly")
    meter = fleet[0][0]
    items, pages = _all_pages(client, f"/api/v1/meters/{meter.pk}/readings",
                              {"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T03:00:00Z", "limit": 5})
    assert len(items) == 24 and pages == 5
    keys = [(r["quantity"], r["ts"]) for r in items]
    assert keys == sorted(keys) and len(set(keys)) == 24
    first = items[0]
    assert first == {"meter_id": meter.pk, "quantity": "energy_import", "ts": "2026-03-01T00:00:00Z",
                     "value": "1000.000000", "raw_value": "100.000000", "multiplier": "10.0000", "unit": "kWh",
                     "quality": "actual", "source": "scheduled"}


def test_meter_readings_filter_by_quantity_and_quality(signed_in, fleet):
    client, _user = signed_in("readonly")
    body = client.get(f"/api/v1/meters/{fleet[0][0].pk}/readings",
                      {"start": "2026-03-01", "end": "2026-03-01", "quality": "estimated",
                       "quantity": "voltage_a"}).json()
    assert [(r["quantity"], r["ts"], r["quality"]) for r in body["items"]] == [
        ("voltage_a", "2026-03-01T01:15:00Z", "estimated")]
    assert body["start"] == "2026-03-01T00:00:00+08:00"  # local days of the meter's site


def test_site_readings_cover_the_sites_meters_only(signed_in, fleet):
    client, _user = signed_in("readonly")
    meters, far = fleet
    items, _pages = _all_pages(client, "/api/v1/sites/north/readings",
                               {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z", "limit": 7})
    assert len(items) == 3 * 24
    assert {r["meter_id"] for r in items} == {m.pk for m in meters}
    keys = [(r["meter_id"], r["quantity"], r["ts"]) for r in items]
    assert keys == sorted(keys)


@given(limit=st.integers(1, 80))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_page_size_returns_every_reading_exactly_once(client, make_operator, fleet, limit):
    from meterhub.accounts.models import User

    client.force_login(User.objects.filter(username="readonly-user").first() or make_operator("readonly"))
    items, pages = _all_pages(client, "/api/v1/sites/north/readings",
                              {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z", "limit": limit})
    assert len({(r["meter_id"], r["quantity"], r["ts"]) for r in items}) == len(items) == 72
    assert pages == max(1, -(-72 // limit))


@pytest.mark.parametrize("params, message", [
    ({"cursor": "garbage!"}, "cursor"),
    ({"limit": 0}, "limit"),
    ({"start": "2024-01-01", "end": "2026-01-01"}, "400 days"),
    ({"start": "soon"}, "not a date"),
])
def test_bad_parameters_get_400_with_the_reason(signed_in, fleet, params, message):
    client, _user = signed_in("readonly")
    response = client.get(f"/api/v1/meters/{fleet[0][0].pk}/readings", params)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_unknown_meter_and_site_are_404(signed_in, fleet):
    client, _user = signed_in("readonly")
    assert client.get("/api/v1/meters/999999/readings").status_code == 404
    assert client.get("/api/v1/sites/nowhere/readings").status_code == 404


def test_meter_list_filters_and_pages(signed_in, fleet):
    client, _user = signed_in("readonly")
    body = client.get("/api/v1/meters", {"site": "north", "page_size": 2}).json()
    assert [m["serial"] for m in body["items"]] == ["E1", "E2"] and body["next_page"] == 2
    assert body["items"][0]["multiplier"] == "10.0000" and body["items"][0]["time_zone"] == "Asia/Shanghai"
    last = client.get("/api/v1/meters", {"site": "north", "page_size": 2, "page": 2}).json()
    assert [m["serial"] for m in last["items"]] == ["E3"] and last["next_page"] is None


def test_series_endpoint_is_the_charts_data(signed_in, fleet):
    client, _user = signed_in("readonly")
    body = client.get(f"/api/v1/meters/{fleet[0][0].pk}/series",
                      {"quantity": "energy_import", "start": "2026-03-01"}).json()
    assert body["bucket_s"] == 0 and body["points"] == 12 and body["consumption"][1] == 10.0


def test_strangers_get_401_and_roles_without_the_capability_403(client, make_operator, fleet):
    assert client.get("/api/v1/meters").status_code == 401
    client.force_login(make_operator("technician"))
    assert client.get("/api/v1/meters").status_code == 200  # assets.view
    refused = client.get("/api/v1/sites/north/readings")
    assert refused.status_code == 403 and "reports.view" in refused.json()["detail"]


def test_openapi_schema_lists_every_route_with_its_capability(signed_in):
    client, _user = signed_in("readonly")
    schema = client.get("/api/v1/openapi.json").json()
    operations = {(path, method): op for path, methods in schema["paths"].items() for method, op in methods.items()}
    assert set(operations) == {("/api/v1/meters", "get"), ("/api/v1/meters/{meter_id}/readings", "get"),
                               ("/api/v1/sites/{site_code}/readings", "get"), ("/api/v1/meters/{meter_id}/series", "get"),
                               ("/api/v1/sites", "get"), ("/api/v1/customers", "get"), ("/api/v1/alarms", "get"),
                               ("/api/v1/seals", "get"), ("/api/v1/commands", "get"), ("/api/v1/commands", "post"),
                               ("/api/v1/customers/{customer_id}", "get"), ("/api/v1/accounts", "get"),
                               ("/api/v1/accounts/{account_id}", "get"), ("/api/v1/accounts/{account_id}/entries", "get"),
                               ("/api/v1/payments", "get"), ("/api/v1/payments", "post"),
                               ("/api/v1/payments/{payment_id}", "get"), ("/api/v1/bills", "get"),
                               ("/api/v1/bills/{bill_id}", "get"),
                               ("/api/v1/meters/{meter_id}/consumption/daily", "get"),
                               ("/api/v1/meters/{meter_id}/consumption/monthly", "get"),
                               ("/api/v1/sites/{site_code}/meters/consumption/daily", "get"),
                               ("/api/v1/sites/{site_code}/meters/consumption/monthly", "get"),
                               ("/api/v1/sites/{site_code}/consumption/daily", "get"),
                               ("/api/v1/sites/{site_code}/consumption/monthly", "get"),
                               ("/api/v1/meters/{meter_id}", "get"), ("/api/v1/sites/{site_code}", "get"),
                               ("/api/v1/alarms/{alarm_id}", "get"), ("/api/v1/seals/{seal_id}", "get")}
    assert {op["x-capability"] for op in operations.values()} == {"assets.view", "reports.view", "billing.view",
                                                                  "alarms.view", "seals.view", "commands.send",
                                                                  "payments.take"}
    assert all(op["security"] == [{"ApiTokenBearer": []}, {"ConsoleSession": []}] for op in operations.values())
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"openapi.json" in docs.content
