"""The meter page's chart data and read-now answers, and the reading history with its exports."""

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from meterhub.assets import history
from meterhub.assets.models import Building, Meter, Premise, Site
from meterhub.comms import commands
from meterhub.comms.models import BusLink, Command
from meterhub.headend.commands import Outcome
from meterhub.headend.records import ReadingRecord
from meterhub.readings.ingest import store_readings

T0 = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)


@pytest.fixture
def meter(collector):
    return Meter.objects.create(serial="E1", site=collector.site, address="240101000001", collector=collector,
                                ct_ratio=Decimal(10), pt_ratio=Decimal(4))


def energy(meter, n, start=T0, quality=None, first=100):
    quality = quality or {}
    store_readings([ReadingRecord(meter.pk, "energy_import", start + i * STEP, Decimal(first) + Decimal(i) / 4,
                                  Decimal(40), "kWh", "scheduled", quality.get(i, "actual")) for i in range(n)])


# --- chart data ---------------------------------------------------------------------------------


def test_series_json_for_a_day_has_every_reading_with_its_quality(signed_in, meter):
    client, _user = signed_in("readonly")
    energy(meter, 200, quality={10: "estimated"})
    response = client.get(reverse("meter-series", kwargs={"pk": meter.pk}),
                          {"start": "2026-03-01", "end": "2026-03-01"})  # Asia/Shanghai day: 16:00Z .. 16:00Z
    data = response.json()
    assert response.status_code == 200
    assert data["bucket_s"] == 0 and data["points"] == 64  # 2026-03-01 00:00Z .. 15:45Z
    assert data["start"] == "2026-03-01T00:00:00+08:00" and data["end"] == "2026-03-02T00:00:00+08:00"
    assert data["consumption"][1:3] == [10.0, 10.0] and data["consumption"][0] is None
    assert data["quality"][10] == "estimated" and data["consumption_quality"][11] == "estimated"
    assert data["raw"][0] == "100.000000" and data["multiplier"][0] == "40.0000"
    assert data["time_zone"] == "Asia/Shanghai" and data["unit"] == "kWh"
    assert data["resolution"] == "every reading"


def test_series_json_for_a_year_is_bucketed(signed_in, meter):
    client, _user = signed_in("readonly")
    energy(meter, 96 * 30)
    data = client.get(reverse("meter-series", kwargs={"pk": meter.pk}), {"days": 365}).json()
    assert data["bucket_s"] == 6 * 3600
    assert data["resolution"] == "one point per 6 hours"


def test_zoomed_ranges_come_as_timestamps(signed_in, meter):
    client, _user = signed_in("readonly")
    energy(meter, 20)
    data = client.get(reverse("meter-series", kwargs={"pk": meter.pk}),
                      {"start": "2026-03-01T01:00:00Z", "end": "2026-03-01T02:00:00.000Z"}).json()
    assert data["t"] == [int((T0 + timedelta(hours=1) + i * STEP).timestamp()) for i in range(4)]


@pytest.mark.parametrize("params, message", [
    ({"start": "yesterday"}, "not a date"),
    ({"start": "2026-03-02", "end": "2026-03-01"}, "end after"),
    ({"start": "2024-01-01", "end": "2026-03-01"}, "400 days"),
])
def test_bad_ranges_get_a_clear_400(signed_in, meter, params, message):
    client, _user = signed_in("readonly")
    response = client.get(reverse("meter-series", kwargs={"pk": meter.pk}), params)
    assert response.status_code == 400 and message in response.json()["error"]


def test_meter_page_offers_the_quantities_the_meter_sends(signed_in, meter):
    client, _user = signed_in("readonly")
    store_readings([ReadingRecord(meter.pk, "voltage_a", T0, Decimal(220), Decimal(4), "V", "scheduled")])
    page = client.get(reverse("meter-detail", kwargs={"pk": meter.pk})).content.decode()
    assert '<option value="energy_import">' in page and '<option value="voltage_a">' in page
    assert "uPlot.iife.min.js" in page and 'id="chart-config"' in page
    assert "register value × multiplier 40" in page
    assert "Your role may not send commands" in page


def test_meter_page_offers_a_quantity_last_read_long_ago_behind_months_of_interval_data(signed_in, meter):
    client, _user = signed_in("readonly")
    store_readings([ReadingRecord(meter.pk, "energy_export", T0 - timedelta(days=60), Decimal(3), Decimal(1),
                                  "kWh", "scheduled")]
                   + [ReadingRecord(meter.pk, "energy_import", T0 + i * STEP, Decimal(i), Decimal(1), "kWh",
                                    "scheduled") for i in range(300)])
    page = client.get(reverse("meter-detail", kwargs={"pk": meter.pk})).content.decode()
    assert '<option value="energy_export">' in page
    assert "Active energy exported" in page


# --- read now -----------------------------------------------------------------------------------


def _answer(client, meter, command):
    return client.get(reverse("meter-read-now-answer", kwargs={"pk": meter.pk, "command_pk": command.pk})).json()


def _head_end_answers(outcome: Outcome):
    """What the head-end does with a read: claims it for the meter's bus and records the outcome."""
    (task,) = commands.claim("node-1", {("REG-1", 1)})
    return commands.finish(task.id, outcome, node="node-1")


def test_read_now_queues_the_operators_items_and_shows_the_answer_with_the_multiplier(signed_in, meter):
    client, _user = signed_in("operator")
    BusLink.objects.create(collector=meter.collector, port=1, online=True, since=timezone.now(),
                           last_seen=timezone.now())
    response = client.post(reverse("meter-read-now", kwargs={"pk": meter.pk}))
    assert response.status_code == 202
    command = Command.objects.get(pk=response.json()["command"])
    assert (command.kind, command.params["items"][0]) == ("read_now", "00010000")
    assert command.valid_until - command.created_at < timedelta(minutes=3)
    waiting = _answer(client, meter, command)
    assert (waiting["final"], waiting["collector_online"], waiting["message"]) == (False, True,
                                                                                  "Waiting for the head-end…")

    _head_end_answers(Outcome("done", {"values": {"00010000": "1234.56", "02010100": "220.1",
                                                  "02030000": {"error": "refused", "detail": "no requested data"}}},
                              [("answered", {"items": 3})]))
    done = client.get(response.json()["poll"]).json()
    assert done["final"] and done["ok"] and done["message"].startswith("The meter answered at ")
    by_item = {v["item"]: v for v in done["values"]}
    assert by_item["00010000"] | {"label": ""} == {
        "item": "00010000", "quantity": "energy_import", "label": "", "unit": "kWh", "raw": "1234.56",
        "multiplier": "40", "value": "49382.4", "error": None}
    assert (by_item["02010100"]["multiplier"], by_item["02010100"]["value"]) == ("4", "880.4")  # PT only
    assert by_item["02030000"]["error"] == "no requested data"


def test_read_now_on_an_offline_collector_says_so_then_expires_with_the_reason(signed_in, meter):
    client, _user = signed_in("operator")
    poll = client.post(reverse("meter-read-now", kwargs={"pk": meter.pk})).json()["poll"]
    waiting = client.get(poll).json()
    assert not waiting["final"] and not waiting["collector_online"]
    assert waiting["message"].startswith("The collector is offline")
    commands.expire_overdue(now=timezone.now() + timedelta(minutes=5))
    expired = client.get(poll).json()
    assert expired["final"] and not expired["ok"] and expired["status"] == "expired"
    assert expired["message"] == "No answer: the collector is offline."


def test_a_meter_refusing_the_read_is_a_clear_failure(signed_in, meter):
    client, _user = signed_in("operator")
    BusLink.objects.create(collector=meter.collector, port=1, online=True, since=timezone.now(),
                           last_seen=timezone.now())
    poll = client.post(reverse("meter-read-now", kwargs={"pk": meter.pk})).json()["poll"]
    _head_end_answers(Outcome("failed", {"error": "E1 refused: wrong password", "errors": ["wrong password"]},
                              [("refused", {"errors": ["wrong password"]})]))
    answer = client.get(poll).json()
    assert answer["final"] and answer["message"] == "The meter refused: wrong password."


def test_a_silent_meter_is_retried_and_the_page_says_so(signed_in, meter):
    client, _user = signed_in("operator")
    BusLink.objects.create(collector=meter.collector, port=1, online=True, since=timezone.now(),
                           last_seen=timezone.now())
    poll = client.post(reverse("meter-read-now", kwargs={"pk": meter.pk})).json()["poll"]
    _head_end_answers(Outcome("retry", {"error": "no reply"}, [("no_answer", {"error": "no reply"})]))
    answer = client.get(poll).json()
    assert not answer["final"] and answer["message"] == "The meter did not answer; trying again (attempt 2 of 5)."


@pytest.mark.django_db(transaction=True)
def test_read_now_through_a_real_head_end_and_fake_collector(signed_in, meter):
    from tests.headend.fake_collector import FakeMeter
    from tests.headend.test_commands import with_headend

    client, _user = signed_in("operator")
    poll = client.post(reverse("meter-read-now", kwargs={"pk": meter.pk})).json()["poll"]

    async def body(headend, worker):
        await worker.tick()
        await worker.drain()

    asyncio.run(with_headend(body, [FakeMeter("240101000001", energy="500.25")]))
    answer = client.get(poll).json()
    assert answer["ok"], answer
    energy_value = next(v for v in answer["values"] if v["quantity"] == "energy_import")
    assert (energy_value["raw"], energy_value["value"]) == ("500.25", "20010")


def test_read_now_is_refused_for_meters_it_cannot_read(signed_in, collector):
    client, _user = signed_in("operator")
    water = Meter.objects.create(serial="W1", site=collector.site, kind="water", protocol="mbus", address="1",
                                 collector=collector)
    response = client.post(reverse("meter-read-now", kwargs={"pk": water.pk}))
    assert response.status_code == 400 and "DL/T 645" in response.json()["error"]
    assert not Command.objects.exists()


# --- reading history ----------------------------------------------------------------------------


@pytest.fixture
def two_buildings(meter, collector):
    site = collector.site
    other = Meter.objects.create(serial="E2", site=site, address="240101000002", collector=collector)
    for code, m in (("B1", meter), ("B2", other)):
        building = Building.objects.create(site=site, code=code)
        premise = Premise.objects.create(site=site, building=building, unit="101")
        history.install_meter(m, premise, T0 - timedelta(days=30))
    energy(meter, 8, quality={2: "estimated"})
    energy(other, 8, first=500)
    return meter, other


def test_history_filters_by_building_quality_and_shows_site_times(signed_in, two_buildings):
    client, _user = signed_in("readonly")
    meter, _other = two_buildings
    building = Building.objects.get(code="B1")
    page = client.get(reverse("reading-history"), {"building": building.pk, "start": "2026-03-01",
                                                   "end": "2026-03-01", "quality": "estimated"}).content.decode()
    assert page.count('class="quality-estimated"') == 1 and "E2" not in page
    assert "2026-03-01 08:30:00" in page and "+0800" in page  # 00:30Z in Asia/Shanghai
    everything = client.get(reverse("reading-history"), {"start": "2026-03-01", "end": "2026-03-01"})
    assert everything.content.decode().count("<tr class=\"quality-") == 16


def test_history_pages_without_counting(signed_in, meter):
    client, _user = signed_in("readonly")
    energy(meter, 150)
    first = client.get(reverse("reading-history"), {"meter": "E1", "start": "2026-03-01", "end": "2026-03-02"})
    second = client.get(reverse("reading-history"), {"meter": "E1", "start": "2026-03-01", "end": "2026-03-02",
                                                     "page": 2})
    assert first.content.decode().count("<tr class=\"quality-") == 100 and 'rel="next"' in first.content.decode()
    assert second.content.decode().count("<tr class=\"quality-") == 50 and 'rel="next"' not in second.content.decode()


def test_history_refuses_a_fleet_wide_year_and_unknown_meters(signed_in, meter):
    client, _user = signed_in("readonly")
    page = client.get(reverse("reading-history"), {"start": "2025-01-01", "end": "2026-01-01"}).content.decode()
    assert "Choose at most 31 days" in page
    page = client.get(reverse("reading-history"), {"meter": "NOPE"}).content.decode()
    assert "No meter NOPE" in page
    response = client.get(reverse("reading-history-csv"), {"meter": "NOPE"})
    assert response.status_code == 400 and "No meter NOPE" in response.content.decode()


def test_history_exports_the_same_rows_as_csv_and_excel(signed_in, two_buildings):
    client, _user = signed_in("readonly")
    params = {"meter": "E1", "quantity": "energy_import", "start": "2026-03-01", "end": "2026-03-01"}
    response = client.get(reverse("reading-history-csv"), params)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["Meter number", "Site", "Quantity", "Code", "Time"]
    assert len(rows) == 9
    newest = rows[1]
    assert newest[0] == "E1" and newest[3] == "energy_import" and newest[4] == "2026-03-01T09:45:00+08:00"
    assert (newest[5], newest[7], newest[8]) == ("4070.000000", "101.750000", "40.0000")
    book = load_workbook(io.BytesIO(client.get(reverse("reading-history-xlsx"), params).content))
    sheet = book.active
    assert sheet.max_row == 9
    assert sheet["E2"].value == datetime(2026, 3, 1, 9, 45) and sheet["F2"].value == 4070.0
    assert [sheet.cell(r, 10).value for r in range(2, 10)].count("Estimated") == 1


def test_history_csv_streams_a_site_month(signed_in, meter):
    client, _user = signed_in("readonly")
    energy(meter, 96 * 3)
    response = client.get(reverse("reading-history-csv"), {"site": "north", "start": "2026-03-01",
                                                           "end": "2026-03-31"})
    assert response.streaming
    assert sum(chunk.count(b"\n") for chunk in response.streaming_content) == 96 * 3 + 1
    assert Site.objects.count() == 1
